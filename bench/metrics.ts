/**
 * What is sampled around each measurement besides wrk's numbers: machine CPU time by category
 * (/proc/stat), the CPU time of the processes in the balancer namespace (/proc/PID/stat), TCP counters of
 * a namespace (/proc/net/snmp, read from inside it), the datapath programs' run-time statistics, and the
 * conntrack map's memory (bpftool). Parsers are pure and exported for the unit tests.
 */
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { type ProgInfo, progInfoById } from '../src/bpf/prog-info.js';
import { namespacePids } from '../src/lab/topology.js';
import { run } from '../src/sys/run.js';

/** Kernel clock ticks per second for /proc times (USER_HZ; 100 on every mainstream architecture). */
let clockTicks = 100;

export async function initClockTicks(): Promise<void> {
  const res = await run('getconf', ['CLK_TCK'], { allowFailure: true });
  const n = Number(res.stdout.trim());
  if (res.code === 0 && Number.isInteger(n) && n > 0) clockTicks = n;
}

export interface CpuTimes {
  user: number;
  nice: number;
  system: number;
  idle: number;
  iowait: number;
  irq: number;
  softirq: number;
  steal: number;
}

const CPU_FIELDS: Array<keyof CpuTimes> = [
  'user',
  'nice',
  'system',
  'idle',
  'iowait',
  'irq',
  'softirq',
  'steal',
];

/** The aggregate `cpu` line of /proc/stat, in microseconds. */
export function parseProcStatCpu(text: string, ticksPerSecond = clockTicks): CpuTimes {
  const line = text.split('\n').find((l) => /^cpu\s/.test(l));
  if (!line) throw new Error('/proc/stat has no aggregate cpu line');
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const usPerTick = 1e6 / ticksPerSecond;
  const out = {} as CpuTimes;
  CPU_FIELDS.forEach((field, i) => {
    out[field] = (values[i] ?? 0) * usPerTick;
  });
  return out;
}

export function readCpuTimes(): CpuTimes {
  return parseProcStatCpu(readFileSync('/proc/stat', 'utf8'));
}

export interface CpuDelta {
  /** Busy time (everything but idle, iowait and steal), µs, summed over all CPUs. */
  busyUs: number;
  /** user + nice. */
  userUs: number;
  systemUs: number;
  /** irq + softirq: where the kernel forwards packets, and where a tc program runs. */
  softirqUs: number;
  /** Busy share of all CPUs' time over the interval (0..1). */
  utilisation: number;
}

export function cpuDelta(before: CpuTimes, after: CpuTimes): CpuDelta {
  const d = (k: keyof CpuTimes) => after[k] - before[k];
  const userUs = d('user') + d('nice');
  const systemUs = d('system');
  const softirqUs = d('irq') + d('softirq');
  const busyUs = userUs + systemUs + softirqUs;
  const total = busyUs + d('idle') + d('iowait') + d('steal');
  return { busyUs, userUs, systemUs, softirqUs, utilisation: total > 0 ? busyUs / total : 0 };
}

/** utime + stime of one process from /proc/PID/stat, in µs (threads included). */
export function parsePidStatCpuUs(text: string, ticksPerSecond = clockTicks): number {
  // Fields after the command name (which may contain spaces and parentheses): state is field 3.
  const fields = text
    .slice(text.lastIndexOf(')') + 2)
    .trim()
    .split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error('unparsable /proc/PID/stat');
  return ((utime + stime) * 1e6) / ticksPerSecond;
}

/** CPU time per PID of the given processes (processes that exited are left out). */
export function processesCpuUs(pids: readonly number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of pids) {
    try {
      out.set(pid, parsePidStatCpuUs(readFileSync(`/proc/${pid}/stat`, 'utf8')));
    } catch {
      // exited
    }
  }
  return out;
}

/** PIDs of the processes in a namespace (the proxies do not fork during a run, so this is listed once). */
export function namespaceProcesses(netns: string): Promise<number[]> {
  return namespacePids(netns);
}

/** The inode that identifies a named network namespace (`ip netns` bind-mounts it under /run/netns). */
export function netnsInode(name: string): number {
  return statSync(`/run/netns/${name}`).ino;
}

/**
 * CPU time of every user-space process outside the given network namespaces, except `exclude` (this
 * runner): the machine is shared, and this is how much of it something else used during a measurement.
 * Kernel threads are left out: ksoftirqd may be doing the benchmark's own packet processing.
 */
export function foreignCpuUs(
  ourNetns: ReadonlySet<number>,
  exclude: ReadonlySet<number>,
): Map<number, number> {
  const out = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid <= 2 || exclude.has(pid)) continue;
    try {
      const ns = /\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/ns/net`))?.[1];
      if (ns !== undefined && ourNetns.has(Number(ns))) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === 2) continue; // a kernel thread
      out.set(pid, parsePidStatCpuUs(stat));
    } catch {
      // exited, or no access to its namespace link
    }
  }
  return out;
}

/** CPU used between two samples by processes present in both. */
export function processCpuDeltaUs(before: Map<number, number>, after: Map<number, number>): number {
  let sum = 0;
  for (const [pid, us] of after) {
    const was = before.get(pid);
    if (was !== undefined) sum += us - was;
  }
  return sum;
}

/** The `Tcp:` counters of /proc/net/snmp (ActiveOpens, PassiveOpens, RetransSegs, OutRsts, ...). */
export function parseSnmpTcp(text: string): Record<string, number> {
  return parseSnmp(text, 'Tcp');
}

/** One protocol's counters from /proc/net/snmp (a line of names, then a line of values). */
export function parseSnmp(text: string, proto: 'Tcp' | 'Udp'): Record<string, number> {
  const lines = text.split('\n').filter((l) => l.startsWith(`${proto}:`));
  const [names, values] = lines.map((l) => l.trim().split(/\s+/).slice(1));
  if (!names || !values) throw new Error(`/proc/net/snmp has no ${proto} lines`);
  return Object.fromEntries(names.map((n, i) => [n, Number(values[i])]));
}

/** UDP counters of the namespace a process lives in (as tcpCountersOf). */
export function udpCountersOf(pid: number): Record<string, number> {
  return parseSnmp(readFileSync(`/proc/${pid}/net/snmp`, 'utf8'), 'Udp');
}

/**
 * TCP counters of the namespace a process lives in: /proc/PID/net is that process's namespace's view, so a
 * long-lived helper process in the namespace saves spawning a reader per sample.
 */
export function tcpCountersOf(pid: number): Record<string, number> {
  return parseSnmpTcp(readFileSync(`/proc/${pid}/net/snmp`, 'utf8'));
}

export function counterDelta(
  before: Record<string, number>,
  after: Record<string, number>,
  name: string,
): number {
  return (after[name] ?? 0) - (before[name] ?? 0);
}

/** Run-time statistics of the datapath programs (while BPF stats are enabled). */
export function programStats(ids: readonly number[]): ProgInfo[] {
  return ids.map((id) => progInfoById(id));
}

export interface ProgramDelta {
  runs: number;
  runTimeNs: number;
}

/** Runs and ns spent between two samples, summed over the programs (matched by id). */
export function programDelta(before: readonly ProgInfo[], after: readonly ProgInfo[]): ProgramDelta {
  let runs = 0;
  let runTimeNs = 0;
  for (const a of after) {
    const b = before.find((x) => x.id === a.id);
    runs += Number(a.runCnt - (b?.runCnt ?? 0n));
    runTimeNs += Number(a.runTimeNs - (b?.runTimeNs ?? 0n));
  }
  return { runs, runTimeNs };
}

export interface MapMemory {
  maxEntries: number;
  keyBytes: number;
  valueBytes: number;
  /** What the kernel charges for the map (bpftool's bytes_memlock: the preallocated elements). */
  memlockBytes: number;
}

/** `bpftool -j map show pinned PATH`, reduced to the fields the memory estimate needs. */
export function parseBpftoolMapShow(json: string): MapMemory {
  const m = JSON.parse(json) as Record<string, unknown>;
  const num = (k: string) => {
    const v = m[k];
    if (typeof v !== 'number') throw new Error(`bpftool map show: no numeric ${k}`);
    return v;
  };
  return {
    maxEntries: num('max_entries'),
    keyBytes: num('bytes_key'),
    valueBytes: num('bytes_value'),
    memlockBytes: num('bytes_memlock'),
  };
}

export async function mapMemory(pinPath: string): Promise<MapMemory> {
  const res = await run('bpftool', ['-j', 'map', 'show', 'pinned', pinPath]);
  return parseBpftoolMapShow(res.stdout);
}

export interface ConntrackMemory extends MapMemory {
  /** memlock / max_entries: what one preallocated element costs, as the kernel accounts it. */
  bytesPerEntry: number;
  /** An ORIG and a REPLY entry per connection (bpf/conntrack.h). */
  entriesPerConnection: number;
  bytesPerConnection: number;
  per100kConnectionsBytes: number;
  /** Connections the table holds; a SYN beyond them is refused (drop_ct_full). */
  capacityConnections: number;
}

/**
 * Memory of the conntrack table per connection, from the map's accounting. Nothing else is allocated per
 * connection: expiry is the janitor's sweep, not a timer per entry (bpf/conntrack.h).
 */
export function estimateConntrackMemory(map: MapMemory): ConntrackMemory {
  const entriesPerConnection = 2;
  const bytesPerEntry = map.memlockBytes / map.maxEntries;
  const bytesPerConnection = entriesPerConnection * bytesPerEntry;
  return {
    ...map,
    bytesPerEntry,
    entriesPerConnection,
    bytesPerConnection,
    per100kConnectionsBytes: bytesPerConnection * 100_000,
    capacityConnections: Math.floor(map.maxEntries / entriesPerConnection),
  };
}
