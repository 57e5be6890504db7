/**
 * What the kernel reports about a loaded BPF program: id, name, and the run-time statistics behind the
 * "ns per packet" figure. The kernel only accumulates run_time_ns/run_cnt while BPF statistics are
 * enabled, which enableRunTimeStats() does for as long as its fd stays open.
 */
import { closeSync } from 'node:fs';
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
  const buf = Buffer.alloc(BpfProgInfo.size);
  const len = new Uint32Array([buf.length]);
  check(`read info of BPF program fd ${fd}`, libbpf().bpf_obj_get_info_by_fd(fd, buf, len));
  const raw = koffi.decode(buf, BpfProgInfo) as Record<string, unknown>;
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
  const fd = libbpf().bpf_prog_get_fd_by_id(id);
  if (fd < 0) {
    if (fd === -2) throw new LbctlError('NOT_FOUND', `no BPF program with id ${id}`);
    throw libbpfError(`open BPF program id ${id}`, fd);
  }
  try {
    return progInfoByFd(fd);
  } finally {
    closeSync(fd);
  }
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
