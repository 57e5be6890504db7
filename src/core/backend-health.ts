/**
 * Backend health as the control plane applies it: which backends fill a service's Maglev ring, and the
 * per-service summary commands show. `lbctl agent` decides who is down (src/health/); this module only says
 * what being down means for selection, so `service set`, the agent and the views agree.
 */

export type BackendHealth = 'up' | 'down';

export interface ServiceHealth {
  /** Liveness probes are on for the service: `lbctl agent` marks its backends up and down. */
  probed: boolean;
  up: number;
  down: number;
  /**
   * Every backend that could take connections is down, so all of them stay in the ring (fail-open): a
   * service whose probes all fail keeps answering wherever a backend still accepts, instead of dropping
   * every new connection.
   */
  failOpen: boolean;
}

/**
 * The backends that get Maglev slots: those not down. If that leaves none with weight while some backend
 * has weight, the ring keeps every backend instead (fail-open). Without that rule a probe path that is
 * broken as a whole (a firewall, the agent in the wrong namespace) would take the service down, and a
 * service with no ring slots drops every SYN, which is never better than trying a backend that may be down.
 * Weight 0 (drain) still means no slots, healthy or not.
 */
export function ringMembers<T extends { weight: number; down: boolean }>(
  backends: readonly T[],
): { members: T[]; failOpen: boolean } {
  const up = backends.filter((b) => !b.down);
  if (up.some((b) => b.weight > 0) || !backends.some((b) => b.weight > 0)) {
    return { members: up, failOpen: false };
  }
  return { members: [...backends], failOpen: true };
}

export function summarizeHealth(
  probed: boolean,
  backends: readonly { weight: number; down: boolean }[],
): ServiceHealth {
  const down = backends.filter((b) => b.down).length;
  return { probed, up: backends.length - down, down, failOpen: ringMembers(backends).failOpen };
}
