/**
 * Attach, detach and query lbctl's tc BPF filter (direct-action, on the clsact qdisc) through libbpf's
 * netlink helpers.
 *
 * lbctl's filter is identified by a fixed handle and priority, so a later, separate lbctl invocation finds
 * exactly its own filter and never touches filters other tools installed on the same hook.
 *
 * All of this talks netlink in the *calling thread's* network namespace: enter the target namespace first
 * (netns.ts). Interface names are resolved there too (if_nametoindex), not through /sys/class/net, which
 * shows the namespace /sys was mounted in.
 */
import koffi from 'koffi';
import { errnoError, LbctlError } from '../errors.js';
import { libc } from '../sys/libc.js';
import {
  BPF_TC_EGRESS,
  BPF_TC_F_REPLACE,
  BPF_TC_INGRESS,
  libbpf,
  libbpfError,
  OPTS_SIZE,
  type TcHookValue,
  type TcOptsValue,
} from './libbpf.js';

/** The filter handle that marks lbctl's filter ('LB'). */
export const LBCTL_TC_HANDLE = 0x4c42;
/** The filter priority (tc "pref") lbctl uses; lower runs earlier. */
export const LBCTL_TC_PRIORITY = 0x4c42;

export type TcDirection = 'ingress' | 'egress';

/** An interface by name (resolved in the current network namespace) or by ifindex. */
export type Interface = string | number;

export interface TcFilterRef {
  dev: Interface;
  direction: TcDirection;
  /** Defaults to LBCTL_TC_HANDLE. */
  handle?: number;
  /** Defaults to LBCTL_TC_PRIORITY. */
  priority?: number;
}

export interface TcAttachOptions extends TcFilterRef {
  progFd: number;
  /** Replace a filter already at this handle/priority (default true, making re-attach idempotent). */
  replace?: boolean;
}

export interface TcAttachResult {
  /** Kernel id of the attached program. */
  progId: number;
  /** True when this call created the clsact qdisc; only then may the caller remove it on detach. */
  createdClsact: boolean;
}

/** if_nametoindex in the current network namespace. An unknown interface is NOT_FOUND. */
export function ifindexByName(ifname: string): number {
  if (ifname.length === 0 || ifname.length > 15 || ifname.includes('/')) {
    throw new LbctlError(
      'USAGE',
      `invalid interface name '${ifname}'`,
      'interface names are 1-15 characters',
    );
  }
  const index = libc().if_nametoindex(ifname);
  if (index === 0) {
    const errno = koffi.errno();
    if (errno === 19 || errno === 2) {
      throw new LbctlError(
        'NOT_FOUND',
        `no network interface named ${ifname}`,
        'list interfaces with: ip link',
      );
    }
    throw errnoError(`look up interface ${ifname}`, errno);
  }
  return index;
}

function resolveDev(dev: Interface): { ifindex: number; label: string } {
  if (typeof dev === 'number') return { ifindex: dev, label: `ifindex ${dev}` };
  return { ifindex: ifindexByName(dev), label: dev };
}

function hookFor(ifindex: number, attachPoint: number): TcHookValue {
  return { sz: OPTS_SIZE.tcHook, ifindex, attach_point: attachPoint, parent: 0 };
}

function optsFor(ref: TcFilterRef, progFd = 0, flags = 0): TcOptsValue {
  const handle = ref.handle ?? LBCTL_TC_HANDLE;
  const priority = ref.priority ?? LBCTL_TC_PRIORITY;
  // tc takes any non-zero 32-bit handle, and a priority that fits the upper 16 bits of tcm_info.
  if (!Number.isInteger(handle) || handle < 1 || handle > 0xffffffff) {
    throw new LbctlError('USAGE', `invalid tc filter handle ${handle}`, 'use 1-0xffffffff');
  }
  if (!Number.isInteger(priority) || priority < 1 || priority > 0xffff) {
    throw new LbctlError('USAGE', `invalid tc filter priority ${priority}`, 'use 1-65535');
  }
  return { sz: OPTS_SIZE.tcOpts, prog_fd: progFd, flags, prog_id: 0, handle, priority };
}

const attachPoint = (direction: TcDirection) => (direction === 'ingress' ? BPF_TC_INGRESS : BPF_TC_EGRESS);

/**
 * Create the clsact qdisc on `dev`. Returns true if this call created it, false if a clsact (or ingress)
 * qdisc was already there (EEXIST): the caller must remember which, and only remove a qdisc it created.
 */
export function ensureClsact(dev: Interface): boolean {
  const { ifindex, label } = resolveDev(dev);
  const ret = libbpf().bpf_tc_hook_create(hookFor(ifindex, BPF_TC_INGRESS));
  if (ret === -17) return false;
  if (ret < 0) throw tcError(`create clsact qdisc on ${label}`, ret);
  return true;
}

/**
 * Delete the clsact qdisc on `dev`, and with it every filter on it (lbctl's and anyone else's). Only call
 * this for a qdisc ensureClsact created. Returns false when there was no clsact qdisc.
 */
export function removeClsact(dev: Interface): boolean {
  const { ifindex, label } = resolveDev(dev);
  const ret = libbpf().bpf_tc_hook_destroy(hookFor(ifindex, BPF_TC_INGRESS | BPF_TC_EGRESS));
  if (ret === -2 || ret === -22) return false;
  if (ret < 0) throw tcError(`remove clsact qdisc on ${label}`, ret);
  return true;
}

/**
 * Attach a SCHED_CLS program as lbctl's direct-action filter on `dev`, creating the clsact qdisc if needed.
 * With `replace` (the default) an existing lbctl filter is swapped atomically for the new program.
 */
export function attachTc(options: TcAttachOptions): TcAttachResult {
  const { ifindex, label } = resolveDev(options.dev);
  const opts = optsFor(options, options.progFd, options.replace === false ? 0 : BPF_TC_F_REPLACE);
  const createdClsact = ensureClsact(ifindex);
  const ret = libbpf().bpf_tc_attach(hookFor(ifindex, attachPoint(options.direction)), opts);
  if (ret < 0) {
    // Leave the interface as we found it.
    if (createdClsact) libbpf().bpf_tc_hook_destroy(hookFor(ifindex, BPF_TC_INGRESS | BPF_TC_EGRESS));
    if (ret === -17) {
      throw new LbctlError(
        'CONFLICT',
        `attach tc ${options.direction} on ${label}: a filter with handle ${hex(opts.handle)} priority ${opts.priority} already exists`,
        'detach it first, or attach with replace',
      );
    }
    throw tcError(`attach tc ${options.direction} on ${label}`, ret);
  }
  return { progId: opts.prog_id, createdClsact };
}

/** Remove lbctl's filter from `dev`. Returns false when it was not there (or there is no clsact qdisc). */
export function detachTc(ref: TcFilterRef): boolean {
  const { ifindex, label } = resolveDev(ref.dev);
  const ret = libbpf().bpf_tc_detach(hookFor(ifindex, attachPoint(ref.direction)), optsFor(ref));
  if (ret === -2 || ret === -22) return false;
  if (ret < 0) throw tcError(`detach tc ${ref.direction} on ${label}`, ret);
  return true;
}

/** The program id of lbctl's filter on `dev`, or undefined when there is none. */
export function queryTc(ref: TcFilterRef): { progId: number } | undefined {
  const { ifindex, label } = resolveDev(ref.dev);
  const opts = optsFor(ref);
  const ret = libbpf().bpf_tc_query(hookFor(ifindex, attachPoint(ref.direction)), opts);
  if (ret === -2 || ret === -22) return undefined;
  if (ret < 0) throw tcError(`query tc ${ref.direction} on ${label}`, ret);
  return { progId: opts.prog_id };
}

function tcError(what: string, ret: number): LbctlError {
  if (ret === -19)
    return new LbctlError('NOT_FOUND', `${what}: no such interface`, 'list interfaces with: ip link');
  return libbpfError(what, ret);
}

const hex = (n: number) => `0x${n.toString(16)}`;
