import { invalidDataError } from '../errors.js';

export type ByteFormat = 'hex' | 'base64' | 'raw';

const HEX = /^(0x)?[0-9a-fA-F]+$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Bytes given as text by a user: hex (spaces, colons and a 0x prefix tolerated, as copied from tcpdump or
 * Wireshark), base64, or raw. With no explicit format, raw input that starts like a PROXY header stays raw,
 * hex wins over base64 when both would parse (a hex string is also valid base64), and anything else is an
 * error that names the formats. Input that decodes in no format is INVALID_DATA (exit 7), as a malformed
 * header is: both are the data being wrong, not the command line.
 */
export function decodeUserBytes(input: Buffer, format?: ByteFormat): { bytes: Buffer; format: ByteFormat } {
  if (format === 'raw') return { bytes: input, format };
  if (!format && looksLikeRawProxyHeader(input)) return { bytes: input, format: 'raw' };
  const text = input.toString('latin1').trim();
  const compactHex = text.replace(/[\s:]/g, '');
  if (
    format === 'hex' ||
    (!format && HEX.test(compactHex) && compactHex.replace(/^0x/, '').length % 2 === 0)
  ) {
    return { bytes: parseHex(compactHex), format: 'hex' };
  }
  const compact64 = text.replace(/\s/g, '');
  if (format === 'base64' || (!format && BASE64.test(compact64) && compact64.length % 4 === 0)) {
    return { bytes: parseBase64(compact64), format: 'base64' };
  }
  throw invalidDataError(
    'input is neither hex, base64 nor a raw PROXY header',
    'pass --format hex|base64|raw, e.g. lbctl ppv2 decode --format hex 0d0a0d0a...',
  );
}

function parseHex(text: string): Buffer {
  const digits = text.replace(/^0x/, '');
  if (!HEX.test(digits) || digits.length % 2 !== 0) {
    throw invalidDataError(
      'invalid hex input: expected an even number of hex digits',
      'e.g. 0d0a0d0a000d0a51...',
    );
  }
  return Buffer.from(digits, 'hex');
}

function parseBase64(text: string): Buffer {
  if (!BASE64.test(text) || text.length % 4 !== 0) {
    throw invalidDataError('invalid base64 input', 'check for truncation; or pass --format hex|raw');
  }
  return Buffer.from(text, 'base64');
}

const V2_SIGNATURE_START = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a]);

/** The start of a v2 signature or of a v1 line: raw header bytes, not text. */
export function looksLikeRawProxyHeader(input: Buffer): boolean {
  return (
    input.subarray(0, 4).equals(V2_SIGNATURE_START) || input.subarray(0, 6).toString('latin1') === 'PROXY '
  );
}
