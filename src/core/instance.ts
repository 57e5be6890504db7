import { readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { BPFFS_ROOT, isOnBpffs } from '../bpf/bpffs.js';
import { usageError } from '../errors.js';

/**
 * One balancer instance = one network namespace. Its state lives in the host's bpffs (pinned maps) under a
 * directory named after the namespace, plus a small state directory for what the kernel cannot hold
 * (service names, which qdiscs lbctl created). Naming both after the namespace lets one host drive several
 * balancers, e.g. the lab's and a test's, without them seeing each other's maps.
 */
export interface Instance {
  /** "host" for the namespace lbctl runs in, otherwise the `--netns` name. */
  name: string;
  netns: string | undefined;
  pinDir: string;
  stateDir: string;
}

const PIN_ROOT = join(BPFFS_ROOT, 'lbctl');
const STATE_ROOT = process.env.LBCTL_STATE_ROOT ?? '/run/lbctl';

export function resolveInstance(netns: string | undefined): Instance {
  const name = netns ?? 'host';
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) {
    throw usageError(`invalid namespace name "${name}"`, 'use a name from `ip netns list`');
  }
  if (!netns) refuseIpNetnsExec();
  return { name, netns, pinDir: join(PIN_ROOT, name), stateDir: join(STATE_ROOT, name) };
}

/**
 * `ip netns exec NS lbctl ...` runs lbctl in a private mount namespace with a fresh /sys, so pins would land
 * on a throw-away bpffs and vanish when the command exits. Detect it (not the host's net namespace, and no
 * bpffs at /sys/fs/bpf) and point to --netns, which switches only the network namespace.
 */
function refuseIpNetnsExec(): void {
  const inOtherNetns = safeReadlink('/proc/self/ns/net') !== safeReadlink('/proc/1/ns/net');
  if (
    inOtherNetns &&
    !isOnBpffs(BPFFS_ROOT) &&
    safeReadlink('/proc/self/ns/mnt') !== safeReadlink('/proc/1/ns/mnt')
  ) {
    throw usageError(
      'lbctl is running under `ip netns exec`, whose private /sys would lose the pinned maps',
      'run `lbctl --netns NAME ...` from the host instead',
    );
  }
}

function safeReadlink(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}
