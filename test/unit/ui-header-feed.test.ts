import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { headerLineText, toHeaderLine } from '../../src/ui/header-feed.js';
import { headerEvent, T0 } from './ui-fixtures.js';

describe('header feed: events decoded with the PPv2 codec', () => {
  it('decodes source, destination and TLVs of an injected header', () => {
    const line = toHeaderLine(headerEvent('192.0.2.10', 51234, T0, 2));
    assert.equal(line.kind, 'inject');
    assert.equal(line.header?.src, '192.0.2.10');
    assert.equal(line.header?.srcPort, 51234);
    assert.equal(line.header?.dst, '203.0.113.11');
    assert.deepEqual(
      line.tlvs.map((t) => t.name),
      ['UNIQUE_ID', 'CRC32C'],
    );
    const text = headerLineText(line, { raw: false, service: 'api' });
    assert.match(
      text,
      /inj {3}api PROXY TCP4 192\.0\.2\.10:51234 -> 203\.0\.113\.11:80 UNIQUE_ID=(ab){16} CRC32C=0x[0-9a-f]{8}$/,
    );
  });

  it('shows the raw hex on request', () => {
    const event = headerEvent('192.0.2.10', 51234, T0);
    const text = headerLineText(toHeaderLine(event), { raw: true, service: 'web' });
    assert.ok(text.endsWith(` web ${event.headerHex}`));
    assert.ok(event.headerHex.startsWith('0d0a0d0a000d0a515549540a21'), 'a v2 PROXY header');
  });

  it('names a DGRAM header (UDP services) UDP4 / UDP6', () => {
    for (const [byte, text] of [
      ['12', /PROXY UDP4 192\.0\.2\.10:40000 -> 203\.0\.113\.10:53$/],
      ['22', /PROXY UDP6 \[2001:db8::10\]:40000 -> \[2001:db8::1\]:53$/],
    ] as const) {
      const block =
        byte === '12'
          ? '000cc000020acb00710a9c400035'
          : '00242001' + '0db8000000000000000000000010' + '20010db8000000000000000000000001' + '9c400035';
      const event = {
        ...headerEvent('192.0.2.10', 1, T0),
        headerHex: `0d0a0d0a000d0a515549540a21${byte}${block}`,
      };
      const line = toHeaderLine(event);
      assert.equal(line.error, null);
      assert.match(headerLineText(line, { raw: false, service: 'dns' }), text);
    }
  });

  it('writes IPv6 endpoints in brackets', () => {
    const event = {
      ...headerEvent('192.0.2.10', 1, T0),
      // 2001:db8::10 -> 2001:db8::1, ports 40000 -> 443
      headerHex:
        '0d0a0d0a000d0a515549540a212100242001' +
        '0db8000000000000000000000010' +
        '20010db8000000000000000000000001' +
        '9c4001bb',
    };
    const line = toHeaderLine(event);
    assert.equal(line.error, null);
    assert.match(
      headerLineText(line, { raw: false, service: 'v6' }),
      /PROXY TCP6 \[2001:db8::10\]:40000 -> \[2001:db8::1\]:443$/,
    );
  });

  it('reports bytes the codec rejects, and failure events with their reason', () => {
    const bad = toHeaderLine({
      ...headerEvent('192.0.2.10', 1, T0),
      headerHex: '0d0a0d0a000d0a515549540a41',
    });
    assert.equal(bad.header, null);
    assert.match(bad.error ?? '', /^undecodable header: /);
    const failure = toHeaderLine({
      ...headerEvent('192.0.2.10', 1, T0),
      type: 'failure',
      reason: 'ppv2_fail_too_big',
      headerHex: '',
    });
    assert.equal(failure.kind, 'failure');
    assert.match(
      headerLineText(failure, { raw: false, service: 'web' }),
      /FAIL {2}web ppv2_fail_too_big \(192\.0\.2\.10:1 -> 203\.0\.113\.10:80\)$/,
    );
  });
});
