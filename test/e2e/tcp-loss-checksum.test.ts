/**
 * Issue "TCP correctness under real-world conditions", cases 5 and 6: 20 MB transfers through the balancer
 * while about 1% of the data segments in each direction are lost after the balancer's rewriting (and some
 * are reordered), with SACK on; once with transmit checksum offload on (the datapath rewrites
 * CHECKSUM_PARTIAL packets; the balancer's egress completes them, as a NIC would) and once with it off on
 * every veth (CHECKSUM_NONE: full checksums updated incrementally). Receivers that verify checksums confirm
 * every segment: tshark on both sides, and the kernel's TcpInCsumErrors in both namespaces. Each family and
 * mode runs with a PROXY v2 header and with a v1 line (whose odd lengths move payload by odd byte counts).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sha256File } from '../../src/lab/nginx.js';
import { setSegmentationOffload, setTxChecksum } from '../../src/lab/topology.js';
import { suitePrerequisites } from '../helpers/prereq.js';
import { type Capture, startCapture } from '../helpers/tshark.js';
import { type Balancer, DOWNLOAD_BYTES, startBalancer } from './fixtures/balancer.js';
import {
  assertNoFailures,
  type CounterMap,
  counterDelta,
  globalCounters,
  netCounters,
  patternBytes,
  url,
} from './fixtures/tcp-cases.js';
import { attachLoss, buildLossProgram, type LossHook } from './fixtures/tcp-loss.js';

const needs = {
  root: true,
  binaries: ['ip', 'tc', 'ethtool', 'nginx', 'haproxy', 'curl', 'dumpcap', 'tshark', 'clang'],
};
const { skip, assertPrerequisites } = suitePrerequisites(needs);

const VIP4 = '203.0.113.10';
const VIP6 = '2001:db8:f::10';
/** Loss: every 100th data segment in each direction, retransmissions included. */
const DROP_EVERY = 100;
/** Reordering: every 37th data segment goes behind the ones queued after it. */
const REQUEUE_EVERY = 37;
/** A 20 MB transfer at 1% loss takes a second or two here; this bounds retransmission stalls. */
const TRANSFER_MAX_S = 25;

interface Combo {
  family: 'IPv4' | 'IPv6';
  mode: 'fullnat' | 'dnat';
  vip: string;
  port: number;
  client: string;
  version: 1 | 2;
}
const V2_COMBOS: Combo[] = [
  { family: 'IPv4', mode: 'fullnat', vip: VIP4, port: 80, client: '192.0.2.10', version: 2 },
  { family: 'IPv4', mode: 'dnat', vip: VIP4, port: 81, client: '192.0.2.10', version: 2 },
  { family: 'IPv6', mode: 'fullnat', vip: VIP6, port: 80, client: '2001:db8:c::10', version: 2 },
  { family: 'IPv6', mode: 'dnat', vip: VIP6, port: 81, client: '2001:db8:c::10', version: 2 },
];
/** The same with a PROXY v1 line, on VIP ports 82 and 83. */
const COMBOS: Combo[] = [
  ...V2_COMBOS,
  ...V2_COMBOS.map((c) => ({ ...c, port: c.port + 2, version: 1 as const })),
];
const label = (c: Combo) => `${c.family} ${c.mode} v${c.version}`;

/**
 * tshark's checksum verdicts over a capture. A TCP checksum field of 0xffff where the computed value is
 * 0x0000 is the same number in ones' complement (-0 and +0, RFC 1624): receivers accept it, and the kernel
 * itself writes it when it completes a partial checksum that folds to zero (skb_checksum_help writes
 * CSUM_MANGLED_0), about once in 65536 segments. tshark calls it bad; it is counted apart here.
 */
async function checksumVerdicts(capture: Capture) {
  const rows = await capture.fields({
    fields: [
      'tcp.checksum.status',
      'tcp.checksum',
      'tcp.checksum_calculated',
      'ip.checksum.status',
      'frame.number',
    ],
    heuristicFirst: false,
    // Only the checksums are wanted: skip reassembly and sequence analysis, which reordering makes slow.
    prefs: {
      'tcp.desegment_tcp_streams': 'FALSE',
      'tcp.analyze_sequence_numbers': 'FALSE',
      'tcp.calculate_timestamps': 'FALSE',
    },
  });
  const v = { packets: rows.length, good: 0, minusZero: 0, bad: [] as string[], badIpv4: 0 };
  for (const r of rows) {
    if (r['tcp.checksum.status'] === '1') v.good++;
    else if (r['tcp.checksum'] === '0xffff' && r['tcp.checksum_calculated'] === '0x0000') v.minusZero++;
    else v.bad.push(Object.values(r).join(' '));
    if (r['ip.checksum.status'] === '0') v.badIpv4++;
  }
  return v;
}

describe('TCP edge cases 5-6: 1% loss and reordering with SACK, checksum offload on and off', {
  skip,
}, () => {
  let lb: Balancer;
  let scratch: string;
  let uploadFile: string;
  let uploadSha: string;
  const hooks: LossHook[] = [];

  before(async () => {
    assertPrerequisites();
    scratch = await mkdtemp(join(tmpdir(), 'lbctl-tcpl-'));
    lb = await startBalancer('lbctl-tcpl');
    const [b1] = lb.topo.backends.ipv4;
    const [b1v6] = lb.topo.backends.ipv6;
    for (const c of COMBOS) {
      const vip = c.family === 'IPv4' ? c.vip : `[${c.vip}]`;
      const backend = c.family === 'IPv4' ? `${b1}:80` : `[${b1v6}]:80`;
      const header = c.version === 1 ? ['--proxy-protocol', 'v1'] : ['--ppv2'];
      lb.cliJson(['service', 'add', `${vip}:${c.port}`, '--backend', backend, '--mode', c.mode, ...header]);
    }
    const data = patternBytes(DOWNLOAD_BYTES, 5);
    uploadFile = join(scratch, 'upload.bin');
    await writeFile(uploadFile, data);
    uploadSha = createHash('sha256').update(data).digest('hex');
    // Behind the balancer in both directions: client -> backend segments at the backends' ingress,
    // backend -> client segments at the client's ingress, both after the datapath rewrote them.
    const program = buildLossProgram(scratch);
    hooks.push(attachLoss(program, lb.topo.ns.backends, lb.topo.ifaces.backends));
    hooks.push(attachLoss(program, lb.topo.ns.client, lb.topo.ifaces.client));
    // One segment per packet, so the loss rate is a rate of segments (a GSO packet would count as one).
    await setSegmentationOffload(lb.topo, false, 'hosts');
  });

  after(async () => {
    for (const hook of hooks) hook.close();
    await lb?.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  for (const setup of [
    {
      name: 'transmit checksum offload on (CHECKSUM_PARTIAL through the datapath, completed at its egress)',
      apply: async () => {
        await setTxChecksum(lb.topo, true, 'hosts');
        await setTxChecksum(lb.topo, false, 'balancer');
      },
    },
    {
      name: 'transmit checksum offload off on every veth (CHECKSUM_NONE, full checksums)',
      apply: () => setTxChecksum(lb.topo, false, 'all'),
    },
  ]) {
    it(`cases 5 and 6: 20 MB down and up, 1% loss each way, ${setup.name}`, async () => {
      await setup.apply();
      for (const hook of hooks) hook.configure({ dropEvery: DROP_EVERY, requeueEvery: REQUEUE_EVERY });
      const before = globalCounters(lb);
      const kernelBefore = {
        client: await netCounters(lb.topo.ns.client),
        backends: await netCounters(lb.topo.ns.backends),
      };
      // What the backend and the client receive from the balancer, complete, for tshark to verify. (Not
      // what they send: with offload on, a sender's own packets carry partial checksums on the wire.)
      const [b1] = lb.topo.backends.ipv4;
      const [b1v6] = lb.topo.backends.ipv6;
      const captures = [
        await startCapture({
          netns: lb.topo.ns.backends,
          iface: lb.topo.ifaces.backends,
          filter: `tcp and (dst host ${b1} or dst host ${b1v6})`,
        }),
        await startCapture({
          netns: lb.topo.ns.client,
          iface: lb.topo.ifaces.client,
          filter: `tcp and (dst host ${COMBOS[0]?.client} or dst host ${COMBOS[2]?.client})`,
        }),
      ];
      const timings: string[] = [];
      try {
        for (const c of COMBOS) {
          const download = lb.nginx.download(DOWNLOAD_BYTES);
          const out = join(scratch, 'down.bin');
          let t0 = Date.now();
          await lb.curl(url(c.vip, c.port, download.path), [
            ...['-o', out, '--interface', c.client, '--max-time', String(TRANSFER_MAX_S)],
          ]);
          timings.push(`${label(c)} down ${Date.now() - t0} ms`);
          assert.equal(await sha256File(out), download.sha256, `${label(c)}: download sha256`);

          const uploads = (await lb.nginx.uploads()).length;
          t0 = Date.now();
          const res = await lb.curl(url(c.vip, c.port, '/upload'), [
            ...['--data-binary', `@${uploadFile}`, '-H', 'Expect:', '--interface', c.client],
            ...['--max-time', String(TRANSFER_MAX_S)],
          ]);
          timings.push(`${label(c)} up ${Date.now() - t0} ms`);
          assert.equal(res.body, 'stored\n');
          assert.equal(await lb.nginx.lastUploadSha256(uploads + 1), uploadSha, `${label(c)}: upload sha256`);
        }
        const [toBackend, toClient] = hooks.map((h) => h.stats());
        assert.ok(toBackend && toClient);
        if (process.env.LBCTL_TEST_VERBOSE) console.log(JSON.stringify({ toBackend, toClient }));
        for (const [side, s] of [
          ['client -> backend', toBackend],
          ['backend -> client', toClient],
        ] as const) {
          // Eight 20 MB transfers each way: about 8 * 14,500 data segments.
          assert.ok(
            s.everyDropped >= 800,
            `${side}: ${s.everyDropped} segments dropped (${JSON.stringify(s)})`,
          );
          assert.equal(s.gsoPackets, 0, `${side}: one segment per packet`);
          assert.ok(s.requeued > 0, `${side}: segments reordered`);
        }
        const t0 = Date.now();
        // Both stopped first (each tshark reads a closed file), then read in parallel: two cores.
        await Promise.all(captures.map((c) => c.stop()));
        const verdicts = await Promise.all(captures.map((c) => checksumVerdicts(c)));
        timings.push(`tshark ${Date.now() - t0} ms`);
        for (const [i, capture] of captures.entries()) {
          const v = verdicts[i];
          assert.ok(v);
          assert.ok(v.packets > 1000, `${capture.iface}: captured ${v.packets} packets`);
          assert.deepEqual(
            v.bad.slice(0, 10),
            [],
            `${capture.iface}: bad TCP checksums: ${JSON.stringify(v)}`,
          );
          assert.equal(v.good + v.minusZero, v.packets);
          assert.equal(v.badIpv4, 0, `${capture.iface}: no bad IPv4 header checksum`);
        }
      } finally {
        for (const capture of captures) await capture.dispose();
        for (const hook of hooks) hook.configure({});
      }
      const kernel = {
        client: counterDelta(kernelBefore.client, await netCounters(lb.topo.ns.client)),
        backends: counterDelta(kernelBefore.backends, await netCounters(lb.topo.ns.backends)),
      };
      assert.equal(kernel.client.TcpInCsumErrors ?? 0, 0, 'the client verified every segment');
      assert.equal(kernel.backends.TcpInCsumErrors ?? 0, 0, 'the backend verified every segment');
      // The senders noticed segments arriving out of order (not only lost): reordering was exercised.
      const reorders = (k: CounterMap) => (k.TcpExtTCPSACKReorder ?? 0) + (k.TcpExtTCPTSReorder ?? 0);
      assert.ok(reorders(kernel.client) > 0 && reorders(kernel.backends) > 0, 'both senders saw reordering');
      const delta = counterDelta(before, globalCounters(lb));
      assert.ok(
        (delta.sack_shifted ?? 0) > 0,
        `the backend's SACK blocks were shifted: ${JSON.stringify(delta)}`,
      );
      assert.equal(delta.ppv2_injected, 2 * COMBOS.length);
      assertNoFailures(globalCounters(lb));
      if (process.env.LBCTL_TEST_VERBOSE) {
        console.log(timings.join('\n'), JSON.stringify(delta));
        console.log(JSON.stringify(kernel));
      }
    });
  }
});
