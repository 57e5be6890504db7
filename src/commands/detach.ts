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
removed too, unless --keep-maps keeps them for a later re-attach: connections then resume where they were.`;

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
    return report;
  }
}

const yesNo = (v: boolean) => (v ? 'yes' : 'no');
