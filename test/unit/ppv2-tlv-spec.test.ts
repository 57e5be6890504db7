/** The --tlv flag syntax: every form, and errors that name the part that is wrong. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Ppv2ValueError } from '../../src/ppv2/errors.js';
import { bytesToHex, parseTlvSpec, TLV_SPEC_HINT } from '../../src/ppv2/index.js';

const hex = (text: string) => bytesToHex(new TextEncoder().encode(text));

describe('parseTlvSpec', () => {
  const accepted: Array<[string, number, string]> = [
    ['alpn=h2', 0x01, hex('h2')],
    ['authority=example.com', 0x02, hex('example.com')],
    ['AUTHORITY=example.com', 0x02, hex('example.com')],
    ['unique-id=conn-0001', 0x05, hex('conn-0001')],
    [`unique-id=${'u'.repeat(128)}`, 0x05, hex('u'.repeat(128))],
    ['unique-id=a=b', 0x05, hex('a=b')],
    ['netns=blue', 0x30, hex('blue')],
    ['noop=0', 0x04, ''],
    ['noop=3', 0x04, '000000'],
    ['crc32c', 0x03, '00000000'],
    ['0xe0=000000000000002a', 0xe0, '000000000000002a'],
    ['0xE0=00FF', 0xe0, '00ff'],
    ['224=01', 0xe0, '01'],
    ['0xef=', 0xef, ''],
    ['0xf0=text:hello', 0xf0, hex('hello')],
    ['0xf7=text:', 0xf7, ''],
    ['0x05=', 0x05, ''],
    ['0x6=aa', 0x06, 'aa'],
  ];
  for (const [spec, type, valueHex] of accepted) {
    it(`reads ${spec.length > 40 ? `${spec.slice(0, 40)}...` : spec}`, () => {
      const tlv = parseTlvSpec(spec);
      assert.equal(tlv.type, type);
      assert.equal(bytesToHex(tlv.value), valueHex);
    });
  }

  const refused: Array<[string, RegExp]> = [
    ['', /the name before "=" is empty/],
    ['=abc', /the name before "=" is empty/],
    ['foo=bar', /unknown name "foo"/],
    ['constructor=x', /unknown name "constructor"/],
    ['__proto__=x', /unknown name "__proto__"/],
    ['0xe0', /"0xe0" needs a value: 0xe0=HEX or 0xe0=text:TEXT/],
    ['unique-id', /"unique-id" needs a value: unique-id=VALUE/],
    ['noop', /"noop" needs a value: noop=N/],
    ['authority=', /the authority value is empty/],
    [`unique-id=${'u'.repeat(129)}`, /UNIQUE_ID value is 129 bytes, more than the 128 allowed/],
    [`authority=${'a'.repeat(256)}`, /AUTHORITY value is 256 bytes/],
    ['netns=blü', /NETNS value is not a US-ASCII name/],
    ['noop=x', /noop length "x" is not a number from 0 to 65535/],
    ['noop=-1', /noop length "-1"/],
    ['noop=65536', /NOOP length 65536/],
    ['crc32c=1234', /crc32c takes no value/],
    ['0xe0=abc', /value "abc" is not hex digits in pairs/],
    ['0xe0=0x00', /value "0x00" is not hex digits in pairs/],
    ['0xe0=zz', /value "zz"/],
    ['0x100=00', /type "0x100" is not a number from 0x00 to 0xff/],
    ['256=00', /type "256" is not a number from 0x00 to 0xff/],
    ['0xf8=00', /type FUTURE\(0xf8\) is reserved for future use/],
    ['0x03=00', /CRC32C value is 1 bytes, must be exactly 4/],
  ];
  for (const [spec, message] of refused) {
    it(`refuses ${JSON.stringify(spec.length > 40 ? `${spec.slice(0, 40)}...` : spec)}`, () => {
      assert.throws(
        () => parseTlvSpec(spec),
        (error: unknown) =>
          error instanceof Ppv2ValueError &&
          error.message.startsWith(`invalid TLV "${spec}": `) &&
          message.test(error.message) &&
          error.hint === TLV_SPEC_HINT,
      );
    });
  }

  it('accepts future types when allowed', () => {
    assert.equal(parseTlvSpec('0xf8=00', { allowFutureTypes: true }).type, 0xf8);
  });
});
