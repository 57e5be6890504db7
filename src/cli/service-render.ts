import { healthSummary, ppv2Summary } from '../core/service-summary.js';
import type { ServiceView } from '../core/services.js';
import { hostPort } from '../host-port.js';
import { type Column, type ListingOptions, renderColumns, renderKeyValue } from './output.js';

/** Rendering of services shared by `service list/show/add/set` so they look alike. */

/** A backend's health cell: up or down when the service is probed, "-" otherwise. */
export function backendHealthCell(
  s: Pick<ServiceView, 'health'>,
  b: ServiceView['backends'][number],
): string {
  return s.health.probed ? b.health : '-';
}

/** The `service list` columns; `id` is what `service show|set|delete ID` take. */
const SERVICE_COLUMNS: ReadonlyArray<Column<ServiceView>> = [
  { head: 'id', cell: (s) => s.id },
  { head: 'name', cell: (s) => s.name ?? '-', fit: 'first' },
  { head: 'service', cell: (s) => s.key },
  { head: 'mode', cell: (s) => s.mode },
  { head: 'snat', cell: (s) => s.snat ?? '-', wide: true },
  { head: 'backends', cell: (s) => s.backends.length },
  { head: 'health', cell: (s) => healthSummary(s.health) },
  { head: 'ppv2', cell: ppv2Summary, fit: 'first' },
];

export function renderServiceList(services: readonly ServiceView[], options: ListingOptions = {}): string {
  if (services.length === 0)
    return 'no services (add one with: lbctl service add VIP:PORT --backend ADDR:PORT)';
  return renderColumns(SERVICE_COLUMNS, services, options);
}

type BackendRow = { service: ServiceView; backend: ServiceView['backends'][number] };

const BACKEND_COLUMNS: ReadonlyArray<Column<BackendRow>> = [
  { head: 'backend id', cell: ({ backend }) => `0x${backend.id.toString(16)}`, fit: 'whole' },
  { head: 'backend', cell: ({ backend }) => hostPort(backend.address, backend.port) },
  { head: 'weight', cell: ({ backend }) => backend.weight },
  { head: 'health', cell: ({ service, backend }) => backendHealthCell(service, backend) },
  { head: 'share of new connections', cell: ({ backend }) => `${(backend.share * 100).toFixed(1)}%` },
  { head: 'source address', cell: ({ backend }) => backend.source ?? '-' },
];

export function renderServiceDetail(s: ServiceView, options: ListingOptions = {}): string {
  const summary = renderKeyValue(
    [
      ['service', s.key],
      ['name', s.name ?? '-'],
      ['id', s.id],
      ['mode', s.mode],
      ['snat address', snatCell(s)],
      ['ppv2', ppv2Summary(s)],
      ['liveness', s.liveness ? `on (lbctl agent probes the backends): ${healthSummary(s.health)}` : 'off'],
    ],
    options,
  );
  const rows = s.backends.map((backend) => ({ service: s, backend }));
  return `${summary}\n${renderColumns(BACKEND_COLUMNS, rows, options)}`;
}

/** fullnat's source: the --snat override, or each backend's own (the route's, in the backends table). */
export function snatCell(s: Pick<ServiceView, 'mode' | 'snat'>): string {
  if (s.mode !== 'fullnat') return '-';
  return s.snat ?? "per backend: the route's source";
}
