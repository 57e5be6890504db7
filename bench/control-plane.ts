/**
 * `npm run bench -- --control-plane`: how fast the control plane is at scale. Each operation is the real
 * CLI (a separate `lbctl` process, as a user runs it) against a balancer attached in a fresh lab namespace:
 * `service add` / `set` / `list` with 10, 1,000 and 4,000 backends in one service, and `apply` / `list` with
 * 10, 250 (the most a balancer holds), 1,000 and 4,000 services (the last two are refused: the time is how
 * long the refusal takes). Every case starts from a freshly attached balancer. Prints a Markdown table and
 * writes it with the raw times to OUT/control-plane.{md,json}. Needs root and a built dist/.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { manyServicesManifest } from '../src/lab/k8s-manifest.js';
import { createTopology, destroyTopology, type Topology } from '../src/lab/topology.js';
import type { Cleanup } from './cleanup.js';
import { UsageError } from './plan.js';

const RUN_JS = fileURLToPath(new URL('../bin/run.js', import.meta.url));
export const BACKEND_SIZES = [10, 1000, 4000];
export const SERVICE_COUNTS = [10, 250, 1000, 4000];
const VIP = '203.0.113.10';

export interface ControlPlaneRow {
  operation: string;
  /** Backends in the service, or services in the manifest. */
  size: number;
  /** Exit code every repetition had. */
  exitCode: number;
  /** Median wall time of one CLI run, ms (node start-up included: see the `startup` row). */
  medianMs: number;
  /** A run was stopped after `timeoutMs`: its time is only a lower bound. */
  timedOut: boolean;
  timesMs: number[];
}

interface Run {
  code: number;
  ms: number;
  stderr: string;
  timedOut: boolean;
}

let timeoutMs = 120_000;

function cli(topo: Topology, args: string[], input?: string): Run {
  const started = performance.now();
  const res = spawnSync(process.execPath, [RUN_JS, '--netns', topo.ns.lb, ...args], {
    input,
    env: { ...process.env, NO_COLOR: '1' },
    maxBuffer: 256 * 1024 * 1024,
    timeout: timeoutMs,
  });
  const ms = performance.now() - started;
  const timedOut = (res.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT';
  if (res.error && !timedOut) throw res.error;
  return { code: res.status ?? -1, ms, stderr: res.stderr?.toString('utf8') ?? '', timedOut };
}

function mustSucceed(what: string, run: Run): void {
  if (run.code !== 0 && !run.timedOut)
    throw new Error(`${what} failed (exit ${run.code}): ${run.stderr.trim()}`);
}

/** Backend i of a big service: 250 addresses of the lab's backend network, each with many ports. */
const backendAt = (i: number, weight = 1) =>
  `198.51.100.${2 + (i % 250)}:${10000 + Math.floor(i / 250)}${weight === 1 ? '' : `:${weight}`}`;
const backendFlags = (n: number, weight = 1) =>
  Array.from({ length: n }, (_, i) => ['--backend', backendAt(i, weight)]).flat();

export interface ControlPlaneOptions {
  repetitions: number;
  backendSizes: readonly number[];
  serviceCounts: readonly number[];
  /** Longest one CLI run may take; a slower one is stopped and reported as "more than". */
  timeoutMs: number;
}

const CONTROL_PLANE_USAGE =
  'usage: npm run bench -- --control-plane [--repetitions N] [--backends 10,1000,4000] [--services 10,250,1000,4000] [--timeout SECONDS]';

/** `--repetitions 3 --backends 10,1000,4000 --services 10,250,1000,4000 --timeout 120` by default. */
export function parseControlPlaneArgs(argv: readonly string[]): ControlPlaneOptions {
  const options: ControlPlaneOptions = {
    repetitions: 3,
    backendSizes: BACKEND_SIZES,
    serviceCounts: SERVICE_COUNTS,
    timeoutMs: 120_000,
  };
  const numbers = (text: string | undefined, min: number): number[] => {
    const list = (text ?? '').split(',').map(Number);
    if (text === undefined || list.some((n) => !Number.isInteger(n) || n < min)) {
      throw new UsageError(`expected a comma-separated list of integers >= ${min}\n${CONTROL_PLANE_USAGE}`);
    }
    return list;
  };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (flag === '--repetitions') [options.repetitions] = numbers(value, 1) as [number];
    else if (flag === '--backends') options.backendSizes = numbers(value, 1);
    else if (flag === '--services') options.serviceCounts = numbers(value, 0);
    else if (flag === '--timeout') options.timeoutMs = (numbers(value, 1)[0] as number) * 1000;
    else throw new UsageError(`unknown argument ${flag}\n${CONTROL_PLANE_USAGE}`);
  }
  return options;
}

export async function runControlPlaneBench(
  options: ControlPlaneOptions & { outDir: string; cleanup: Cleanup; log: (line: string) => void },
): Promise<ControlPlaneRow[]> {
  const { log, cleanup } = options;
  timeoutMs = options.timeoutMs;
  const topo = await createTopology({ prefix: 'lbctl-cpb' });
  const removeTopology = cleanup.add('remove the control-plane lab', () => destroyTopology(topo));
  const detachAtEnd = cleanup.add('detach the control-plane balancer', () => cli(topo, ['detach', '--all']));
  const attach = () =>
    mustSucceed('attach', cli(topo, ['attach', topo.ifaces.lbClient, topo.ifaces.lbBackend]));
  const detach = () => mustSucceed('detach', cli(topo, ['detach', '--all']));
  const rows: ControlPlaneRow[] = [];
  const record = (operation: string, size: number, runs: Run[]) => {
    const timesMs = runs.map((r) => Math.round(r.ms * 10) / 10);
    const sorted = [...timesMs].sort((a, b) => a - b);
    const row = {
      operation,
      size,
      exitCode: runs[0]?.code ?? -1,
      medianMs: sorted[Math.floor(sorted.length / 2)] ?? Number.NaN,
      timedOut: runs.some((r) => r.timedOut),
      timesMs,
    };
    if (runs.some((r) => r.code !== row.exitCode)) throw new Error(`${operation} ${size}: exit codes differ`);
    rows.push(row);
    log(
      `${operation.padEnd(15)} ${String(size).padStart(5)}  ${row.timedOut ? '>' : ' '}${row.medianMs.toFixed(0).padStart(7)} ms  exit ${row.exitCode}`,
    );
  };
  const repeat = (n: number, each: () => Run) => Array.from({ length: n }, each);

  try {
    attach();
    // What every command pays before it does anything: node, oclif, opening the maps.
    record(
      'startup (list)',
      0,
      repeat(options.repetitions, () => cli(topo, ['service', 'list', '--json'])),
    );
    for (const n of options.backendSizes) {
      const adds: Run[] = [];
      const sets: Run[] = [];
      const lists: Run[] = [];
      for (let r = 0; r < options.repetitions; r++) {
        const add = cli(topo, ['service', 'add', `${VIP}:80`, ...backendFlags(n), '--json']);
        mustSucceed(`service add with ${n} backends`, add);
        adds.push(add);
        if (!add.timedOut) {
          lists.push(cli(topo, ['service', 'list', '--json']));
          const set = cli(topo, ['service', 'set', `${VIP}:80`, ...backendFlags(n, 2), '--json']);
          mustSucceed(`service set with ${n} backends`, set);
          sets.push(set);
        }
        // A fresh balancer for the next run (a run stopped half-way may have left records).
        detach();
        attach();
      }
      record('service add', n, adds);
      if (lists.length > 0) record('service list', n, lists);
      if (sets.length > 0) record('service set', n, sets);
    }
    for (const n of options.serviceCounts) {
      const manifest = manyServicesManifest({
        count: n,
        vip: VIP,
        firstPort: 1000,
        backends: topo.backends.ipv4,
      });
      const applies: Run[] = [];
      const lists: Run[] = [];
      for (let r = 0; r < options.repetitions; r++) {
        const applied = cli(topo, ['apply', '-f', '-', '--json'], manifest);
        applies.push(applied);
        // Listing is measured where there is something to list: after an apply that went through.
        if (applied.code === 0) lists.push(cli(topo, ['service', 'list', '--json']));
        // A fresh balancer for the next run: detaching removes every map.
        detach();
        attach();
      }
      record('apply', n, applies);
      if (lists.length > 0) record('list (services)', n, lists);
    }
  } finally {
    await detachAtEnd();
    await removeTopology();
  }
  writeFileSync(join(options.outDir, 'control-plane.json'), `${JSON.stringify(rows, null, 2)}\n`);
  writeFileSync(join(options.outDir, 'control-plane.md'), renderControlPlane(rows));
  return rows;
}

export function renderControlPlane(rows: readonly ControlPlaneRow[]): string {
  const lines = [
    '| operation | backends / services | exit | median ms | per second |',
    '|---|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.operation} | ${r.size} | ${r.exitCode} | ${r.timedOut ? '> ' : ''}${r.medianMs.toFixed(0)} | ${(1000 / r.medianMs).toFixed(2)} ops` +
        `${r.size > 0 ? `, ${((r.size * 1000) / r.medianMs).toFixed(0)} items` : ''} |`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}
