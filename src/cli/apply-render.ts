import type { FieldChange, PlanAction, PlanEntry } from '../core/apply-plan.js';
import type { IgnoredObject } from '../k8s/objects.js';
import { renderTable } from './output.js';

/** `lbctl apply` output: the plan (or what was done) as a table, and as the --json document. */
export interface ApplyReport {
  dryRun: boolean;
  /** true when the maps or state were written (a real run with something to do). */
  applied: boolean;
  summary: Record<PlanAction, number>;
  plan: Array<{
    action: PlanAction;
    service: string;
    name: string | null;
    id: number | null;
    source: string | null;
    owner: string | null;
    changes: FieldChange[];
  }>;
  ignored: IgnoredObject[];
  notes: string[];
}

export function applyReport(
  entries: readonly PlanEntry[],
  options: { dryRun: boolean; ignored: IgnoredObject[]; notes: string[] },
): ApplyReport {
  const summary: Record<PlanAction, number> = { add: 0, change: 0, delete: 0, unchanged: 0 };
  for (const e of entries) summary[e.action]++;
  return {
    dryRun: options.dryRun,
    applied: !options.dryRun && summary.add + summary.change + summary.delete > 0,
    summary,
    plan: entries.map((e) => ({
      action: e.action,
      service: e.key,
      name: e.name,
      id: e.id,
      source: e.source,
      owner: e.owner,
      changes: e.changes,
    })),
    ignored: options.ignored,
    notes: options.notes,
  };
}

export function renderApplyReport(report: ApplyReport): string {
  if (report.plan.length === 0) return 'nothing to apply: the input describes no service for lbctl';
  const table = renderTable(
    ['action', 'service', 'name', 'changes'],
    report.plan.map((p) => [p.action, p.service, p.name ?? '-', p.changes.map(changeText).join('; ') || '-']),
  );
  const { add, change, delete: del, unchanged } = report.summary;
  const line = report.dryRun
    ? `dry run: ${add} to add, ${change} to change, ${del} to delete, ${unchanged} unchanged; nothing was changed`
    : `applied: ${add} added, ${change} changed, ${del} deleted, ${unchanged} unchanged`;
  return `${table}\n${line}`;
}

/** "mode dnat → fullnat" ("mode dnat" for a field that was unset); backends as what is added and removed: "backends +198.51.100.3:80 -198.51.100.2:80". */
function changeText(change: FieldChange): string {
  if (change.field !== 'backends')
    return change.from === '-'
      ? `${change.field} ${change.to}`
      : `${change.field} ${change.from} → ${change.to}`;
  const list = (text: string) => new Set(text === '-' || text === '' ? [] : text.split(', '));
  const from = list(change.from);
  const to = list(change.to);
  const added = [...to].filter((b) => !from.has(b)).map((b) => `+${b}`);
  const removed = [...from].filter((b) => !to.has(b)).map((b) => `-${b}`);
  return `backends ${[...added, ...removed].join(' ')}`;
}
