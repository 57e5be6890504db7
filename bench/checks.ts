/**
 * Correctness during the benchmark, as pure functions of what was sampled, so every rule is unit-tested.
 * A benchmark of a balancer that drops, corrupts or misroutes is worthless: any failed check fails the run.
 *
 * Connection accounting for lbctl. wrk opens one connection at start-up that sends nothing (it checks
 * that the address answers), and it stops by exiting, so at the end up to one connection per wrk
 * connection slot can be open without a request yet (SYN sent, nothing written). Hence:
 *  - conn_new equals the client namespace's ActiveOpens exactly (one SYN-created entry per connect());
 *  - ppv2_injected equals conn_new minus the connections whose handshake had not completed: the header goes
 *    with the client's handshake ACK, so wrk's probe gets one too; the slack allowed stays the number of wrk
 *    connections plus that probe.
 */
import { type LogScan, successLines } from './backend-log.js';
import type { WrkResult } from './wrk.js';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export const check = (name: string, ok: boolean, detail: string): Check => ({ name, ok, detail });

export function wrkChecks(w: WrkResult): Check[] {
  const e = w.errors;
  const errors = e.connect + e.read + e.write + e.timeout;
  return [
    check('wrk: responses', w.requests > 0, `${w.requests} responses`),
    check(
      'wrk: no socket errors',
      errors === 0,
      `connect ${e.connect}, read ${e.read}, write ${e.write}, timeout ${e.timeout}`,
    ),
    check('wrk: no non-2xx', e.status === 0, `${e.status} responses with status >= 400`),
  ];
}

/** HTTP statuses nginx logs for a request the client abandoned mid-way (wrk exiting during an upload). */
const ABANDONED = new Set(['400', '499']);

export function backendChecks(
  scan: Pick<LogScan, 'byStatus' | 'lines' | 'withClientAddress'>,
  opts: { wrkRequests: number; connections: number; expectClientAddress: boolean },
): Check[] {
  const ok2xx = successLines(scan);
  const others = Object.entries(scan.byStatus).filter(([s]) => !/^2\d\d$/.test(s));
  const abandoned = others.filter(([s]) => ABANDONED.has(s)).reduce((n, [, c]) => n + c, 0);
  const bad = others.filter(([s]) => !ABANDONED.has(s));
  const checks = [
    check(
      'backends: every response 2xx',
      bad.length === 0 && abandoned <= opts.connections,
      `${ok2xx} 2xx` +
        (others.length > 0 ? `, ${others.map(([s, n]) => `${n}× ${s}`).join(', ')}` : '') +
        (abandoned > 0
          ? ` (${abandoned} abandoned by wrk at exit, at most ${opts.connections} allowed)`
          : ''),
    ),
    check(
      'backends: saw every counted request',
      ok2xx >= opts.wrkRequests,
      `${ok2xx} logged 2xx >= ${opts.wrkRequests} wrk responses`,
    ),
  ];
  if (opts.expectClientAddress) {
    checks.push(
      check(
        'backends: client address from the PROXY header',
        scan.withClientAddress === scan.lines,
        `${scan.withClientAddress} of ${scan.lines} requests`,
      ),
    );
  }
  return checks;
}

/**
 * Counters that may move during a measurement: traffic, connections, headers, and what the datapath does
 * routinely (MSS clamping, SACK shifting, a second SNAT port or a closed connection's taken over, a full events
 * ring nobody reads). Every other counter (drops, PPv2 failures, and any counter added later) must stay zero:
 * an allow-list, so a renamed or new failure counter fails the run instead of passing unnoticed.
 */
const ROUTINE_COUNTERS = [
  /^(fwd|rev)_/,
  /^conn_/,
  /^ppv2_(injected|reinjected|gso_trimmed|hdr_alone|hdr_with_data|udp_injected)$/,
  /^(mss_clamped|sack_shifted|snat_port_collision|snat_port_reclaimed|events_lost)$/,
];

/** Whether a counter must stay zero during a measurement. */
export function isFailureCounter(name: string): boolean {
  return !ROUTINE_COUNTERS.some((re) => re.test(name));
}

/** The connection wrk opens (and closes without sending) before starting its threads. */
export const WRK_PROBE_CONNECTIONS = 1;

export interface DatapathSample {
  connNew: number;
  ppv2Injected: number;
  ppv2Reinjected: number;
  /** Every counter's delta over the measurement. */
  counters: Record<string, number>;
}

export function datapathChecks(
  d: DatapathSample,
  opts: {
    ppv2: boolean;
    clientActiveOpens: number;
    connections: number;
    /** Responses wrk counted, and whether each had its own connection. */
    wrkRequests: number;
    oneRequestPerConnection: boolean;
  },
): Check[] {
  const failures = Object.entries(d.counters).filter(([name, n]) => isFailureCounter(name) && n !== 0);
  const checks = [
    check(
      'lbctl: conn_new = client connections',
      d.connNew === opts.clientActiveOpens,
      `conn_new ${d.connNew}, client ActiveOpens ${opts.clientActiveOpens}`,
    ),
    check(
      'lbctl: no drops or PPv2 failures',
      failures.length === 0,
      failures.length === 0 ? 'all zero' : failures.map(([n, v]) => `${n} ${v}`).join(', '),
    ),
  ];
  if (opts.ppv2) {
    const pending = d.connNew - d.ppv2Injected;
    const allowed = opts.connections + WRK_PROBE_CONNECTIONS;
    checks.push(
      check(
        'lbctl: ppv2_injected = completed handshakes',
        pending >= 0 && pending <= allowed,
        `ppv2_injected ${d.ppv2Injected}, conn_new ${d.connNew}: ` +
          (pending === 0
            ? 'equal'
            : `${pending} connection(s) without data (wrk's probe, or open when it stopped)`) +
          ` (0..${allowed} allowed); reinjected ${d.ppv2Reinjected}`,
      ),
    );
    if (opts.oneRequestPerConnection) {
      checks.push(
        check(
          'lbctl: one header per completed connection',
          d.ppv2Injected >= opts.wrkRequests,
          `ppv2_injected ${d.ppv2Injected} >= ${opts.wrkRequests} wrk responses`,
        ),
      );
    }
  } else {
    checks.push(
      check('lbctl: no header without PPv2', d.ppv2Injected === 0, `ppv2_injected ${d.ppv2Injected}`),
    );
  }
  return checks;
}

export function uploadCheck(
  received: { size: number; sha256: string } | undefined,
  expected: { size: number; sha256: string },
): Check {
  if (!received) return check('backends: upload body intact', false, 'no upload was kept');
  return check(
    'backends: upload body intact',
    received.size === expected.size && received.sha256 === expected.sha256,
    `last body ${received.size} bytes, sha256 ${received.sha256.slice(0, 16)}… (expected ${expected.size}, ${expected.sha256.slice(0, 16)}…)`,
  );
}

/** The large-table contender's held connections are all still in the table: none was evicted or expired. */
export function heldConnectionsCheck(found: number, held: number): Check {
  return check(
    'conntrack: held connections kept',
    found === held,
    `${found.toLocaleString('en-US')} of ${held.toLocaleString('en-US')} held connections in the table after the run`,
  );
}

/** Room for the request line and headers wrk sends before each upload body (they take about 130 bytes). */
export const UPLOAD_HEAD_ALLOWANCE = 1024;

/**
 * The measured upload bytes (what the backends' logs say they read) against what wrk's completed requests
 * must have sent: at least their bodies, and at most, besides those, the requests wrk left unanswered when
 * it stopped (one per connection) and as many late-logged leftovers of the previous run, with their headers.
 */
export function uploadBytesCheck(
  receivedBytes: number,
  opts: { wrkRequests: number; bodyBytes: number; connections: number },
): Check {
  const least = opts.wrkRequests * opts.bodyBytes;
  const most = (opts.wrkRequests + 2 * opts.connections) * (opts.bodyBytes + UPLOAD_HEAD_ALLOWANCE);
  return check(
    'backends: upload bytes received match the completed uploads',
    receivedBytes >= least && receivedBytes <= most,
    `${receivedBytes} bytes received; ${opts.wrkRequests} completed uploads × ${opts.bodyBytes} = ${least} ` +
      `(${least}..${most} allowed)`,
  );
}

export function failedChecks(checks: readonly Check[]): Check[] {
  return checks.filter((c) => !c.ok);
}
