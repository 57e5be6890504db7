/**
 * The UDP scenario's rounds, after the TCP ones in the same run: its backends and proxy are started, every
 * contender is probed, then the contenders take turns round by round as in the TCP scenarios (A B C, C B A,
 * …), lbctl existing only while it is measured and attached afresh every round.
 */
import type { Cleanup } from './cleanup.js';
import type { LbctlBalancer } from './contenders.js';
import type { BenchLab } from './lab.js';
import { type BenchPlan, type ContenderId, turnOrder } from './plan.js';
import { startNginxUdpProxy, startUdpLab } from './udp-lab.js';
import {
  failedUdpMeasurement,
  measureUdp,
  probeUdpContender,
  setUpLbctlUdp,
  type UdpMeasurement,
} from './udp-measure.js';
import { udpContenders } from './udp-plan.js';

export async function runUdpScenario(
  lab: BenchLab,
  lbctl: LbctlBalancer | undefined,
  plan: Pick<BenchPlan, 'contenders' | 'rounds' | 'threads' | 'durationS'>,
  cleanup: Cleanup,
  log: (line: string) => void,
): Promise<UdpMeasurement[]> {
  const contenders = udpContenders(plan.contenders);
  if (contenders.length === 0) return [];
  const udp = await startUdpLab(lab, cleanup);
  log(`UDP: unbound on ${udp.backends.map((b) => `${b.address} (pid ${b.pid})`).join(', ')}`);
  if (contenders.some((c) => c.kind === 'nginx-stream')) {
    const nginx = await startNginxUdpProxy(lab, udp, plan.threads, cleanup);
    log(`UDP: nginx stream udp (pid ${nginx.daemon.pid})`);
  }
  const wantsLbctl = contenders.some((c) => c.kind === 'lbctl');
  if (wantsLbctl && !lbctl) throw new Error('UDP: lbctl contenders without lbctl');
  let services: Map<ContenderId, number> | undefined;
  if (lbctl && wantsLbctl) services = await setUpLbctlUdp(lbctl, udp);
  for (const spec of contenders) {
    if (spec.kind !== 'lbctl' && services) {
      await lbctl?.remove();
      services = undefined;
    }
    await probeUdpContender(spec, lab, udp);
  }
  log('UDP: every contender answered, and refused a refused client where it sees the client');

  const ctx = { lab, udp, lbctl, threads: plan.threads, durationS: plan.durationS };
  const measurements: UdpMeasurement[] = [];
  for (let round = 1; round <= plan.rounds; round += 1) {
    // A fresh flow table every round: the first lbctl contender of the round attaches anew.
    await lbctl?.remove();
    services = undefined;
    for (const spec of turnOrder(contenders, round)) {
      if (cleanup.interrupted) throw new Error('interrupted');
      if (spec.kind === 'lbctl' && !services && lbctl) services = await setUpLbctlUdp(lbctl, udp);
      if (spec.kind !== 'lbctl' && services) {
        await lbctl?.remove();
        services = undefined;
      }
      let m: UdpMeasurement;
      try {
        m = await measureUdp({ ...ctx, lbctlServices: services }, round, spec);
      } catch (err) {
        if (cleanup.interrupted) throw err;
        m = failedUdpMeasurement(round, spec, err);
      }
      measurements.push(m);
      const failed = m.checks.filter((c) => !c.ok);
      log(
        `round ${round} udp       ${spec.id.padEnd(18)} ${m.qps.toFixed(0).padStart(9)} q/s` +
          `  ${m.pps.toFixed(0)} pkt/s  lost ${m.dnsperf.lost}/${m.dnsperf.sent}` +
          ` (socket drops: client ${m.socketDrops.client}, balancer ${m.socketDrops.balancer}, backends ${m.socketDrops.backends})` +
          `  cpu ${m.cpuPerQueryUs.toFixed(1)} µs/query` +
          (failed.length > 0 ? `  FAILED: ${failed.map((c) => `${c.name} (${c.detail})`).join('; ')}` : ''),
      );
    }
  }
  await lbctl?.remove();
  return measurements;
}
