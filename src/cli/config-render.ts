import { type ConfigView, TIMEOUT_STATES, type TimeoutName } from '../core/config.js';
import { renderTable } from './output.js';

/** The timeouts table `config show` and `config set` print. */
export function renderConfig(config: ConfigView): string {
  return renderTable(
    ['state', 'idle timeout', 'default'],
    (Object.entries(TIMEOUT_STATES) as Array<[TimeoutName, string]>).map(([field, state]) => [
      state,
      `${config.timeoutsSeconds[field]} s`,
      `${config.defaultsSeconds[field]} s`,
    ]),
  );
}
