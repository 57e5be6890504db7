import { readFileSync } from 'node:fs';

/** Capability numbers (linux/capability.h) lbctl's kernel calls need. */
export const Capability = { NET_ADMIN: 12, SYS_ADMIN: 21, BPF: 39 } as const;
export type CapabilityName = keyof typeof Capability;

/** The effective capability set of this process, from the CapEff line of /proc/self/status. */
export function effectiveCapabilities(status = readFileSync('/proc/self/status', 'utf8')): bigint {
  const hex = /^CapEff:\s*([0-9a-f]+)$/im.exec(status)?.[1];
  return hex === undefined ? 0n : BigInt(`0x${hex}`);
}

/**
 * Which of the capabilities the datapath needs are missing from `effective`: CAP_NET_ADMIN (tc, netlink)
 * and CAP_BPF, for which CAP_SYS_ADMIN stands in (kernels before 5.8 know only that one). Empty when the
 * process may drive the balancer, as root normally may.
 */
export function missingDatapathCapabilities(effective: bigint): CapabilityName[] {
  const has = (name: CapabilityName) => ((effective >> BigInt(Capability[name])) & 1n) === 1n;
  const missing: CapabilityName[] = [];
  if (!has('NET_ADMIN')) missing.push('NET_ADMIN');
  if (!has('BPF') && !has('SYS_ADMIN')) missing.push('BPF');
  return missing;
}
