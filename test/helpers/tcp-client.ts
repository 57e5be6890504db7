import { fileURLToPath } from 'node:url';
import { LbctlError } from '../../src/errors.js';
import { run } from '../../src/sys/run.js';

/**
 * A raw TCP client that runs inside a network namespace: it sends exact bytes (a hand-made PROXY header,
 * then a request) and reports what came back and how the connection ended. It is a child `node` process
 * under `ip netns exec` (tcp-client-child.mjs), because this process cannot switch its own namespace safely.
 */

export interface TcpExchangeOptions {
  netns?: string;
  host: string;
  port: number;
  localAddress?: string;
  localPort?: number;
  /** Bytes to send; each buffer is a separate write (TCP_NODELAY), `gapMs` apart. */
  send: Buffer | Buffer[];
  gapMs?: number;
  /** Half-close (FIN) after the last write; default false (the server is expected to close). */
  endAfterSend?: boolean;
  /** Abort with a RST (SO_LINGER 0) after the last write, `gapMs` later; reported as `reset`. */
  resetAfterSend?: boolean;
  /** Give up and report `timeout` after this long; default 5 s. */
  timeoutMs?: number;
}

export interface TcpExchangeResult {
  /** Everything received until the connection ended. */
  data: Buffer;
  /** eof: the server closed normally; reset: RST; timeout: still open at the deadline; error: see `error`. */
  closed: 'eof' | 'reset' | 'timeout' | 'error';
  /** The socket error code, e.g. ECONNREFUSED. */
  error?: string;
  localAddress?: string;
  localPort?: number;
}

/** What the child process (tcp-client-child.mjs) reads on stdin: the options, bytes in base64. */
export interface ClientParams extends Omit<TcpExchangeOptions, 'netns' | 'send' | 'timeoutMs'> {
  send: string[];
  timeoutMs: number;
}

/** What the child writes on stdout. */
export interface ClientReport extends Omit<TcpExchangeResult, 'data'> {
  data: string;
}

const CLIENT_CHILD = fileURLToPath(new URL('./tcp-client-child.mjs', import.meta.url));

export async function tcpExchange(opts: TcpExchangeOptions): Promise<TcpExchangeResult> {
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const send = (Array.isArray(opts.send) ? opts.send : [opts.send]).map((b) => b.toString('base64'));
  const { netns, ...rest } = opts;
  const params: ClientParams = { ...rest, send, timeoutMs };
  const res = await run(process.execPath, [CLIENT_CHILD], {
    netns,
    input: JSON.stringify(params),
    timeoutMs: timeoutMs + 10_000,
  });
  let parsed: ClientReport;
  try {
    parsed = JSON.parse(res.stdout);
  } catch (err) {
    throw new LbctlError('FAILURE', `tcp client to ${opts.host}:${opts.port} gave no result`, undefined, {
      cause: err,
    });
  }
  return { ...parsed, data: Buffer.from(parsed.data, 'base64') };
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Parse a complete HTTP/1.x response (as read until close); undefined if there is no status line. */
export function parseHttpResponse(data: Buffer): HttpResponse | undefined {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine, ...lines] = data.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/\d\.\d (\d{3})/.exec(statusLine ?? '');
  if (!m) return undefined;
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(m[1]), headers, body: data.subarray(end + 4) };
}

/** A minimal HTTP/1.0 GET (the server closes after answering). */
export function httpGet(path: string, host = 'lbctl-lab.test'): Buffer {
  return Buffer.from(`GET ${path} HTTP/1.0\r\nHost: ${host}\r\nUser-Agent: lbctl-lab\r\n\r\n`, 'latin1');
}
