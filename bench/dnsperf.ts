/**
 * UDP load generation with dnsperf (Debian's `dnsperf`), in the client namespace: every client socket keeps
 * queries in flight up to dnsperf's outstanding bound (a closed loop, like wrk's connections), all asking the
 * backends' one local name. Its text report is parsed into queries sent, answered and lost, the response
 * codes, and the run time.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UNBOUND_NAME } from '../src/lab/unbound.js';
import { run } from '../src/sys/run.js';

export interface DnsperfOptions {
  netns: string;
  server: string;
  port: number;
  clients: number;
  threads: number;
  outstanding: number;
  durationS: number;
  timeoutS: number;
  /** Where the query file is written. */
  workDir: string;
}

export interface DnsperfResult {
  sent: number;
  completed: number;
  lost: number;
  /** Response code → count (NOERROR, NXDOMAIN, REFUSED, …). */
  rcodes: Record<string, number>;
  runTimeS: number;
  /** Answered queries per second, as dnsperf computed it. */
  qps: number;
  /** Mean latency, seconds. */
  avgLatencyS: number;
}

/** dnsperf's arguments: one query name, looped over until the time limit. */
export function dnsperfArgs(o: Omit<DnsperfOptions, 'netns' | 'workDir'>, queryFile: string): string[] {
  return [
    ...['-s', o.server, '-p', String(o.port), '-d', queryFile],
    ...['-c', String(o.clients), '-T', String(o.threads), '-q', String(o.outstanding)],
    ...['-l', String(o.durationS), '-t', String(o.timeoutS)],
  ];
}

export class DnsperfParseError extends Error {}

/** Parse dnsperf's "Statistics:" block. Throws when a figure the benchmark relies on is missing. */
export function parseDnsperf(text: string): DnsperfResult {
  const field = (label: string): number => {
    const m = new RegExp(`^\\s*${label}:\\s+([0-9.]+)`, 'm').exec(text);
    if (!m?.[1]) throw new DnsperfParseError(`dnsperf output has no "${label}" figure`);
    return Number(m[1]);
  };
  const rcodeLine = /^\s*Response codes:(.*)$/m.exec(text)?.[1] ?? '';
  const rcodes: Record<string, number> = {};
  for (const m of rcodeLine.matchAll(/([A-Z][A-Z0-9]*) (\d+) \(/g)) rcodes[m[1] as string] = Number(m[2]);
  return {
    sent: field('Queries sent'),
    completed: field('Queries completed'),
    lost: field('Queries lost'),
    rcodes,
    runTimeS: field('Run time \\(s\\)'),
    qps: field('Queries per second'),
    avgLatencyS: field('Average Latency \\(s\\)'),
  };
}

/** Datagrams per second on the client's side: queries sent plus answers received. */
export function packetsPerSecond(r: Pick<DnsperfResult, 'sent' | 'completed' | 'runTimeS'>): number {
  return r.runTimeS > 0 ? (r.sent + r.completed) / r.runTimeS : 0;
}

export async function runDnsperf(o: DnsperfOptions): Promise<DnsperfResult> {
  const queryFile = join(o.workDir, 'dnsperf-queries.txt');
  await writeFile(queryFile, `${UNBOUND_NAME} A\n`);
  const res = await run('dnsperf', dnsperfArgs(o, queryFile), {
    netns: o.netns,
    // The time limit, then up to the timeout for the last answers, and start-up.
    timeoutMs: (o.durationS + o.timeoutS + 30) * 1000,
  });
  return parseDnsperf(res.stdout);
}
