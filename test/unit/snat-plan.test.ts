/**
 * Fullnat source addresses without the kernel: reading the route's preferred source from `ip -j route get`,
 * what a backend record stores under an override or per backend, and how apply's diff shows the choice.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { routeSourceOfJson, snatFor } from '../../src/core/snat.js';
import { effectiveSource, NO_SNAT, snatPlanText, storedSource } from '../../src/core/snat-plan.js';
import { lbctlErrorOf } from '../helpers/errors.js';
import { specFrom } from './k8s-fixtures.js';

describe('routeSourceOfJson', () => {
  it('takes the preferred source of a unicast route, canonical', () => {
    const json =
      '[{"dst":"2001:db8:b::2","dev":"lbb","prefsrc":"2001:DB8:B:0:0:0:0:1","flags":[],"pref":"medium"}]';
    assert.deepEqual(routeSourceOfJson(json), {
      type: 'unicast',
      source: '2001:db8:b::1',
      prefsrc: '2001:db8:b::1',
    });
    const v4 = '[{"dst":"203.0.113.66","dev":"lb2","prefsrc":"203.0.113.65","flags":[],"uid":0,"cache":[]}]';
    assert.deepEqual(routeSourceOfJson(v4), {
      type: 'unicast',
      source: '203.0.113.65',
      prefsrc: '203.0.113.65',
    });
  });

  it('gives no source for a local, blackhole or source-less route, or no route at all', () => {
    const local = '[{"type":"local","dst":"198.51.100.1","dev":"lo","prefsrc":"198.51.100.1","flags":[]}]';
    assert.deepEqual(routeSourceOfJson(local), {
      type: 'local',
      source: undefined,
      prefsrc: '198.51.100.1',
    });
    assert.deepEqual(routeSourceOfJson('[{"type":"blackhole","dst":"203.0.113.99","flags":[]}]'), {
      type: 'blackhole',
      source: undefined,
      prefsrc: undefined,
    });
    assert.deepEqual(routeSourceOfJson('[{"dst":"203.0.113.99","dev":"x","flags":[]}]'), {
      type: 'unicast',
      source: undefined,
      prefsrc: undefined,
    });
    assert.equal(routeSourceOfJson('[]'), undefined);
  });
});

describe('snat plans', () => {
  const routed = { override: null, sources: new Map([['198.51.100.2', '198.51.100.1']]) };
  const pinned = { override: '198.51.100.11', sources: new Map<string, string>() };

  it("stores the source the datapath uses in the backend's record, the override too; none for dnat", () => {
    assert.equal(storedSource(routed, 'fullnat', '198.51.100.2'), '198.51.100.1');
    assert.equal(storedSource(pinned, 'fullnat', '198.51.100.2'), '198.51.100.11');
    assert.equal(storedSource(NO_SNAT, 'dnat', '198.51.100.2'), null);
    assert.throws(() => storedSource(routed, 'fullnat', '203.0.113.66'), lbctlErrorOf('USAGE'));
  });

  it('the source the datapath uses: the override, else the backend own, none for dnat', () => {
    assert.equal(effectiveSource(pinned, 'fullnat', '198.51.100.2'), '198.51.100.11');
    assert.equal(effectiveSource(routed, 'fullnat', '198.51.100.2'), '198.51.100.1');
    assert.equal(effectiveSource(routed, 'dnat', '198.51.100.2'), null);
  });

  it('reads as the override, or the routes of the given backends, sorted', () => {
    const two = {
      override: null,
      sources: new Map([
        ['203.0.113.66', '203.0.113.65'],
        ['198.51.100.2', '198.51.100.1'],
      ]),
    };
    assert.equal(snatPlanText(pinned, ['198.51.100.2']), '198.51.100.11');
    assert.equal(
      snatPlanText(two, ['203.0.113.66', '198.51.100.2']),
      'route: 198.51.100.2 via 198.51.100.1, 203.0.113.66 via 203.0.113.65',
    );
    assert.equal(snatPlanText(two, []), 'route');
  });

  it('snatFor: dnat takes no address; --snat on dnat is refused', async () => {
    const dnat = specFrom('203.0.113.10:80', ['198.51.100.2:80'], { mode: 'dnat' });
    assert.deepEqual(await snatFor(dnat, undefined), NO_SNAT);
    await assert.rejects(
      snatFor(dnat, '198.51.100.1'),
      lbctlErrorOf('USAGE', { mentions: ['fullnat only'] }),
    );
  });
});
