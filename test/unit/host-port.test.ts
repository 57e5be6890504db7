import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatEndpoint, parseEndpoint } from '../../src/core/endpoint.js';
import { hostPort } from '../../src/host-port.js';

describe('hostPort', () => {
  it('writes an IPv4 address and its port with one colon', () => {
    assert.equal(hostPort('192.0.2.10', 80), '192.0.2.10:80');
  });

  it('puts an IPv6 address in brackets, so its colons stay apart from the port', () => {
    assert.equal(hostPort('2001:db8::1', 443), '[2001:db8::1]:443');
    assert.equal(hostPort('::ffff:192.0.2.1', 8080), '[::ffff:192.0.2.1]:8080');
  });

  it('takes the port as text too (a port read back from a tool)', () => {
    assert.equal(hostPort('198.51.100.2', '51234'), '198.51.100.2:51234');
    assert.equal(hostPort('2001:db8::2', ''), '[2001:db8::2]:');
  });

  it('writes what parseEndpoint reads, and formatEndpoint agrees with it', () => {
    for (const [address, port] of [
      ['203.0.113.7', 1],
      ['2001:db8:b::4', 65535],
      ['::', 80],
    ] as const) {
      const parsed = parseEndpoint(hostPort(address, port));
      assert.deepEqual([parsed.address, parsed.port], [address, port]);
      assert.equal(formatEndpoint(parsed), hostPort(address, port));
    }
  });
});
