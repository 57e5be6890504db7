import { healthSummary, ppv2Summary } from '../core/service-summary.js';
import type { ServiceView } from '../core/services.js';
import { hostPort } from '../host-port.js';
import { renderKeyValue, renderTable } from './output.js';

/** Rendering of services shared by `service list/show/add/set` so they look alike. */

/** A backend's health cell: up or down when the service is probed, "-" otherwise. */
export function backendHealthCell(
  s: Pick<ServiceView, 'health'>,
  b: ServiceView['backends'][number],
): string {
  return s.health.probed ? b.health : '-';
}

export function renderServiceList(services: readonly ServiceView[]): string {
  if (services.length === 0)
    return 'no services (add one with: lbctl service add VIP:PORT --backend ADDR:PORT)';
  return renderTable(
    ['id', 'name', 'service', 'mode', 'backends', 'health', 'ppv2'],
    services.map((s) => [
      s.id,
      s.name ?? '-',
      s.key,
      s.mode,
      s.backends.length,
      healthSummary(s.health),
      ppv2Summary(s),
    ]),
  );
}

export function renderServiceDetail(s: ServiceView): string {
  const summary = renderKeyValue([
    ['service', s.key],
    ['name', s.name ?? '-'],
    ['id', s.id],
    ['mode', s.mode],
    ['snat address', snatCell(s)],
    ['ppv2', ppv2Summary(s)],
    ['liveness', s.liveness ? `on (lbctl agent probes the backends): ${healthSummary(s.health)}` : 'off'],
  ]);
  const backends = renderTable(
    ['backend id', 'backend', 'weight', 'health', 'share of new connections', 'source address'],
    s.backends.map((b) => [
      `0x${b.id.toString(16)}`,
      hostPort(b.address, b.port),
      b.weight,
      backendHealthCell(s, b),
      `${(b.share * 100).toFixed(1)}%`,
      b.source ?? '-',
    ]),
  );
  return `${summary}\n${backends}`;
}

/** fullnat's source: the --snat override, or each backend's own (the route's, in the backends table). */
export function snatCell(s: Pick<ServiceView, 'mode' | 'snat'>): string {
  if (s.mode !== 'fullnat') return '-';
  return s.snat ?? "per backend: the route's source";
}
