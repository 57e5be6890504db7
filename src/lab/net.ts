import { LbctlError } from '../errors.js';
import { hostPort } from '../host-port.js';
import { type ListenSpec, tcpListenerPids } from '../sys/run.js';

/** Every address combined with every port. */
export function listenSpecs(addresses: readonly string[], ports: readonly number[]): ListenSpec[] {
  return addresses.flatMap((host) => ports.map((port) => ({ host, port })));
}

/**
 * Refuse to start a server on a socket that already has a listener. HAProxy binds with SO_REUSEPORT, so
 * a second instance would silently share the port, and nginx retries bind() for seconds before failing.
 */
export async function assertSocketsFree(specs: readonly ListenSpec[], netns?: string): Promise<void> {
  for (const spec of specs) {
    const pids = await tcpListenerPids(spec, netns);
    if (pids.length > 0) {
      const where = netns ? ` in namespace ${netns}` : '';
      throw new LbctlError(
        'CONFLICT',
        `TCP ${hostPort(spec.host ?? '*', spec.port)}${where} is already listening (pid ${pids.join(', ')})`,
        'stop the other server or pick another address or port',
      );
    }
  }
}
