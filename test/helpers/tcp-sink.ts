import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LbctlError } from '../../src/errors.js';
import { assertSocketsFree, listenSpecs } from '../../src/lab/net.js';
import { removeScratchDir, stopAndRemove } from '../../src/lab/scratch-dir.js';
import { spawnDaemon } from '../../src/sys/run.js';

/**
 * A TCP sink backend in a namespace: it reads each connection to the end (the client's FIN) and answers
 * with one JSON line describing every byte it received, PROXY header included (it does not parse one).
 * That is the byte-exact view the PPv2 tests need: nginx and HAProxy consume the header, the sink keeps
 * it. Each report is also appended to a log file, for connections whose client gave up.
 */

export interface TcpSinkOptions {
  netns?: string;
  /** Local addresses to listen on (IPv4 or IPv6, no brackets). */
  addresses: string[];
  port: number;
  parentDir?: string;
  timeoutMs?: number;
}

export interface SinkReport {
  /** The TCP peer as the sink saw it (the balancer in fullnat mode). */
  remoteAddress: string;
  remotePort: number;
  /** Bytes received, PROXY header included. */
  bytes: number;
  sha256: string;
  /** The first SINK_HEAD_BYTES bytes received. */
  head: Buffer;
}

export interface TcpSink {
  pid: number;
  addresses: string[];
  port: number;
  dir: string;
  /** Reports of the connections finished so far, oldest first. */
  reports(): Promise<SinkReport[]>;
  stop(): Promise<void>;
}

/** How much of the start of each stream a report carries: room for the largest PPv2 header and more. */
export const SINK_HEAD_BYTES = 1024;

/** The child process's parameters (tcp-sink-child.mjs reads them as JSON from argv). */
export interface SinkParams {
  addresses: string[];
  port: number;
  /** The file every report is appended to. */
  log: string;
  headBytes: number;
}

/** A report as the child writes it: the head in base64. */
export interface SinkReportJson extends Omit<SinkReport, 'head'> {
  head: string;
}

const SINK_CHILD = fileURLToPath(new URL('./tcp-sink-child.mjs', import.meta.url));

/** Decode a report line (the sink's answer, or a line of its log). */
export function parseSinkReport(line: string | Buffer): SinkReport {
  const text = line.toString().trim();
  let raw: SinkReportJson;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new LbctlError('FAILURE', `not a sink report: ${JSON.stringify(text.slice(0, 80))}`, undefined, {
      cause: err,
    });
  }
  return { ...raw, head: Buffer.from(raw.head, 'base64') };
}

export async function startTcpSink(opts: TcpSinkOptions): Promise<TcpSink> {
  if (opts.addresses.length === 0) throw new LbctlError('USAGE', 'the TCP sink needs at least one address');
  const sockets = listenSpecs(opts.addresses, [opts.port]);
  await assertSocketsFree(sockets, opts.netns);
  const dir = await mkdtemp(join(opts.parentDir ?? tmpdir(), 'lbctl-sink-'));
  const log = join(dir, 'reports.jsonl');
  try {
    const params: SinkParams = {
      addresses: opts.addresses,
      port: opts.port,
      log,
      headBytes: SINK_HEAD_BYTES,
    };
    const daemon = await spawnDaemon(process.execPath, [SINK_CHILD, JSON.stringify(params)], {
      netns: opts.netns,
      logFile: join(dir, 'sink.out'),
      logHint: false,
      timeoutMs: opts.timeoutMs,
      waitListening: sockets,
    });
    return {
      pid: daemon.pid,
      addresses: [...opts.addresses],
      port: opts.port,
      dir,
      async reports(): Promise<SinkReport[]> {
        const text = await readFile(log, 'utf8').catch(() => '');
        return text.split('\n').filter(Boolean).map(parseSinkReport);
      },
      stop: () => stopAndRemove(daemon, dir),
    };
  } catch (err) {
    await removeScratchDir(dir);
    throw err;
  }
}
