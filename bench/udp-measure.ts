/**
 * The UDP scenario's measurements: lbctl's two UDP services, a probe of every contender, and one dnsperf
 * run per contender and round with the counters sampled around it and checked (bench/udp-checks.ts).
 */
import { hostPort } from '../src/host-port.js';
import { digFrom } from '../src/lab/unbound.js';
import { run } from '../src/sys/run.js';
import type { Check } from './checks.js';
import type { LbctlBalancer } from './contenders.js';
import { type DnsperfResult, packetsPerSecond, runDnsperf } from './dnsperf.js';
import { BENCH_VIPS, type BenchLab, LBCTL_SNAT_ADDRESS, PLAIN_SHARED_ADDRESS } from './lab.js';
import {
  counterDelta,
  cpuDelta,
  foreignCpuUs,
  parseSnmp,
  processCpuDeltaUs,
  readCpuTimes,
  udpCountersOf,
} from './metrics.js';
import type { ContenderId } from './plan.js';
import { dnsperfChecks, udpDatapathChecks } from './udp-checks.js';
import { LBCTL_UDP_PLAIN_SNAT_ADDRESS, UDP_PLAIN_PORT, UDP_PPV2_PORT, type UdpLab } from './udp-lab.js';
import { UDP_SCENARIO, type UdpContenderSpec } from './udp-plan.js';

export interface UdpMeasurement {
  round: number;
  contender: ContenderId;
  scenario: typeof UDP_SCENARIO.id;
  /** Answered queries per second. */
  qps: number;
  /** Datagrams per second on the client's side (queries sent + answers received). */
  pps: number;
  /** Lost ÷ sent. */
  lossShare: number;
  dnsperf: DnsperfResult;
  /** Busy CPU of the machine less other processes', per answered query, µs. */
  cpuPerQueryUs: number;
  /** Datagrams the kernel dropped on full socket buffers (UDP RcvbufErrors) in the two end namespaces. */
  socketDrops: { client: number; balancer: number; backends: number };
  /** lbctl only: every counter's delta over the run. */
  counters?: Record<string, number>;
  checks: Check[];
  ok: boolean;
}

/** Where a contender's clients send their queries. */
export function udpTarget(spec: UdpContenderSpec): { server: string; port: number } {
  switch (spec.kind) {
    case 'lbctl':
      return {
        server: spec.ppv2 ? BENCH_VIPS.lbctlFullnatPpv2 : BENCH_VIPS.lbctlFullnat,
        port: UDP_PPV2_PORT,
      };
    case 'nginx-stream':
      return { server: BENCH_VIPS.nginxStream, port: UDP_PPV2_PORT };
    case 'plain':
      return { server: PLAIN_SHARED_ADDRESS, port: UDP_PLAIN_PORT };
  }
}

/**
 * lbctl attached with the two UDP services only (one with PPv2 towards unbound's PROXY port, one without
 * towards its plain port), each on its own source address. Returns the service id of each contender.
 */
export async function setUpLbctlUdp(lbctl: LbctlBalancer, udp: UdpLab): Promise<Map<ContenderId, number>> {
  await lbctl.remove();
  await lbctl.attach();
  const to = (port: number) => udp.backends.flatMap((b) => ['--backend', hostPort(b.address, port)]);
  const defs: Array<[ContenderId, string, string[]]> = [
    [
      'lbctl-fullnat-ppv2',
      BENCH_VIPS.lbctlFullnatPpv2,
      [...to(UDP_PPV2_PORT), '--ppv2', '--snat', LBCTL_SNAT_ADDRESS],
    ],
    [
      'lbctl-fullnat',
      BENCH_VIPS.lbctlFullnat,
      [...to(UDP_PLAIN_PORT), '--snat', LBCTL_UDP_PLAIN_SNAT_ADDRESS],
    ],
  ];
  const ids = new Map<ContenderId, number>();
  for (const [contender, vip, flags] of defs) {
    const view = await lbctl.cli<{ id: number }>([
      ...['service', 'add', `${vip}:${UDP_PPV2_PORT}`, '--protocol', 'udp', ...flags],
      ...['--name', `bench-udp-${contender.slice(6)}`],
    ]);
    ids.set(contender, view.id);
  }
  return ids;
}

/**
 * One query from an allowed and one from a refused client address before measuring. Where the backend
 * judges the client (plain forwarding, and the PPv2 header) the refused address must get REFUSED; where it
 * only sees the balancer (a proxy or fullnat without a header), both get an answer.
 */
export async function probeUdpContender(spec: UdpContenderSpec, lab: BenchLab, udp: UdpLab): Promise<void> {
  const { server, port } = udpTarget(spec);
  const seesClient = spec.ppv2 || spec.kind === 'plain';
  for (const [source, expected] of [
    [lab.clientAddress, 'NOERROR'],
    [udp.refusedClientAddress, seesClient ? 'REFUSED' : 'NOERROR'],
  ] as const) {
    const r = await digFrom(lab.topo.ns.client, server, port, source);
    if (r.status !== expected)
      throw new Error(
        `${spec.label}: a query from ${source} to ${hostPort(server, port)} got ${r.status ?? 'no answer'}, expected ${expected}`,
      );
  }
}

export interface UdpMeasureContext {
  lab: BenchLab;
  lbctl: LbctlBalancer | undefined;
  udp: UdpLab;
  /** lbctl's UDP service ids, while attached for the UDP scenario. */
  lbctlServices: Map<ContenderId, number> | undefined;
  threads: number;
  durationS: number;
}

export async function measureUdp(
  ctx: UdpMeasureContext,
  round: number,
  spec: UdpContenderSpec,
): Promise<UdpMeasurement> {
  const serviceId = spec.kind === 'lbctl' ? ctx.lbctlServices?.get(spec.id) : undefined;
  if (spec.kind === 'lbctl' && (serviceId === undefined || !ctx.lbctl?.attached))
    throw new Error(`${spec.id}: lbctl is not attached with its UDP services`);
  const counters = () => (serviceId === undefined ? undefined : ctx.lbctl?.serviceCounters(serviceId));
  const exclude = new Set([process.pid]);
  const backendPid = ctx.udp.backends[0]?.pid;
  if (backendPid === undefined) throw new Error('no unbound backend');
  const balancerUdp = async () =>
    parseSnmp((await run('cat', ['/proc/net/snmp'], { netns: ctx.lab.topo.ns.lb })).stdout, 'Udp');
  const udpBefore = {
    client: udpCountersOf(ctx.lab.clientWitnessPid),
    balancer: await balancerUdp(),
    backends: udpCountersOf(backendPid),
  };
  const countersBefore = counters();
  const foreignBefore = foreignCpuUs(ctx.lab.netnsInodes, exclude);
  const cpuBefore = readCpuTimes();
  const r = await runDnsperf({
    netns: ctx.lab.topo.ns.client,
    ...udpTarget(spec),
    clients: UDP_SCENARIO.clients,
    threads: ctx.threads,
    outstanding: UDP_SCENARIO.outstanding,
    durationS: ctx.durationS,
    timeoutS: UDP_SCENARIO.timeoutS,
    workDir: ctx.lab.workDir,
  });
  const cpu = cpuDelta(cpuBefore, readCpuTimes());
  const foreignUs = processCpuDeltaUs(foreignBefore, foreignCpuUs(ctx.lab.netnsInodes, exclude));
  const countersAfter = counters();
  const socketDrops = {
    client: counterDelta(udpBefore.client, udpCountersOf(ctx.lab.clientWitnessPid), 'RcvbufErrors'),
    balancer: counterDelta(udpBefore.balancer, await balancerUdp(), 'RcvbufErrors'),
    backends: counterDelta(udpBefore.backends, udpCountersOf(backendPid), 'RcvbufErrors'),
  };
  const checks = dnsperfChecks(r, {
    maxLossShare: UDP_SCENARIO.maxLossShare,
    ppv2: spec.ppv2,
    socketDrops: socketDrops.client + socketDrops.balancer + socketDrops.backends,
  });
  let delta: Record<string, number> | undefined;
  if (countersBefore && countersAfter) {
    delta = Object.fromEntries(
      Object.entries(countersAfter).map(([k, v]) => [
        k,
        Number(v - (countersBefore[k as keyof typeof countersBefore] ?? 0n)),
      ]),
    );
    checks.push(
      ...udpDatapathChecks(
        { counters: delta },
        { ppv2: spec.ppv2, clients: UDP_SCENARIO.clients, sent: r.sent, completed: r.completed },
      ),
    );
  }
  return {
    round,
    contender: spec.id,
    scenario: UDP_SCENARIO.id,
    qps: r.runTimeS > 0 ? r.completed / r.runTimeS : 0,
    pps: packetsPerSecond(r),
    lossShare: r.sent > 0 ? r.lost / r.sent : Number.NaN,
    dnsperf: r,
    cpuPerQueryUs: r.completed > 0 ? Math.max(0, cpu.busyUs - foreignUs) / r.completed : Number.NaN,
    socketDrops,
    counters: delta,
    checks,
    ok: checks.every((c) => c.ok),
  };
}

/** The record of a UDP run that did not complete: no numbers, one failed check that says why. */
export function failedUdpMeasurement(round: number, spec: UdpContenderSpec, error: unknown): UdpMeasurement {
  const detail = error instanceof Error ? error.message : String(error);
  return {
    round,
    contender: spec.id,
    scenario: UDP_SCENARIO.id,
    qps: Number.NaN,
    pps: Number.NaN,
    lossShare: Number.NaN,
    dnsperf: { sent: 0, completed: 0, lost: 0, rcodes: {}, runTimeS: 0, qps: 0, avgLatencyS: Number.NaN },
    cpuPerQueryUs: Number.NaN,
    socketDrops: { client: 0, balancer: 0, backends: 0 },
    checks: [{ name: 'measurement completed', ok: false, detail }],
    ok: false,
  };
}
