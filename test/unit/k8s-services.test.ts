/**
 * Manifests to lbctl services: which Services count, endpoint matching and targetPort resolution as
 * Kubernetes does it, VIP precedence, annotations, names, and errors that name the document and field.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatEndpoint } from '../../src/core/endpoint.js';
import type { ExitCodeName } from '../../src/exit-codes.js';
import { hostPort } from '../../src/host-port.js';
import { readManifest } from '../../src/k8s/input.js';
import { lbctlServiceName } from '../../src/k8s/naming.js';
import { canonicalIpAddress } from '../../src/ppv2/ip-address.js';
import { lbctlErrorOf } from '../helpers/errors.js';

interface ServiceOptions {
  name?: string;
  namespace?: string;
  annotations?: Record<string, string>;
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

const service = (o: ServiceOptions = {}) => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: o.name ?? 'web', namespace: o.namespace, annotations: o.annotations },
  spec: { type: 'LoadBalancer', ports: [{ port: 80, targetPort: 8080 }], ...o.spec },
  status: o.status,
});

interface SliceOptions {
  service?: string;
  namespace?: string;
  addressType?: string;
  ports?: unknown[];
  endpoints?: unknown[];
}

const slice = (o: SliceOptions = {}) => ({
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: {
    name: `${o.service ?? 'web'}-x`,
    namespace: o.namespace,
    labels: { 'kubernetes.io/service-name': o.service ?? 'web' },
  },
  addressType: o.addressType ?? 'IPv4',
  ports: o.ports ?? [{ port: 8080 }],
  endpoints: o.endpoints ?? [{ addresses: ['198.51.100.2'] }, { addresses: ['198.51.100.3'] }],
});

const VIP = { 'lbctl.io/vip': '203.0.113.10' };

/** The objects as consecutive JSON documents (what kubectl -o json pieces look like). */
const read = (...objects: unknown[]) => readManifest(objects.map((o) => JSON.stringify(o)).join('\n'));

const backendsOf = (reading: ReturnType<typeof read>, index = 0) =>
  reading.services[index]?.spec.backends.map((b) =>
    b.weight === 1 ? formatEndpoint(b) : `${formatEndpoint(b)}:${b.weight}`,
  );

/** An error of `kind` naming where (document, field) and what (the value): the inputs, not the wording. */
const fails = (kind: ExitCodeName, mentions: string[]) => lbctlErrorOf(kind, { mentions });

describe('k8s services: the issue example', () => {
  it('gives a fullnat PPv2 service with liveness on, named after the Service', () => {
    const reading = read(
      service({
        name: 'tcp-lb-fullnat',
        annotations: {
          'loxilb.io/liveness': 'yes',
          'loxilb.io/lbmode': 'fullnat',
          'loxilb.io/useproxyprotov2': 'yes',
          ...VIP,
        },
        spec: {
          externalTrafficPolicy: 'Local',
          loadBalancerClass: 'loxilb.io/loxilb',
          selector: { what: 'tcp-fullnat-test' },
          ports: [{ port: 57002, targetPort: 80 }],
        },
      }),
      slice({ service: 'tcp-lb-fullnat', ports: [{ port: 80, protocol: 'TCP' }] }),
    );
    assert.equal(reading.services.length, 1);
    const [s] = reading.services;
    assert.deepEqual(s?.spec, {
      name: 'tcp-lb-fullnat',
      vip: { family: 4, address: '203.0.113.10', port: 57002 },
      protocol: 'tcp',
      mode: 'fullnat',
      backends: [
        { family: 4, address: '198.51.100.2', port: 80, weight: 1 },
        { family: 4, address: '198.51.100.3', port: 80, weight: 1 },
      ],
      ppv2: { enabled: true, version: 2, uniqueId: false, crc32c: false, tlvs: [] },
      liveness: true,
    });
    assert.equal(s?.source, 'document 1 (Service default/tcp-lb-fullnat) spec.ports[0]');
    assert.equal(s?.owner, 'Service default/tcp-lb-fullnat');
    assert.equal(s?.snat, undefined);
  });
});

describe('k8s services: which Services are lbctl’s', () => {
  it('ignores other types and other loadBalancerClasses, with a reason', () => {
    const reading = read(
      service({ name: 'a', annotations: VIP, spec: { type: 'ClusterIP' } }),
      service({ name: 'b', annotations: VIP, spec: { loadBalancerClass: 'service.k8s.aws/nlb' } }),
      service({ name: 'c', annotations: VIP, spec: { loadBalancerClass: 'lbctl.io/lbctl' } }),
      slice({ service: 'c' }),
    );
    assert.deepEqual(
      reading.services.map((s) => s.spec.name),
      ['c'],
    );
    assert.deepEqual(
      reading.ignored.map((i) => [i.name, i.reason.split(' (')[0]]),
      [
        ['a', 'type ClusterIP, not LoadBalancer'],
        ['b', 'loadBalancerClass service.k8s.aws/nlb belongs to another implementation'],
      ],
    );
  });

  it('notes loxilb annotations it does not use, and refuses unknown lbctl ones', () => {
    const reading = read(service({ annotations: { ...VIP, 'loxilb.io/epselect': 'hash' } }), slice());
    assert.deepEqual(reading.notes, [
      'document 1 (Service default/web): annotation loxilb.io/epselect is not used by lbctl',
    ]);
    assert.throws(
      () => read(service({ annotations: { ...VIP, 'lbctl.io/vips': '203.0.113.10' } }), slice()),
      fails('INVALID_DATA', ['document 1 (Service default/web)', 'metadata.annotations["lbctl.io/vips"]']),
    );
  });
});

describe('k8s services: endpoints and targetPort', () => {
  it('matches slices by the service-name label and namespace only', () => {
    const reading = read(
      service({ namespace: 'shop', annotations: VIP }),
      slice({ namespace: 'shop', endpoints: [{ addresses: ['198.51.100.2'] }] }),
      slice({ endpoints: [{ addresses: ['198.51.100.9'] }] }), // namespace default: another Service's
      slice({ namespace: 'shop', service: 'other', endpoints: [{ addresses: ['198.51.100.8'] }] }),
    );
    assert.deepEqual(backendsOf(reading), ['198.51.100.2:8080']);
  });

  it('leaves out endpoints that are not ready, reads the first address only, and counts duplicates once', () => {
    const reading = read(
      service({ annotations: VIP }),
      slice({
        endpoints: [
          { addresses: ['198.51.100.2', '198.51.100.20'], conditions: { ready: true } },
          { addresses: ['198.51.100.3'], conditions: { ready: false, serving: true } },
          { addresses: ['198.51.100.4'], conditions: {} },
        ],
      }),
      slice({ endpoints: [{ addresses: ['198.51.100.2'] }] }),
    );
    assert.deepEqual(backendsOf(reading), ['198.51.100.2:8080', '198.51.100.4:8080']);
  });

  it('resolves a named targetPort through the slice port carrying the Service port name', () => {
    const reading = read(
      service({
        annotations: VIP,
        spec: {
          ports: [
            { name: 'http', port: 80, targetPort: 'web' },
            { name: 'https', port: 443, targetPort: 8443 },
          ],
        },
      }),
      // Pods with different numbers behind the same container port name: one slice each, as Kubernetes does.
      slice({
        ports: [
          { name: 'http', port: 8080 },
          { name: 'https', port: 8443 },
        ],
        endpoints: [{ addresses: ['198.51.100.2'] }],
      }),
      slice({
        ports: [
          { name: 'http', port: 9090 },
          { name: 'https', port: 8443 },
        ],
        endpoints: [{ addresses: ['198.51.100.3'] }],
      }),
    );
    assert.deepEqual(
      reading.services.map((s) => [s.spec.name, s.spec.vip.port, backendsOf({ ...reading, services: [s] })]),
      [
        ['web-http', 80, ['198.51.100.2:8080', '198.51.100.3:9090']],
        ['web-https', 443, ['198.51.100.2:8443', '198.51.100.3:8443']],
      ],
    );
  });

  it('uses the numeric targetPort (or the port) for a slice without ports', () => {
    const numeric = read(service({ annotations: VIP }), slice({ ports: [] }));
    assert.deepEqual(backendsOf(numeric), ['198.51.100.2:8080', '198.51.100.3:8080']);
    const noTarget = read(
      service({ annotations: VIP, spec: { ports: [{ port: 81 }] } }),
      slice({ ports: [] }),
    );
    assert.deepEqual(backendsOf(noTarget), ['198.51.100.2:81', '198.51.100.3:81']);
    const allPorts = read(service({ annotations: VIP }), slice({ ports: [{ name: '' }] }));
    assert.deepEqual(backendsOf(allPorts), ['198.51.100.2:8080', '198.51.100.3:8080']);
  });

  it('falls back to the Endpoints object only when there is no slice for the Service', () => {
    const endpoints = {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name: 'web' },
      subsets: [
        {
          addresses: [{ ip: '198.51.100.5' }, { ip: '2001:db8:b::5' }],
          notReadyAddresses: [{ ip: '198.51.100.6' }],
          ports: [{ port: 8081 }],
        },
      ],
    };
    assert.deepEqual(backendsOf(read(service({ annotations: VIP }), endpoints)), ['198.51.100.5:8081']);
    assert.deepEqual(backendsOf(read(service({ annotations: VIP }), endpoints, slice())), [
      '198.51.100.2:8080',
      '198.51.100.3:8080',
    ]);
  });

  const refused: Array<[string, unknown[], string[]]> = [
    [
      'a named targetPort no slice port resolves',
      [
        service({ annotations: VIP, spec: { ports: [{ name: 'http', port: 80, targetPort: 'http' }] } }),
        slice({ ports: [] }),
      ],
      ['document 1 (Service default/web)', 'spec.ports[0].targetPort', '"http"'],
    ],
    [
      'a Service without any slice or Endpoints',
      [service({ annotations: VIP })],
      ['document 1 (Service default/web)', 'spec.ports[0]', 'kubernetes.io/service-name=web'],
    ],
    [
      'slices whose ports carry other names',
      [service({ annotations: VIP }), slice({ ports: [{ name: 'metrics', port: 9100 }] })],
      ['spec.ports[0]', '"metrics"'],
    ],
    [
      'slices whose endpoints are all not ready',
      [
        service({ annotations: VIP }),
        slice({ endpoints: [{ addresses: ['198.51.100.2'], conditions: { ready: false } }] }),
      ],
      ['spec.ports[0]', 'IPv4'],
    ],
    [
      'slices of the other family only',
      [
        service({ annotations: VIP }),
        slice({ addressType: 'IPv6', endpoints: [{ addresses: ['2001:db8:b::2'] }] }),
      ],
      ['spec.ports[0]', 'IPv4'],
    ],
  ];
  for (const [what, objects, mentions] of refused) {
    it(`refuses ${what}`, () => {
      assert.throws(() => read(...objects), fails('INVALID_DATA', mentions));
    });
  }
});

describe('k8s services: the VIP', () => {
  const ingress = { loadBalancer: { ingress: [{ ip: '203.0.113.30' }, { hostname: 'lb.example' }] } };

  it('takes lbctl.io/vip first, then spec.loadBalancerIP, then status.loadBalancer.ingress', () => {
    const vip = (o: ServiceOptions) => read(service(o), slice()).services[0]?.spec.vip.address;
    assert.equal(
      vip({ annotations: VIP, spec: { loadBalancerIP: '203.0.113.20' }, status: ingress }),
      '203.0.113.10',
    );
    assert.equal(vip({ spec: { loadBalancerIP: '203.0.113.20' }, status: ingress }), '203.0.113.20');
    assert.equal(vip({ status: ingress }), '203.0.113.30');
  });

  it('makes one service per family for a dual-stack Service, each with its family’s endpoints', () => {
    const reading = read(
      service({
        status: { loadBalancer: { ingress: [{ ip: '2001:db8:f:0::10' }, { ip: '203.0.113.10' }] } },
      }),
      slice(),
      slice({ addressType: 'IPv6', endpoints: [{ addresses: ['2001:db8:b::2'] }] }),
    );
    assert.deepEqual(
      reading.services.map((s) => [
        s.spec.name,
        formatEndpoint(s.spec.vip),
        s.spec.backends.length,
        s.source,
      ]),
      [
        ['web', '203.0.113.10:80', 2, 'document 1 (Service default/web) spec.ports[0] IPv4'],
        ['web-v6', '[2001:db8:f::10]:80', 1, 'document 1 (Service default/web) spec.ports[0] IPv6'],
      ],
    );
  });

  const refused: Array<[string, ServiceOptions, string[]]> = [
    ['no VIP at all', {}, ['document 1 (Service default/web)']],
    [
      'a loadBalancerIP that is not an address',
      { spec: { loadBalancerIP: 'lb' } },
      ['spec.loadBalancerIP', '"lb"'],
    ],
    [
      'two ingress addresses of one family',
      { status: { loadBalancer: { ingress: [{ ip: '203.0.113.1' }, { ip: '203.0.113.2' }] } } },
      ['status.loadBalancer.ingress[1].ip', 'status.loadBalancer.ingress[0].ip', '203.0.113.1'],
    ],
    [
      'two lbctl.io/vip addresses of one family',
      { annotations: { 'lbctl.io/vip': '203.0.113.1, 203.0.113.2' } },
      ['metadata.annotations["lbctl.io/vip"]'],
    ],
  ];
  for (const [what, options, mentions] of refused) {
    it(`refuses ${what}`, () => {
      assert.throws(() => read(service(options), slice()), fails('INVALID_DATA', mentions));
    });
  }
});

describe('k8s services: annotations', () => {
  const withAnnotations = (annotations: Record<string, string>) =>
    read(service({ annotations: { ...VIP, ...annotations } }), slice()).services[0]?.spec;

  it('maps lbmode default (or none) to dnat, and PPv2 and liveness off unless "yes"', () => {
    assert.equal(withAnnotations({})?.mode, 'dnat');
    assert.equal(withAnnotations({ 'loxilb.io/lbmode': 'default' })?.mode, 'dnat');
    assert.equal(withAnnotations({ 'loxilb.io/useproxyprotov2': 'no' })?.ppv2.enabled, false);
    assert.equal(withAnnotations({ 'loxilb.io/liveness': 'no' })?.liveness, false);
  });

  it('reads PPv2 TLVs, weights and the SNAT address', () => {
    const reading = read(
      service({
        annotations: {
          ...VIP,
          'loxilb.io/lbmode': 'fullnat',
          'loxilb.io/useproxyprotov2': 'yes',
          'lbctl.io/ppv2-tlvs': 'unique-id, crc32c, authority=example.com',
          'lbctl.io/weights': '198.51.100.2=3, 198.51.100.3:8080=0, 198.51.100.3=5',
          'lbctl.io/snat': '198.51.100.11',
        },
      }),
      slice(),
    );
    const [s] = reading.services;
    assert.equal(s?.spec.ppv2.uniqueId, true);
    assert.equal(s?.spec.ppv2.crc32c, true);
    assert.deepEqual(
      s?.spec.ppv2.tlvs.map((t) => [t.type, Buffer.from(t.value).toString()]),
      [[2, 'example.com']],
    );
    assert.deepEqual(backendsOf(reading), ['198.51.100.2:8080:3', '198.51.100.3:8080:0']);
    assert.equal(s?.snat, '198.51.100.11');
  });

  it('names the lbctl service after lbctl.io/name, or leaves it unnamed with ""', () => {
    assert.equal(withAnnotations({ 'lbctl.io/name': 'front' })?.name, 'front');
    assert.equal(withAnnotations({ 'lbctl.io/name': '' })?.name, undefined);
  });

  const refused: Array<[string, Record<string, string>, ExitCodeName, string[]]> = [
    [
      'an lbmode lbctl does not implement',
      { 'loxilb.io/lbmode': 'onearm' },
      'UNSUPPORTED',
      ['document 1 (Service default/web)', 'metadata.annotations["loxilb.io/lbmode"]', '"onearm"'],
    ],
    [
      'an lbmode nobody knows',
      { 'loxilb.io/lbmode': 'fast' },
      'INVALID_DATA',
      ['["loxilb.io/lbmode"]', '"fast"'],
    ],
    [
      'a yes/no annotation with another value',
      { 'loxilb.io/useproxyprotov2': 'true' },
      'INVALID_DATA',
      ['["loxilb.io/useproxyprotov2"]', '"true"'],
    ],
    [
      'TLVs without PPv2',
      { 'lbctl.io/ppv2-tlvs': 'crc32c' },
      'INVALID_DATA',
      ['["lbctl.io/ppv2-tlvs"]', 'loxilb.io/useproxyprotov2'],
    ],
    [
      'a TLV the datapath cannot send',
      { 'loxilb.io/useproxyprotov2': 'yes', 'lbctl.io/ppv2-tlvs': '0x05=01' },
      'INVALID_DATA',
      ['["lbctl.io/ppv2-tlvs"]', '"0x05=01"'],
    ],
    [
      'SNAT with dnat',
      { 'lbctl.io/snat': '198.51.100.11' },
      'INVALID_DATA',
      ['["lbctl.io/snat"]', 'fullnat'],
    ],
    [
      'a weight out of range',
      { 'lbctl.io/weights': '198.51.100.2=70000' },
      'INVALID_DATA',
      ['["lbctl.io/weights"]', '"198.51.100.2=70000"'],
    ],
    // Values `service add` refuses are refused with its exit code (USAGE), naming the document too.
    [
      'all weights 0',
      { 'lbctl.io/weights': '198.51.100.2=0,198.51.100.3=0' },
      'USAGE',
      ['document 1 (Service default/web)', 'spec.ports[0]', '203.0.113.10:80'],
    ],
    ['a loopback VIP', { 'lbctl.io/vip': '127.0.0.1' }, 'USAGE', ['document 1', '127.0.0.1']],
    ['a broadcast VIP', { 'lbctl.io/vip': '255.255.255.255' }, 'USAGE', ['255.255.255.255']],
    ['a multicast VIP', { 'lbctl.io/vip': '239.1.1.1' }, 'USAGE', ['239.1.1.1']],
    [
      'an SNAT address of a family the Service has no VIP of',
      { 'loxilb.io/lbmode': 'fullnat', 'lbctl.io/snat': '2001:db8:b::1' },
      'USAGE',
      ['["lbctl.io/snat"]', '2001:db8:b::1', '203.0.113.10'],
    ],
    ['a name lbctl refuses', { 'lbctl.io/name': 'Web_1' }, 'INVALID_DATA', ['["lbctl.io/name"]', '"Web_1"']],
  ];
  for (const [what, annotations, kind, mentions] of refused) {
    it(`refuses ${what}`, () => {
      assert.throws(() => withAnnotations(annotations), fails(kind, mentions));
    });
  }

  const badVips6: Array<[string, string]> = [
    ['unspecified', '::'],
    ['v4-mapped', '::ffff:203.0.113.10'],
    ['loopback', '::1'],
  ];
  for (const [what, vip] of badVips6) {
    it(`refuses a ${what} IPv6 VIP`, () => {
      const endpoints = [{ addresses: ['2001:db8:b::2'] }];
      assert.throws(
        () =>
          read(service({ annotations: { 'lbctl.io/vip': vip } }), slice({ addressType: 'IPv6', endpoints })),
        fails('USAGE', ['document 1 (Service default/web)', hostPort(canonicalIpAddress(vip) as string, 80)]),
      );
    });
  }

  const badBackends: Array<[string, string]> = [
    ['loopback', '127.0.0.1'],
    ['unspecified', '0.0.0.0'],
    ['multicast', '224.0.0.9'],
  ];
  for (const [what, address] of badBackends) {
    it(`refuses a ${what} endpoint address as a backend`, () => {
      const endpoints = [{ addresses: ['198.51.100.2'] }, { addresses: [address] }];
      assert.throws(
        () => read(service({ annotations: VIP }), slice({ endpoints })),
        fails('USAGE', ['document 1 (Service default/web)', address]),
      );
    });
  }

  it('refuses SCTP ports as unsupported', () => {
    assert.throws(
      () =>
        read(service({ annotations: VIP, spec: { ports: [{ port: 38412, protocol: 'SCTP' }] } }), slice()),
      fails('UNSUPPORTED', ['spec.ports[0].protocol', '"SCTP"']),
    );
  });

  it('maps a UDP port to a UDP service with the annotations; a TCP port of the same number stays apart', () => {
    const reading = read(
      service({
        name: 'dns',
        annotations: {
          ...VIP,
          'loxilb.io/lbmode': 'fullnat',
          'loxilb.io/useproxyprotov2': 'yes',
          'loxilb.io/liveness': 'yes',
          'lbctl.io/ppv2-tlvs': 'unique-id,crc32c',
        },
        spec: {
          ports: [
            { name: 'dns-udp', port: 53, protocol: 'UDP', targetPort: 5353 },
            { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 5353 },
          ],
        },
      }),
      slice({
        service: 'dns',
        ports: [
          { name: 'dns-udp', port: 5353, protocol: 'UDP' },
          { name: 'dns-tcp', port: 5353, protocol: 'TCP' },
        ],
      }),
    );
    const byProtocol = new Map(reading.services.map((x) => [x.spec.protocol, x.spec]));
    assert.equal(reading.services.length, 2);
    const udp = byProtocol.get('udp');
    assert.deepEqual(udp?.vip, { family: 4, address: '203.0.113.10', port: 53 });
    assert.equal(udp?.mode, 'fullnat');
    assert.deepEqual(udp?.ppv2, { enabled: true, version: 2, uniqueId: true, crc32c: true, tlvs: [] });
    assert.deepEqual(
      backendsOf(
        reading,
        reading.services.findIndex((x) => x.spec.protocol === 'udp'),
      ),
      ['198.51.100.2:5353', '198.51.100.3:5353'],
    );
    assert.equal(udp?.liveness, false, 'no TCP probe for a UDP port');
    assert.equal(byProtocol.get('tcp')?.liveness, true);
    assert.ok(reading.notes.some((n) => n.includes('spec.ports[0]') && n.includes('UDP')));
  });
});

describe('k8s services: names', () => {
  const parts = {
    namespace: 'default',
    name: 'web',
    override: undefined,
    port: { name: '', port: 80 },
    multiPort: false,
    family: 4 as const,
    dualStack: false,
  };

  it('uses the name in "default", NAMESPACE-NAME elsewhere, and adds port and family suffixes', () => {
    assert.equal(lbctlServiceName(parts), 'web');
    assert.equal(lbctlServiceName({ ...parts, namespace: 'shop' }), 'shop-web');
    assert.equal(
      lbctlServiceName({ ...parts, multiPort: true, port: { name: 'https', port: 443 } }),
      'web-https',
    );
    assert.equal(lbctlServiceName({ ...parts, multiPort: true, port: { name: '', port: 443 } }), 'web-443');
    assert.equal(lbctlServiceName({ ...parts, dualStack: true, family: 6 }), 'web-v6');
    assert.equal(lbctlServiceName({ ...parts, dualStack: true }), 'web');
    assert.equal(lbctlServiceName({ ...parts, override: 'front', namespace: 'shop' }), 'front');
  });

  it('shortens names over 63 characters with a stable hash', () => {
    const long = { ...parts, namespace: 'n'.repeat(40), name: 's'.repeat(40) };
    const name = lbctlServiceName(long);
    assert.equal(name.length, 63);
    assert.match(name, /^n{40}-s{13}-[0-9a-f]{8}$/);
    assert.equal(lbctlServiceName(long), name);
    assert.notEqual(lbctlServiceName({ ...long, name: `${'s'.repeat(39)}t` }), name);
  });
});
