/**
 * UDP services end to end (issue 14 point 3): unbound 1.17 reading PROXY v2 on every datagram
 * (`proxy-protocol-port`) behind UDP services with --ppv2, over IPv4 and IPv6, fullnat and dnat. unbound's
 * access-control allows one client address and refuses the other: a query from each gets an answer and
 * REFUSED, which unbound can only decide from the header's client address. 50 queries on one socket all get
 * their answers; unbound's query log names the real client; tshark decodes the header on the backend side;
 * a plain UDP service forwards datagrams unchanged to an unbound without PROXY protocol.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTopology, destroyTopology, setTxChecksum, type Topology } from '../../src/lab/topology.js';
import {
  digFrom,
  queryClients,
  startUnbound,
  UNBOUND_ANSWER,
  UNBOUND_NAME,
  type UnboundBackend,
} from '../../src/lab/unbound.js';
import { run } from '../../src/sys/run.js';
import { lbctl } from '../helpers/cli.js';
import { suitePrerequisites } from '../helpers/prereq.js';
import { type Capture, startCapture } from '../helpers/tshark.js';

const { skip, assertPrerequisites } = suitePrerequisites({
  root: true,
  binaries: ['ip', 'unbound', 'dig', 'tshark', 'dumpcap'],
});

const PORTS = { fullnat: 53, dnat: 54, plain: 55 } as const;

const dig = (topo: Topology, vip: string, port: number, source: string) =>
  digFrom(topo.ns.client, vip, port, source);

/** A node one-liner in the client namespace: n queries on one UDP socket, the number of answers. */
async function burst(topo: Topology, vip: string, port: number, source: string, n: number): Promise<number> {
  const script = `
const dgram = require('node:dgram');
const [vip, port, source, n] = process.argv.slice(1);
const s = dgram.createSocket(vip.includes(':') ? 'udp6' : 'udp4');
const name = Buffer.concat(${JSON.stringify(UNBOUND_NAME)}.split('.').filter(Boolean).map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])).concat([Buffer.from([0])]));
const seen = new Set();
s.on('message', (m) => { if ((m[3] & 0x0f) === 0 && m.readUInt16BE(6) > 0) seen.add(m.readUInt16BE(0)); if (seen.size === Number(n)) done(); });
const done = () => { console.log(seen.size); s.close(); process.exit(0); };
setTimeout(done, 5000);
s.bind(0, source, () => {
  for (let i = 1; i <= Number(n); i++) {
    const q = Buffer.concat([Buffer.from([i >> 8, i & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), name, Buffer.from([0, 1, 0, 1])]);
    s.send(q, Number(port), vip);
  }
});`;
  const r = await run(process.execPath, ['-e', script, vip, String(port), source, String(n)], {
    netns: topo.ns.client,
  });
  return Number(r.stdout.trim());
}

describe('UDP services with PPv2 on every datagram, with unbound', { skip }, () => {
  let topo: Topology | undefined;
  let unbound: UnboundBackend | undefined;
  const cli = (args: string[]) => {
    assert.ok(topo);
    return lbctl(['--netns', topo.ns.lb, ...args]);
  };

  before(async () => {
    assertPrerequisites();
    topo = await createTopology({ prefix: 'lbctl-udp' });
    const attached = cli(['attach', topo.ifaces.lbClient, topo.ifaces.lbBackend]);
    assert.equal(attached.code, 0, `attach failed: ${attached.stderr}`);
    const [b4] = topo.backends.ipv4;
    const [b6] = topo.backends.ipv6;
    const [allowed4] = topo.client.ipv4;
    const [allowed6] = topo.client.ipv6;
    assert.ok(b4 && b6 && allowed4 && allowed6);
    unbound = await startUnbound({
      netns: topo.ns.backends,
      addresses: [b4, b6],
      // the SNAT addresses (the socket peer under fullnat) and one client per family
      allow: [topo.lb.backend4, topo.lb.backend6, allowed4, allowed6],
    });
    for (const [vip, backend] of [
      [topo.vip.ipv4, b4],
      [`[${topo.vip.ipv6}]`, `[${b6}]`],
    ] as const) {
      for (const mode of ['fullnat', 'dnat'] as const) {
        const r = cli([
          'service',
          'add',
          `${vip}:${PORTS[mode]}`,
          '--protocol',
          'udp',
          '--mode',
          mode,
          '--backend',
          `${backend}:53`,
          '--ppv2',
          '--ppv2-tlv',
          'unique-id',
          '--ppv2-tlv',
          'crc32c',
        ]);
        assert.equal(r.code, 0, r.stderr);
      }
      const plain = cli([
        'service',
        'add',
        `${vip}:${PORTS.plain}`,
        '--protocol',
        'udp',
        '--backend',
        `${backend}:5300`,
      ]);
      assert.equal(plain.code, 0, plain.stderr);
    }
  });

  after(async () => {
    const steps: Array<() => unknown> = [
      () => unbound?.stop(),
      () => topo && cli(['detach', '--all']),
      () => topo && destroyTopology(topo),
    ];
    for (const step of steps) {
      await Promise.resolve()
        .then(step)
        .catch((err: unknown) => console.error('cleanup:', err));
    }
  });

  for (const family of [4, 6] as const) {
    for (const mode of ['fullnat', 'dnat'] as const) {
      it(`IPv${family} ${mode}: the allowed client gets its answer, the other one REFUSED; the log names the client`, async () => {
        assert.ok(topo && unbound);
        const vip = family === 4 ? topo.vip.ipv4 : topo.vip.ipv6;
        const [allowed, refused] = family === 4 ? topo.client.ipv4 : topo.client.ipv6;
        assert.ok(allowed && refused);
        const ok = await dig(topo, vip, PORTS[mode], allowed);
        assert.equal(ok.status, 'NOERROR', ok.output);
        assert.deepEqual(ok.answers, [UNBOUND_ANSWER]);
        const no = await dig(topo, vip, PORTS[mode], refused);
        assert.equal(no.status, 'REFUSED', no.output);
        const clients = queryClients(await unbound.log());
        assert.ok(
          clients.includes(allowed),
          `unbound's query log names the real client: ${clients.join(' ')}`,
        );
      });
    }

    it(`IPv${family}: 50 queries on one socket all get their answers`, async () => {
      assert.ok(topo);
      const vip = family === 4 ? topo.vip.ipv4 : topo.vip.ipv6;
      const [allowed] = family === 4 ? topo.client.ipv4 : topo.client.ipv6;
      assert.ok(allowed);
      assert.equal(await burst(topo, vip, PORTS.fullnat, allowed, 50), 50);
    });

    it(`IPv${family}: a plain UDP service forwards unchanged (unbound without PROXY protocol answers)`, async () => {
      assert.ok(topo);
      const vip = family === 4 ? topo.vip.ipv4 : topo.vip.ipv6;
      const [allowed] = family === 4 ? topo.client.ipv4 : topo.client.ipv6;
      assert.ok(allowed);
      const ok = await dig(topo, vip, PORTS.plain, allowed);
      // the socket peer is the SNAT address, which is allowed: no header needed
      assert.equal(ok.status, 'NOERROR', ok.output);
      assert.deepEqual(ok.answers, [UNBOUND_ANSWER]);
    });
  }

  it('conn list, stats and counters show the UDP flows and their headers', () => {
    const conns = cli(['conn', 'list', '--state', 'udp', '--json']);
    assert.equal(conns.code, 0, conns.stderr);
    const list = JSON.parse(conns.stdout) as {
      connections: Array<{ protocol: string; ppv2: { injected: boolean } }>;
    };
    assert.ok(list.connections.length >= 4, conns.stdout);
    assert.ok(list.connections.every((c) => c.protocol === 'udp'));
    assert.ok(list.connections.some((c) => c.ppv2.injected));
    const stats = cli(['stats', '--json']);
    assert.equal(stats.code, 0, stats.stderr);
    assert.match(stats.stdout, /"ppv2_udp_injected":\s*[1-9]/);
  });

  it('UDP flows expire after config set --timeout-udp', async () => {
    assert.ok(topo);
    const set = cli(['config', 'set', '--timeout-udp', '1', '--json']);
    assert.equal(set.code, 0, set.stderr);
    const flows = () => {
      const r = cli(['conn', 'list', '--state', 'udp', '--json']);
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout) as { connections: unknown[] }).connections.length;
    };
    const deadline = Date.now() + 5000;
    while (flows() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    assert.equal(flows(), 0, 'idle for more than a second: swept');
    assert.equal(cli(['config', 'set', '--timeout-udp', '0']).code, 0);
  });

  it('tshark decodes the header on the backend side: DGRAM, the real client, the VIP, a good UDP checksum', async () => {
    assert.ok(topo);
    let capture: Capture | undefined;
    // Full checksums from the client (no offload): the datapath's incremental updates must then give a
    // checksum tshark verifies; with offload on, veths carry partial sums that no capture can check.
    await setTxChecksum(topo, false);
    try {
      capture = await startCapture({
        netns: topo.ns.backends,
        iface: topo.ifaces.backends,
        filter: 'udp port 53',
      });
      const [allowed] = topo.client.ipv4;
      assert.ok(allowed);
      assert.equal((await dig(topo, topo.vip.ipv4, PORTS.fullnat, allowed)).status, 'NOERROR');
      const rows = await capture.fields({
        displayFilter: 'proxy.v2.magic',
        fields: [
          'proxy.v2.protocol',
          'proxy.src.ipv4',
          'proxy.dst.ipv4',
          'proxy.dstport',
          'udp.checksum.status',
        ],
        prefs: { 'udp.try_heuristic_first': 'TRUE', 'udp.check_checksum': 'TRUE' },
      });
      assert.ok(rows.length >= 1, 'a decoded PROXY header');
      const [row] = rows;
      assert.equal(Number(row?.['proxy.v2.protocol']), 0x02, 'DGRAM');
      assert.equal(row?.['proxy.src.ipv4'], allowed);
      assert.equal(row?.['proxy.dst.ipv4'], topo.vip.ipv4);
      assert.equal(row?.['proxy.dstport'], String(PORTS.fullnat));
      assert.equal(row?.['udp.checksum.status'], '1', 'UDP checksum verified good');
    } finally {
      await capture?.stop().catch(() => undefined);
      await setTxChecksum(topo, true);
    }
  });
});
