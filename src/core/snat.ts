import { usageError } from '../errors.js';
import { canonicalIpAddress } from '../ppv2/ip-address.js';
import { run } from '../sys/run.js';
import { checkSnatAddress } from './address-policy.js';
import { type Endpoint, formatEndpoint } from './endpoint.js';
import type { ServiceSpec } from './service-spec.js';
import { AUTO_SNAT, NO_SNAT, type SnatPlan } from './snat-plan.js';

/**
 * How a service's connections get their source address towards the backends (see snat-plan.ts): none for
 * dnat; for fullnat the `given` override (`--snat`, the lbctl.io/snat annotation) once checked against the
 * VIP's family and the namespace's own addresses, else the route's source towards each backend (also for
 * `given` = "auto"). The one path `service add`, `service set`, `apply` and `attach` take, so they accept the
 * same addresses. Runs in the balancer's namespace (`--netns` has entered it), as `ip` does.
 */
export async function snatFor(
  service: Pick<ServiceSpec, 'mode' | 'vip' | 'backends'>,
  given: string | undefined,
): Promise<SnatPlan> {
  if (service.mode !== 'fullnat') {
    if (given !== undefined) {
      throw usageError(`SNAT address ${given} applies to fullnat only`, 'drop --snat, or use --mode fullnat');
    }
    return NO_SNAT;
  }
  if (given === undefined || given.trim().toLowerCase() === AUTO_SNAT) {
    return { override: null, sources: await routeSources(service.backends) };
  }
  return { override: checkSnatAddress(given, service.vip, await localAddresses()), sources: new Map() };
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
 * The balancer's own address towards each backend: the source the kernel picks for it (`ip route get`, the
 * route's preferred source), keyed by backend address. In fullnat the datapath rewrites client connections
 * to come from it, so each backend replies to the balancer on its own subnet. A backend with no route (or
 * none with a local source) is refused, naming it: nothing is stored.
 */
export async function routeSources(backends: readonly Endpoint[]): Promise<Map<string, string>> {
  const sources = new Map<string, string>();
  for (const backend of backends) {
    if (sources.has(backend.address)) continue;
    const res = await run('ip', ['-j', 'route', 'get', backend.address], { allowFailure: true });
    const route = res.code === 0 ? routeSourceOfJson(res.stdout) : undefined;
    if (route?.source === undefined) {
      const why = route ? `a ${route.type} route` : firstLine(res.stderr).replace(/^RTNETLINK answers: /, '');
      throw usageError(
        `no route with a local source address to backend ${formatEndpoint(backend)}${why ? ` (${why})` : ''}`,
        "give the balancer a route to the backend's network, or pass --snat ADDR",
      );
    }
    sources.set(backend.address, route.source);
  }
  return sources;
}

/**
 * The first route of `ip -j route get` output: its type ("unicast" when ip omits it) and, for a unicast
 * route, its preferred source in canonical text (undefined when it has none: e.g. a local or blackhole route).
 */
export function routeSourceOfJson(json: string): { type: string; source: string | undefined } | undefined {
  const route = (JSON.parse(json) as Array<{ prefsrc?: string; type?: string }>)[0];
  if (!route) return undefined;
  const type = route.type ?? 'unicast';
  const source = type === 'unicast' && route.prefsrc ? canonicalIpAddress(route.prefsrc) : undefined;
  return { type, source };
}

const firstLine = (text: string) => text.trim().split('\n')[0] ?? '';
