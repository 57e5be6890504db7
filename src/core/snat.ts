import { LbctlError, usageError } from '../errors.js';
import { canonicalIpAddress } from '../ppv2/ip-address.js';
import { run } from '../sys/run.js';
import { checkSnatAddress } from './address-policy.js';
import { type Endpoint, formatEndpoint } from './endpoint.js';
import type { ServiceSpec } from './service-spec.js';

/**
 * The SNAT address a service stores: null for dnat; for fullnat the `given` one (`--snat`, the
 * lbctl.io/snat annotation) once checked against the VIP's family and the namespace's own addresses, else
 * the route's source towards the backends. The one path `service add`, `service set` and `apply` take, so
 * they accept the same addresses. Runs in the balancer's namespace (`--netns` has entered it), as `ip` does.
 */
export async function snatFor(
  service: Pick<ServiceSpec, 'mode' | 'vip' | 'backends'>,
  given: string | undefined,
): Promise<string | null> {
  if (service.mode !== 'fullnat') {
    if (given !== undefined) {
      throw usageError(`SNAT address ${given} applies to fullnat only`, 'drop --snat, or use --mode fullnat');
    }
    return null;
  }
  if (given === undefined) return snatAddressFor(service.backends);
  return checkSnatAddress(given, service.vip, await localAddresses());
}

/** Canonical texts of every address on the current network namespace's interfaces (`ip -j addr`). */
export async function localAddresses(): Promise<Set<string>> {
  const { stdout } = await run('ip', ['-j', 'addr', 'show']);
  return addressesOfIpAddrJson(stdout);
}

/** The `local` addresses in `ip -j addr show` output, canonical (RFC 5952 for IPv6). */
export function addressesOfIpAddrJson(json: string): Set<string> {
  const links = JSON.parse(json) as Array<{ addr_info?: Array<{ local?: string }> }>;
  const addresses = new Set<string>();
  for (const link of links) {
    for (const info of link.addr_info ?? []) {
      const address = info.local === undefined ? undefined : canonicalIpAddress(info.local);
      if (address !== undefined) addresses.add(address);
    }
  }
  return addresses;
}

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
