import { connect } from 'node:net';
import { encodeV2 } from '../ppv2/index.js';

export interface ProbeTarget {
  address: string;
  port: number;
}

export interface ProbeOptions {
  /** Give up after this long: the backend counts as failed ("timeout"). */
  timeoutMs: number;
  /** Send a PROXY v2 LOCAL header right after connecting (the backend expects PPv2). */
  ppv2: boolean;
}

export interface ProbeResult {
  ok: boolean;
  /** Why it failed: a socket error code (ECONNREFUSED, EHOSTUNREACH, ...) or "timeout"; null when ok. */
  error: string | null;
  /** Time to connect, or to fail. */
  ms: number;
}

/**
 * PROXY v2 LOCAL: "this connection is the proxy's own, use its real addresses". A backend that requires a
 * PROXY header (nginx `proxy_protocol`, HAProxy `accept-proxy`) takes it as a valid header and answers
 * nothing wrong; without it, whatever came first would be a broken header in its error log.
 */
const LOCAL_HEADER = Buffer.from(
  encodeV2({ version: 2, command: 'LOCAL', family: 'UNSPEC', transport: 'UNSPEC', tlvs: [] }),
);

/**
 * One liveness probe: a TCP connect to the backend, then (with `ppv2`) the LOCAL header, then a normal
 * close. Success means the backend accepted the connection within the timeout. The socket is created on
 * the calling thread, so it lives in that thread's network namespace (the balancer's, under --netns).
 *
 * The probe can never be taken for a balanced connection: its source port is an ephemeral port the kernel
 * picks from net.ipv4.ip_local_port_range, and fullnat's SNAT ports come from a range attach keeps disjoint
 * from it and reserves (ip_local_reserved_ports), so no REPLY conntrack entry matches the backend's answer
 * (src/core/snat-ports.ts; test/e2e/snat-host-ports.test.ts shows host connections unharmed under load).
 */
export function probeTcp(target: ProbeTarget, options: ProbeOptions): Promise<ProbeResult> {
  const started = performance.now();
  return new Promise<ProbeResult>((resolve) => {
    let settled = false;
    const socket = connect({ host: target.address, port: target.port, noDelay: true });
    const finish = (error: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ok: error === null, error, ms: Math.round(performance.now() - started) });
    };
    const timer = setTimeout(() => {
      finish('timeout');
      socket.destroy();
    }, options.timeoutMs);
    // After success, errors on the way out (a reset while closing) no longer matter.
    socket.on('error', (err: NodeJS.ErrnoException) => {
      finish(err.code ?? err.message);
      socket.destroy();
    });
    socket.once('connect', () => {
      finish(null);
      // end() writes the header, then a FIN: the backend sees a client that said nothing more and left.
      if (options.ppv2) socket.end(LOCAL_HEADER);
      else socket.end();
      // A backend that never closes its side must not keep the socket: drop it after one more timeout.
      setTimeout(() => socket.destroy(), options.timeoutMs).unref();
    });
  });
}
