/**
 * Side-by-side comparison of datapath objects under the same load, for datapath performance work:
 *
 *   sudo node --import tsx bench/ab.ts A.o B.o [C.o …] [--rounds N] [--duration S] [--scenarios short,keepalive]
 *                                                     [--contenders lbctl-fullnat-ppv2,lbctl-fullnat] [--plain]
 *
 * One bench topology; each round attaches one object, measures every scenario, detaches, then the next
 * object, the order rotating and reversing from round to round (A B, B A, … or A B C, C B A, B C A, …) so slow
 * drift of the shared machine's load favours none of them. The kernel's BPF run-time statistics are on
 * throughout: ns per packet and µs of datapath per unit of work are the reliable signal on a noisy machine
 * (wrk's throughput is printed too, but other people's load moves it). Every measurement runs the bench's
 * correctness checks; a failed check is shown and fails the run. --plain adds plain forwarding (nothing
 * attached) to the rotation, and each object's throughput ratio to it, paired within the round.
 */
import { enableRunTimeStats } from '../src/bpf/prog-info.js';
import { Cleanup } from './cleanup.js';
import { LbctlBalancer } from './contenders.js';
import { startBenchLab } from './lab.js';
import { type Measurement, measure } from './measure.js';
import { initClockTicks, namespaceProcesses } from './metrics.js';
import {
  type ContenderId,
  contenderSpec,
  SCENARIOS,
  type ScenarioId,
  SUBJECT,
  scenarioSpec,
} from './plan.js';

interface Sample {
  variant: number;
  round: number;
  contender: ContenderId;
  scenario: ScenarioId;
  nsPerPacket: number;
  usPerUnit: number;
  packetsPerUnit: number;
  value: number;
  /** Machine CPU per unit of work (less other people's processes), µs. */
  cpuPerUnitUs: number;
  failed: string[];
}

const USAGE =
  'usage: bench/ab.ts A.o B.o [C.o …] [--rounds N] [--duration S] [--scenarios a,b] [--contenders a,b]';

function parse(argv: string[]) {
  const objects: string[] = [];
  let rounds = 4;
  let durationS = 3;
  let scenarios: ScenarioId[] = ['short', 'keepalive', 'download'];
  let contenders: ContenderId[] = [SUBJECT];
  let plain = false;
  const rest = [...argv];
  while (rest.length > 0) {
    const arg = rest.shift() as string;
    if (!arg.startsWith('--')) {
      objects.push(arg);
      continue;
    }
    if (arg === '--plain') {
      plain = true;
      continue;
    }
    const v = rest.shift() ?? '';
    if (arg === '--rounds') rounds = Number(v);
    else if (arg === '--duration') durationS = Number(v);
    else if (arg === '--scenarios') scenarios = v.split(',') as ScenarioId[];
    else if (arg === '--contenders') contenders = v.split(',') as ContenderId[];
    else throw new Error(`unknown flag ${arg}\n${USAGE}`);
  }
  if (objects.length < 2) throw new Error(USAGE);
  for (const s of scenarios) scenarioSpec(s);
  for (const c of contenders) contenderSpec(c);
  return { objects, rounds, durationS, scenarios, contenders, plain };
}

/** Variant index PLAIN is plain forwarding (no object attached). */
const PLAIN = -1;
const label = (i: number) => (i === PLAIN ? 'plain' : String.fromCharCode(65 + i));

/** Round r's order: rotated by r/2, reversed every other round. */
export function roundOrder(n: number, round: number): number[] {
  const base = Array.from({ length: n }, (_, i) => (i + Math.floor((round - 1) / 2)) % n);
  return round % 2 === 0 ? base.reverse() : base;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((x, y) => x - y);
  const m = Math.floor(s.length / 2);
  return s.length === 0
    ? Number.NaN
    : s.length % 2
      ? (s[m] as number)
      : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

async function main(): Promise<void> {
  const opts = parse(process.argv.slice(2));
  const log = (line: string) => console.error(`[ab] ${line}`);
  await initClockTicks();
  const cleanup = new Cleanup();
  const removeSignalHandlers = cleanup.onSignals(log);
  const samples: Sample[] = [];
  try {
    const lab = await startBenchLab(cleanup, log);
    const balancers: LbctlBalancer[] = [];
    for (const [i, path] of opts.objects.entries())
      balancers.push(await LbctlBalancer.create(lab, cleanup, path, `${label(i)}.bpf.o`));
    const balancerPids = await namespaceProcesses(lab.topo.ns.lb);
    const disable = enableRunTimeStats();
    cleanup.add('disable BPF run-time statistics', disable);
    for (let round = 1; round <= opts.rounds; round++) {
      const order = roundOrder(balancers.length + (opts.plain ? 1 : 0), round).map((v) =>
        v === balancers.length ? PLAIN : v,
      );
      for (const variant of order) {
        const lb = variant === PLAIN ? undefined : (balancers[variant] as LbctlBalancer);
        await lb?.setUp();
        const programIds = lb ? await lb.programIds() : undefined;
        const ctx = { lab, lbctl: lb, threads: 2, durationS: opts.durationS, balancerPids, programIds };
        for (const scenarioId of opts.scenarios) {
          for (const contenderId of variant === PLAIN ? (['plain'] as const) : opts.contenders) {
            if (cleanup.interrupted) throw new Error('interrupted');
            const scenario = scenarioSpec(scenarioId);
            const m: Measurement = await measure(ctx, round, contenderSpec(contenderId), scenario);
            const p = m.datapath?.program;
            const s: Sample = {
              variant,
              round,
              contender: contenderId,
              scenario: scenarioId,
              nsPerPacket: p && p.runs > 0 ? p.runTimeNs / p.runs : Number.NaN,
              usPerUnit: p && m.work > 0 ? p.runTimeNs / 1e3 / m.work : Number.NaN,
              packetsPerUnit: p && m.work > 0 ? p.runs / m.work : Number.NaN,
              value: m.value,
              cpuPerUnitUs: m.cpu.perUnitUs,
              failed: m.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`),
            };
            samples.push(s);
            log(
              `round ${round} ${label(variant)} ${contenderId.padEnd(18)} ${scenarioId.padEnd(9)} ` +
                `${s.nsPerPacket.toFixed(0).padStart(5)} ns/pkt ${s.usPerUnit.toFixed(2).padStart(7)} µs/${scenario.workUnit} ` +
                `${s.packetsPerUnit.toFixed(1)} pkt/${scenario.workUnit} ${s.value.toFixed(0).padStart(7)} ${scenario.unit} ` +
                `cpu ${s.cpuPerUnitUs.toFixed(1)} µs/${scenario.workUnit}` +
                (s.failed.length ? `  FAILED ${s.failed.join('; ')}` : ''),
            );
          }
        }
        await lb?.remove();
      }
    }
  } finally {
    await cleanup.run();
    removeSignalHandlers();
  }
  const n = opts.objects.length;
  for (const [i, path] of opts.objects.entries()) console.log(`${label(i)} = ${path}`);
  console.log(`medians over ${opts.rounds} rounds of ${opts.durationS} s; ratios against A`);
  const cols = Array.from({ length: n }, (_, i) => label(i));
  console.log(
    `| contender | scenario | ${cols.map((c) => `${c} ns/pkt`).join(' | ')} | ${cols.map((c) => `${c} µs/unit`).join(' | ')} | ${cols.map((c) => `${c} throughput`).join(' | ')} |`,
  );
  console.log(`|${' --- |'.repeat(2 + 3 * n)}`);
  for (const contender of opts.contenders) {
    for (const scenario of SCENARIOS.filter((s) => opts.scenarios.includes(s.id))) {
      const pick = (v: number, f: (s: Sample) => number) =>
        median(
          samples
            .filter((s) => s.variant === v && s.scenario === scenario.id && s.contender === contender)
            .map(f),
        );
      const cells = (f: (s: Sample) => number, digits: number) => {
        const base = pick(0, f);
        return cols
          .map((_, v) => {
            const x = pick(v, f);
            return v === 0 ? x.toFixed(digits) : `${x.toFixed(digits)} (${(x / base).toFixed(3)})`;
          })
          .join(' | ');
      };
      console.log(
        `| ${contender} | ${scenario.id} (${scenario.unit}) | ${cells((s) => s.nsPerPacket, 0)} | ` +
          `${cells((s) => s.usPerUnit, 2)} | ${cells((s) => s.value, 0)} |`,
      );
    }
  }
  if (opts.plain) {
    console.log('\nthroughput and machine CPU per unit against plain forwarding, paired per round (median):');
    for (const contender of opts.contenders) {
      for (const scenario of SCENARIOS.filter((s) => opts.scenarios.includes(s.id))) {
        const plainOf = (round: number) =>
          samples.find((s) => s.variant === PLAIN && s.round === round && s.scenario === scenario.id);
        const ratios = cols.map((_, v) => {
          const mine = samples.filter(
            (s) => s.variant === v && s.scenario === scenario.id && s.contender === contender,
          );
          const pairs = mine.flatMap((s) => {
            const p = plainOf(s.round);
            return p ? [[s.value / p.value, s.cpuPerUnitUs / p.cpuPerUnitUs]] : [];
          });
          return `${median(pairs.map((x) => x[0] as number)).toFixed(3)}× (cpu ${median(pairs.map((x) => x[1] as number)).toFixed(3)}×)`;
        });
        console.log(
          `| ${contender} | ${scenario.id} | ${ratios.map((r, v) => `${label(v)} ${r}`).join(' | ')} |`,
        );
      }
    }
  }
  const failures = samples.filter((s) => s.failed.length > 0);
  console.log(failures.length ? `${failures.length} measurement(s) FAILED checks` : 'all checks passed');
  if (failures.length) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(`[ab] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
});
