/**
 * The ABI declaration (src/bpf/abi.ts) against everything that depends on it:
 * - the generated C header and ABI.md tables are current (a hand edit on either side fails here);
 * - the compiled object's BTF has every declared struct and map exactly as declared, field by field;
 * - the record codecs put every field where the declaration says, checked with a reader and writer that know
 *   only the declared layout (not the codecs), so an offset wrong in both encoder and decoder still fails.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DOC_PATH, HEADER_PATH, missingDocRegions, renderDoc, renderHeader } from '../../scripts/gen-abi.js';
import {
  CFG_FLAGS,
  CT_FLAGS,
  CT_KIND,
  CT_STATE,
  type FieldLayout,
  MAP_TYPES,
  MAPS,
  MODE,
  STRUCT_LAYOUTS,
  type StructName,
  SVC_FLAGS,
} from '../../src/bpf/abi.js';
import * as records from '../../src/bpf/records.js';
import { Btf } from '../helpers/btf.js';
import { missingPrerequisites } from '../helpers/prereq.js';

const OBJECT = fileURLToPath(new URL('../../bpf/build/lbctl.bpf.o', import.meta.url));

describe('ABI: generated files are current', () => {
  it('bpf/lbctl_abi.h is what src/bpf/abi.ts generates', () => {
    assert.equal(readFileSync(HEADER_PATH, 'utf8'), renderHeader(), 'run npm run gen:abi');
  });

  it("bpf/ABI.md's tables are what src/bpf/abi.ts generates", () => {
    const doc = readFileSync(DOC_PATH, 'utf8');
    assert.deepEqual(missingDocRegions(doc), []);
    assert.equal(doc, renderDoc(doc), 'run npm run gen:abi');
  });

  it('notices a stale table', () => {
    const doc = readFileSync(DOC_PATH, 'utf8').replace('| 0 | 4 | id |', '| 0 | 8 | id |');
    assert.notEqual(renderDoc(doc), doc);
  });
});

/** C spelling of a declared field's type, as BTF spells it. */
const declaredCtype = (f: FieldLayout) => (f.count === null ? f.ctype : `${f.ctype}[${f.count}]`);
const declaredMapType = (t: string | null) =>
  t === null ? null : t in STRUCT_LAYOUTS || !/^u\d+$/.test(t) ? `struct ${t}` : `__${t}`;

/**
 * Structs that no map, global or function signature uses, so BTF does not carry them: ring buffer records are
 * reserved as raw bytes. Their layout is still pinned by the generated header's size and offset asserts, which
 * compile with the program.
 */
const ONLY_IN_HEADER = new Set(['lb_event']);

describe('ABI: the compiled object matches the declaration (BTF)', () => {
  let btf: Btf;
  before(() => {
    // No skip: bpftool comes with scripts/setup.sh, and reading BTF needs no privileges.
    assert.deepEqual(missingPrerequisites({ binaries: ['bpftool'] }), [], 'run scripts/setup.sh');
    assert.ok(existsSync(OBJECT), `${OBJECT} is missing: run scripts/build-bpf.sh`);
    btf = new Btf(OBJECT);
  });

  for (const [name, layout] of Object.entries(STRUCT_LAYOUTS)) {
    if (ONLY_IN_HEADER.has(name)) {
      it(`struct ${name} is checked by the generated header's asserts (clang emits no BTF for it)`, () => {
        assert.equal(btf.struct(name), null, 'now in BTF: drop it from ONLY_IN_HEADER');
      });
      continue;
    }
    it(`struct ${name}: size, and every field's name, offset, size and type`, () => {
      const compiled = btf.struct(name);
      assert.ok(compiled, `struct ${name} is not in the object's BTF`);
      assert.deepEqual(
        compiled.members,
        layout.fields.map((f) => ({ name: f.name, offset: f.offset, size: f.size, ctype: declaredCtype(f) })),
      );
      assert.equal(compiled.size, layout.size);
    });
  }

  it('every map: name, type, max_entries, key and value types; and no undeclared map', () => {
    const compiled = btf.maps();
    const declared = Object.values(MAPS).map((m) => ({
      name: m.name,
      type: MAP_TYPES[m.type],
      maxEntries: m.maxEntries,
      key: declaredMapType(m.key),
      value: declaredMapType(m.value),
    }));
    const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);
    assert.deepEqual([...compiled].sort(byName), [...declared].sort(byName));
  });
});

// ---------------------------------------------------------------------------------------------------------
// codecs against the declared layout

type Raw = Record<string, number | bigint | string>;

/** A field's value as the declared layout says to read it: integers, or hex for byte arrays. */
function readField(buf: Buffer, f: FieldLayout): number | bigint | string {
  if (f.count !== null) return buf.subarray(f.offset, f.offset + f.size).toString('hex');
  switch (f.ctype) {
    case '__u8':
      return buf.readUInt8(f.offset);
    case '__be16':
      return buf.readUInt16BE(f.offset);
    case '__u16':
      return buf.readUInt16LE(f.offset);
    case '__u32':
      return buf.readUInt32LE(f.offset);
    case '__u64':
      return buf.readBigUInt64LE(f.offset);
    default:
      return buf.subarray(f.offset, f.offset + f.size).toString('hex');
  }
}

function writeField(buf: Buffer, f: FieldLayout, v: number | bigint | string): void {
  if (typeof v === 'string') Buffer.from(v, 'hex').copy(buf, f.offset);
  else if (typeof v === 'bigint') buf.writeBigUInt64LE(v, f.offset);
  else if (f.ctype === '__u8') buf.writeUInt8(v, f.offset);
  else if (f.ctype === '__be16') buf.writeUInt16BE(v, f.offset);
  else if (f.ctype === '__u16') buf.writeUInt16LE(v, f.offset);
  else buf.writeUInt32LE(v, f.offset);
}

const field = (s: StructName, name: string) => {
  const f = STRUCT_LAYOUTS[s].fields.find((x) => x.name === name);
  if (!f) throw new Error(`${s}.${name} is not declared`);
  return f;
};

function readDeclared(s: StructName, buf: Buffer, names: string[]): Raw {
  return Object.fromEntries(names.map((n) => [n, readField(buf, field(s, n))]));
}

function writeDeclared(s: StructName, raw: Raw): Buffer {
  const buf = Buffer.alloc(STRUCT_LAYOUTS[s].size);
  for (const [n, v] of Object.entries(raw)) writeField(buf, field(s, n), v);
  return buf;
}

const hex16 = (h: string) => h.padEnd(32, '0');
const peerKey = { saddr: '198.51.100.2', daddr: '198.51.100.1', sport: 8080, dport: 40001 };
const rawPeer = writeDeclared('lb_ct_key', {
  saddr: hex16('c6336402'),
  daddr: hex16('c6336401'),
  sport: 8080,
  dport: 40001,
  proto: 6,
  family: 4,
}).toString('hex');

interface CodecCase {
  struct: StructName;
  /** The record as the codec takes or gives it. */
  value: unknown;
  /** The same record field by field, as the declared layout holds it. */
  raw: Raw;
  encode?: (v: never) => Buffer;
  decode: (b: Buffer) => unknown;
}

const ctEntry: records.CtEntry = {
  kind: 'reply',
  peer: { ...peerKey, protocol: 'tcp', family: 4 },
  state: 'fin',
  mode: 'dnat',
  flags: {
    ppv2: true,
    headerSent: false,
    finFromClient: true,
    finFromBackend: false,
    uniqueIdTlv: false,
    crc32cTlv: true,
    headerAcked: false,
    mirror: true,
    dataSent: true,
    proxyV1: true,
  },
  ppv2Len: 62,
  serviceId: 11,
  backendId: 12,
  clientIsn: 0xdeadbeef,
  reinjections: 2,
  createdNs: 1001n,
  lastSeenNs: 1002n,
  packetsFromClient: 1003n,
  bytesFromClient: 1004n,
  packetsFromBackend: 1005n,
  bytesFromBackend: 1006n,
  uniqueId: Buffer.from('00112233445566778899aabbccddeeff', 'hex'),
};

const CASES: CodecCase[] = [
  {
    struct: 'lb_service',
    value: {
      id: 7,
      mode: 'dnat',
      ppv2: true,
      uniqueId: false,
      crc32c: true,
      proxyV1: false,
      liveness: true,
      applied: true,
      snatAddr: '198.51.100.1',
      tlvs: Buffer.from('e00001ff', 'hex'),
    },
    raw: {
      id: 7,
      mode: MODE.values.DNAT,
      flags:
        SVC_FLAGS.values.PPV2 |
        SVC_FLAGS.values.CRC32C |
        SVC_FLAGS.values.LIVENESS |
        SVC_FLAGS.values.APPLIED,
      tlv_len: 4,
      snat_addr: hex16('c6336401'),
      tlvs: 'e00001ff'.padEnd(256, '0'),
    },
    encode: records.encodeService,
    decode: (b) => records.decodeService(b, 4),
  },
  {
    struct: 'lb_service',
    value: {
      id: 8,
      mode: 'fullnat',
      ppv2: true,
      uniqueId: false,
      crc32c: false,
      proxyV1: true,
      liveness: false,
      applied: false,
      snatAddr: '198.51.100.1',
      tlvs: Buffer.alloc(0),
    },
    raw: {
      id: 8,
      mode: MODE.values.FULLNAT,
      flags: SVC_FLAGS.values.PPV2 | SVC_FLAGS.values.PPV1,
      tlv_len: 0,
      snat_addr: hex16('c6336401'),
      tlvs: ''.padEnd(256, '0'),
    },
    encode: records.encodeService,
    decode: (b) => records.decodeService(b, 4),
  },
  {
    struct: 'lb_backend',
    value: { addr: '2001:db8:b::2', port: 8443, weight: 5, family: 6, down: true, srcAddr: '2001:db8:b::1' },
    raw: {
      addr: '20010db8000b00000000000000000002',
      port: 8443,
      family: 6,
      flags: 1,
      weight: 5,
      src_addr: '20010db8000b00000000000000000001',
    },
    encode: records.encodeBackend,
    decode: records.decodeBackend,
  },
  {
    struct: 'lb_ct_entry',
    value: ctEntry,
    raw: {
      peer: rawPeer,
      kind: CT_KIND.values.REPLY,
      state: CT_STATE.values.FIN,
      mode: MODE.values.DNAT,
      flags:
        CT_FLAGS.values.PPV2 |
        CT_FLAGS.values.FIN_ORIG |
        CT_FLAGS.values.CRC32C |
        CT_FLAGS.values.MIRROR |
        CT_FLAGS.values.DATA_SENT |
        CT_FLAGS.values.PPV1,
      ppv2_len: 62,
      svc_id: 11,
      backend_id: 12,
      client_isn: 0xdeadbeef,
      reinjections: 2,
      created_ns: 1001n,
      last_seen_ns: 1002n,
      packets_orig: 1003n,
      bytes_orig: 1004n,
      packets_reply: 1005n,
      bytes_reply: 1006n,
      unique_id: '00112233445566778899aabbccddeeff',
    },
    encode: records.encodeCtEntry,
    decode: records.decodeCtEntry,
  },
  {
    struct: 'lb_config',
    value: {
      bootId: 0x0102030405060708n,
      events: true,
      detaching: 'drain',
      timeouts: { synSentS: 31, establishedS: 901, finS: 61, closedS: 11, udpS: 17 },
      snatPorts: { min: 20000, max: 29999 },
    },
    raw: {
      boot_id: 0x0102030405060708n,
      flags: CFG_FLAGS.values.EVENTS | CFG_FLAGS.values.DRAIN,
      timeout_syn_s: 31,
      timeout_est_s: 901,
      timeout_fin_s: 61,
      timeout_closed_s: 11,
      snat_port_min: 20000,
      snat_port_max: 29999,
      timeout_udp_s: 17,
    },
    encode: records.encodeConfig,
    decode: records.decodeConfig,
  },
  {
    struct: 'lb_event',
    value: {
      type: 'failure',
      reason: 'drop_no_backend',
      serviceId: 9,
      timestampNs: 77n,
      family: 4,
      client: { addr: '192.0.2.10', port: 40001 },
      vip: { addr: '203.0.113.10', port: 80 },
      header: Buffer.from('0d0a', 'hex'),
    },
    raw: {
      ts_ns: 77n,
      type: 3,
      reason: records.COUNTER_NAMES.indexOf('drop_no_backend'),
      svc_id: 9,
      family: 4,
      sport: 40001,
      dport: 80,
      hdr_len: 2,
      saddr: hex16('c000020a'),
      daddr: hex16('cb00710a'),
      hdr: '0d0a'.padEnd(2 * field('lb_event', 'hdr').size, '0'),
    },
    encode: records.encodeEvent,
    decode: records.decodeEvent,
  },
];

describe('ABI: record codecs put every field where the declaration says', () => {
  for (const c of CASES) {
    it(`${c.struct}: the decoder reads a record written by the layout alone`, () => {
      assert.deepEqual(c.decode(writeDeclared(c.struct, c.raw)), c.value);
    });
    const encode = c.encode;
    if (encode) {
      it(`${c.struct}: the encoder writes what the layout alone reads back`, () => {
        const buf = encode(c.value as never);
        assert.equal(buf.length, STRUCT_LAYOUTS[c.struct].size);
        assert.deepEqual(readDeclared(c.struct, buf, Object.keys(c.raw)), c.raw);
      });
    }
  }

  it('lb_stats: counter i is the i-th u64 of the value', () => {
    const c = field('lb_stats', 'c');
    const buf = Buffer.alloc(STRUCT_LAYOUTS.lb_stats.size);
    const i = records.COUNTER_NAMES.indexOf('sack_shifted');
    buf.writeBigUInt64LE(42n, c.offset + i * 8);
    assert.equal(records.decodeStats(buf).sack_shifted, 42n);
    assert.equal(records.encodeStats({ sack_shifted: 42n }).readBigUInt64LE(c.offset + i * 8), 42n);
  });
});
