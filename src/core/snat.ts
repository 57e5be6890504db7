import { LbctlError } from '../errors.js';
import { run } from '../sys/run.js';
import { type Endpoint, formatEndpoint } from './endpoint.js';

/**
 * The balancer's own address towards a backend: the source the kernel would pick for it (`ip route get`).
 * In fullnat the datapath rewrites client connections to come from this address, so backends reply to
 * the balancer. All backends of a service must share it, because one service holds one SNAT address.
 */
export async function snatAddressFor(backends: readonly Endpoint[]): Promise<string> {
  const sources = new Map<string, string>();
  for (const backend of backends) {
    const { stdout } = await run('ip', ['-j', 'route', 'get', backend.address]);
    const route = (JSON.parse(stdout) as Array<{ prefsrc?: string; dev?: string }>)[0];
    if (!route?.prefsrc) {
      throw new LbctlError(
        'USAGE',
        `no local source address routes to backend ${formatEndpoint(backend)}`,
        "give the balancer an address on the backends' network, or pass --snat ADDR",
      );
    }
    sources.set(formatEndpoint(backend), route.prefsrc);
  }
  const distinct = [...new Set(sources.values())];
  if (distinct.length > 1) {
    throw new LbctlError(
      'USAGE',
      `backends are reached from different balancer addresses (${[...sources].map(([b, s]) => `${b} via ${s}`).join(', ')})`,
      "put a fullnat service's backends behind one interface, or pass --snat ADDR",
    );
  }
  return distinct[0] as string;
}
