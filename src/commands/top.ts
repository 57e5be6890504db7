import { setTimeout as sleep } from 'node:timers/promises';
import { Flags } from '@oclif/core';
import { DatapathCommand } from '../cli/datapath-command.js';
import { SERVICE_REF } from '../cli/service-arg.js';
import { renderTopText, topSnapshotJson } from '../cli/top-render.js';
import { DatapathCollector } from '../core/datapath-snapshot.js';
import { usageError } from '../errors.js';
import { SORT_KEYS } from '../ui/connection-table.js';
import { advance, type DashboardState, initialState, type ModelOptions } from '../ui/dashboard-state.js';

export default class Top extends DatapathCommand<typeof Top> {
  static override summary =
    'Live dashboard of the datapath: rates, services, connections and injected headers.';

  static override description = [
    'On a terminal, a full-screen dashboard that polls the pinned maps: the datapath cost per packet (from the ' +
      "kernel's BPF run-time statistics, enabled while top runs), counters as totals and as rates per interval, " +
      "the services with each backend's share of live connections and its health (with liveness on), the live " +
      'connections (sortable, filterable, scrollable), the PPv2 headers the datapath injected (decoded, or raw ' +
      'hex) and sparklines of the main rates. Press ? for the keys and q to quit.',
    'When stdout is not a terminal, or with --json, --once or --iterations, no dashboard is drawn: top prints N ' +
      "snapshots (tables, or one JSON document per line with --json) and exits. Each snapshot's rates cover the " +
      'interval before it, so the first one comes one interval after start. Its "counters" are the document ' +
      '`lbctl stats --json` prints.',
    'The conntrack table is re-read at a bounded rate: a pass over 100,000 entries costs a few hundred ms of CPU, ' +
      'so the dashboard spends at most about 2% of a core on it and shows how old its reading is. Printed ' +
      'snapshots always read it. Two tops share the events ring buffer: each sees only part of the headers.',
  ].join('\n\n');

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> --netns lb <%= command.id %> --interval 2 --service web',
    '<%= config.bin %> <%= command.id %> --once --json | jq .rates.focus',
    '<%= config.bin %> <%= command.id %> --iterations 10 --json > snapshots.ndjson',
  ];

  static override flags = {
    interval: Flags.string({
      summary: 'Seconds between readings (decimals allowed, at least 0.1).',
      default: '1',
    }),
    once: Flags.boolean({
      summary: 'Print one snapshot (rates over one interval) and exit.',
      default: false,
      exclusive: ['iterations'],
    }),
    iterations: Flags.integer({ summary: 'Print this many snapshots, one per interval, and exit.', min: 1 }),
    service: Flags.string({
      summary: `Only this service (its ${SERVICE_REF}): its counters, connections, headers.`,
    }),
    address: Flags.string({
      summary: 'Only connections whose client, VIP or backend is this ADDR or ADDR:PORT.',
    }),
    sort: Flags.option({
      summary: 'Initial sort of the connection table.',
      options: SORT_KEYS,
      default: 'age',
    })(),
    limit: Flags.integer({
      summary: 'Connection rows and header lines per printed snapshot.',
      default: 20,
      min: 1,
    }),
    'per-cpu': Flags.boolean({ summary: 'Add per-CPU counters to printed snapshots.', default: false }),
    'kernel-stats': Flags.boolean({
      summary: 'Enable BPF run-time statistics while top runs (for ns/packet and CPU %).',
      description:
        'Statistics stay on only while top holds them (the kernel ties them to a file descriptor), so they ' +
        'return to their previous state when top exits; /proc/sys/kernel/bpf_stats_enabled is not touched.',
      default: true,
      allowNo: true,
    }),
  };

  public async run(): Promise<void> {
    const intervalMs = parseInterval(this.flags.interval);
    const scripted = this.jsonEnabled() || this.flags.once || this.flags.iterations !== undefined;
    const interactive = process.stdout.isTTY === true && !scripted;
    const collector = DatapathCollector.open(this.instance, {
      service: this.flags.service,
      address: this.flags.address,
      perCpu: interactive || this.flags['per-cpu'],
      runTimeStats: this.flags['kernel-stats'],
    });
    const model: ModelOptions = {
      historySize: Math.min(600, Math.max(10, Math.ceil(60_000 / intervalMs))),
      headerCapacity: 200,
    };
    try {
      if (interactive) {
        letInkDrawLive(process.env);
        // React's development build re-checks every render; the dashboard re-renders every tick.
        process.env.NODE_ENV ??= 'production';
        const { runDashboard } = await import('../ui/run-dashboard.js');
        await runDashboard(collector, {
          intervalMs,
          model,
          initialUi: { sort: { key: this.flags.sort, reverse: false } },
        });
      } else {
        await this.printSnapshots(collector, this.flags.iterations ?? 1, intervalMs, model);
      }
    } finally {
      collector.close();
    }
  }

  /** A baseline reading, then one snapshot per interval, each printed as soon as it is taken. */
  private async printSnapshots(
    collector: DatapathCollector,
    count: number,
    intervalMs: number,
    model: ModelOptions,
  ): Promise<void> {
    const render = { limit: this.flags.limit, sort: { key: this.flags.sort, reverse: false } };
    let state: DashboardState = advance(initialState(), collector.collect('skip'), model);
    for (let i = 0; i < count; i++) {
      await sleep(intervalMs);
      state = advance(state, collector.collect('force'), model);
      if (this.jsonEnabled()) process.stdout.write(`${JSON.stringify(topSnapshotJson(state, render))}\n`);
      else this.log(`${i > 0 ? '\n' : ''}${renderTopText(state, render)}`);
    }
  }
}

function parseInterval(text: string): number {
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds < 0.1 || seconds > 3600) {
    throw usageError(
      `--interval "${text}" is not a number of seconds from 0.1 to 3600`,
      'e.g. --interval 0.5',
    );
  }
  return Math.round(seconds * 1000);
}

/**
 * Ink decides at import time whether it runs in CI (the CI or CONTINUOUS_INTEGRATION variable) and then draws
 * only the final frame, on exit. That suits logs, not a dashboard on a real terminal, which is the only
 * place top mounts Ink: so the variables are hidden from it before it is imported.
 */
function letInkDrawLive(env: NodeJS.ProcessEnv): void {
  delete env.CI;
  delete env.CONTINUOUS_INTEGRATION;
}
