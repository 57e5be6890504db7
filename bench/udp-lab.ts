/**
 * The UDP scenario's part of the benchmark topology, next to the TCP one (bench/lab.ts): two unbound
 * backends on the same two backend addresses as nginx, each reading PROXY v2 on port 53 and bare DNS on
 * 5300 (one thread each, as each nginx backend is one process), nginx's stream module proxying UDP in the
 * balancer namespace, and the addresses lbctl's two UDP services translate to.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hostPort } from '../src/host-port.js';
import { unboundConfig } from '../src/lab/unbound.js';
import { run, spawnDaemon } from '../src/sys/run.js';
import type { Cleanup } from './cleanup.js';
import { nginxPreamble, type ProxyProcess, startNginxProxy } from './contenders.js';
import { BENCH_VIPS, type BenchLab, LBCTL_SNAT_ADDRESS, PLAIN_SHARED_ADDRESS } from './lab.js';

/** unbound's PROXY v2 port, and the port every UDP contender's clients send to but plain forwarding. */
export const UDP_PPV2_PORT = 53;
/** unbound without PROXY protocol. */
export const UDP_PLAIN_PORT = 5300;

/**
 * lbctl's source address towards the backends for its UDP service without PPv2. The PPv2 service uses
 * LBCTL_SNAT_ADDRESS, which unbound answers NXDOMAIN (a view): only a query it judged by the header's
 * client address gets NOERROR there. This one must be told apart from it.
 */
export const LBCTL_UDP_PLAIN_SNAT_ADDRESS = '198.51.100.12';

/** The view unbound applies to queries it judges by lbctl's PPv2 source address (not by the header). */
const BALANCER_VIEW = 'judged-by-balancer-address';

export interface UdpBackend {
  address: string;
  pid: number;
  dir: string;
}

export interface UdpLab {
  backends: UdpBackend[];
  /** A client address in the client namespace that unbound refuses (for the probes). */
  refusedClientAddress: string;
}

/**
 * The lab's unbound configuration, with two additions that come later in the file and so win: no query log
 * (a log line per query would make the benchmark measure unbound's logging) and the view that answers
 * queries judged by lbctl's PPv2 source address NXDOMAIN.
 */
export function benchUnboundConfig(o: {
  dir: string;
  addresses: string[];
  allow: string[];
  balancerSourceForPpv2: string;
}): string {
  return [
    unboundConfig({
      dir: o.dir,
      addresses: o.addresses,
      allow: o.allow,
      proxyPort: UDP_PPV2_PORT,
      plainPort: UDP_PLAIN_PORT,
    }),
    'server:',
    '  log-queries: no',
    // Both unbound processes listen on the plain-forwarding address; the kernel spreads flows between them.
    '  so-reuseport: yes',
    // Room for the opening burst of queries in flight (unbound forces the size as root): a smaller
    // buffer drops some of them before unbound reads any, whichever contender is measured.
    '  so-rcvbuf: 4m',
    `  access-control-view: ${o.balancerSourceForPpv2}/32 ${BALANCER_VIEW}`,
    'view:',
    `  name: "${BALANCER_VIEW}"`,
    '  local-zone: "lbctl.test." always_nxdomain',
    '',
  ].join('\n');
}

/** nginx `stream` proxying UDP: one response per query datagram, round robin over the plain ports. */
export function nginxUdpConfig(backends: readonly string[], dir: string, workers: number): string {
  return [
    ...nginxPreamble(dir, workers),
    'stream {',
    '  upstream dns {',
    ...backends.map((a) => `    server ${hostPort(a, UDP_PLAIN_PORT)};`),
    '  }',
    '  server {',
    `    listen ${hostPort(BENCH_VIPS.nginxStream, UDP_PPV2_PORT)} udp reuseport;`,
    '    proxy_pass dns;',
    '    proxy_responses 1;',
    '    proxy_timeout 2s;',
    '  }',
    '}',
    '',
  ].join('\n');
}

/** Whether something listens on UDP host:port in the namespace. */
async function udpListening(netns: string, host: string, port: number): Promise<boolean> {
  const r = await run('ss', ['-Hulnp', 'src', hostPort(host, port)], { netns, allowFailure: true });
  return r.stdout.trim() !== '';
}

export async function startUdpLab(lab: BenchLab, cleanup: Cleanup): Promise<UdpLab> {
  const { topo } = lab;
  await run('ip', [
    ...['-n', topo.ns.lb, 'addr', 'add', `${LBCTL_UDP_PLAIN_SNAT_ADDRESS}/24`],
    ...['dev', topo.ifaces.lbBackend],
  ]);
  const refusedClientAddress = topo.client.ipv4[1];
  if (!refusedClientAddress) throw new Error('the topology has no second client address');
  const backends: UdpBackend[] = [];
  for (const b of lab.backends) {
    const dir = join(lab.workDir, `unbound-${b.address}`);
    await mkdir(dir, { recursive: true });
    const configFile = join(dir, 'unbound.conf');
    const logFile = join(dir, 'unbound.log');
    await writeFile(
      configFile,
      benchUnboundConfig({
        dir,
        addresses: [b.address, PLAIN_SHARED_ADDRESS],
        // The client (plain forwarding, and the header's address), lbctl's two source addresses, and the
        // balancer's own address (nginx's source).
        allow: [lab.clientAddress, LBCTL_SNAT_ADDRESS, LBCTL_UDP_PLAIN_SNAT_ADDRESS, topo.lb.backend4],
        balancerSourceForPpv2: LBCTL_SNAT_ADDRESS,
      }),
    );
    const daemon = await spawnDaemon('unbound', ['-d', '-c', configFile], {
      netns: topo.ns.backends,
      logFile,
      ready: async () => /start of service/.test(await readFile(logFile, 'utf8').catch(() => '')),
    });
    cleanup.add(`stop unbound ${b.address} (pid ${daemon.pid})`, () => daemon.stop());
    backends.push({ address: b.address, pid: daemon.pid, dir });
  }
  return { backends, refusedClientAddress };
}

export function startNginxUdpProxy(
  lab: BenchLab,
  udp: UdpLab,
  workers: number,
  cleanup: Cleanup,
): Promise<ProxyProcess> {
  const addresses = udp.backends.map((b) => b.address);
  return startNginxProxy(lab, 'nginx-udp', (dir) => nginxUdpConfig(addresses, dir, workers), cleanup, {
    ready: () => udpListening(lab.topo.ns.lb, BENCH_VIPS.nginxStream, UDP_PPV2_PORT),
  });
}
