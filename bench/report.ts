/**
 * Report writing: the summary as Markdown (tables a person reads), as JSON (everything, for
 * regenerating or comparing runs) and as the SVG ratio chart, under bench/results/. A complete full run
 * without failures also becomes latest.{md,json,svg}, the copy that is committed.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PLAIN_SHARED_ADDRESS } from './lab.js';
import { type BenchPlan, CONTENDERS, type ContenderId } from './plan.js';
import type { ConntrackTable } from './profile.js';
import {
  formatCell,
  formatNumber,
  formatSpread,
  percentSpread,
  type Spread,
  markdownTable as table,
} from './stats.js';
import type { BenchSummary, GoalResult, ScenarioSummary } from './summary.js';
import { ratioChartSvg } from './svg.js';
import { udpSection } from './udp-report.js';
import { MIN_ROUNDS_FOR_VERDICT, spreadConfidence } from './verdict.js';

const label = (id: ContenderId) => CONTENDERS.find((c) => c.id === id)?.label ?? id;

function verdict(g: GoalResult): string {
  switch (g.verdict) {
    case 'met':
    case 'not measured':
      return g.verdict;
    case 'not met':
      return '**not met**';
    case 'inconclusive':
      if (g.actual.n < MIN_ROUNDS_FOR_VERDICT) return `inconclusive (n < ${MIN_ROUNDS_FOR_VERDICT})`;
      return `inconclusive (median ${g.medianMeets ? 'meets' : 'misses'} it, spread straddles it)`;
  }
}

/** One row per contender, one column per scenario: a per-unit-of-work CPU figure (µs per connection, request, MB). */
function perUnitTable(summary: BenchSummary, field: 'cpuPerUnitUs' | 'softirqPerUnitUs'): string {
  const scenarios = summary.scenarios;
  return table(
    ['contender', ...scenarios.map((s) => `${s.title} (µs/${unitOf(s)})`)],
    summary.contenders.map((c) => [
      c.label,
      ...scenarios.map((s) =>
        formatCell(s.results.find((r) => r.contender === c.id)?.[field] ?? emptySpread()),
      ),
    ]),
  );
}

function unitOf(s: ScenarioSummary): string {
  return s.workUnit === 'MB' ? 'MB' : s.workUnit === 'connection' ? 'conn' : 'req';
}

export function chartSubtitle(summary: BenchSummary): string {
  const m = summary.meta;
  return `${m.quick ? 'quick' : 'full'} run ${m.startedAt.slice(0, 16).replace('T', ' ')} UTC, ${m.rounds} rounds × ${m.durationS} s, ${m.env.cores} cores, ${m.env.cpuModel}`;
}

const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

/**
 * Where the upload MB come from. Runs recorded before the backends' byte counts were kept (a re-rendered old
 * JSON) computed them from wrk's completed requests, and the report must not claim otherwise.
 */
function uploadBytesSource(summary: BenchSummary): string {
  const uploads = summary.measurements.filter((m) => m.scenario === 'upload');
  return uploads.every((m) => typeof m.backends.uploadBytes === 'number')
    ? 'the request bytes the backends received (nginx `$request_length`, summed over their access logs)'
    : "wrk's completed requests × the body size (this run predates measuring them at the backends)";
}

/** The goals and the rule they are judged by (bench/verdict.ts). */
function goalsSection(summary: BenchSummary): string[] {
  const n = summary.meta.rounds;
  return [
    '## Goals',
    '',
    'A goal is **met** only when every successful round clears the target (the whole min–max spread is on ' +
      'the right side), **not met** when every round misses it, and **inconclusive** when the spread ' +
      `straddles the target or fewer than ${MIN_ROUNDS_FOR_VERDICT} rounds succeeded, whatever the median. ` +
      `With n independent rounds the min–max interval holds the true median with probability 1 − 2^(1−n): ` +
      `${formatNumber(spreadConfidence(n) * 100)}% with this run's ${count(n, 'round')}.`,
    '',
    table(
      ['goal', 'scenario', 'target', 'measured', 'result'],
      summary.goals.map((g) => [
        g.goal,
        summary.scenarios.find((s) => s.id === g.scenario)?.title ?? g.scenario,
        g.target,
        formatCell(g.actual, 3, g.kind === 'percent' ? '%' : '×'),
        verdict(g),
      ]),
    ),
    '',
  ];
}

/** Every measurement that did not count, and why: none is dropped silently. */
function failedSection(summary: BenchSummary): string[] {
  const failed = summary.failedMeasurements;
  const total = summary.measurements.length + (summary.profile?.measurements.length ?? 0);
  const head = ['## Failed measurements', ''];
  if (failed.length === 0)
    return [...head, `None: ${count(total, 'measurement')}, all completed and passed their checks.`, ''];
  return [
    ...head,
    `${failed.length} of ${count(total, 'measurement')} failed and are left out of the figures above:`,
    '',
    table(
      ['round', 'contender', 'scenario', 'why'],
      failed.map((f) => [
        f.round === 0 ? 'profiling pass' : String(f.round),
        label(f.contender),
        f.scenario,
        f.reasons.join('; '),
      ]),
    ),
    '',
  ];
}

export function renderMarkdown(summary: BenchSummary, chartFile: string): string {
  const { meta, scenarios } = summary;
  const out: string[] = [];
  const env = meta.env;
  out.push(
    '# lbctl benchmark',
    '',
    `${meta.quick ? 'Quick' : 'Full'} run of \`npm run bench${meta.argv.length ? ` -- ${meta.argv.join(' ')}` : ''}\`, ` +
      `${meta.startedAt.replace('T', ' ').slice(0, 19)} UTC, ${Math.round(meta.elapsedS)} s. ` +
      `${meta.rounds} interleaved rounds, ${meta.durationS} s of load per measurement, wrk with ${meta.threads} threads.`,
    '',
    `Machine: ${env.cpuModel}, ${env.cores} cores, ${env.memoryGiB} GiB, Linux ${env.kernel}, ` +
      `load average ${env.loadAverage.toFixed(2)} at start. ` +
      `Versions: ${Object.entries(env.versions)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}. ` +
      (env.git
        ? `Commit ${env.git.commit.slice(0, 12)}${env.git.dirty ? ' (with local changes)' : ''}. `
        : '') +
      (env.bpfObjectSha256 ? `Datapath object sha256 ${env.bpfObjectSha256.slice(0, 16)}….` : ''),
    '',
    'All contenders run in the balancer namespace in front of the same two nginx backends (one process ' +
      "each); the client (wrk), the balancer and the backends share the machine's cores, so every number is " +
      'for a CPU-bound box where the balancer competes with its own load generator and backends. ' +
      'Values: median (min–max; n) over the rounds, where n is the number of successful measurements (for a ' +
      'ratio, of rounds where both sides succeeded); failed measurements are left out of every figure and ' +
      'listed under "Failed measurements". MB = 10^6 bytes: for downloads the response bytes wrk read, for ' +
      `uploads ${uploadBytesSource(summary)}.`,
    '',
    `The machine may be shared: processes outside the benchmark's namespaces used ` +
      `${formatSpread(percentSpread(summary.load.foreignShare), 2, '%')} of its CPU time during the runs ` +
      '(median, min–max over runs); the CPU figures below leave their time out, the throughput figures cannot. ' +
      (summary.load.bpfStatsOnRuns > 0
        ? `BPF run-time statistics were switched on by something else during ${summary.load.bpfStatsOnRuns} measured runs.`
        : 'BPF run-time statistics were off during every measured run.'),
    '',
    `![ratios](${chartFile})`,
    '',
  );

  out.push('## Throughput', '');
  out.push(
    table(
      ['contender', ...scenarios.map((s) => `${s.title} (${s.unit})`)],
      summary.contenders.map((c) => [
        c.label,
        ...scenarios.map((s) =>
          formatCell(s.results.find((r) => r.contender === c.id)?.value ?? emptySpread()),
        ),
      ]),
    ),
    '',
  );
  const ka = scenarios.find((s) => s.id === 'keepalive');
  if (ka) {
    out.push(
      '### Latency, p99 (ms)',
      '',
      table(
        ['contender', ...scenarios.map((s) => s.title)],
        summary.contenders.map((c) => [
          c.label,
          ...scenarios.map((s) =>
            formatCell(s.results.find((r) => r.contender === c.id)?.p99Ms ?? emptySpread()),
          ),
        ]),
      ),
      '',
      `wrk keeps ${ka.connections} connections busy (closed loop), so latency here is mostly queueing behind ` +
        'the saturated CPUs: it tracks throughput rather than an idle-path latency.',
      '',
    );
  }

  out.push(
    `## Ratios: ${label(summary.subject)} ÷ contender`,
    '',
    'Computed pair by pair within each round, then the median (min–max; n) over the rounds where both sides ' +
      'succeeded. Above 1: lbctl is faster.',
    '',
    table(
      ['÷ contender', ...scenarios.map((s) => s.title)],
      summary.contenders
        .filter((c) => c.id !== summary.subject)
        .map((c) => [
          c.label,
          ...scenarios.map((s) =>
            formatCell(s.ratios.find((r) => r.contender === c.id)?.ratio ?? emptySpread(), 3, '×'),
          ),
        ]),
    ),
    '',
  );

  if (summary.udp) out.push(...udpSection(summary.udp));

  out.push(...goalsSection(summary), ...failedSection(summary));

  out.push(
    '## CPU per unit of work',
    '',
    'Machine-wide busy CPU time (user + system + irq/softirq from /proc/stat, all cores, while wrk ran), less ' +
      "the CPU time of processes outside the benchmark's namespaces, divided by the work done: µs per " +
      'connection, per request, or per MB. It includes the client and ' +
      'the backends, which do the same work for every contender, so differences between rows are what the ' +
      'balancer costs. The second table is the CPU time of the processes in the balancer namespace ' +
      "(HAProxy's threads, nginx's master and workers); lbctl and plain forwarding have no process there: " +
      'their work is done in softirq, attributed to whichever process the packet arrived with. For lbctl the ' +
      "datapath's own share is measured separately (BPF run-time statistics, below).",
    '',
    perUnitTable(summary, 'cpuPerUnitUs'),
    '',
    'Of that, the time the kernel accounted to irq and softirq, where packets are forwarded and where ' +
      "lbctl's tc program runs (and where the client's and backends' packet reception runs too):",
    '',
    perUnitTable(summary, 'softirqPerUnitUs'),
    '',
    'CPU time of the processes in the balancer namespace:',
    '',
    table(
      ['balancer processes', ...scenarios.map((s) => `${s.title} (µs/${unitOf(s)})`)],
      summary.contenders
        .filter((c) => c.id === 'haproxy' || c.id === 'nginx-stream')
        .map((c) => [
          c.label,
          ...scenarios.map((s) =>
            formatCell(
              s.results.find((r) => r.contender === c.id)?.balancerProcessPerUnitUs ?? emptySpread(),
            ),
          ),
        ]),
    ),
    '',
  );

  const profile = summary.profile;
  if (profile) {
    out.push(
      '## Datapath',
      '',
      `A separate pass after the measured rounds (${profile.durationS} s per run) with the kernel's BPF ` +
        'run-time statistics on (`BPF_ENABLE_STATS`; off during the measured rounds because they add two ' +
        'clock reads per packet). The program, attached at tc ingress on both balancer interfaces: ' +
        profile.programs
          .map((p) => `id ${p.id} \`${p.name}\` (${p.verifiedInsns} verified insns)`)
          .join(', ') +
        '. ns/packet is run_time_ns ÷ run_cnt, which includes the helpers the program calls; packets are ' +
        'counted in both directions.',
      '',
      table(
        ['contender', 'scenario', 'ns/packet', 'packets per unit', 'BPF µs per unit', 'runs'],
        profile.rows.map((r) => {
          const s = scenarios.find((x) => x.id === r.scenario);
          return [
            label(r.contender),
            s?.title ?? r.scenario,
            formatNumber(r.nsPerPacket),
            `${formatNumber(r.packetsPerUnit)} /${s ? unitOf(s) : ''}`,
            formatNumber(r.bpfUsPerUnit),
            String(r.runs),
          ];
        }),
      ),
      '',
    );
    out.push('### Conntrack memory', '', ...profile.conntrack.flatMap((t) => [conntrackParagraph(t), '']));
    if (profile.perf) {
      const p = profile.perf;
      out.push(
        '### Where the time goes (perf)',
        '',
        `\`${p.command}\` during the profiling pass's short-connection run of ${label('lbctl-fullnat-ppv2')}, ` +
          `counting the benchmark's processes (wrk, nginx, haproxy, by name) and idle/softirq threads: ` +
          `${p.samples} samples. lbctl's program, with the helpers it calls, accounts for ` +
          `**${formatNumber(p.datapathPercent)}%** of them, its conntrack janitor's sweeps (run from the ` +
          `timer softirq) ${formatNumber(p.janitorPercent)}%; idle ${formatNumber(p.idlePercent)}%. ` +
          'Inside the datapath:',
        '',
        table(
          ['datapath work', '% of datapath samples'],
          p.datapathBreakdown.map((d) => [d.name, formatNumber(d.percent)]),
        ),
        '',
        'Busiest functions overall (leaf symbols):',
        '',
        table(
          ['%', 'symbol'],
          p.top.slice(0, 15).map((t) => [formatNumber(t.percent), `\`${t.name}\``]),
        ),
        '',
      );
    }
  }

  const c = summary.correctness;
  out.push(
    '## Correctness',
    '',
    `${c.checks} checks over ${summary.measurements.length + (profile?.measurements.length ?? 0)} runs; ` +
      `${c.failures.length === 0 ? '**all passed**' : `**${c.failures.length} failed** (see "Failed measurements")`}. Every run: wrk ` +
      'counted no socket error and no status >= 400; every request the backends logged was 2xx and at least as ' +
      "many as wrk counted; where a PROXY header is sent, every logged request carries the client's address " +
      'from it; uploads: the last kept body has the expected size and sha256, and the bytes the backends ' +
      'received (the measured upload figure) are at least what the uploads wrk completed sent and at most that ' +
      'plus the ones in flight when it stopped. lbctl runs: `conn_new` equals ' +
      "the client namespace's TCP ActiveOpens exactly; no counter outside the routine ones (traffic, " +
      'connections, headers, MSS clamps, SACK shifts, SNAT port collisions, lost events) moved; and ' +
      '`ppv2_injected` equals `conn_new` less the connections whose handshake had not completed when wrk ' +
      'exited (the header goes with the handshake-completing ACK; at most one per wrk connection, plus its ' +
      'start-up probe), never more: no connection counts its header twice.',
    '',
  );
  const lb = summary.measurements.filter((m) => m.datapath);
  if (lb.length > 0) {
    out.push(
      '<details><summary>lbctl connection accounting per run</summary>',
      '',
      table(
        [
          'round',
          'contender',
          'scenario',
          'wrk responses',
          'client ActiveOpens',
          'conn_new',
          'ppv2_injected',
          'reinjected',
        ],
        lb.map((m) => [
          String(m.round),
          label(m.contender),
          m.scenario,
          String(m.wrk.requests),
          String(m.client.activeOpens),
          String(m.datapath?.connNew ?? ''),
          String(m.datapath?.ppv2Injected ?? ''),
          String(m.datapath?.ppv2Reinjected ?? ''),
        ]),
      ),
      '',
      '</details>',
      '',
    );
  }

  out.push(
    '## Method',
    '',
    '- Topology: `src/lab/topology.ts` (client, balancer and backend namespaces joined by veth pairs). ' +
      'Backends: four single-process nginx from `src/lab/nginx.ts` on two addresses, ports 80 (PROXY header ' +
      'required) and 8080 (none), with files on tmpfs.',
    '- lbctl: `lbctl --netns <balancer> attach <client-if> <backend-if>` and three services on their own VIPs ' +
      '(fullnat with `--ppv2`, fullnat without, dnat with `--ppv2`), each over both backends; the fullnat ' +
      'services use their own source address towards the backends (`--snat`, not the address HAProxy and ' +
      'nginx connect from, whose TIME_WAIT tuples on the backends would collide). lbctl exists ' +
      'only while it is measured: set up before its runs, removed (`detach --all`) before any other ' +
      "contender's and at least once a round, so the others run with no tc program in their path and no " +
      "conntrack sweep of lbctl's during their runs; each setup starts with an empty table.",
    `- HAProxy: \`mode tcp\`, \`nbthread ${meta.threads}\`, \`send-proxy-v2\` to both backends, round robin. ` +
      `nginx: \`stream\` module, \`worker_processes ${meta.threads}\`, \`proxy_protocol on\` (nginx can only send ` +
      'PROXY v1), round robin. Both listen on their own address in the balancer namespace.',
    `- Plain forwarding: the client connects to ${PLAIN_SHARED_ADDRESS}:8080, on which both plain backends ` +
      "listen with `reuseport`; the balancer namespace only routes, and the backends' kernel spreads the " +
      'connections between the two per connection (hash of addresses and ports), as a balancer does.',
    '- Scenarios (wrk, closed loop): short connections = `GET /whoami` with `Connection: close`, one request ' +
      'per connection; keep-alive = the same without; bulk responses = `GET` of a 1 MiB file; bulk uploads = ' +
      '`POST /upload` of 1 MiB (nginx keeps the body, sha256-checked). Connections: ' +
      scenarios.map((s) => `${s.id} ${s.connections}`).join(', ') +
      '.',
    meta.quick
      ? '- Order (quick run): in every round each contender takes its turn and runs every scenario; the order ' +
          'reverses from one round to the next (A B C, C B A, …).'
      : '- Order: in every round, scenario by scenario, each contender takes its turn, so the two sides of a ' +
          'ratio are measured seconds apart and a busy spell on a shared machine tends to hit both; the order ' +
          'reverses from one round to the next (A B C, C B A, …), so no contender always goes first or last.',
    '',
  );
  return out.join('\n');
}

function emptySpread(): Spread {
  return { median: Number.NaN, min: Number.NaN, max: Number.NaN, n: 0 };
}

function formatBytes(n: number): string {
  if (n >= 1024 ** 2) return `${formatNumber(n / 1024 ** 2)} MiB`;
  if (n >= 1024) return `${formatNumber(n / 1024)} KiB`;
  return `${formatNumber(n)} B`;
}

/** Write the run's files; returns their paths. */
export async function writeReports(summary: BenchSummary, plan: BenchPlan): Promise<string[]> {
  await mkdir(plan.outDir, { recursive: true });
  const stamp = `${plan.quick ? 'quick' : 'full'}-${summary.meta.startedAt.replace(/[:.]/g, '-')}`;
  const svg = ratioChartSvg(summary.scenarios, `lbctl fullnat+PPv2 ÷ each contender`, chartSubtitle(summary));
  const json = `${JSON.stringify(summary, null, 2)}\n`;
  const written: string[] = [];
  const write = async (name: string, text: string) => {
    const path = join(plan.outDir, name);
    await writeFile(path, text);
    written.push(path);
  };
  await write(`${stamp}.json`, json);
  await write(`${stamp}.svg`, svg);
  await write(`${stamp}.md`, renderMarkdown(summary, `${stamp}.svg`));
  if (plan.updateLatest && summary.correctness.failures.length === 0) {
    await write('latest.json', json);
    await write('latest.svg', svg);
    await write('latest.md', renderMarkdown(summary, 'latest.svg'));
  }
  return written;
}

/** What one conntrack table costs, as the kernel accounts it, and what it held during its runs. */
function conntrackParagraph(t: ConntrackTable): string {
  const ct = t.memory;
  const held =
    t.heldConnections > 0
      ? ` Before each run it was given ${t.heldConnections.toLocaleString('en-US')} established connections ` +
        "that nothing sends on (a busy balancer's table), which stayed through the run."
      : '';
  return (
    `${t.contenders.map(label).join(', ')}: \`lb_conntrack\` is a hash of ${ct.maxEntries.toLocaleString('en-US')} entries (key ${ct.keyBytes} B, ` +
    `value ${ct.valueBytes} B), preallocated: the kernel accounts ${formatBytes(ct.memlockBytes)} ` +
    `(bpftool \`bytes_memlock\`), ${formatNumber(ct.bytesPerEntry)} B per entry. A connection takes ` +
    `${ct.entriesPerConnection} entries (ORIG and REPLY) and nothing else (no timer per connection)` +
    `: **${formatNumber(ct.bytesPerConnection)} B per connection, ${formatBytes(ct.per100kConnectionsBytes)} per 100,000 connections**. ` +
    `The table holds ${ct.capacityConnections.toLocaleString('en-US')} connections, then refuses new ones; ` +
    `its entries are preallocated, so the memlock figure is paid from attach on.${held}`
  );
}
