import { BaseCommand } from '../../cli/base-command.js';
import { labDown } from '../../lab/lab.js';

export default class LabDown extends BaseCommand<typeof LabDown> {
  static override needsRoot = "to remove the lab's namespaces and processes";

  static override summary =
    'Remove the demo: stop its backends, detach lbctl, delete its namespaces and pinned maps.';

  static override examples = ['<%= config.bin %> <%= command.id %>'];

  public async run(): Promise<{ removed: string[] }> {
    const result = await labDown();
    this.log(`removed ${result.removed.join(', ')}`);
    return result;
  }
}
