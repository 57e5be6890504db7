/** Live services without a kernel: ServiceViews built from specs, and an in-memory ServiceStore. */
import type { ServiceStore } from '../../src/core/apply-execute.js';
import { specOfView } from '../../src/core/apply-plan.js';
import { parseEndpoint } from '../../src/core/endpoint.js';
import { parseBackend, parsePpv2Options, type ServiceSpec } from '../../src/core/service-spec.js';
import {
  type ServiceChanges,
  type ServiceView,
  serviceKeyText,
  snatPlanOfView,
} from '../../src/core/services.js';
import { effectiveSource, type SnatPlan } from '../../src/core/snat-plan.js';
import { describeTlv } from '../../src/ppv2/describe.js';

/** A spec the way `service add` flags give it: "VIP:PORT", backends "ADDR:PORT[:W]", TLV options. */
export function specFrom(
  vip: string,
  backends: string[],
  options: { name?: string; mode?: 'fullnat' | 'dnat'; ppv2?: string[] | false; liveness?: boolean } = {},
): ServiceSpec {
  const ppv2 = options.ppv2 === undefined || options.ppv2 === false ? undefined : options.ppv2;
  return {
    name: options.name,
    vip: parseEndpoint(vip),
    mode: options.mode ?? 'fullnat',
    backends: backends.map(parseBackend),
    ppv2: { enabled: ppv2 !== undefined, ...parsePpv2Options(ppv2 ?? []) },
    liveness: options.liveness ?? false,
  };
}

/**
 * A live view of `spec`. `snat`: a plan, an override address, or null for each backend's route source,
 * which is then made up as "the .1 of the backend's /24" (what the lab's routes would give).
 */
export function viewOf(spec: ServiceSpec, id: number, snat: SnatPlan | string | null): ServiceView {
  const plan =
    typeof snat === 'string' ? { override: snat, sources: new Map() } : (snat ?? routeLikePlan(spec));
  return {
    id,
    name: spec.name ?? null,
    key: serviceKeyText(spec.vip),
    vip: spec.vip.address,
    port: spec.vip.port,
    family: spec.vip.family,
    protocol: 'tcp',
    mode: spec.mode,
    snat: spec.mode === 'fullnat' ? plan.override : null,
    liveness: spec.liveness ?? false,
    health: { probed: spec.liveness ?? false, up: spec.backends.length, down: 0, failOpen: false },
    ppv2: {
      enabled: spec.ppv2.enabled,
      version: spec.ppv2.version ?? 2,
      uniqueId: spec.ppv2.uniqueId,
      crc32c: spec.ppv2.crc32c,
      tlvs: spec.ppv2.tlvs.map(describeTlv),
      headerBytes: 0,
    },
    backends: spec.backends.map((b, slot) => ({
      id: ((id << 16) | (slot + 1)) >>> 0,
      address: b.address,
      port: b.port,
      weight: b.weight,
      health: 'up' as const,
      share: 0,
      source: effectiveSource(plan, spec.mode, b.address),
    })),
  };
}

/** Each backend's source as a route would give it: the .1 (IPv4) or ::1 (IPv6) of its /24 or /64. */
export function routeLikePlan(spec: ServiceSpec): SnatPlan {
  const gateway = (a: string) =>
    a.includes(':') ? `${a.split(':').slice(0, 3).join(':')}::1` : a.replace(/\.\d+$/, '.1');
  return { override: null, sources: new Map(spec.backends.map((b) => [b.address, gateway(b.address)])) };
}

/** Services in a Map; `failWhen` makes the first matching call throw, as a kernel error would. */
export class FakeStore implements ServiceStore {
  readonly services = new Map<string, ServiceView>();
  readonly calls: string[] = [];
  failWhen: ((call: string) => boolean) | undefined;

  constructor(initial: ServiceView[] = []) {
    for (const s of initial) this.services.set(s.key, s);
  }

  find(key: string): ServiceView | undefined {
    return this.services.get(key);
  }

  add(spec: ServiceSpec, snat: SnatPlan): ServiceView {
    const key = serviceKeyText(spec.vip);
    this.call(`add ${key}`);
    if (this.services.has(key)) throw new Error(`${key} exists`);
    const used = new Set([...this.services.values()].map((s) => s.id));
    let id = 1;
    while (used.has(id)) id++;
    const view = viewOf(spec, id, snat);
    this.services.set(key, view);
    return view;
  }

  update(current: ServiceView, changes: ServiceChanges): ServiceView {
    this.call(`update ${current.key}`);
    const spec = { ...specOfView(current), ...changes };
    const view = viewOf(spec, current.id, changes.snat ?? snatPlanOfView(current));
    this.services.set(current.key, view);
    return view;
  }

  remove(service: ServiceView): void {
    this.call(`remove ${service.key}`);
    this.services.delete(service.key);
  }

  /** Everything but the ids, which a re-added service may not get back. */
  snapshot(): unknown[] {
    return [...this.services.values()]
      .map((s) => ({ ...s, id: 0, backends: s.backends.map((b) => ({ ...b, id: 0 })) }))
      .sort((a, b) => a.key.localeCompare(b.key));
  }

  private call(what: string): void {
    this.calls.push(what);
    if (this.failWhen?.(what)) {
      this.failWhen = undefined; // once: the undo that follows must be able to write
      throw new Error(`injected failure at ${what}`);
    }
  }
}
