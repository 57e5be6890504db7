/**
 * Correctness of a UDP run, as pure functions of what was sampled (bench/checks.ts has the TCP ones).
 *
 * The backends tell who they judged a query by through its response code: unbound refuses every address but
 * the client's and the balancers' (REFUSED), and answers queries it judges by lbctl's PPv2 source address
 * NXDOMAIN (a view of its own, bench/udp-backend.ts). So a NOERROR through the PPv2 service means unbound took
 * the client's address from that datagram's header; a datagram without a readable header is dropped by
 * unbound and counted lost.
 */
import { type Check, check, isFailureCounter } from './checks.js';
import type { DnsperfResult } from './dnsperf.js';

export function dnsperfChecks(
  r: DnsperfResult,
  opts: { maxLossShare: number; ppv2: boolean; socketDrops: number },
): Check[] {
  const others = Object.entries(r.rcodes).filter(([code]) => code !== 'NOERROR');
  const loss = r.sent > 0 ? r.lost / r.sent : 1;
  const why = opts.ppv2
    ? ' (NXDOMAIN: judged by the balancer address, not the header; REFUSED: by an unknown address)'
    : '';
  return [
    check('dnsperf: answers', r.completed > 0, `${r.completed} of ${r.sent} queries answered`),
    check(
      'dnsperf: loss within bound',
      loss <= opts.maxLossShare,
      `${r.lost} of ${r.sent} lost (${(loss * 100).toFixed(3)}%, at most ${(opts.maxLossShare * 100).toFixed(1)}% allowed)`,
    ),
    // A query lost anywhere else (in the balancer's logic, on a route) is dropped without the kernel's
    // socket counters seeing it.
    check(
      'dnsperf: every lost query dropped on a full socket buffer',
      r.lost <= opts.socketDrops,
      `${r.lost} lost, ${opts.socketDrops} datagrams dropped on full socket buffers (UDP RcvbufErrors)`,
    ),
    check(
      opts.ppv2
        ? "backends: every answer NOERROR, by the client's address from the header"
        : 'backends: every answer NOERROR',
      others.length === 0 && (r.rcodes.NOERROR ?? 0) === r.completed,
      `NOERROR ${r.rcodes.NOERROR ?? 0} of ${r.completed}` +
        (others.length > 0 ? `; ${others.map(([c, n]) => `${c} ${n}`).join(', ')}${why}` : ''),
    ),
  ];
}

export interface UdpDatapathSample {
  /** Every counter's delta over the run. */
  counters: Record<string, number>;
}

/**
 * lbctl's counters against dnsperf's: one flow per client socket, and with PPv2 one header per query datagram
 * (at least every answered query's, at most every sent one's). Drops and failures stay zero.
 */
export function udpDatapathChecks(
  d: UdpDatapathSample,
  opts: { ppv2: boolean; clients: number; sent: number; completed: number },
): Check[] {
  const c = (name: string) => d.counters[name] ?? 0;
  const failures = Object.entries(d.counters).filter(([name, n]) => isFailureCounter(name) && n !== 0);
  const checks = [
    check(
      'lbctl: one flow per client socket',
      c('conn_new') === opts.clients,
      `conn_new ${c('conn_new')}, dnsperf sockets ${opts.clients}`,
    ),
    check(
      'lbctl: no drops or PPv2 failures',
      failures.length === 0,
      failures.length === 0 ? 'all zero' : failures.map(([n, v]) => `${n} ${v}`).join(', '),
    ),
    check(
      'lbctl: forwarded every answered query',
      c('fwd_packets') >= opts.completed && c('fwd_packets') <= opts.sent,
      `fwd_packets ${c('fwd_packets')} (${opts.completed}..${opts.sent} allowed)`,
    ),
  ];
  checks.push(
    check(
      'lbctl: returned every answer',
      c('rev_packets') >= opts.completed && c('rev_packets') <= c('fwd_packets'),
      `rev_packets ${c('rev_packets')} (${opts.completed}..fwd_packets ${c('fwd_packets')} allowed)`,
    ),
  );
  const injected = c('ppv2_udp_injected');
  checks.push(
    opts.ppv2
      ? check(
          'lbctl: a header on every query datagram',
          injected === c('fwd_packets'),
          `ppv2_udp_injected ${injected}, fwd_packets ${c('fwd_packets')}`,
        )
      : check('lbctl: no header without PPv2', injected === 0, `ppv2_udp_injected ${injected}`),
  );
  return checks;
}
