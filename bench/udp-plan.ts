/**
 * The UDP scenario: small DNS queries (dnsperf, many outstanding) through lbctl's UDP services with and
 * without a PROXY v2 header on every datagram, plain routed forwarding, and nginx's `stream` UDP proxy, in
 * front of two unbound backends. Its contenders reuse the TCP contenders' ids (so `--contenders` picks both
 * kinds at once and the subject is the same), with labels that say what they are over UDP. Pure data.
 */
import type { ContenderId } from './plan.js';

export const UDP_SCENARIO_ID = 'udp';

export interface UdpContenderSpec {
  id: ContenderId;
  label: string;
  kind: 'lbctl' | 'nginx-stream' | 'plain';
  /** Whether every datagram to the backend starts with a PROXY v2 header. */
  ppv2: boolean;
}

/** In measuring order: lbctl's two stay together (one attach a round serves both). */
export const UDP_CONTENDERS: readonly UdpContenderSpec[] = [
  { id: 'lbctl-fullnat-ppv2', label: 'lbctl UDP fullnat+PPv2', kind: 'lbctl', ppv2: true },
  { id: 'lbctl-fullnat', label: 'lbctl UDP fullnat', kind: 'lbctl', ppv2: false },
  // nginx has no PROXY protocol sender for UDP: its stream proxy forwards bare datagrams.
  { id: 'nginx-stream', label: 'nginx stream UDP (no PROXY header)', kind: 'nginx-stream', ppv2: false },
  { id: 'plain', label: 'plain forwarding (UDP)', kind: 'plain', ppv2: false },
];

export interface UdpScenarioSpec {
  id: typeof UDP_SCENARIO_ID;
  title: string;
  /** dnsperf clients (-c): sockets, each its own UDP flow through the balancer. */
  clients: number;
  /** dnsperf's bound on queries in flight (-q). */
  outstanding: number;
  /** Seconds after which dnsperf counts a query as lost (-t). */
  timeoutS: number;
  /** The largest share of queries that may go unanswered before the run counts as failed. */
  maxLossShare: number;
}

export const UDP_SCENARIO: UdpScenarioSpec = {
  id: UDP_SCENARIO_ID,
  title: 'UDP DNS queries (small datagrams)',
  clients: 16,
  outstanding: 256,
  timeoutS: 1,
  // 256 queries in flight from the first moment: a userspace proxy's socket overflows on that opening burst
  // and drops some (the kernel counts them; the report shows where), which is UDP working as it does. Beyond
  // 1% something is broken, not busy. lbctl and plain forwarding lose none in practice.
  maxLossShare: 0.01,
};

/** The UDP contenders among the picked ones, in measuring order. */
export function udpContenders(picked: readonly ContenderId[]): UdpContenderSpec[] {
  return UDP_CONTENDERS.filter((c) => picked.includes(c.id));
}

export function udpContenderSpec(id: ContenderId): UdpContenderSpec {
  const spec = UDP_CONTENDERS.find((c) => c.id === id);
  if (!spec) throw new Error(`${id} has no UDP contender`);
  return spec;
}
