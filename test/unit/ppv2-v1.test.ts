/**
 * v1 lines: a table of strict-parsing cases (spacing, CRLF, lengths 107/108, ports 65535/65536, address
 * syntax per family, leading zeros), partial lines, and the encoder.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Ppv2ValueError } from '../../src/ppv2/errors.js';
import { decodeV1, encodeV1, type V1Header } from '../../src/ppv2/index.js';

const bytes = (text: string) => Uint8Array.from(text, (char) => char.charCodeAt(0));
const textOf = (data: Uint8Array) => String.fromCharCode(...data);

/** "PROXY UNKNOWN " padded with `x` to exactly `length` bytes including the CRLF. */
const unknownLineOf = (length: number) => `PROXY UNKNOWN ${'x'.repeat(length - 16)}\r\n`;

type Outcome = V1Header | 'invalid' | { incomplete: number };

const tcp4 = (srcPort: number, dstPort: number): V1Header => ({
  version: 1,
  command: 'PROXY',
  family: 'INET',
  src: '192.0.2.10',
  dst: '203.0.113.10',
  srcPort,
  dstPort,
});
const UNKNOWN: V1Header = { version: 1, command: 'LOCAL', family: 'UNSPEC' };

const cases: Array<[string, string, Outcome, RegExp?]> = [
  ['TCP4', 'PROXY TCP4 192.0.2.10 203.0.113.10 51234 80\r\n', tcp4(51234, 80)],
  ['ports 0 and 65535', 'PROXY TCP4 192.0.2.10 203.0.113.10 0 65535\r\n', tcp4(0, 65535)],
  ['port 65536', 'PROXY TCP4 192.0.2.10 203.0.113.10 65536 80\r\n', 'invalid', /source port "65536"/],
  ['port 99999', 'PROXY TCP4 192.0.2.10 203.0.113.10 1 99999\r\n', 'invalid', /destination port "99999"/],
  ['port with 6 digits', 'PROXY TCP4 192.0.2.10 203.0.113.10 100000 80\r\n', 'invalid'],
  ['port with a leading zero', 'PROXY TCP4 192.0.2.10 203.0.113.10 080 80\r\n', 'invalid', /"080"/],
  ['port "00"', 'PROXY TCP4 192.0.2.10 203.0.113.10 00 80\r\n', 'invalid'],
  ['port with a sign', 'PROXY TCP4 192.0.2.10 203.0.113.10 +80 80\r\n', 'invalid'],
  ['negative port', 'PROXY TCP4 192.0.2.10 203.0.113.10 -1 80\r\n', 'invalid'],
  ['port in hex', 'PROXY TCP4 192.0.2.10 203.0.113.10 0x50 80\r\n', 'invalid'],
  [
    'IPv4 octet with a leading zero',
    'PROXY TCP4 192.0.2.010 203.0.113.10 1 2\r\n',
    'invalid',
    /source address "192.0.2.010"/,
  ],
  ['IPv4 octet 256', 'PROXY TCP4 192.0.2.10 203.0.113.256 1 2\r\n', 'invalid', /destination address/],
  ['IPv4 with 3 octets', 'PROXY TCP4 192.0.2 203.0.113.10 1 2\r\n', 'invalid'],
  ['IPv6 address on a TCP4 line', 'PROXY TCP4 2001:db8::1 203.0.113.10 1 2\r\n', 'invalid', /not an IPv4/],
  ['IPv4 address on a TCP6 line', 'PROXY TCP6 192.0.2.10 2001:db8::1 1 2\r\n', 'invalid', /not an IPv6/],
  [
    'TCP6 in non-canonical form is canonicalised',
    'PROXY TCP6 2001:DB8:0:0:0:0:0:10 ::FFFF:192.0.2.1 1 2\r\n',
    {
      version: 1,
      command: 'PROXY',
      family: 'INET6',
      src: '2001:db8::10',
      dst: '::ffff:192.0.2.1',
      srcPort: 1,
      dstPort: 2,
    },
  ],
  ['IPv6 with two "::"', 'PROXY TCP6 2001::db8::1 ::1 1 2\r\n', 'invalid'],
  ['IPv6 with a zone', 'PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n', 'invalid'],
  ['IPv6 group of 5 digits', 'PROXY TCP6 2001:0db80::1 ::1 1 2\r\n', 'invalid'],
  ['UNKNOWN short form', 'PROXY UNKNOWN\r\n', UNKNOWN],
  ['UNKNOWN with addresses', 'PROXY UNKNOWN ffff:f::1 ffff:f::2 65535 65535\r\n', UNKNOWN],
  ['UNKNOWN with anything after it', 'PROXY UNKNOWN whatever  goes here\r\n', UNKNOWN],
  ['UNKNOWN glued to more text', 'PROXY UNKNOWNX\r\n', 'invalid', /protocol "UNKNOWNX"/],
  ['107-byte line', unknownLineOf(107), UNKNOWN],
  ['108-byte line', unknownLineOf(108), 'invalid', /no CRLF within the first 107 bytes/],
  ['double space', 'PROXY TCP4  192.0.2.10 203.0.113.10 1 2\r\n', 'invalid', /exactly one space/],
  ['double space after PROXY', 'PROXY  TCP4 192.0.2.10 203.0.113.10 1 2\r\n', 'invalid', /exactly one space/],
  ['trailing space', 'PROXY TCP4 192.0.2.10 203.0.113.10 1 2 \r\n', 'invalid', /exactly one space/],
  ['tab instead of space', 'PROXY TCP4\t192.0.2.10 203.0.113.10 1 2\r\n', 'invalid', /printable/],
  [
    'missing destination port',
    'PROXY TCP4 192.0.2.10 203.0.113.10 1\r\n',
    'invalid',
    /6 space-separated fields/,
  ],
  ['extra field', 'PROXY TCP4 192.0.2.10 203.0.113.10 1 2 3\r\n', 'invalid', /6 space-separated fields/],
  ['unknown protocol', 'PROXY TCP5 192.0.2.10 203.0.113.10 1 2\r\n', 'invalid', /protocol "TCP5"/],
  ['UDP4 is not a v1 protocol', 'PROXY UDP4 192.0.2.10 203.0.113.10 1 2\r\n', 'invalid'],
  ['lowercase proxy', 'proxy TCP4 192.0.2.10 203.0.113.10 1 2\r\n', 'invalid'],
  ['lowercase tcp4', 'PROXY tcp4 192.0.2.10 203.0.113.10 1 2\r\n', 'invalid'],
  ['LF only', 'PROXY TCP4 192.0.2.10 203.0.113.10 1 2\n', 'invalid', /LF at offset/],
  ['CR followed by text', 'PROXY TCP4 192.0.2.10 203.0.113.10 1 2\rx\n', 'invalid', /CR at offset/],
  ['LFCR', 'PROXY UNKNOWN\n\r', 'invalid'],
  ['non-ASCII byte', 'PROXY UNKNOWN \u00e9\r\n', 'invalid', /0xe9/],
  ['NUL byte', 'PROXY UNKNOWN \u0000\r\n', 'invalid'],
  ['"PROXY" without a space', 'PROXYTCP4 192.0.2.10 203.0.113.10 1 2\r\n', 'invalid'],
  ['"PROXY " then CRLF', 'PROXY \r\n', 'invalid'],

  // Partial lines.
  ['"P"', 'P', { incomplete: 14 }],
  ['"PROXY "', 'PROXY ', { incomplete: 9 }],
  ['"PROXY T" (shortest TCP6 line is 22 bytes)', 'PROXY T', { incomplete: 15 }],
  ['"PROXY TCP4 " (shortest TCP4 line is 32 bytes)', 'PROXY TCP4 ', { incomplete: 21 }],
  ['line waiting for its LF', 'PROXY UNKNOWN\r', { incomplete: 1 }],
  ['TCP4 line waiting for its LF', 'PROXY TCP4 192.0.2.10 203.0.113.10 51234 80\r', { incomplete: 1 }],
  ['bad port seen before the LF', 'PROXY TCP4 192.0.2.10 203.0.113.10 65536 80\r', 'invalid', /"65536"/],
  ['TCP4 without fields seen before the LF', 'PROXY TCP4\r', 'invalid', /6 space-separated fields/],
  ['line waiting for its CRLF', 'PROXY TCP4 192.0.2.10 203.0.113.10 51234 80', { incomplete: 2 }],
  ['106 bytes without CRLF yet', unknownLineOf(108).slice(0, 106), { incomplete: 2 }],
  ['107 bytes without CRLF', unknownLineOf(108).slice(0, 107), 'invalid'],
  ['bad protocol seen before the CRLF', 'PROXY TCP5 ', 'invalid', /protocol "TCP5"/],
  ['impossible protocol prefix', 'PROXY X', 'invalid'],
  ['not PROXY at all', 'GET / HTTP/1.1\r\n', 'invalid', /does not start with "PROXY "/],
];

describe('decodeV1', () => {
  for (const [name, line, outcome, reason] of cases) {
    it(name, () => {
      const result = decodeV1(bytes(line));
      if (outcome === 'invalid') {
        assert.equal(result.status, 'invalid', JSON.stringify(result));
        if (reason && result.status === 'invalid') assert.match(result.reason, reason);
      } else if ('incomplete' in outcome) {
        assert.deepEqual(result, { status: 'incomplete', needed: outcome.incomplete });
      } else {
        assert.deepEqual(result, { status: 'complete', header: outcome, consumed: line.length });
      }
    });
  }

  it('consumes the line only, leaving payload', () => {
    const line = 'PROXY TCP4 192.0.2.10 203.0.113.10 51234 80\r\n';
    const result = decodeV1(bytes(`${line}GET / HTTP/1.0\r\n\r\n`));
    assert.equal(result.status, 'complete');
    if (result.status === 'complete') assert.equal(result.consumed, line.length);
  });

  it('finds the CRLF of a line followed by more than 107 bytes of payload', () => {
    const result = decodeV1(bytes(`PROXY UNKNOWN\r\n${'x'.repeat(200)}`));
    assert.deepEqual(result, { status: 'complete', header: UNKNOWN, consumed: 15 });
  });
});

describe('encodeV1', () => {
  it('writes TCP4, TCP6 and UNKNOWN lines', () => {
    assert.equal(textOf(encodeV1(tcp4(51234, 80))), 'PROXY TCP4 192.0.2.10 203.0.113.10 51234 80\r\n');
    assert.equal(
      textOf(
        encodeV1({
          version: 1,
          command: 'PROXY',
          family: 'INET6',
          src: '2001:DB8::0010',
          dst: '::1',
          srcPort: 0,
          dstPort: 65535,
        }),
      ),
      'PROXY TCP6 2001:db8::10 ::1 0 65535\r\n',
    );
    assert.equal(textOf(encodeV1(UNKNOWN)), 'PROXY UNKNOWN\r\n');
  });

  it('stays within 107 bytes for the longest addresses', () => {
    const max = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff';
    const line = encodeV1({
      version: 1,
      command: 'PROXY',
      family: 'INET6',
      src: max,
      dst: max,
      srcPort: 65535,
      dstPort: 65535,
    });
    assert.equal(line.length, 104);
  });

  const refusals: Array<[string, unknown, RegExp]> = [
    ['version 2', { ...tcp4(1, 2), version: 2 }, /version 2 is not 1/],
    ['IPv6 on INET', { ...tcp4(1, 2), src: '::1' }, /src "::1" is not an IPv4 address/],
    ['IPv4 on INET6', { ...tcp4(1, 2), family: 'INET6', src: '::1' }, /dst "203.0.113.10" is not an IPv6/],
    ['port 65536', tcp4(65536, 2), /srcPort 65536/],
    ['port -1', tcp4(1, -1), /dstPort -1/],
    ['UNIX family', { ...tcp4(1, 2), family: 'UNIX' }, /not INET or INET6/],
    ['LOCAL with an address family', { version: 1, command: 'LOCAL', family: 'INET' }, /family UNSPEC/],
    ['unknown command', { ...tcp4(1, 2), command: 'CHECK' }, /command "CHECK"/],
  ];
  for (const [name, header, message] of refusals) {
    it(`refuses ${name}`, () => {
      assert.throws(
        () => encodeV1(header as V1Header),
        (error: unknown) =>
          error instanceof Ppv2ValueError &&
          error.message.startsWith('cannot encode PROXY v1 line: ') &&
          message.test(error.message),
      );
    });
  }
});
