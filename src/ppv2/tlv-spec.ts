import { Ppv2ValueError } from './errors.js';
import { hexToBytes } from './hex.js';
import { encodeUtf8 } from './text.js';
import { tlvTypeClass, tlvTypeName } from './tlv-types.js';
import { alpnTlv, authorityTlv, crc32cTlv, netnsTlv, noopTlv, rawTlv, uniqueIdTlv } from './tlv-values.js';
import type { Tlv } from './types.js';

/**
 * The `--tlv` flag syntax of `lbctl ppv2 encode` and service options:
 *
 *   alpn=PROTO          ALPN, e.g. alpn=h2
 *   authority=HOST      AUTHORITY, e.g. authority=example.com
 *   unique-id=TEXT      UNIQUE_ID, at most 128 bytes
 *   netns=NAME          NETNS, US-ASCII
 *   noop=N              NOOP of N zero bytes (padding)
 *   crc32c              CRC32C, no value: it is computed when the header is encoded
 *   TYPE=HEX            any type by number (0xe0 or 224), value as hex digits, possibly none (0xe0=)
 *   TYPE=text:TEXT      the same with the value as UTF-8 text (hex never contains ':', so it is unambiguous)
 *
 * Names are case-insensitive; text values are written as UTF-8 and must not be empty (an empty value is
 * nearly always a quoting mistake; `0x05=` sends an empty UNIQUE_ID on purpose). Only the first "=" splits,
 * so values may contain "=". Types 0xf8-0xff are refused unless `allowFutureTypes` is set. The value rules
 * of tlv-rules.ts apply, so e.g. a 129-byte unique-id is refused here, not at encode time.
 */

export const TLV_SPEC_HINT =
  'use alpn=, authority=, unique-id=, netns=, noop=N, crc32c, or a type number with a hex value (0xe0=00ff) or text (0xe0=text:abc)';

const TEXT_KEYWORDS = new Map<string, (value: string) => Tlv>([
  ['alpn', alpnTlv],
  ['authority', authorityTlv],
  ['unique-id', uniqueIdTlv],
  ['netns', netnsTlv],
]);

export interface TlvSpecOptions {
  /** Accept type numbers 0xf8-0xff (pair with EncodeV2Options.allowFutureTypes). */
  readonly allowFutureTypes?: boolean;
}

/** The TLV a flag value describes. Throws Ppv2ValueError naming the part that is wrong. */
export function parseTlvSpec(text: string, options: TlvSpecOptions = {}): Tlv {
  const bad = (why: string) => new Ppv2ValueError(`invalid TLV "${text}": ${why}`, TLV_SPEC_HINT);
  // Builders word the value rule that failed ("UNIQUE_ID value is 129 bytes, ..."); name the flag too.
  const build = (make: () => Tlv): Tlv => {
    try {
      return make();
    } catch (error) {
      if (error instanceof Ppv2ValueError) throw bad(error.message.replace(/^invalid TLV: /, ''));
      throw error;
    }
  };

  const equals = text.indexOf('=');
  const name = (equals < 0 ? text : text.slice(0, equals)).trim().toLowerCase();
  const value = equals < 0 ? undefined : text.slice(equals + 1);
  if (name === '') throw bad('the name before "=" is empty');

  if (name === 'crc32c') {
    if (value !== undefined) throw bad('crc32c takes no value (the checksum is computed when encoding)');
    return crc32cTlv();
  }
  if (name === 'noop') {
    if (value === undefined) throw bad('"noop" needs a value: noop=N');
    if (!/^[0-9]{1,5}$/.test(value)) throw bad(`noop length "${value}" is not a number from 0 to 65535`);
    return build(() => noopTlv(Number(value)));
  }
  const keyword = TEXT_KEYWORDS.get(name);
  if (keyword !== undefined) {
    if (value === undefined) throw bad(`"${name}" needs a value: ${name}=VALUE`);
    if (value === '') throw bad(`the ${name} value is empty`);
    return build(() => keyword(value));
  }
  if (!/^(0x|[0-9])/.test(name)) throw bad(`unknown name "${name}"`);
  const type = parseTypeNumber(name);
  if (type === undefined) throw bad(`type "${name}" is not a number from 0x00 to 0xff`);
  if (value === undefined) throw bad(`"${name}" needs a value: ${name}=HEX or ${name}=text:TEXT`);
  if (tlvTypeClass(type) === 'future' && options.allowFutureTypes !== true) {
    throw bad(`type ${tlvTypeName(type)} is reserved for future use (0xf8-0xff)`);
  }
  if (value.startsWith('text:')) return build(() => rawTlv(type, encodeUtf8(value.slice('text:'.length))));
  const bytes = hexToBytes(value);
  if (bytes === undefined)
    throw bad(`value "${value}" is not hex digits in pairs (write text as ${name}=text:...)`);
  return build(() => rawTlv(type, bytes));
}

/** 0xNN (one or two hex digits) or a decimal 0-255; undefined for anything else. */
function parseTypeNumber(name: string): number | undefined {
  if (/^0x[0-9a-f]{1,2}$/.test(name)) return Number.parseInt(name.slice(2), 16);
  if (/^[0-9]{1,3}$/.test(name)) {
    const type = Number(name);
    return type <= 0xff ? type : undefined;
  }
  return undefined;
}
