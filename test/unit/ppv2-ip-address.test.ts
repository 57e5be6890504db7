/** Strict IP text parsing and canonical (RFC 5952) formatting used by v1 lines, v2 encoding and endpoints. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalIpAddress, formatIPv6, parseIPv4, parseIPv6 } from '../../src/ppv2/index.js';

describe('IP addresses', () => {
  const canonical: Array<[string, string]> = [
    ['192.0.2.10', '192.0.2.10'],
    ['0.0.0.0', '0.0.0.0'],
    ['255.255.255.255', '255.255.255.255'],
    ['2001:db8::10', '2001:db8::10'],
    ['2001:DB8:0000:0000:0000:0000:0000:0010', '2001:db8::10'],
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
    ['::2:3:4:5:6:7:8', '0:2:3:4:5:6:7:8'],
    ['::ffff:192.0.2.1', '::ffff:192.0.2.1'],
    ['::ffff:c000:201', '::ffff:192.0.2.1'],
    ['::192.0.2.1', '::c000:201'],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
    ['ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
  ];
  for (const [input, output] of canonical) {
    it(`${input} -> ${output}`, () => assert.equal(canonicalIpAddress(input), output));
  }

  const rejected = [
    '',
    '192.0.2',
    '192.0.2.10.1',
    '192.0.2.010',
    '192.0.2.256',
    '192.0.2.-1',
    '192.0.2.1 ',
    ' 192.0.2.1',
    '0x7f.0.0.1',
    '1.2.3.4.',
    ':::',
    '1:::2',
    '2001::db8::1',
    ':1::2',
    '1::2:',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7',
    '1:2:3:4:5:6:7:8::',
    '12345::',
    'g::1',
    'fe80::1%eth0',
    '[::1]',
    '1.2.3.4::',
    '::1.2.3.4:5',
    '::ffff:1.2.3.04',
    '::1.2.3',
  ];
  for (const input of rejected) {
    it(`rejects ${JSON.stringify(input)}`, () => assert.equal(canonicalIpAddress(input), undefined));
  }

  it('keeps IPv4 and IPv6 parsers apart', () => {
    assert.equal(parseIPv6('192.0.2.1'), undefined);
    assert.equal(parseIPv4('::1'), undefined);
  });

  it('formats at an offset', () => {
    const bytes = new Uint8Array(20);
    bytes[4] = 0x20;
    bytes[5] = 0x01;
    bytes[19] = 1;
    assert.equal(formatIPv6(bytes, 4), '2001::1');
  });
});
