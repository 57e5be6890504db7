import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LbctlError } from '../errors.js';
import { hostPort } from '../host-port.js';
import { spawnDaemon } from '../sys/run.js';
import { assertSocketsFree, listenSpecs } from './net.js';
import { removeScratchDir, stopAndRemove } from './scratch-dir.js';

/**
 * An HAProxy 2.6 backend in a namespace that reads PROXY headers (`bind ... accept-proxy`) and answers
 * `GET /whoami` with its view of the connection as one JSON line. HAProxy validates headers more strictly
 * than nginx 1.22 (command, family, CRC32C): it logs a rejected header to stderr (captured in the log
 * file) and closes the connection without a response, so a client sees EOF or a reset and no bytes.
 */

export interface HaproxyOptions {
  netns?: string;
  addresses: string[];
  /** Default [80]. */
  ports?: number[];
  /** `accept-proxy` on every bind (default true). */
  acceptProxy?: boolean;
  parentDir?: string;
  /** Let HAProxy outlive this process (for `lbctl lab up`). */
  detached?: boolean;
  timeoutMs?: number;
}

/** What `/whoami` answers. Values are empty strings where HAProxy has none. */
export interface HaproxyConnectionView {
  /** Source as HAProxy reports it: the PROXY header's when one was received. */
  src: string;
  src_port: string;
  dst: string;
  dst_port: string;
  /** The TCP peer, whatever the header says. */
  fc_src: string;
  fc_src_port: string;
  fc_dst: string;
  fc_dst_port: string;
  /** "1" if the connection started with a PROXY header. */
  fc_rcvd_proxy: string;
  /** PP2_TYPE_UNIQUE_ID (0x05) value, upper-case hex. */
  pp_unique_id: string;
  /** PP2_TYPE_AUTHORITY (0x02) value (JSON-escaped by HAProxy). */
  pp_authority: string;
}

export interface HaproxyBackend {
  pid: number;
  startTime: number;
  netns: string | undefined;
  dir: string;
  addresses: string[];
  ports: number[];
  configFile: string;
  /** HAProxy's stderr: one log line per request and per rejected connection. */
  logFile: string;
  url: string;
  log(): Promise<string>;
  /** Wait until the log matches `pattern`; returns the matching line. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Log lines about PROXY headers HAProxy refused (invalid header, or no header on an accept-proxy bind). */
  rejectedHeaders(): Promise<string[]>;
  stop(): Promise<void>;
}

const VIEW_FIELDS: Array<[keyof HaproxyConnectionView, string]> = [
  ['src', '%[src]'],
  ['src_port', '%[src_port]'],
  ['dst', '%[dst]'],
  ['dst_port', '%[dst_port]'],
  ['fc_src', '%[fc_src]'],
  ['fc_src_port', '%[fc_src_port]'],
  ['fc_dst', '%[fc_dst]'],
  ['fc_dst_port', '%[fc_dst_port]'],
  ['fc_rcvd_proxy', '%[fc_rcvd_proxy]'],
  // The unique ID is arbitrary binary (up to 128 bytes): hex keeps the JSON valid.
  ['pp_unique_id', '%[fc_pp_unique_id,hex]'],
  ['pp_authority', '%[fc_pp_authority,json(utf8s)]'],
];

/** The lf-string argument, double-quoted for the HAProxy config tokenizer (which turns \" and \n back). */
function whoamiFormat(): string {
  const json = `{${VIEW_FIELDS.map(([k, v]) => `"${k}":"${v}"`).join(',')}}`;
  return `"${json.replaceAll('"', '\\"')}\\n"`;
}

function haproxyConfig(o: { addresses: string[]; ports: number[]; acceptProxy: boolean }): string {
  const binds = o.addresses.flatMap((a) =>
    o.ports.map((p) => `  bind ${hostPort(a, p)}${o.acceptProxy ? ' accept-proxy' : ''}`),
  );
  return [
    'global',
    // Logs go to stderr, which spawnDaemon writes to our log file. `raw` drops the syslog header.
    '  log stderr format raw local0 info',
    '  nbthread 1',
    '  maxconn 4096',
    'defaults',
    '  mode http',
    '  log global',
    // No `option dontlognull`: connections refused during the PROXY handshake must be logged.
    '  option httplog',
    '  timeout connect 5s',
    '  timeout client 30s',
    '  timeout server 30s',
    'frontend lab',
    ...binds,
    `  http-request return status 200 content-type application/json lf-string ${whoamiFormat()} if { path /whoami }`,
    '  http-request return status 404 content-type text/plain string "not found\\n"',
    '',
  ].join('\n');
}

export async function startHaproxy(opts: HaproxyOptions): Promise<HaproxyBackend> {
  if (opts.addresses.length === 0)
    throw new LbctlError('USAGE', 'HAProxy backend needs at least one address');
  const ports = opts.ports ?? [80];
  const sockets = listenSpecs(opts.addresses, ports);
  await assertSocketsFree(sockets, opts.netns);
  const dir = await mkdtemp(join(opts.parentDir ?? tmpdir(), 'lbctl-haproxy-'));
  try {
    const configFile = join(dir, 'haproxy.cfg');
    const logFile = join(dir, 'haproxy.log');
    await writeFile(
      configFile,
      haproxyConfig({ addresses: opts.addresses, ports, acceptProxy: opts.acceptProxy ?? true }),
    );
    const daemon = await spawnDaemon('haproxy', ['-db', '-f', configFile], {
      netns: opts.netns,
      logFile,
      detached: opts.detached,
      // The directory is removed if start-up fails; the error carries the log's last line instead.
      logHint: false,
      timeoutMs: opts.timeoutMs,
      waitListening: sockets,
    });
    const log = daemon.log;
    return {
      pid: daemon.pid,
      startTime: daemon.startTime,
      netns: opts.netns,
      dir,
      addresses: [...opts.addresses],
      ports,
      configFile,
      logFile,
      url: `http://${hostPort(opts.addresses[0] as string, ports[0] as number)}`,
      log,
      async waitForLog(pattern: RegExp, timeoutMs = 3_000): Promise<string> {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const line = (await log()).split('\n').find((l) => pattern.test(l));
          if (line !== undefined) return line;
          if (Date.now() > deadline) {
            throw new LbctlError(
              'FAILURE',
              `HAProxy log has no line matching ${pattern} after ${timeoutMs} ms`,
            );
          }
          await sleep(25);
        }
      },
      async rejectedHeaders(): Promise<string[]> {
        return (await log()).split('\n').filter((l) => /PROXY protocol header/.test(l));
      },
      stop: () => stopAndRemove(daemon, dir),
    };
  } catch (err) {
    await removeScratchDir(dir);
    throw err;
  }
}
