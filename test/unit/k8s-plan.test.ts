/**
 * The apply plan (desired services against live ones) and its all-or-nothing execution, on an in-memory
 * store: idempotence, in-place changes, ownership for --prune, conflicts, and undo when a step fails.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LB_LIMITS } from '../../src/bpf/records.js';
import { executePlan } from '../../src/core/apply-execute.js';
import {
  computePlan,
  type DesiredService,
  ownedServices,
  UNRECORDED_OWNER,
} from '../../src/core/apply-plan.js';
import { NO_SNAT, type SnatPlan } from '../../src/core/snat-plan.js';
import type { InstanceState } from '../../src/core/state-file.js';
import { lbctlErrorOf } from '../helpers/errors.js';
import { FakeStore, specFrom, viewOf } from './k8s-fixtures.js';

const SNAT = '198.51.100.1';

const override = (address: string) => ({ override: address, sources: new Map<string, string>() });
const routed = (sources: Record<string, string>) => ({
  override: null,
  sources: new Map(Object.entries(sources)),
});

const desired = (spec: ReturnType<typeof specFrom>, n = 1): DesiredService => ({
  spec,
  snat: spec.mode === 'fullnat' ? override(SNAT) : NO_SNAT,
  source: `document ${n} (Service default/${spec.name ?? 'x'}) spec.ports[0]`,
  owner: `Service default/${spec.name ?? 'x'}`,
});

const web = () =>
  specFrom('203.0.113.10:80', ['198.51.100.2:80', '198.51.100.3:80'], { name: 'web', ppv2: [] });
const api = () => specFrom('203.0.113.10:81', ['198.51.100.4:80'], { name: 'api', mode: 'dnat' });
const manual = () => specFrom('203.0.113.10:90', ['198.51.100.5:80'], { name: 'manual' });

const emptyState = (): InstanceState => ({ version: 1, interfaces: {}, serviceNames: {} });

/** Plan and run against the store, as `lbctl apply` does under the lock. */
function apply(store: FakeStore, state: InstanceState, input: DesiredService[], prune = false) {
  const plan = computePlan(input, [...store.services.values()], state.appliedServices ?? {}, { prune });
  return { plan, entries: executePlan(plan, store, state) };
}

describe('k8s plan: computePlan', () => {
  it('adds what is missing and records ownership; the same input again is all unchanged, with no writes', () => {
    const store = new FakeStore([viewOf(manual(), 1, SNAT)]);
    const state = emptyState();
    const first = apply(store, state, [desired(web()), desired(api(), 2)]);
    assert.deepEqual(
      first.entries.map((e) => [e.action, e.key, e.id]),
      [
        ['add', '203.0.113.10:80/tcp', 2],
        ['add', '203.0.113.10:81/tcp', 3],
      ],
    );
    assert.deepEqual(state.appliedServices, {
      '203.0.113.10:80/tcp': 'Service default/web',
      '203.0.113.10:81/tcp': 'Service default/api',
    });
    store.calls.length = 0;
    const again = apply(store, state, [desired(web()), desired(api(), 2)]);
    assert.deepEqual(
      again.entries.map((e) => [e.action, e.id, e.changes]),
      [
        ['unchanged', 2, []],
        ['unchanged', 3, []],
      ],
    );
    assert.deepEqual(store.calls, [], 'no writes');
  });

  it('describes each changed field, and updates in place keeping the id', () => {
    const store = new FakeStore([viewOf(web(), 7, SNAT)]);
    const changed = specFrom('203.0.113.10:80', ['198.51.100.3:80:2', '198.51.100.4:80'], {
      name: 'front',
      mode: 'dnat',
      ppv2: ['unique-id', 'authority=example.com'],
      liveness: true,
    });
    const { plan, entries } = apply(store, emptyState(), [desired(changed)]);
    assert.equal(plan.entries[0]?.action, 'change');
    assert.deepEqual(plan.entries[0]?.changes, [
      { field: 'name', from: 'web', to: 'front' },
      { field: 'mode', from: 'fullnat', to: 'dnat' },
      {
        field: 'backends',
        from: '198.51.100.2:80, 198.51.100.3:80',
        to: '198.51.100.3:80:2, 198.51.100.4:80',
      },
      { field: 'ppv2', from: 'v2', to: 'v2 unique-id 0x02=6578616d706c652e636f6d' },
      { field: 'liveness', from: 'off', to: 'on' },
    ]);
    assert.equal(entries[0]?.id, 7);
    assert.deepEqual(store.calls, ['update 203.0.113.10:80/tcp']);
    const live = store.find('203.0.113.10:80/tcp');
    assert.equal(live?.id, 7);
    assert.equal(live?.mode, 'dnat');
    assert.equal(live?.backends.length, 2);
  });

  it('compares the SNAT address of fullnat services', () => {
    const store = new FakeStore([viewOf(web(), 1, '198.51.100.9')]);
    const { plan } = apply(store, emptyState(), [desired(web())]);
    assert.deepEqual(plan.entries[0]?.changes, [{ field: 'snat', from: '198.51.100.9', to: SNAT }]);
    assert.equal(store.find('203.0.113.10:80/tcp')?.snat, SNAT);
  });

  it("compares fullnat's route sources per backend both sides have, and override against route", () => {
    const two = () => specFrom('203.0.113.10:80', ['198.51.100.2:80', '203.0.113.66:80'], { name: 'web' });
    const live = routed({ '198.51.100.2': '198.51.100.1', '203.0.113.66': '203.0.113.65' });
    const store = new FakeStore([viewOf(two(), 1, live)]);
    const want = (spec: ReturnType<typeof specFrom>, snat: SnatPlan) => [{ ...desired(spec), snat }];
    // The same routes: unchanged, nothing written.
    assert.deepEqual(apply(store, emptyState(), want(two(), live)).plan.entries[0]?.changes, []);
    assert.deepEqual(store.calls, []);
    // A backend set change alone is a backends change, though the new backend has a source of its own.
    const three = specFrom('203.0.113.10:80', ['198.51.100.2:80', '203.0.113.66:80', '192.0.2.50:80'], {
      name: 'web',
    });
    const withThird = routed({
      '198.51.100.2': '198.51.100.1',
      '203.0.113.66': '203.0.113.65',
      '192.0.2.50': '192.0.2.1',
    });
    const added = apply(store, emptyState(), want(three, withThird)).plan.entries[0]?.changes;
    assert.deepEqual(
      added?.map((c) => c.field),
      ['backends'],
    );
    assert.equal(store.find('203.0.113.10:80/tcp')?.backends[2]?.source, '192.0.2.1');
    // A route that moved for a kept backend is a snat change, and the new source is stored.
    const moved = routed({
      '198.51.100.2': '198.51.100.1',
      '203.0.113.66': '203.0.113.1',
      '192.0.2.50': '192.0.2.1',
    });
    assert.deepEqual(apply(store, emptyState(), want(three, moved)).plan.entries[0]?.changes, [
      {
        field: 'snat',
        from: 'route: 192.0.2.50 via 192.0.2.1, 198.51.100.2 via 198.51.100.1, 203.0.113.66 via 203.0.113.65',
        to: 'route: 192.0.2.50 via 192.0.2.1, 198.51.100.2 via 198.51.100.1, 203.0.113.66 via 203.0.113.1',
      },
    ]);
    assert.equal(store.find('203.0.113.10:80/tcp')?.backends[1]?.source, '203.0.113.1');
    // An override replaces them all, and going back to the routes is a change again.
    const pinned = apply(store, emptyState(), want(three, override('198.51.100.1'))).plan.entries[0]?.changes;
    assert.equal(pinned?.[0]?.to, '198.51.100.1');
    const live3 = store.find('203.0.113.10:80/tcp');
    assert.equal(live3?.snat, '198.51.100.1');
    assert.deepEqual(
      live3?.backends.map((b) => b.source),
      ['198.51.100.1', '198.51.100.1', '198.51.100.1'],
    );
    const back = apply(store, emptyState(), want(three, moved)).plan.entries[0]?.changes;
    assert.equal(back?.[0]?.from, '198.51.100.1');
    assert.equal(store.find('203.0.113.10:80/tcp')?.snat, null);
  });

  it('renames without a map write', () => {
    const store = new FakeStore([viewOf(web(), 1, SNAT)]);
    const state = { ...emptyState(), serviceNames: { '203.0.113.10:80/tcp': 'web' } };
    apply(store, state, [desired({ ...web(), name: 'front' })]);
    assert.deepEqual(store.calls, []);
    assert.deepEqual(state.serviceNames, { '203.0.113.10:80/tcp': 'front' });
  });

  it('prunes only with --prune and only what an apply created; a manual service is left alone', () => {
    const store = new FakeStore([viewOf(manual(), 1, SNAT)]);
    const state = emptyState();
    apply(store, state, [desired(web()), desired(api(), 2)]);
    const kept = apply(store, state, [desired(web())]);
    assert.deepEqual(
      kept.entries.map((e) => e.action),
      ['unchanged'],
    );
    assert.match(
      kept.plan.notes[0] ?? '',
      /^1 service\(s\) created by an earlier apply are not in this input \(api \(203.0.113.10:81\/tcp\)\); --prune/,
    );
    const pruned = apply(store, state, [desired(web())], true);
    assert.deepEqual(
      pruned.entries.map((e) => [e.action, e.key]),
      [
        ['unchanged', '203.0.113.10:80/tcp'],
        ['delete', '203.0.113.10:81/tcp'],
      ],
    );
    assert.deepEqual([...store.services.keys()].sort(), ['203.0.113.10:80/tcp', '203.0.113.10:90/tcp']);
    assert.deepEqual(state.appliedServices, { '203.0.113.10:80/tcp': 'Service default/web' });
    const nothing = apply(store, state, [], true);
    assert.deepEqual(
      nothing.entries.map((e) => [e.action, e.key]),
      [['delete', '203.0.113.10:80/tcp']],
    );
    assert.deepEqual([...store.services.keys()], ['203.0.113.10:90/tcp'], 'the manual service stays');
  });

  it('updates a service it did not create without taking ownership of it', () => {
    const store = new FakeStore([viewOf(manual(), 1, SNAT)]);
    const state = emptyState();
    const changed = specFrom('203.0.113.10:90', ['198.51.100.6:80'], { name: 'manual' });
    const { entries } = apply(store, state, [desired(changed)]);
    assert.deepEqual(
      entries.map((e) => [e.action, e.owner]),
      [['change', null]],
    );
    assert.deepEqual(state.appliedServices, {});
  });

  it('drops ownership records of services that were deleted by hand', () => {
    const store = new FakeStore();
    const state = { ...emptyState(), appliedServices: { '203.0.113.10:99/tcp': 'Service default/gone' } };
    const { plan } = apply(store, state, [], true);
    assert.deepEqual(plan.staleOwnership, ['203.0.113.10:99/tcp']);
    assert.deepEqual(plan.entries, []);
    assert.deepEqual(state.appliedServices, {});
  });

  it('refuses two parts of the input with one VIP:PORT or one name', () => {
    assert.throws(
      () => computePlan([desired(web()), desired({ ...api(), vip: web().vip }, 3)], [], {}, { prune: false }),
      lbctlErrorOf('INVALID_DATA', {
        mentions: [
          'document 3 (Service default/api)',
          'document 1 (Service default/web)',
          '203.0.113.10:80/tcp',
        ],
      }),
    );
    assert.throws(
      () => computePlan([desired(web()), desired({ ...api(), name: 'web' }, 2)], [], {}, { prune: false }),
      lbctlErrorOf('INVALID_DATA', { mentions: ['document 2', 'document 1', '"web"'] }),
    );
  });

  it('refuses a name held by a live service the input does not describe', () => {
    assert.throws(
      () =>
        computePlan(
          [desired({ ...web(), name: 'manual' })],
          [viewOf(manual(), 1, SNAT)],
          {},
          { prune: false },
        ),
      lbctlErrorOf('CONFLICT', { mentions: ['"manual"', '203.0.113.10:90/tcp'] }),
    );
  });

  it('refuses an input that would not fit the service table', () => {
    const many = Array.from({ length: 256 }, (_, i) =>
      desired(specFrom(`203.0.113.${1 + (i % 200)}:${1000 + i}`, ['198.51.100.2:80']), i + 1),
    );
    assert.throws(
      () => computePlan(many, [], {}, { prune: false }),
      lbctlErrorOf('CONFLICT', { mentions: ['256', '255'] }),
    );
  });
});

describe('k8s plan: executePlan is all or nothing', () => {
  for (const failing of ['update', 'add 203.0.113.10:82', 'remove']) {
    it(`undoes every completed step when "${failing}" fails, and restores the state`, () => {
      const store = new FakeStore();
      const state = emptyState();
      // Live: web (to change), api (to prune), both created by apply, and a manual service.
      apply(store, state, [desired(web()), desired(api(), 2)]);
      store.add(manual(), override(SNAT));
      const before = store.snapshot();
      const stateBefore = structuredClone(state);
      const changedWeb = specFrom('203.0.113.10:80', ['198.51.100.9:80'], { name: 'web', ppv2: ['crc32c'] });
      const added = [
        desired(specFrom('203.0.113.10:82', ['198.51.100.7:80'], { name: 'new1' }), 3),
        desired(specFrom('203.0.113.10:83', ['198.51.100.8:80'], { name: 'new2' }), 4),
      ];
      store.failWhen = (call) => call.startsWith(failing);
      store.calls.length = 0;
      assert.throws(
        () => apply(store, state, [desired(changedWeb), ...added], true),
        // The injected cause travels in the message; that every step was undone, the snapshots show.
        lbctlErrorOf('FAILURE', { mentions: [`injected failure at ${failing}`] }),
      );
      store.failWhen = undefined;
      assert.deepEqual(store.snapshot(), before);
      assert.deepEqual(state, stateBefore);
    });
  }

  it('says so when an undo fails too', () => {
    const store = new FakeStore();
    store.remove = () => {
      throw new Error('map gone');
    };
    store.failWhen = (call) => call === 'add 203.0.113.10:83/tcp';
    const input = [
      desired(specFrom('203.0.113.10:82', ['198.51.100.7:80'], { name: 'new1' }), 1),
      desired(specFrom('203.0.113.10:83', ['198.51.100.8:80'], { name: 'new2' }), 2),
    ];
    assert.throws(
      () => apply(store, emptyState(), input),
      // The undo that failed, and why.
      lbctlErrorOf('FAILURE', { mentions: ['203.0.113.10:82/tcp', 'map gone'] }),
    );
  });

  it('runs deletes first, then changes, then adds', () => {
    const store = new FakeStore();
    const state = emptyState();
    apply(store, state, [desired(web()), desired(api(), 2)]);
    store.calls.length = 0;
    const changedWeb = specFrom('203.0.113.10:80', ['198.51.100.9:80'], { name: 'web' });
    // The new service takes the pruned one's name: fine, since the delete runs first.
    const takesName = specFrom('203.0.113.10:84', ['198.51.100.7:80'], { name: 'api' });
    apply(store, state, [desired(takesName, 1), desired(changedWeb, 2)], true);
    assert.deepEqual(store.calls, [
      'remove 203.0.113.10:81/tcp',
      'update 203.0.113.10:80/tcp',
      'add 203.0.113.10:84/tcp',
    ]);
  });
});

describe('k8s plan: ownership recorded in the kernel (an apply killed before it saved the state file)', () => {
  it('a live service marked as apply’s is owned even when the state file does not name it', () => {
    const flagged = { ...viewOf(web(), 1, SNAT), applied: true };
    const byHand = viewOf(manual(), 2, SNAT);
    const owned = ownedServices({}, [flagged, byHand]);
    assert.deepEqual(owned, { '203.0.113.10:80/tcp': UNRECORDED_OWNER });
    const plan = computePlan([desired(api())], [flagged, byHand], owned, { prune: true });
    assert.deepEqual(
      plan.entries.map((e) => [e.action, e.key]),
      [
        ['add', '203.0.113.10:81/tcp'],
        ['delete', '203.0.113.10:80/tcp'],
      ],
      'the flagged service is pruned, the one added by hand is not',
    );
  });

  it('the state file’s owner names win over the placeholder, and its records still count', () => {
    const flagged = { ...viewOf(web(), 1, SNAT), applied: true };
    const recordedOnly = viewOf(api(), 2, null);
    assert.deepEqual(
      ownedServices(
        { '203.0.113.10:80/tcp': 'Service default/web', '203.0.113.10:81/tcp': 'Service default/api' },
        [flagged, recordedOnly],
      ),
      { '203.0.113.10:80/tcp': 'Service default/web', '203.0.113.10:81/tcp': 'Service default/api' },
    );
  });

  it('re-applying after a kill adopts what the killed run added: unchanged but for the lost name', () => {
    const store = new FakeStore([{ ...viewOf({ ...web(), name: undefined }, 1, SNAT), applied: true }]);
    const state = emptyState();
    const live = [...store.services.values()];
    const plan = computePlan([desired(web())], live, ownedServices(state.appliedServices, live), {
      prune: true,
    });
    assert.deepEqual(
      plan.entries.map((e) => [e.action, e.changes.map((c) => c.field)]),
      [['change', ['name']]],
    );
    executePlan(plan, store, state);
    assert.deepEqual(store.calls, [], 'a rename alone writes no map');
    assert.deepEqual(state.appliedServices, { '203.0.113.10:80/tcp': 'Service default/web' });
  });
});

describe('k8s plan: backend records are counted before the first write', () => {
  const backends = (n: number, port = 80) =>
    Array.from({ length: n }, (_, i) => `198.51.100.${2 + (i % 250)}:${port + Math.floor(i / 250)}`);
  const big = (vipPort: number, n: number, port = 80) =>
    specFrom(`203.0.113.20:${vipPort}`, backends(n, port), { name: `big-${vipPort}` });

  it(`refuses adds that need more than ${LB_LIMITS.maxBackends} records, and accepts exactly that many`, () => {
    const per = LB_LIMITS.maxBackends / 16;
    const fits = Array.from({ length: 16 }, (_, i) => desired(big(1000 + i, per), i + 1));
    assert.equal(computePlan(fits, [], {}, { prune: false }).entries.length, 16);
    const extra = desired(big(2000, 1), 17);
    assert.throws(
      () => computePlan([...fits, extra], [], {}, { prune: false }),
      lbctlErrorOf('CONFLICT', {
        mentions: [String(LB_LIMITS.maxBackends + 1), String(LB_LIMITS.maxBackends)],
      }),
    );
  });

  it('counts a change’s new backends next to its old ones (both are written for a moment)', () => {
    const live = [viewOf(big(1000, 4000), 1, SNAT)];
    const owned = { '203.0.113.20:1000/tcp': 'Service default/big-1000' };
    // 3,990 stay and 10 are new: 4,010 records at the peak.
    const smallChange = big(1000, 4000, 80);
    smallChange.backends = [...smallChange.backends.slice(10), ...big(1000, 10, 9000).backends];
    assert.equal(
      computePlan([desired(smallChange)], live, owned, { prune: false }).entries[0]?.action,
      'change',
    );
    // All 4,000 replaced: 8,000 at the peak.
    assert.throws(
      () => computePlan([desired(big(1000, 4000, 9000))], live, owned, { prune: false }),
      lbctlErrorOf('CONFLICT', { mentions: ['8000', 'while changing 203.0.113.20:1000/tcp'] }),
    );
  });

  it('deletes free their records before the adds need them', () => {
    const live = [viewOf(big(1000, 4000), 1, SNAT)];
    const owned = { '203.0.113.20:1000/tcp': 'Service default/big-1000' };
    const plan = computePlan([desired(big(1001, 4000))], live, owned, { prune: true });
    assert.deepEqual(
      plan.entries.map((e) => e.action),
      ['add', 'delete'],
    );
    assert.throws(
      () => computePlan([desired(big(1001, 4000))], live, owned, { prune: false }),
      lbctlErrorOf('CONFLICT', { mentions: ['8000'] }),
    );
  });
});
