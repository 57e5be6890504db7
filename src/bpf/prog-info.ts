/**
 * What the kernel reports about a loaded BPF program: id, name, and the run-time statistics behind the
 * "ns per packet" figure. The kernel only accumulates run_time_ns/run_cnt while BPF statistics are
 * enabled, which enableRunTimeStats() does for as long as its fd stays open.
 */
import { closeSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import koffi from 'koffi';
import { LbctlError } from '../errors.js';
import { BPF_STATS_RUN_TIME, BpfProgInfo, check, cString, libbpf, libbpfError, toBigInt } from './libbpf.js';

export interface ProgInfo {
  id: number;
  /** enum bpf_prog_type (3 = SCHED_CLS). */
  type: number;
  /** Kernel name, at most 15 characters. */
  name: string;
  /** The program's 8-byte tag in hex, as bpftool shows it. */
  tag: string;
  /** Total ns spent in the program while statistics were enabled. */
  runTimeNs: bigint;
  /** Number of runs while statistics were enabled. */
  runCnt: bigint;
  verifiedInsns: number;
}

/** Program info for a program fd. */
export function progInfoByFd(fd: number): ProgInfo {
  const raw = readProgInfo(fd, Buffer.alloc(BpfProgInfo.size));
  return {
    id: raw.id as number,
    type: raw.type as number,
    name: cString(raw.name),
    tag: Buffer.from(raw.tag as number[]).toString('hex'),
    runTimeNs: toBigInt(raw.run_time_ns as number | bigint),
    runCnt: toBigInt(raw.run_cnt as number | bigint),
    verifiedInsns: raw.verified_insns as number,
  };
}

/** Program info by kernel id (e.g. the id tc reports). An unknown id is NOT_FOUND. */
export function progInfoById(id: number): ProgInfo {
  return withProgFd(id, progInfoByFd);
}

function withProgFd<T>(id: number, fn: (fd: number) => T): T {
  const fd = libbpf().bpf_prog_get_fd_by_id(id);
  if (fd < 0) {
    if (fd === -2) throw new LbctlError('NOT_FOUND', `no BPF program with id ${id}`);
    throw libbpfError(`open BPF program id ${id}`, fd);
  }
  try {
    return fn(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * The ids of the maps a loaded program uses (bpf_prog_info.map_ids), e.g. to tell whether a program tc runs
 * is the one holding an instance's pinned maps. Two calls: the first learns how many, the second has the
 * kernel write them to native memory (a JS Buffer would be copied, not written through). An unknown
 * program id is NOT_FOUND.
 */
export function progMapIds(id: number): number[] {
  return withProgFd(id, (fd) => {
    const count = readProgInfo(fd, Buffer.alloc(BpfProgInfo.size)).nr_map_ids as number;
    if (count === 0) return [];
    const ids = koffi.alloc('uint32', count);
    try {
      const request = Buffer.alloc(BpfProgInfo.size);
      request.writeUInt32LE(count, koffi.offsetof(BpfProgInfo, 'nr_map_ids'));
      request.writeBigUInt64LE(toBigInt(koffi.address(ids)), koffi.offsetof(BpfProgInfo, 'map_ids'));
      const written = Math.min(count, readProgInfo(fd, request).nr_map_ids as number);
      return (koffi.decode(ids, koffi.array('uint32', count, 'Array')) as number[]).slice(0, written);
    } finally {
      koffi.free(ids);
    }
  });
}

function readProgInfo(fd: number, buf: Buffer): Record<string, unknown> {
  const len = new Uint32Array([buf.length]);
  check(`read info of BPF program fd ${fd}`, libbpf().bpf_obj_get_info_by_fd(fd, buf, len));
  return koffi.decode(buf, BpfProgInfo) as Record<string, unknown>;
}

/**
 * Average ns per run between two samples of the same program (or since load, given one sample);
 * undefined when it did not run in between.
 */
export function nsPerRun(current: ProgInfo, previous?: ProgInfo): number | undefined {
  const runs = current.runCnt - (previous?.runCnt ?? 0n);
  if (runs <= 0n) return undefined;
  return Number(current.runTimeNs - (previous?.runTimeNs ?? 0n)) / Number(runs);
}

/**
 * Turn on run_time_ns/run_cnt accounting (BPF_ENABLE_STATS), system-wide, until the returned disposer is
 * called or the process exits. Accounting costs a little per program run, which is why the kernel keeps it
 * off by default and ties it to an fd. Needs CAP_SYS_ADMIN.
 */
export function enableRunTimeStats(): () => void {
  const fd = libbpf().bpf_enable_stats(BPF_STATS_RUN_TIME);
  if (fd < 0) {
    throw libbpfError(
      'enable BPF run-time statistics',
      fd,
      fd === -1 ? 'run as root (needs CAP_SYS_ADMIN)' : undefined,
    );
  }
  let open = true;
  return () => {
    if (!open) return;
    open = false;
    closeSync(fd);
  };
}

/** Whether the kernel counts run_cnt/run_time_ns now, and who turned it on. */
export interface RunTimeStatsSources {
  /** kernel.bpf_stats_enabled (null when unreadable). It does not show fd holders, hence `holders`. */
  sysctl: boolean | null;
  /** Processes holding a BPF_ENABLE_STATS fd ("anon_inode:bpf-stats"), e.g. a running `lbctl top`. */
  holders: number[];
  enabled: boolean;
}

/**
 * Who keeps the kernel's run-time statistics on. Without either source, program run counts stand still,
 * so what they read is stale, not a count of packets.
 */
export function runTimeStatsSources(): RunTimeStatsSources {
  let sysctl: boolean | null = null;
  try {
    sysctl = readFileSync('/proc/sys/kernel/bpf_stats_enabled', 'utf8').trim() === '1';
  } catch {
    // unreadable: say nothing about it
  }
  const holders: number[] = [];
  for (const pid of safeReaddir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    for (const fd of safeReaddir(`/proc/${pid}/fd`)) {
      let target = '';
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      if (target === 'anon_inode:bpf-stats') {
        holders.push(Number(pid));
        break;
      }
    }
  }
  return { sysctl, holders, enabled: sysctl === true || holders.length > 0 };
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
