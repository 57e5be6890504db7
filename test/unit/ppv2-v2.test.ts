/**
 * v2 decoding and encoding: a table of inputs on both sides of every bound (length field, address
 * blocks, TLV framing, per-TLV rules, size cap, fixed fields), then the encoder's refusals and the typed
 * TLV views.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Ppv2ValueError } from '../../src/ppv2/errors.js';
import {
  alpnTlv,
  authorityTlv,
  bytesToHex,
  crc32c,
  crc32cTlv,
  type DecodeResult,
  decodeV2,
  encodeV2,
  hexToBytes,
  netnsTlv,
  noopTlv,
  rawTlv,
  SslClientFlag,
  sslTlv,
  tlvInfo,
  toPlainHeader,
  uniqueIdTlv,
  type V2Header,
} from '../../src/ppv2/index.js';

const SIGNATURE = '0d0a0d0a000d0a515549540a';
const hex8 = (n: number) => n.toString(16).padStart(2, '0');
const hex16 = (n: number) => n.toString(16).padStart(4, '0');
const repeat = (byteHex: string, count: number) => byteHex.repeat(count);
const tlv = (type: number, valueHex: string) => hex8(type) + hex16(valueHex.length / 2) + valueHex;
const ascii = (text: string) => bytesToHex(new TextEncoder().encode(text));

/** 192.0.2.10:51234 -> 203.0.113.10:80 */
const INET_BLOCK = 'c000020acb00710ac8220050';
/** [2001:db8::10]:40000 -> [2001:db8::20]:443 */
const INET6_BLOCK = `20010db8${repeat('00', 10)}0010${`20010db8${repeat('00', 10)}0020`}9c4001bb`;
const UNIX_BLOCK = ascii('/run/a.sock').padEnd(216, '0') + ascii('/run/b.sock').padEnd(216, '0');

/** A v2 header: signature, version/command, family/transport, length (the body's unless given), body. */
function frame(verCmd: number, protocol: number, body: string, length = body.length / 2): Uint8Array {
  const bytes = hexToBytes(SIGNATURE + hex8(verCmd) + hex8(protocol) + hex16(length) + body);
  assert.ok(bytes);
  return bytes;
}

/** A TCP4 PROXY header with `tlvs` after the address block. */
const tcp4 = (tlvs: string) => frame(0x21, 0x11, INET_BLOCK + tlvs);

/** Appends a CRC32C TLV holding the right checksum (or `wrong` flips its last bit). */
function withCrc(verCmd: number, protocol: number, body: string, wrong = false): Uint8Array {
  const bytes = frame(verCmd, protocol, `${body}03000400000000`);
  const crc = (crc32c(bytes) ^ (wrong ? 1 : 0)) >>> 0;
  new DataView(bytes.buffer).setUint32(bytes.length - 4, crc);
  return bytes;
}

function sslValue(client: number, verify: number, subs: string): string {
  return hex8(client) + verify.toString(16).padStart(8, '0') + subs;
}

type Outcome = 'complete' | 'invalid' | { incomplete: number };

interface Case {
  name: string;
  bytes: Uint8Array;
  outcome: Outcome;
  reason?: RegExp;
}

const cases: Case[] = [
  // Fixed fields.
  { name: 'TCP4 PROXY, no TLVs', bytes: tcp4(''), outcome: 'complete' },
  { name: 'version 1 nibble', bytes: frame(0x11, 0x11, INET_BLOCK), outcome: 'invalid', reason: /version 1/ },
  { name: 'version 3 nibble', bytes: frame(0x31, 0x11, INET_BLOCK), outcome: 'invalid', reason: /version 3/ },
  { name: 'command 2', bytes: frame(0x22, 0x11, INET_BLOCK), outcome: 'invalid', reason: /command 2/ },
  { name: 'command 15', bytes: frame(0x2f, 0x11, INET_BLOCK), outcome: 'invalid', reason: /command 15/ },
  { name: 'family 4', bytes: frame(0x21, 0x41, INET_BLOCK), outcome: 'invalid', reason: /family 4/ },
  { name: 'transport 3', bytes: frame(0x21, 0x13, INET_BLOCK), outcome: 'invalid', reason: /transport 3/ },
  { name: 'INET with UNSPEC transport (0x10)', bytes: frame(0x21, 0x10, INET_BLOCK), outcome: 'invalid' },
  { name: 'UNSPEC with STREAM transport (0x01)', bytes: frame(0x20, 0x01, ''), outcome: 'invalid' },
  { name: 'UNSPEC with DGRAM transport (0x02)', bytes: frame(0x21, 0x02, ''), outcome: 'invalid' },
  { name: 'LOCAL UNSPEC, len 0', bytes: frame(0x20, 0x00, ''), outcome: 'complete' },
  { name: 'PROXY UNSPEC, len 0', bytes: frame(0x21, 0x00, ''), outcome: 'complete' },
  { name: 'LOCAL UNSPEC with TLVs', bytes: frame(0x20, 0x00, tlv(0x05, ascii('hc'))), outcome: 'complete' },
  { name: 'LOCAL INET keeps its address block', bytes: frame(0x20, 0x11, INET_BLOCK), outcome: 'complete' },
  { name: 'UDP4', bytes: frame(0x21, 0x12, INET_BLOCK), outcome: 'complete' },
  { name: 'TCP6', bytes: frame(0x21, 0x21, INET6_BLOCK), outcome: 'complete' },
  { name: 'UDP6', bytes: frame(0x21, 0x22, INET6_BLOCK), outcome: 'complete' },
  { name: 'UNIX stream', bytes: frame(0x21, 0x31, UNIX_BLOCK), outcome: 'complete' },
  { name: 'UNIX dgram', bytes: frame(0x21, 0x32, UNIX_BLOCK), outcome: 'complete' },

  // Length field against the address block, off by one both ways.
  {
    name: 'INET len 11',
    bytes: frame(0x21, 0x11, INET_BLOCK.slice(0, 22)),
    outcome: 'invalid',
    reason: /12-byte INET/,
  },
  {
    name: 'INET6 len 35',
    bytes: frame(0x21, 0x21, INET6_BLOCK.slice(0, 70)),
    outcome: 'invalid',
    reason: /36-byte/,
  },
  {
    name: 'UNIX len 215',
    bytes: frame(0x21, 0x31, UNIX_BLOCK.slice(0, 430)),
    outcome: 'invalid',
    reason: /216-byte/,
  },
  {
    name: 'LOCAL INET len 11 (LOCAL is not exempt)',
    bytes: frame(0x20, 0x11, INET_BLOCK.slice(0, 22)),
    outcome: 'invalid',
  },
  {
    name: 'len one more than the bytes present',
    bytes: frame(0x21, 0x11, INET_BLOCK, 13),
    outcome: { incomplete: 1 },
  },
  {
    name: 'len 1 past the block: a 1-byte TLV stub',
    bytes: tcp4('01'),
    outcome: 'invalid',
    reason: /1 byte\(s\) left/,
  },
  {
    name: 'len 2 past the block: a 2-byte TLV stub',
    bytes: tcp4('0100'),
    outcome: 'invalid',
    reason: /2 byte\(s\) left/,
  },
  { name: 'len 3 past the block: empty TLV', bytes: tcp4('010000'), outcome: 'complete' },

  // TLV framing, off by one.
  { name: 'TLV value exactly fills len', bytes: tcp4(tlv(0xe0, 'aabbcc')), outcome: 'complete' },
  {
    name: 'TLV overruns len by one',
    bytes: tcp4(`e00004aabbcc`),
    outcome: 'invalid',
    reason: /declares 4 value bytes but only 3/,
  },
  {
    name: 'TLV overruns because len is one short',
    bytes: frame(0x21, 0x11, INET_BLOCK + tlv(0xe0, 'aabbcc'), 17),
    outcome: 'invalid',
    reason: /declares 3 value bytes but only 2/,
  },
  { name: 'max TLV length 0xffff with nothing behind it', bytes: tcp4('e0ffff'), outcome: 'invalid' },

  // Per-TLV bounds.
  { name: 'UNIQUE_ID 0 bytes', bytes: tcp4(tlv(0x05, '')), outcome: 'complete' },
  { name: 'UNIQUE_ID 128 bytes', bytes: tcp4(tlv(0x05, repeat('61', 128))), outcome: 'complete' },
  {
    name: 'UNIQUE_ID 129 bytes',
    bytes: tcp4(tlv(0x05, repeat('61', 129))),
    outcome: 'invalid',
    reason: /129 bytes/,
  },
  { name: 'AUTHORITY 255 bytes', bytes: tcp4(tlv(0x02, repeat('61', 255))), outcome: 'complete' },
  {
    name: 'AUTHORITY 256 bytes',
    bytes: tcp4(tlv(0x02, repeat('61', 256))),
    outcome: 'invalid',
    reason: /256 bytes/,
  },
  { name: 'AUTHORITY not UTF-8', bytes: tcp4(tlv(0x02, '61ff62')), outcome: 'invalid', reason: /UTF-8/ },
  { name: 'AUTHORITY UTF-8', bytes: tcp4(tlv(0x02, ascii('bücher.example'))), outcome: 'complete' },
  { name: 'NETNS "blue"', bytes: tcp4(tlv(0x30, ascii('blue'))), outcome: 'complete' },
  { name: 'NETNS empty', bytes: tcp4(tlv(0x30, '')), outcome: 'invalid', reason: /NETNS/ },
  { name: 'NETNS 255 bytes', bytes: tcp4(tlv(0x30, repeat('61', 255))), outcome: 'complete' },
  { name: 'NETNS 256 bytes', bytes: tcp4(tlv(0x30, repeat('61', 256))), outcome: 'invalid' },
  { name: 'NETNS non-ASCII', bytes: tcp4(tlv(0x30, '61c3a9')), outcome: 'invalid', reason: /US-ASCII/ },
  { name: 'NETNS with NUL', bytes: tcp4(tlv(0x30, '610062')), outcome: 'invalid', reason: /US-ASCII/ },
  { name: 'NOOP 0 bytes', bytes: tcp4(tlv(0x04, '')), outcome: 'complete' },
  { name: 'NOOP non-zero bytes', bytes: tcp4(tlv(0x04, 'ffff')), outcome: 'complete' },
  { name: 'ALPN', bytes: tcp4(tlv(0x01, ascii('h2'))), outcome: 'complete' },
  { name: 'custom 0xE0 and 0xEF', bytes: tcp4(tlv(0xe0, '01') + tlv(0xef, '')), outcome: 'complete' },
  { name: 'experimental 0xF0 and 0xF7', bytes: tcp4(tlv(0xf0, '01') + tlv(0xf7, '')), outcome: 'complete' },
  {
    name: 'future 0xF8 and 0xFF are skipped',
    bytes: tcp4(tlv(0xf8, '01') + tlv(0xff, '')),
    outcome: 'complete',
  },
  { name: 'unassigned 0x00 and 0x06', bytes: tcp4(tlv(0x00, '') + tlv(0x06, 'aa')), outcome: 'complete' },

  // Repeats.
  { name: 'NOOP twice', bytes: tcp4(tlv(0x04, '') + tlv(0x04, '00')), outcome: 'complete' },
  { name: 'custom 0xE0 twice', bytes: tcp4(tlv(0xe0, '01') + tlv(0xe0, '02')), outcome: 'complete' },
  {
    name: 'AUTHORITY twice',
    bytes: tcp4(tlv(0x02, '61') + tlv(0x02, '62')),
    outcome: 'invalid',
    reason: /more than once/,
  },
  { name: 'UNIQUE_ID twice', bytes: tcp4(tlv(0x05, '61') + tlv(0x05, '61')), outcome: 'invalid' },
  { name: 'ALPN twice', bytes: tcp4(tlv(0x01, '61') + tlv(0x01, '62')), outcome: 'invalid' },
  { name: 'NETNS twice', bytes: tcp4(tlv(0x30, '61') + tlv(0x30, '62')), outcome: 'invalid' },

  // CRC32C.
  {
    name: 'CRC32C correct',
    bytes: withCrc(0x21, 0x11, INET_BLOCK + tlv(0x05, ascii('x'))),
    outcome: 'complete',
  },
  { name: 'CRC32C correct on LOCAL', bytes: withCrc(0x20, 0x00, ''), outcome: 'complete' },
  {
    name: 'CRC32C wrong by one bit',
    bytes: withCrc(0x21, 0x11, INET_BLOCK, true),
    outcome: 'invalid',
    reason: /mismatch/,
  },
  { name: 'CRC32C 3 bytes', bytes: tcp4(tlv(0x03, '000000')), outcome: 'invalid', reason: /exactly 4/ },
  { name: 'CRC32C 5 bytes', bytes: tcp4(tlv(0x03, '0000000000')), outcome: 'invalid', reason: /exactly 4/ },
  {
    name: 'CRC32C twice',
    bytes: withCrc(0x21, 0x11, INET_BLOCK + tlv(0x03, '00000000')),
    outcome: 'invalid',
    reason: /more than once/,
  },

  // SSL and its sub-TLVs.
  {
    name: 'SSL 4-byte value',
    bytes: tcp4(tlv(0x20, '01000000')),
    outcome: 'invalid',
    reason: /shorter than/,
  },
  { name: 'SSL 5-byte value', bytes: tcp4(tlv(0x20, sslValue(0, 0, ''))), outcome: 'complete' },
  {
    name: 'SSL sub-TLVs fill the value',
    bytes: tcp4(
      tlv(0x20, sslValue(7, 0, tlv(0x21, ascii('TLSv1.3')) + tlv(0x22, ascii('ü')) + tlv(0x26, 'ff'))),
    ),
    outcome: 'complete',
  },
  {
    name: 'SSL sub-TLV overruns the SSL value by one',
    bytes: tcp4(tlv(0x20, `${sslValue(1, 0, '')}210004${ascii('TLS')}`)),
    outcome: 'invalid',
    reason: /SSL sub-TLV VERSION .* declares 4 value bytes but only 3/,
  },
  {
    name: 'SSL sub-TLV header cut',
    bytes: tcp4(tlv(0x20, `${sslValue(1, 0, '')}2100`)),
    outcome: 'invalid',
    reason: /SSL sub-TLV/,
  },
  {
    name: 'SSL VERSION not US-ASCII',
    bytes: tcp4(tlv(0x20, sslValue(1, 0, tlv(0x21, 'c3a9')))),
    outcome: 'invalid',
    reason: /VERSION is not US-ASCII/,
  },
  {
    name: 'SSL CN not UTF-8',
    bytes: tcp4(tlv(0x20, sslValue(1, 0, tlv(0x22, 'ff')))),
    outcome: 'invalid',
    reason: /CN is not UTF-8/,
  },
  {
    name: 'SSL CN twice',
    bytes: tcp4(tlv(0x20, sslValue(1, 0, tlv(0x22, '61') + tlv(0x22, '62')))),
    outcome: 'invalid',
    reason: /CN appears more than once/,
  },
  {
    name: 'SSL twice',
    bytes: tcp4(tlv(0x20, sslValue(0, 0, '')) + tlv(0x20, sslValue(0, 0, ''))),
    outcome: 'invalid',
  },

  // Partial input: reported incomplete only while every byte so far is valid.
  { name: 'empty input', bytes: new Uint8Array(0), outcome: { incomplete: 16 } },
  { name: '12 signature bytes', bytes: frame(0x21, 0x11, '').subarray(0, 12), outcome: { incomplete: 4 } },
  { name: 'bad version seen at 13 bytes', bytes: frame(0x11, 0x11, '').subarray(0, 13), outcome: 'invalid' },
  { name: 'bad family seen at 14 bytes', bytes: frame(0x21, 0x51, '').subarray(0, 14), outcome: 'invalid' },
  { name: 'signature mismatch at byte 1', bytes: hexToBytes('0d0b') ?? new Uint8Array(), outcome: 'invalid' },
];

function describeResult(result: DecodeResult): string {
  return JSON.stringify(
    result.status === 'complete' ? { ...result, header: toPlainHeader(result.header) } : result,
  );
}

describe('decodeV2 boundaries', () => {
  for (const testCase of cases) {
    it(testCase.name, () => {
      const result = decodeV2(testCase.bytes);
      const { outcome } = testCase;
      if (typeof outcome === 'object') {
        assert.deepEqual(result, { status: 'incomplete', needed: outcome.incomplete });
        return;
      }
      assert.equal(result.status, outcome, describeResult(result));
      if (result.status === 'complete') {
        assert.equal(result.consumed, testCase.bytes.length);
        // Whatever decodes re-encodes to the same bytes (future types only on request, see tlv-types.ts).
        const reencoded = encodeV2(result.header, { allowFutureTypes: true, maxHeaderBytes: 65551 });
        assert.equal(bytesToHex(reencoded), bytesToHex(testCase.bytes));
      }
      if (result.status === 'invalid' && testCase.reason) assert.match(result.reason, testCase.reason);
    });
  }
});

describe('decodeV2 size cap', () => {
  const sized = (total: number) => tcp4(tlv(0xe0, repeat('00', total - 16 - 12 - 3)));

  it('accepts a 4096-byte header and rejects 4097 bytes by default', () => {
    assert.equal(decodeV2(sized(4096)).status, 'complete');
    const result = decodeV2(sized(4097));
    assert.equal(result.status, 'invalid');
    if (result.status === 'invalid') assert.match(result.reason, /4097 bytes .* 4096-byte limit/);
  });

  it('rejects an oversized header from its first 16 bytes, without waiting for the body', () => {
    assert.equal(decodeV2(sized(5000).subarray(0, 16)).status, 'invalid');
  });

  it('honours maxHeaderBytes up to the protocol maximum', () => {
    assert.equal(decodeV2(sized(4097), { maxHeaderBytes: 4097 }).status, 'complete');
    assert.equal(decodeV2(sized(4097), { maxHeaderBytes: 4096 }).status, 'invalid');
    const largest = sized(16 + 0xffff);
    assert.equal(largest.length, 65551);
    assert.equal(decodeV2(largest, { maxHeaderBytes: 65551 }).status, 'complete');
  });

  it('refuses a cap outside 16-65551', () => {
    for (const bad of [15, 65552, 1.5, Number.NaN]) {
      assert.throws(() => decodeV2(tcp4(''), { maxHeaderBytes: bad }), Ppv2ValueError);
    }
  });
});

describe('decodeV2 results', () => {
  it('decodes addresses, ports 0 and 65535, and TLVs into a plain view', () => {
    const block = `00000000ffffffff0000ffff`;
    const result = decodeV2(frame(0x21, 0x12, block + tlv(0xe0, '2a')));
    assert.equal(result.status, 'complete');
    if (result.status !== 'complete') return;
    assert.deepEqual(toPlainHeader(result.header), {
      version: 2,
      command: 'PROXY',
      family: 'INET',
      transport: 'DGRAM',
      src: '0.0.0.0',
      dst: '255.255.255.255',
      srcPort: 0,
      dstPort: 65535,
      tlvs: [{ type: 0xe0, hex: '2a' }],
    });
  });

  it('decodes unix paths: full 108 bytes, abstract "@name", unnamed, garbage after the NUL', () => {
    const full = ascii(`/${'p'.repeat(107)}`);
    const abstract = `00${ascii('lbctl')}`.padEnd(216, '0');
    const block = full + abstract;
    const result = decodeV2(frame(0x21, 0x31, block));
    assert.equal(result.status, 'complete');
    if (result.status === 'complete' && result.header.family === 'UNIX') {
      assert.equal(result.header.src, `/${'p'.repeat(107)}`);
      assert.equal(result.header.dst, '@lbctl');
    }
    const messy = `${ascii('/a')}00ffff`.padEnd(216, '0') + repeat('00', 108);
    const second = decodeV2(frame(0x21, 0x32, messy));
    assert.equal(second.status, 'complete');
    if (second.status === 'complete' && second.header.family === 'UNIX') {
      assert.equal(second.header.src, '/a');
      assert.equal(second.header.dst, '');
    }
  });

  it('decodes non-UTF-8 unix paths to text that encodes again (property-test regression)', () => {
    // 108 path bytes, one of them not UTF-8: shown as U+FFFD (3 bytes) the text was 110 bytes long and
    // encodeV2 refused the decoded header. Abstract names had the same problem one byte shorter.
    const full = `${ascii('/')}80${ascii('p'.repeat(106))}`;
    const abstract = `00${ascii('lb')}c3${ascii('x'.repeat(104))}`;
    const result = decodeV2(frame(0x21, 0x31, full + abstract));
    assert.equal(result.status, 'complete');
    if (result.status !== 'complete' || result.header.family !== 'UNIX') return;
    assert.equal(result.header.src, `/?${'p'.repeat(106)}`);
    assert.equal(result.header.dst, `@lb?${'x'.repeat(104)}`);
    const again = decodeV2(encodeV2(result.header));
    assert.deepStrictEqual(again, result);
  });

  it('reads a sun_path of just "@" as the file "@" and encodes it back (property-test regression)', () => {
    // "@" used to be refused by the encoder as an abstract socket without a name, so a header the
    // decoder accepted (sun_path "@" then NULs) could not be encoded again.
    const block = `${ascii('@')}`.padEnd(216, '0') + repeat('00', 108);
    const bytes = frame(0x21, 0x31, block);
    const result = decodeV2(bytes);
    assert.equal(result.status, 'complete');
    if (result.status !== 'complete' || result.header.family !== 'UNIX') return;
    assert.equal(result.header.src, '@');
    assert.equal(bytesToHex(encodeV2(result.header)), bytesToHex(bytes));
  });

  it('does not write to the input buffer and returns fresh plain Uint8Array values', () => {
    const bytes = withCrc(0x21, 0x11, INET_BLOCK + tlv(0x05, ascii('id')));
    const buffer = Buffer.from(bytes);
    const before = buffer.toString('hex');
    const result = decodeV2(buffer);
    assert.equal(buffer.toString('hex'), before);
    assert.equal(result.status, 'complete');
    if (result.status !== 'complete') return;
    const value = result.header.tlvs[0]?.value;
    assert.ok(value);
    assert.equal(Object.getPrototypeOf(value), Uint8Array.prototype);
    buffer.fill(0);
    assert.equal(bytesToHex(value), ascii('id'));
  });

  it('consumes only the header when payload follows', () => {
    const bytes = new Uint8Array([...tcp4(tlv(0x04, '')), 0x47, 0x45, 0x54]);
    const result = decodeV2(bytes);
    assert.equal(result.status, 'complete');
    if (result.status === 'complete') assert.equal(result.consumed, bytes.length - 3);
  });
});

describe('encodeV2', () => {
  const base: V2Header = {
    version: 2,
    command: 'PROXY',
    family: 'INET',
    transport: 'STREAM',
    src: '192.0.2.10',
    dst: '203.0.113.10',
    srcPort: 51234,
    dstPort: 80,
    tlvs: [],
  };

  it('writes the layout byte for byte', () => {
    assert.equal(bytesToHex(encodeV2(base)), `${SIGNATURE}2111000c${INET_BLOCK}`);
    const local: V2Header = { version: 2, command: 'LOCAL', family: 'UNSPEC', transport: 'UNSPEC', tlvs: [] };
    assert.equal(bytesToHex(encodeV2(local)), `${SIGNATURE}20000000`);
  });

  it('computes CRC32C when asked, and recomputes a CRC32C TLV wherever it sits', () => {
    const withOption = encodeV2({ ...base, tlvs: [uniqueIdTlv('x')] }, { crc32c: true });
    const expected = withCrc(0x21, 0x11, INET_BLOCK + tlv(0x05, ascii('x')));
    assert.equal(bytesToHex(withOption), bytesToHex(expected));
    const first = encodeV2({ ...base, tlvs: [crc32cTlv(), uniqueIdTlv('x')] });
    assert.equal(decodeV2(first).status, 'complete');
    const stale = { type: 0x03, value: new Uint8Array([1, 2, 3, 4]) };
    assert.equal(decodeV2(encodeV2({ ...base, tlvs: [stale] })).status, 'complete');
    // crc32c: true does not add a second one.
    assert.equal(
      bytesToHex(encodeV2({ ...base, tlvs: [stale] }, { crc32c: true })),
      bytesToHex(encodeV2({ ...base, tlvs: [stale] })),
    );
  });

  const refusals: Array<[string, V2Header, RegExp, Parameters<typeof encodeV2>[1]?]> = [
    ['version', { ...base, version: 3 } as unknown as V2Header, /version 3/],
    ['command', { ...base, command: 'HEALTH' } as unknown as V2Header, /command "HEALTH"/],
    ['family', { ...base, family: 'INET4' } as unknown as V2Header, /family "INET4"/],
    ['transport', { ...base, transport: 'SEQPACKET' } as unknown as V2Header, /transport "SEQPACKET"/],
    ['UNSPEC + STREAM', { ...base, family: 'UNSPEC' } as V2Header, /UNSPEC family requires UNSPEC transport/],
    ['INET + UNSPEC transport', { ...base, transport: 'UNSPEC' }, /requires STREAM or DGRAM/],
    ['IPv6 in INET', { ...base, src: '2001:db8::1' }, /src "2001:db8::1" is not an IPv4 address/],
    [
      'IPv4 in INET6',
      { ...base, family: 'INET6', dst: '192.0.2.1', src: '::1' },
      /dst "192.0.2.1" is not an IPv6/,
    ],
    ['port 65536', { ...base, srcPort: 65536 }, /srcPort 65536/],
    ['port -1', { ...base, dstPort: -1 }, /dstPort -1/],
    ['port 1.5', { ...base, dstPort: 1.5 }, /dstPort 1.5/],
    [
      'unix path of 109 bytes',
      { ...base, family: 'UNIX', src: `/${'a'.repeat(108)}`, dst: '' } as V2Header,
      /109 bytes, more than 108/,
    ],
    ['unix path with NUL', { ...base, family: 'UNIX', src: 'a\0b', dst: '' } as V2Header, /NUL/],
    ['UNIQUE_ID 129 bytes', { ...base, tlvs: [{ type: 5, value: new Uint8Array(129) }] }, /129 bytes/],
    ['CRC32C 3 bytes', { ...base, tlvs: [{ type: 3, value: new Uint8Array(3) }] }, /exactly 4/],
    ['AUTHORITY twice', { ...base, tlvs: [authorityTlv('a'), authorityTlv('b')] }, /more than once/],
    ['type 256', { ...base, tlvs: [{ type: 256, value: new Uint8Array() }] }, /type 256 is not a byte/],
    [
      'value not bytes',
      { ...base, tlvs: [{ type: 0xe0, value: [1] }] } as unknown as V2Header,
      /not a Uint8Array/,
    ],
    [
      'value over 65535 bytes',
      { ...base, tlvs: [{ type: 0xe0, value: new Uint8Array(65536) }] },
      /65536 bytes/,
    ],
    [
      'future type 0xF8',
      { ...base, tlvs: [{ type: 0xf8, value: new Uint8Array() }] },
      /reserved for future use/,
    ],
    [
      'over 4096 bytes',
      { ...base, tlvs: [noopTlv(4096 - 16 - 12 - 3 + 1)] },
      /4097 bytes, more than the 4096-byte limit/,
    ],
    ['over a lower cap', base, /28 bytes, more than the 20-byte limit/, { maxHeaderBytes: 20 }],
  ];
  for (const [name, header, message, options] of refusals) {
    it(`refuses ${name}`, () => {
      assert.throws(
        () => encodeV2(header, options),
        (error: unknown) =>
          error instanceof Ppv2ValueError &&
          error.message.startsWith('cannot encode PROXY v2 header: ') &&
          message.test(error.message),
      );
    });
  }

  it('emits future types only with allowFutureTypes, and they decode as opaque TLVs', () => {
    const header: V2Header = { ...base, tlvs: [{ type: 0xf8, value: new Uint8Array([1]) }] };
    const bytes = encodeV2(header, { allowFutureTypes: true });
    const result = decodeV2(bytes);
    assert.equal(result.status, 'complete');
    if (result.status === 'complete') assert.deepEqual(result.header, header);
  });

  it('writes canonical IPv6 text whatever form it was given', () => {
    const bytes = encodeV2({
      ...base,
      family: 'INET6',
      src: '2001:DB8:0:0:0:0:0:0010',
      dst: '::FFFF:192.0.2.1',
    });
    const result = decodeV2(bytes);
    assert.equal(result.status, 'complete');
    if (result.status === 'complete' && result.header.family === 'INET6') {
      assert.equal(result.header.src, '2001:db8::10');
      assert.equal(result.header.dst, '::ffff:192.0.2.1');
    }
  });
});

describe('TLV builders and typed views', () => {
  it('builds every registered type and reads it back', () => {
    const tlvs = [
      alpnTlv('h2'),
      authorityTlv('example.com'),
      crc32cTlv(),
      noopTlv(3),
      uniqueIdTlv('conn-1'),
      uniqueIdTlv(new Uint8Array([0, 1])),
      sslTlv({
        client: SslClientFlag.SSL | SslClientFlag.CERT_CONN,
        verify: 0,
        version: 'TLSv1.3',
        cn: 'client.example',
        cipher: 'TLS_AES_128_GCM_SHA256',
        sigAlg: 'RSA-SHA256',
        keyAlg: 'RSA2048',
        extra: [{ type: 0x26, value: new Uint8Array([9]) }],
      }),
      netnsTlv('blue'),
      rawTlv(0xe1, new Uint8Array([1])),
      rawTlv(0xf1, new Uint8Array()),
      rawTlv(0xfe, new Uint8Array()),
      rawTlv(0x07, new Uint8Array()),
    ];
    const infos = tlvs.map(tlvInfo);
    assert.deepEqual(
      infos.map((info) => info.kind),
      [
        'ALPN',
        'AUTHORITY',
        'CRC32C',
        'NOOP',
        'UNIQUE_ID',
        'UNIQUE_ID',
        'SSL',
        'NETNS',
        'CUSTOM',
        'EXPERIMENTAL',
        'FUTURE',
        'UNASSIGNED',
      ],
    );
    assert.deepEqual(infos[0], { kind: 'ALPN', type: 1, protocol: 'h2' });
    assert.deepEqual(infos[1], { kind: 'AUTHORITY', type: 2, host: 'example.com' });
    assert.deepEqual(infos[3], { kind: 'NOOP', type: 4, length: 3 });
    assert.equal(infos[4]?.kind === 'UNIQUE_ID' ? infos[4].text : undefined, 'conn-1');
    assert.equal(infos[5]?.kind === 'UNIQUE_ID' ? infos[5].text : 'absent', undefined);
    assert.deepEqual(infos[7], { kind: 'NETNS', type: 0x30, name: 'blue' });
    const ssl = infos[6]?.kind === 'SSL' ? infos[6].ssl : undefined;
    assert.ok(ssl);
    assert.equal(ssl.client, 3);
    assert.equal(ssl.clientSsl, true);
    assert.equal(ssl.clientCertConn, true);
    assert.equal(ssl.clientCertSess, false);
    assert.equal(ssl.verify, 0);
    assert.equal(ssl.version, 'TLSv1.3');
    assert.equal(ssl.cn, 'client.example');
    assert.equal(ssl.cipher, 'TLS_AES_128_GCM_SHA256');
    assert.equal(ssl.sigAlg, 'RSA-SHA256');
    assert.equal(ssl.keyAlg, 'RSA2048');
    assert.deepEqual(
      ssl.subTlvs.map((sub) => sub.type),
      [0x21, 0x22, 0x23, 0x24, 0x25, 0x26],
    );
  });

  it('reads the SSL verify field as unsigned 32 bits', () => {
    const info = tlvInfo(sslTlv({ client: 0, verify: 0xffffffff }));
    assert.equal(info.kind === 'SSL' ? info.ssl.verify : undefined, 0xffffffff);
  });

  it('reports a registered TLV that breaks its rule as MALFORMED', () => {
    const info = tlvInfo({ type: 0x03, value: new Uint8Array(2) });
    assert.equal(info.kind, 'MALFORMED');
  });

  it('refuses values that break the rules', () => {
    const usage = (error: unknown) => error instanceof Ppv2ValueError;
    assert.throws(() => uniqueIdTlv('x'.repeat(129)), usage);
    assert.throws(() => authorityTlv('a'.repeat(256)), usage);
    assert.throws(() => netnsTlv('ünicode'), usage);
    assert.throws(() => netnsTlv(''), usage);
    assert.throws(() => noopTlv(-1), usage);
    assert.throws(() => noopTlv(65536), usage);
    assert.throws(() => sslTlv({ client: 256, verify: 0 }), usage);
    assert.throws(() => sslTlv({ client: 0, verify: -1 }), usage);
    assert.throws(() => sslTlv({ client: 0, verify: 0, cipher: 'ü' }), usage);
    assert.throws(
      () => sslTlv({ client: 0, verify: 0, cn: 'a', extra: [{ type: 0x22, value: new Uint8Array() }] }),
      usage,
    );
    assert.throws(() => rawTlv(0x03, new Uint8Array(5)), usage);
    assert.throws(() => rawTlv(0xe0, new Uint8Array(65536)), usage);
    assert.throws(() => rawTlv(-1, new Uint8Array()), usage);
  });
});

describe('the public test vector with AUTHORITY and CRC32C', () => {
  it('holds AUTHORITY "12345" and a verified CRC32C', () => {
    const bytes = hexToBytes(
      '0d0a0d0a000d0a515549540a2111001b7f0000017f000001002a0539020005313233343503000412202c48',
    );
    assert.ok(bytes);
    const result = decodeV2(bytes);
    assert.equal(result.status, 'complete');
    if (result.status !== 'complete') return;
    assert.deepEqual(result.header.tlvs.map(tlvInfo), [
      { kind: 'AUTHORITY', type: 2, host: '12345' },
      { kind: 'CRC32C', type: 3, checksum: 0x12202c48 },
    ]);
  });
});
