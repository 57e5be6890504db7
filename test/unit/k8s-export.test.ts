/** lbctl export: manifests that apply reads back to the very same services (a plan of all unchanged). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { load } from 'js-yaml';
import { computePlan, type DesiredService } from '../../src/core/apply-plan.js';
import { NO_SNAT } from '../../src/core/snat-plan.js';
import { exportServices, formatManifests } from '../../src/k8s/export.js';
import { readManifest } from '../../src/k8s/input.js';
import { lbctlErrorOf } from '../helpers/errors.js';
import { routeLikePlan, specFrom, viewOf } from './k8s-fixtures.js';

const live = [
  viewOf(
    specFrom('203.0.113.10:57002', ['198.51.100.2:80', '198.51.100.3:80'], {
      name: 'tcp-lb-fullnat',
      ppv2: [],
      liveness: true,
    }),
    1,
    '198.51.100.1',
  ),
  viewOf(specFrom('203.0.113.10:81', ['198.51.100.4:80:3', '198.51.100.5:80:0'], { mode: 'dnat' }), 2, null),
  viewOf(
    specFrom('[2001:db8:f::10]:443', ['[2001:db8:b::2]:443', '[2001:db8:b::3]:8443:2'], {
      name: '6web',
      ppv2: ['unique-id', 'crc32c', 'authority=example.com', 'alpn=h2', 'netns=blue', '0xE0=00ff'],
    }),
    3,
    null, // each backend's route source: no lbctl.io/snat, and apply resolves the routes again
  ),
  viewOf(
    specFrom('203.0.113.10:82', ['198.51.100.2:80'], { name: 'lbctl-203-0-113-10-81', mode: 'dnat' }),
    4,
    null,
  ),
];

function roundTrip(text: string) {
  const reading = readManifest(text);
  const desired: DesiredService[] = reading.services.map((s) => ({
    ...s,
    snat:
      s.spec.mode !== 'fullnat'
        ? NO_SNAT
        : s.snat !== undefined
          ? { override: s.snat, sources: new Map() }
          : routeLikePlan(s.spec),
  }));
  return computePlan(desired, live, {}, { prune: false });
}

describe('k8s export', () => {
  for (const format of ['yaml', 'json'] as const) {
    it(`reads back as the same services (${format}): every entry unchanged`, () => {
      const plan = roundTrip(formatManifests(exportServices(live), format));
      assert.deepEqual(
        plan.entries.map((e) => [e.key, e.action, e.changes]),
        live.map((s) => [s.key, 'unchanged', []]),
      );
    });
  }

  it('writes a Service with the annotations and an EndpointSlice per backend port', () => {
    const items = exportServices(live).items;
    assert.deepEqual(
      items.map((i) => [i.kind, (i.metadata as { name: string }).name]),
      [
        ['Service', 'tcp-lb-fullnat'],
        ['EndpointSlice', 'tcp-lb-fullnat'],
        ['Service', 'lbctl-203-0-113-10-81-2'],
        ['EndpointSlice', 'lbctl-203-0-113-10-81-2'],
        ['Service', 'lbctl-2001-db8-f--10-443'],
        ['EndpointSlice', 'lbctl-2001-db8-f--10-443-443'],
        ['EndpointSlice', 'lbctl-2001-db8-f--10-443-8443'],
        ['Service', 'lbctl-203-0-113-10-81'],
        ['EndpointSlice', 'lbctl-203-0-113-10-81'],
      ],
    );
    const [first] = items;
    assert.deepEqual(first, {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: 'tcp-lb-fullnat',
        annotations: {
          'loxilb.io/lbmode': 'fullnat',
          'loxilb.io/useproxyprotov2': 'yes',
          'loxilb.io/liveness': 'yes',
          'lbctl.io/vip': '203.0.113.10',
          'lbctl.io/snat': '198.51.100.1',
        },
      },
      spec: {
        type: 'LoadBalancer',
        loadBalancerClass: 'loxilb.io/loxilb',
        ports: [{ port: 57002, protocol: 'TCP', targetPort: 80 }],
      },
    });
    const v6 = items[4] as { metadata: { annotations: Record<string, string> } };
    assert.equal(
      v6.metadata.annotations['lbctl.io/ppv2-tlvs'],
      'unique-id,crc32c,authority=example.com,alpn=h2,netns=blue,0xe0=00ff',
    );
    assert.equal(v6.metadata.annotations['lbctl.io/weights'], '[2001:db8:b::3]:8443=2');
    assert.equal(v6.metadata.annotations['lbctl.io/name'], '6web');
    assert.equal(
      v6.metadata.annotations['lbctl.io/snat'],
      undefined,
      "each backend's route source: no override",
    );
    const unnamed = items[2] as { metadata: { annotations: Record<string, string> } };
    assert.equal(unnamed.metadata.annotations['lbctl.io/name'], '');
    assert.equal(unnamed.metadata.annotations['lbctl.io/weights'], '198.51.100.4:80=3,198.51.100.5:80=0');
  });

  it('quotes yes/no in YAML so that kubectl (YAML 1.1) reads strings', () => {
    const yaml = formatManifests(exportServices(live.slice(0, 1)), 'yaml');
    assert.match(yaml, /loxilb.io\/useproxyprotov2: "yes"/);
    assert.equal(yaml.split('\n---\n').length, 2);
    assert.deepEqual(load(yaml.split('---\n')[1] ?? ''), {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: 'tcp-lb-fullnat',
        labels: {
          'kubernetes.io/service-name': 'tcp-lb-fullnat',
          'endpointslice.kubernetes.io/managed-by': 'lbctl.io',
        },
      },
      addressType: 'IPv4',
      ports: [{ name: '', port: 80, protocol: 'TCP' }],
      endpoints: [
        { addresses: ['198.51.100.2'], conditions: { ready: true } },
        { addresses: ['198.51.100.3'], conditions: { ready: true } },
      ],
    });
  });

  it('writes nothing for no services; apply refuses an input without objects (like kubectl)', () => {
    assert.equal(formatManifests(exportServices([]), 'yaml'), '');
    assert.throws(() => readManifest('---\n'), lbctlErrorOf('USAGE'));
    assert.throws(() => readManifest(formatManifests(exportServices([]), 'json')), lbctlErrorOf('USAGE'));
  });
});
