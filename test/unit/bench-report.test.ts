import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Environment } from '../../bench/env.js';
import type { Measurement } from '../../bench/measure.js';
import { makePlan, parseArgs } from '../../bench/plan.js';
import { renderMarkdown } from '../../bench/report.js';
import type { Spread } from '../../bench/stats.js';
import { type ScenarioSummary, summarize } from '../../bench/summary.js';
import { escapeXml, ratioChartSvg } from '../../bench/svg.js';

const s = (median: number, min: number, max: number, n = 3): Spread => ({ median, min, max, n });
const none: Spread = { median: Number.NaN, min: Number.NaN, max: Number.NaN, n: 0 };

function scenario(id: ScenarioSummary['id'], title: string): ScenarioSummary {
  return {
    id,
    title,
    unit: 'conn/s',
    workUnit: 'connection',
    connections: 32,
    results: [],
    ratios: [
      { contender: 'haproxy', label: 'HAProxy <send-proxy-v2>', ratio: s(1.6, 1.3, 2.1), perRound: [] },
      { contender: 'plain', label: 'plain forwarding', ratio: s(0.6, 0.55, 0.77), perRound: [] },
      { contender: 'nginx-stream', label: 'nginx & stream', ratio: none, perRound: [] },
    ],
  };
}

/** Tags opened and closed in order (self-closing ones skipped): a cheap well-formedness check. */
function balanced(svg: string): boolean {
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
    const [, closing, name, selfClosing] = m;
    if (selfClosing) continue;
    if (closing) {
      if (stack.pop() !== name) return false;
    } else stack.push(name as string);
  }
  return stack.length === 0;
}

describe('ratio chart SVG', () => {
  const svg = ratioChartSvg(
    [scenario('short', 'Short connections'), scenario('keepalive', 'Keep-alive')],
    'Title & more',
  );

  it('is one well-formed SVG document', () => {
    assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
    assert.ok(svg.trimEnd().endsWith('</svg>'));
    assert.ok(balanced(svg), 'every tag is closed in order');
    assert.match(svg, /viewBox="0 0 900 \d+"/);
  });

  it('draws one bar per measured ratio and says when a ratio is missing', () => {
    assert.equal(svg.match(/<rect x="230"/g)?.length, 4);
    assert.equal(svg.match(/not measured/g)?.length, 2);
    assert.match(svg, />1\.6×</);
    assert.match(svg, />0\.6×</);
  });

  it('escapes text and marks parity and the goals', () => {
    assert.match(svg, /Title &#38; more/);
    assert.match(svg, /HAProxy &#60;send-proxy-v2&#62;/);
    assert.doesNotMatch(svg, /nginx & stream/);
    assert.match(svg, /class="parity"/);
    // 0.9× on both plain bars, 3× on the short-connection HAProxy bar only.
    assert.equal(svg.match(/<title>goal 0\.9×<\/title>/g)?.length, 2);
    assert.equal(svg.match(/<title>goal 3×<\/title>/g)?.length, 1);
  });

  it('keeps bar lengths proportional to the ratio', () => {
    const widths = [...svg.matchAll(/<rect x="230" y="\d+" width="([\d.]+)"/g)].map((m) => Number(m[1]));
    assert.ok(Math.abs((widths[0] as number) / (widths[1] as number) - 1.6 / 0.6) < 0.01);
  });

  it('escapes all five XML special characters', () => {
    assert.equal(escapeXml(`<a href="x">'&'</a>`), '&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;');
  });
});

describe('markdown report', () => {
  const env: Environment = {
    cpuModel: 'Test CPU',
    cores: 2,
    memoryGiB: 4,
    kernel: '6.18.0',
    loadAverage: 0.5,
    versions: { wrk: '4.1.0' },
    git: { commit: '0123456789abcdef', dirty: false },
    bpfObjectSha256: undefined,
  };
  const plan = makePlan(parseArgs(['--quick', '--scenarios', 'short'], '/tmp/out'), 2);
  const contenders = ['lbctl-fullnat-ppv2', 'haproxy', 'plain'] as const;
  const run = (
    round: number,
    contender: Measurement['contender'],
    value: number,
    checks = [{ name: 'wrk: no socket errors', ok: true, detail: '' }],
  ) =>
    ({
      round,
      contender,
      scenario: 'short',
      value,
      wrk: { requests: 10, latencyUs: { p99: 1500 } },
      cpu: { perUnitUs: 100, balancerProcessPerUnitUs: 0, foreignShare: 0.1 },
      client: { activeOpens: 11 },
      bpfStatsOn: false,
      checks,
    }) as unknown as Measurement;
  const report = (measurements: Measurement[]) =>
    renderMarkdown(
      summarize({
        plan,
        measurements,
        profile: undefined,
        env,
        startedAt: new Date('2026-01-01T00:00:00Z'),
        finishedAt: new Date('2026-01-01T00:01:30Z'),
        argv: ['--quick'],
      }),
      'chart.svg',
    );
  const clean = contenders.flatMap((contender, i) =>
    [1, 2, 3].map((round) => run(round, contender, 1000 * (3 - i) + round)),
  );
  const md = report(clean);

  it('links the chart and shows throughput, ratios, goals and correctness', () => {
    assert.match(md, /^# lbctl benchmark/);
    assert.match(md, /!\[ratios\]\(chart\.svg\)/);
    assert.match(md, /## Throughput/);
    assert.match(md, /## Ratios/);
    assert.match(md, /## Goals/);
    assert.match(md, /\*\*not met\*\*/, 'lbctl at 1.5× HAProxy in every round misses the 3× goal');
    assert.match(md, /\*\*all passed\*\*/);
    assert.match(md, /Quick run .* 90 s/);
  });

  it('shows n, the number of successful measurements, in every cell', () => {
    assert.match(md, /\| lbctl fullnat\+PPv2 \| 3,002 \(3,001–3,003; n=3\) \|/);
    assert.match(md, /\| plain forwarding \| 3× \(2\.99–3; n=3\) \|/);
    assert.match(md, /\| Short connections \(1 request each\) \| ≥ 0\.9× \| 3× \(2\.99–3; n=3\) \| met \|/);
  });

  it('states the rule goals are judged by, and never calls a straddling spread met', () => {
    assert.match(md, /met\*\* only when every successful round clears the target/);
    assert.match(md, /75% with this run's 3 rounds/);
    // lbctl ÷ plain per round: 0.95×, 1.2×, 0.85×: the median (0.95×) clears 0.9×, round 3 does not.
    const straddling = report([
      ...[3000, 3000, 3000].map((v, i) => run(i + 1, 'lbctl-fullnat-ppv2', v)),
      ...[1000, 1000, 1000].map((v, i) => run(i + 1, 'haproxy', v)),
      ...[3000 / 0.95, 3000 / 1.2, 3000 / 0.85].map((v, i) => run(i + 1, 'plain', v)),
    ]);
    const row = straddling.split('\n').find((l) => l.startsWith('| lbctl fullnat+PPv2 vs plain forwarding'));
    assert.ok(row);
    assert.match(row, /\| inconclusive \(median meets it, spread straddles it\) \|$/);
    assert.doesNotMatch(row, /\| met \|/);
  });

  it('says no measurement failed, and lists those that did with round, contender, scenario and why', () => {
    assert.match(
      md,
      /## Failed measurements\n\nNone: 9 measurements, all completed and passed their checks\./,
    );
    const failed = report([
      ...clean.filter((m) => !(m.contender === 'haproxy' && m.round === 2)),
      run(2, 'haproxy', Number.NaN, [{ name: 'measurement completed', ok: false, detail: 'wrk timed out' }]),
    ]);
    assert.match(failed, /1 of 9 measurements failed and are left out of the figures above/);
    assert.match(failed, /\| 2 \| HAProxy send-proxy-v2 \| short \| measurement completed: wrk timed out \|/);
    assert.match(failed, /\| HAProxy send-proxy-v2 \| 2,002 \(2,001–2,003; n=2\) \|/);
    assert.match(failed, /\*\*1 failed\*\* \(see "Failed measurements"\)/);
  });

  it('says upload MB were measured at the backends, unless the run predates that', () => {
    const upload = (uploadBytes?: number) =>
      ({ ...run(1, 'plain', 900), scenario: 'upload', backends: { uploadBytes } }) as unknown as Measurement;
    const source = (text: string) => /for uploads ([^.]*)/.exec(text)?.[1];
    assert.match(source(report([upload(9e8)])) ?? '', /bytes the backends received/);
    assert.match(source(report([upload(undefined)])) ?? '', /completed requests × the body size/);
  });

  it('produces well-formed tables: every row has as many cells as its header', () => {
    const tables = md.split('\n\n').filter((block) => block.startsWith('| '));
    assert.ok(tables.length >= 4);
    for (const t of tables) {
      const rows = t.split('\n').filter((l) => l.startsWith('|'));
      const cells = rows.map((r) => r.split(/(?<!\\)\|/).length);
      assert.ok(
        cells.every((n) => n === cells[0]),
        t,
      );
    }
  });
});
