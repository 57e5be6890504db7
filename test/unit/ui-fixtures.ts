/**
 * Fixed snapshots for the dashboard tests: two services, a handful of connections and events whose header
 * bytes come from the project's own PPv2 encoder, so the feed's decoding is exercised for real.
 */

import { render } from 'ink-testing-library';
import { createElement as h } from 'react';
import { COUNTER_NAMES } from '../../src/bpf/records.js';
import type { ConnectionView } from '../../src/core/connections.js';
import type { DatapathSnapshot, EventSample } from '../../src/core/datapath-snapshot.js';
import type { ServiceView } from '../../src/core/services.js';
import { bytesToHex, crc32cTlv, encodeV2, uniqueIdTlv } from '../../src/ppv2/index.js';
import { Dashboard, type DashboardProps } from '../../src/ui/dashboard.js';
import { initialUi, type UiState } from '../../src/ui/dashboard-reducer.js';
import type { DashboardState } from '../../src/ui/dashboard-state.js';
import type { TerminalSize } from '../../src/ui/layout.js';
import { layoutFor, serviceNames, visibleConnections, visibleHeaders } from '../../src/ui/view-model.js';

export const T0 = Date.UTC(2026, 10, 27, 14, 3, 0);

export function counters(values: Partial<Record<string, number>> = {}): Record<string, number> {
  return Object.fromEntries(COUNTER_NAMES.map((name) => [name, values[name] ?? 0]));
}

export function service(id: number, name: string | null, vip: string, backends: string[]): ServiceView {
  return {
    id,
    name,
    key: `${vip}:80/tcp`,
    vip,
    port: 80,
    family: 4,
    liveness: false,
    health: { probed: false, up: backends.length, down: 0, failOpen: false },
    protocol: 'tcp',
    mode: 'fullnat',
    snat: '198.51.100.1',
    ppv2: { enabled: true, version: 2, uniqueId: id === 2, crc32c: id === 2, tlvs: [], headerBytes: 28 },
    backends: backends.map((address, i) => ({
      id: (id << 16) | (i + 1),
      address,
      port: 80,
      weight: 1,
      health: 'up' as const,
      share: 1 / backends.length,
      source: '198.51.100.1',
    })),
  };
}

/** The service with liveness on and the given backends marked down by the agent (no share left). */
export function probed(s: ServiceView, down: string[]): ServiceView {
  const backends = s.backends.map((b) => ({
    ...b,
    health: down.includes(b.address) ? ('down' as const) : ('up' as const),
  }));
  const up = backends.filter((b) => b.health === 'up');
  return {
    ...s,
    liveness: true,
    health: { probed: true, up: up.length, down: backends.length - up.length, failOpen: false },
    backends: backends.map((b) => ({ ...b, share: b.health === 'up' ? 1 / up.length : 0 })),
  };
}

export const SERVICES = [
  service(1, 'web', '203.0.113.10', ['198.51.100.2', '198.51.100.3']),
  service(2, 'api', '203.0.113.11', ['198.51.100.4']),
];

export function connection(
  client: string,
  overrides: Partial<ConnectionView> & { vip?: string; backend?: string } = {},
): ConnectionView {
  return {
    client,
    vip: '203.0.113.10:80',
    backend: '198.51.100.2:80',
    backendSees: '198.51.100.1:40000',
    service: 'web',
    serviceId: 1,
    protocol: 'tcp',
    state: 'established',
    mode: 'fullnat',
    ppv2: { expected: true, injected: true, headerBytes: 28, reinjections: 0 },
    packetsFromClient: 5,
    bytesFromClient: 500,
    packetsFromBackend: 5,
    bytesFromBackend: 1000,
    ageSeconds: 10,
    idleSeconds: 1,
    ...overrides,
  };
}

export const CONNECTIONS: ConnectionView[] = [
  connection('192.0.2.10:40001', { ageSeconds: 30, bytesFromClient: 100, bytesFromBackend: 100 }),
  connection('192.0.2.9:40002', {
    ageSeconds: 5,
    bytesFromClient: 9000,
    bytesFromBackend: 90000,
    backend: '198.51.100.3:80',
  }),
  connection('192.0.2.11:40003', {
    ageSeconds: 120,
    bytesFromClient: 700,
    bytesFromBackend: 5000,
    vip: '203.0.113.11:80',
    backend: '198.51.100.4:80',
    service: 'api',
    serviceId: 2,
    state: 'fin',
  }),
];

/** An injected-header event as the collector reports it, with real PPv2 bytes. */
export function headerEvent(src: string, srcPort: number, timeMs: number, serviceId = 1): EventSample {
  const tlvs = serviceId === 2 ? [uniqueIdTlv(new Uint8Array(16).fill(0xab)), crc32cTlv()] : [];
  const bytes = encodeV2({
    version: 2,
    command: 'PROXY',
    family: 'INET',
    transport: 'STREAM',
    src,
    dst: serviceId === 2 ? '203.0.113.11' : '203.0.113.10',
    srcPort,
    dstPort: 80,
    tlvs,
  });
  return {
    type: 'header_injected',
    reason: null,
    serviceId,
    timeMs,
    client: `${src}:${srcPort}`,
    vip: `${serviceId === 2 ? '203.0.113.11' : '203.0.113.10'}:80`,
    headerHex: bytesToHex(bytes),
  };
}

/**
 * A snapshot at `t` seconds after T0 with the given global counters; services get fixed shares of them
 * (web 3/4, api 1/4) so per-service rates are predictable.
 */
export function snapshot(
  t: number,
  global: Partial<Record<string, number>>,
  extra: Partial<DatapathSnapshot> = {},
): DatapathSnapshot {
  const share = (f: number) =>
    counters(Object.fromEntries(Object.entries(global).map(([k, v]) => [k, Math.round((v ?? 0) * f)])));
  return {
    takenAtMs: T0 + t * 1000,
    monotonicMs: 1_000_000 + t * 1000,
    attached: true,
    instance: { name: 'lb-test', netns: 'lb-test' },
    focusService: null,
    interfaces: [
      { interface: 'lbc-test', ifindex: 2, progId: 42, attachedAt: new Date(T0 - 3_600_000).toISOString() },
      { interface: 'lbb-test', ifindex: 3, progId: 42, attachedAt: new Date(T0 - 3_600_000).toISOString() },
    ],
    programs: [
      {
        progId: 42,
        name: 'lbctl_ingress',
        interfaces: ['lbc-test', 'lbb-test'],
        runCount: (global.fwd_packets ?? 0) + (global.rev_packets ?? 0),
        runTimeNs: 100 * ((global.fwd_packets ?? 0) + (global.rev_packets ?? 0)),
      },
    ],
    runTimeStats: { heldByTop: true, sysctl: 0, error: null },
    services: SERVICES,
    counters: {
      global: counters(global),
      services: [
        { id: 1, key: SERVICES[0]?.key ?? '', name: 'web', counters: share(0.75) },
        { id: 2, key: SERVICES[1]?.key ?? '', name: 'api', counters: share(0.25) },
      ],
    },
    perCpu: [counters(global), counters({})],
    connections: {
      rows: CONNECTIONS,
      total: CONNECTIONS.length,
      readAtMs: T0 + t * 1000,
      scanMs: 1,
      scanCpuMs: 1,
      nextInMs: 50,
    },
    events: [],
    eventsSkipped: 0,
    eventsError: null,
    detaching: null,
    ...extra,
  };
}

/** Two snapshots two seconds apart: 200 packets/s, 8 new connections/s, 8 headers/s, 1 drop/s. */
export const FIRST = snapshot(0, {
  fwd_packets: 1000,
  rev_packets: 1000,
  fwd_bytes: 100_000,
  rev_bytes: 400_000,
  conn_new: 100,
  ppv2_injected: 100,
  drop_no_backend: 4,
});
export const SECOND = snapshot(
  2,
  {
    fwd_packets: 1200,
    rev_packets: 1200,
    fwd_bytes: 150_000,
    rev_bytes: 600_000,
    conn_new: 116,
    ppv2_injected: 116,
    drop_no_backend: 6,
  },
  {
    events: [headerEvent('192.0.2.10', 40001, T0 + 1500), headerEvent('192.0.2.11', 40003, T0 + 1900, 2)],
  },
);

/**
 * The dashboard's frame for a state, as the Ink app would draw it at `size` (the list views derived as
 * top-app does). Call ink-testing-library's cleanup after each test.
 */
export function renderFrame(
  state: DashboardState,
  ui: Partial<UiState> = {},
  size: TerminalSize = { columns: 100, rows: 30 },
  props: Partial<DashboardProps> = {},
): string {
  const view = initialUi(ui);
  const rows = state.snapshot?.connections?.rows ?? [];
  const { lastFrame } = render(
    h(Dashboard, {
      state,
      ui: view,
      layout: layoutFor(state, view, size),
      connections: visibleConnections(rows, view.sort, view.filter),
      headers: visibleHeaders(state.headers, view.filter, serviceNames(state.snapshot?.services ?? [])),
      intervalSeconds: 2,
      error: null,
      ...props,
    }),
  );
  return lastFrame() ?? '';
}
