/**
 * Issue 13 point 6: `apply` survives SIGKILL at any moment. The test-only hook LBCTL_TEST_CRASH_AFTER_WRITES=N
 * makes lbctl kill itself right after its Nth map write, so each run stops at a known point of a
 * 200-service apply: at the first writes of the first service, between a service's backends and its
 * record, half-way, and in the last service; and in an apply --prune that deletes, changes and adds. After
 * each kill, the next `apply` (or `apply --prune`) must leave exactly what a clean apply of the same input
 * leaves (services, names, backends, ownership), with no stray kernel records, and the services the killed
 * run created must be prunable although it never wrote the state file. Also: 2,000 backends in one
 * `service add` (issue 13 point 7), and a service that cannot fit the backend table writes nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { resolveInstance } from '../../src/core/instance.js';
import { DatapathMaps } from '../../src/core/maps.js';
import { loadState } from '../../src/core/state-file.js';
import { manyServicesManifest } from '../../src/lab/k8s-manifest.js';
import { createTopology, destroyTopology, type Topology } from '../../src/lab/topology.js';
import { type CliResult, lbctl, parseJson } from '../helpers/cli.js';
import { suitePrerequisites } from '../helpers/prereq.js';

const { skip, assertPrerequisites } = suitePrerequisites({ root: true, binaries: ['ip', 'tc'] });

const VIP = '203.0.113.30';
/** What the cli helper reports for a process killed by a signal (spawnSync's null status). */
const KILLED = -1;

interface ServiceJson {
  key: string;
  name: string | null;
  mode: string;
  snat: string | null;
  applied?: boolean;
  backends: Array<{ address: string; port: number; weight: number }>;
}

describe('apply: SIGKILL at any point, then apply again, converges', { skip }, () => {
  let topo: Topology;
  const cli = (args: string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}): CliResult =>
    lbctl(['--netns', topo.ns.lb, ...args], options);
  const ok = (res: CliResult, what: string) =>
    assert.equal(res.code, 0, `${what}: ${res.stdout}${res.stderr}`);
  const attach = () => ok(cli(['attach', topo.ifaces.lbClient, topo.ifaces.lbBackend]), 'attach');
  const fresh = () => {
    ok(cli(['detach', '--all']), 'detach');
    attach();
  };
  const apply = (manifest: string, extra: string[] = []) =>
    ok(cli(['apply', '-f', '-', '--json', ...extra], { input: manifest }), `apply ${extra.join(' ')}`);
  const applyKilledAfter = (writes: number, manifest: string, extra: string[] = []) => {
    const res = cli(['apply', '-f', '-', '--json', ...extra], {
      input: manifest,
      env: { LBCTL_TEST_CRASH_AFTER_WRITES: String(writes) },
    });
    assert.equal(res.code, KILLED, `the apply was killed after ${writes} writes: ${res.stderr}`);
  };

  /** What the balancer holds, without ids: services by key, their backends, and who owns them. */
  const snapshot = () => {
    const { services } = parseJson<{ services: ServiceJson[] }>(cli(['service', 'list', '--json']));
    const instance = resolveInstance(topo.ns.lb);
    const maps = DatapathMaps.open(instance);
    try {
      const backendRecords = [...maps.get('backends').entries()].length;
      const tables = [...maps.get('maglev').keys()].length;
      return {
        services: services
          .map((s) => ({
            key: s.key,
            name: s.name,
            mode: s.mode,
            snat: s.snat,
            applied: s.applied,
            backends: s.backends.map((b) => `${b.address}:${b.port}:${b.weight}`).sort(),
          }))
          .sort((a, b) => a.key.localeCompare(b.key)),
        // Every record belongs to a live service: nothing a killed run left behind.
        strayBackendRecords: backendRecords - services.reduce((n, s) => n + s.backends.length, 0),
        strayTables: tables - services.length,
        owned: Object.keys(loadState(instance).appliedServices ?? {}).sort(),
      };
    } finally {
      maps.close();
    }
  };

  let backends: string[];
  const chunk = (firstIndex: number, count: number, rotate = 0) =>
    manyServicesManifest({
      count,
      firstIndex,
      vip: VIP,
      firstPort: 20000,
      backends: [...backends.slice(rotate), ...backends.slice(0, rotate)],
      backendsEach: 2,
    });
  /** 200 services, svc-0..199, two backends each. */
  let full: string;
  /** From `full`: svc-0..49 with other backends, svc-50..149 as they were, svc-150..199 gone, svc-200..249 new. */
  let next: string;
  let fullClean: ReturnType<typeof snapshot>;
  let nextClean: ReturnType<typeof snapshot>;

  before(async () => {
    assertPrerequisites();
    topo = await createTopology({ prefix: 'lbctl-crash' });
    backends = [...topo.backends.ipv4];
    full = chunk(0, 200);
    next = [chunk(0, 50, 1), chunk(50, 100), chunk(200, 50)].join('---\n');
    attach();
    // What a clean apply of each input leaves: the reference every converged state must equal.
    apply(full);
    fullClean = snapshot();
    apply(next, ['--prune']);
    nextClean = snapshot();
    fresh();
  });

  after(async () => {
    if (!topo) return;
    cli(['detach', '--all']);
    await destroyTopology(topo);
  });

  it('the references are what the inputs say', () => {
    assert.equal(fullClean.services.length, 200);
    assert.ok(fullClean.services.every((s) => s.applied === true && s.backends.length === 2));
    assert.equal(fullClean.owned.length, 200);
    assert.equal(nextClean.services.length, 200);
    assert.deepEqual(
      { backends: nextClean.strayBackendRecords, tables: nextClean.strayTables },
      { backends: 0, tables: 0 },
    );
  });

  // An add writes: the stats slot, its 2 backends, its table, its service record (5 writes per service).
  for (const writes of [1, 3, 4, 5, 503, 999]) {
    it(`apply of 200 services killed after ${writes} map writes: apply again adds the rest`, () => {
      fresh();
      applyKilledAfter(writes, full);
      const killed = snapshot();
      assert.ok(killed.services.length < 200, 'the kill came before the end');
      assert.deepEqual(killed.owned, [], 'the killed run never saved the state file');
      apply(full);
      assert.deepEqual(snapshot(), fullClean);
    });
  }

  it('services a killed apply created are pruned although no state file names them', () => {
    fresh();
    applyKilledAfter(503, full); // 100 services and part of the 101st
    const killed = snapshot();
    assert.equal(killed.services.length, 100);
    assert.ok(killed.services.every((s) => s.applied === true));
    // A manual service next to them must survive the prune.
    ok(cli(['service', 'add', `${VIP}:9999`, '--backend', `${backends[0]}:80`, '--name', 'by-hand']), 'add');
    apply(chunk(150, 50), ['--prune']);
    const after = snapshot();
    assert.deepEqual(
      after.services.map((s) => s.key),
      [...Array.from({ length: 50 }, (_, i) => `${VIP}:${20150 + i}/tcp`), `${VIP}:9999/tcp`].sort((a, b) =>
        a.localeCompare(b),
      ),
    );
    assert.deepEqual({ b: after.strayBackendRecords, t: after.strayTables }, { b: 0, t: 0 });
  });

  // Deletes go first (4 writes each: record, table, 2 backends: 200 in all), then the 50 changes (5
  // writes each: the new backend, the kept one, the table, the record, the old backend), then 50 adds.
  for (const writes of [150, 290, 423, 600]) {
    it(`apply --prune that deletes, changes and adds, killed after ${writes} writes: converges`, () => {
      fresh();
      apply(full);
      applyKilledAfter(writes, next, ['--prune']);
      apply(next, ['--prune']);
      assert.deepEqual(snapshot(), nextClean);
    });
  }
});

describe('service add: bulk backends and the backend limit', { skip }, () => {
  let topo: Topology;
  const cli = (args: string[]): CliResult => lbctl(['--netns', topo.ns.lb, ...args]);

  before(async () => {
    assertPrerequisites();
    topo = await createTopology({ prefix: 'lbctl-bulk' });
    const res = cli(['attach', topo.ifaces.lbClient, topo.ifaces.lbBackend]);
    assert.equal(res.code, 0, res.stderr);
  });

  after(async () => {
    if (!topo) return;
    cli(['detach', '--all']);
    await destroyTopology(topo);
  });

  const backendFlags = (n: number, firstPort: number) =>
    Array.from({ length: n }, (_, i) => [
      '--backend',
      `198.51.100.${2 + (i % 200)}:${firstPort + Math.floor(i / 200)}`,
    ]).flat();

  it('adds a service with 2,000 backends, every one in the table', () => {
    const res = cli(['service', 'add', `${VIP}:80`, ...backendFlags(2000, 10000), '--json']);
    assert.equal(res.code, 0, res.stderr);
    const service = parseJson<{ backends: Array<{ address: string; port: number; share: number }> }>(res);
    assert.equal(service.backends.length, 2000);
    assert.equal(new Set(service.backends.map((b) => `${b.address}:${b.port}`)).size, 2000);
    assert.ok(
      service.backends.every((b) => b.share > 0),
      'each backend has slots in the Maglev table',
    );
  });

  it('refuses a service that would overflow the backend table, writing nothing', () => {
    const res = cli(['service', 'add', `${VIP}:81`, ...backendFlags(2500, 20000)]);
    assert.equal(res.code, 6, `CONFLICT: ${res.stderr}`);
    assert.match(res.stderr, /2500/);
    const { services } = parseJson<{ services: ServiceJson[] }>(cli(['service', 'list', '--json']));
    assert.deepEqual(
      services.map((s) => [s.key, s.backends.length]),
      [[`${VIP}:80/tcp`, 2000]],
    );
  });
});
