import { Args } from '@oclif/core';
import { DatapathCommand } from '../cli/datapath-command.js';
import { renderTable } from '../cli/output.js';
import { type AttachOutcome, attachInterfaces } from '../core/attach.js';
import { forwardingWarnings } from '../core/features.js';
import { withInstanceLock } from '../core/state-file.js';

export default class Attach extends DatapathCommand<typeof Attach> {
  static override summary = 'Load the datapath and attach it at tc ingress of the given interfaces.';

  static override description =
    `Attach to both the client-facing and the backend-facing interface. Idempotent: running it again
replaces lbctl's program in place and keeps services and live connections (they live in pinned maps under
/sys/fs/bpf/lbctl/<instance>). If one interface fails, the ones attached by this call are detached again.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> eth0 eth1',
    '<%= config.bin %> --netns lb <%= command.id %> veth-client veth-backends --json',
  ];

  static override strict = false;

  static override args = {
    interface: Args.string({ description: 'Interface names (one or more).', required: true }),
  };

  public async run(): Promise<{ instance: string; interfaces: AttachOutcome[]; warnings: string[] }> {
    const outcomes = await withInstanceLock(this.instance, async () =>
      attachInterfaces(this.instance, this.positionals),
    );
    const warnings = forwardingWarnings();
    for (const warning of warnings) this.warn(warning);
    this.log(
      renderTable(
        ['interface', 'ifindex', 'program id', 'action'],
        outcomes.map((o) => [o.interface, o.ifindex, o.progId, o.action]),
      ),
    );
    return { instance: this.instance.name, interfaces: outcomes, warnings };
  }
}
