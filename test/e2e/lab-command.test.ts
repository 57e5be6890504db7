/**
 * `lbctl lab up|status|demo|down`, the README's main command, run as a newcomer would: through the CLI.
 * The lab is a singleton (fixed prefix), so this suite refuses to run over a lab someone left up.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { DemoRow, LabState } from '../../src/lab/lab.js';
import { listTopologies } from '../../src/lab/topology.js';
import { isAlive } from '../../src/sys/run.js';
import { lbctl, parseJson } from '../helpers/cli.js';
import { suitePrerequisites } from '../helpers/prereq.js';

const needs = { root: true, binaries: ['ip', 'nginx', 'haproxy', 'curl'] };
const { skip, assertPrerequisites } = suitePrerequisites(needs);

describe('lbctl lab', { skip }, () => {
  let lab: LabState | undefined;

  before(async () => {
    assertPrerequisites();
    assert.deepEqual(
      await listTopologies('lbctl-lab'),
      [],
      'a lab is already up on this machine; run lbctl lab down',
    );
  });

  after(() => {
    if (lab) lbctl(['lab', 'down']);
  });

  it('lab up builds the demo and every backend reports the real client', () => {
    const res = lbctl(['lab', 'up', '--json']);
    assert.equal(res.code, 0, res.stderr);
    const out = parseJson<{ lab: LabState; demo: DemoRow[] }>(res);
    lab = out.lab;
    assert.deepEqual(
      out.demo.map((r) => r.service),
      ['web4', 'web6', 'haproxy4', 'haproxy6', 'dns4', 'dns6'],
    );
    for (const row of out.demo) {
      assert.equal(row.backendSawClient, row.client, `${row.service}: PPv2 carries the real client`);
      assert.notEqual(
        row.backendPeer.replace(/:\d+$/, ''),
        row.client.replace(/:\d+$/, ''),
        'fullnat: TCP peer is the balancer',
      );
    }
    const haproxyIds = out.demo.filter((r) => r.service.startsWith('haproxy')).map((r) => r.uniqueId);
    assert.equal(new Set(haproxyIds).size, 2, 'distinct UNIQUE_IDs');
  });

  it('refuses a second lab up with a conflict, and reports status', () => {
    const again = lbctl(['lab', 'up']);
    assert.equal(again.code, 6, again.stderr);
    const status = parseJson<{
      up: boolean;
      health: { attached: boolean; processes: Array<{ alive: boolean }> };
    }>(lbctl(['lab', 'status', '--json']));
    assert.equal(status.up, true);
    assert.equal(status.health.attached, true);
    assert.ok(status.health.processes.every((p) => p.alive));
    assert.equal(lbctl(['lab', 'demo']).code, 0);
  });

  it('lab down removes processes, namespaces and pinned maps', async () => {
    assert.ok(lab);
    const res = lbctl(['lab', 'down']);
    assert.equal(res.code, 0, res.stderr);
    const pids = lab.processes;
    const pinDir = `/sys/fs/bpf/lbctl/${lab.topology.ns.lb}`;
    lab = undefined;
    assert.deepEqual(await listTopologies('lbctl-lab'), []);
    for (const p of pids) assert.equal(isAlive(p.pid, p.startTime), false, `${p.role} stopped`);
    assert.equal(existsSync(pinDir), false, 'pinned maps removed');
    assert.equal(parseJson<{ up: boolean }>(lbctl(['lab', 'status', '--json'])).up, false);
    assert.equal(lbctl(['lab', 'down']).code, 3, 'nothing left to remove');
  });
});
