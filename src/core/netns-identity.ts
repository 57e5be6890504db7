/**
 * Which lbctl instance a command acts on, decided from the network namespace's identity rather than from
 * what /sys looks like. Pure: the facts are gathered by instance.ts, so every case is unit-testable.
 *
 * A namespace's identity is its nsfs (device, inode) pair (NetnsId, bpf/netns.ts).
 */
import type { NetnsId } from '../bpf/netns.js';

export type { NetnsId };

export const sameNetns = (a: NetnsId | undefined, b: NetnsId | undefined): boolean =>
  a !== undefined && b !== undefined && a.dev === b.dev && a.ino === b.ino;

/** How `ls -l /proc/self/ns/net` and `lsns` show it. */
export const formatNetnsId = (id: NetnsId): string => `net:[${id.ino}]`;

export interface NamespaceFacts {
  /** `--netns NAME`, when given: it always names the instance. */
  flag: string | undefined;
  /** The namespace lbctl runs in, before any setns. */
  current: NetnsId;
  /** PID 1's namespace, when this process may read it. */
  init: NetnsId | undefined;
  /** The namespace the host instance was attached in (its state file), when it has state. */
  hostBoundTo: NetnsId | undefined;
  /** `ip netns` names (/run/netns) and the namespaces they name. */
  named: ReadonlyArray<{ name: string; id: NetnsId }>;
  /** Whether /sys/fs/bpf, as this process sees it, is a bpffs mount. */
  pinRootOnBpffs: boolean;
}

export type InstanceDecision =
  | { kind: 'instance'; name: string; netns: string | undefined }
  | { kind: 'refuse'; message: string; hint: string };

/** The instance name of the namespace lbctl runs in when it is the host's. */
export const HOST_INSTANCE = 'host';

/**
 * - `--netns NAME` names the instance.
 * - Otherwise the namespace lbctl runs in does: the host instance when it is PID 1's (or the one the host
 *   instance was attached in), else its `ip netns` name, so `nsenter --net=/run/netns/NS lbctl` and
 *   `lbctl --netns NS` are the same instance.
 * - Running inside a named namespace whose /sys/fs/bpf is not a bpffs means a private /sys (`ip netns
 *   exec`): the instance's maps are pinned on the host's bpffs, out of reach, so refuse rather than show an
 *   empty instance or pin a second datapath's maps on a throw-away bpffs.
 * - An unnamed namespace that is not the one the host instance was attached in is refused too: taking it
 *   for the host would show or replace another namespace's datapath.
 */
export function decideInstance(facts: NamespaceFacts): InstanceDecision {
  const isHost = sameNetns(facts.current, facts.init) || sameNetns(facts.current, facts.hostBoundTo);
  const runningIn = isHost ? undefined : facts.named.find((n) => sameNetns(n.id, facts.current))?.name;
  if (runningIn !== undefined && !facts.pinRootOnBpffs) {
    return {
      kind: 'refuse',
      message: `lbctl runs inside network namespace ${runningIn} with a private /sys (ip netns exec): its /sys/fs/bpf is not the bpffs holding the pinned maps`,
      hint: `run \`lbctl --netns ${facts.flag ?? runningIn} ...\` from the host namespace`,
    };
  }
  if (facts.flag !== undefined) return { kind: 'instance', name: facts.flag, netns: facts.flag };
  if (runningIn !== undefined) return { kind: 'instance', name: runningIn, netns: runningIn };
  if (!isHost && facts.hostBoundTo !== undefined) {
    return {
      kind: 'refuse',
      message: `network namespace ${formatNetnsId(facts.current)} has no \`ip netns\` name and is not the host instance's (${formatNetnsId(facts.hostBoundTo)})`,
      hint: 'name it (ip netns attach NAME PID), then run `lbctl --netns NAME ...` from the host namespace',
    };
  }
  return { kind: 'instance', name: HOST_INSTANCE, netns: undefined };
}
