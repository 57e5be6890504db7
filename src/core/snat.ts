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
 * same addresses. Runs in the balancer's namespace (`--netns` has entered it), as `ip` does. `routes` carries
 * lookups already made (apply looks up every service's backends in one go).
 */
export async function snatFor(
  service: Pick<ServiceSpec, 'mode' | 'vip' | 'backends'>,
  given: string | undefined,
  routes: RouteSources = new RouteSources(),
): Promise<SnatPlan> {
  if (service.mode !== 'fullnat') {
    if (given !== undefined) {
      throw usageError(`SNAT address ${given} applies to fullnat only`, 'drop --snat, or use --mode fullnat');
    }
    return NO_SNAT;
  }
  if (given === undefined || given.trim().toLowerCase() === AUTO_SNAT) {
    return { override: null, sources: await routeSources(service.backends, routes) };
  }
  return {
    override: checkSnatAddress(given, service.vip, await routes.localAddresses()),
    sources: new Map(),
  };
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
export async function routeSources(
  backends: readonly Endpoint[],
  routes: RouteSources = new RouteSources(),
): Promise<Map<string, string>> {
  await routes.load(backends.map((b) => b.address));
  const sources = new Map<string, string>();
  for (const backend of backends) {
    const { route, error } = routes.lookup(backend.address);
    if (route?.source === undefined) {
      const why = route ? `a ${route.type} route` : error;
      throw usageError(
        `no route with a local source address to backend ${formatEndpoint(backend)}${why ? ` (${why})` : ''}`,
        "give the balancer a route to the backend's network, or pass --snat ADDR",
      );
    }
    sources.set(backend.address, route.source);
  }
  return sources;
}

type RouteLookup = { route: ReturnType<typeof routeSourceOfJson>; error: string };

/**
 * The kernel's routes towards destinations, looked up with one `ip -batch` process for many addresses (one
 * `ip route get` per backend cost a process start each: 2,000 backends took 20 s), and the namespace's own
 * addresses. Each is looked up once per RouteSources; keep one only as long as the routes may be taken as
 * fixed (one command).
 */
export class RouteSources {
  private readonly known = new Map<string, RouteLookup>();
  private locals: Promise<Set<string>> | undefined;
  /** `ip` processes started for route lookups: one per `load` while every address has a route. */
  routeProcesses = 0;

  /** The namespace's own addresses (`localAddresses`), read once. */
  localAddresses(): Promise<Set<string>> {
    this.locals ??= localAddresses();
    return this.locals;
  }

  /** Look up the addresses not looked up yet. */
  async load(addresses: Iterable<string>): Promise<void> {
    const missing = [...new Set(addresses)].filter((a) => !this.known.has(a));
    if (missing.length === 0) return;
    // -force: a command that fails (no route) is reported with its line number and the batch goes on.
    this.routeProcesses++;
    const batch = await run('ip', ['-force', '-j', '-batch', '-'], {
      input: missing.map((a) => `route get ${a}\n`).join(''),
      allowFailure: true,
    });
    const answers = batch.stdout.split('\n').filter((l) => l.trim() !== '');
    const failures = failedBatchCommands(batch.stderr);
    if (answers.length + failures.size === missing.length) {
      let next = 0;
      for (const [i, address] of missing.entries()) {
        const error = failures.get(i + 1);
        this.known.set(
          address,
          error === undefined
            ? { route: routeSourceOfJson(answers[next++] as string), error: '' }
            : { route: undefined, error },
        );
      }
      return;
    }
    // The batch stopped short (an argument ip could not parse): look each one up alone to know which, and why.
    for (const address of missing) {
      this.routeProcesses++;
      const one = await run('ip', ['-j', 'route', 'get', address], { allowFailure: true });
      this.known.set(address, {
        route: one.code === 0 ? routeSourceOfJson(one.stdout) : undefined,
        error: routeError(one.stderr),
      });
    }
  }

  /** What `load` found for `address` (no route and no error when it was not looked up). */
  lookup(address: string): RouteLookup {
    return this.known.get(address) ?? { route: undefined, error: '' };
  }

  /** The preferred source of the route towards `address` (after `load`), whatever its type; null when none. */
  sourceOf(address: string): string | null {
    return this.lookup(address).route?.prefsrc ?? null;
  }
}

/**
 * The first route of `ip -j route get` output: its type ("unicast" when ip omits it), its preferred source in
 * canonical text, and that source as the one to use: only for a unicast route (undefined for a local or
 * blackhole route, or without one).
 */
export function routeSourceOfJson(
  json: string,
): { type: string; source: string | undefined; prefsrc: string | undefined } | undefined {
  const route = (JSON.parse(json) as Array<{ prefsrc?: string; type?: string }>)[0];
  if (!route) return undefined;
  const type = route.type ?? 'unicast';
  const prefsrc = route.prefsrc ? canonicalIpAddress(route.prefsrc) : undefined;
  return { type, source: type === 'unicast' ? prefsrc : undefined, prefsrc };
}

const firstLine = (text: string) => text.trim().split('\n')[0] ?? '';

/** "RTNETLINK answers: Network is unreachable" as "Network is unreachable". */
const routeError = (stderr: string) => firstLine(stderr).replace(/^RTNETLINK answers: /, '');

/**
 * The commands of an `ip -force -batch` that failed, by line number (1-based), with ip's reason: each
 * failure is its message lines followed by "Command failed -:N".
 */
export function failedBatchCommands(stderr: string): Map<number, string> {
  const failed = new Map<number, string>();
  let message: string[] = [];
  for (const line of stderr.split('\n')) {
    const marker = /^Command failed -:(\d+)$/.exec(line.trim());
    if (marker) {
      failed.set(Number(marker[1]), routeError(message.join('\n')));
      message = [];
    } else if (line.trim() !== '') {
      message.push(line);
    }
  }
  return failed;
}
