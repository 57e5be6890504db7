import { BaseCommand } from '../../cli/base-command.js';
import { renderLabSummary } from '../../cli/lab-render.js';
import { renderTable } from '../../cli/output.js';
import { type LabHealth, type LabState, labHealth, readLab } from '../../lab/lab.js';

export default class LabStatus extends BaseCommand<typeof LabStatus> {
  static override needsRoot = "to tell whether the lab is up: its state, namespaces and maps are root's";

  static override summary = 'Show whether the demo is up, its namespaces, backends and services.';

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --json',
  ];

  public async run(): Promise<{ up: boolean; lab: LabState | null; health: LabHealth | null }> {
    const lab = readLab();
    if (!lab) {
      this.log('the lab is down (start it with: lbctl lab up)');
      return { up: false, lab: null, health: null };
    }
    const health = labHealth(lab);
    this.log(
      [
        renderLabSummary(lab),
        renderTable(
          ['backend', 'pid', 'addresses', 'running'],
          health.processes.map((p) => [p.role, p.pid, p.addresses.join(', '), p.alive ? 'yes' : 'NO']),
        ),
        renderTable(
          ['service', 'VIP', 'backends', 'PPv2 TLVs'],
          lab.services.map((s) => [s.name, s.vip, s.backends.join(', '), s.tlvs.join(', ')]),
        ),
        `lbctl attached: ${health.attached ? 'yes' : 'NO'}`,
      ].join('\n'),
    );
    return { up: true, lab, health };
  }
}
