import { type ConfigView, TIMEOUT_STATES, type TimeoutName } from '../core/config.js';
import { formatPortRange, portRangeSize } from '../core/port-ranges.js';
import { renderTable } from './output.js';

/** The timeouts table `config show` and `config set` print, and the SNAT port range. */
export function renderConfig(config: ConfigView): string {
  const timeouts = renderTable(
    ['state', 'idle timeout', 'default'],
    (Object.entries(TIMEOUT_STATES) as Array<[TimeoutName, string]>).map(([field, state]) => [
      state,
      `${config.timeoutsSeconds[field]} s`,
      `${config.defaultsSeconds[field]} s`,
    ]),
  );
  return `${timeouts}\nSNAT ports: ${describeSnatPorts(config.snatPorts)} (default ${formatPortRange(config.snatPortsDefault)})`;
}

/** "1024-32767 (31744 ports)", as `config show` and `status` print it. */
export const describeSnatPorts = (range: ConfigView['snatPorts']) =>
  `${formatPortRange(range)} (${portRangeSize(range)} ports)`;
