import { Args, Flags } from '@oclif/core';
import { DatapathCommand } from '../cli/datapath-command.js';
import { usageError } from '../cli/errors.js';
import { renderTable } from '../cli/output.js';
import { type DetachReport, detachInterfaces } from '../core/attach.js';
import { withInstanceLock } from '../core/state-file.js';

export default class Detach extends DatapathCommand<typeof Detach> {
  static override summary = 'Detach the datapath from interfaces; with --all, remove every trace of lbctl.';

  static override description =
    `Removes lbctl's tc filter, and the clsact qdisc if lbctl created it (an operator's own qdisc stays).
When no interface remains attached, the pinned maps (services, connections, counters) and the state file are
removed too, unless --keep-maps keeps them for a later re-attach.

Live connections (reported as liveConnections, with a warning): without --keep-maps they are cut. The
namespace's own stack then answers their packets, so backends are reset on their next segment, while a client
that is only waiting for data is not told and waits until its own timeout. With --keep-maps they resume on
re-attach if no packet of theirs arrived meanwhile (idle connections, or a short window); a packet that does
arrive meets the same stack, with the same result. To replace the datapath under traffic, run attach again
instead: the filter is swapped in place and every connection continues.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> eth0',
    '<%= config.bin %> <%= command.id %> --all',
    '<%= config.bin %> <%= command.id %> --all --keep-maps   # maintenance: re-attach later, services kept',
  ];

  static override strict = false;

  static override args = {
    interface: Args.string({ description: 'Interface names; omit with --all.' }),
  };

  static override flags = {
    all: Flags.boolean({ summary: 'Detach from every interface of this instance.', default: false }),
    'keep-maps': Flags.boolean({
      summary: 'Keep pinned maps (services, connection state) even when nothing stays attached.',
      default: false,
    }),
  };

  public async run(): Promise<DetachReport> {
    if (this.flags.all === this.positionals.length > 0) {
      throw usageError(
        this.flags.all
          ? '--all and interface names are exclusive'
          : 'name the interfaces to detach, or pass --all',
        'e.g. lbctl detach eth0, or lbctl detach --all',
      );
    }
    const target = this.flags.all ? ({ all: true } as const) : { interfaces: this.positionals };
    const report = await withInstanceLock(this.instance, async () =>
      detachInterfaces(this.instance, target, { keepMaps: this.flags['keep-maps'] }),
    );
    if (report.interfaces.length > 0) {
      this.log(
        renderTable(
          ['interface', 'filter removed', 'qdisc removed'],
          report.interfaces.map((o) => [o.interface, yesNo(o.removedFilter), yesNo(o.removedQdisc)]),
        ),
      );
    } else {
      this.log('nothing was attached');
    }
    if (report.removedState) this.log('pinned maps and state removed');
    if (report.liveConnections > 0) {
      this.warn(
        this.flags['keep-maps']
          ? `${report.liveConnections} live connections are kept; re-attach soon: packets that arrive while detached reset them`
          : `${report.liveConnections} live connections were cut: their backends are reset, their clients wait until they time out`,
      );
    }
    return report;
  }
}

const yesNo = (v: boolean) => (v ? 'yes' : 'no');
