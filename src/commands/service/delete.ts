import { Args } from '@oclif/core';
import { DatapathCommand } from '../../cli/datapath-command.js';
import { DatapathMaps } from '../../core/maps.js';
import { deleteService, findService, type ServiceView } from '../../core/services.js';
import { loadState, saveState, withInstanceLock } from '../../core/state-file.js';

export default class ServiceDelete extends DatapathCommand<typeof ServiceDelete> {
  static override summary = 'Delete a service. New connections to its VIP stop matching at once.';

  static override description =
    `Open connections are not cut: conntrack keeps their backend, NAT and PPv2 state, so they continue
byte-exact until they close, and their entries then expire by the idle timeouts (lbctl config show). New
connections to the VIP are no longer answered by lbctl: the balancer namespace's routing decides what the
client sees (with no route to the VIP, ICMP unreachable: connect fails at once). See "Live changes" in the
README.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> 203.0.113.10:80',
    '<%= config.bin %> <%= command.id %> web6',
  ];

  static override args = {
    service: Args.string({ description: 'Service name or VIP:PORT.', required: true }),
  };

  public async run(): Promise<{ deleted: ServiceView }> {
    const deleted = await withInstanceLock(this.instance, async () => {
      const maps = DatapathMaps.open(this.instance);
      try {
        const state = loadState(this.instance);
        const service = findService(maps, state, this.args.service);
        deleteService(maps, state, service);
        saveState(this.instance, state);
        return service;
      } finally {
        maps.close();
      }
    });
    this.log(`deleted service ${deleted.name ? `${deleted.name} (${deleted.key})` : deleted.key}`);
    return { deleted };
  }
}
