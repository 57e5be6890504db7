import { BaseCommand } from '../../cli/base-command.js';
import { renderDemo, renderLabHints, renderLabSummary } from '../../cli/lab-render.js';
import { type DemoRow, type LabState, labDemo, labUp } from '../../lab/lab.js';

export default class LabUp extends BaseCommand<typeof LabUp> {
  static override needsRoot = 'to create network namespaces and attach the datapath';

  static override summary =
    'Build the demo: client, balancer and backends in namespaces, with PPv2 services.';

  static override description =
    `Creates three network namespaces (addresses from the documentation ranges only), attaches lbctl in the
balancer namespace, starts two nginx backends with proxy_protocol and one HAProxy with accept-proxy, adds
IPv4 and IPv6 services with PPv2, then sends one request to each service and shows what each backend saw.
Needs root and the packages scripts/setup.sh installs. Remove it all with \`lbctl lab down\`.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --json',
  ];

  public async run(): Promise<{ lab: LabState; demo: DemoRow[] }> {
    const lab = await labUp();
    const demo = await labDemo(lab);
    this.log(
      `${renderLabSummary(lab)}\n\nOne request per service; the backends report the real client:\n${renderDemo(demo)}\n\n${renderLabHints(lab)}`,
    );
    return { lab, demo };
  }
}
