import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Daemon, run, spawnDaemon } from '../sys/run.js';
import { removeScratchDir, stopAndRemove } from './scratch-dir.js';

/**
 * An unbound 1.17 DNS backend in a namespace, in the foreground with its own configuration (never the
 * packaged service). It answers `whoami.lbctl.test. A` from a static local zone and logs every query with the
 * client it believes sent it. On `proxyPort` it reads a PROXY v2 header in front of every UDP query
 * (`proxy-protocol-port`); unbound applies `access-control` to the socket's peer first, then to the client the
 * header names, so the balancer's SNAT address must be allowed as well as the clients.
 */
export interface UnboundOptions {
  netns?: string;
  addresses: string[];
  /** Port reading PROXY v2 headers (default 53). */
  proxyPort?: number;
  /** Port without PROXY protocol, for plain UDP services (default 5300). */
  plainPort?: number;
  /** Addresses or prefixes allowed to query; everything else is refused (REFUSED). */
  allow: string[];
  parentDir?: string;
  detached?: boolean;
}

export interface UnboundBackend {
  pid: number;
  startTime: number;
  addresses: string[];
  dir: string;
  logFile: string;
  proxyPort: number;
  plainPort: number;
  /** The query log so far. */
  log(): Promise<string>;
  stop(): Promise<void>;
}

export const UNBOUND_NAME = 'whoami.lbctl.test.';
export const UNBOUND_ANSWER = '192.0.2.99';

const prefixOf = (a: string) => (a.includes('/') ? a : `${a}/${a.includes(':') ? 128 : 32}`);

export function unboundConfig(
  o: Required<Pick<UnboundOptions, 'addresses' | 'allow'>> & {
    dir: string;
    proxyPort: number;
    plainPort: number;
  },
): string {
  const interfaces = o.addresses.flatMap((a) =>
    [o.proxyPort, o.plainPort].map((p) => `  interface: ${a}@${p}`),
  );
  return [
    'server:',
    `  directory: "${o.dir}"`,
    '  username: ""',
    '  chroot: ""',
    '  pidfile: ""',
    '  do-daemonize: no',
    '  use-syslog: no',
    '  verbosity: 1',
    '  log-queries: yes',
    '  interface-automatic: no',
    ...interfaces,
    '  do-ip4: yes',
    '  do-ip6: yes',
    '  do-udp: yes',
    '  do-tcp: no',
    `  proxy-protocol-port: ${o.proxyPort}`,
    '  access-control: 0.0.0.0/0 refuse',
    '  access-control: ::/0 refuse',
    ...o.allow.map((a) => `  access-control: ${prefixOf(a)} allow`),
    '  module-config: "iterator"',
    '  local-zone: "lbctl.test." static',
    `  local-data: "${UNBOUND_NAME} 60 IN A ${UNBOUND_ANSWER}"`,
    'remote-control:',
    '  control-enable: no',
    '',
  ].join('\n');
}

export async function startUnbound(opts: UnboundOptions): Promise<UnboundBackend> {
  const dir = await mkdtemp(join(opts.parentDir ?? tmpdir(), 'lbctl-unbound-'));
  const proxyPort = opts.proxyPort ?? 53;
  const plainPort = opts.plainPort ?? 5300;
  const configFile = join(dir, 'unbound.conf');
  const logFile = unboundLogFile(dir);
  let daemon: Daemon | undefined;
  try {
    await writeFile(
      configFile,
      unboundConfig({ addresses: opts.addresses, allow: opts.allow, dir, proxyPort, plainPort }),
    );
    daemon = await spawnDaemon('unbound', ['-d', '-c', configFile], {
      netns: opts.netns,
      logFile,
      detached: opts.detached,
      ready: async () => /start of service/.test(await readFile(logFile, 'utf8').catch(() => '')),
    });
  } catch (err) {
    await removeScratchDir(dir);
    throw err;
  }
  const started = daemon;
  return {
    pid: started.pid,
    startTime: started.startTime,
    addresses: opts.addresses,
    dir,
    logFile,
    proxyPort,
    plainPort,
    log: () => started.log(),
    stop: () => stopAndRemove(started, dir),
  };
}

/** The log file startUnbound writes in its directory (for a lab that outlives the process that started it). */
export const unboundLogFile = (dir: string) => join(dir, 'unbound.log');

/** The client addresses unbound logged for queries of `name` (log-queries), oldest first. */
export function queryClients(log: string, name = UNBOUND_NAME): string[] {
  const escaped = name.replace(/\./g, '\\.');
  return [...log.matchAll(new RegExp(`info: (\\S+) ${escaped} A IN`, 'g'))].map((m) => m[1] ?? '');
}

export interface DigResult {
  /** NOERROR, REFUSED, ...; undefined when no answer came. */
  status: string | undefined;
  answers: string[];
  output: string;
}

/** `dig NAME A` at VIP:PORT from a source address, in a namespace: one query, 3 s. */
export async function digFrom(netns: string, vip: string, port: number, source: string): Promise<DigResult> {
  const r = await run(
    'dig',
    ['+tries=1', '+time=3', '-b', source, '-p', String(port), `@${vip}`, UNBOUND_NAME, 'A'],
    { netns, allowFailure: true },
  );
  const answers = r.stdout
    .split('\n')
    .filter((l) => !l.startsWith(';') && /\sIN\s+A\s/.test(l))
    .map((l) => l.trim().split(/\s+/).pop() ?? '');
  return { status: /status: (\w+)/.exec(r.stdout)?.[1], answers, output: r.stdout };
}
