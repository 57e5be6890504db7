/** The --tlv flag syntax: every form, and errors that name the part that is wrong. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Ppv2ValueError } from '../../src/ppv2/errors.js';
import { bytesToHex, parseTlvSpec, TLV_SPEC_HINT } from '../../src/ppv2/index.js';
import { errorOf } from '../helpers/errors.js';

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

  // Besides the spec itself (checked below), the part of it that is wrong where the spec has one.
  const refused: Array<[string, string[]]> = [
    ['', []],
    ['=abc', []],
    ['foo=bar', ['"foo"']],
    ['constructor=x', ['"constructor"']],
    ['__proto__=x', ['"__proto__"']],
    ['0xe0', ['"0xe0"']],
    ['unique-id', ['"unique-id"']],
    ['noop', ['"noop"']],
    ['authority=', []],
    [`unique-id=${'u'.repeat(129)}`, ['129']],
    [`authority=${'a'.repeat(256)}`, ['256']],
    ['netns=blü', []],
    ['noop=x', ['"x"']],
    ['noop=-1', ['"-1"']],
    ['noop=65536', ['65536']],
    ['crc32c=1234', []],
    ['0xe0=abc', ['"abc"']],
    ['0xe0=0x00', ['"0x00"']],
    ['0xe0=zz', ['"zz"']],
    ['0x100=00', ['"0x100"']],
    ['256=00', ['"256"']],
    ['0xf8=00', ['0xf8']],
    ['0x03=00', []],
  ];
  for (const [spec, mentions] of refused) {
    it(`refuses ${JSON.stringify(spec.length > 40 ? `${spec.slice(0, 40)}...` : spec)}`, () => {
      assert.throws(
        () => parseTlvSpec(spec),
        (error: unknown) =>
          errorOf(Ppv2ValueError, { mentions: [`"${spec}"`, ...mentions] })(error) &&
          (error as Ppv2ValueError).hint === TLV_SPEC_HINT,
      );
    });
  }

  it('accepts future types when allowed', () => {
    assert.equal(parseTlvSpec('0xf8=00', { allowFutureTypes: true }).type, 0xf8);
  });
});
