import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BPFFS_ROOT, isOnBpffs } from '../bpf/bpffs.js';
import { currentNetnsId, type NetnsId, namedNetnsIds, netnsIdOf, netnsPath } from '../bpf/netns.js';
import { usageError } from '../errors.js';
import { decideInstance, HOST_INSTANCE } from './netns-identity.js';

/**
 * One balancer instance = one network namespace. Its state lives in the host's bpffs (pinned maps) under a
 * directory named after the namespace, plus a small state directory for what the kernel cannot hold
 * (service names, which qdiscs lbctl created). Naming both after the namespace lets one host drive several
 * balancers, e.g. the lab's and a test's, without them seeing each other's maps.
 */
export interface Instance {
  /** "host" for the host's namespace, otherwise the `ip netns` name (given with `--netns` or found). */
  name: string;
  /** The `ip netns` name of the instance's namespace; undefined for the host instance. */
  netns: string | undefined;
  /** The namespace's identity; undefined when a `--netns` name does not exist (yet). */
  netnsId?: NetnsId;
  pinDir: string;
  stateDir: string;
}

const PIN_ROOT = join(BPFFS_ROOT, 'lbctl');
const STATE_ROOT = process.env.LBCTL_STATE_ROOT ?? '/run/lbctl';

/**
 * The instance this command acts on, known by the network namespace's identity (netns-identity.ts): the
 * `--netns` name, else the namespace lbctl runs in. Refuses (USAGE) where the instance's pinned maps are out
 * of reach or the namespace cannot be told apart from the host's.
 */
export function resolveInstance(netns: string | undefined): Instance {
  if (netns !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(netns)) {
    throw usageError(`invalid namespace name "${netns}"`, 'use a name from `ip netns list`');
  }
  const current = currentNetnsId();
  const decision = decideInstance({
    flag: netns,
    current,
    init: netnsIdOf('/proc/1/ns/net'),
    hostBoundTo: boundNetns(HOST_INSTANCE),
    named: namedNetnsIds(),
    pinRootOnBpffs: isOnBpffs(BPFFS_ROOT),
  });
  if (decision.kind === 'refuse') throw usageError(decision.message, decision.hint);
  const { name } = decision;
  return {
    name,
    netns: decision.netns,
    netnsId: netns === undefined ? current : netnsIdOf(netnsPath(netns)),
    pinDir: join(PIN_ROOT, name),
    stateDir: stateDirOf(name),
  };
}

const stateDirOf = (name: string) => join(STATE_ROOT, name);

/** The namespace an instance was attached in, as its state file records it. */
function boundNetns(name: string): NetnsId | undefined {
  try {
    const state = JSON.parse(readFileSync(join(stateDirOf(name), 'state.json'), 'utf8')) as {
      netnsId?: NetnsId;
    };
    return state.netnsId;
  } catch {
    return undefined; // never attached, or an unreadable file that loadState reports when it matters
  }
}
