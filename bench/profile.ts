/**
 * The profiling pass, after the measured rounds: the same lbctl runs again with the kernel's BPF run-time
 * statistics switched on (they cost two clock reads per program run, which is why the measured rounds run
 * without them), giving the datapath's own ns per packet and CPU per connection; the conntrack map's
 * memory; and, where `perf` works, a system-wide sampled profile of the short-connection run.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { enableRunTimeStats, progInfoById } from '../src/bpf/prog-info.js';
import { findExecutable, run } from '../src/sys/run.js';
import type { LbctlBalancer } from './contenders.js';
import { type MeasureContext, type Measurement, measure } from './measure.js';
import { type ConntrackMemory, estimateConntrackMemory, mapMemory } from './metrics.js';
import { type BenchPlan, type ContenderId, type ContenderSpec, type ScenarioId, SUBJECT } from './plan.js';

export interface ProfileRow {
  contender: ContenderId;
  scenario: ScenarioId;
  /** Program runs (packets seen at tc ingress on both interfaces) and the ns they took. */
  runs: number;
  runTimeNs: number;
  nsPerPacket: number;
  /** Packets through the datapath per unit of work (connection, request or MB). */
  packetsPerUnit: number;
  /** Datapath CPU per unit of work, µs. */
  bpfUsPerUnit: number;
}

export interface PerfShare {
  name: string;
  /** Percent of the samples it is a share of. */
  percent: number;
}

export interface PerfProfile {
  command: string;
  /** Samples in the benchmark's processes (wrk, nginx, haproxy) and in idle/softirq threads. */
  samples: number;
  /** Of those, samples inside lbctl's program (its code and the helpers it called), percent. */
  datapathPercent: number;
  /** Samples in the conntrack janitor's sweeps (a bpf_timer callback: timer softirq, not tc). */
  janitorPercent: number;
  idlePercent: number;
  /** Where the datapath's samples went, by kind of work, percent of the datapath's samples. */
  datapathBreakdown: PerfShare[];
  /** Busiest leaf symbols over all those samples, percent. */
  top: PerfShare[];
}

/** One conntrack table the profiled contenders ran on: its memory and what it held besides their load. */
export interface ConntrackTable {
  contenders: ContenderId[];
  heldConnections: number;
  memory: ConntrackMemory;
}

export interface ProfileResult {
  durationS: number;
  programs: Array<{ id: number; name: string; tag: string; verifiedInsns: number }>;
  rows: ProfileRow[];
  measurements: Measurement[];
  /** The default table first, then any other size a contender asked for. */
  conntrack: ConntrackTable[];
  perf?: PerfProfile;
}

export async function profileDatapath(
  ctx: MeasureContext & { lbctl: LbctlBalancer },
  plan: BenchPlan,
  log: (line: string) => void,
): Promise<ProfileResult> {
  const durationS = Math.min(plan.durationS, plan.quick ? 1 : 2);
  const rows: ProfileRow[] = [];
  const measurements: Measurement[] = [];
  const conntrack: ConntrackTable[] = [];
  const programs: ProfileResult['programs'] = [];
  let perf: PerfProfile | undefined;
  const disable = enableRunTimeStats();
  try {
    // Quick runs profile the subject only, to stay within their time budget.
    const profiled = plan.contenderSpecs.filter(
      (c) => c.kind === 'lbctl' && (!plan.quick || c.id === SUBJECT),
    );
    for (const spec of profiled) {
      await ctx.lbctl.prepareFor(spec);
      const ids = await ctx.lbctl.programIds();
      if (programs.length === 0) programs.push(...ids.map(programOf));
      await noteTable(conntrack, ctx.lbctl, spec);
      for (const scenario of plan.scenarioSpecs) {
        const run = { ...ctx, durationS, programIds: ids };
        const withPerf = !plan.quick && spec.id === SUBJECT && scenario.id === 'short';
        const [m, p] = await Promise.all([
          measure(run, 0, spec, scenario),
          withPerf ? perfRecord(durationS, ctx.lab.workDir) : Promise.resolve(undefined),
        ]);
        if (p) perf = p;
        measurements.push(m);
        const program = m.datapath?.program;
        // A failed run's figures are not shown: the report lists it under the failed measurements.
        if (!program || !m.ok) continue;
        const row: ProfileRow = {
          contender: spec.id,
          scenario: scenario.id,
          runs: program.runs,
          runTimeNs: program.runTimeNs,
          nsPerPacket: program.runs > 0 ? program.runTimeNs / program.runs : Number.NaN,
          packetsPerUnit: m.work > 0 ? program.runs / m.work : Number.NaN,
          bpfUsPerUnit: m.work > 0 ? program.runTimeNs / 1e3 / m.work : Number.NaN,
        };
        rows.push(row);
        log(
          `profile ${spec.id.padEnd(18)} ${scenario.id.padEnd(9)} ${row.nsPerPacket.toFixed(0)} ns/packet, ` +
            `${row.packetsPerUnit.toFixed(1)} packets and ${row.bpfUsPerUnit.toFixed(2)} µs BPF per ${scenario.workUnit}`,
        );
      }
    }
  } finally {
    disable();
  }
  return { durationS, programs, rows, measurements, conntrack, perf };
}

function programOf(id: number): ProfileResult['programs'][number] {
  const info = progInfoById(id);
  return { id, name: info.name, tag: info.tag, verifiedInsns: info.verifiedInsns };
}

/** Record the table `spec` runs on, once per size. */
async function noteTable(tables: ConntrackTable[], lbctl: LbctlBalancer, spec: ContenderSpec): Promise<void> {
  const memory = estimateConntrackMemory(await mapMemory(lbctl.conntrackPinPath()));
  const same = tables.find((t) => t.memory.maxEntries === memory.maxEntries);
  if (same) same.contenders.push(spec.id);
  else tables.push({ contenders: [spec.id], heldConnections: spec.table?.heldConnections ?? 0, memory });
}

/**
 * `perf record` system-wide on the software clock (VMs often have no hardware counters) with call chains,
 * so time spent in helpers can be attributed to the lbctl program that called them.
 */
async function perfRecord(durationS: number, workDir: string): Promise<PerfProfile | undefined> {
  if (!(await findExecutable('perf'))) return undefined;
  const dir = await mkdtemp(join(workDir, 'perf-'));
  const data = join(dir, 'perf.data');
  const args = [
    'record',
    '-e',
    'cpu-clock',
    '-F',
    '999',
    '-a',
    '-g',
    '-o',
    data,
    '--',
    'sleep',
    String(durationS),
  ];
  try {
    const rec = await run('perf', args, { allowFailure: true, timeoutMs: (durationS + 30) * 1000 });
    if (rec.code !== 0) return undefined;
    const script = await run('perf', ['script', '-i', data, '-F', 'comm,pid,ip,sym'], {
      allowFailure: true,
      timeoutMs: 120_000,
    });
    if (script.code !== 0) return undefined;
    return {
      command: `perf ${args.join(' ').replace(data, 'perf.data')}`,
      ...analysePerfScript(script.stdout),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Processes whose samples count: the benchmark's own (by name; the machine may run others) and idle. */
const OUR_COMMS = /^(wrk|nginx|haproxy|swapper|ksoftirqd\/\d+)$/;

const CATEGORIES: Array<[string, RegExp]> = [
  ['program code (JIT)', /^bpf_prog_/],
  ['route lookup (bpf_fib_lookup)', /fib|dev_get_by_index|is_skb_forwardable/],
  ['conntrack map lookups and updates', /htab|lru|lookup_nulls_elem|memcmp|spin_(un)?lock/],
  [
    'packet reads, writes and checksums',
    /csum|store_bytes|load_bytes|memcpy|memmove|skb_ensure_writable|skb_copy_bits|pskb|adjust_room|skb_pull/,
  ],
  ['clock reads', /tsc|ktime/],
  ['bpf_redirect_neigh', /redirect/],
];

function category(symbol: string): string {
  return CATEGORIES.find(([, re]) => re.test(symbol))?.[0] ?? 'other';
}

function shares(counts: Map<string, number>, total: number, limit: number): PerfShare[] {
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([name, n]) => ({ name, percent: total > 0 ? (n * 100) / total : 0 }));
}

/**
 * Analyse `perf script -F comm,pid,ip,sym` output with call chains: a sample is a "COMM PID" line followed
 * by one tab-indented "ADDRESS SYMBOL+OFFSET" line per frame, leaf first. A sample is the datapath's when
 * an lbctl program (`bpf_prog_<tag>_lbctl_ingress`) is on its chain. The JIT's symbol carries the tag of
 * the program's first function, not the program tag bpftool shows, and every instance loaded from the same
 * object shares it, so the processes are what tells this run's samples from another balancer's.
 */
export function analysePerfScript(text: string): Omit<PerfProfile, 'command'> {
  const program = /^bpf_prog_[0-9a-f]+_lbctl_ingress$/;
  let samples = 0;
  let datapath = 0;
  let janitor = 0;
  let idle = 0;
  const leaves = new Map<string, number>();
  const kinds = new Map<string, number>();
  for (const block of text.split(/\n\s*\n/)) {
    const lines = block.split('\n').filter((l) => l.trim() !== '');
    const head = lines[0];
    if (!head || head.startsWith('\t')) continue;
    const comm = head.trim().split(/\s+/).slice(0, -1).join(' ');
    if (!OUR_COMMS.test(comm)) continue;
    const frames = lines.slice(1).map((l) => (l.trim().split(/\s+/)[1] ?? '').replace(/\+0x[0-9a-f]+$/, ''));
    const leaf = frames[0] ?? '[unknown]';
    samples += 1;
    leaves.set(leaf, (leaves.get(leaf) ?? 0) + 1);
    if (/safe_halt|default_idle|cpu_idle|acpi_idle|poll_idle|intel_idle/.test(leaf)) idle += 1;
    if (frames.includes('bpf_timer_cb')) janitor += 1;
    if (frames.some((f) => program.test(f))) {
      datapath += 1;
      const kind = category(leaf);
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    }
  }
  return {
    samples,
    datapathPercent: samples > 0 ? (datapath * 100) / samples : 0,
    janitorPercent: samples > 0 ? (janitor * 100) / samples : 0,
    idlePercent: samples > 0 ? (idle * 100) / samples : 0,
    datapathBreakdown: shares(kinds, datapath, CATEGORIES.length + 1),
    top: shares(leaves, samples, 20),
  };
}
