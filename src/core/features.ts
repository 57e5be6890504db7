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
  /** The datapath's FIB lookups fail (drop_fib_fwd_disabled) unless forwarding is on in the namespace. */
  forwarding: { ipv4: boolean; ipv6: boolean };
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
    forwarding: forwardingEnabled(),
  };
}

/** Read on this thread, so after `--netns` it is the balancer namespace's setting. */
export function forwardingEnabled(): { ipv4: boolean; ipv6: boolean } {
  const on = (path: string) => {
    try {
      return readFileSync(path, 'utf8').trim() === '1';
    } catch {
      return false;
    }
  };
  return { ipv4: on('/proc/sys/net/ipv4/ip_forward'), ipv6: on('/proc/sys/net/ipv6/conf/all/forwarding') };
}

/** Warnings for `attach`: settings that make the datapath drop traffic although it is attached. */
export function forwardingWarnings(): string[] {
  const forwarding = forwardingEnabled();
  const warnings: string[] = [];
  if (!forwarding.ipv4)
    warnings.push(
      'IPv4 forwarding is off here, so IPv4 services will drop packets (enable: sysctl -w net.ipv4.ip_forward=1)',
    );
  if (!forwarding.ipv6)
    warnings.push(
      'IPv6 forwarding is off here, so IPv6 services will drop packets (enable: sysctl -w net.ipv6.conf.all.forwarding=1)',
    );
  return warnings;
}

function hasLibbpf(): boolean {
  try {
    return readFileSync('/etc/ld.so.cache').includes('libbpf.so.1');
  } catch {
    return false;
  }
}
