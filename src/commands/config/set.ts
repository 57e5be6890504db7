import { Flags } from '@oclif/core';
import { DEFAULT_SNAT_PORTS, DEFAULT_TIMEOUTS_S } from '../../bpf/records.js';
import { renderConfig } from '../../cli/config-render.js';
import { DatapathCommand } from '../../cli/datapath-command.js';
import {
  type ConfigView,
  type TimeoutName,
  type Timeouts,
  updateTimeouts,
  validateTimeout,
} from '../../core/config.js';
import { DatapathMaps } from '../../core/maps.js';
import { formatPortRange } from '../../core/port-ranges.js';
import { changeSnatPorts, checkSnatPortsFlag } from '../../core/snat-ports.js';
import { withInstanceLock } from '../../core/state-file.js';
import { usageError } from '../../errors.js';

const timeoutFlag = (state: string, name: TimeoutName) =>
  Flags.integer({
    summary: `Idle timeout in seconds for ${state} connections (default ${DEFAULT_TIMEOUTS_S[name]}; 0 restores it).`,
  });

/** Flag name to the lb_config field it sets. */
const TIMEOUT_FLAGS = {
  'timeout-syn': 'synSentS',
  'timeout-established': 'establishedS',
  'timeout-fin': 'finS',
  'timeout-closed': 'closedS',
  'timeout-udp': 'udpS',
} as const satisfies Record<string, keyof Timeouts>;

export default class ConfigSet extends DatapathCommand<typeof ConfigSet> {
  static override summary =
    'Change the conntrack idle timeouts per TCP state and for UDP flows, or the SNAT port range.';

  static override description =
    `The datapath sweeps its connection table once a second and removes every connection idle for longer than
its state's timeout, so a new value applies to every connection, old and new, within a second (lowering the
ESTABLISHED timeout removes the connections already idle that long at the next sweep). Short timeouts drain
the table quickly after a load test; the defaults suit production.

--snat-ports sets the ports fullnat gives its connections as source ports (default ${formatPortRange(DEFAULT_SNAT_PORTS)}). The
range must lie within 1024-65535 and outside the namespace's ephemeral ports (net.ipv4.ip_local_port_range),
and lbctl reserves it in net.ipv4.ip_local_reserved_ports, so the host's own connections never use a port a
balanced connection holds. New connections take the new range; live ones keep their ports.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> --timeout-closed 2 --timeout-fin 5',
    '<%= config.bin %> <%= command.id %> --timeout-established 3600 --json',
    '<%= config.bin %> <%= command.id %> --snat-ports 61000-65535   # above the default ephemeral range (32768-60999)',
    '<%= config.bin %> <%= command.id %> --timeout-udp 10',
    `<%= config.bin %> <%= command.id %> --timeout-closed 0   # back to the default (${DEFAULT_TIMEOUTS_S.closedS} s)`,
  ];

  static override flags = {
    'timeout-syn': timeoutFlag('SYN_SENT (unanswered handshake)', 'synSentS'),
    'timeout-established': timeoutFlag('ESTABLISHED', 'establishedS'),
    'timeout-fin': timeoutFlag('half-closed (FIN)', 'finS'),
    'timeout-closed': timeoutFlag('CLOSED (both FINs or a RST seen)', 'closedS'),
    'timeout-udp': Flags.integer({
      summary: `Idle timeout in seconds for UDP flows, since the last datagram either way (default ${DEFAULT_TIMEOUTS_S.udpS}; 0 restores it).`,
    }),
    'snat-ports': Flags.string({
      summary: `fullnat SNAT source ports, MIN-MAX within 1024-65535 and outside net.ipv4.ip_local_port_range (default ${formatPortRange(DEFAULT_SNAT_PORTS)}).`,
    }),
  };

  public async run(): Promise<ConfigView> {
    const changes: Partial<Timeouts> = {};
    for (const [flag, field] of Object.entries(TIMEOUT_FLAGS)) {
      const value = this.flags[flag as keyof typeof TIMEOUT_FLAGS];
      if (value !== undefined) changes[field] = value;
    }
    const snatFlag = this.flags['snat-ports'];
    if (Object.keys(changes).length === 0 && snatFlag === undefined) {
      throw usageError(
        'nothing to change',
        `pass one of ${[...Object.keys(TIMEOUT_FLAGS), 'snat-ports'].map((f) => `--${f}`).join(', ')}`,
      );
    }
    // Checked before the maps are opened, so a bad value is a usage error even on a detached balancer.
    for (const [name, seconds] of Object.entries(changes) as Array<[TimeoutName, number]>)
      validateTimeout(name, seconds);
    const snatPorts = snatFlag === undefined ? undefined : checkSnatPortsFlag(snatFlag);
    const config = await withInstanceLock(this.instance, async () => {
      const maps = DatapathMaps.open(this.instance);
      try {
        const view = updateTimeouts(maps, changes);
        return snatPorts ? changeSnatPorts(this.instance, maps, snatPorts) : view;
      } finally {
        maps.close();
      }
    });
    this.log(renderConfig(config));
    return config;
  }
}
