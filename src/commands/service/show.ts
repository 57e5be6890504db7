import { DatapathCommand } from '../../cli/datapath-command.js';
import { outputFlag } from '../../cli/output-format.js';
import { serviceArg } from '../../cli/service-arg.js';
import { renderServiceDetail } from '../../cli/service-render.js';
import { findService, type ServiceView } from '../../core/services.js';

export default class ServiceShow extends DatapathCommand<typeof ServiceShow> {
  static override summary =
    'Show one service: backends with weights, health and share of new connections, PPv2 settings.';

  static override examples = [
    '<%= config.bin %> <%= command.id %> 203.0.113.10:80',
    '<%= config.bin %> <%= command.id %> 3 -o yaml',
    '<%= config.bin %> <%= command.id %> web6 --json',
  ];

  static override args = serviceArg;

  static override flags = { ...outputFlag };

  public async run(): Promise<ServiceView> {
    const service = await this.withDatapath((maps, state) => findService(maps, state, this.args.service));
    this.log(renderServiceDetail(service, this.listing()));
    return service;
  }
}
