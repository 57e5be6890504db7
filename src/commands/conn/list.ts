import { Flags } from '@oclif/core';
import { CT_STATES } from '../../bpf/records.js';
import { DatapathCommand } from '../../cli/datapath-command.js';
import { type Column, type ListingOptions, renderColumns } from '../../cli/output.js';
import { outputFlag } from '../../cli/output-format.js';
import { SERVICE_REF } from '../../cli/service-arg.js';
import { type ConnectionView, listConnections } from '../../core/connections.js';
import { findService, listServices } from '../../core/services.js';

export default class ConnList extends DatapathCommand<typeof ConnList> {
  static override summary =
    'List live connections and UDP flows: client, VIP, backend, TCP state (udp), PPv2, bytes and age.';

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --service 203.0.113.10:80 --state established',
    '<%= config.bin %> <%= command.id %> --address 192.0.2.10 --json',
    '<%= config.bin %> <%= command.id %> -o wide',
  ];

  static override flags = {
    service: Flags.string({ summary: `Only connections of this service (its ${SERVICE_REF}).` }),
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
    ...outputFlag,
  };

  public async run(): Promise<{ total: number; shown: number; connections: ConnectionView[] }> {
    const { connections, total } = await this.withDatapath((maps, state) => {
      const service = this.flags.service ? findService(maps, state, this.flags.service) : undefined;
      const filter = { service, address: this.flags.address, state: this.flags.state };
      return listConnections(maps, listServices(maps, state), filter, this.flags.limit);
    });
    this.log(render(connections, total, this.listing()));
    return { total, shown: connections.length, connections };
  }
}

const CONNECTION_COLUMNS: ReadonlyArray<Column<ConnectionView>> = [
  { head: 'client', cell: (c) => c.client },
  { head: 'vip', cell: (c) => c.vip },
  { head: 'service', cell: (c) => c.service ?? String(c.serviceId), wide: true },
  { head: 'backend', cell: (c) => c.backend },
  { head: 'backend sees', cell: (c) => c.backendSees, wide: true },
  { head: 'state', cell: (c) => c.state },
  {
    head: 'ppv2',
    cell: (c) => (c.ppv2.expected ? (c.ppv2.injected ? `yes (${c.ppv2.headerBytes} B)` : 'pending') : 'off'),
  },
  { head: 'bytes in/out', cell: (c) => `${c.bytesFromClient}/${c.bytesFromBackend}` },
  { head: 'packets in/out', cell: (c) => `${c.packetsFromClient}/${c.packetsFromBackend}`, wide: true },
  { head: 'age', cell: (c) => `${c.ageSeconds.toFixed(1)}s` },
  { head: 'idle', cell: (c) => `${c.idleSeconds.toFixed(1)}s`, wide: true },
];

function render(connections: ConnectionView[], total: number, options: ListingOptions): string {
  if (total === 0) return 'no live connections';
  const table = renderColumns(CONNECTION_COLUMNS, connections, options);
  const hidden = total - connections.length;
  return hidden > 0 ? `${table}\n${hidden} more not shown (raise --limit or filter)` : table;
}
