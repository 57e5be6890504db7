import { DatapathCommand } from '../../cli/datapath-command.js';
import { outputFlag } from '../../cli/output-format.js';
import { renderServiceList } from '../../cli/service-render.js';
import { listServices, type ServiceView } from '../../core/services.js';

export default class ServiceList extends DatapathCommand<typeof ServiceList> {
  static override summary = 'List services with their mode, backend count, backend health and PPv2 settings.';

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> -o wide',
    "<%= config.bin %> <%= command.id %> --json | jq '.services[].key'",
  ];

  static override flags = { ...outputFlag };

  public async run(): Promise<{ services: ServiceView[] }> {
    const services = await this.withDatapath(listServices);
    this.log(renderServiceList(services, this.listing()));
    return { services };
  }
}
