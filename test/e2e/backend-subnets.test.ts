/**
 * Issue 12 point 3, backends on two subnets: a fullnat service whose backends sit behind two interfaces of
 * the balancer gives each backend the balancer's own source towards it (the route's preferred source), with
 * no --snat. The seed's manifest with an EndpointSlice spanning both subnets applies and serves through the
 * VIP with the real client in the PPv2 header; status shows each backend's source; `service add` does the
 * same and still honours --snat; a backend with no route is refused, nothing stored; attach reads the routes
 * again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type NginxBackend, type NginxConnectionView, startNginx } from '../../src/lab/nginx.js';
import { run } from '../../src/sys/run.js';
import { lbctl, parseJson } from '../helpers/cli.js';
import { assertCliError } from '../helpers/errors.js';
import { suitePrerequisites } from '../helpers/prereq.js';
import { type Balancer, startBalancer } from './fixtures/balancer.js';
import { exampleManifest, MANIFEST_PORT, MANIFEST_VIP } from './fixtures/manifests.js';
import { addSecondSubnet, type SecondSubnet } from './fixtures/second-subnet.js';

const needs = { root: true, binaries: ['ip', 'tc', 'nginx', 'haproxy', 'curl'] };
const { skip, assertPrerequisites } = suitePrerequisites(needs);

interface ServiceJson {
  key: string;
  snat: string | null;
  backends: Array<{ address: string; source: string | null }>;
}
interface StatusJson {
  services: Array<{ key: string; snat: string | null; sources: Array<{ backend: string; source: string }> }>;
}

/** No interface of the balancer has a route to it (the lb namespace has no default route). */
const UNROUTED = '203.0.113.200';

describe('fullnat backends on two subnets: each gets the route source towards it', { skip }, () => {
  let lb: Balancer;
  let second: SecondSubnet;
  let nginx2: NginxBackend | undefined;
  let b1: string;
  let b3: string;

  const cli = (args: string[], input?: string) => lbctl(['--netns', lb.topo.ns.lb, ...args], { input });
  const service = (key: string) =>
    lb.cliJson<{ services: ServiceJson[] }>(['service', 'list']).services.find((s) => s.key === key);
  const sourcesOf = (key: string) =>
    Object.fromEntries((service(key)?.backends ?? []).map((b) => [b.address, b.source]));

  /** Requests through VIP:port from both client addresses until both backends answered; their views. */
  async function bothBackends(port: number): Promise<Map<string, NginxConnectionView>> {
    const views = new Map<string, NginxConnectionView>();
    for (let i = 0; i < 40 && views.size < 2; i++) {
      const client = lb.topo.client.ipv4[i % 2] as string;
      const res = await lb.curl(`http://${MANIFEST_VIP}:${port}/whoami`, ['--interface', client]);
      const view = JSON.parse(res.body) as NginxConnectionView;
      assert.equal(view.proxy_protocol_addr, client, 'the PPv2 header names the real client');
      assert.equal(view.proxy_protocol_port, String(res.localPort));
      views.set(view.server_addr, view);
    }
    assert.deepEqual([...views.keys()].sort(), [b1, b3].sort(), 'both backends answered');
    return views;
  }

  before(async () => {
    assertPrerequisites();
    lb = await startBalancer('lbctl-sn');
    b1 = lb.topo.backends.ipv4[0] as string;
    second = await addSecondSubnet(lb.topo);
    b3 = second.backend;
    const attached = lb.cli(['attach', lb.topo.ifaces.lbClient, lb.topo.ifaces.lbBackend, second.lbIface]);
    assert.equal(attached.code, 0, attached.stderr);
    nginx2 = await startNginx({ netns: lb.topo.ns.backends, addresses: [b3], ports: [80] });
  });

  after(async () => {
    await nginx2?.stop();
    await lb?.close();
  });

  it('apply -f of the seed manifest with an EndpointSlice spanning both subnets serves through the VIP', async () => {
    const res = cli(['apply', '-f', '-', '--json'], exampleManifest([b1, b3]));
    assert.equal(res.code, 0, `apply failed: ${res.stdout}${res.stderr}`);
    const key = `${MANIFEST_VIP}:${MANIFEST_PORT}/tcp`;
    assert.equal(service(key)?.snat, null, 'no override');
    assert.deepEqual(sourcesOf(key), { [b1]: lb.topo.lb.backend4, [b3]: second.lbAddress });

    const views = await bothBackends(MANIFEST_PORT);
    assert.equal(views.get(b1)?.remote_addr, lb.topo.lb.backend4, 'the first subnet sees the balancer there');
    assert.equal(
      views.get(b3)?.remote_addr,
      second.lbAddress,
      'the second subnet sees its own balancer address',
    );

    const status = lb.cliJson<StatusJson>(['status']).services.find((s) => s.key === key);
    assert.deepEqual(status?.sources, [
      { backend: `${b1}:80`, source: lb.topo.lb.backend4 },
      { backend: `${b3}:80`, source: second.lbAddress },
    ]);
    const text = lb.cli(['status']);
    const cells = (...texts: string[]) =>
      new RegExp(texts.map((t) => t.replaceAll('.', '\\.')).join('[\\s│]+'));
    assert.match(text.stdout, cells(`${b3}:80`, second.lbAddress, 'route'));

    const again = parseJson<{ summary: Record<string, number> }>(
      cli(['apply', '-f', '-', '--json'], exampleManifest([b1, b3])),
    );
    assert.equal(again.summary.unchanged, 1, 'the same routes: unchanged');
  });

  it('service add without --snat works across the subnets; --snat overrides, and "auto" returns to the routes', async () => {
    const key = `${MANIFEST_VIP}:57012/tcp`;
    lb.cliJson([
      'service',
      'add',
      `${MANIFEST_VIP}:57012`,
      '--backend',
      `${b1}:80`,
      '--backend',
      `${b3}:80`,
      '--ppv2',
    ]);
    assert.deepEqual(sourcesOf(key), { [b1]: lb.topo.lb.backend4, [b3]: second.lbAddress });
    await bothBackends(57012);

    const pinned = lb.cliJson<ServiceJson>(['service', 'set', key, '--snat', lb.topo.lb.backend4]);
    assert.equal(pinned.snat, lb.topo.lb.backend4);
    assert.deepEqual(
      pinned.backends.map((b) => b.source),
      [lb.topo.lb.backend4, lb.topo.lb.backend4],
    );
    const views = await bothBackends(57012);
    assert.equal(
      views.get(b3)?.remote_addr,
      lb.topo.lb.backend4,
      'the override is the source for every backend',
    );
    // A backend change keeps the override.
    const kept = lb.cliJson<ServiceJson>(['service', 'set', key, '--remove-backend', `${b1}:80`]);
    assert.equal(kept.snat, lb.topo.lb.backend4);

    const auto = lb.cliJson<ServiceJson>([
      'service',
      'set',
      key,
      '--snat',
      'auto',
      '--add-backend',
      `${b1}:80`,
    ]);
    assert.equal(auto.snat, null);
    assert.deepEqual(sourcesOf(key), { [b1]: lb.topo.lb.backend4, [b3]: second.lbAddress });
  });

  it('a backend with no route is refused (exit 2, naming it) by service add, set and apply; nothing is stored', () => {
    const before = lb.cliJson<{ services: ServiceJson[] }>(['service', 'list']).services;
    const cases: Array<[string[], string | undefined]> = [
      [
        ['service', 'add', `${MANIFEST_VIP}:57013`, '--backend', `${b1}:80`, '--backend', `${UNROUTED}:80`],
        undefined,
      ],
      [['service', 'set', `${MANIFEST_VIP}:57012`, '--add-backend', `${UNROUTED}:80`], undefined],
      [['apply', '-f', '-'], exampleManifest([b1, UNROUTED], 'unrouted', 57014)],
    ];
    for (const [args, input] of cases) {
      assertCliError(cli(args, input), 2, { mentions: [UNROUTED, 'route'], hint: true }, args.join(' '));
    }
    assert.deepEqual(lb.cliJson<{ services: ServiceJson[] }>(['service', 'list']).services, before);
  });

  it('attach reads the routes again: a changed preferred source reaches the backend records', async () => {
    const key = `${MANIFEST_VIP}:${MANIFEST_PORT}/tcp`;
    const moved = '203.0.113.70';
    const ip = (...args: string[]) => run('ip', ['-n', lb.topo.ns.lb, ...args]);
    await ip('addr', 'add', `${moved}/26`, 'dev', second.lbIface);
    await ip('route', 'replace', '203.0.113.64/26', 'dev', second.lbIface, 'src', moved);
    const res = cli(['attach', lb.topo.ifaces.lbClient, lb.topo.ifaces.lbBackend, second.lbIface, '--json']);
    assert.equal(res.code, 0, res.stderr);
    const changed = parseJson<{ sources: Array<{ service: string; backend: string; to: string }> }>(
      res,
    ).sources;
    assert.ok(
      changed.some((c) => c.service === key && c.backend === b3 && c.to === moved),
      JSON.stringify(changed),
    );
    assert.equal(sourcesOf(key)[b3], moved);
    assert.equal(sourcesOf(key)[b1], lb.topo.lb.backend4, 'the other subnet is unchanged');
    const views = await bothBackends(MANIFEST_PORT);
    assert.equal(views.get(b3)?.remote_addr, moved);
  });
});
