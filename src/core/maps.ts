import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BpfMap } from '../bpf/map.js';
import { mapPinPath } from '../bpf/object.js';
import { MAP_NAMES } from '../bpf/records.js';
import { LbctlError, notFoundError, PERMISSION_HINT, unsupportedError } from '../errors.js';
import type { Instance } from './instance.js';

/** The compiled datapath shipped with the package; LBCTL_BPF_OBJECT points elsewhere (development). */
export function datapathObjectPath(): string {
  const path =
    process.env.LBCTL_BPF_OBJECT ?? fileURLToPath(new URL('../../bpf/build/lbctl.bpf.o', import.meta.url));
  if (!existsSync(path)) {
    throw unsupportedError(
      `the datapath object ${path} is missing`,
      'build it with: bash scripts/build-bpf.sh',
    );
  }
  return path;
}

export type DatapathMapName = Exclude<keyof typeof MAP_NAMES, 'events'>;

/**
 * The instance's pinned maps, opened lazily (each open is a syscall, and most commands need two or three).
 * A missing pin directory means the instance was never attached: NOT_FOUND with the fix.
 */
export class DatapathMaps {
  private readonly opened = new Map<DatapathMapName, BpfMap>();

  private constructor(readonly instance: Instance) {}

  static open(instance: Instance): DatapathMaps {
    if (!DatapathMaps.exists(instance)) {
      throw notFoundError(
        `no balancer state for ${describe(instance)} (nothing pinned under ${instance.pinDir})`,
        `attach first: lbctl${instance.netns ? ` --netns ${instance.netns}` : ''} attach IFACE...`,
      );
    }
    return new DatapathMaps(instance);
  }

  /**
   * Whether the instance has pinned maps. Only "no such file" means no: a pin the process may not see
   * (EACCES without root) is PERMISSION, never reported as a balancer that is not attached.
   */
  static exists(instance: Instance): boolean {
    const path = mapPinPath(instance.pinDir, MAP_NAMES.services);
    try {
      statSync(path);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return false;
      throw new LbctlError('PERMISSION', `cannot tell whether ${path} is pinned: ${code}`, PERMISSION_HINT, {
        cause: err,
      });
    }
  }

  get(name: DatapathMapName): BpfMap {
    let map = this.opened.get(name);
    if (!map) {
      map = BpfMap.open(mapPinPath(this.instance.pinDir, MAP_NAMES[name]));
      this.opened.set(name, map);
    }
    return map;
  }

  eventsPinPath(): string {
    return mapPinPath(this.instance.pinDir, MAP_NAMES.events);
  }

  close(): void {
    for (const map of this.opened.values()) map.close();
    this.opened.clear();
  }
}

export function describe(instance: Instance): string {
  return instance.netns ? `network namespace ${instance.netns}` : 'this network namespace';
}
