/**
 * One measurement: one contender, one scenario, one round. Samples the counters around a wrk run, checks
 * the backends' logs and (for lbctl) the datapath's counters, and turns it all into one record.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ProgInfo } from '../src/bpf/prog-info.js';
import type { Counters } from '../src/bpf/records.js';
import { sha256File } from '../src/lab/nginx.js';
import { run } from '../src/sys/run.js';
import { collectAccessLogs, type LogScan } from './backend-log.js';
import {
  backendChecks,
  type Check,
  type DatapathSample,
  datapathChecks,
  heldConnectionsCheck,
  uploadBytesCheck,
  uploadCheck,
  wrkChecks,
} from './checks.js';
import { type LbctlBalancer, targetUrl, usesPpv2Backends } from './contenders.js';
import { type BenchLab, removeUploads } from './lab.js';
import {
  type CpuDelta,
  counterDelta,
  cpuDelta,
  foreignCpuUs,
  namespaceProcesses,
  type ProgramDelta,
  processCpuDeltaUs,
  processesCpuUs,
  programDelta,
  programStats,
  readCpuTimes,
  tcpCountersOf,
} from './metrics.js';
import type { ContenderId, ContenderSpec, ScenarioId, ScenarioSpec } from './plan.js';
import { runWrk, uploadBody, WrkError, type WrkResult } from './wrk.js';

export interface Measurement {
  round: number;
  contender: ContenderId;
  scenario: ScenarioId;
  /** The scenario's primary metric (conn/s, req/s or MB/s; MB = 10^6 bytes). */
  value: number;
  unit: ScenarioSpec['unit'];
  /** Units of work done: connections, requests or MB. */
  work: number;
  wrk: Omit<WrkResult, 'exact'>;
  cpu: CpuDelta & {
    /** CPU used by processes outside the benchmark's namespaces (the machine is shared), µs. */
    foreignUs: number;
    /** Share of all cores' time those other processes used during the run (0..1). */
    foreignShare: number;
    /** Busy CPU less the foreign processes', per unit of work, µs. */
    perUnitUs: number;
    /** CPU of the processes in the balancer namespace (the proxies; none for kernel-only contenders). */
    balancerProcessUs: number;
    balancerProcessPerUnitUs: number;
  };
  client: { activeOpens: number; retransSegs: number };
  /** Whether the kernel's BPF run-time statistics were on (something else may have switched them on). */
  bpfStatsOn: boolean;
  backends: Omit<LogScan, 'lastUploadFile'>;
  datapath?: DatapathSample & { program?: ProgramDelta };
  checks: Check[];
  ok: boolean;
  /** For a measurement that did not complete: what was seen while wrk was overdue. */
  diagnostics?: string;
}

export interface MeasureContext {
  lab: BenchLab;
  lbctl: LbctlBalancer | undefined;
  threads: number;
  durationS: number;
  /** Processes in the balancer namespace (the proxies), listed once after they started. */
  balancerPids: number[];
  /** Sample the datapath programs' run-time statistics (the profiling pass, with BPF stats enabled). */
  programIds?: number[];
}

const uploadDigests = new Map<number, { size: number; sha256: string }>();

function expectedUpload(size: number): { size: number; sha256: string } {
  let d = uploadDigests.get(size);
  if (!d) {
    d = { size, sha256: createHash('sha256').update(uploadBody(size)).digest('hex') };
    uploadDigests.set(size, d);
  }
  return d;
}

function countersDelta(before: Counters, after: Counters): Record<string, number> {
  return Object.fromEntries(
    Object.keys(after).map((k) => [k, Number(after[k as keyof Counters] - before[k as keyof Counters])]),
  );
}

export async function measure(
  ctx: MeasureContext,
  round: number,
  contender: ContenderSpec,
  scenario: ScenarioSpec,
): Promise<Measurement> {
  const { lab } = ctx;
  const isLbctl = contender.kind === 'lbctl';
  const lbctl = isLbctl ? ctx.lbctl : undefined;
  if (isLbctl && !lbctl?.attached) throw new Error(`${contender.id}: lbctl is not attached`);
  const logFiles = lab.backends.map((b) => (usesPpv2Backends(contender) ? b.ppv2 : b.plain).accessLogFile);

  const exclude = new Set([process.pid]);
  const bpfStatsOn = readFileSync('/proc/sys/kernel/bpf_stats_enabled', 'utf8').trim() === '1';
  const snmpBefore = tcpCountersOf(lab.clientWitnessPid);
  const procBefore = processesCpuUs(ctx.balancerPids);
  const foreignBefore = foreignCpuUs(lab.netnsInodes, exclude);
  const countersBefore = lbctl?.counters(contender.id);
  const progBefore: ProgInfo[] | undefined = ctx.programIds ? programStats(ctx.programIds) : undefined;
  const cpuBefore = readCpuTimes();

  const { result: w } = await runWrk({
    netns: lab.topo.ns.client,
    url: targetUrl(contender, scenario),
    threads: ctx.threads,
    connections: scenario.connections,
    durationS: ctx.durationS,
    workDir: lab.workDir,
    request: {
      method: scenario.method,
      close: scenario.close,
      bodyBytes: scenario.bodyBytes,
    },
    diagnose: () => diagnoseOverdue(ctx, contender),
  });

  const cpuAfter = readCpuTimes();
  const progAfter = ctx.programIds ? programStats(ctx.programIds) : undefined;
  const procAfter = processesCpuUs(ctx.balancerPids);
  const foreignAfter = foreignCpuUs(lab.netnsInodes, exclude);
  // Let the last segments of the connections wrk dropped on exit cross the balancer and get logged.
  await sleep(100);
  const countersAfter = lbctl?.counters(contender.id);
  const snmpAfter = tcpCountersOf(lab.clientWitnessPid);
  const scan = await collectAccessLogs(logFiles, lab.clientAddress);

  const checks: Check[] = [
    ...wrkChecks(w),
    ...backendChecks(scan, {
      wrkRequests: w.requests,
      connections: scenario.connections,
      expectClientAddress: contender.proxyHeader !== null,
    }),
  ];
  if (scenario.bodyBytes !== undefined) {
    let received: { size: number; sha256: string } | undefined;
    if (scan.lastUploadFile) {
      received = {
        size: (await stat(scan.lastUploadFile)).size,
        sha256: await sha256File(scan.lastUploadFile),
      };
    }
    checks.push(
      uploadCheck(received, expectedUpload(scenario.bodyBytes)),
      uploadBytesCheck(scan.uploadBytes, {
        wrkRequests: w.requests,
        bodyBytes: scenario.bodyBytes,
        connections: scenario.connections,
      }),
    );
    await removeUploads(lab);
  }

  if (lbctl && contender.table)
    checks.push(heldConnectionsCheck(lbctl.heldConnections(), contender.table.heldConnections));

  const activeOpens = counterDelta(snmpBefore, snmpAfter, 'ActiveOpens');
  let datapath: Measurement['datapath'];
  if (countersBefore && countersAfter) {
    const counters = countersDelta(countersBefore, countersAfter);
    datapath = {
      connNew: counters.conn_new ?? 0,
      ppv2Injected: counters.ppv2_injected ?? 0,
      ppv2Reinjected: counters.ppv2_reinjected ?? 0,
      counters,
      program: progBefore && progAfter ? programDelta(progBefore, progAfter) : undefined,
    };
    checks.push(
      ...datapathChecks(datapath, {
        ppv2: contender.proxyHeader !== null,
        clientActiveOpens: activeOpens,
        connections: scenario.connections,
        wrkRequests: w.requests,
        oneRequestPerConnection: scenario.close,
      }),
    );
  }

  const work = workDone(scenario, w, scan);
  const cpu = cpuDelta(cpuBefore, cpuAfter);
  const balancerProcessUs = processCpuDeltaUs(procBefore, procAfter);
  const foreignUs = processCpuDeltaUs(foreignBefore, foreignAfter);
  const allCoresUs = cpu.utilisation > 0 ? cpu.busyUs / cpu.utilisation : 0;
  const { exact: _exact, ...wrk } = w;
  return {
    round,
    contender: contender.id,
    scenario: scenario.id,
    value: w.durationS > 0 ? work / w.durationS : 0,
    unit: scenario.unit,
    work,
    wrk,
    cpu: {
      ...cpu,
      foreignUs,
      foreignShare: allCoresUs > 0 ? foreignUs / allCoresUs : 0,
      perUnitUs: work > 0 ? Math.max(0, cpu.busyUs - foreignUs) / work : Number.NaN,
      balancerProcessUs,
      balancerProcessPerUnitUs: work > 0 ? balancerProcessUs / work : Number.NaN,
    },
    client: { activeOpens, retransSegs: counterDelta(snmpBefore, snmpAfter, 'RetransSegs') },
    bpfStatsOn,
    backends: {
      lines: scan.lines,
      byStatus: scan.byStatus,
      withClientAddress: scan.withClientAddress,
      uploadBytes: scan.uploadBytes,
    },
    datapath,
    checks,
    ok: checks.every((c) => c.ok),
  };
}

/**
 * Units of work in a run: connections (= responses, one per connection), requests, or MB moved, as
 * measured: for downloads the response bytes wrk read, for uploads the request bytes the backends read
 * (their access logs), not wrk's request count times the body size (uploadBytesCheck compares the two).
 */
export function workDone(
  scenario: ScenarioSpec,
  w: Pick<WrkResult, 'requests' | 'bytesRead'>,
  backends: Pick<LogScan, 'uploadBytes'>,
): number {
  switch (scenario.workUnit) {
    case 'connection':
    case 'request':
      return w.requests;
    case 'MB':
      return (scenario.bodyBytes !== undefined ? backends.uploadBytes : w.bytesRead) / 1e6;
  }
}

/**
 * The record of a measurement that could not complete (wrk failed or hung, a sample could not be taken):
 * no numbers, one failed check that says why. The run goes on, and its report shows the failure.
 */
export function failedMeasurement(
  round: number,
  contender: ContenderSpec,
  scenario: ScenarioSpec,
  error: unknown,
): Measurement {
  const diagnostics = error instanceof WrkError ? error.diagnosis : undefined;
  const summary = diagnostics?.split('\n')[0];
  const detail = `${error instanceof Error ? error.message : String(error)}${summary ? ` [${summary}]` : ''}`;
  const check: Check = { name: 'measurement completed', ok: false, detail };
  return {
    round,
    contender: contender.id,
    scenario: scenario.id,
    value: Number.NaN,
    unit: scenario.unit,
    work: 0,
    wrk: {
      threads: 0,
      connections: scenario.connections,
      requests: 0,
      durationS: 0,
      bytesRead: 0,
      requestsPerSec: 0,
      latencyUs: {},
      errors: { connect: 0, read: 0, write: 0, timeout: 0, status: 0 },
    },
    cpu: {
      busyUs: 0,
      userUs: 0,
      systemUs: 0,
      softirqUs: 0,
      utilisation: 0,
      foreignUs: 0,
      foreignShare: Number.NaN,
      perUnitUs: Number.NaN,
      balancerProcessUs: 0,
      balancerProcessPerUnitUs: Number.NaN,
    },
    client: { activeOpens: 0, retransSegs: 0 },
    bpfStatsOn: false,
    backends: { lines: 0, byStatus: {}, withClientAddress: 0, uploadBytes: 0 },
    checks: [check],
    ok: false,
    diagnostics,
  };
}

/**
 * What to record when wrk runs well past its duration: the state and kernel stacks of the processes in
 * the client namespace (wrk's threads), the client's TCP sockets, and lbctl's counters.
 */
async function diagnoseOverdue(ctx: MeasureContext, contender: ContenderSpec): Promise<string> {
  const { lab } = ctx;
  const out: string[] = [];
  const states: string[] = [];
  for (const pid of await namespaceProcesses(lab.topo.ns.client)) {
    if (pid === lab.clientWitnessPid) continue;
    const read = (path: string) => {
      try {
        return readFileSync(path, 'utf8').trim();
      } catch {
        return '?';
      }
    };
    const stat = read(`/proc/${pid}/stat`);
    const comm = /\(([^)]*)\)/.exec(stat)?.[1] ?? '?';
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? '?';
    states.push(`${comm} pid ${pid} state ${state} wchan ${read(`/proc/${pid}/wchan`)}`);
    let tids: string[] = [];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      // exited
    }
    for (const tid of tids)
      out.push(`--- ${comm} task ${tid} kernel stack:`, read(`/proc/${pid}/task/${tid}/stack`));
  }
  const ss = await run('ss', ['-tinm'], { netns: lab.topo.ns.client, allowFailure: true, timeoutMs: 5_000 });
  out.push('--- ss -tinm (client namespace):', ss.stdout.split('\n').slice(0, 80).join('\n'));
  // A SYN that meets a backend's TIME_WAIT of an earlier connection on the same tuple gets a bare ACK.
  const tw = await run('ss', ['-tn', 'state', 'time-wait'], {
    netns: lab.topo.ns.backends,
    allowFailure: true,
    timeoutMs: 5_000,
  });
  const twLines = tw.stdout
    .split('\n')
    .slice(1)
    .filter((l) => l.trim() !== '');
  out.push(`--- backends: ${twLines.length} TIME_WAIT sockets; first lines:`, twLines.slice(0, 5).join('\n'));
  if (contender.kind === 'lbctl' && ctx.lbctl?.attached) {
    const counters = ctx.lbctl.counters(contender.id);
    const moved = Object.entries(counters).filter(([, v]) => v !== 0n);
    out.push(`--- lbctl counters of ${contender.id}: ${moved.map(([k, v]) => `${k} ${v}`).join(', ')}`);
  }
  out.push(`--- /proc/loadavg: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
  return [`overdue: ${states.join('; ') || 'no process left in the client namespace'}`, ...out].join('\n');
}
