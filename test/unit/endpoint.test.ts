/** parseEndpoint: the ADDRESS:PORT forms users type, and one-line errors for everything else. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Endpoint, formatEndpoint, parseEndpoint } from '../../src/core/endpoint.js';
import { LbctlError } from '../../src/errors.js';

describe('parseEndpoint', () => {
  const accepted: Array<[string, Endpoint]> = [
    ['192.0.2.10:51234', { family: 4, address: '192.0.2.10', port: 51234 }],
    ['0.0.0.0:1', { family: 4, address: '0.0.0.0', port: 1 }],
    ['198.51.100.1:65535', { family: 4, address: '198.51.100.1', port: 65535 }],
    ['[2001:db8::1]:80', { family: 6, address: '2001:db8::1', port: 80 }],
    ['[2001:DB8:0:0::0001]:443', { family: 6, address: '2001:db8::1', port: 443 }],
    ['[::1]:8080', { family: 6, address: '::1', port: 8080 }],
    ['[::ffff:192.0.2.1]:80', { family: 6, address: '::ffff:192.0.2.1', port: 80 }],
    ['  203.0.113.7:22  ', { family: 4, address: '203.0.113.7', port: 22 }],
  ];
  for (const [text, endpoint] of accepted) {
    it(`reads ${JSON.stringify(text)}`, () => {
      assert.deepEqual(parseEndpoint(text), endpoint);
    });
  }

  const refused: Array<[string, RegExp, RegExp?]> = [
    ['', /endpoint is empty/],
    ['192.0.2.10', /endpoint "192.0.2.10" has no port/, /192\.0\.2\.10:80/],
    ['192.0.2.10:', /has no port/],
    ['[2001:db8::1]', /endpoint "\[2001:db8::1\]" has no port/, /\[2001:db8::1\]:80/],
    ['[2001:db8::1]:', /has no port/],
    ['192.0.2.10:0', /port "0" in endpoint "192.0.2.10:0" is not a number from 1 to 65535/],
    ['192.0.2.10:65536', /port "65536"/],
    ['192.0.2.10:99999', /port "99999"/],
    ['192.0.2.10:123456', /port "123456"/],
    ['192.0.2.10:080', /port "080"/],
    ['192.0.2.10:http', /port "http"/],
    ['192.0.2.10:-1', /port "-1"/],
    ['192.0.2.10:8 0', /port "8 0"/],
    ['192.0.2.300:80', /"192.0.2.300" in endpoint "192.0.2.300:80" is not an IPv4 address/],
    ['192.0.2.010:80', /is not an IPv4 address/],
    ['example.com:80', /"example.com" .* is not an IPv4 address/],
    ['2001:db8::1:80', /IPv6 endpoint "2001:db8::1:80" needs brackets/, /\[ADDRESS\]:PORT/],
    ['::1', /needs brackets/],
    ['[2001:db8::1', /without a closing "\]"/],
    ['[2001:db8::1]80', /"80" after "\]"/],
    ['[192.0.2.1]:80', /"192.0.2.1" .* is not an IPv6 address/],
    ['[fe80::1%eth0]:80', /is not an IPv6 address/],
    ['[2001:db8::g]:80', /is not an IPv6 address/],
  ];
  for (const [text, message, hint] of refused) {
    it(`refuses ${JSON.stringify(text)}`, () => {
      assert.throws(
        () => parseEndpoint(text),
        (error: unknown) =>
          error instanceof LbctlError &&
          error.kind === 'USAGE' &&
          message.test(error.message) &&
          !error.message.includes('\n') &&
          typeof error.hint === 'string' &&
          (hint === undefined || hint.test(error.hint)),
      );
    });
  }

  it('formats back to the same text', () => {
    for (const text of ['192.0.2.10:51234', '[2001:db8::1]:80'])
      assert.equal(formatEndpoint(parseEndpoint(text)), text);
  });
});
