/**
 * PROXY v1 services (issue 14 point 4) without a kernel: the v1 length rule against the project's encoder,
 * the flags and their refusals, the lbctl.io/proxy-protocol annotation, and export reading back unchanged.
 * The bytes the kernel writes are checked in test/packet/datapath.test.ts, the receivers in
 * test/e2e/tcp-matrix.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { proxyV1HeaderLength } from '../../src/bpf/abi.js';
import { proxyV1LongestHeader } from '../../src/bpf/records.js';
import { computePlan, type DesiredService, ppv2Text } from '../../src/core/apply-plan.js';
import { parseProxyVersion, proxyVersionFromFlags, validateService } from '../../src/core/service-spec.js';
import { ppv2Summary } from '../../src/core/service-summary.js';
import { exportServices, formatManifests } from '../../src/k8s/export.js';
import { readManifest } from '../../src/k8s/input.js';
import { encodeV1 } from '../../src/ppv2/index.js';
import { formatIPv4, formatIPv6 } from '../../src/ppv2/ip-address.js';
import { lbctl } from '../helpers/cli.js';
import { assertCliError, lbctlErrorOf } from '../helpers/errors.js';
import { specFrom, viewOf } from './k8s-fixtures.js';

/** A small deterministic generator (mulberry32), so a failure names a reproducible case. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** IPv6 addresses rich in zero groups (runs, ties, single zeros), IPv4-mapped ones, and the longest. */
function ipv6Bytes(next: () => number): Uint8Array {
  const bytes = new Uint8Array(16);
  if (next() < 0.1) {
    bytes.set([0xff, 0xff], 10);
    for (let i = 12; i < 16; i++) bytes[i] = Math.floor(next() * 256);
    return bytes;
  }
  for (let g = 0; g < 8; g++) {
    const pick = next();
    // zero half the time; otherwise 1 to 4 hex digits
    const group =
      pick < 0.5
        ? 0
        : pick < 0.62
          ? 1 + Math.floor(next() * 0xf)
          : pick < 0.75
            ? 0x10 + Math.floor(next() * 0xef0)
            : Math.floor(next() * 0x10000);
    bytes[2 * g] = group >> 8;
    bytes[2 * g + 1] = group & 0xff;
  }
  return bytes;
}

function ipv4Bytes(next: () => number): Uint8Array {
  const scale = [10, 100, 256][Math.floor(next() * 3)] ?? 256; // 1, 2 and 3 digit octets
  return Uint8Array.from({ length: 4 }, () => Math.floor(next() * scale));
}

const port = (next: () => number) =>
  [0, 9, 10, 99, 100, 999, 1000, 9999, 10000, 65535][Math.floor(next() * 10)] ?? Math.floor(next() * 65536);

describe('PROXY v1 length rule (src/bpf/abi.ts, twin of bpf/proxy_v1.h)', () => {
  for (const family of [4, 6] as const) {
    it(`equals the encoder's line length for 5000 IPv${family} connections`, () => {
      const next = random(family);
      for (let i = 0; i < 5000; i++) {
        const src = family === 4 ? ipv4Bytes(next) : ipv6Bytes(next);
        const dst = family === 4 ? ipv4Bytes(next) : ipv6Bytes(next);
        const [srcPort, dstPort] = [port(next), port(next)];
        const format = family === 4 ? formatIPv4 : formatIPv6;
        const line = encodeV1({
          version: 1,
          command: 'PROXY',
          family: family === 4 ? 'INET' : 'INET6',
          src: format(src),
          dst: format(dst),
          srcPort,
          dstPort,
        });
        assert.equal(
          proxyV1HeaderLength(family, src, dst, srcPort, dstPort),
          line.length,
          `${format(src)} ${format(dst)} ${srcPort} ${dstPort}`,
        );
      }
    });
  }

  it('the longest line of a service: the longest client text, within the spec limit of 107', () => {
    assert.equal(
      proxyV1LongestHeader('203.0.113.10', 80),
      'PROXY TCP4 255.255.255.255 203.0.113.10 65535 80\r\n'.length,
    );
    assert.equal(proxyV1LongestHeader('2001:db8:f::10', 443), 16 + 39 + '2001:db8:f::10'.length + 5 + 3);
    const longest = proxyV1LongestHeader('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 65535);
    assert.equal(longest, 104);
    assert.ok(longest <= 107);
  });
});

describe('--proxy-protocol and --ppv2', () => {
  it('reads v1 and v2 (also 1, 2, V1), and nothing when neither flag is given', () => {
    assert.equal(proxyVersionFromFlags(undefined, 'v1'), 1);
    assert.equal(proxyVersionFromFlags(undefined, 'v2'), 2);
    assert.equal(proxyVersionFromFlags(true, undefined), 2);
    assert.equal(proxyVersionFromFlags(true, 'v2'), 2);
    assert.equal(proxyVersionFromFlags(false, undefined), undefined);
    assert.equal(proxyVersionFromFlags(undefined, undefined), undefined);
    assert.deepEqual(['1', '2', 'V1', ' v2 '].map(parseProxyVersion), [1, 2, 1, 2]);
  });

  it('refuses a contradiction or an unknown version with a usage error (exit 2)', () => {
    assert.throws(
      () => proxyVersionFromFlags(true, 'v1'),
      lbctlErrorOf('USAGE', { mentions: ['--ppv2', 'v1'] }),
    );
    assert.throws(
      () => proxyVersionFromFlags(false, 'v2'),
      lbctlErrorOf('USAGE', { mentions: ['--no-ppv2'] }),
    );
    assert.throws(() => parseProxyVersion('v3'), lbctlErrorOf('USAGE', { mentions: ['"v3"'], hint: true }));
  });

  it('refuses TLVs on a v1 service: one line saying why (exit 2)', () => {
    for (const tlv of ['unique-id', 'crc32c', '0xE0=01']) {
      const spec = specFrom('203.0.113.10:25', ['198.51.100.2:25'], { ppv2: [tlv] });
      assert.throws(
        () => validateService({ ...spec, ppv2: { ...spec.ppv2, version: 1 } }),
        lbctlErrorOf('USAGE', { mentions: ['v1', '--ppv2-tlv'], hint: true }),
        tlv,
      );
    }
    const plain = specFrom('203.0.113.10:25', ['198.51.100.2:25'], { ppv2: [] });
    assert.doesNotThrow(() => validateService({ ...plain, ppv2: { ...plain.ppv2, version: 1 } }));
  });

  it('service add and set refuse them as the CLI parses them: one line, exit 2, before the datapath is touched', () => {
    const add = ['service', 'add', '203.0.113.10:25', '--backend', '198.51.100.2:25'];
    const cases: Array<[string[], string[]]> = [
      [
        [...add, '--proxy-protocol', 'v1', '--ppv2-tlv', 'unique-id'],
        ['v1', '--ppv2-tlv'],
      ],
      [
        [...add, '--ppv2', '--proxy-protocol', 'v1'],
        ['--ppv2', 'v1'],
      ],
      [[...add, '--proxy-protocol', 'v3'], ['v3']],
      [['service', 'set', '203.0.113.10:25', '--no-ppv2', '--proxy-protocol', 'v1'], ['--no-ppv2']],
    ];
    for (const [args, mentions] of cases) assertCliError(lbctl(args), 2, { mentions }, args.join(' '));
  });

  it('shows v1 apart from v2 in plans and tables', () => {
    const spec = specFrom('203.0.113.10:25', ['198.51.100.2:25'], { ppv2: [] });
    const v1 = { ...spec, ppv2: { ...spec.ppv2, version: 1 as const } };
    assert.equal(ppv2Text(v1.ppv2), 'v1');
    assert.equal(ppv2Text(spec.ppv2), 'v2');
    const view = viewOf(v1, 1, '198.51.100.1');
    assert.equal(ppv2Summary({ ...view, ppv2: { ...view.ppv2, headerBytes: 54 } }), 'v1 (up to 54 B)');
  });
});

describe('lbctl.io/proxy-protocol annotation', () => {
  const manifest = (annotations: Record<string, string>) =>
    [
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'smtp', annotations: { 'lbctl.io/vip': '203.0.113.10', ...annotations } },
        spec: { type: 'LoadBalancer', ports: [{ port: 25, targetPort: 25 }] },
      },
      {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { name: 'smtp-x', labels: { 'kubernetes.io/service-name': 'smtp' } },
        addressType: 'IPv4',
        ports: [{ port: 25 }],
        endpoints: [{ addresses: ['198.51.100.2'] }],
      },
    ]
      .map((o) => JSON.stringify(o))
      .join('\n');
  const ppv2Of = (annotations: Record<string, string>) =>
    readManifest(manifest(annotations)).services[0]?.spec.ppv2;

  it('"v1" turns the v1 line on, "v2" the v2 header; loxilb.io/useproxyprotov2 "yes" alone means v2', () => {
    assert.deepEqual(ppv2Of({ 'lbctl.io/proxy-protocol': 'v1' }), {
      enabled: true,
      version: 1,
      uniqueId: false,
      crc32c: false,
      tlvs: [],
    });
    assert.equal(ppv2Of({ 'lbctl.io/proxy-protocol': 'v2' })?.version, 2);
    assert.equal(ppv2Of({ 'lbctl.io/proxy-protocol': 'v1', 'loxilb.io/useproxyprotov2': 'no' })?.version, 1);
    assert.deepEqual(ppv2Of({ 'loxilb.io/useproxyprotov2': 'yes' }), {
      enabled: true,
      version: 2,
      uniqueId: false,
      crc32c: false,
      tlvs: [],
    });
    assert.equal(ppv2Of({})?.enabled, false);
  });

  it('refuses v1 with useproxyprotov2 "yes", v1 with TLVs, and an unknown version, naming the field', () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ 'lbctl.io/proxy-protocol': 'v1', 'loxilb.io/useproxyprotov2': 'yes' }, 'lbctl.io/proxy-protocol'],
      [{ 'lbctl.io/proxy-protocol': 'v1', 'lbctl.io/ppv2-tlvs': 'unique-id' }, 'lbctl.io/ppv2-tlvs'],
      [{ 'lbctl.io/proxy-protocol': 'v3' }, 'lbctl.io/proxy-protocol'],
    ];
    for (const [annotations, field] of cases) {
      assert.throws(
        () => readManifest(manifest(annotations)),
        lbctlErrorOf('INVALID_DATA', { mentions: [field] }),
      );
    }
  });
});

describe('lbctl export of a v1 service', () => {
  const live = [
    viewOf(
      (() => {
        const spec = specFrom('203.0.113.10:25', ['198.51.100.2:25'], { name: 'smtp', ppv2: [] });
        return { ...spec, ppv2: { ...spec.ppv2, version: 1 as const } };
      })(),
      1,
      '198.51.100.1',
    ),
    viewOf(
      specFrom('203.0.113.10:80', ['198.51.100.2:80'], { name: 'web', ppv2: ['unique-id'] }),
      2,
      '198.51.100.1',
    ),
  ];

  for (const format of ['yaml', 'json'] as const) {
    it(`writes lbctl.io/proxy-protocol "v1" and reads back unchanged (${format})`, () => {
      const text = formatManifests(exportServices(live), format);
      const reading = readManifest(text);
      const desired: DesiredService[] = reading.services.map((s) => ({
        ...s,
        snat: { override: s.snat ?? '198.51.100.1', sources: new Map<string, string>() },
      }));
      const plan = computePlan(desired, live, {}, { prune: false });
      assert.deepEqual(
        plan.entries.map((e) => [e.key, e.action, e.changes]),
        live.map((s) => [s.key, 'unchanged', []]),
      );
      const annotations = exportServices(live).items.map(
        (i) => (i.metadata as { annotations?: Record<string, string> }).annotations ?? {},
      );
      assert.equal(annotations[0]?.['lbctl.io/proxy-protocol'], 'v1');
      assert.equal(annotations[0]?.['loxilb.io/useproxyprotov2'], 'no');
    });
  }

  it('a v2 manifest for a live v1 service is a change of the header, from v1 to v2', () => {
    const reading = readManifest(formatManifests(exportServices(live), 'yaml'));
    const desired: DesiredService[] = reading.services.map((s) => ({
      ...s,
      snat: { override: s.snat ?? '198.51.100.1', sources: new Map<string, string>() },
      spec: { ...s.spec, ppv2: { ...s.spec.ppv2, version: 2 } },
    }));
    const [smtp] = computePlan(desired, live, {}, { prune: false }).entries;
    assert.notEqual(smtp?.action, 'unchanged');
    assert.match(JSON.stringify(smtp?.changes), /v1.*v2/);
  });
});
