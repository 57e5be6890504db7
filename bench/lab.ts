/**
 * The benchmark's topology: the lab's three namespaces (client, balancer, backends) and four nginx
 * backends, two reading PROXY headers on port 80 and two plain ones on port 8080, on the same two backend
 * addresses. Every contender reaches the same backend processes. Backend files live on tmpfs (/dev/shm):
 * uploads are kept as files by the lab's nginx, and a disk would turn the upload scenario into a disk test.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type NginxBackend, startNginx } from '../src/lab/nginx.js';
import { createTopology, destroyTopology, type Topology } from '../src/lab/topology.js';
import { run, spawnDaemon } from '../src/sys/run.js';
import type { Cleanup } from './cleanup.js';
import { netnsInode } from './metrics.js';
import { MIB } from './plan.js';

export const BENCH_PREFIX = 'lbctl-bench';

/** Service addresses in the balancer namespace (TEST-NET-3). lbctl's come from the lab's VIP upwards. */
export const BENCH_VIPS = {
  lbctlFullnatPpv2: '203.0.113.10',
  lbctlFullnat: '203.0.113.11',
  lbctlDnatPpv2: '203.0.113.12',
  haproxy: '203.0.113.20',
  nginxStream: '203.0.113.21',
} as const;

/**
 * lbctl's fullnat source address towards the backends. Not the balancer's own 198.51.100.1, which HAProxy
 * and nginx use for their backend connections: a fullnat connection reusing one of their (address, port)
 * pairs would meet the backend's TIME_WAIT of that earlier connection, whose timestamps came from another
 * host clock, and be answered with a bare ACK instead of a SYN-ACK. A dedicated SNAT address is how fullnat
 * balancers are deployed anyway.
 */
export const LBCTL_SNAT_ADDRESS = '198.51.100.11';

export const PPV2_PORT = 80;
export const PLAIN_PORT = 8080;

/**
 * Where plain forwarding sends its load: an address in the backends' namespace on which both plain nginx
 * processes listen with `reuseport`, so the kernel spreads connections between them per connection (by
 * the hash of addresses and ports), as a balancer does, with no balancer logic on the way. Pinning each wrk
 * thread to one backend instead (what this benchmark did first) favours whoever does it on short
 * connections: each wrk thread then wakes one backend, which the scheduler keeps on its CPU, instead of both
 * (README, "Benchmarks", has the measurement).
 */
export const PLAIN_SHARED_ADDRESS = '198.51.100.9';

export interface BenchBackend {
  address: string;
  /** nginx on PPV2_PORT with `listen ... proxy_protocol`. */
  ppv2: NginxBackend;
  /** nginx on PLAIN_PORT without. */
  plain: NginxBackend;
}

export interface BenchLab {
  topo: Topology;
  backends: BenchBackend[];
  /** Scratch directory (tmpfs when available) for configs, scripts and backend files. */
  workDir: string;
  /** The client address connections come from (the default route's source). */
  clientAddress: string;
  /** An idle process in the client namespace, whose /proc/PID/net/snmp is the client's TCP counters. */
  clientWitnessPid: number;
  /** Inodes of the three namespaces (to tell the benchmark's processes from the rest of the machine). */
  netnsInodes: Set<number>;
}

/** Build the topology and start the backends; everything is registered with `cleanup` as it is made. */
export async function startBenchLab(cleanup: Cleanup, log: (line: string) => void): Promise<BenchLab> {
  const parent = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const workDir = await mkdtemp(join(parent, 'lbctl-bench-'));
  cleanup.add(`remove ${workDir}`, () => rm(workDir, { recursive: true, force: true }));

  const topo = await createTopology({ prefix: BENCH_PREFIX });
  cleanup.add(`remove namespaces ${topo.name}-*`, () => destroyTopology(topo));
  log(`topology ${topo.name}: ${topo.ns.client}, ${topo.ns.lb}, ${topo.ns.backends}`);

  // The proxies' listening addresses: local to the balancer, routed there by the client's default route.
  for (const vip of [BENCH_VIPS.haproxy, BENCH_VIPS.nginxStream]) {
    await run('ip', ['-n', topo.ns.lb, 'addr', 'add', `${vip}/32`, 'dev', 'lo']);
  }
  await run('ip', [
    '-n',
    topo.ns.lb,
    'addr',
    'add',
    `${LBCTL_SNAT_ADDRESS}/24`,
    'dev',
    topo.ifaces.lbBackend,
  ]);
  await run('ip', [
    ...['-n', topo.ns.backends, 'addr', 'add', `${PLAIN_SHARED_ADDRESS}/24`],
    ...['dev', topo.ifaces.backends],
  ]);
  // Short connections reuse client ports quickly; the backends close first (Connection: close), so
  // TIME_WAIT stays on their side, where a SYN with a newer timestamp may reuse it.
  await run('sysctl', ['-q', '-w', 'net.ipv4.ip_local_port_range=1024 65000'], { netns: topo.ns.client });

  const witness = await spawnDaemon('sleep', ['infinity'], {
    netns: topo.ns.client,
    logFile: join(workDir, 'witness.log'),
    ready: async () => true,
  });
  cleanup.add(`stop the client namespace's witness (pid ${witness.pid})`, () => witness.stop());

  const backends: BenchBackend[] = [];
  for (const address of topo.backends.ipv4.slice(0, 2)) {
    const common = {
      netns: topo.ns.backends,
      addresses: [address],
      downloadSizes: [MIB],
      parentDir: workDir,
    };
    const ppv2 = await startNginx({ ...common, ports: [PPV2_PORT], proxyProtocol: true });
    cleanup.add(`stop nginx ${address}:${PPV2_PORT} (pid ${ppv2.pid})`, () => ppv2.stop());
    const plain = await startNginx({
      ...common,
      sharedAddresses: [PLAIN_SHARED_ADDRESS],
      ports: [PLAIN_PORT],
      proxyProtocol: false,
    });
    cleanup.add(`stop nginx ${address}:${PLAIN_PORT} (pid ${plain.pid})`, () => plain.stop());
    backends.push({ address, ppv2, plain });
  }
  log(
    `backends: nginx on ${backends.map((b) => b.address).join(', ')} ports ${PPV2_PORT} (PPv2), ${PLAIN_PORT}`,
  );
  return {
    topo,
    backends,
    workDir,
    clientAddress: topo.client.ipv4[0] as string,
    clientWitnessPid: witness.pid,
    netnsInodes: new Set(Object.values(topo.ns).map(netnsInode)),
  };
}

/** Every nginx backend process (four). */
export function allBackends(lab: BenchLab): NginxBackend[] {
  return lab.backends.flatMap((b) => [b.ppv2, b.plain]);
}

/** Delete the request bodies the backends kept (the lab's nginx keeps every upload as a file). */
export async function removeUploads(lab: BenchLab): Promise<void> {
  for (const nginx of allBackends(lab)) {
    const dir = join(nginx.dir, 'body');
    const files = await readdir(dir).catch(() => [] as string[]);
    await Promise.all(files.map((f) => rm(join(dir, f), { force: true, recursive: true })));
  }
}
