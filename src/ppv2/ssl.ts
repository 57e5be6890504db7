import { readUint32, writeUint32 } from './bytes.js';
import { SSL_FIXED_BYTES, SslClientFlag, SslSubtype } from './constants.js';
import { decodeUtf8Strict, encodeUtf8, isUsAscii } from './text.js';
import { frameTlvList, readTlvList, tlvShapeError } from './tlv-framing.js';
import { SINGLE_VALUED_SSL_SUBTYPES, sslSubtypeName } from './tlv-types.js';
import type { Tlv } from './types.js';

/**
 * The value of an SSL TLV (type 0x20): `client` bitfield (1 byte), `verify` (uint32, 0 when the client
 * certificate was verified), then sub-TLVs that must fill the rest of the value exactly.
 */

export interface SslInfo {
  /** Raw PP2_CLIENT_* bitfield; bits the spec does not define are kept, not rejected. */
  readonly client: number;
  readonly clientSsl: boolean;
  readonly clientCertConn: boolean;
  readonly clientCertSess: boolean;
  readonly verify: number;
  readonly version?: string;
  readonly cn?: string;
  readonly cipher?: string;
  readonly sigAlg?: string;
  readonly keyAlg?: string;
  /** Every sub-TLV in wire order, named or not. */
  readonly subTlvs: readonly Tlv[];
}

/** Input of `sslTlv`: named sub-TLVs are written in the order below, then `extra` as given. */
export interface SslTlvInput {
  readonly client: number;
  readonly verify: number;
  readonly version?: string;
  readonly cn?: string;
  readonly cipher?: string;
  readonly sigAlg?: string;
  readonly keyAlg?: string;
  readonly extra?: readonly Tlv[];
}

type TextField = 'version' | 'cn' | 'cipher' | 'sigAlg' | 'keyAlg';

/** Named sub-TLVs: which field they fill and which text encoding the spec gives them. */
const TEXT_SUBTYPES: ReadonlyArray<{ type: number; field: TextField; encoding: 'US-ASCII' | 'UTF-8' }> = [
  { type: SslSubtype.VERSION, field: 'version', encoding: 'US-ASCII' },
  { type: SslSubtype.CN, field: 'cn', encoding: 'UTF-8' },
  { type: SslSubtype.CIPHER, field: 'cipher', encoding: 'US-ASCII' },
  { type: SslSubtype.SIG_ALG, field: 'sigAlg', encoding: 'US-ASCII' },
  { type: SslSubtype.KEY_ALG, field: 'keyAlg', encoding: 'US-ASCII' },
];

/** The parsed SSL value, or a message saying what is wrong with it. */
export function parseSslValue(value: Uint8Array): SslInfo | string {
  if (value.length < SSL_FIXED_BYTES) {
    return `SSL value is ${value.length} bytes, shorter than its ${SSL_FIXED_BYTES}-byte client and verify fields`;
  }
  const read = readTlvList(value, SSL_FIXED_BYTES, value.length, {
    what: 'SSL sub-TLV',
    nameOf: sslSubtypeName,
  });
  if ('error' in read) return read.error;
  const client = value[0] ?? 0;
  const texts: Partial<Record<TextField, string>> = {};
  const seen = new Set<number>();
  for (const sub of read.tlvs) {
    if (SINGLE_VALUED_SSL_SUBTYPES.has(sub.type)) {
      if (seen.has(sub.type)) return `SSL sub-TLV ${sslSubtypeName(sub.type)} appears more than once`;
      seen.add(sub.type);
    }
    const spec = TEXT_SUBTYPES.find((entry) => entry.type === sub.type);
    if (spec === undefined) continue;
    const text = decodeText(sub.value, spec.encoding);
    if (text === undefined) return `SSL sub-TLV ${sslSubtypeName(sub.type)} is not ${spec.encoding} text`;
    texts[spec.field] = text;
  }
  return {
    client,
    clientSsl: (client & SslClientFlag.SSL) !== 0,
    clientCertConn: (client & SslClientFlag.CERT_CONN) !== 0,
    clientCertSess: (client & SslClientFlag.CERT_SESS) !== 0,
    verify: readUint32(value, 1),
    ...texts,
    subTlvs: read.tlvs.map(({ type, value: bytes }) => ({ type, value: bytes })),
  };
}

/** The SSL value for `input`, or a message naming the bad field. */
export function buildSslValue(input: SslTlvInput): Uint8Array | string {
  if (!Number.isInteger(input.client) || input.client < 0 || input.client > 0xff) {
    return `SSL client ${JSON.stringify(input.client)} is not a byte (0-255)`;
  }
  if (!Number.isInteger(input.verify) || input.verify < 0 || input.verify > 0xffffffff) {
    return `SSL verify ${JSON.stringify(input.verify)} is not a 32-bit unsigned integer`;
  }
  const subs: Tlv[] = [];
  for (const spec of TEXT_SUBTYPES) {
    const text = input[spec.field];
    if (text === undefined) continue;
    const bytes = encodeUtf8(text);
    if (spec.encoding === 'US-ASCII' && !isUsAscii(bytes)) {
      return `SSL ${spec.field} ${JSON.stringify(text)} is not US-ASCII`;
    }
    subs.push({ type: spec.type, value: bytes });
  }
  for (const extra of input.extra ?? []) {
    const shape = tlvShapeError(extra, 'SSL sub-TLV');
    if (shape !== undefined) return shape;
    subs.push(extra);
  }
  const framed = frameTlvList(subs);
  const out = new Uint8Array(SSL_FIXED_BYTES + framed.length);
  out[0] = input.client;
  writeUint32(out, 1, input.verify);
  out.set(framed, SSL_FIXED_BYTES);
  // Parse what was built, so `extra` follows the same rules as decoded sub-TLVs (no second CN, ...).
  const check = parseSslValue(out);
  return typeof check === 'string' ? check : out;
}

function decodeText(bytes: Uint8Array, encoding: 'US-ASCII' | 'UTF-8'): string | undefined {
  if (encoding === 'US-ASCII' && !isUsAscii(bytes)) return undefined;
  return decodeUtf8Strict(bytes);
}
