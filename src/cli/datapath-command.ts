import type { Command } from '@oclif/core';
import { enterNetns } from '../bpf/netns.js';
import type { PlanEntry } from '../core/apply-plan.js';
import { type Instance, resolveInstance } from '../core/instance.js';
import { DatapathMaps } from '../core/maps.js';
import { type InstanceState, loadState } from '../core/state-file.js';
import { type ApplyReport, applyReport, renderApplyReport } from './apply-render.js';
import { BaseCommand } from './base-command.js';

/**
 * Base for commands that act on a balancer instance (attach, service, stats, conn, top ...). It adds the
 * global `--netns NAME` flag and enters that network namespace (setns on this thread) before the command
 * touches netlink, tc or interfaces, so an operator can drive a balancer living in another namespace.
 */
export abstract class DatapathCommand<T extends typeof Command> extends BaseCommand<T> {
  static override needsRoot = "to reach the balancer's pinned BPF maps and its interfaces";

  protected instance!: Instance;

  public override async init(): Promise<void> {
    await super.init();
    const netns = (this.flags as { netns?: string }).netns;
    this.instance = resolveInstance(netns);
    if (netns) enterNetns(netns);
  }

  /** Run `fn` with the instance's maps open and its state read (not locked: for reading and planning). */
  protected async withDatapath<R>(
    fn: (maps: DatapathMaps, state: InstanceState) => R | Promise<R>,
  ): Promise<R> {
    const maps = DatapathMaps.open(this.instance);
    try {
      return await fn(maps, loadState(this.instance));
    } finally {
      maps.close();
    }
  }

  /** Print a --dry-run plan as `apply --dry-run` does (notes on stderr) and return its document. */
  protected printPlan(entries: PlanEntry[], notes: string[] = []): ApplyReport {
    for (const note of notes) this.logToStderr(`note: ${note}`);
    const report = applyReport(entries, { dryRun: true, ignored: [], notes });
    this.log(renderApplyReport(report));
    return report;
  }
}
