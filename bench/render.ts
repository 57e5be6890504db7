/**
 * Regenerate a run's Markdown and SVG (and JSON summary) from its JSON, without measuring again:
 *
 *   node --import tsx bench/render.ts bench/results/latest.json [--out DIR]
 *
 * The measurements are kept as they were; the summary, goals and report are recomputed by the current
 * code. Written next to the input unless --out says otherwise; latest.json renders to latest.*.
 */

import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { ConntrackMemory } from './metrics.js';
import { makePlan, parseArgs } from './plan.js';
import type { ConntrackTable } from './profile.js';
import { writeReports } from './report.js';
import { type BenchSummary, summarize } from './summary.js';

async function main(argv: string[]): Promise<void> {
  const [input, ...rest] = argv;
  if (!input) throw new Error('usage: node --import tsx bench/render.ts RESULT.json [--out DIR]');
  const old = JSON.parse(await readFile(input, 'utf8')) as BenchSummary;
  const outAt = rest.indexOf('--out');
  const outDir = outAt >= 0 ? (rest[outAt + 1] ?? dirname(input)) : dirname(input);
  const m = old.meta;
  const options = parseArgs(m.argv, outDir);
  const plan = makePlan(
    {
      ...options,
      outDir,
      quick: m.quick,
      rounds: m.rounds,
      durationS: m.durationS,
      contenders: old.contenders.map((c) => c.id),
      scenarios: old.scenarios.map((s) => s.id),
      udp: old.udp !== undefined,
      updateLatest: basename(input) === 'latest.json',
    },
    m.threads,
  );
  const summary = summarize({
    plan,
    measurements: old.measurements,
    udpMeasurements: old.udp?.measurements,
    profile: old.profile && { ...old.profile, conntrack: conntrackTables(old.profile.conntrack) },
    env: m.env,
    startedAt: new Date(m.startedAt),
    finishedAt: new Date(m.finishedAt),
    argv: m.argv,
  });
  for (const file of await writeReports(summary, plan)) console.error(`wrote ${file}`);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});

/** Reports written before the large-table contender held one table's memory, not a list of tables. */
function conntrackTables(saved: ConntrackTable[] | ConntrackMemory): ConntrackTable[] {
  if (Array.isArray(saved)) return saved;
  return [
    {
      contenders: ['lbctl-fullnat-ppv2', 'lbctl-fullnat', 'lbctl-dnat-ppv2'],
      heldConnections: 0,
      memory: saved,
    },
  ];
}
