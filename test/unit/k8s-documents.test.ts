/** Reading manifest streams: YAML and JSON documents, kubectl's List objects, and where errors point. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { documentAtLine, parseManifests } from '../../src/k8s/documents.js';
import { splitJsonStream } from '../../src/k8s/json-stream.js';
import { readObjects } from '../../src/k8s/objects.js';
import { lbctlErrorOf } from '../helpers/errors.js';

/** INVALID_DATA, naming where (document, field) and what (the value): the inputs, not the wording. */
const invalid = (...mentions: string[]) => lbctlErrorOf('INVALID_DATA', { mentions });

describe('k8s documents: parseManifests', () => {
  it('reads multi-document YAML, skipping empty documents, numbering every document', () => {
    const objects = parseManifests(
      '---\nkind: Service\n---\n---\n# only a comment\n---\nkind: EndpointSlice\n',
    );
    assert.deepEqual(
      objects.map((o) => [o.position, o.value.kind]),
      [
        ['document 1', 'Service'],
        ['document 4', 'EndpointSlice'],
      ],
    );
  });

  it('reads one JSON document, and several JSON values in a row', () => {
    assert.equal(parseManifests('{"kind": "Service"}')[0]?.value.kind, 'Service');
    const objects = parseManifests(
      '{"kind": "Service", "x": "}{"}\n{"kind":"Endpoints"}{"kind": "List", "items": []}',
    );
    assert.deepEqual(
      objects.map((o) => [o.position, o.value.kind]),
      [
        ['document 1', 'Service'],
        ['document 2', 'Endpoints'],
      ],
    );
  });

  it('flattens List objects into their items, and gives typed lists their kind back', () => {
    const list = { apiVersion: 'v1', kind: 'List', items: [{ kind: 'Service' }, { kind: 'EndpointSlice' }] };
    const typed = { apiVersion: 'v1', kind: 'ServiceList', items: [{ metadata: { name: 'web' } }] };
    const objects = parseManifests(`${JSON.stringify(list)}\n${JSON.stringify(typed)}`);
    assert.deepEqual(
      objects.map((o) => [o.position, o.value.kind, o.value.apiVersion]),
      [
        ['document 1 item 1', 'Service', undefined],
        ['document 1 item 2', 'EndpointSlice', undefined],
        ['document 2 item 1', 'Service', 'v1'],
      ],
    );
  });

  it('reads YAML 1.2: an unquoted yes stays the string "yes"', () => {
    const [object] = parseManifests(
      'kind: Service\nmetadata:\n  annotations:\n    loxilb.io/liveness: yes\n',
    );
    assert.deepEqual((object?.value.metadata as { annotations: unknown } | undefined)?.annotations, {
      'loxilb.io/liveness': 'yes',
    });
  });

  it('names the document and the line of a YAML syntax error', () => {
    assert.throws(
      () => parseManifests('kind: Service\n---\nkind: Service\nspec: [1, 2\n'),
      invalid('document 2', 'line 5, column 1'),
    );
    assert.throws(() => parseManifests('a: 1\na: 2\n'), invalid('document 1', 'line 2, column 1'));
    assert.throws(
      () => parseManifests('# leading\n---\nkind: A\n---\n---\nkind: B\n  bad: 1\n'),
      invalid('document 3', 'line 7'),
    );
  });

  it('numbers documents the way parseManifests does: a leading --- opens the first, empty ones count', () => {
    const text = '%YAML 1.2\n# c\n---\na: 1\n--- \n---\nb: 2\n...\n---\nc: 3\n';
    assert.deepEqual(
      [0, 3, 4, 5, 6, 8, 9].map((line) => documentAtLine(text, line)),
      [1, 1, 2, 3, 3, 4, 4],
    );
  });

  it('refuses a YAML alias bomb in one line instead of expanding it', () => {
    const levels = Array.from({ length: 12 }, (_, i) =>
      i === 0
        ? 'l0: &l0 [x, x, x, x, x, x, x, x, x, x]'
        : `l${i}: &l${i} [${Array(10)
            .fill(`*l${i - 1}`)
            .join(', ')}]`,
    );
    const error = lbctlErrorOf('INVALID_DATA', { mentions: ['document 1', 'alias'] });
    assert.throws(() => parseManifests(`${levels.join('\n')}\n`), error);
  });

  it('names the document, and the line where V8 gives a position, of a JSON syntax error', () => {
    assert.throws(
      () => parseManifests('{"kind": "Service"}\n{"kind": "Service",\n "spec": 1 x}'),
      invalid('document 2', 'line 3, column 12'),
    );
    assert.throws(
      () => parseManifests('{"kind": "Service"}\n{"kind": "Service",\n "spec": }'),
      invalid('document 2'),
    );
  });

  it('refuses documents that are not objects', () => {
    assert.throws(() => parseManifests('- a\n- b\n'), invalid('document 1'));
    assert.throws(() => parseManifests('kind: Service\n---\nhello\n'), invalid('document 2'));
    assert.throws(() => parseManifests('{"kind": "List", "items": [1]}'), invalid('document 1 item 1'));
  });
});

describe('k8s documents: splitJsonStream', () => {
  it('splits on top-level boundaries, respecting strings and escapes', () => {
    const input = ' {"a": "x\\"}"} [1, {"b": 2}]\n"s" ';
    assert.deepEqual(
      splitJsonStream(input).map((c) => c.text),
      ['{"a": "x\\"}"}', '[1, {"b": 2}]', '"s"'],
    );
  });
});

describe('k8s objects: readObjects', () => {
  const read = (yaml: string) => readObjects(parseManifests(yaml));

  it('defaults the namespace, the Service type, port protocols and a missing ready condition', () => {
    const contents = read(`
kind: Service
apiVersion: v1
metadata: {name: web}
spec: {ports: [{port: 80, targetPort: http}]}
---
kind: EndpointSlice
apiVersion: discovery.k8s.io/v1
metadata: {name: web-1, namespace: shop, labels: {kubernetes.io/service-name: web}}
addressType: IPv6
ports: [{port: 8080}]
endpoints:
  - addresses: ["2001:DB8:B::2", "2001:db8:b::99"]
  - addresses: ["2001:db8:b::3"]
    conditions: {ready: false}
`);
    const [service] = contents.services;
    assert.equal(service?.namespace, 'default');
    assert.equal(service?.type, 'ClusterIP');
    assert.deepEqual(service?.ports, [{ index: 0, name: '', port: 80, protocol: 'TCP', targetPort: 'http' }]);
    const [slice] = contents.slices;
    assert.equal(slice?.namespace, 'shop');
    assert.equal(slice?.serviceName, 'web');
    assert.deepEqual(slice?.ports, [{ name: '', port: 8080, protocol: 'TCP' }]);
    assert.deepEqual(slice?.endpoints, [
      { address: '2001:db8:b::2', ready: true },
      { address: '2001:db8:b::3', ready: false },
    ]);
  });

  it('lists other kinds as ignored, with the reason', () => {
    const contents = read('kind: ConfigMap\napiVersion: v1\nmetadata: {name: cfg}\n');
    assert.deepEqual(
      contents.ignored.map((i) => [i.doc, i.kind, i.name]),
      [['document 1 (ConfigMap default/cfg)', 'ConfigMap', 'cfg']],
    );
    assert.match(contents.ignored[0]?.reason ?? '', /not read by lbctl apply/);
  });

  const refused: Array<[string, string, string[]]> = [
    ['no kind', 'apiVersion: v1\n', ['document 1', 'kind']],
    [
      'an old EndpointSlice version',
      'kind: EndpointSlice\napiVersion: discovery.k8s.io/v1beta1\nmetadata: {name: s}\n',
      ['document 1 (EndpointSlice default/s)', '"discovery.k8s.io/v1beta1"'],
    ],
    [
      'a Service without a name',
      'kind: Service\napiVersion: v1\nmetadata: {}\n',
      ['document 1 (Service)', 'metadata'],
    ],
    [
      'a port out of range',
      'kind: Service\napiVersion: v1\nmetadata: {name: web}\nspec: {ports: [{port: 80}, {port: 70000}]}\n',
      ['document 1 (Service default/web)', 'spec.ports[1].port', '70000'],
    ],
    [
      'a non-string annotation',
      'kind: Service\napiVersion: v1\nmetadata: {name: web, annotations: {loxilb.io/liveness: true}}\n',
      ['metadata.annotations["loxilb.io/liveness"]', 'true'],
    ],
    [
      'ports that are not a list',
      'kind: Service\napiVersion: v1\nmetadata: {name: web}\nspec: {ports: {port: 80}}\n',
      ['spec.ports'],
    ],
    [
      'an IPv6 address in an IPv4 slice',
      'kind: EndpointSlice\napiVersion: discovery.k8s.io/v1\nmetadata: {name: s}\naddressType: IPv4\nendpoints: [{addresses: ["2001:db8::1"]}]\n',
      ['document 1 (EndpointSlice default/s)', 'endpoints[0].addresses[0]', '"2001:db8::1"'],
    ],
    [
      'an endpoint without addresses',
      'kind: EndpointSlice\napiVersion: discovery.k8s.io/v1\nmetadata: {name: s}\naddressType: IPv4\nendpoints: [{addresses: []}]\n',
      ['endpoints[0].addresses'],
    ],
    [
      'a ready condition that is not a boolean',
      'kind: EndpointSlice\napiVersion: discovery.k8s.io/v1\nmetadata: {name: s}\naddressType: IPv4\nendpoints: [{addresses: ["192.0.2.1"], conditions: {ready: "yes"}}]\n',
      ['endpoints[0].conditions.ready', '"yes"'],
    ],
    [
      'an Endpoints address that is not an IP',
      'kind: Endpoints\napiVersion: v1\nmetadata: {name: web}\nsubsets: [{addresses: [{ip: web.local}]}]\n',
      ['document 1 (Endpoints default/web)', 'subsets[0].addresses[0].ip', '"web.local"'],
    ],
  ];
  for (const [what, yaml, mentions] of refused) {
    it(`refuses ${what}, naming the document and field`, () => {
      assert.throws(() => read(yaml), invalid(...mentions));
    });
  }
});
