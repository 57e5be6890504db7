/**
 * Issue 4, cases 7, 8 and 12: what a client puts in (or leaves out of) its stream. A forged PROXY header
 * stays payload behind ours; two clients sharing a source port through fullnat both get through; and
 * connections that half-close, reset or close before sending data owe no header, get none, and leave no
 * conntrack state behind. Real nginx and HAProxy backends, the CLI as the operator's only tool. Cases 7
 * and 12 also run through a service that sends the PROXY v1 line (issue 14 point 4).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_SNAT_PORTS } from '../../src/bpf/records.js';
import type { NginxAccessEntry, NginxConnectionView } from '../../src/lab/nginx.js';
import { encodeV1 } from '../../src/ppv2/v1.js';
import { encodeV2 } from '../../src/ppv2/v2-encode.js';
import { suitePrerequisites } from '../helpers/prereq.js';
import { httpGet, parseHttpResponse, type TcpExchangeResult, tcpExchange } from '../helpers/tcp-client.js';
import type { Capture } from '../helpers/tshark.js';
import { waitFor } from '../helpers/wait.js';
import { type Balancer, startBalancer } from './fixtures/balancer.js';
import {
  assertFailureCounters,
  type CounterName,
  captureAtClient,
  FAMILIES,
  type Family,
  serviceCounters,
  signaturesTowardsClient,
  stats,
  waitForDrain,
} from './fixtures/lifecycle.js';

const needs = { root: true, binaries: ['ip', 'tc', 'nginx', 'haproxy', 'curl', 'dumpcap', 'tshark'] };
const { skip, assertPrerequisites } = suitePrerequisites(needs);

const MODES = [
  { mode: 'fullnat', port: 80, prefix: 'web', version: 2 },
  { mode: 'dnat', port: 81, prefix: 'dnat', version: 2 },
] as const;
/** The services cases 7 and 12 go through: MODES, and a fullnat one sending the v1 line. */
const HEADER_MODES = [...MODES, { mode: 'fullnat', port: 85, prefix: 'v1web', version: 1 } as const];
const HAPROXY_PORT = 82;
/** A backend port nobody listens on: the backend answers the SYN with a RST. */
const REFUSED_PORT = 84;
/** Short timeouts (set through `lbctl config set`) so the drain checks take seconds, not a minute. */
const TIMEOUTS = { closed: 2, fin: 4, syn: 4 };

const svcName = (prefix: string, f: Family) => `${prefix}${f.v6 ? 6 : 4}`;
const clientsOf = (lb: Balancer, f: Family) => (f.v6 ? lb.topo.client.ipv6 : lb.topo.client.ipv4);

/** A forged header of the version the service sends (so ours and theirs look alike). */
function forgedHeader(f: Family, version: 1 | 2): Buffer {
  if (version === 1) {
    return Buffer.from(
      encodeV1({
        version: 1,
        command: 'PROXY',
        family: f.v6 ? 'INET6' : 'INET',
        src: f.v6 ? '2001:db8:dead::99' : '198.51.100.99',
        dst: f.v6 ? '2001:db8:dead::1' : '198.51.100.98',
        srcPort: 1111,
        dstPort: 2222,
      }),
    );
  }
  return Buffer.from(
    encodeV2({
      version: 2,
      command: 'PROXY',
      family: f.v6 ? 'INET6' : 'INET',
      transport: 'STREAM',
      src: f.v6 ? '2001:db8:dead::99' : '198.51.100.99',
      dst: f.v6 ? '2001:db8:dead::1' : '198.51.100.98',
      srcPort: 1111,
      dstPort: 2222,
      tlvs: [],
    }),
  );
}

describe('TCP life-cycle: forged headers, shared source ports, half-closed and reset streams', {
  skip,
}, () => {
  let lb: Balancer;
  let before12: ReturnType<typeof stats>;
  let capture: Capture | undefined;
  /** Client ports of the connections that closed before sending anything (case 12). */
  const noDataPorts: number[] = [];

  before(async () => {
    assertPrerequisites();
    lb = await startBalancer('lbctl-lcs');
    const add = (args: string[], version: 1 | 2 = 2) =>
      lb.cliJson(['service', 'add', ...args, ...(version === 1 ? ['--proxy-protocol', 'v1'] : ['--ppv2'])]);
    for (const f of FAMILIES) {
      const [nginx, , hap] = f.v6 ? lb.topo.backends.ipv6 : lb.topo.backends.ipv4;
      const vip = f.v6 ? `[${f.vip}]` : f.vip;
      const be = (addr: string | undefined, port: number) => `${f.v6 ? `[${addr}]` : addr}:${port}`;
      for (const m of HEADER_MODES) {
        add(
          [`${vip}:${m.port}`, '--backend', be(nginx, 80), '--mode', m.mode, '--name', svcName(m.prefix, f)],
          m.version,
        );
      }
      add([`${vip}:${HAPROXY_PORT}`, '--backend', be(hap, 80), '--name', svcName('hap', f)]);
      add([`${vip}:${REFUSED_PORT}`, '--backend', be(nginx, 9), '--name', svcName('refused', f)]);
    }
    const config = lb.cliJson<{ timeoutsSeconds: { closedS: number; finS: number; synSentS: number } }>([
      'config',
      'set',
      '--timeout-closed',
      String(TIMEOUTS.closed),
      '--timeout-fin',
      String(TIMEOUTS.fin),
      '--timeout-syn',
      String(TIMEOUTS.syn),
    ]);
    assert.deepEqual(
      [config.timeoutsSeconds.closedS, config.timeoutsSeconds.finS, config.timeoutsSeconds.synSentS],
      [TIMEOUTS.closed, TIMEOUTS.fin, TIMEOUTS.syn],
    );
  });

  after(async () => {
    await capture?.dispose();
    await lb?.close();
  });

  it('config: set and show the conntrack timeouts; bad values (timeouts, SNAT ports) change nothing (exit 2)', () => {
    const shown = lb.cli(['config', 'show']);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, new RegExp(`CLOSED\\s+.*${TIMEOUTS.closed} s\\s+.*10 s`));
    for (const args of [
      ['config', 'set'],
      ['config', 'set', '--timeout-closed', '-1'],
      ['config', 'set', '--timeout-fin', '86401'],
      ['config', 'set', '--snat-ports', '40000-41000'], // inside the namespace's ephemeral ports
      ['config', 'set', '--snat-ports', '1000-2000'], // privileged ports
      ['config', 'set', '--snat-ports', '20000-'],
    ]) {
      const res = lb.cli(args);
      assert.equal(res.code, 2, `${args.join(' ')}: ${res.stderr}`);
      assert.equal(res.stderr.trim().split('\n').length, 1, 'one line');
    }
    const after = lb.cliJson<{
      timeoutsSeconds: { closedS: number; finS: number };
      snatPorts: { min: number; max: number };
    }>(['config', 'show']);
    assert.deepEqual(
      [after.timeoutsSeconds.closedS, after.timeoutsSeconds.finS, after.snatPorts],
      [TIMEOUTS.closed, TIMEOUTS.fin, DEFAULT_SNAT_PORTS],
    );
  });

  // ---------------------------------------------------------------------------------------------------
  // Case 7: a client that forges a PPv2 header as its first bytes.

  const forgedSent: string[] = [];
  for (const f of FAMILIES) {
    for (const m of HEADER_MODES) {
      it(`case 7: nginx reports the real client, not a forged header (${f.family}, ${m.mode}, v${m.version})`, async () => {
        const res = await tcpExchange({
          netns: lb.topo.ns.client,
          host: f.vip,
          port: m.port,
          send: Buffer.concat([forgedHeader(f, m.version), httpGet('/whoami')]),
        });
        forgedSent.push(svcName(m.prefix, f));
        // Ours came first, so theirs is what nginx tries to read as an HTTP request line.
        assert.equal(parseHttpResponse(res.data)?.status, 400, res.data.toString('latin1'));
        const entry = await nginxEntryFor(res);
        assert.equal(entry.status, 400);
        assert.equal(entry.proxy_protocol_addr, res.localAddress);
        assert.equal(entry.proxy_protocol_server_addr, f.vip);
        const balancer = f.v6 ? lb.topo.lb.backend6 : lb.topo.lb.backend4;
        assert.equal(entry.remote_addr, m.mode === 'fullnat' ? balancer : res.localAddress);
      });
    }

    it(`case 7: HAProxy logs the real client for the forged-header request (${f.family})`, async () => {
      const res = await tcpExchange({
        netns: lb.topo.ns.client,
        host: f.vip,
        port: HAPROXY_PORT,
        send: Buffer.concat([forgedHeader(f, 2), httpGet('/whoami')]),
      });
      forgedSent.push(svcName('hap', f));
      assert.equal(parseHttpResponse(res.data)?.status, 400, res.data.toString('latin1'));
      // httplog starts with the client address and port HAProxy took from our header.
      const line = await lb.haproxy.waitForLog(
        new RegExp(`^${escapeRe(`${res.localAddress}:${res.localPort}`)} .* 400 .*BADREQ`),
      );
      assert.doesNotMatch(line, /198\.51\.100\.99|2001:db8:dead/);
    });
  }

  it('case 7: each forged-header connection got exactly one header, ours', () => {
    const doc = stats(lb);
    assert.equal(forgedSent.length, FAMILIES.length * (HEADER_MODES.length + 1));
    for (const name of forgedSent) {
      const counters = serviceCounters(lb, name, doc);
      assert.equal(counters.conn_new, 1, name);
      assert.equal(counters.ppv2_injected, 1, name);
      assertFailureCounters(counters, [], name);
    }
  });

  // ---------------------------------------------------------------------------------------------------
  // Case 8: two clients, one source port, one VIP and backend, at the same time.

  for (const f of FAMILIES) {
    it(`case 8: two clients on the same source port both get through (${f.family}: fullnat gives each a SNAT port, dnat needs none)`, async () => {
      const before = stats(lb);
      const [a, b] = clientsOf(lb, f);
      assert.ok(a && b);
      // One port per mode, both pairs at once; the request is split and the halves sent 6 s apart, so the
      // two connections of a pair are open together.
      const port = 20_000 + Math.floor(Math.random() * 10_000);
      const portOf = (m: (typeof MODES)[number]) => (m.mode === 'fullnat' ? port : port + 1);
      const exchange = (m: (typeof MODES)[number], local: string) =>
        tcpExchange({
          netns: lb.topo.ns.client,
          host: f.vip,
          port: m.port,
          localAddress: local,
          localPort: portOf(m),
          send: [Buffer.from('GET /whoami HTTP/1.0\r\n'), Buffer.from('Host: lbctl-lab.test\r\n\r\n')],
          gapMs: 6_000,
          timeoutMs: 20_000,
        });
      const pending = MODES.map((m) => Promise.all([exchange(m, a), exchange(m, b)]));
      const fullnat = svcName('web', f);
      const open = await waitFor('both fullnat connections in conntrack at once', () => {
        const list = lb.cliJson<{ connections: Array<{ client: string; backendSees: string }> }>([
          ...['conn', 'list', '--service', fullnat, '--state', 'established'],
        ]);
        const mine = list.connections.filter((c) => c.client.endsWith(`:${port}`));
        return mine.length === 2 ? mine : undefined;
      });
      const seen = open.map((c) => Number(c.backendSees.slice(c.backendSees.lastIndexOf(':') + 1)));
      // The backend sees the balancer: each connection on its own port from the SNAT range, whatever the client's.
      assert.equal(new Set(seen).size, 2, `SNAT ports ${seen}`);
      for (const p of seen)
        assert.ok(p >= DEFAULT_SNAT_PORTS.min && p <= DEFAULT_SNAT_PORTS.max, `SNAT port ${p} in the range`);

      const results = await Promise.all(pending);
      const after = stats(lb);
      MODES.forEach((m, i) => {
        const name = svcName(m.prefix, f);
        const views = (results[i] ?? []).map((r) => {
          const http = parseHttpResponse(r.data);
          assert.equal(http?.status, 200, `${name}: ${r.data.toString('latin1')}`);
          return JSON.parse(http?.body.toString() ?? '') as NginxConnectionView;
        });
        assert.deepEqual(
          views.map((v) => [v.proxy_protocol_addr, v.proxy_protocol_port]),
          [
            [a, String(portOf(m))],
            [b, String(portOf(m))],
          ],
          `${name}: each backend connection carries its own client in the header`,
        );
        const counters = serviceCounters(lb, name, after);
        const collisions =
          counters.snat_port_collision - serviceCounters(lb, name, before).snat_port_collision;
        if (m.mode === 'fullnat') {
          // Each client's first choice is its port mapped into the SNAT range: the same port for both, which
          // only one can hold, so snat_port_collision counts the other (both, if a third connection held it).
          assert.equal(new Set(views.map((v) => v.remote_port)).size, 2, `${name}: two SNAT ports`);
          assert.ok(
            collisions >= 1n && collisions <= 2n,
            `${name}: the second client collides (${collisions})`,
          );
        } else {
          // dnat: the backend sees each client itself; the tuples differ, nothing collides.
          assert.deepEqual(
            views.map((v) => [v.remote_addr, v.remote_port]),
            [
              [a, String(portOf(m))],
              [b, String(portOf(m))],
            ],
          );
          assert.equal(collisions, 0, `${name}: no collision`);
        }
        assertFailureCounters(counters, [], name);
      });
    });
  }

  // ---------------------------------------------------------------------------------------------------
  // Case 12: half-closed and reset connections, and connections that close before sending data.

  it('case 12: (setup) capture what reaches the client', async () => {
    capture = await captureAtClient(lb);
    before12 = stats(lb);
  });

  for (const f of FAMILIES) {
    for (const m of HEADER_MODES) {
      const exchange = (extra: Partial<Parameters<typeof tcpExchange>[0]>) =>
        tcpExchange({ netns: lb.topo.ns.client, host: f.vip, port: m.port, send: [], ...extra });

      it(`case 12: close before sending data: a clean close, nothing comes back (${f.family}, ${m.mode}, v${m.version})`, async () => {
        const res = await exchange({ endAfterSend: true });
        assert.equal(res.closed, 'eof');
        assert.equal(res.data.length, 0, 'nothing comes back, certainly no header');
        if (res.localPort) noDataPorts.push(res.localPort);
      });

      it(`case 12: reset before sending data (${f.family}, ${m.mode}, v${m.version})`, async () => {
        const res = await exchange({ resetAfterSend: true, gapMs: 200 });
        assert.equal(res.closed, 'reset');
        assert.equal(res.data.length, 0);
      });

      it(`case 12: reset after a partial request (${f.family}, ${m.mode}, v${m.version})`, async () => {
        const res = await exchange({
          send: [Buffer.from('GET /whoami HTTP/1.0\r\n')],
          resetAfterSend: true,
          gapMs: 300,
        });
        assert.equal(res.closed, 'reset');
        assert.equal(res.data.length, 0);
      });

      it(`case 12: half-close after the request still gets the whole answer (${f.family}, ${m.mode}, v${m.version})`, async () => {
        const res = await exchange({ send: [httpGet('/whoami')], endAfterSend: true });
        const http = parseHttpResponse(res.data);
        assert.equal(http?.status, 200, res.data.toString('latin1'));
        const view = JSON.parse(http?.body.toString() ?? '') as NginxConnectionView;
        assert.equal(view.proxy_protocol_addr, res.localAddress);
        assert.equal(view.proxy_protocol_port, String(res.localPort));
      });
    }

    it(`case 12: a backend that refuses the connection (RST to the SYN) (${f.family})`, async () => {
      const res = await tcpExchange({ netns: lb.topo.ns.client, host: f.vip, port: REFUSED_PORT, send: [] });
      assert.equal(res.error, 'ECONNREFUSED');
    });
  }

  it('case 12: every connection got its header at the handshake, data or not, and none went towards a client', async () => {
    assert.ok(capture, 'capture started');
    const now = stats(lb);
    const delta = (name: string, counter: CounterName) =>
      serviceCounters(lb, name, now)[counter] - serviceCounters(lb, name, before12)[counter];
    for (const f of FAMILIES) {
      for (const m of HEADER_MODES) {
        const name = svcName(m.prefix, f);
        assert.equal(delta(name, 'conn_new'), 4, `${name}: four connections`);
        assert.equal(delta(name, 'ppv2_injected'), 4, `${name}: each got its header`);
        assert.equal(delta(name, 'ppv2_hdr_alone'), 4, `${name}: alone, in the handshake's ACK`);
        assertFailureCounters(serviceCounters(lb, name, now), [], name);
      }
      const refused = svcName('refused', f);
      assert.equal(delta(refused, 'conn_new'), 1);
      assert.equal(delta(refused, 'ppv2_injected'), 0);
      assertFailureCounters(serviceCounters(lb, refused, now), [], refused);
    }
    const clients = [...lb.topo.client.ipv4, ...lb.topo.client.ipv6];
    assert.deepEqual(
      await signaturesTowardsClient(capture, clients),
      [],
      'no PPv2 signature reached a client',
    );
  });

  // The header went with the handshake's ACK; the data-less FIN follows it, and the backend's acknowledgment of
  // both maps back to ISN+2 in the client's sequence space.
  it('case 12: a data-less close is acknowledged cleanly: no FIN retransmission, no RST', async () => {
    assert.ok(capture && noDataPorts.length === FAMILIES.length * HEADER_MODES.length);
    const ports = noDataPorts.map((p) => `tcp.port == ${p}`).join(' || ');
    const bad = await capture.fields({
      displayFilter: `(${ports}) && (tcp.flags.reset == 1 || tcp.analysis.retransmission)`,
      fields: ['frame.number', 'tcp.srcport', 'tcp.dstport', 'tcp.flags.str'],
      checksums: false,
    });
    assert.deepEqual(bad, [], 'the four-way close completes without retransmissions or resets');
  });

  it('case 12: nothing leaks: conntrack drains to zero within the configured timeouts', async () => {
    const start = Date.now();
    // Every connection above ended with both FINs or a RST (CLOSED), the refused ones included.
    await waitForDrain(lb, (TIMEOUTS.fin + 10) * 1000, start);
    const now = stats(lb);
    assert.equal(
      now.global.conn_expired + now.global.conn_recycled,
      now.global.conn_new,
      'every connection created was expired (or recycled) by the datapath',
    );
    assertFailureCounters(now.global, [], 'global');
  });

  async function nginxEntryFor(res: TcpExchangeResult): Promise<NginxAccessEntry> {
    return waitFor(
      'the nginx access log entry',
      async () =>
        (await lb.nginx.accessLog()).find(
          (e) =>
            e.proxy_protocol_port === String(res.localPort) && e.proxy_protocol_addr === res.localAddress,
        ),
      { timeoutMs: 5_000 },
    );
  }
});

function escapeRe(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
