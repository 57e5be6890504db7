import { usageError } from '../errors.js';

/**
 * Where a fullnat service's connections come from, as seen by its backends. Pure: resolving it reads the
 * routes (core/snat.ts); storing and comparing it does not.
 *
 * - `override`: one address for every backend (`--snat`, the lbctl.io/snat annotation), kept in the
 *   service record (lb_service.snat_addr);
 * - otherwise each backend gets the balancer's own source towards it, the route's preferred source, as
 *   IPVS and LoxiLB pick it, kept in the backend record (lb_backend.src_addr). So backends on several
 *   subnets, behind several interfaces, each reply to the balancer's address on their subnet.
 */
export interface SnatPlan {
  /** The one address for every backend; null: each backend's route source (or dnat). */
  override: string | null;
  /** Without an override: the route's source per backend address. Empty with an override and for dnat. */
  sources: ReadonlyMap<string, string>;
}

/** dnat: backends see the client, so there is no source to choose. */
export const NO_SNAT: SnatPlan = { override: null, sources: new Map() };

/** `--snat auto` asks for the default again: each backend's route source instead of an override. */
export const AUTO_SNAT = 'auto';

/** The source the datapath uses towards a backend: the override, else its own (null for dnat). */
export function effectiveSource(plan: SnatPlan, mode: 'fullnat' | 'dnat', backend: string): string | null {
  if (mode !== 'fullnat') return null;
  return plan.override ?? plan.sources.get(backend) ?? null;
}

/**
 * The address to store in a backend's record (lb_backend.src_addr): the source the datapath uses towards it,
 * the override included. The datapath prefers the service's override anyway; storing it in the backends too
 * means a switch between the two (backends written before the service record) never leaves a backend with
 * neither. Null for dnat.
 */
export function storedSource(plan: SnatPlan, mode: 'fullnat' | 'dnat', backend: string): string | null {
  const source = effectiveSource(plan, mode, backend);
  if (mode === 'fullnat' && source === null) {
    // Resolution covers every backend before anything is written; this guards against a caller that skipped it.
    throw usageError(
      `no source address was resolved for backend ${backend}`,
      'fullnat needs one: pass --snat ADDR, or give the balancer a route to the backend',
    );
  }
  return source;
}

/**
 * The plan as a line for `apply`'s diff: the override, or "route: B via S, ..." over `backends` (the
 * backend addresses both sides have, so that a backend set change alone is reported as a backends change).
 */
export function snatPlanText(plan: SnatPlan, backends: readonly string[]): string {
  if (plan.override !== null) return plan.override;
  const pairs = [...new Set(backends)].sort().map((b) => `${b} via ${plan.sources.get(b) ?? '?'}`);
  return pairs.length > 0 ? `route: ${pairs.join(', ')}` : 'route';
}
