import { asLbctlError } from '../errors.js';
import type { DatapathMaps } from './maps.js';
import { listServices, snatPlanOfView, updateService } from './services.js';
import { RouteSources, routeSources } from './snat.js';
import type { InstanceState } from './state-file.js';

/** A backend whose stored source address no longer matched its route, and was rewritten. */
export interface SourceChange {
  service: string;
  backend: string;
  from: string | null;
  to: string;
}

export interface RouteRefresh {
  changed: SourceChange[];
  /** Backends whose route is gone: they keep the source they had, and the line says so. */
  warnings: string[];
}

/**
 * Read the routes again for every fullnat service that takes each backend's route source (no `--snat`
 * override), and rewrite the backends whose source changed: `attach` runs it, so that re-attaching after
 * the balancer's addresses or routes changed brings the sources up to date. New connections use the new
 * source; open ones keep theirs (conntrack holds it). A backend with no route now keeps its old source
 * rather than failing the attach, and is reported. Run it holding the instance lock, in the balancer's
 * namespace.
 */
export async function refreshRouteSources(maps: DatapathMaps, state: InstanceState): Promise<RouteRefresh> {
  const result: RouteRefresh = { changed: [], warnings: [] };
  const services = listServices(maps, state).filter((s) => s.mode === 'fullnat' && s.snat === null);
  // Every backend's route in one `ip` process; the per-backend calls below only read the answers.
  const routes = new RouteSources();
  await routes.load(services.flatMap((s) => s.backends.map((b) => b.address)));
  for (const service of services) {
    const plan = snatPlanOfView(service);
    const sources = new Map(plan.sources);
    const changed: SourceChange[] = [];
    for (const backend of service.backends) {
      const endpoint = { family: service.family, address: backend.address, port: backend.port };
      try {
        const now = (await routeSources([endpoint], routes)).get(backend.address) as string;
        if (now === backend.source) continue;
        sources.set(backend.address, now);
        changed.push({ service: service.key, backend: backend.address, from: backend.source, to: now });
      } catch (err) {
        const kept = backend.source ? `; it keeps ${backend.source}` : '';
        result.warnings.push(`service ${service.key}: ${asLbctlError(err).message}${kept}`);
      }
    }
    if (changed.length === 0) continue;
    updateService(maps, state, service, { snat: { override: null, sources } });
    result.changed.push(...changed);
  }
  return result;
}
