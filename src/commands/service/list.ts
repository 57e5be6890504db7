import { DatapathCommand } from '../../cli/datapath-command.js';
import { renderServiceList } from '../../cli/service-render.js';
import { DatapathMaps } from '../../core/maps.js';
import { listServices, type ServiceView } from '../../core/services.js';
import { loadState } from '../../core/state-file.js';

export default class ServiceList extends DatapathCommand<typeof ServiceList> {
  static override summary = 'List services with their mode, backend count, backend health and PPv2 settings.';

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    "<%= config.bin %> <%= command.id %> --json | jq '.services[].key'",
  ];

  public async run(): Promise<{ services: ServiceView[] }> {
    const maps = DatapathMaps.open(this.instance);
    try {
      const services = listServices(maps, loadState(this.instance));
      this.log(renderServiceList(services));
      return { services };
    } finally {
      maps.close();
    }
  }
}
