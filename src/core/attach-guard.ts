/**
 * `attach` replaces lbctl's tc filter on an interface (that is what makes a re-attach idempotent). That is
 * only safe when the filter's program works on this instance's pinned maps: a program whose maps this
 * instance cannot reach (another instance's, or maps no longer pinned anywhere) carries live services and
 * connections that a replacement with other maps would cut off while `service list` still shows them.
 */
import { BpfMap } from '../bpf/map.js';
import { mapPinPath } from '../bpf/object.js';
import { progMapIds } from '../bpf/prog-info.js';
import { MAP_NAMES } from '../bpf/records.js';
import { LBCTL_TC_HANDLE, LBCTL_TC_PRIORITY, queryTc } from '../bpf/tc.js';
import { conflictError, LbctlError } from '../errors.js';
import type { Instance } from './instance.js';

/** The maps that hold an instance's state; every lbctl program version uses them. */
const STATE_MAPS = [MAP_NAMES.services, MAP_NAMES.conntrack] as const;

/**
 * Whether a program using maps `programMapIds` runs on the instance whose pinned state maps have ids
 * `instanceMapIds`. An instance with nothing pinned owns no program.
 */
export function usesInstanceMaps(
  programMapIds: readonly number[],
  instanceMapIds: readonly number[],
): boolean {
  return instanceMapIds.length > 0 && instanceMapIds.every((id) => programMapIds.includes(id));
}

/** Ids of the instance's pinned state maps; none before its first attach. */
function pinnedStateMapIds(instance: Instance): number[] {
  return STATE_MAPS.flatMap((name) => {
    let map: BpfMap;
    try {
      map = BpfMap.open(mapPinPath(instance.pinDir, name));
    } catch (err) {
      if (err instanceof LbctlError && err.kind === 'NOT_FOUND') return [];
      throw err;
    }
    try {
      return [map.info.id];
    } finally {
      map.close();
    }
  });
}

/**
 * Refuse (CONFLICT) when one of the interfaces already runs an lbctl filter whose program does not use this
 * instance's pinned maps. Interfaces without lbctl's filter, and a filter whose program just went away,
 * pass.
 */
export function refuseForeignDatapath(
  instance: Instance,
  interfaces: ReadonlyArray<{ name: string; ifindex: number }>,
): void {
  let instanceMapIds: number[] | undefined;
  for (const { name, ifindex } of interfaces) {
    const filter = queryTc({ dev: ifindex, direction: 'ingress' });
    if (!filter) continue;
    let programMapIds: number[];
    try {
      programMapIds = progMapIds(filter.progId);
    } catch (err) {
      if (err instanceof LbctlError && err.kind === 'NOT_FOUND') continue;
      throw err;
    }
    instanceMapIds ??= pinnedStateMapIds(instance);
    if (usesInstanceMaps(programMapIds, instanceMapIds)) continue;
    throw conflictError(
      `${name} already runs an lbctl datapath (program id ${filter.progId}) whose maps are not this instance's (${instance.pinDir}); replacing it would cut off its services and connections`,
      `run lbctl as the instance that attached it (lbctl --netns NAME ... from the host namespace); if that datapath is abandoned, remove its filter first: tc filter del dev ${name} ingress pref ${LBCTL_TC_PRIORITY} handle 0x${LBCTL_TC_HANDLE.toString(16)} bpf`,
    );
  }
}
