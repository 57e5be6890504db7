import { setTimeout as sleep } from 'node:timers/promises';
import type { BackendHealth } from '../core/backend-health.js';
import { formatEndpoint } from '../core/endpoint.js';
import type { Instance } from '../core/instance.js';
import { DatapathMaps } from '../core/maps.js';
import { type BackendView, listServices, type ServiceView, setBackendsHealth } from '../core/services.js';
import { loadState, withInstanceLock } from '../core/state-file.js';
import type { AgentOptions } from './options.js';
import { type ProbeOptions, type ProbeResult, type ProbeTarget, probeTcp } from './probe.js';
import { HealthTracker } from './tracker.js';

/** One health transition the agent wrote to the kernel: what `lbctl agent` logs, one line each. */
export interface HealthEvent {
  time: string;
  service: string | null;
  serviceKey: string;
  backend: string;
  backendId: number;
  health: BackendHealth;
  previous: BackendHealth;
  /** The probes in a row that decided it (--fall or --rise). */
  probes: number;
  /** Going down: the last probe's error (ECONNREFUSED, timeout, ...); null going up. */
  reason: string | null;
  /** The service after the change. */
  backendsUp: number;
  backends: number;
  failOpen: boolean;
}

export interface HealthChange {
  backendId: number;
  down: boolean;
}

/** What the agent does to the outside world; tests replace it. */
export interface AgentIo {
  /** The services as the kernel's maps hold them now. */
  readServices(): ServiceView[];
  probe(target: ProbeTarget, options: ProbeOptions): Promise<ProbeResult>;
  /**
   * Write health changes of one service, re-reading it under the instance lock: changes whose backend left
   * the service or already has that health are skipped. Returns the service as written and the changes
   * applied, or null if the service is gone or no longer probed.
   */
  writeHealth(
    service: ServiceView,
    changes: HealthChange[],
  ): Promise<{ service: ServiceView; applied: HealthChange[] } | null>;
}

export interface AgentHooks {
  onTransition(event: HealthEvent): void;
  /** Something kept a round from completing (no balancer state, a failed write); said once until it changes. */
  onWarning(message: string): void;
}

/** Probes in flight at once: enough for hundreds of backends per round, few enough for a small fd limit. */
const PROBE_CONCURRENCY = 128;

/**
 * The liveness loop. Each round it re-reads the services (so services added or changed since are picked
 * up), probes every backend of every service with liveness on, feeds the results to one tracker per backend,
 * and writes the transitions those complete: only then, and only for that service, under the instance lock.
 * A backend's starting state is the kernel's flag, so a restarted agent continues where the last one
 * stopped; a flag changed by someone else (`service set --no-liveness`) is taken over the same way.
 */
export class HealthAgent {
  private readonly trackers = new Map<string, HealthTracker>();
  /** What is failing now ('read', 'write <service>'): each is said once, until it works again. */
  private readonly failing = new Set<string>();

  constructor(
    private readonly io: AgentIo,
    private readonly options: AgentOptions,
    private readonly hooks: AgentHooks,
  ) {}

  /** Rounds every interval until `signal` aborts; a round in progress finishes first (at most a timeout). */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const started = performance.now();
      await this.round();
      const wait = this.options.intervalMs - (performance.now() - started);
      await sleep(Math.max(0, wait), undefined, { signal }).catch(() => undefined);
    }
  }

  /** One round: read, probe, write transitions. Never throws; problems go to onWarning. */
  async round(): Promise<void> {
    let services: ServiceView[];
    try {
      services = this.io.readServices();
    } catch (err) {
      this.warn('read', `cannot read the services: ${message(err)}`);
      return;
    }
    this.failing.delete('read');
    const jobs = this.jobs(services);
    const results = await mapLimit(jobs, PROBE_CONCURRENCY, (job) =>
      this.io.probe(
        { address: job.backend.address, port: job.backend.port },
        { timeoutMs: this.options.timeoutMs, ppv2: job.service.ppv2.enabled },
      ),
    );
    const byService = new Map<string, { service: ServiceView; changes: Array<HealthChange & Pending> }>();
    jobs.forEach((job, i) => {
      const result = results[i] as ProbeResult;
      const transition = job.tracker.observe(result.ok);
      if (!transition) return;
      const entry = byService.get(job.service.key) ?? { service: job.service, changes: [] };
      entry.changes.push({
        backendId: job.backend.id,
        down: transition.to === 'down',
        tracker: job.tracker,
        previous: transition.from,
        probes: transition.probes,
        reason: result.error,
        backend: job.backend,
      });
      byService.set(job.service.key, entry);
    });
    for (const { service, changes } of byService.values()) await this.write(service, changes);
  }

  /** Trackers for this round's backends (new ones start from the kernel's flag); forget the others. */
  private jobs(services: readonly ServiceView[]): Array<{
    service: ServiceView;
    backend: BackendView;
    tracker: HealthTracker;
  }> {
    const jobs = [];
    const seen = new Set<string>();
    for (const service of services.filter((s) => s.liveness)) {
      for (const backend of service.backends) {
        // The address is part of the key: a service deleted and added again may reuse backend ids.
        const key = `${service.key}|${backend.id}|${endpointOf(backend)}`;
        seen.add(key);
        let tracker = this.trackers.get(key);
        if (!tracker) {
          tracker = new HealthTracker(backend.health, this.options);
          this.trackers.set(key, tracker);
        } else if (tracker.health !== backend.health) {
          tracker.reset(backend.health);
        }
        jobs.push({ service, backend, tracker });
      }
    }
    for (const key of this.trackers.keys()) if (!seen.has(key)) this.trackers.delete(key);
    return jobs;
  }

  private async write(service: ServiceView, changes: Array<HealthChange & Pending>): Promise<void> {
    const what = `write ${service.key}`;
    let written: Awaited<ReturnType<AgentIo['writeHealth']>>;
    try {
      written = await this.io.writeHealth(
        service,
        changes.map(({ backendId, down }) => ({ backendId, down })),
      );
    } catch (err) {
      // Count afresh from the state the kernel still has; the next rounds decide again.
      for (const c of changes) c.tracker.reset(c.previous);
      this.warn(what, `cannot write the health of ${service.name ?? service.key}: ${message(err)}`);
      return;
    }
    this.failing.delete(what);
    if (!written) return;
    const time = new Date().toISOString();
    for (const c of changes) {
      if (!written.applied.some((a) => a.backendId === c.backendId)) continue;
      this.hooks.onTransition({
        time,
        service: written.service.name,
        serviceKey: written.service.key,
        backend: endpointOf(c.backend),
        backendId: c.backendId,
        health: c.down ? 'down' : 'up',
        previous: c.previous,
        probes: c.probes,
        reason: c.down ? c.reason : null,
        backendsUp: written.service.health.up,
        backends: written.service.backends.length,
        failOpen: written.service.health.failOpen,
      });
    }
  }

  private warn(what: string, text: string): void {
    if (this.failing.has(what)) return;
    this.failing.add(what);
    this.hooks.onWarning(text);
  }
}

interface Pending {
  tracker: HealthTracker;
  previous: BackendHealth;
  probes: number;
  reason: string | null;
  backend: BackendView;
}

/** The agent's I/O against a balancer instance: its pinned maps, TCP probes, the instance lock. */
export function instanceIo(instance: Instance): AgentIo {
  const withMaps = <T>(fn: (maps: DatapathMaps) => T): T => {
    const maps = DatapathMaps.open(instance);
    try {
      return fn(maps);
    } finally {
      maps.close();
    }
  };
  return {
    readServices: () => withMaps((maps) => listServices(maps, loadState(instance))),
    probe: probeTcp,
    writeHealth: (service, changes) =>
      withInstanceLock(instance, async () =>
        withMaps((maps) => {
          const state = loadState(instance);
          const fresh = listServices(maps, state).find((s) => s.key === service.key && s.id === service.id);
          if (!fresh?.liveness) return null;
          const applied = changes.filter((c) => {
            const now = fresh.backends.find((b) => b.id === c.backendId);
            const before = service.backends.find((b) => b.id === c.backendId);
            return (
              now &&
              before &&
              endpointOf(now) === endpointOf(before) &&
              now.health === (c.down ? 'up' : 'down')
            );
          });
          if (applied.length === 0) return { service: fresh, applied };
          return { service: setBackendsHealth(maps, state, fresh, applied), applied };
        }),
      ),
  };
}

function endpointOf(b: { address: string; port: number }): string {
  return formatEndpoint({ address: b.address, port: b.port, family: b.address.includes(':') ? 6 : 4 });
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** `fn` over `items` with at most `limit` in flight; results in input order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
