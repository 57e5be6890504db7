/**
 * The route lookup for many backends: one `ip -batch` process answers for every address (one
 * `ip route get` per backend cost a process start each), each address is looked up once, and the answers
 * line up with the addresses they were asked for. Runs against the host's loopback routes, which every
 * machine has.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseBackend } from '../../src/core/service-spec.js';
import { failedBatchCommands, RouteSources, routeSources } from '../../src/core/snat.js';
import { lbctlErrorOf } from '../helpers/errors.js';
import { suitePrerequisites } from '../helpers/prereq.js';

const { skip, assertPrerequisites } = suitePrerequisites({ binaries: ['ip'] });

describe('RouteSources: routes towards many backends in one lookup', { skip }, () => {
  it('gives each address its own answer, in order, across families', async () => {
    assertPrerequisites();
    const routes = new RouteSources();
    const addresses = [
      ...Array.from({ length: 300 }, (_, i) => `127.0.${(i + 1) >> 8}.${(i + 1) & 0xff}`),
      '::1',
    ];
    await routes.load([...addresses, ...addresses]);
    assert.equal(routes.routeProcesses, 1, 'one ip process for all of them');
    await routes.load(addresses.slice(0, 10));
    assert.equal(routes.routeProcesses, 1, 'each address looked up once');
    assert.equal(routes.sourceOf('127.0.0.200'), '127.0.0.1');
    assert.equal(routes.sourceOf('127.0.1.44'), '127.0.0.1');
    assert.equal(routes.sourceOf('::1'), '::1');
    assert.equal(routes.sourceOf('192.0.2.77'), null, 'not looked up: no answer');
  });

  it('refuses loopback backends: a local route is no way to a backend', async () => {
    assertPrerequisites();
    const routes = new RouteSources();
    await assert.rejects(
      routeSources(['127.0.0.2:80'].map(parseBackend), routes),
      lbctlErrorOf('USAGE', { mentions: ['127.0.0.2:80', 'local route'] }),
    );
    assert.equal(routes.lookup('127.0.0.2').route?.type, 'local');
  });

  it('looks each address up alone when one has no route, and says why for that one', async () => {
    assertPrerequisites();
    const routes = new RouteSources();
    await routes.load(['127.0.0.3', '256.1.1.1', '::1']);
    assert.equal(routes.routeProcesses, 4, 'the batch, then one per address');
    assert.equal(routes.sourceOf('127.0.0.3'), '127.0.0.1');
    assert.equal(routes.sourceOf('::1'), '::1');
    assert.equal(routes.lookup('256.1.1.1').route, undefined);
    assert.notEqual(routes.lookup('256.1.1.1').error, '');
  });
});

describe('failedBatchCommands: which commands of an ip -force -batch failed, and why', () => {
  it('pairs each "Command failed -:N" with the message before it', () => {
    const stderr =
      'RTNETLINK answers: Network is unreachable\nCommand failed -:2\n' +
      'RTNETLINK answers: No route to host\nCommand failed -:5\n';
    assert.deepEqual(
      [...failedBatchCommands(stderr)],
      [
        [2, 'Network is unreachable'],
        [5, 'No route to host'],
      ],
    );
    assert.equal(failedBatchCommands('').size, 0);
  });
});
