/**
 * The route lookup for many backends: one `ip -batch` process answers for every address (one
 * `ip route get` per backend cost a process start each), each address is looked up once, and the answers
 * line up with the addresses they were asked for. Runs against the host's loopback routes, which every
 * machine has.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseBackend } from '../../src/core/service-spec.js';
import { RouteSources, routeSources } from '../../src/core/snat.js';
import { lbctlErrorOf } from '../helpers/errors.js';
import { suitePrerequisites } from '../helpers/prereq.js';

const { skip, assertPrerequisites } = suitePrerequisites({ binaries: ['ip'] });

describe('RouteSources: routes towards many backends in one lookup', { skip }, () => {
  it('gives each address its own answer, in order, across families', async () => {
    assertPrerequisites();
    const routes = new RouteSources();
    const addresses = [...Array.from({ length: 300 }, (_, i) => `127.0.${i >> 8}.${(i & 0xff) + 1}`), '::1'];
    await routes.load([...addresses, ...addresses]);
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
});
