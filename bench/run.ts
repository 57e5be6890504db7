/**
 * `npm run bench -- --control-plane [--repetitions N]`: only the control-plane benchmark (control-plane.ts).
 *
 * `npm run bench [-- --quick]`: lbctl against HAProxy, nginx stream and plain forwarding, side by side on
 * one namespace topology. Contenders are measured in turn, interleaved round by round (A B C, C B A, …);
 * then a profiling pass with BPF run-time statistics on; then the report (Markdown, JSON, SVG) goes to
 * bench/results/. Needs root. Everything it creates is removed at the end, also on failure or Ctrl-C.
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sha256File } from '../src/lab/nginx.js';
import { truncateLogs } from './backend-log.js';
import { Cleanup } from './cleanup.js';
import {
  LbctlBalancer,
  type ProxyProcess,
  probeContender,
  startHaproxyProxy,
  startNginxStreamProxy,
} from './contenders.js';
import {
  type ControlPlaneOptions,
  parseControlPlaneArgs,
  renderControlPlane,
  runControlPlaneBench,
} from './control-plane.js';
import { collectEnvironment } from './env.js';
import { allBackends, removeUploads, startBenchLab } from './lab.js';
import { failedMeasurement, type Measurement, measure } from './measure.js';
import { initClockTicks, namespaceProcesses } from './metrics.js';
import { type BenchPlan, makePlan, measurementOrder, parseArgs, UsageError } from './plan.js';
import { type ProfileResult, profileDatapath } from './profile.js';
import { writeReports } from './report.js';
import { summarize } from './summary.js';
import { udpContenders } from './udp-plan.js';
import { runUdpScenario } from './udp-run.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const started = Date.now();
const log = (line: string) =>
  console.error(`[bench +${((Date.now() - started) / 1000).toFixed(0)}s] ${line}`);

async function main(): Promise<number> {
  if (process.argv.includes('--control-plane')) return controlPlane();
  let plan: BenchPlan;
  try {
    plan = makePlan(
      parseArgs(process.argv.slice(2), join(REPO_ROOT, 'bench/results')),
      availableParallelism(),
    );
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(err.message);
      return 2;
    }
    throw err;
  }
  if (process.getuid?.() !== 0) {
    console.error('bench: must run as root (it creates network namespaces and loads BPF programs)');
    return 4;
  }
  await initClockTicks();
  const startedAt = new Date();
  const cleanup = new Cleanup();
  const removeSignalHandlers = cleanup.onSignals(log);
  const measurements: Measurement[] = [];
  let profile: ProfileResult | undefined;
  try {
    // The TCP scenarios' contenders, when any TCP scenario runs (`--scenarios udp` runs none).
    const tcp = plan.scenarioSpecs.length > 0 ? plan.contenderSpecs : [];
    const udpCount = plan.udp ? udpContenders(plan.contenders).length : 0;
    log(
      `${plan.quick ? 'quick' : 'full'} run: ${plan.rounds} rounds × (${tcp.length} contenders × ` +
        `${plan.scenarioSpecs.length} TCP scenarios + ${udpCount} contenders × UDP), ${plan.durationS} s each, ` +
        `${plan.threads} load-generator threads`,
    );
    const env = await collectEnvironment(REPO_ROOT, undefined);
    const lab = await startBenchLab(cleanup, log);
    const wantsLbctl = plan.contenderSpecs.some((c) => c.kind === 'lbctl');
    const lbctl = wantsLbctl ? await LbctlBalancer.create(lab, cleanup) : undefined;
    if (lbctl) env.bpfObjectSha256 = await sha256File(lbctl.objectPath);
    const proxies: ProxyProcess[] = [];
    if (tcp.some((c) => c.kind === 'haproxy'))
      proxies.push(await startHaproxyProxy(lab, plan.threads, cleanup));
    if (tcp.some((c) => c.kind === 'nginx-stream'))
      proxies.push(await startNginxStreamProxy(lab, plan.threads, cleanup));
    log(`proxies: ${proxies.map((p) => `${p.id} (pid ${p.daemon.pid})`).join(', ') || 'none'}`);

    // Every contender answers before anything is measured.
    if (tcp.length > 0) {
      await lbctl?.setUp();
      for (const spec of tcp) await probeContender(spec, lab);
      await truncateLogs(allBackends(lab).map((b) => b.accessLogFile));
      log('every contender answered a probe request with the expected client address');
    }

    const balancerPids = await namespaceProcesses(lab.topo.ns.lb);
    const ctx = { lab, lbctl, threads: plan.threads, durationS: plan.durationS, balancerPids };
    let lastRound = 1;
    for (const { round, scenario, contender: spec } of measurementOrder(plan)) {
      if (cleanup.interrupted) throw new Error('interrupted');
      // A fresh conntrack table every round at least.
      if (round !== lastRound) await lbctl?.remove();
      lastRound = round;
      // lbctl exists only while it is measured: the other contenders, plain forwarding above all, run
      // with no tc program in their path, and no conntrack sweep of lbctl's runs during theirs
      // (removing the maps stops it). The large-table contender gets its own attach.
      await lbctl?.prepareFor(spec);
      let m: Measurement;
      try {
        m = await measure(ctx, round, spec, scenario);
      } catch (err) {
        // One failed measurement must not throw away the others: it is recorded and fails the run.
        if (cleanup.interrupted) throw err;
        m = failedMeasurement(round, spec, scenario, err);
        await truncateLogs(allBackends(lab).map((b) => b.accessLogFile));
        await removeUploads(lab);
      }
      measurements.push(m);
      const failed = m.checks.filter((c) => !c.ok);
      log(
        `round ${round} ${scenario.id.padEnd(9)} ${spec.id.padEnd(18)} ${m.value.toFixed(1).padStart(9)} ${m.unit}` +
          `  p99 ${((m.wrk.latencyUs.p99 ?? Number.NaN) / 1000).toFixed(2)} ms` +
          `  cpu ${m.cpu.perUnitUs.toFixed(1)} µs/${scenario.workUnit}` +
          `  other load ${(m.cpu.foreignShare * 100).toFixed(0)}%` +
          (failed.length > 0 ? `  FAILED: ${failed.map((c) => `${c.name} (${c.detail})`).join('; ')}` : ''),
      );
    }

    if (plan.profile && lbctl && tcp.length > 0) {
      profile = await profileDatapath({ ...ctx, lbctl }, plan, log);
    }
    await lbctl?.remove();
    const udpMeasurements = plan.udp ? await runUdpScenario(lab, lbctl, plan, cleanup, log) : [];

    const finishedAt = new Date();
    const summary = summarize({
      plan,
      measurements,
      udpMeasurements,
      profile,
      env,
      startedAt,
      finishedAt,
      argv: process.argv.slice(2),
    });
    const written = await writeReports(summary, plan);
    for (const file of written) log(`wrote ${file}`);
    const failures = summary.correctness.failures;
    if (failures.length > 0) {
      log(`${failures.length} correctness check(s) FAILED: the run is invalid`);
      for (const f of failures.slice(0, 20))
        log(`  round ${f.round} ${f.contender} ${f.scenario}: ${f.check}: ${f.detail}`);
      return 1;
    }
    log(
      `all ${summary.correctness.checks} checks passed; ${((Date.now() - startedAt.getTime()) / 1000).toFixed(0)} s`,
    );
    return 0;
  } finally {
    await cleanup.run();
    removeSignalHandlers();
  }
}

/** The control-plane part alone: CLI operations at scale, no traffic. */
async function controlPlane(): Promise<number> {
  let options: ControlPlaneOptions;
  try {
    options = parseControlPlaneArgs(process.argv.slice(2).filter((a) => a !== '--control-plane'));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(err.message);
    return 2;
  }
  if (process.getuid?.() !== 0) {
    console.error('bench: must run as root (it creates network namespaces and loads BPF programs)');
    return 4;
  }
  const cleanup = new Cleanup();
  const removeSignalHandlers = cleanup.onSignals(log);
  try {
    const rows = await runControlPlaneBench({
      ...options,
      outDir: join(REPO_ROOT, 'bench/results'),
      cleanup,
      log,
    });
    console.log(renderControlPlane(rows));
    return 0;
  } finally {
    await cleanup.run();
    removeSignalHandlers();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`[bench] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exitCode = 1;
  },
);
