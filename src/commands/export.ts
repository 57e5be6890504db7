import { Flags } from '@oclif/core';
import { DatapathCommand } from '../cli/datapath-command.js';
import { DatapathMaps } from '../core/maps.js';
import { listServices } from '../core/services.js';
import { loadState } from '../core/state-file.js';
import { type ExportList, exportServices, formatManifests } from '../k8s/export.js';

export default class Export extends DatapathCommand<typeof Export> {
  static override summary = 'Write the live services as Kubernetes manifests that lbctl apply reads back.';

  static override description =
    `One Service (type LoadBalancer, loadBalancerClass loxilb.io/loxilb) per lbctl service, with its settings \
as annotations (loxilb.io/lbmode, loxilb.io/useproxyprotov2, loxilb.io/liveness, and lbctl.io/vip, lbctl.io/snat, \
lbctl.io/ppv2-tlvs, lbctl.io/weights, lbctl.io/name where needed), plus an EndpointSlice with its backends. \
Applying the output to the same balancer changes nothing; applying it to a fresh one restores the services. \
YAML by default (one document per object); --output json writes one List object, like kubectl.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> > saved.yaml',
    '<%= config.bin %> <%= command.id %> | <%= config.bin %> apply -f - --dry-run   # all unchanged',
    '<%= config.bin %> <%= command.id %> --output json | jq \'.items[] | select(.kind == "Service") | .metadata.name\'',
  ];

  static override flags = {
    output: Flags.option({
      char: 'o',
      summary: 'Manifest format.',
      options: ['yaml', 'json'] as const,
      default: 'yaml' as const,
    })(),
  };

  public async run(): Promise<ExportList> {
    const maps = DatapathMaps.open(this.instance);
    let list: ExportList;
    try {
      list = exportServices(listServices(maps, loadState(this.instance)));
    } finally {
      maps.close();
    }
    if (!this.jsonEnabled()) process.stdout.write(formatManifests(list, this.flags.output));
    return list;
  }
}
