/**
 * `lbctl top` without a dashboard (stdout not a TTY, --json, --once, --iterations): each snapshot as plain
 * tables or as one JSON line. Both are built from the same model state as the dashboard, so the numbers
 * agree with what the dashboard would show.
 */

import type { ConnectionView } from '../core/connections.js';
import type { CountersJson } from '../core/counter-snapshot.js';
import type { DatapathSnapshot, InterfaceSample, ProgramSample } from '../core/datapath-snapshot.js';
import { healthSummary } from '../core/service-summary.js';
import type { ServiceView } from '../core/services.js';
import { hostPort } from '../host-port.js';
import { ppv2Cell, type SortOrder } from '../ui/connection-table.js';
import { type CounterView, type DashboardState, type Summary, summarize } from '../ui/dashboard-state.js';
import { bitsPerSecond, bytes, clockMs, duration, si } from '../ui/format.js';
import { type HeaderLine, headerSummary, tlvSummary } from '../ui/header-feed.js';
import {
  DETACHING_TEXT,
  NOT_ATTACHED_TEXT,
  runTimeStatsText,
  serviceNames,
  visibleConnections,
} from '../ui/view-model.js';
import { renderKeyValue, renderTable } from './output.js';

export interface TopRenderOptions {
  /** Most connection rows and header lines per snapshot. */
  limit: number;
  sort: SortOrder;
}

export interface TopSnapshotJson {
  time: string;
  /** Seconds the rates were measured over. */
  intervalSeconds: number;
  instance: { name: string; netns: string | null };
  /** The service key the counters focus on (--service), or null for the whole balancer. */
  focus: string | null;
  interfaces: InterfaceSample[];
  programs: ProgramSample[];
  datapath: { nsPerPacket: number | null; cpuPercent: number | null; runTimeStats: string };
  /**
   * The services as `lbctl service list --json` shows them: backends with their health and share of new
   * connections (re-read every few seconds, so a health change shows up within that).
   */
  services: ServiceView[];
  /** Totals: the same document `lbctl stats --json` prints. */
  counters: CountersJson;
  /** Per second over the interval. */
  rates: {
    focus: Summary;
    global: Record<string, number>;
    services: Array<{
      id: number;
      key: string;
      name: string | null;
      summary: Summary;
      counters: Record<string, number>;
    }>;
  };
  perCpu?: Array<{ cpu: number; counters: Record<string, number>; rates: Record<string, number> }>;
  connections: {
    total: number;
    shown: number;
    sort: SortOrder;
    readAt: string;
    rows: ConnectionView[];
  } | null;
  /** Headers injected during the interval, newest first (at most `limit`). */
  headers: Array<Omit<HeaderLine, 'timeMs'> & { time: string; service: string | null }>;
  /** Events that came faster than top keeps them (since start). */
  eventsSkipped: number;
  /** "hold" after detach --keep-maps, "drain" while detach resets connections; null in normal service. */
  detaching: DatapathSnapshot['detaching'];
  /** False once the datapath is gone (detach): everything else is then empty. */
  attached: boolean;
}

const round = (n: number) => Math.round(n * 1000) / 1000;
const roundAll = (values: Record<string, number>) =>
  Object.fromEntries(Object.entries(values).map(([k, v]) => [k, round(v)]));
const roundSummary = (s: Summary): Summary =>
  roundAll(s as unknown as Record<string, number>) as unknown as Summary;

export function topSnapshotJson(state: DashboardState, options: TopRenderOptions): TopSnapshotJson {
  const snapshot = state.snapshot;
  if (!snapshot) throw new Error('no snapshot collected yet');
  const names = serviceNames(snapshot.services);
  const sample = snapshot.connections;
  const rows = sample ? visibleConnections(sample.rows, options.sort, '').slice(0, options.limit) : [];
  const json: TopSnapshotJson = {
    time: new Date(snapshot.takenAtMs).toISOString(),
    intervalSeconds: round(state.seconds),
    instance: snapshot.instance,
    focus: snapshot.focusService,
    interfaces: snapshot.interfaces,
    programs: snapshot.programs,
    datapath: {
      nsPerPacket: state.cost.nsPerPacket === null ? null : round(state.cost.nsPerPacket),
      cpuPercent: state.cost.cpuPercent === null ? null : round(state.cost.cpuPercent),
      runTimeStats: runTimeStatsText(snapshot),
    },
    services: snapshot.services,
    counters: snapshot.counters,
    rates: {
      focus: roundSummary(state.focus.rateSummary),
      global: roundAll(state.global.rates),
      services: snapshot.counters.services.map((s) => ({
        id: s.id,
        key: s.key,
        name: s.name,
        summary: roundSummary(state.services[s.id]?.rateSummary ?? summarize({})),
        counters: roundAll(state.services[s.id]?.rates ?? {}),
      })),
    },
    connections: sample
      ? {
          total: sample.total,
          shown: rows.length,
          sort: options.sort,
          readAt: new Date(sample.readAtMs).toISOString(),
          rows,
        }
      : null,
    headers: state.latestHeaders.slice(0, options.limit).map((line) => ({
      time: new Date(line.timeMs).toISOString(),
      kind: line.kind,
      serviceId: line.serviceId,
      service: names.get(line.serviceId) ?? null,
      client: line.client,
      vip: line.vip,
      header: line.header,
      tlvs: line.tlvs,
      error: line.error,
      hex: line.hex,
    })),
    eventsSkipped: state.headersSkipped,
    detaching: snapshot.detaching,
    attached: snapshot.attached,
  };
  if (state.perCpu) {
    json.perCpu = state.perCpu.map((cpu, i) => ({
      cpu: i,
      counters: cpu.totals,
      rates: roundAll(cpu.rates),
    }));
  }
  return json;
}

/** Counters with a non-zero total, with their rate over the interval. */
function counterTable(view: CounterView): string {
  const names = Object.keys(view.totals).filter((name) => (view.totals[name] ?? 0) !== 0);
  if (names.length === 0) return 'all counters are zero (no traffic yet)';
  return renderTable(
    ['counter', 'total', 'per second'],
    names.map((name) => [name, view.totals[name] ?? 0, round(view.rates[name] ?? 0)]),
  );
}

/** One snapshot as text: a summary, the counters, services, connections and the headers of the interval. */
export function renderTopText(state: DashboardState, options: TopRenderOptions): string {
  const snapshot = state.snapshot;
  if (!snapshot) return 'no snapshot collected yet';
  const names = serviceNames(snapshot.services);
  const r = state.focus.rateSummary;
  const progIds = [...new Set(snapshot.programs.map((p) => p.progId))];
  const parts: string[] = [
    renderKeyValue([
      ['time', new Date(snapshot.takenAtMs).toISOString()],
      [
        'instance',
        !snapshot.attached
          ? `${snapshot.instance.name}  ${NOT_ATTACHED_TEXT}`
          : snapshot.detaching
            ? `${snapshot.instance.name}  ${DETACHING_TEXT[snapshot.detaching]}`
            : snapshot.instance.name,
      ],
      ['interfaces', snapshot.interfaces.map((i) => i.interface).join(', ') || 'none'],
      ['programs', progIds.join(', ') || '-'],
      ['interval', `${state.seconds.toFixed(2)}s`],
      [
        'datapath cost',
        `${state.cost.nsPerPacket === null ? '-' : Math.round(state.cost.nsPerPacket)} ns/packet, ` +
          `${state.cost.cpuPercent === null ? '-' : state.cost.cpuPercent.toFixed(2)}% of a CPU ` +
          `(BPF stats ${runTimeStatsText(snapshot)})`,
      ],
      [
        'rates',
        `${si(r.packets)} pkts/s  ${bitsPerSecond(r.bytes)}  ${si(r.connections)} conn/s  ` +
          `${si(r.headers)} hdr/s  ${si(r.reinjections)} reinj/s`,
      ],
    ]),
    counterTable(state.focus),
  ];
  if (snapshot.services.length > 0) {
    parts.push(
      renderTable(
        ['service', 'mode', 'conn/s', 'hdr/s', 'bits/s', 'health', 'backends'],
        snapshot.services.map((s) => {
          const rates = state.services[s.id]?.rateSummary;
          return [
            s.name ?? s.key,
            s.mode,
            si(rates?.connections ?? 0),
            si(rates?.headers ?? 0),
            bitsPerSecond(rates?.bytes ?? 0),
            healthSummary(s.health),
            s.backends
              .map((b) => `${hostPort(b.address, b.port)}${b.health === 'down' ? ' (down)' : ''}`)
              .join(' '),
          ];
        }),
      ),
    );
  }
  const sample = snapshot.connections;
  if (sample) {
    const rows = visibleConnections(sample.rows, options.sort, '').slice(0, options.limit);
    if (rows.length === 0) parts.push('no live connections');
    else {
      parts.push(
        renderTable(
          ['client', 'vip', 'backend', 'state', 'ppv2', 'bytes in', 'bytes out', 'age'],
          rows.map((c) => [
            c.client,
            c.vip,
            c.backend,
            c.state,
            ppv2Cell(c),
            bytes(c.bytesFromClient),
            bytes(c.bytesFromBackend),
            duration(c.ageSeconds),
          ]),
        ),
      );
      if (sample.total > rows.length) parts.push(`${sample.total - rows.length} more connections not shown`);
    }
  }
  const headers = state.latestHeaders.slice(0, options.limit);
  if (headers.length > 0) {
    parts.push(
      renderTable(
        ['time', 'kind', 'service', 'header', 'tlvs'],
        headers.map((h) => [
          clockMs(h.timeMs),
          h.kind,
          names.get(h.serviceId) ?? String(h.serviceId),
          h.header ? headerSummary(h.header) : (h.error ?? '-'),
          tlvSummary(h.tlvs),
        ]),
      ),
    );
  }
  return parts.join('\n');
}
