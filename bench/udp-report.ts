/** The report's UDP section (bench/report.ts writes the rest). */

import { SUBJECT } from './plan.js';
import { formatCell, formatNumber, percentSpread as percent, markdownTable as table } from './stats.js';
import type { UdpSummary } from './udp-summary.js';

export function udpSection(udp: UdpSummary): string[] {
  const s = udp.scenario;
  const subjectLabel = udp.results.find((r) => r.contender === SUBJECT)?.label ?? SUBJECT;
  return [
    `## ${s.title}`,
    '',
    `dnsperf in the client namespace, ${s.clients} sockets (one UDP flow each through the balancer), up to ` +
      `${s.outstanding} queries in flight, all for one name that two unbound backends (one thread each) answer ` +
      'from a local zone: 35-byte queries, 51-byte answers. Queries/s counts answered queries; packets/s is ' +
      'queries sent plus answers received, per second, at the client. A query unanswered within ' +
      `${s.timeoutS} s is lost; more than ${formatNumber(s.maxLossShare * 100)}% lost fails the run. "Dropped ` +
      'at the balancer" is what the kernel counted as dropped on full socket buffers in the balancer ' +
      "namespace per run (UDP RcvbufErrors; a proxy's listening socket); the client's and backends' are " +
      'recorded in the JSON.',
    '',
    table(
      ['contender', 'queries/s', 'packets/s', 'lost (%)', 'dropped at the balancer', 'CPU per query (µs)'],
      udp.results.map((r) => [
        r.label,
        formatCell(r.qps),
        formatCell(r.pps),
        formatCell(percent(r.lossShare), 2),
        formatCell(r.balancerSocketDrops),
        formatCell(r.cpuPerQueryUs),
      ]),
    ),
    '',
    `Ratios ${subjectLabel} ÷ contender, pair by pair within each round of this run (above 1: lbctl is faster):`,
    '',
    table(
      ['÷ contender', 'queries/s', 'packets/s'],
      udp.ratios.map((r) => [r.label, formatCell(r.qps, 3, '×'), formatCell(r.pps, 3, '×')]),
    ),
    '',
    'Contenders: lbctl UDP services in fullnat mode, with `--ppv2` (a PROXY v2 header with the DGRAM family ' +
      "on every client datagram, to unbound's `proxy-protocol-port`) and without (to unbound's plain port), " +
      'each from its own source address; plain forwarding (the client sends to an address both unbound ' +
      'processes listen on with `so-reuseport`, routed through the balancer namespace); nginx `stream` with ' +
      '`listen … udp` and `proxy_responses 1`, which forwards bare datagrams: nginx has no PROXY protocol ' +
      'sender for UDP, and HAProxy 2.6 (Debian 12) does not proxy UDP at all, so no userspace contender ' +
      'carries the client address over UDP.',
    '',
    'Checks per run: loss within the bound, and every lost query counted by the kernel as dropped on a ' +
      'full socket buffer somewhere (none lost on the way); every answer NOERROR. unbound refuses every address but the ' +
      "client's and the balancers' (REFUSED) and answers queries it judges by lbctl's PPv2 source address " +
      "NXDOMAIN, so a NOERROR through the PPv2 service means unbound took the client's address from that " +
      "datagram's header (a datagram without a readable header is dropped and counted lost). Before the " +
      'rounds, a query from a second, refused client address must get REFUSED through the PPv2 service and ' +
      'plain forwarding. lbctl runs: one `conn_new` per dnsperf socket, `fwd_packets` between the answered ' +
      'and the sent queries, `ppv2_udp_injected` equal to `fwd_packets` with PPv2 and zero without, and no ' +
      'drop or failure counter moved.',
    '',
  ];
}
