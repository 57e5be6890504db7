import { COUNTER_NAMES } from '../bpf/records.js';
import type { CountersJson } from '../core/counter-snapshot.js';
import { bytes, si } from '../ui/format.js';
import { type Column, type ListingOptions, renderColumns, renderTable } from './output.js';

/**
 * `lbctl stats` as tables that fit a terminal: one row per service (and one for the balancer-wide total),
 * so the width does not grow with the number of services. The default table has a few headline columns, in
 * rounded units as the dashboard shows them (1.2k, 3.4MB), and lists every other counter that is not zero
 * below it; `-o wide` has one column per counter instead, with exact values (as --json).
 */

type Counts = Record<string, number>;
/** One row: the total, a service (its id and name) or a CPU (`--per-cpu`). */
export interface CounterRow {
  id: string;
  label: string;
  counters: Counts;
}
/** What the rows after the total are: the head of the label column and of the "by ..." column. */
export type RowKind = 'service' | 'cpu';

/** Counters that say a packet was dropped: summed in the "drops" column, listed one by one below. */
export const isDropCounter = (name: string): boolean =>
  name.startsWith('drop_') || name.startsWith('ppv2_fail_') || name === 'ppv2_syn_data';

const count = (name: string) => (row: CounterRow) => row.counters[name] ?? 0;
const pair = (format: (n: number) => string, fwd: string, rev: string) => (row: CounterRow) =>
  `${format(count(fwd)(row))}/${format(count(rev)(row))}`;
const drops = (row: CounterRow) =>
  COUNTER_NAMES.filter(isDropCounter).reduce((sum, name) => sum + count(name)(row), 0);

/** The default table's columns after the label: rounded, never cut. */
const HEADLINE_COLUMNS: ReadonlyArray<Column<CounterRow>> = [
  { head: 'conns', cell: (r) => si(count('conn_new')(r)), fit: 'whole' },
  { head: 'pkts fwd/rev', cell: pair(si, 'fwd_packets', 'rev_packets'), fit: 'whole' },
  { head: 'bytes fwd/rev', cell: pair(bytes, 'fwd_bytes', 'rev_bytes'), fit: 'whole' },
  { head: 'ppv2', cell: (r) => si(count('ppv2_injected')(r)), fit: 'whole' },
  { head: 'drops', cell: (r) => si(drops(r)), fit: 'whole' },
];
/** Counters the headline columns show one by one; every other one is listed below the table. */
const HEADLINE_NAMES = new Set([
  'conn_new',
  'fwd_packets',
  'rev_packets',
  'fwd_bytes',
  'rev_bytes',
  'ppv2_injected',
]);

const labelColumns = (kind: RowKind): Array<Column<CounterRow>> =>
  kind === 'service'
    ? [
        { head: 'id', cell: (r) => r.id, fit: 'whole' },
        { head: 'service', cell: (r) => r.label },
      ]
    : [{ head: 'cpu', cell: (r) => r.label }];

/** The rows of a stats document: the total first, then each service by id. */
export function counterRows(doc: CountersJson): CounterRow[] {
  return [
    { id: '-', label: 'total', counters: doc.global },
    ...doc.services.map((s) => ({ id: String(s.id), label: s.name ?? s.key, counters: s.counters })),
  ];
}

/** The rows of `--per-cpu`: the total, then each CPU's balancer-wide counters. */
export function cpuRows(global: Counts, perCpu: readonly Counts[]): CounterRow[] {
  return [
    { id: '-', label: 'total', counters: global },
    ...perCpu.map((counters, cpu) => ({ id: String(cpu), label: `cpu${cpu}`, counters })),
  ];
}

/** Counters to show: those not zero in some row, or all with --all, in counter order. */
export function shownCounters(rows: readonly CounterRow[], all: boolean): string[] {
  return COUNTER_NAMES.filter((name) => all || rows.some((r) => (r.counters[name] ?? 0) !== 0));
}

export function renderCounterRows(
  kind: RowKind,
  rows: readonly CounterRow[],
  names: readonly string[],
  options: ListingOptions,
): string {
  const label = labelColumns(kind);
  if (options.wide)
    return renderColumns([...label, ...names.map((name) => ({ head: name, cell: count(name) }))], rows);
  const table = renderColumns([...label, ...HEADLINE_COLUMNS], rows, options);
  const others = names.filter((name) => !HEADLINE_NAMES.has(name));
  if (others.length === 0) return table;
  const byService = (name: string) =>
    rows
      .slice(1)
      .filter((r) => (r.counters[name] ?? 0) !== 0)
      .map((r) => `${r.label} ${r.counters[name]}`)
      .join(', ') || '-';
  const [total] = rows;
  const detail = renderTable(
    ['counter', 'total', `by ${kind}`],
    others.map((name) => [name, total?.counters[name] ?? 0, byService(name)]),
    options,
  );
  return `${table}\n${detail}`;
}
