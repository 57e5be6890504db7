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
  routes?: RouteSources,
): Promise<string | null> {
  if (service.mode !== 'fullnat') {
    if (given !== undefined) {
      throw usageError(`SNAT address ${given} applies to fullnat only`, 'drop --snat, or use --mode fullnat');
    }
    return null;
  }
  if (given === undefined) return snatAddressFor(service.backends, routes);
  return checkSnatAddress(given, service.vip, await (routes?.localAddresses() ?? localAddresses()));
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
 * `routes` carries lookups already made (apply looks up every service's backends in one go).
 */
export async function snatAddressFor(
  backends: readonly Endpoint[],
  routes: RouteSources = new RouteSources(),
): Promise<string> {
  await routes.load(backends.map((b) => b.address));
  const sources = new Map<string, string>();
  for (const backend of backends) {
    const source = routes.sourceOf(backend.address);
    if (!source) {
      throw new LbctlError(
        'USAGE',
        `no local source address routes to backend ${formatEndpoint(backend)}`,
        "give the balancer an address on the backends' network, or pass --snat ADDR",
      );
    }
    sources.set(formatEndpoint(backend), source);
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

/**
 * The kernel's source address towards destinations, looked up with one `ip -batch` process for many
 * addresses (one `ip route get` per backend cost a process start each: 2,000 backends took 20 s), and
 * the namespace's own addresses. Each is looked up once per RouteSources; keep one only as long as the
 * routes may be taken as fixed (one command).
 */
export class RouteSources {
  private readonly known = new Map<string, string | null>();
  private locals: Promise<Set<string>> | undefined;

  /** The namespace's own addresses (`localAddresses`), read once. */
  localAddresses(): Promise<Set<string>> {
    this.locals ??= localAddresses();
    return this.locals;
  }

  /** Look up the addresses not looked up yet. */
  async load(addresses: Iterable<string>): Promise<void> {
    const missing = [...new Set(addresses)].filter((a) => !this.known.has(a));
    if (missing.length === 0) return;
    const batch = await run('ip', ['-j', '-batch', '-'], {
      input: missing.map((a) => `route get ${a}\n`).join(''),
      allowFailure: true,
    });
    const lines = batch.stdout.split('\n').filter((l) => l.trim() !== '');
    if (batch.code === 0 && lines.length === missing.length) {
      for (const [i, address] of missing.entries()) this.known.set(address, prefsrcOf(lines[i] as string));
      return;
    }
    // Some address has no route: `ip -batch` stops there. Look each one up alone to know which.
    for (const address of missing) {
      const one = await run('ip', ['-j', 'route', 'get', address], { allowFailure: true });
      this.known.set(address, one.code === 0 ? prefsrcOf(one.stdout) : null);
    }
  }

  /** The source address towards `address` (after `load`), or null when no route has one. */
  sourceOf(address: string): string | null {
    return this.known.get(address) ?? null;
  }
}

function prefsrcOf(json: string): string | null {
  const route = (JSON.parse(json) as Array<{ prefsrc?: string }>)[0];
  return route?.prefsrc ?? null;
}
