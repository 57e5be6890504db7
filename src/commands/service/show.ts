import { Args } from '@oclif/core';
import { DatapathCommand } from '../../cli/datapath-command.js';
import { renderServiceDetail } from '../../cli/service-render.js';
import { DatapathMaps } from '../../core/maps.js';
import { findService, type ServiceView } from '../../core/services.js';
import { loadState } from '../../core/state-file.js';

export default class ServiceShow extends DatapathCommand<typeof ServiceShow> {
  static override summary =
    'Show one service: backends with weights, health and share of new connections, PPv2 settings.';

  static override examples = [
    '<%= config.bin %> <%= command.id %> 203.0.113.10:80',
    '<%= config.bin %> <%= command.id %> web6 --json',
  ];

  static override args = {
    service: Args.string({ description: 'Service name or VIP:PORT.', required: true }),
  };

  public async run(): Promise<ServiceView> {
    const maps = DatapathMaps.open(this.instance);
    try {
      const service = findService(maps, loadState(this.instance), this.args.service);
      this.log(renderServiceDetail(service));
      return service;
    } finally {
      maps.close();
    }
  }
}
