/**
 * Issue 7, apply and export: Kubernetes manifests drive a real balancer. The example Service of the issue
 * with an EndpointSlice for two lab nginx backends gives a working fullnat PPv2 service; re-applying changes
 * nothing; a changed manifest updates in place; --prune removes only what apply created; export round-trips;
 * bad input and a failure half-way through change nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { resolveInstance } from '../../src/core/instance.js';
import { loadState } from '../../src/core/state-file.js';
import type { NginxConnectionView } from '../../src/lab/nginx.js';
import { type CliResult, lbctl, lbctlEach, parseJson } from '../helpers/cli.js';
import { assertCliError } from '../helpers/errors.js';
import { suitePrerequisites } from '../helpers/prereq.js';
import { type Balancer, startBalancer } from './fixtures/balancer.js';
import { exampleManifest, MANIFEST_PORT, MANIFEST_VIP, withSnat } from './fixtures/manifests.js';

const needs = { root: true, binaries: ['ip', 'tc', 'nginx', 'haproxy', 'curl'] };
const { skip, assertPrerequisites } = suitePrerequisites(needs);

const VIP = MANIFEST_VIP;
const PORT = MANIFEST_PORT;

interface PlanDoc {
  dryRun: boolean;
  applied: boolean;
  summary: Record<'add' | 'change' | 'delete' | 'unchanged', number>;
  plan: Array<{
    action: string;
    service: string;
    name: string | null;
    id: number | null;
    changes: unknown[];
  }>;
  ignored: Array<{ name: string; reason: string }>;
}
interface ServiceJson {
  id: number;
  name: string | null;
  key: string;
  mode: string;
  snat: string | null;
  liveness: boolean;
  /** Created by apply (the kernel record's LB_SVC_F_APPLIED). */
  applied?: boolean;
  ppv2: { enabled: boolean };
  backends: Array<{ id: number; address: string; port: number; weight: number }>;
}

const example = exampleManifest;

describe('apply and export: Kubernetes manifests drive the balancer', { skip }, () => {
  let lb: Balancer;
  let b1: string;
  let b2: string;

  /** `lbctl --netns LB ARGS`, the manifest on stdin. */
  const withInput = (args: string[], input: string): CliResult =>
    lbctl(['--netns', lb.topo.ns.lb, ...args], { input });
  const apply = (manifest: string, extra: string[] = []): PlanDoc => {
    const res = withInput(['apply', '-f', '-', '--json', ...extra], manifest);
    assert.equal(res.code, 0, `apply failed: ${res.stdout}${res.stderr}`);
    return parseJson<PlanDoc>(res);
  };
  const services = () => lb.cliJson<{ services: ServiceJson[] }>(['service', 'list']).services;
  const whoami = async (port: number, source?: string) => {
    const res = await lb.curl(`http://${VIP}:${port}/whoami`, source ? ['--interface', source] : []);
    return { view: JSON.parse(res.body) as NginxConnectionView, res };
  };

  before(async () => {
    assertPrerequisites();
    lb = await startBalancer('lbctl-ap');
    [b1 = '', b2 = ''] = lb.topo.backends.ipv4;
  });

  after(async () => {
    await lb?.close();
  });

  it('the issue example with an EndpointSlice gives a working fullnat PPv2 service', async () => {
    const doc = apply(example([b1, b2]));
    assert.deepEqual(doc.summary, { add: 1, change: 0, delete: 0, unchanged: 0 });
    assert.equal(doc.applied, true);
    const [service] = services();
    assert.equal(service?.name, 'tcp-lb-fullnat');
    assert.equal(service?.key, `${VIP}:${PORT}/tcp`);
    assert.equal(service?.mode, 'fullnat');
    assert.equal(service?.ppv2.enabled, true);
    assert.equal(service?.liveness, true);
    assert.deepEqual(service?.backends.map((b) => `${b.address}:${b.port}`).sort(), [`${b1}:80`, `${b2}:80`]);
    const seen = new Set<string>();
    for (const source of lb.topo.client.ipv4) {
      for (let i = 0; i < 4; i++) {
        const { view, res } = await whoami(PORT, source);
        assert.equal(view.proxy_protocol_addr, source, 'nginx reports the real client address');
        assert.equal(view.proxy_protocol_port, String(res.localPort));
        assert.equal(view.remote_addr, lb.topo.lb.backend4, 'fullnat: the TCP peer is the balancer');
        seen.add(view.server_addr);
      }
    }
    assert.ok(
      [...seen].every((s) => s === b1 || s === b2),
      [...seen].join(','),
    );
  });

  it('re-applying the same manifest is a no-op: all unchanged, same ids, same services', () => {
    const before = services();
    const doc = apply(example([b1, b2]));
    assert.deepEqual(doc.summary, { add: 0, change: 0, delete: 0, unchanged: 1 });
    assert.equal(doc.applied, false);
    assert.equal(doc.plan[0]?.id, before[0]?.id);
    assert.deepEqual(services(), before);
  });

  it('a changed manifest updates the backends in place (same service id, the new set serves)', async () => {
    const [before] = services();
    const dry = apply(example([b2]), ['--dry-run']);
    assert.equal(dry.dryRun, true);
    assert.deepEqual(
      dry.plan.map((p) => [p.action, p.changes]),
      [['change', [{ field: 'backends', from: `${b1}:80, ${b2}:80`, to: `${b2}:80` }]]],
    );
    assert.deepEqual(services(), [before], 'a dry run changes nothing');
    const doc = apply(example([b2]));
    assert.deepEqual(doc.summary, { add: 0, change: 1, delete: 0, unchanged: 0 });
    const [after] = services();
    assert.equal(after?.id, before?.id);
    assert.deepEqual(
      after?.backends.map((b) => b.address),
      [b2],
    );
    for (let i = 0; i < 4; i++) {
      const { view } = await whoami(PORT);
      assert.equal(view.server_addr, b2);
      assert.equal(view.proxy_protocol_addr, lb.topo.client.ipv4[0]);
    }
  });

  it('--prune removes a service the previous apply created and leaves one added with service add', () => {
    lb.cliJson(['service', 'add', `${VIP}:57010`, '--backend', `${b1}:80`, '--ppv2', '--name', 'manual']);
    const both = `${example([b2])}---\n${example([b1], 'extra', 57003)}`;
    assert.deepEqual(apply(both).summary, { add: 1, change: 0, delete: 0, unchanged: 1 });
    // Without --prune the service left out stays, and the note says so.
    const kept = withInput(['apply', '-f', '-'], example([b2]));
    assert.equal(kept.code, 0, kept.stderr);
    assert.match(
      kept.stderr,
      /note: 1 service\(s\) created by an earlier apply are not in this input .*--prune/,
    );
    assert.ok(services().some((s) => s.name === 'extra'));
    const pruned = apply(example([b2]), ['--prune']);
    assert.deepEqual(
      pruned.plan.map((p) => [p.action, p.name]),
      [
        ['unchanged', 'tcp-lb-fullnat'],
        ['delete', 'extra'],
      ],
    );
    assert.deepEqual(
      services()
        .map((s) => s.name)
        .sort(),
      ['manual', 'tcp-lb-fullnat'],
    );
  });

  it('refuses a bad manifest with a message naming the document and field, and changes nothing', async () => {
    const before = services();
    const state = () => JSON.stringify(loadState(resolveInstance(lb.topo.ns.lb)));
    const stateBefore = state();
    const bad = example([b1])
      .replace('targetPort: 80', 'targetPort: http')
      .replace('- name: ""', '- name: "web"');
    // Each case's error names where the manifest is wrong and the offending value.
    const cases: Array<[string, number, string[]]> = [
      [`${example([b2])}---\n${bad.replaceAll('tcp-lb-fullnat', 'bad')}`, 7, ['document 3', '"http"']],
      [example([b2]).replace('"fullnat"', '"dsr"'), 5, ['"dsr"']],
      [example([b2]).replace('port: 57002', 'port: 570020'), 7, ['spec.ports[0].port']],
      [`${example([b2])}\n  bad: [unclosed`, 7, ['document 2']],
      [example([b1], 'manual', 57004), 6, ['"manual"', '203.0.113.10:57010/tcp']],
      // Addresses `service add` refuses are refused alike (exit 2), before anything is written.
      [
        example([b2]).replace(`lbctl.io/vip: "${VIP}"`, 'lbctl.io/vip: "0.0.0.0"'),
        2,
        ['document 1', '0.0.0.0'],
      ],
      [example([b2, '127.0.0.1']), 2, ['document 1', '127.0.0.1']],
      [withSnat(example([b2]), '198.51.100.250'), 2, ['document 1', '198.51.100.250']],
      [withSnat(example([b2]), '2001:db8:b::1'), 2, ['document 1', '2001:db8:b::1']],
    ];
    const applyArgs = ['--netns', lb.topo.ns.lb, 'apply', '-f', '-'];
    const runs = await lbctlEach(
      cases.flatMap(([input]) => [
        [applyArgs, { input }] as const,
        [[...applyArgs, '--json'], { input }] as const,
      ]),
    );
    cases.forEach(([, code, mentions], i) => {
      const [plain, json] = [runs[2 * i], runs[2 * i + 1]] as [CliResult, CliResult];
      assertCliError(plain, code, { mentions }, mentions.join(' '));
      assert.equal(json.code, code);
      assert.equal(parseJson<{ error: { exitCode: number } }>(json).error.exitCode, code);
    });
    assert.deepEqual(services(), before);
    assert.equal(state(), stateBefore, 'the state file is untouched');
  });

  it('refuses an input that would overflow the backend table before the first write', async () => {
    apply(`${example([b2])}---\n${example([b1], 'extra', 57003)}`);
    const before = services();
    // A prune, a change, an add, then an add the backends map (4096 entries) cannot hold: 21 slices of 200.
    // The plan counts the records (4,204 after the adds) and refuses it whole; undoing a step the kernel
    // refuses is covered by test/unit/k8s-plan.test.ts.
    const slices = Array.from({ length: 21 }, (_, p) => ({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `huge-${p}`, labels: { 'kubernetes.io/service-name': 'huge' } },
      addressType: 'IPv4',
      ports: [{ port: 9000 + p }],
      endpoints: Array.from({ length: 200 }, (_, a) => ({ addresses: [`198.51.100.${10 + a}`] })),
    }));
    const huge = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'huge', annotations: { 'lbctl.io/vip': VIP } },
      spec: { type: 'LoadBalancer', ports: [{ port: 57030 }] },
    };
    const mixed = [
      example([b1, b2]),
      example([b1], 'second', 57020),
      ...[huge, ...slices].map((o) => JSON.stringify(o)),
    ].join('\n---\n');
    const res = withInput(['apply', '-f', '-', '--prune'], mixed);
    assert.equal(res.code, 6, res.stderr);
    assert.match(res.stderr, /^Error: the apply needs 4204 backend records at once .*more than the 4096/);
    assert.deepEqual(services(), before);
    const { view } = await whoami(PORT);
    assert.equal(view.server_addr, b2, 'the old backend set still serves');
  });

  it('export round-trips: export | apply --dry-run is all unchanged; after a clean start apply restores it', async () => {
    const exported = lb.cli(['export']);
    assert.equal(exported.code, 0, exported.stderr);
    assert.match(exported.stdout, /loadBalancerClass: loxilb.io\/loxilb/);
    const dry = withInput(['apply', '-f', '-', '--dry-run', '--json'], exported.stdout);
    assert.equal(dry.code, 0, dry.stderr);
    const plan = parseJson<PlanDoc>(dry);
    assert.deepEqual(plan.summary, { add: 0, change: 0, delete: 0, unchanged: 3 });

    const asJson = lb.cli(['export', '--output', 'json']);
    assert.equal(parseJson<{ kind: string }>(asJson).kind, 'List');
    const fromJson = withInput(['apply', '-f', '-', '--dry-run', '--json'], asJson.stdout);
    assert.equal(parseJson<PlanDoc>(fromJson).summary.unchanged, 3);

    // Ids aside, and who created them: after the restore every service is apply's (`applied`), also the
    // one first made with `service add`.
    const withoutIds = (list: ServiceJson[]) =>
      list.map(({ id: _id, applied: _applied, backends, ...rest }) => ({
        ...rest,
        backends: backends.map(({ id: _b, ...b }) => b),
      }));
    const before = withoutIds(services());
    assert.equal(lb.cli(['detach', '--all']).code, 0);
    const attached = lb.cli(['attach', lb.topo.ifaces.lbClient, lb.topo.ifaces.lbBackend]);
    assert.equal(attached.code, 0, attached.stderr);
    assert.deepEqual(services(), []);
    const restored = apply(exported.stdout);
    assert.deepEqual(restored.summary, { add: 3, change: 0, delete: 0, unchanged: 0 });
    assert.deepEqual(withoutIds(services()), before);
    assert.ok(services().every((s) => s.applied === true));
    const { view } = await whoami(PORT, lb.topo.client.ipv4[1]);
    assert.equal(view.proxy_protocol_addr, lb.topo.client.ipv4[1]);
    assert.deepEqual(apply(exported.stdout).summary, { add: 0, change: 0, delete: 0, unchanged: 3 });
  });
});
