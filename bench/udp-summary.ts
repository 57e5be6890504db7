/**
 * The UDP scenario's figures: per contender the median and min–max of queries/s, packets/s, loss and CPU
 * per query; the ratios of lbctl UDP fullnat+PPv2 to each contender, pair by pair within a round. Pure.
 */
import { type ContenderId, SUBJECT } from './plan.js';
import { pairwiseRatios, type RoundValue, type Spread, spread } from './stats.js';
import type { UdpMeasurement } from './udp-measure.js';
import { UDP_SCENARIO, type UdpContenderSpec, type UdpScenarioSpec } from './udp-plan.js';

export interface UdpContenderResult {
  contender: ContenderId;
  label: string;
  ppv2: boolean;
  qps: Spread;
  pps: Spread;
  lossShare: Spread;
  cpuPerQueryUs: Spread;
  /** Datagrams dropped on full socket buffers per run, in the balancer namespace (a proxy's socket). */
  balancerSocketDrops: Spread;
  failedRounds: number[];
}

export interface UdpRatio {
  contender: ContenderId;
  label: string;
  /** Subject ÷ contender, queries/s. */
  qps: Spread;
  /** Subject ÷ contender, client-side packets/s. */
  pps: Spread;
  perRound: RoundValue[];
}

export interface UdpSummary {
  scenario: UdpScenarioSpec;
  results: UdpContenderResult[];
  ratios: UdpRatio[];
  measurements: UdpMeasurement[];
}

const series = (ms: readonly UdpMeasurement[], pick: (m: UdpMeasurement) => number): RoundValue[] =>
  ms.map((m) => ({ round: m.round, value: pick(m) }));

/** Why a UDP measurement does not count; empty when it does. */
export function udpFailureReasons(m: UdpMeasurement): string[] {
  const reasons = m.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
  if (reasons.length === 0 && !Number.isFinite(m.qps)) reasons.push('no result');
  return reasons;
}

export function summarizeUdp(
  contenders: readonly UdpContenderSpec[],
  measurements: readonly UdpMeasurement[],
): UdpSummary {
  const counted = (id: ContenderId) =>
    measurements.filter((m) => m.contender === id && udpFailureReasons(m).length === 0);
  const results = contenders.map((c): UdpContenderResult => {
    const ms = counted(c.id);
    return {
      contender: c.id,
      label: c.label,
      ppv2: c.ppv2,
      qps: spread(ms.map((m) => m.qps)),
      pps: spread(ms.map((m) => m.pps)),
      lossShare: spread(ms.map((m) => m.lossShare)),
      cpuPerQueryUs: spread(ms.map((m) => m.cpuPerQueryUs)),
      balancerSocketDrops: spread(ms.map((m) => m.socketDrops?.balancer ?? Number.NaN)),
      failedRounds: measurements
        .filter((m) => m.contender === c.id && udpFailureReasons(m).length > 0)
        .map((m) => m.round),
    };
  });
  const subject = counted(SUBJECT);
  const ratios = contenders
    .filter((c) => c.id !== SUBJECT)
    .map((c): UdpRatio => {
      const other = counted(c.id);
      const qps = pairwiseRatios(
        series(subject, (m) => m.qps),
        series(other, (m) => m.qps),
      );
      const pps = pairwiseRatios(
        series(subject, (m) => m.pps),
        series(other, (m) => m.pps),
      );
      return {
        contender: c.id,
        label: c.label,
        qps: spread(qps.map((r) => r.value)),
        pps: spread(pps.map((r) => r.value)),
        perRound: qps,
      };
    });
  return { scenario: UDP_SCENARIO, results, ratios, measurements: [...measurements] };
}
