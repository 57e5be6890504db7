import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { BPFFS_ROOT, isOnBpffs } from '../bpf/bpffs.js';

/** What lbctl needs from the kernel and the system, checked without side effects (for `status`). */
export interface FeatureReport {
  kernel: string;
  btf: boolean;
  bpffsMounted: boolean;
  libbpf: boolean;
  /** bpf_timer (5.15+) lets conntrack entries expire in the kernel without a daemon. */
  bpfTimer: boolean;
  /** bpf_redirect_neigh (5.10+) forwards rewritten packets without the kernel's martian checks. */
  redirectNeigh: boolean;
}

export function detectFeatures(): FeatureReport {
  const kernel = release();
  const [major = 0, minor = 0] = kernel.split('.').map((n) => Number.parseInt(n, 10));
  const atLeast = (maj: number, min: number) => major > maj || (major === maj && minor >= min);
  return {
    kernel,
    btf: existsSync('/sys/kernel/btf/vmlinux'),
    bpffsMounted: isOnBpffs(BPFFS_ROOT),
    libbpf: hasLibbpf(),
    bpfTimer: atLeast(5, 15),
    redirectNeigh: atLeast(5, 10),
  };
}

function hasLibbpf(): boolean {
  try {
    return readFileSync('/etc/ld.so.cache').includes('libbpf.so.1');
  } catch {
    return false;
  }
}
