/**
 * The SNAT port range as users give it and as the kernel's port sysctls hold it: parsing, validation against
 * the namespace's ephemeral range, and the set arithmetic that lets attach add to ip_local_reserved_ports and
 * detach take back exactly what it added.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DEFAULT_SNAT_PORTS } from '../../src/bpf/records.js';
import {
  formatPortSet,
  parsePortRange,
  parsePortSet,
  portRangeSize,
  portSetIntersect,
  portSetMinus,
  portSetUnion,
} from '../../src/core/port-ranges.js';
import { validateSnatPorts } from '../../src/core/snat-ports.js';
import { LbctlError } from '../../src/errors.js';

const LINUX_DEFAULT_EPHEMERAL = { min: 32768, max: 60999 };

function assertUsageError(fn: () => unknown): void {
  assert.throws(fn, (err: unknown) => err instanceof LbctlError && err.kind === 'USAGE');
}

describe('SNAT port range: parsing and validation', () => {
  it('parses MIN-MAX and a single port', () => {
    assert.deepEqual(parsePortRange('61000-65535'), { min: 61000, max: 65535 });
    assert.deepEqual(parsePortRange(' 20000 - 29999 '), { min: 20000, max: 29999 });
    assert.deepEqual(parsePortRange('30000'), { min: 30000, max: 30000 });
  });

  for (const bad of ['', '-', '1-2-3', 'a-b', '5000-4000', '1000-70000', '65536', '-5', '10000-']) {
    it(`refuses "${bad}" as a usage error`, () => assertUsageError(() => parsePortRange(bad)));
  }

  it('the default range is disjoint from the Linux default ephemeral range, and larger than it', () => {
    assert.deepEqual(validateSnatPorts(DEFAULT_SNAT_PORTS, LINUX_DEFAULT_EPHEMERAL), DEFAULT_SNAT_PORTS);
    // The datapath maps a client's port into the range (min + (port - min) mod size): one to one for clients
    // on Linux's defaults only if the range has at least as many ports.
    assert.ok(portRangeSize(DEFAULT_SNAT_PORTS) >= portRangeSize(LINUX_DEFAULT_EPHEMERAL));
  });

  it('accepts ranges on either side of the ephemeral range, touching its ends', () => {
    validateSnatPorts({ min: 1024, max: 32767 }, LINUX_DEFAULT_EPHEMERAL);
    validateSnatPorts({ min: 61000, max: 65535 }, LINUX_DEFAULT_EPHEMERAL);
  });

  for (const range of [
    { min: 32000, max: 33000 }, // overlaps the start
    { min: 60999, max: 61500 }, // overlaps the end
    { min: 40000, max: 41000 }, // inside
    { min: 1024, max: 65535 }, // around
    { min: 1000, max: 2000 }, // privileged ports
  ]) {
    it(`refuses ${range.min}-${range.max} with exit 2 (ephemeral 32768-60999)`, () =>
      assertUsageError(() => validateSnatPorts(range, LINUX_DEFAULT_EPHEMERAL)));
  }
});

describe('port sets in the ip_local_reserved_ports format', () => {
  it('parses and formats the kernel text, merging overlapping and adjacent ranges', () => {
    assert.deepEqual(parsePortSet(''), []);
    assert.deepEqual(parsePortSet('\n'), []);
    assert.equal(
      formatPortSet(parsePortSet('9000-9002,8080,9003,30000-32767\n')),
      '8080,9000-9003,30000-32767',
    );
  });

  it('reserving adds to what is there, releasing takes back only what was added', () => {
    const operator = parsePortSet('8080,30000-32767'); // e.g. Kubernetes NodePorts already reserved
    const range = parsePortSet('10000-32767');
    const added = portSetMinus(range, operator);
    assert.equal(formatPortSet(added), '10000-29999');
    const reserved = portSetUnion(operator, range);
    assert.equal(formatPortSet(reserved), '8080,10000-32767');
    assert.equal(
      formatPortSet(portSetMinus(reserved, added)),
      '8080,30000-32767',
      "the operator's ports stay",
    );
  });

  const port = fc.integer({ min: 0, max: 200 }); // a small universe, so that ranges meet often
  const set = fc.array(fc.tuple(port, port), { maxLength: 6 }).map((pairs) =>
    portSetUnion(
      [],
      pairs.map(([a, b]) => ({ min: Math.min(a, b), max: Math.max(a, b) })),
    ),
  );
  const members = (s: ReturnType<typeof parsePortSet>) =>
    new Set(s.flatMap((r) => Array.from({ length: r.max - r.min + 1 }, (_, i) => r.min + i)));

  it('union, difference and intersection agree with plain sets of ports', () => {
    fc.assert(
      fc.property(set, set, (a, b) => {
        const [ma, mb] = [members(a), members(b)];
        assert.deepEqual(members(portSetUnion(a, b)), new Set([...ma, ...mb]));
        assert.deepEqual(members(portSetMinus(a, b)), new Set([...ma].filter((p) => !mb.has(p))));
        assert.deepEqual(members(portSetIntersect(a, b)), new Set([...ma].filter((p) => mb.has(p))));
        assert.deepEqual(parsePortSet(formatPortSet(a)), a, 'the text form round-trips');
      }),
    );
  });
});
