import { Box, Text } from 'ink';
import type { ConnectionView } from '../core/connections.js';
import { BannerPanel } from './banner-panel.js';
import { pageRows } from './connection-table.js';
import { ConnectionsPanel } from './connections-panel.js';
import { CountersPanel } from './counters-panel.js';
import { CpuPanel } from './cpu-panel.js';
import type { UiState } from './dashboard-reducer.js';
import type { DashboardState } from './dashboard-state.js';
import { DetailPanel } from './detail-panel.js';
import type { DetailItem } from './detail-view.js';
import { Footer, HelpPanel } from './footer.js';
import { clip } from './format.js';
import type { HeaderLine } from './header-feed.js';
import { HeadersPanel } from './headers-panel.js';
import type { Layout } from './layout.js';
import { ServicesPanel } from './services-panel.js';
import { SparklinesPanel } from './sparklines-panel.js';
import { detailRows, NOT_ATTACHED_TEXT, serviceNames } from './view-model.js';

export interface DashboardProps {
  state: DashboardState;
  ui: UiState;
  layout: Layout;
  /** Connection rows after the filter and sort (see view-model.ts). */
  connections: readonly ConnectionView[];
  /** Header lines after the filter. */
  headers: readonly HeaderLine[];
  intervalSeconds: number;
  error: string | null;
  /** The row Enter opened (shown while ui.detail is on). */
  detail?: DetailItem | null;
}

/**
 * The whole frame for one state: header, then the panes of the current view, then the key footer. Pure
 * presentation: everything it shows comes in through props, so tests render it from fixed snapshots.
 */
export function Dashboard(props: DashboardProps) {
  const { state, ui, layout } = props;
  const { width } = layout;
  const snapshot = state.snapshot;
  const services = snapshot?.services ?? [];
  const names = serviceNames(services);
  const sample = snapshot?.connections ?? null;
  const focusLabel = snapshot?.focusService ?? 'balancer';
  const now = snapshot?.takenAtMs ?? Date.now();
  const scroll = (view: UiState['view']) => (ui.view === view ? ui.scroll : 0);

  const body = () => {
    const bodyRows = layout.height - 3;
    if (ui.help) return <HelpPanel width={width} rows={bodyRows} />;
    if (!snapshot) return <Text>{clip('waiting for the first reading of the maps...', width)}</Text>;
    if (!snapshot.attached) return <Text>{clip(NOT_ATTACHED_TEXT, width)}</Text>;
    if (ui.detail && props.detail) {
      const id =
        props.detail.kind === 'header' ? props.detail.header.serviceId : props.detail.connection.serviceId;
      return (
        <DetailPanel
          item={props.detail}
          service={names.get(id) ?? `svc${id}`}
          scroll={ui.detailScroll}
          rows={detailRows(layout)}
          width={width}
        />
      );
    }
    const connectionsPane = (
      <ConnectionsPanel
        page={pageRows(
          props.connections,
          ui.view === 'overview' ? ui.scroll : scroll('connections'),
          layout.connectionRows,
        )}
        matching={props.connections.length}
        sample={sample}
        sort={ui.sort}
        filter={ui.filter}
        selected={ui.view === 'connections' ? ui.selected : null}
        now={now}
        width={width}
      />
    );
    const headersPane = (
      <HeadersPanel
        page={pageRows(props.headers, scroll('headers'), layout.headerRows)}
        matching={props.headers.length}
        skipped={state.headersSkipped}
        unavailable={snapshot.eventsError}
        raw={ui.rawHex}
        serviceNames={names}
        selected={ui.view === 'headers' ? ui.selected : null}
        width={width}
      />
    );
    const counters = (
      <CountersPanel
        counters={state.focus}
        label={focusLabel}
        live={sample ? sample.total : null}
        width={width}
      />
    );
    switch (ui.view) {
      case 'overview':
        return (
          <>
            {counters}
            {layout.showSparklines ? <SparklinesPanel history={state.history} width={width} /> : null}
            <ServicesPanel
              services={services}
              counters={state.services}
              live={state.live}
              rows={layout.serviceRows}
              scroll={0}
              width={width}
              detailed={false}
            />
            {connectionsPane}
            {headersPane}
          </>
        );
      case 'connections':
        return connectionsPane;
      case 'headers':
        return headersPane;
      case 'services':
        return (
          <ServicesPanel
            services={services}
            counters={state.services}
            live={state.live}
            rows={layout.serviceRows}
            scroll={ui.scroll}
            width={width}
            detailed
          />
        );
      case 'cpus':
        return (
          <>
            {counters}
            {state.perCpu ? (
              <CpuPanel page={pageRows(state.perCpu, ui.scroll, layout.cpuRows)} width={width} />
            ) : (
              <Text>{clip('per-CPU counters are not being read', width)}</Text>
            )}
          </>
        );
    }
  };

  return (
    <Box flexDirection="column" width={width} height={layout.height}>
      <BannerPanel
        snapshot={snapshot}
        cost={state.cost}
        intervalSeconds={props.intervalSeconds}
        paused={ui.paused}
        error={props.error}
        width={width}
      />
      <Box flexDirection="column" flexGrow={1}>
        {body()}
      </Box>
      <Footer ui={ui} width={width} />
    </Box>
  );
}
