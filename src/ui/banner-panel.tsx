import { Box, Text } from 'ink';
import type { DatapathSnapshot } from '../core/datapath-snapshot.js';
import type { DatapathCost } from './dashboard-state.js';
import { clip, clock, duration, fit } from './format.js';
import { DETACHING_TEXT, runTimeStatsText } from './view-model.js';

export interface BannerPanelProps {
  snapshot: DatapathSnapshot | null;
  cost: DatapathCost;
  intervalSeconds: number;
  paused: boolean;
  /** The last collection error, shown instead of the cost line until a collection succeeds. */
  error: string | null;
  width: number;
}

/**
 * Two lines: the instance, uptime, refresh interval and clock; then the datapath's own cost per packet and
 * in CPU (from the kernel's run-time statistics), the attached interfaces and program ids.
 */
export function BannerPanel(props: BannerPanelProps) {
  const { snapshot, cost, width } = props;
  const now = snapshot?.takenAtMs ?? Date.now();
  const interfaces = snapshot?.interfaces ?? [];
  const attached = interfaces.map((i) => Date.parse(i.attachedAt)).filter((t) => Number.isFinite(t));
  const progIds = [...new Set(interfaces.map((i) => i.progId).filter((id) => id !== null))];
  const title = [
    props.paused ? 'PAUSED ' : '',
    snapshot && !snapshot.attached ? 'NOT ATTACHED ' : '',
    snapshot?.detaching ? `${DETACHING_TEXT[snapshot.detaching]}  ` : '', // first: this is not normal service
    'lbctl top',
    snapshot?.instance.name ?? '-',
    `up ${attached.length > 0 ? duration((now - Math.min(...attached)) / 1000) : '-'}`,
    `every ${props.intervalSeconds}s`,
    clock(now),
  ]
    .filter(Boolean)
    .join('  ');
  const costText = [
    `datapath ${cost.nsPerPacket === null ? '-' : Math.round(cost.nsPerPacket)} ns/pkt`,
    `${cost.cpuPercent === null ? '-' : cost.cpuPercent.toFixed(2)}% CPU`,
    `if ${interfaces.map((i) => `${i.interface}${i.progId === null ? '(detached)' : ''}`).join(',') || 'none'}`,
    `prog ${progIds.join(',') || '-'}`,
    `BPF stats ${snapshot ? runTimeStatsText(snapshot) : '-'}`,
  ].join('  ');
  return (
    <Box flexDirection="column">
      <Text inverse bold wrap="truncate-end">
        {fit(title, width)}
      </Text>
      {props.error ? (
        <Text color="red" wrap="truncate-end">
          {clip(`collection failed: ${props.error}`, width)}
        </Text>
      ) : (
        <Text wrap="truncate-end">{clip(costText, width)}</Text>
      )}
    </Box>
  );
}
