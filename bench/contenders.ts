/**
 * The contenders, all in the balancer namespace in front of the same backends:
 *  - lbctl, driven through its CLI (attach, three services, detach), one datapath for three services;
 *  - HAProxy in `mode tcp` with `send-proxy-v2` and one thread per core;
 *  - nginx `stream` with `proxy_protocol on` (nginx sends PROXY v1; it has no v2 sender) and one worker
 *    per core;
 *  - plain routed forwarding: the client connects to an address both plain backends listen on with
 *    `reuseport` (PLAIN_SHARED_ADDRESS), the balancer namespace only routes, and the backends' kernel spreads
 *    the connections between the two per connection, as a balancer would.
 */
import { access, copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Counters } from '../src/bpf/records.js';
import { resolveInstance } from '../src/core/instance.js';
import { DatapathMaps } from '../src/core/maps.js';
import { readCounters } from '../src/core/stats.js';
import { hostPort } from '../src/host-port.js';
import { type Daemon, type DaemonOptions, run, spawnDaemon } from '../src/sys/run.js';
import type { Cleanup } from './cleanup.js';
import {
  countHeldConnections,
  type HeldConnectionTarget,
  holdConnections,
  releaseConnections,
} from './held-connections.js';
import {
  BENCH_VIPS,
  type BenchLab,
  LBCTL_SNAT_ADDRESS,
  PLAIN_PORT,
  PLAIN_SHARED_ADDRESS,
  PPV2_PORT,
} from './lab.js';
import {
  type ConntrackTableSpec,
  type ContenderId,
  type ContenderSpec,
  contenderSpec,
  type ScenarioSpec,
  SUBJECT,
} from './plan.js';

const sameTable = (a: ConntrackTableSpec | undefined, b: ConntrackTableSpec | undefined) =>
  a?.maxConnections === b?.maxConnections && a?.heldConnections === b?.heldConnections;

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const LBCTL_BIN = join(REPO_ROOT, 'bin/run.js');
const NGINX_STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';

/** The URL wrk loads for one scenario. */
export function targetUrl(spec: ContenderSpec, scenario: Pick<ScenarioSpec, 'path'>): string {
  const path = scenario.path;
  switch (spec.serviceOf ?? spec.id) {
    case 'lbctl-fullnat-ppv2':
      return `http://${BENCH_VIPS.lbctlFullnatPpv2}${path}`;
    case 'lbctl-fullnat':
      return `http://${BENCH_VIPS.lbctlFullnat}${path}`;
    case 'lbctl-dnat-ppv2':
      return `http://${BENCH_VIPS.lbctlDnatPpv2}${path}`;
    case 'haproxy':
      return `http://${BENCH_VIPS.haproxy}${path}`;
    case 'nginx-stream':
      return `http://${BENCH_VIPS.nginxStream}${path}`;
    case 'plain':
      return `http://${hostPort(PLAIN_SHARED_ADDRESS, PLAIN_PORT)}${path}`;
    default:
      throw new Error(`${spec.id}: no address to load`);
  }
}

/** Whether the contender's backends are the PROXY-reading nginx instances. */
export function usesPpv2Backends(spec: ContenderSpec): boolean {
  return spec.proxyHeader !== null;
}

// ---------------------------------------------------------------------------------------------------------
// lbctl

export interface LbctlService {
  contender: ContenderId;
  id: number;
  key: string;
  /** What held connections claim to belong to (bench/held-connections.ts). */
  heldTarget: HeldConnectionTarget;
}

/** The fields of `service add --json` the benchmark uses. */
interface ServiceAddView {
  id: number;
  key: string;
  vip: string;
  port: number;
  ppv2: { headerBytes: number };
  backends: Array<{ id: number; address: string; port: number }>;
}

function heldTargetOf(view: ServiceAddView): HeldConnectionTarget {
  const backend = view.backends[0];
  if (!backend) throw new Error(`service ${view.key} has no backend`);
  return {
    serviceId: view.id,
    vip: view.vip,
    port: view.port,
    backendId: backend.id,
    backendAddress: backend.address,
    backendPort: backend.port,
    headerBytes: view.ppv2.headerBytes,
  };
}

/**
 * lbctl in the balancer namespace. The datapath object is copied at start, so a rebuild of bpf/build during
 * the run cannot change what is measured half way.
 */
export class LbctlBalancer {
  services: LbctlService[] = [];
  /** absent: nothing of lbctl exists; attached: filters on both interfaces, maps and services in place. */
  state: 'absent' | 'attached' = 'absent';
  /** The attached conntrack table when it is not the default one, with its held connections in place. */
  table: ConntrackTableSpec | undefined;

  private constructor(
    private readonly lab: BenchLab,
    readonly objectPath: string,
  ) {}

  static async create(
    lab: BenchLab,
    cleanup: Cleanup,
    source = process.env.LBCTL_BPF_OBJECT ?? join(REPO_ROOT, 'bpf/build/lbctl.bpf.o'),
    copyName = 'lbctl.bpf.o',
  ): Promise<LbctlBalancer> {
    await mkdir(lab.workDir, { recursive: true });
    const objectPath = join(lab.workDir, copyName);
    await copyFile(source, objectPath);
    const lb = new LbctlBalancer(lab, objectPath);
    // Registered before the first attach: even a half-done attach is undone.
    cleanup.add('lbctl detach --all', () => lb.remove());
    return lb;
  }

  get attached(): boolean {
    return this.state === 'attached';
  }

  get netns(): string {
    return this.lab.topo.ns.lb;
  }

  /** `lbctl --netns <lb> ARGS --json`, parsed. */
  async cli<T>(args: string[]): Promise<T> {
    const res = await run(process.execPath, [LBCTL_BIN, '--netns', this.netns, ...args, '--json'], {
      env: { ...process.env, LBCTL_BPF_OBJECT: this.objectPath, NO_COLOR: '1' },
      timeoutMs: 60_000,
    });
    return JSON.parse(res.stdout) as T;
  }

  /**
   * Make lbctl what `spec` is measured on (the attach with its table, or nothing for another contender's
   * run), attaching anew only when that changes.
   */
  async prepareFor(spec: ContenderSpec): Promise<void> {
    if (spec.kind !== 'lbctl') return this.remove();
    // Attached with the TCP services (not just for the UDP scenario's) and the table this contender wants.
    if (this.attached && this.services.length > 0 && sameTable(this.table, spec.table)) return;
    await this.remove();
    await this.setUp(spec.table);
  }

  /** Attach to both balancer interfaces and add the three services; then fill a non-default table. */
  async setUp(table?: ConntrackTableSpec): Promise<void> {
    const { backends } = this.lab;
    await this.attach(table);
    const ppv2Backends = backends.flatMap((b) => ['--backend', hostPort(b.address, PPV2_PORT)]);
    const plainBackends = backends.flatMap((b) => ['--backend', hostPort(b.address, PLAIN_PORT)]);
    const defs: Array<[ContenderId, string, string[]]> = [
      [
        'lbctl-fullnat-ppv2',
        BENCH_VIPS.lbctlFullnatPpv2,
        [...ppv2Backends, '--ppv2', '--snat', LBCTL_SNAT_ADDRESS],
      ],
      ['lbctl-fullnat', BENCH_VIPS.lbctlFullnat, [...plainBackends, '--snat', LBCTL_SNAT_ADDRESS]],
      ['lbctl-dnat-ppv2', BENCH_VIPS.lbctlDnatPpv2, [...ppv2Backends, '--ppv2', '--mode', 'dnat']],
    ];
    // Concurrent CLI calls: lbctl serialises them with its instance lock; what overlaps is Node's start-up.
    this.services = await Promise.all(
      defs.map(async ([contender, vip, flags]) => {
        const view = await this.cli<ServiceAddView>([
          ...['service', 'add', `${vip}:${PPV2_PORT}`, ...flags, '--name', `bench-${contender.slice(6)}`],
        ]);
        return { contender, id: view.id, key: view.key, heldTarget: heldTargetOf(view) };
      }),
    );
    if (table) {
      this.withMaps((maps) => holdConnections(maps, table.heldConnections, this.heldTarget()));
      this.table = table;
    }
  }

  /** Attach to both balancer interfaces, with no service yet. */
  async attach(table?: ConntrackTableSpec): Promise<void> {
    this.state = 'attached';
    const size = table ? ['--max-connections', String(table.maxConnections)] : [];
    await this.cli(['attach', this.lab.topo.ifaces.lbClient, this.lab.topo.ifaces.lbBackend, ...size]);
  }

  /** Remove everything lbctl created: held connections, filters, qdiscs, pinned maps, state. */
  async remove(): Promise<void> {
    if (this.state === 'absent') return;
    const table = this.table;
    if (table) this.withMaps((maps) => releaseConnections(maps, table.heldConnections, this.heldTarget()));
    this.table = undefined;
    await this.cli(['detach', '--all']);
    this.state = 'absent';
    this.services = [];
  }

  /** How many of the attached table's held connections are still in it (0 without a held table). */
  heldConnections(): number {
    const table = this.table;
    if (!table) return 0;
    return this.withMaps((maps) => countHeldConnections(maps, table.heldConnections, this.heldTarget()));
  }

  /** Held connections belong to the subject's service, on the backend it lists first. */
  private heldTarget(): HeldConnectionTarget {
    return this.service(SUBJECT).heldTarget;
  }

  private withMaps<T>(use: (maps: DatapathMaps) => T): T {
    const maps = DatapathMaps.open(resolveInstance(this.netns));
    try {
      return use(maps);
    } finally {
      maps.close();
    }
  }

  service(contender: ContenderId): LbctlService {
    const own = contenderSpec(contender).serviceOf ?? contender;
    const s = this.services.find((x) => x.contender === own);
    if (!s) throw new Error(`no lbctl service for ${contender} (not attached?)`);
    return s;
  }

  /** One service's counters, read from the pinned maps in this process (no CLI start-up per sample). */
  counters(contender: ContenderId): Counters {
    return this.serviceCounters(this.service(contender).id);
  }

  /** The counters of a service by its id (the UDP scenario's services are not in `services`). */
  serviceCounters(serviceId: number): Counters {
    return this.withMaps((maps) => readCounters(maps, serviceId));
  }

  /** Kernel ids of the attached programs, each once. */
  async programIds(): Promise<number[]> {
    const status = await this.cli<{ interfaces: Array<{ progId: number | null }> }>(['status']);
    // The same program is attached to both interfaces: count it once.
    const ids = status.interfaces.map((i) => i.progId).filter((id): id is number => typeof id === 'number');
    return [...new Set(ids)];
  }

  conntrackPinPath(): string {
    return join(resolveInstance(this.netns).pinDir, 'lb_conntrack');
  }
}

// ---------------------------------------------------------------------------------------------------------
// HAProxy and nginx stream: started once for the whole run, idle while the others are measured.

export interface ProxyProcess {
  id: ContenderId;
  daemon: Daemon;
  config: string;
}

export function haproxyConfig(lab: BenchLab, threads: number): string {
  return [
    'global',
    `  nbthread ${threads}`,
    '  maxconn 8000',
    // Alerts only (stderr goes to the daemon's log): no per-connection logging in a benchmark.
    '  log stderr format raw local0 err',
    'defaults',
    '  mode tcp',
    '  timeout connect 5s',
    '  timeout client 30s',
    '  timeout server 30s',
    'frontend bench',
    `  bind ${hostPort(BENCH_VIPS.haproxy, PPV2_PORT)}`,
    '  default_backend backends',
    'backend backends',
    '  balance roundrobin',
    ...lab.backends.map((b, i) => `  server b${i + 1} ${hostPort(b.address, PPV2_PORT)} send-proxy-v2`),
    '',
  ].join('\n');
}

/** The lines every nginx proxy's configuration starts with: the stream module, workers, files, events. */
export function nginxPreamble(dir: string, workers: number): string[] {
  return [
    `load_module ${NGINX_STREAM_MODULE};`,
    `worker_processes ${workers};`,
    `pid ${dir}/nginx.pid;`,
    `error_log ${dir}/error.log warn;`,
    'events { worker_connections 16384; }',
  ];
}

export function nginxStreamConfig(lab: BenchLab, dir: string, workers: number): string {
  return [
    ...nginxPreamble(dir, workers),
    'stream {',
    '  upstream backends {',
    ...lab.backends.map((b) => `    server ${hostPort(b.address, PPV2_PORT)};`),
    '  }',
    '  server {',
    `    listen ${hostPort(BENCH_VIPS.nginxStream, PPV2_PORT)};`,
    '    proxy_pass backends;',
    '    proxy_protocol on;',
    '  }',
    '}',
    '',
  ].join('\n');
}

export async function startHaproxyProxy(
  lab: BenchLab,
  threads: number,
  cleanup: Cleanup,
): Promise<ProxyProcess> {
  const dir = join(lab.workDir, 'haproxy');
  await mkdir(dir, { recursive: true });
  const config = join(dir, 'haproxy.cfg');
  await writeFile(config, haproxyConfig(lab, threads));
  const daemon = await spawnDaemon('haproxy', ['-db', '-f', config], {
    netns: lab.topo.ns.lb,
    logFile: join(dir, 'haproxy.log'),
    waitListening: [{ host: BENCH_VIPS.haproxy, port: PPV2_PORT }],
  });
  cleanup.add(`stop HAProxy (pid ${daemon.pid})`, () => daemon.stop());
  return { id: 'haproxy', daemon, config };
}

export async function startNginxStreamProxy(
  lab: BenchLab,
  workers: number,
  cleanup: Cleanup,
): Promise<ProxyProcess> {
  return startNginxProxy(lab, 'nginx-stream', (dir) => nginxStreamConfig(lab, dir, workers), cleanup, {
    waitListening: [{ host: BENCH_VIPS.nginxStream, port: PPV2_PORT }],
  });
}

/**
 * An nginx master and its workers in the balancer namespace, with the stream module, its configuration
 * written to its own directory (`dirName` under the work directory).
 */
export async function startNginxProxy(
  lab: BenchLab,
  dirName: string,
  config: (dir: string) => string,
  cleanup: Cleanup,
  readiness: Pick<DaemonOptions, 'waitListening' | 'ready'>,
): Promise<ProxyProcess> {
  if (
    !(await access(NGINX_STREAM_MODULE).then(
      () => true,
      () => false,
    ))
  ) {
    throw new Error(
      `nginx stream module ${NGINX_STREAM_MODULE} is missing: apt-get install libnginx-mod-stream (scripts/setup.sh)`,
    );
  }
  const dir = join(lab.workDir, dirName);
  await mkdir(dir, { recursive: true });
  const configFile = join(dir, 'nginx.conf');
  await writeFile(configFile, config(dir));
  // A master and its workers: stopping the master (SIGTERM) makes it stop the workers first.
  const daemon = await spawnDaemon(
    'nginx',
    ['-p', dir, '-c', configFile, '-e', join(dir, 'error.log'), '-g', 'daemon off;'],
    { netns: lab.topo.ns.lb, logFile: join(dir, 'nginx.out'), ...readiness },
  );
  cleanup.add(`stop nginx ${dirName} (pid ${daemon.pid})`, () => daemon.stop());
  return { id: 'nginx-stream', daemon, config: configFile };
}

/**
 * One request through the contender before measuring: the backend's view (`/whoami`) must show the
 * client's address where a PROXY header is sent, so a misconfigured contender fails in seconds.
 */
export async function probeContender(spec: ContenderSpec, lab: BenchLab): Promise<void> {
  const url = targetUrl(spec, { path: '/whoami' });
  const res = await run('curl', ['-sS', '--fail', '--max-time', '5', url], { netns: lab.topo.ns.client });
  const view = JSON.parse(res.stdout) as { proxy_protocol_addr: string; remote_addr: string };
  const expectations: Array<[string, string, string]> = [];
  if (spec.proxyHeader)
    expectations.push(['PROXY header source', view.proxy_protocol_addr, lab.clientAddress]);
  if (spec.mode === 'dnat' || spec.kind === 'plain')
    expectations.push(['connection source', view.remote_addr, lab.clientAddress]);
  if (spec.mode === 'fullnat') expectations.push(['connection source', view.remote_addr, LBCTL_SNAT_ADDRESS]);
  for (const [what, seen, expected] of expectations) {
    if (seen !== expected)
      throw new Error(
        `${spec.label}: the backend saw ${what} ${seen || '(none)'}, expected ${expected} (${url})`,
      );
  }
}
