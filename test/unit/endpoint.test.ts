/** parseEndpoint: the ADDRESS:PORT forms users type, and one-line errors for everything else. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Endpoint, formatEndpoint, parseEndpoint } from '../../src/core/endpoint.js';
import { lbctlErrorOf } from '../helpers/errors.js';

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

  // Each refusal names the endpoint and, where one part is wrong, that part.
  const refused: Array<[string, string[]]> = [
    ['', []],
    ['192.0.2.10', ['"192.0.2.10"']],
    ['192.0.2.10:', ['"192.0.2.10:"']],
    ['[2001:db8::1]', ['"[2001:db8::1]"']],
    ['[2001:db8::1]:', ['"[2001:db8::1]:"']],
    ['192.0.2.10:0', ['"0"', '"192.0.2.10:0"']],
    ['192.0.2.10:65536', ['"192.0.2.10:65536"', '"65536"']],
    ['192.0.2.10:99999', ['"192.0.2.10:99999"', '"99999"']],
    ['192.0.2.10:123456', ['"192.0.2.10:123456"', '"123456"']],
    ['192.0.2.10:080', ['"192.0.2.10:080"', '"080"']],
    ['192.0.2.10:http', ['"192.0.2.10:http"', '"http"']],
    ['192.0.2.10:-1', ['"192.0.2.10:-1"', '"-1"']],
    ['192.0.2.10:8 0', ['"192.0.2.10:8 0"', '"8 0"']],
    ['192.0.2.300:80', ['"192.0.2.300"', '"192.0.2.300:80"']],
    ['192.0.2.010:80', ['"192.0.2.010:80"', '"192.0.2.010"']],
    ['example.com:80', ['"example.com:80"', '"example.com"']],
    ['2001:db8::1:80', ['"2001:db8::1:80"']],
    ['::1', ['"::1"']],
    ['[2001:db8::1', ['"[2001:db8::1"']],
    ['[2001:db8::1]80', ['"[2001:db8::1]80"', '"80"']],
    ['[192.0.2.1]:80', ['"[192.0.2.1]:80"', '"192.0.2.1"']],
    ['[fe80::1%eth0]:80', ['"[fe80::1%eth0]:80"', '"fe80::1%eth0"']],
    ['[2001:db8::g]:80', ['"[2001:db8::g]:80"', '"2001:db8::g"']],
  ];
  for (const [text, mentions] of refused) {
    it(`refuses ${JSON.stringify(text)}`, () => {
      assert.throws(() => parseEndpoint(text), lbctlErrorOf('USAGE', { mentions, hint: true }));
    });
  }

  it('formats back to the same text', () => {
    for (const text of ['192.0.2.10:51234', '[2001:db8::1]:80'])
      assert.equal(formatEndpoint(parseEndpoint(text)), text);
  });
});
