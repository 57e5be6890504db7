/** readHeaderInput takes from a stream exactly the bytes a header needs, and bounds the text it reads. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readHeaderInput, TEXT_INPUT_LIMIT } from '../../src/cli/header-input.js';
import { lbctlErrorOf } from '../helpers/errors.js';

const V2 = Buffer.from('0d0a0d0a000d0a515549540a2111000cc000020acb00710ac8220050', 'hex');
const V1 = Buffer.from('PROXY TCP4 192.0.2.10 203.0.113.10 51234 80\r\n', 'latin1');

/** A stream of `data` then `tail` repeated forever; counts what was read. */
function stream(data: Buffer, tail = Buffer.from('x')) {
  const state = { offset: 0 };
  const read = async (count: number) => {
    const out = Buffer.alloc(count);
    for (let i = 0; i < count; i += 1, state.offset += 1) {
      out[i] =
        state.offset < data.length
          ? (data[state.offset] as number)
          : (tail[state.offset % tail.length] as number);
    }
    return out;
  };
  return { read, state };
}

/** A stream that ends after `data`. */
function finite(data: Buffer) {
  let offset = 0;
  return async (count: number) => {
    const out = data.subarray(offset, offset + count);
    offset += out.length;
    return out;
  };
}

describe('readHeaderInput', () => {
  for (const [name, header] of [
    ['v2', V2],
    ['v1', V1],
  ] as const) {
    for (const format of [undefined, 'raw'] as const) {
      it(`reads a ${name} header and not one byte more (format ${format ?? 'detected'})`, async () => {
        const { read, state } = stream(header);
        const input = await readHeaderInput(read, format);
        assert.deepEqual(input.bytes, header);
        assert.equal(state.offset, header.length);
        assert.equal(input.whole, false);
      });
    }
  }

  it('stops at the end of an incomplete header', async () => {
    const short = V2.subarray(0, 20);
    const input = await readHeaderInput(finite(short), 'raw');
    assert.deepEqual(input.bytes, short);
  });

  it('reads hex text to its end', async () => {
    const text = Buffer.from(`${V2.toString('hex')}\n`);
    const input = await readHeaderInput(finite(text));
    assert.deepEqual(input.bytes, text);
    assert.equal(input.whole, true);
  });

  it('stops reading at the first byte that cannot be text', async () => {
    const { read, state } = stream(Buffer.from('0d0a'), Buffer.from([0x00]));
    await readHeaderInput(read);
    assert.ok(state.offset < 1 << 20, `read ${state.offset} bytes of binary`);
  });

  it('refuses text longer than any header as INVALID_DATA', async () => {
    const { read, state } = stream(Buffer.alloc(0), Buffer.from('00'));
    await assert.rejects(readHeaderInput(read, 'hex'), lbctlErrorOf('INVALID_DATA', { hint: true }));
    assert.ok(state.offset <= TEXT_INPUT_LIMIT + (1 << 20));
  });
});
