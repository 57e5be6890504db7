import { readFileSync, rmdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { NetnsId } from '../bpf/netns.js';
import { LbctlError } from '../errors.js';
import { withFileLockAsync } from '../sys/file-lock.js';
import { writeJsonAtomic } from '../sys/json-file.js';
import type { Instance } from './instance.js';

/**
 * What the kernel cannot hold for an instance: which qdiscs lbctl created (so detach removes only those),
 * service names, and which services `lbctl apply` created. Everything else (services, backends, counters,
 * connections) is read from the pinned maps, so losing this file loses names, not traffic.
 */
export interface AttachedInterface {
  ifindex: number;
  /** lbctl created the clsact qdisc, so detach removes it; an operator's own qdisc is left alone. */
  createdClsact: boolean;
  progId: number;
  attachedAt: string;
}

export interface InstanceState {
  version: 1;
  interfaces: Record<string, AttachedInterface>;
  /** Service key ("203.0.113.10:80/tcp") to its name. */
  serviceNames: Record<string, string>;
  /**
   * Services `lbctl apply` created: service key to the manifest object that describes it ("Service
   * default/web"). `apply --prune` deletes only these. Absent in state files written before apply existed.
   */
  appliedServices?: Record<string, string>;
  /**
   * The network namespace the instance was last attached in. It tells the host instance apart from an
   * unnamed namespace lbctl was started in (instance.ts). Absent in state files written before it existed.
   */
  netnsId?: NetnsId;
  /**
   * The id the last added service got. The next one gets the first free id after it (wrapping around), so
   * a deleted service's id is not handed out again at once: `service delete ID` run twice cannot remove a
   * newer service. Absent in state files written before it existed.
   */
  lastServiceId?: number;
  /**
   * The ports attach added to the namespace's net.ipv4.ip_local_reserved_ports for the SNAT port range
   * ("1024-32767"), so that `detach --all` removes exactly those (src/core/snat-ports.ts).
   */
  reservedSnatPorts?: string;
}

const emptyState = (): InstanceState => ({ version: 1, interfaces: {}, serviceNames: {} });

const stateFile = (instance: Instance) => join(instance.stateDir, 'state.json');

export function loadState(instance: Instance): InstanceState {
  let text: string;
  try {
    text = readFileSync(stateFile(instance), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyState();
    throw err;
  }
  try {
    const parsed = JSON.parse(text) as InstanceState;
    return { ...emptyState(), ...parsed };
  } catch {
    throw new LbctlError(
      'FAILURE',
      `state file ${stateFile(instance)} is not valid JSON`,
      'move it away; services keep working, only names and qdisc ownership are lost',
    );
  }
}

export function saveState(instance: Instance, state: InstanceState): void {
  writeJsonAtomic(stateFile(instance), state);
}

/** Remove the state directory and lock file, and the shared parent when it is left empty. */
export function removeState(instance: Instance): void {
  rmSync(instance.stateDir, { recursive: true, force: true });
  rmSync(lockFile(instance), { force: true });
  try {
    rmdirSync(dirname(instance.stateDir));
  } catch {
    // Other instances still have state there (ENOTEMPTY), or it is already gone.
  }
}

const lockFile = (instance: Instance) => join(dirname(instance.stateDir), `${instance.name}.lock`);

/** Serialise read-modify-write of one instance's maps and state between concurrent lbctl processes. */
export function withInstanceLock<T>(instance: Instance, fn: () => Promise<T>): Promise<T> {
  return withFileLockAsync(lockFile(instance), fn);
}
