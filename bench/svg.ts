/**
 * The ratio chart, written as plain SVG: one group of horizontal bars per scenario, one bar per contender
 * showing the median of the per-round ratios (lbctl fullnat+PPv2 ÷ contender) with a min–max whisker, a
 * line at parity (1×) and the goals (0.9× plain forwarding, 3× HAProxy on connections/s) as ticks.
 */
import type { ContenderId } from './plan.js';
import type { ScenarioSummary } from './summary.js';

const COLORS: Record<ContenderId, string> = {
  'lbctl-fullnat-ppv2': '#1f6feb',
  'lbctl-fullnat': '#6e40c9',
  'lbctl-dnat-ppv2': '#8250df',
  'lbctl-fullnat-ppv2-1m': '#0969da',
  haproxy: '#bf3989',
  'nginx-stream': '#1a7f37',
  plain: '#9a6700',
};

const GOALS: Array<{ scenario: string; contender: ContenderId; ratio: number }> = [
  { scenario: '*', contender: 'plain', ratio: 0.9 },
  { scenario: 'short', contender: 'haproxy', ratio: 3 },
];

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const fmt = (n: number) => (Number.isFinite(n) ? Number(n.toFixed(2)).toString() : '–');

export function ratioChartSvg(scenarios: readonly ScenarioSummary[], title: string, subtitle = ''): string {
  const width = 900;
  const left = 230;
  const right = width - 70;
  const barHeight = 16;
  const barGap = 6;
  const groupGap = 18;
  const top = subtitle ? 64 : 48;
  const maxRatio = Math.max(
    3.5,
    ...scenarios.flatMap((s) => s.ratios.map((r) => r.ratio.max).filter(Number.isFinite)),
  );
  const scaleMax = Math.ceil(maxRatio * 1.05 * 2) / 2;
  const x = (ratio: number) => left + (Math.max(0, ratio) / scaleMax) * (right - left);

  const body: string[] = [];
  let y = top;
  for (const s of scenarios) {
    body.push(`<text x="10" y="${y + 12}" class="group">${escapeXml(`${s.title} (${s.unit})`)}</text>`);
    y += 20;
    for (const r of s.ratios) {
      const color = COLORS[r.contender] ?? '#57606a';
      const cy = y + barHeight / 2;
      body.push(
        `<text x="${left - 8}" y="${cy + 4}" class="label" text-anchor="end">${escapeXml(`÷ ${r.label}`)}</text>`,
      );
      if (r.ratio.n > 0) {
        body.push(
          `<rect x="${left}" y="${y}" width="${(x(r.ratio.median) - left).toFixed(1)}" height="${barHeight}" fill="${color}" fill-opacity="0.85"><title>${escapeXml(`${r.label}: median ${fmt(r.ratio.median)}×, min ${fmt(r.ratio.min)}×, max ${fmt(r.ratio.max)}× over ${r.ratio.n} rounds`)}</title></rect>`,
          `<line x1="${x(r.ratio.min).toFixed(1)}" x2="${x(r.ratio.max).toFixed(1)}" y1="${cy}" y2="${cy}" class="whisker"/>`,
          `<line x1="${x(r.ratio.min).toFixed(1)}" x2="${x(r.ratio.min).toFixed(1)}" y1="${cy - 4}" y2="${cy + 4}" class="whisker"/>`,
          `<line x1="${x(r.ratio.max).toFixed(1)}" x2="${x(r.ratio.max).toFixed(1)}" y1="${cy - 4}" y2="${cy + 4}" class="whisker"/>`,
          `<text x="${(Math.max(x(r.ratio.median), x(r.ratio.max)) + 6).toFixed(1)}" y="${cy + 4}" class="value">${fmt(r.ratio.median)}×</text>`,
        );
      } else {
        body.push(`<text x="${left + 4}" y="${cy + 4}" class="value">not measured</text>`);
      }
      for (const g of GOALS) {
        if (g.contender !== r.contender || (g.scenario !== '*' && g.scenario !== s.id)) continue;
        body.push(
          `<line x1="${x(g.ratio).toFixed(1)}" x2="${x(g.ratio).toFixed(1)}" y1="${y - 2}" y2="${y + barHeight + 2}" class="goal"><title>goal ${g.ratio}×</title></line>`,
        );
      }
      y += barHeight + barGap;
    }
    y += groupGap;
  }

  const axisY = y;
  const ticks: string[] = [];
  const step = scaleMax > 6 ? 1 : 0.5;
  for (let t = 0; t <= scaleMax + 1e-9; t += step) {
    ticks.push(
      `<line x1="${x(t).toFixed(1)}" x2="${x(t).toFixed(1)}" y1="${top}" y2="${axisY}" class="grid"/>`,
      `<text x="${x(t).toFixed(1)}" y="${axisY + 14}" class="tick" text-anchor="middle">${fmt(t)}×</text>`,
    );
  }
  const height = axisY + 52;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    '<style>',
    '  .title { font-size: 16px; font-weight: bold; fill: #24292f; }',
    '  .subtitle, .tick, .legend { font-size: 11px; fill: #57606a; }',
    '  .group { font-size: 13px; font-weight: bold; fill: #24292f; }',
    '  .label { font-size: 12px; fill: #24292f; }',
    '  .value { font-size: 11px; fill: #24292f; }',
    '  .grid { stroke: #d0d7de; stroke-width: 1; }',
    '  .parity { stroke: #24292f; stroke-width: 1.5; }',
    '  .whisker { stroke: #24292f; stroke-width: 1.2; }',
    '  .goal { stroke: #cf222e; stroke-width: 2; stroke-dasharray: 3 2; }',
    '</style>',
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="10" y="22" class="title">${escapeXml(title)}</text>`,
    subtitle ? `<text x="10" y="40" class="subtitle">${escapeXml(subtitle)}</text>` : '',
    ...ticks,
    `<line x1="${x(1).toFixed(1)}" x2="${x(1).toFixed(1)}" y1="${top}" y2="${axisY}" class="parity"/>`,
    ...body,
    `<text x="10" y="${axisY + 36}" class="legend">Bars: median of per-round ratios; whiskers: min–max; black line: parity; red dashes: goals (0.9× plain forwarding, 3× HAProxy on conn/s).</text>`,
    '</svg>',
    '',
  ]
    .filter((l) => l !== '')
    .join('\n');
}
