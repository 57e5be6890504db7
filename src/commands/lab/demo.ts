import { BaseCommand } from '../../cli/base-command.js';
import { renderDemo } from '../../cli/lab-render.js';
import { notFoundError } from '../../errors.js';
import { type DemoRow, labDemo, readLab } from '../../lab/lab.js';

export default class LabDemo extends BaseCommand<typeof LabDemo> {
  static override needsRoot = "to send requests inside the lab's namespaces";

  static override summary = "Send one request to each lab service and show the backends' view of the client.";

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --json',
  ];

  public async run(): Promise<{ demo: DemoRow[] }> {
    const lab = readLab();
    if (!lab) throw notFoundError('no lab is up', 'start one with: lbctl lab up');
    const demo = await labDemo(lab);
    this.log(renderDemo(demo));
    return { demo };
  }
}
