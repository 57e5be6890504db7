/**
 * Issue "foundation": headers encoded by lbctl (the CLI and the codec) are understood by real receivers.
 * nginx (`listen ... proxy_protocol`) and HAProxy (`bind ... accept-proxy`) run in a namespace topology the
 * test creates; the client namespace sends the header followed by an HTTP request, and each receiver
 * answers with the connection as it sees it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type HaproxyBackend, type HaproxyConnectionView, startHaproxy } from '../../src/lab/haproxy.js';
import { type NginxBackend, type NginxConnectionView, startNginx } from '../../src/lab/nginx.js';
import { createTopology, destroyTopology, type Topology } from '../../src/lab/topology.js';
import { authorityTlv, encodeV2, rawTlv, TlvType, uniqueIdTlv } from '../../src/ppv2/index.js';
import { lbctl } from '../helpers/cli.js';
import { missingPrerequisites } from '../helpers/prereq.js';
import { httpGet, parseHttpResponse, tcpExchange } from '../helpers/tcp-client.js';

const needs = { root: true, binaries: ['ip', 'nginx', 'haproxy', 'ss'] };
const missing = missingPrerequisites(needs);
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;

describe('PPv2 interop with real receivers', { skip }, () => {
  let topo: Topology | undefined;
  let nginx: NginxBackend | undefined;
  let haproxy: HaproxyBackend | undefined;

  before(async () => {
    assert.deepEqual(missing, [], `prerequisites missing under CI: ${missing.join(', ')}`);
    topo = await createTopology({ prefix: 'lbctl-iop' });
    const [ngx4, hap4] = topo.backends.ipv4;
    const [ngx6, hap6] = topo.backends.ipv6;
    assert.ok(ngx4 && hap4 && ngx6 && hap6);
    nginx = await startNginx({ netns: topo.ns.backends, addresses: [ngx4, ngx6], ports: [80] });
    haproxy = await startHaproxy({ netns: topo.ns.backends, addresses: [hap4, hap6], ports: [80] });
  });

  after(async () => {
    for (const step of [() => nginx?.stop(), () => haproxy?.stop(), () => topo && destroyTopology(topo)]) {
      await Promise.resolve()
        .then(step)
        .catch((err: unknown) => console.error('cleanup:', err));
    }
  });

  async function exchange(host: string, header: Buffer) {
    assert.ok(topo);
    return tcpExchange({ netns: topo.ns.client, host, port: 80, send: [header, httpGet('/whoami')] });
  }

  async function whoami<T>(host: string, header: Buffer): Promise<T> {
    const res = await exchange(host, header);
    const http = parseHttpResponse(res.data);
    assert.equal(http?.status, 200, `no 200 from ${host}: ${res.closed} ${res.data.toString('latin1')}`);
    return JSON.parse(http.body.toString('utf8')) as T;
  }

  const cases = [
    { family: 'IPv4', src: '192.0.2.77:40001', dst: '203.0.113.10:80', addr: '192.0.2.77', port: 40001 },
    {
      family: 'IPv6',
      src: '[2001:db8::77]:40002',
      dst: '[2001:db8:f::10]:80',
      addr: '2001:db8::77',
      port: 40002,
    },
  ];

  for (const c of cases) {
    it(`nginx reports the ${c.family} source encoded by \`lbctl ppv2 encode\``, async () => {
      assert.ok(topo);
      const encoded = lbctl(['ppv2', 'encode', '--src', c.src, '--dst', c.dst, '--format', 'raw']);
      assert.equal(encoded.code, 0, encoded.stderr);
      const host = c.family === 'IPv4' ? topo.backends.ipv4[0] : topo.backends.ipv6[0];
      const view = await whoami<NginxConnectionView>(host ?? '', encoded.stdoutBytes);
      assert.equal(view.proxy_protocol_addr, c.addr);
      assert.equal(view.proxy_protocol_port, String(c.port));
    });

    it(`HAProxy reports the ${c.family} source, UNIQUE_ID and AUTHORITY, with a valid CRC32C`, async () => {
      assert.ok(topo);
      const encoded = lbctl([
        'ppv2',
        'encode',
        '--src',
        c.src,
        '--dst',
        c.dst,
        '--tlv',
        'unique-id=lbctl-conn-0001',
        '--tlv',
        'authority=www.example.com',
        '--crc32c',
        '--format',
        'raw',
      ]);
      assert.equal(encoded.code, 0, encoded.stderr);
      const host = c.family === 'IPv4' ? topo.backends.ipv4[1] : topo.backends.ipv6[1];
      const view = await whoami<HaproxyConnectionView>(host ?? '', encoded.stdoutBytes);
      assert.equal(view.src, c.addr);
      assert.equal(String(view.src_port), String(c.port));
      assert.equal(view.pp_authority, 'www.example.com');
      assert.equal(view.pp_unique_id, Buffer.from('lbctl-conn-0001').toString('hex').toUpperCase());
    });
  }

  it('HAProxy rejects a header whose CRC32C was altered, and accepts the unaltered one', async () => {
    assert.ok(topo && haproxy);
    const host = topo.backends.ipv4[1] ?? '';
    const header = Buffer.from(
      encodeV2(
        {
          version: 2,
          command: 'PROXY',
          family: 'INET',
          transport: 'STREAM',
          src: '192.0.2.88',
          dst: '203.0.113.10',
          srcPort: 41000,
          dstPort: 80,
          tlvs: [uniqueIdTlv('crc-check'), authorityTlv('crc.example'), rawTlv(0xe0, Uint8Array.of(1, 2))],
        },
        { crc32c: true },
      ),
    );
    // Control: the untouched header is accepted, so a rejection below can only come from the CRC.
    const ok = await whoami<HaproxyConnectionView>(host, header);
    assert.equal(ok.src, '192.0.2.88');

    const crcOffset = findTlvValue(header, TlvType.CRC32C);
    const altered = Buffer.from(header);
    altered[crcOffset] = (altered[crcOffset] ?? 0) ^ 0x01;
    const res = await exchange(host, altered);
    assert.equal(parseHttpResponse(res.data), undefined, `HAProxy answered: ${res.data.toString('latin1')}`);
    assert.ok(res.data.length === 0, 'no response bytes for a rejected header');
    const rejected = await haproxy.rejectedHeaders();
    assert.ok(rejected.length > 0, 'HAProxy logged the rejected header');
  });
});

/** Offset of the value of the first TLV of `type` in an encoded v2 header. */
function findTlvValue(header: Buffer, type: number): number {
  let offset = 16 + (header[13] === 0x11 ? 12 : 36);
  while (offset + 3 <= header.length) {
    const length = header.readUInt16BE(offset + 1);
    if (header[offset] === type) return offset + 3;
    offset += 3 + length;
  }
  throw new Error(`no TLV 0x${type.toString(16)} in the header`);
}
