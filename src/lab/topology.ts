import { randomBytes } from 'node:crypto';
import { LbctlError } from '../errors.js';
import { isAlive, run, stop } from '../sys/run.js';

/**
 * Three network namespaces on one machine, for the lab and the end-to-end tests:
 *
 *   client ns ── cli-ID ═══ lbc-ID ── lb ns ── lbb-ID ═══ srv-ID ── backends ns
 *
 * or, with a router between the balancer and the backends (`router`):
 *
 *   client ns ── cli-ID ═══ lbc-ID ── lb ns ── lbb-ID ═══ rtl-ID ── router ns ── rts-ID ═══ srv-ID ── backends ns
 *
 * The lb namespace routes between the client and backend subnets (forwarding on); the datapath attaches
 * at tc ingress on lbc-ID and lbb-ID and intercepts the VIPs, which are routed there by the clients'
 * default routes. Everything is a plain object so a state file, `lab status` and the tests share it.
 */

export const LAB_ADDRESSES = {
  clientNet4: '192.0.2.0/24',
  clientNet6: '2001:db8:c::/64',
  backendNet4: '198.51.100.0/24',
  backendNet6: '2001:db8:b::/64',
  /** Two client addresses per family so tests can make two clients pick the same source port. */
  clients4: ['192.0.2.10', '192.0.2.11'],
  clients6: ['2001:db8:c::10', '2001:db8:c::11'],
  lbClient4: '192.0.2.1',
  lbClient6: '2001:db8:c::1',
  lbBackend4: '198.51.100.1',
  lbBackend6: '2001:db8:b::1',
  /** One address per backend process. */
  backends4: ['198.51.100.2', '198.51.100.3', '198.51.100.4'],
  backends6: ['2001:db8:b::2', '2001:db8:b::3', '2001:db8:b::4'],
  vip4: '203.0.113.10',
  vip6: '2001:db8:f::10',
  /** With a router: the link between the balancer and the router (the router takes .1 on the backends' net). */
  transferLb4: '203.0.113.249',
  transferRouter4: '203.0.113.250',
  transferNet4: '203.0.113.248/30',
  transferLb6: '2001:db8:e::1',
  transferRouter6: '2001:db8:e::2',
  transferNet6: '2001:db8:e::/64',
} as const;

export const DEFAULT_LAB_PREFIX = 'lbctl-lab';

export interface TopologyOptions {
  /** Namespace name prefix; namespaces are `${prefix}-${id}-{cli,lb,srv}`. Default `lbctl-lab`. */
  prefix?: string;
  /** 8 hex characters; random by default. */
  id?: string;
  /** MTU for every veth end (1280..65535); default: the kernel's (1500). */
  mtu?: number;
  /** false: `ethtool -K IF tx off` on all veths, so packets carry full checksums (CHECKSUM_NONE path). */
  txChecksum?: boolean;
  /** TCP timestamps / SACK in the client namespace (per-netns sysctls); default: the kernel's (on). */
  tcpTimestamps?: boolean;
  tcpSack?: boolean;
  /**
   * A router namespace between the balancer and the backends whose routes (both ways) carry a locked MTU
   * of `mtu` (1280..65535): every link keeps its MTU, so the endpoints' MSS does not see the smaller one and
   * only path MTU discovery (ICMP fragmentation needed / packet too big from the router) finds it.
   */
  router?: { mtu: number };
}

export interface Topology {
  /** `${prefix}-${id}`: what `destroyTopology` and `listTopologies` work with. */
  name: string;
  prefix: string;
  id: string;
  ns: { client: string; lb: string; backends: string; router?: string };
  ifaces: {
    /** In the client ns, facing the balancer. */
    client: string;
    /** In the lb ns, facing the client (attach tc ingress here for client→VIP traffic). */
    lbClient: string;
    /** In the lb ns, facing the backends (tc ingress here for backend→client traffic). */
    lbBackend: string;
    /** In the backends ns, facing the balancer (or the router). */
    backends: string;
    /** With a router: its interfaces facing the balancer and the backends. */
    routerLb?: string;
    routerBackends?: string;
  };
  client: { ipv4: string[]; ipv6: string[]; gateway4: string; gateway6: string };
  lb: { client4: string; client6: string; backend4: string; backend6: string };
  backends: { ipv4: string[]; ipv6: string[]; gateway4: string; gateway6: string };
  vip: { ipv4: string; ipv6: string };
  /** With a router: its path MTU and its addresses towards the balancer. */
  router?: { mtu: number; lb4: string; lb6: string };
  mtu: number | undefined;
  txChecksum: boolean;
  tcpTimestamps: boolean;
  tcpSack: boolean;
}

const ROLE_SUFFIXES = ['cli', 'lb', 'srv', 'rtr'] as const;
const PREFIX_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$/;
const ID_RE = /^[0-9a-f]{8}$/;

function checkPrefix(prefix: string): void {
  if (!PREFIX_RE.test(prefix)) {
    throw new LbctlError(
      'USAGE',
      `invalid lab prefix: ${prefix}`,
      'use up to 40 letters, digits, dots, dashes or underscores',
    );
  }
}

/** The names a topology would get, without creating anything. */
export function planTopology(opts: TopologyOptions = {}): Topology {
  const prefix = opts.prefix ?? DEFAULT_LAB_PREFIX;
  checkPrefix(prefix);
  const id = opts.id ?? randomBytes(4).toString('hex');
  if (!ID_RE.test(id))
    throw new LbctlError('USAGE', `invalid lab id: ${id}`, 'use 8 lowercase hex characters');
  for (const mtu of [opts.mtu, opts.router?.mtu]) {
    if (mtu !== undefined && (!Number.isInteger(mtu) || mtu < 1280 || mtu > 65535)) {
      throw new LbctlError('USAGE', `invalid MTU: ${mtu}`, 'use 1280..65535 (IPv6 needs at least 1280)');
    }
  }
  const name = `${prefix}-${id}`;
  const a = LAB_ADDRESSES;
  const routed = opts.router !== undefined;
  return {
    name,
    prefix,
    id,
    ns: {
      client: `${name}-cli`,
      lb: `${name}-lb`,
      backends: `${name}-srv`,
      ...(routed ? { router: `${name}-rtr` } : {}),
    },
    // Names are per namespace, but carrying the id keeps tc/bpftool output and captures of concurrent
    // labs unambiguous; 4 + 8 characters stays under the 15-character limit.
    ifaces: {
      client: `cli-${id}`,
      lbClient: `lbc-${id}`,
      lbBackend: `lbb-${id}`,
      backends: `srv-${id}`,
      ...(routed ? { routerLb: `rtl-${id}`, routerBackends: `rts-${id}` } : {}),
    },
    client: { ipv4: [...a.clients4], ipv6: [...a.clients6], gateway4: a.lbClient4, gateway6: a.lbClient6 },
    lb: {
      client4: a.lbClient4,
      client6: a.lbClient6,
      backend4: routed ? a.transferLb4 : a.lbBackend4,
      backend6: routed ? a.transferLb6 : a.lbBackend6,
    },
    backends: {
      ipv4: [...a.backends4],
      ipv6: [...a.backends6],
      gateway4: a.lbBackend4,
      gateway6: a.lbBackend6,
    },
    vip: { ipv4: a.vip4, ipv6: a.vip6 },
    ...(opts.router
      ? { router: { mtu: opts.router.mtu, lb4: a.transferRouter4, lb6: a.transferRouter6 } }
      : {}),
    mtu: opts.mtu,
    txChecksum: opts.txChecksum ?? true,
    tcpTimestamps: opts.tcpTimestamps ?? true,
    tcpSack: opts.tcpSack ?? true,
  };
}

const ip = (netns: string, ...args: string[]) => run('ip', ['-n', netns, ...args]);
const sysctl = (netns: string, ...settings: string[]) => run('sysctl', ['-q', '-w', ...settings], { netns });

/**
 * Create the three namespaces, veths, addresses, routes and options. If any step fails, whatever was
 * created is removed before the error propagates.
 */
export async function createTopology(opts: TopologyOptions = {}): Promise<Topology> {
  const t = planTopology(opts);
  const existing = await listNamespaces();
  for (const ns of Object.values(t.ns)) {
    if (existing.includes(ns)) {
      throw new LbctlError('CONFLICT', `network namespace already exists: ${ns}`, `run lbctl lab down first`);
    }
  }
  try {
    await build(t);
  } catch (err) {
    await destroyTopology(t).catch(() => undefined);
    throw err;
  }
  return t;
}

async function build(t: Topology): Promise<void> {
  for (const ns of Object.values(t.ns)) {
    await run('ip', ['netns', 'add', ns]);
    // DAD would keep the IPv6 addresses tentative (unusable) for a second or two; `default` covers the
    // veths created below, `all` the addresses added later.
    await sysctl(ns, 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0');
    await ip(ns, 'link', 'set', 'lo', 'up');
  }
  const { ns, ifaces } = t;
  const veth = (a: [string, string], b: [string, string]) =>
    run('ip', ['link', 'add', a[1], 'netns', a[0], 'type', 'veth', 'peer', 'name', b[1], 'netns', b[0]]);
  await veth([ns.client, ifaces.client], [ns.lb, ifaces.lbClient]);
  if (ns.router && ifaces.routerLb && ifaces.routerBackends) {
    await veth([ns.lb, ifaces.lbBackend], [ns.router, ifaces.routerLb]);
    await veth([ns.router, ifaces.routerBackends], [ns.backends, ifaces.backends]);
  } else {
    await veth([ns.lb, ifaces.lbBackend], [ns.backends, ifaces.backends]);
  }

  await sysctl(ns.lb, 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1');

  const addrs: Array<[string, string, string]> = [
    ...t.client.ipv4.map((a): [string, string, string] => [ns.client, ifaces.client, `${a}/24`]),
    ...t.client.ipv6.map((a): [string, string, string] => [ns.client, ifaces.client, `${a}/64`]),
    [ns.lb, ifaces.lbClient, `${t.lb.client4}/24`],
    [ns.lb, ifaces.lbClient, `${t.lb.client6}/64`],
    [ns.lb, ifaces.lbBackend, `${t.lb.backend4}/${t.router ? 30 : 24}`],
    [ns.lb, ifaces.lbBackend, `${t.lb.backend6}/64`],
    ...t.backends.ipv4.map((a): [string, string, string] => [ns.backends, ifaces.backends, `${a}/24`]),
    ...t.backends.ipv6.map((a): [string, string, string] => [ns.backends, ifaces.backends, `${a}/64`]),
  ];
  for (const [netns, dev, cidr] of addrs) {
    await ip(netns, 'addr', 'add', cidr, 'dev', dev, ...(cidr.includes(':') ? ['nodad'] : []));
  }

  for (const [netns, dev, cidr] of routerAddresses(t)) {
    await ip(netns, 'addr', 'add', cidr, 'dev', dev, ...(cidr.includes(':') ? ['nodad'] : []));
  }

  for (const [netns, dev] of vethEnds(t)) {
    if (t.mtu !== undefined) await ip(netns, 'link', 'set', dev, 'mtu', String(t.mtu));
    if (!t.txChecksum) await run('ethtool', ['-K', dev, 'tx', 'off'], { netns });
    await ip(netns, 'link', 'set', dev, 'up');
  }

  // With two addresses per family, IPv6 source selection would pick either (in practice the newest), so
  // the default routes name the first address as the source; binding the second still works.
  const [src4, src6] = [t.client.ipv4[0] as string, t.client.ipv6[0] as string];
  await ip(ns.client, 'route', 'add', 'default', 'via', t.client.gateway4, 'src', src4);
  await ip(ns.client, '-6', 'route', 'add', 'default', 'via', t.client.gateway6, 'src', src6);
  // The backends answer through the balancer, which is what dnat mode relies on.
  await ip(ns.backends, 'route', 'add', 'default', 'via', t.backends.gateway4);
  await ip(ns.backends, '-6', 'route', 'add', 'default', 'via', t.backends.gateway6);
  if (t.router) await routeThroughRouter(t, t.router);

  await setClientTcpOptions(t, { timestamps: t.tcpTimestamps, sack: t.tcpSack });
}

/** The router's addresses: towards the balancer, and the backends' gateway addresses on their side. */
function routerAddresses(t: Topology): Array<[string, string, string]> {
  const { ns, ifaces } = t;
  if (!t.router || !ns.router || !ifaces.routerLb || !ifaces.routerBackends) return [];
  return [
    [ns.router, ifaces.routerLb, `${t.router.lb4}/30`],
    [ns.router, ifaces.routerLb, `${t.router.lb6}/64`],
    [ns.router, ifaces.routerBackends, `${t.backends.gateway4}/24`],
    [ns.router, ifaces.routerBackends, `${t.backends.gateway6}/64`],
  ];
}

/**
 * The balancer reaches the backends through the router, and the router everything else through the
 * balancer. The router's routes carry a locked MTU, which the kernel's forwarding honours (IPv4 and IPv6)
 * with fragmentation-needed / packet-too-big errors to the sender.
 */
async function routeThroughRouter(t: Topology, router: NonNullable<Topology['router']>): Promise<void> {
  const { ns, ifaces } = t;
  if (!ns.router || !ifaces.routerBackends) return;
  const a = LAB_ADDRESSES;
  const mtu = ['mtu', 'lock', String(router.mtu)];
  await ip(ns.lb, 'route', 'add', a.backendNet4, 'via', router.lb4);
  await ip(ns.lb, '-6', 'route', 'add', a.backendNet6, 'via', router.lb6);
  await sysctl(ns.router, 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1');
  await ip(ns.router, 'route', 'add', 'default', 'via', t.lb.backend4, ...mtu);
  await ip(ns.router, '-6', 'route', 'add', 'default', 'via', t.lb.backend6, ...mtu);
  const dev = ifaces.routerBackends;
  await ip(ns.router, 'route', 'replace', a.backendNet4, 'dev', dev, 'src', t.backends.gateway4, ...mtu);
  await ip(ns.router, '-6', 'route', 'replace', a.backendNet6, 'dev', dev, 'metric', '256', ...mtu);
}

/** Turn TCP timestamps and SACK on or off for connections the client namespace opens. */
export async function setClientTcpOptions(
  t: Topology,
  opts: { timestamps?: boolean; sack?: boolean },
): Promise<void> {
  const settings: string[] = [];
  if (opts.timestamps !== undefined) settings.push(`net.ipv4.tcp_timestamps=${opts.timestamps ? 1 : 0}`);
  if (opts.sack !== undefined) settings.push(`net.ipv4.tcp_sack=${opts.sack ? 1 : 0}`);
  if (settings.length > 0) await sysctl(t.ns.client, ...settings);
  if (opts.timestamps !== undefined) t.tcpTimestamps = opts.timestamps;
  if (opts.sack !== undefined) t.tcpSack = opts.sack;
}

/**
 * Which veth ends a setting applies to: all of them (the router's too), the balancer's two, or the client's and the backends'
 * (the ends where traffic starts and ends).
 */
export type VethEnds = 'all' | 'balancer' | 'hosts';

/**
 * Switch tx checksum offload (off = the sender computes full checksums). Off on the balancer's ends
 * alone makes the kernel complete partial checksums as packets leave the balancer (skb_checksum_help, as a
 * NIC would), so the receivers see, and verify, what the datapath's incremental updates produced.
 */
export async function setTxChecksum(t: Topology, on: boolean, ends: VethEnds = 'all'): Promise<void> {
  for (const [netns, dev] of vethEnds(t, ends))
    await run('ethtool', ['-K', dev, 'tx', on ? 'on' : 'off'], { netns });
  if (ends === 'all') t.txChecksum = on;
}

/** Switch TCP segmentation offload and GSO (off = every packet the stack sends is one TCP segment). */
export async function setSegmentationOffload(
  t: Topology,
  on: boolean,
  ends: VethEnds = 'all',
): Promise<void> {
  const state = on ? 'on' : 'off';
  for (const [netns, dev] of vethEnds(t, ends))
    await run('ethtool', ['-K', dev, 'tso', state, 'gso', state], { netns });
}

/** Set the MTU on every veth end. */
export async function setMtu(t: Topology, mtu: number): Promise<void> {
  planTopology({ prefix: t.prefix, id: t.id, mtu });
  for (const [netns, dev] of vethEnds(t)) await ip(netns, 'link', 'set', dev, 'mtu', String(mtu));
  t.mtu = mtu;
}

function vethEnds(t: Topology, ends: VethEnds = 'all'): Array<[string, string]> {
  const balancer: Array<[string, string]> = [
    [t.ns.lb, t.ifaces.lbClient],
    [t.ns.lb, t.ifaces.lbBackend],
  ];
  const hosts: Array<[string, string]> = [
    [t.ns.client, t.ifaces.client],
    [t.ns.backends, t.ifaces.backends],
  ];
  const { router } = t.ns;
  const routerEnds: Array<[string, string]> =
    router && t.ifaces.routerLb && t.ifaces.routerBackends
      ? [
          [router, t.ifaces.routerLb],
          [router, t.ifaces.routerBackends],
        ]
      : [];
  if (ends === 'balancer') return balancer;
  if (ends === 'hosts') return hosts;
  return [hosts[0] as [string, string], ...balancer, ...routerEnds, hosts[1] as [string, string]];
}

/**
 * The topology a name from `listTopologies` stands for (names, interfaces, addresses). Options such as
 * MTU are not recorded in the kernel's names, so they come back as defaults: keep the object from
 * `createTopology` (e.g. in a state file) when they matter.
 */
export function topologyFromName(name: string): Topology {
  const m = /^(.+)-([0-9a-f]{8})$/.exec(name);
  if (!m?.[1] || !m[2])
    throw new LbctlError('USAGE', `not a lab topology name: ${name}`, 'see lbctl lab status');
  return planTopology({ prefix: m[1], id: m[2] });
}

/** Names of all network namespaces (`ip netns list`). */
export async function listNamespaces(): Promise<string[]> {
  const res = await run('ip', ['netns', 'list']);
  return res.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter(Boolean);
}

/** PIDs of the processes whose network namespace is `netns` (empty if it does not exist). */
export async function namespacePids(netns: string): Promise<number[]> {
  const res = await run('ip', ['netns', 'pids', netns], { allowFailure: true });
  if (res.code !== 0) return [];
  return res.stdout
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((n) => Number.isInteger(n) && n > 1);
}

export interface DestroyOptions {
  /**
   * Stop (SIGTERM, then SIGKILL) processes still running inside the namespaces first; default true.
   * A process left there would keep the namespace alive after its name is gone. The namespaces carry a
   * unique name, so whatever runs in them was started by the lab or the test that made them.
   */
  stopProcesses?: boolean;
}

/**
 * Remove the topology's namespaces (which removes their veths). Accepts the object or its name; safe to
 * call twice and after a partial create.
 */
export async function destroyTopology(t: Topology | string, opts: DestroyOptions = {}): Promise<void> {
  const name = typeof t === 'string' ? t : t.name;
  const wanted = new Set(ROLE_SUFFIXES.map((r) => `${name}-${r}`));
  const present = (await listNamespaces()).filter((ns) => wanted.has(ns));
  const errors: unknown[] = [];
  for (const ns of present) {
    try {
      if (opts.stopProcesses ?? true) {
        const pids = await namespacePids(ns);
        await Promise.all(pids.map((pid) => stop(pid, { graceMs: 2_000 })));
      }
      await run('ip', ['netns', 'del', ns]);
    } catch (err) {
      // Keep going: a failure on one namespace must not leave the others behind.
      if ((await listNamespaces()).includes(ns)) errors.push(err);
    }
  }
  if (errors.length > 0) throw errors[0];
}

/** Topology names (`${prefix}-${id}`) that have at least one namespace left, e.g. after a crash. */
export async function listTopologies(prefix: string = DEFAULT_LAB_PREFIX): Promise<string[]> {
  checkPrefix(prefix);
  const re = new RegExp(`^(${escapeRegExp(prefix)}-[0-9a-f]{8})-(?:${ROLE_SUFFIXES.join('|')})$`);
  const names = new Set<string>();
  for (const ns of await listNamespaces()) {
    const m = re.exec(ns);
    if (m?.[1]) names.add(m[1]);
  }
  return [...names].sort();
}

/** Destroy every topology with this prefix; returns the names removed. */
export async function destroyTopologies(prefix: string = DEFAULT_LAB_PREFIX): Promise<string[]> {
  const names = await listTopologies(prefix);
  for (const name of names) await destroyTopology(name);
  return names;
}

/** Processes still running in any of the topology's namespaces (for "nothing left behind" checks). */
export async function topologyPids(t: Topology): Promise<number[]> {
  const all = await Promise.all(Object.values(t.ns).map((ns) => namespacePids(ns)));
  return all.flat().filter((pid) => isAlive(pid));
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
