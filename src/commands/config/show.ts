import { renderConfig } from '../../cli/config-render.js';
import { DatapathCommand } from '../../cli/datapath-command.js';
import { type ConfigView, readConfig } from '../../core/config.js';
import { DatapathMaps } from '../../core/maps.js';

export default class ConfigShow extends DatapathCommand<typeof ConfigShow> {
  static override summary = 'Show the balancer-wide settings: conntrack idle timeouts per TCP state.';

  static override description =
    `A connection's conntrack entries are removed when it has been idle for the timeout of its state:
SYN_SENT (unanswered handshake), ESTABLISHED, FIN (one side closed) or CLOSED (both FINs seen, or a RST).
Change them with lbctl config set.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> --netns lb <%= command.id %> --json',
  ];

  public async run(): Promise<ConfigView> {
    const maps = DatapathMaps.open(this.instance);
    try {
      const config = readConfig(maps);
      this.log(renderConfig(config));
      return config;
    } finally {
      maps.close();
    }
  }
}
