import { Args, Flags } from '@oclif/core';
import { confirmOrAbort, mustAsk, processStreams } from '../cli/confirm.js';
import { DatapathCommand } from '../cli/datapath-command.js';
import { detachPlanLines } from '../cli/detach-render.js';
import { dryRunFlag, yesFlag } from '../cli/guard-flags.js';
import { renderTable } from '../cli/output.js';
import {
  DEFAULT_DRAIN_TIMEOUT_MS,
  type DetachPlan,
  type DetachReport,
  detachInterfaces,
  planDetach,
} from '../core/attach.js';
import { withInstanceLock } from '../core/state-file.js';
import { usageError } from '../errors.js';

export default class Detach extends DatapathCommand<typeof Detach> {
  static override summary = 'Detach the datapath from interfaces; with --all, remove every trace of lbctl.';

  static override description =
    `Removes lbctl's tc filter, and the clsact qdisc if lbctl created it (an operator's own qdisc stays).
When no interface remains attached, the pinned maps (services, connections, counters) and the state file are
removed too, unless --keep-maps keeps them for a later re-attach.

Live connections, when nothing stays attached:
- without --keep-maps they are drained first: each one is reset at both ends (client and backend see a
  connection reset, nobody waits for a timeout) and new connections are refused, for at most --drain-timeout
  seconds; then the maps go. A connection whose client cannot be reached meanwhile is cut without a reset.
- with --keep-maps the filters stay in place and hold: packets of services and live connections are dropped
  (nothing else is touched) until the next attach, after which TCP retransmits them and the connections go on.
  A hold longer than the clients' and backends' retransmission limits ends those connections.
To replace the datapath under traffic, run attach again instead: the filter is swapped in place and every
connection continues.

On a terminal, a detach that leaves nothing attached while services or live connections exist runs only after
a yes to the question (--yes skips it); without a terminal (scripts) it runs at once. --dry-run prints what
would happen and changes nothing.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> eth0',
    '<%= config.bin %> <%= command.id %> --all',
    '<%= config.bin %> <%= command.id %> --all --keep-maps   # maintenance: hold traffic, re-attach later',
    '<%= config.bin %> <%= command.id %> --all --drain-timeout 10',
    '<%= config.bin %> <%= command.id %> --all --dry-run',
    '<%= config.bin %> <%= command.id %> --all --yes',
  ];

  static override strict = false;

  static override args = {
    interface: Args.string({ description: 'Interface names; omit with --all.' }),
  };

  static override flags = {
    all: Flags.boolean({ summary: 'Detach from every interface of this instance.', default: false }),
    'keep-maps': Flags.boolean({
      summary: 'Keep pinned maps (services, connection state) even when nothing stays attached.',
      description:
        'The filters then stay and hold the traffic of services and live connections until attach.',
      default: false,
    }),
    'drain-timeout': Flags.integer({
      summary: 'Seconds to spend resetting live connections before the maps go (0: cut them at once).',
      default: DEFAULT_DRAIN_TIMEOUT_MS / 1000,
      min: 0,
      max: 300,
    }),
    ...dryRunFlag,
    ...yesFlag,
  };

  public async run(): Promise<DetachReport | { dryRun: true; plan: DetachPlan }> {
    if (this.flags.all === this.positionals.length > 0) {
      throw usageError(
        this.flags.all
          ? '--all and interface names are exclusive'
          : 'name the interfaces to detach, or pass --all',
        'e.g. lbctl detach eth0, or lbctl detach --all',
      );
    }
    const target = this.flags.all ? ({ all: true } as const) : { interfaces: this.positionals };
    if (this.flags['keep-maps'] && this.flags['drain-timeout'] !== DEFAULT_DRAIN_TIMEOUT_MS / 1000)
      throw usageError('--drain-timeout does not apply with --keep-maps', 'held connections are not drained');
    const options = { keepMaps: this.flags['keep-maps'], drainTimeoutMs: this.flags['drain-timeout'] * 1000 };
    // The plan reads the whole connection table: only for a dry run or a question, not for scripts.
    if (this.flags['dry-run'] || mustAsk(processStreams(), this.flags.yes)) {
      const plan = planDetach(this.instance, target, options);
      const lines = detachPlanLines(plan, options);
      if (this.flags['dry-run']) {
        this.log([...lines, 'dry run: nothing was changed'].join('\n'));
        return { dryRun: true, plan };
      }
      if (plan.nothingLeft && (plan.services > 0 || plan.liveConnections > 0))
        await confirmOrAbort(lines, 'Detach?', { yes: this.flags.yes });
    }
    const report = await withInstanceLock(this.instance, () =>
      detachInterfaces(this.instance, target, options),
    );
    if (report.interfaces.length > 0) {
      this.log(
        renderTable(
          ['interface', 'filter removed', 'qdisc removed'],
          report.interfaces.map((o) => [
            o.interface,
            o.held ? 'no (holding)' : yesNo(o.removedFilter),
            yesNo(o.removedQdisc),
          ]),
        ),
      );
    } else {
      this.log('nothing was attached');
    }
    if (report.removedState) this.log('pinned maps and state removed');
    if (report.held) {
      this.log(
        `holding: packets of services and ${report.liveConnections} live connections are dropped until lbctl attach`,
      );
    }
    if (report.drain) {
      const { live, reset, remaining } = report.drain;
      this.log(`${reset} of ${live} live connections reset at both ends`);
      if (remaining > 0)
        this.warn(
          `${remaining} live connections did not answer within --drain-timeout and were cut without a reset`,
        );
    }
    return report;
  }
}

const yesNo = (v: boolean) => (v ? 'yes' : 'no');
