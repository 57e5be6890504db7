import { Flags } from '@oclif/core';
import { CT_STATES } from '../../bpf/records.js';
import { DatapathCommand } from '../../cli/datapath-command.js';
import { renderTable } from '../../cli/output.js';
import { type ConnectionView, listConnections } from '../../core/connections.js';
import { DatapathMaps } from '../../core/maps.js';
import { findService, listServices } from '../../core/services.js';
import { loadState } from '../../core/state-file.js';

export default class ConnList extends DatapathCommand<typeof ConnList> {
  static override summary =
    'List live connections and UDP flows: client, VIP, backend, TCP state (udp), PPv2, bytes and age.';

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --service 203.0.113.10:80 --state established',
    '<%= config.bin %> <%= command.id %> --address 192.0.2.10 --json',
  ];

  static override flags = {
    service: Flags.string({ summary: 'Only connections of this service (name or VIP:PORT).' }),
    address: Flags.string({
      summary: 'Only connections whose client, VIP or backend is this ADDR or ADDR:PORT.',
    }),
    state: Flags.option({
      summary: 'Only connections in this TCP state, or udp for UDP flows.',
      options: CT_STATES.slice(1),
    })(),
    limit: Flags.integer({
      summary: 'Show at most this many rows (the total is still counted).',
      default: 100,
      min: 1,
    }),
  };

  public async run(): Promise<{ total: number; shown: number; connections: ConnectionView[] }> {
    const maps = DatapathMaps.open(this.instance);
    try {
      const state = loadState(this.instance);
      const services = listServices(maps, state);
      const service = this.flags.service ? findService(maps, state, this.flags.service) : undefined;
      const { connections, total } = listConnections(
        maps,
        services,
        { service, address: this.flags.address, state: this.flags.state },
        this.flags.limit,
      );
      this.log(render(connections, total));
      return { total, shown: connections.length, connections };
    } finally {
      maps.close();
    }
  }
}

function render(connections: ConnectionView[], total: number): string {
  if (total === 0) return 'no live connections';
  const table = renderTable(
    ['client', 'vip', 'backend', 'state', 'ppv2', 'bytes in/out', 'age'],
    connections.map((c) => [
      c.client,
      c.vip,
      c.backend,
      c.state,
      c.ppv2.expected ? (c.ppv2.injected ? `yes (${c.ppv2.headerBytes} B)` : 'pending') : 'off',
      `${c.bytesFromClient}/${c.bytesFromBackend}`,
      `${c.ageSeconds.toFixed(1)}s`,
    ]),
  );
  const hidden = total - connections.length;
  return hidden > 0 ? `${table}\n${hidden} more not shown (raise --limit or filter)` : table;
}
