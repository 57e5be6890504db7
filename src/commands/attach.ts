import { Args, Flags } from '@oclif/core';
import { DEFAULT_SNAT_PORTS } from '../bpf/records.js';
import { DatapathCommand } from '../cli/datapath-command.js';
import { renderTable } from '../cli/output.js';
import {
  type AttachOutcome,
  attachInterfaces,
  DEFAULT_MAX_CONNECTIONS,
  MAX_CONNECTIONS_RANGE,
} from '../core/attach.js';
import { forwardingWarnings } from '../core/features.js';

import { DatapathMaps } from '../core/maps.js';
import { formatPortRange, parsePortRange } from '../core/port-ranges.js';
import { type RouteRefresh, refreshRouteSources, type SourceChange } from '../core/route-refresh.js';
import { loadState, withInstanceLock } from '../core/state-file.js';

export default class Attach extends DatapathCommand<typeof Attach> {
  static override summary = 'Load the datapath and attach it at tc ingress of the given interfaces.';

  static override description =
    `Attach to both the client-facing and the backend-facing interface. Idempotent: running it again
replaces lbctl's program in place and keeps services and live connections (they live in pinned maps under
/sys/fs/bpf/lbctl/<instance>). If one interface fails, the ones attached by this call are detached again.

The connection table is preallocated when an instance is first attached (about 464 bytes per connection:
\`lbctl status\` shows the figure). When it is full, a new connection is refused at once with a reset and
counted as drop_ct_full; a live connection is never evicted. Its size is fixed while the instance has state:
resizing needs \`detach --all\` first, which drops every connection.

fullnat gives each connection a source port from the SNAT port range (default ${formatPortRange(DEFAULT_SNAT_PORTS)}), never the
client's: the range must lie outside the namespace's ephemeral ports (net.ipv4.ip_local_port_range; an
overlap is refused), and attach adds it to net.ipv4.ip_local_reserved_ports, so the host's own connections
(health probes, a local proxy) never share a port with a balanced one. detach --all removes what it added.
Re-attaching also reads the routes again: a fullnat backend without --snat gets the route's source address as
it is now (a backend whose route is gone keeps its old one, with a warning).`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> eth0 eth1',
    '<%= config.bin %> --netns lb <%= command.id %> veth-client veth-backends --json',
    '<%= config.bin %> <%= command.id %> eth0 eth1 --max-connections 2000000   # about 900 MiB preallocated',
  ];

  static override flags = {
    'snat-ports': Flags.string({
      summary: `fullnat SNAT source ports, MIN-MAX within 1024-65535 and outside net.ipv4.ip_local_port_range (default ${formatPortRange(DEFAULT_SNAT_PORTS)}, or the instance's).`,
    }),
    'max-connections': Flags.integer({
      summary: `Connections the table holds, ${MAX_CONNECTIONS_RANGE.min} to ${MAX_CONNECTIONS_RANGE.max} (default ${DEFAULT_MAX_CONNECTIONS}); set when the instance is first attached.`,
    }),
  };

  static override strict = false;

  static override args = {
    interface: Args.string({ description: 'Interface names (one or more).', required: true }),
  };

  public async run(): Promise<{
    instance: string;
    interfaces: AttachOutcome[];
    sources: SourceChange[];
    warnings: string[];
  }> {
    const snatPorts = this.flags['snat-ports'];
    const { outcomes, refresh } = await withInstanceLock(this.instance, async () => {
      const outcomes = attachInterfaces(this.instance, this.positionals, {
        maxConnections: this.flags['max-connections'],
        snatPorts: snatPorts === undefined ? undefined : parsePortRange(snatPorts),
      });
      return { outcomes, refresh: await this.refreshSources() };
    });
    const warnings = [...forwardingWarnings(), ...refresh.warnings];
    for (const warning of warnings) this.warn(warning);
    for (const c of refresh.changed) {
      this.logToStderr(
        `note: service ${c.service}: backend ${c.backend} now gets source ${c.to} (was ${c.from ?? 'none'})`,
      );
    }
    this.log(
      renderTable(
        ['interface', 'ifindex', 'program id', 'action'],
        outcomes.map((o) => [o.interface, o.ifindex, o.progId, o.action]),
      ),
    );
    return { instance: this.instance.name, interfaces: outcomes, sources: refresh.changed, warnings };
  }

  private async refreshSources(): Promise<RouteRefresh> {
    const maps = DatapathMaps.open(this.instance);
    try {
      const state = loadState(this.instance);
      return await refreshRouteSources(maps, state);
    } finally {
      maps.close();
    }
  }
}
