/**
 * A/B comparison of two datapath objects under the same load, for datapath performance work:
 *
 *   sudo node --import tsx bench/ab.ts A.o B.o [--rounds N] [--duration S] [--scenarios short,keepalive]
 *                                               [--contenders lbctl-fullnat-ppv2,lbctl-fullnat]
 *
 * One bench topology; each round attaches A, measures every scenario, detaches, then the same for B, with
 * the order flipped every other round (A B B A A B …) so slow drift of the shared machine's load does not
 * favour one side. The kernel's BPF run-time statistics are on throughout: ns per packet and µs of datapath
 * per unit of work are the reliable signal on a noisy machine (wrk's throughput is printed too, but other
 * people's load moves it). Every measurement runs the bench's correctness checks; a failed check is shown.
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
  variant: 'A' | 'B';
  round: number;
  contender: ContenderId;
  scenario: ScenarioId;
  nsPerPacket: number;
  usPerUnit: number;
  packetsPerUnit: number;
  value: number;
  failed: string[];
}

function parse(argv: string[]) {
  const [a, b, ...rest] = argv;
  if (!a || !b || a.startsWith('--') || b.startsWith('--'))
    throw new Error(
      'usage: bench/ab.ts A.o B.o [--rounds N] [--duration S] [--scenarios a,b] [--contenders a,b]',
    );
  let rounds = 4;
  let durationS = 3;
  let scenarios: ScenarioId[] = ['short', 'keepalive', 'download'];
  let contenders: ContenderId[] = [SUBJECT];
  while (rest.length > 0) {
    const flag = rest.shift();
    const v = rest.shift() ?? '';
    if (flag === '--rounds') rounds = Number(v);
    else if (flag === '--duration') durationS = Number(v);
    else if (flag === '--scenarios') scenarios = v.split(',') as ScenarioId[];
    else if (flag === '--contenders') contenders = v.split(',') as ContenderId[];
    else throw new Error(`unknown flag ${flag}`);
  }
  for (const s of scenarios) scenarioSpec(s);
  for (const c of contenders) contenderSpec(c);
  return { a, b, rounds, durationS, scenarios, contenders };
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
    const balancers = {
      A: await LbctlBalancer.create(lab, cleanup, opts.a, 'a.bpf.o'),
      B: await LbctlBalancer.create(lab, cleanup, opts.b, 'b.bpf.o'),
    };
    const balancerPids = await namespaceProcesses(lab.topo.ns.lb);
    const disable = enableRunTimeStats();
    cleanup.add('disable BPF run-time statistics', disable);
    for (let round = 1; round <= opts.rounds; round++) {
      const order: Array<'A' | 'B'> = round % 4 === 1 || round % 4 === 0 ? ['A', 'B'] : ['B', 'A'];
      for (const variant of order) {
        const lb = balancers[variant];
        await lb.setUp();
        const programIds = await lb.programIds();
        const ctx = { lab, lbctl: lb, threads: 2, durationS: opts.durationS, balancerPids, programIds };
        for (const scenarioId of opts.scenarios) {
          for (const contenderId of opts.contenders) {
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
              failed: m.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`),
            };
            samples.push(s);
            log(
              `round ${round} ${variant} ${contenderId.padEnd(18)} ${scenarioId.padEnd(9)} ` +
                `${s.nsPerPacket.toFixed(0).padStart(5)} ns/pkt ${s.usPerUnit.toFixed(2).padStart(7)} µs/${scenario.workUnit} ` +
                `${s.packetsPerUnit.toFixed(1)} pkt/${scenario.workUnit} ${s.value.toFixed(0).padStart(7)} ${scenario.unit}` +
                (s.failed.length ? `  FAILED ${s.failed.join('; ')}` : ''),
            );
          }
        }
        await lb.remove();
      }
    }
  } finally {
    await cleanup.run();
    removeSignalHandlers();
  }
  console.log(`A = ${opts.a}\nB = ${opts.b}\nmedians over ${opts.rounds} rounds of ${opts.durationS} s:`);
  console.log(
    '| contender | scenario | A ns/pkt | B ns/pkt | B/A | A µs/unit | B µs/unit | A value | B value | B/A |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const contender of opts.contenders) {
    for (const scenario of SCENARIOS.filter((s) => opts.scenarios.includes(s.id))) {
      const pick = (v: 'A' | 'B', f: (s: Sample) => number) =>
        median(
          samples
            .filter((s) => s.variant === v && s.scenario === scenario.id && s.contender === contender)
            .map(f),
        );
      const [an, bn] = [pick('A', (s) => s.nsPerPacket), pick('B', (s) => s.nsPerPacket)];
      const [au, bu] = [pick('A', (s) => s.usPerUnit), pick('B', (s) => s.usPerUnit)];
      const [av, bv] = [pick('A', (s) => s.value), pick('B', (s) => s.value)];
      console.log(
        `| ${contender} | ${scenario.id} | ${an.toFixed(0)} | ${bn.toFixed(0)} | ${(bn / an).toFixed(3)} | ` +
          `${au.toFixed(2)} | ${bu.toFixed(2)} | ${av.toFixed(0)} | ${bv.toFixed(0)} | ${(bv / av).toFixed(3)} |`,
      );
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
