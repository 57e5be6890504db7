/** Which capabilities a command that needs root finds missing, and the PERMISSION error it then gets. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { requirePrivileges } from '../../src/cli/privileges.js';
import {
  Capability,
  effectiveCapabilities,
  missingDatapathCapabilities,
} from '../../src/sys/capabilities.js';
import { lbctlErrorOf } from '../helpers/errors.js';

const set = (...caps: number[]) => caps.reduce((acc, cap) => acc | (1n << BigInt(cap)), 0n);

describe('capabilities', () => {
  it('reads CapEff from /proc/PID/status text', () => {
    const status = 'Name:\tnode\nCapInh:\t0000000000000000\nCapEff:\t000001ffffffffff\nCapBnd:\t0\n';
    assert.equal(effectiveCapabilities(status), 0x1ffffffffffn);
    assert.equal(effectiveCapabilities('Name:\tnode\n'), 0n);
  });

  it('needs CAP_NET_ADMIN and CAP_BPF, for which CAP_SYS_ADMIN stands in', () => {
    const { NET_ADMIN, SYS_ADMIN, BPF } = Capability;
    assert.deepEqual(missingDatapathCapabilities(0x1ffffffffffn), []);
    assert.deepEqual(missingDatapathCapabilities(set(NET_ADMIN, BPF)), []);
    assert.deepEqual(missingDatapathCapabilities(set(NET_ADMIN, SYS_ADMIN)), []);
    assert.deepEqual(missingDatapathCapabilities(set(BPF)), ['NET_ADMIN']);
    assert.deepEqual(missingDatapathCapabilities(0n), ['NET_ADMIN', 'BPF']);
  });

  it('refuses with PERMISSION naming the command, why and what is missing, with the fix', () => {
    assert.throws(
      () => requirePrivileges('lbctl lab status', 'to tell whether the lab is up', 0n),
      lbctlErrorOf('PERMISSION', { mentions: ['lbctl lab status', 'CAP_NET_ADMIN', 'CAP_BPF'], hint: true }),
    );
    requirePrivileges('lbctl status', 'to read maps', set(Capability.NET_ADMIN, Capability.BPF));
  });
});
