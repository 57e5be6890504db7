import { Box, Text } from 'ink';
import { counterGroup } from '../core/stats.js';
import type { CounterView } from './dashboard-state.js';
import { bytes, clip, si } from './format.js';

export interface CountersPanelProps {
  counters: CounterView;
  /** What the counters are of: "balancer" or a service name. */
  label: string;
  /** Live connections from the last conntrack pass; null before the first. */
  live: number | null;
  width: number;
}

/** Non-zero failure and drop counters, largest first: "drop_no_backend 3 (0.5/s)". */
export function problemReasons(counters: CounterView): string[] {
  return Object.entries(counters.totals)
    .filter(([name, total]) => total > 0 && ['failures', 'drops'].includes(counterGroup(name)))
    .sort((a, b) => b[1] - a[1])
    .map(([name, total]) => `${name} ${si(total)} (${si(counters.rates[name] ?? 0)}/s)`);
}

/**
 * Three lines: rates over the last interval, totals, and failures/drops by reason. Rates come first
 * because that is what changes; totals are what `lbctl stats` also prints.
 */
export function CountersPanel({ counters, label, live, width }: CountersPanelProps) {
  const r = counters.rateSummary;
  const t = counters.totalSummary;
  const rates = [
    `rate   pkts/s ${si(r.packets)}`,
    `bits/s ${si(r.bytes * 8)}`,
    `conn/s ${si(r.connections)}`,
    `hdr/s ${si(r.headers)}`,
    `reinj/s ${si(r.reinjections)}`,
  ].join('   ');
  const totals = [
    `total  pkts ${si(t.packets)}`,
    `bytes ${bytes(t.bytes)}`,
    `conns ${si(t.connections)}`,
    `headers ${si(t.headers)}`,
    `reinj ${si(t.reinjections)}`,
    `live ${live === null ? '-' : si(live)}`,
    `(${label})`,
  ].join('   ');
  const reasons = problemReasons(counters);
  const lost = counters.totals.events_lost ?? 0;
  const trouble = t.failures > 0 || t.drops > 0;
  const problems = trouble
    ? `issues failures ${si(t.failures)} drops ${si(t.drops)}: ${reasons.join(', ')}`
    : `issues none (failures 0, drops 0${lost > 0 ? `, events lost ${si(lost)}` : ''})`;
  return (
    <Box flexDirection="column">
      <Text color="green" wrap="truncate-end">
        {clip(rates, width)}
      </Text>
      <Text wrap="truncate-end">{clip(totals, width)}</Text>
      <Text color={trouble ? 'red' : undefined} dimColor={!trouble} wrap="truncate-end">
        {clip(problems, width)}
      </Text>
    </Box>
  );
}
