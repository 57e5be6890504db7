import { invalidDataError } from '../errors.js';
import { decodeProxyHeader } from '../ppv2/index.js';
import { type ByteFormat, looksLikeRawProxyHeader } from './bytes-input.js';

/** Reads up to `count` bytes, fewer only at the end of the input. */
export type ReadBytes = (count: number) => Promise<Buffer>;

/** The bytes read for a header, and whether they are the whole input (else what follows was left unread). */
export interface HeaderInput {
  bytes: Buffer;
  whole: boolean;
}

/** Bytes that tell a raw header from text: "PROXY " is the longer signature start, shorter than any header. */
const SNIFF_BYTES = 6;
/**
 * The most text read as hex or base64: the largest v2 header (65551 bytes) as hex with a separator per
 * byte is 3 characters a byte; 4 leaves room for line breaks and 0x prefixes.
 */
export const TEXT_INPUT_LIMIT = 4 * 65551;
const TEXT_CHUNK = 64 * 1024;
const TEXT_CHARACTERS = /^[0-9A-Za-z+/=:\s]*$/;

/**
 * A PROXY header from a stream (stdin), in constant memory. Raw bytes are read exactly as far as the
 * header goes: the decoder says how many more bytes it needs at least, which never reaches past the
 * header's end, so the payload behind it stays unread however long it is. Hex or base64 text is read
 * whole, up to TEXT_INPUT_LIMIT, and stops at the first byte that cannot be such text.
 */
export async function readHeaderInput(read: ReadBytes, format?: ByteFormat): Promise<HeaderInput> {
  const start = format === 'raw' ? Buffer.alloc(0) : await read(SNIFF_BYTES);
  if (format === 'raw' || (!format && looksLikeRawProxyHeader(start))) {
    return { bytes: await readRawHeader(read, start), whole: false };
  }
  return { bytes: await readText(read, start), whole: true };
}

async function readRawHeader(read: ReadBytes, start: Buffer): Promise<Buffer> {
  let bytes = start;
  for (;;) {
    const result = decodeProxyHeader(bytes);
    if (result.status !== 'incomplete') return bytes;
    const more = await read(result.needed);
    bytes = Buffer.concat([bytes, more]);
    if (more.length < result.needed) return bytes; // the input ended inside the header
  }
}

async function readText(read: ReadBytes, start: Buffer): Promise<Buffer> {
  const chunks = [start];
  let total = start.length;
  let chunk = start;
  while (chunk.length > 0) {
    // Not text: stop here, not at the end of a binary stream; decoding what was read says why it fails.
    if (!TEXT_CHARACTERS.test(chunk.toString('latin1'))) break;
    if (total > TEXT_INPUT_LIMIT) {
      throw invalidDataError(
        `input text is longer than ${TEXT_INPUT_LIMIT} bytes, more than any PROXY header as hex or base64`,
        'pipe the raw bytes instead (--format raw): they are read only as far as the header goes',
      );
    }
    chunk = await read(TEXT_CHUNK);
    chunks.push(chunk);
    total += chunk.length;
  }
  return Buffer.concat(chunks);
}
