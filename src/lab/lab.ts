import { readFileSync, rmdirSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { withNetns } from '../bpf/netns.js';
import { attachInterfaces, detachInterfaces } from '../core/attach.js';
import { parseEndpoint } from '../core/endpoint.js';
import { resolveInstance } from '../core/instance.js';
import { DatapathMaps } from '../core/maps.js';
import { parseBackend, parsePpv2Options, type ServiceSpec } from '../core/service-spec.js';
import { addService } from '../core/services.js';
import { snatFor } from '../core/snat.js';
import { loadState, saveState, withInstanceLock } from '../core/state-file.js';
import { conflictError, LbctlError, notFoundError, PERMISSION_HINT } from '../errors.js';
import { hostPort } from '../host-port.js';
import { writeJsonAtomic } from '../sys/json-file.js';
import { isAlive, stop } from '../sys/run.js';
import { curlFrom } from './curl.js';
import { startHaproxy } from './haproxy.js';
import { startNginx } from './nginx.js';
import { createTopology, destroyTopologies, destroyTopology, type Topology } from './topology.js';
import { digFrom, queryClients, startUnbound, unboundLogFile } from './unbound.js';

/**
 * `lbctl lab`: a self-contained demo on one machine. Namespaces for a client, the balancer (lbctl attached
 * on both of its interfaces) and backends (two nginx with `proxy_protocol`, one HAProxy with
 * `accept-proxy`, one unbound reading PPv2 on every UDP query), plus IPv4 and IPv6 services with PPv2 (TCP,
 * and UDP for DNS). Everything it starts is recorded in a state file
 * so `lab down` stops exactly those processes and removes exactly those namespaces.
 */
export const LAB_PREFIX = 'lbctl-lab';
const LAB_FILE = join(process.env.LBCTL_STATE_ROOT ?? '/run/lbctl', 'lab.json');

export interface LabProcess {
  role: string;
  pid: number;
  startTime: number;
  dir: string;
  addresses: string[];
}

export interface LabServiceInfo {
  name: string;
  vip: string;
  backends: string[];
  receiver: 'nginx' | 'haproxy' | 'unbound';
  tlvs: string[];
  /** Default TCP. */
  protocol?: 'udp';
}

export interface LabState {
  topology: Topology;
  processes: LabProcess[];
  services: LabServiceInfo[];
  createdAt: string;
}

/** The lab's state file, undefined when the lab is down; a file this process may not read is PERMISSION. */
export function readLab(): LabState | undefined {
  try {
    return JSON.parse(readFileSync(LAB_FILE, 'utf8')) as LabState;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') {
      throw new LbctlError('PERMISSION', `cannot read the lab's state ${LAB_FILE}: ${code}`, PERMISSION_HINT);
    }
    return undefined;
  }
}

export async function labUp(): Promise<LabState> {
  const existing = readLab();
  if (existing) {
    throw conflictError(
      `the lab is already up (${existing.topology.name})`,
      'see lbctl lab status, or run lbctl lab down first',
    );
  }
  const topology = await createTopology({ prefix: LAB_PREFIX });
  const lab: LabState = { topology, processes: [], services: [], createdAt: new Date().toISOString() };
  try {
    // createTopology always makes three backends per family.
    const [be1 = '', be2 = '', be3 = ''] = topology.backends.ipv4;
    const [be1v6 = '', be2v6 = '', be3v6 = ''] = topology.backends.ipv6;
    const starts = [
      ['nginx-1', [be1, be1v6]],
      ['nginx-2', [be2, be2v6]],
    ] as const;
    for (const [role, addresses] of starts) {
      const nginx = await startNginx({
        netns: topology.ns.backends,
        addresses: [...addresses] as string[],
        detached: true,
      });
      lab.processes.push({
        role,
        pid: nginx.pid,
        startTime: nginx.startTime,
        dir: nginx.dir,
        addresses: nginx.addresses,
      });
    }
    const haproxy = await startHaproxy({
      netns: topology.ns.backends,
      addresses: [be3, be3v6],
      detached: true,
    });
    lab.processes.push({
      role: 'haproxy',
      pid: haproxy.pid,
      startTime: haproxy.startTime,
      dir: haproxy.dir,
      addresses: haproxy.addresses,
    });
    const unbound = await startUnbound({
      netns: topology.ns.backends,
      addresses: [be1, be1v6],
      // unbound checks the socket peer (the balancer's SNAT address) and then the client the header names
      allow: [topology.lb.backend4, topology.lb.backend6, ...topology.client.ipv4, ...topology.client.ipv6],
      detached: true,
    });
    lab.processes.push({
      role: 'unbound',
      pid: unbound.pid,
      startTime: unbound.startTime,
      dir: unbound.dir,
      addresses: unbound.addresses,
    });

    const v4 = topology.vip.ipv4;
    const v6 = topology.vip.ipv6;
    lab.services = [
      {
        name: 'web4',
        vip: hostPort(v4, 80),
        backends: [hostPort(be1, 80), hostPort(be2, 80)],
        receiver: 'nginx',
        tlvs: ['unique-id'],
      },
      {
        name: 'web6',
        vip: hostPort(v6, 80),
        backends: [hostPort(be1v6, 80), hostPort(be2v6, 80)],
        receiver: 'nginx',
        tlvs: ['unique-id'],
      },
      {
        name: 'haproxy4',
        vip: hostPort(v4, 81),
        backends: [hostPort(be3, 80)],
        receiver: 'haproxy',
        tlvs: ['unique-id', 'crc32c'],
      },
      {
        name: 'haproxy6',
        vip: hostPort(v6, 81),
        backends: [hostPort(be3v6, 80)],
        receiver: 'haproxy',
        tlvs: ['unique-id', 'crc32c'],
      },
      {
        name: 'dns4',
        vip: hostPort(v4, 53),
        backends: [hostPort(be1, 53)],
        receiver: 'unbound',
        tlvs: ['unique-id', 'crc32c'],
        protocol: 'udp',
      },
      {
        name: 'dns6',
        vip: hostPort(v6, 53),
        backends: [hostPort(be1v6, 53)],
        receiver: 'unbound',
        tlvs: ['unique-id', 'crc32c'],
        protocol: 'udp',
      },
    ];
    await configureBalancer(topology, lab.services);
    writeJsonAtomic(LAB_FILE, lab);
    return lab;
  } catch (err) {
    await teardown(lab).catch(() => undefined);
    throw err;
  }
}

async function configureBalancer(topology: Topology, services: readonly LabServiceInfo[]): Promise<void> {
  const instance = resolveInstance(topology.ns.lb);
  await withNetns(topology.ns.lb, () =>
    withInstanceLock(instance, async () => {
      attachInterfaces(instance, [topology.ifaces.lbClient, topology.ifaces.lbBackend]);
      const maps = DatapathMaps.open(instance);
      try {
        const state = loadState(instance);
        for (const service of services) {
          const spec: ServiceSpec = {
            name: service.name,
            vip: parseEndpoint(service.vip),
            protocol: service.protocol,
            mode: 'fullnat',
            backends: service.backends.map(parseBackend),
            ppv2: { enabled: true, ...parsePpv2Options(service.tlvs) },
          };
          addService(maps, state, spec, await snatFor(spec, undefined));
        }
        saveState(instance, state);
      } finally {
        maps.close();
      }
    }),
  );
}

export interface DemoRow {
  service: string;
  vip: string;
  client: string;
  backend: string;
  backendSawClient: string;
  backendPeer: string;
  uniqueId: string;
}

/** One request per service from the client namespace; each backend says who it thinks connected. */
export async function labDemo(lab: LabState): Promise<DemoRow[]> {
  const rows: DemoRow[] = [];
  for (const service of lab.services) {
    if (service.receiver === 'unbound') {
      rows.push(await dnsDemo(lab, service));
      continue;
    }
    const res = await curlFrom(lab.topology.ns.client, `http://${service.vip}/whoami`, [], 5);
    const view = JSON.parse(res.body) as Record<string, string>;
    const client = hostPort(res.localIp, res.localPort);
    rows.push(
      service.receiver === 'nginx'
        ? {
            service: service.name,
            vip: service.vip,
            client,
            backend: seen(view.server_addr, view.server_port),
            backendSawClient: seen(view.proxy_protocol_addr, view.proxy_protocol_port),
            backendPeer: seen(view.remote_addr, view.remote_port),
            uniqueId: '-',
          }
        : {
            service: service.name,
            vip: service.vip,
            client,
            backend: seen(view.fc_dst, view.fc_dst_port),
            backendSawClient: seen(view.src, view.src_port),
            backendPeer: seen(view.fc_src, view.fc_src_port),
            uniqueId: view.pp_unique_id ?? '-',
          },
    );
  }
  return rows;
}

/**
 * One DNS query over UDP from the client namespace; unbound logs the client the PPv2 header named (an address:
 * it logs no port, and dig prints none).
 */
async function dnsDemo(lab: LabState, service: LabServiceInfo): Promise<DemoRow> {
  const vip = parseEndpoint(service.vip);
  const t = lab.topology;
  const source = (vip.family === 4 ? t.client.ipv4[0] : t.client.ipv6[0]) ?? '';
  const answer = await digFrom(t.ns.client, vip.address, vip.port, source);
  const dir = lab.processes.find((p) => p.role === 'unbound')?.dir;
  const log = dir ? await readFile(unboundLogFile(dir), 'utf8').catch(() => '') : '';
  const sawClient = answer.status === 'NOERROR' ? queryClients(log).pop() : undefined;
  return {
    service: service.name,
    vip: service.vip,
    client: source,
    backend: service.backends[0] ?? '-',
    backendSawClient: sawClient ?? `- (${answer.status ?? 'no answer'})`,
    backendPeer: '-',
    uniqueId: '-',
  };
}

/** A backend's view of an endpoint; '-' where the backend reported none. */
function seen(addr: string | undefined, port: string | number | undefined): string {
  return addr ? hostPort(addr, port ?? '') : '-';
}

export interface LabHealth {
  processes: Array<LabProcess & { alive: boolean }>;
  attached: boolean;
}

export function labHealth(lab: LabState): LabHealth {
  return {
    processes: lab.processes.map((p) => ({ ...p, alive: isAlive(p.pid, p.startTime) })),
    attached: DatapathMaps.exists(resolveInstance(lab.topology.ns.lb)),
  };
}

/** Stop the lab's processes by PID, detach, remove its namespaces, files and pinned maps. */
export async function labDown(): Promise<{ removed: string[] }> {
  const lab = readLab();
  if (!lab) {
    // No record: clean up leftovers of a lab whose state file was lost (only lbctl-lab-* namespaces).
    const removed = await destroyTopologies(LAB_PREFIX);
    if (removed.length === 0) throw notFoundError('no lab is up', 'start one with: lbctl lab up');
    return { removed };
  }
  await teardown(lab);
  rmSync(LAB_FILE, { force: true });
  removeDirIfEmpty(dirname(LAB_FILE));
  return { removed: [lab.topology.name] };
}

async function teardown(lab: LabState): Promise<void> {
  for (const p of lab.processes) {
    await stop(p.pid, { startTime: p.startTime });
    rmSync(p.dir, { recursive: true, force: true });
  }
  const instance = resolveInstance(lab.topology.ns.lb);
  if (DatapathMaps.exists(instance)) {
    await withNetns(lab.topology.ns.lb, () =>
      // Its clients and backends are about to go with their namespaces: nobody is left to reset.
      withInstanceLock(instance, () => detachInterfaces(instance, { all: true }, { drainTimeoutMs: 0 })),
    );
  }
  await destroyTopology(lab.topology);
}

function removeDirIfEmpty(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // Not empty (a balancer instance keeps state there) or already gone.
  }
}
