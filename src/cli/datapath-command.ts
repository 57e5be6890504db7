import type { Command } from '@oclif/core';
import { enterNetns } from '../bpf/netns.js';
import { type Instance, resolveInstance } from '../core/instance.js';
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
}
