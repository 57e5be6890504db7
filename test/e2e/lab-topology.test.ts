import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type HaproxyBackend, type HaproxyConnectionView, startHaproxy } from '../../src/lab/haproxy.js';
import { type NginxBackend, type NginxConnectionView, sha256File, startNginx } from '../../src/lab/nginx.js';
import {
  createTopology,
  destroyTopology,
  listNamespaces,
  listTopologies,
  type Topology,
  topologyPids,
} from '../../src/lab/topology.js';
import { findExecutable, isAlive, run } from '../../src/sys/run.js';
import { httpGet, parseHttpResponse, tcpExchange } from '../helpers/tcp-client.js';
import { type Capture, startCapture } from '../helpers/tshark.js';

const PREFIX = 'lbctl-e2e';
const TOOLS = ['ip', 'sysctl', 'ethtool', 'ss', 'nginx', 'haproxy', 'dumpcap', 'tshark', 'curl', 'openssl'];
const VECTORS_FILE =
  process.env.LBCTL_PPV2_VECTORS ??
  fileURLToPath(new URL('../../../shared/vectors/ppv2-vectors.json', import.meta.url));

interface Vector {
  name: string;
  hex: string;
  valid: boolean;
  expect?: {
    src?: string;
    dst?: string;
    srcPort?: number;
    dstPort?: number;
    tlvs?: Array<{ type: number; hex: string | null }>;
  };
  seen?: Record<string, string>;
}

async function missingPrerequisites(): Promise<string[]> {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root');
  for (const tool of TOOLS) if (!(await findExecutable(tool))) missing.push(tool);
  if (!existsSync(VECTORS_FILE)) missing.push(VECTORS_FILE);
  return missing;
}

const missing = await missingPrerequisites();
// In CI a missing prerequisite is a failure (the `before` hook throws); on a laptop it is a skip.
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing: ${missing.join(', ')}` : false;

async function loadVectors(): Promise<Vector[]> {
  return (JSON.parse(await readFile(VECTORS_FILE, 'utf8')) as { vectors: Vector[] }).vectors;
}

function vector(vectors: Vector[], name: string): Vector {
  const v = vectors.find((x) => x.name === name);
  assert.ok(v, `vector ${name} not in ${VECTORS_FILE}`);
  return v;
}

describe('lab topology and PPv2 backends', { skip }, () => {
  let topo: Topology | undefined;
  let plain: NginxBackend | undefined;
  let nginx: NginxBackend | undefined;
  let haproxy: HaproxyBackend | undefined;
  let capture: Capture | undefined;
  let scratch: string | undefined;
  let vectors: Vector[] = [];
  const pids: number[] = [];

  before(async () => {
    assert.deepEqual(
      missing,
      [],
      `prerequisites missing: ${missing.join(', ')} (run scripts/setup.sh as root)`,
    );
    vectors = await loadVectors();
    scratch = await mkdtemp(join(tmpdir(), 'lbctl-e2e-'));
    // Full checksums on the wire, so the capture can tell good from bad.
    topo = await createTopology({ prefix: PREFIX, txChecksum: false });
    const [be1, be2] = topo.backends.ipv4;
    const [be1v6, be2v6] = topo.backends.ipv6;
    assert.ok(be1 && be2 && be1v6 && be2v6);
    capture = await startCapture({
      netns: topo.ns.backends,
      iface: topo.ifaces.backends,
      filter: 'tcp port 80',
    });
    plain = await startNginx({
      netns: topo.ns.backends,
      addresses: [be1, be1v6],
      ports: [8080],
      proxyProtocol: false,
      downloadSizes: [1024 * 1024 + 7],
    });
    nginx = await startNginx({ netns: topo.ns.backends, addresses: [be1, be1v6], ports: [80] });
    haproxy = await startHaproxy({ netns: topo.ns.backends, addresses: [be2, be2v6], ports: [80] });
    pids.push(capture.pid, plain.pid, nginx.pid, haproxy.pid);
  });

  after(async () => {
    // Each step on its own, so one failure does not leave the rest behind.
    for (const step of [
      () => capture?.dispose(),
      () => plain?.stop(),
      () => nginx?.stop(),
      () => haproxy?.stop(),
      () => (topo ? destroyTopology(topo) : undefined),
      () => (scratch ? rm(scratch, { recursive: true, force: true }) : undefined),
    ]) {
      await Promise.resolve()
        .then(step)
        .catch((err: unknown) => console.error('cleanup:', err));
    }
  });

  const client = () => {
    assert.ok(topo);
    return topo;
  };

  async function curlJson<T>(url: string, extra: string[] = []): Promise<T> {
    const res = await run('curl', ['-sS', '-g', '--fail', '--max-time', '5', ...extra, url], {
      netns: client().ns.client,
    });
    return JSON.parse(res.stdout) as T;
  }

  it('routes the client to a plain backend through the lb namespace (IPv4 and IPv6)', async () => {
    const t = client();
    const [c1, c2] = t.client.ipv4;
    const [c1v6, c2v6] = t.client.ipv6;
    const v4 = await curlJson<NginxConnectionView>('http://198.51.100.2:8080/whoami');
    assert.equal(v4.remote_addr, c1);
    assert.equal(v4.server_addr, '198.51.100.2');
    assert.equal(v4.proxy_protocol_addr, '');
    const v4b = await curlJson<NginxConnectionView>('http://198.51.100.2:8080/whoami', [
      '--interface',
      c2 ?? '',
    ]);
    assert.equal(v4b.remote_addr, c2);
    const v6 = await curlJson<NginxConnectionView>('http://[2001:db8:b::2]:8080/whoami');
    assert.equal(v6.remote_addr, c1v6);
    const v6b = await curlJson<NginxConnectionView>('http://[2001:db8:b::2]:8080/whoami', [
      '--interface',
      c2v6 ?? '',
    ]);
    assert.equal(v6b.remote_addr, c2v6);
  });

  // The benchmark's plain-forwarding target: the kernel, not a balancer, spreads connections over two backends.
  it('two nginx sharing an address with reuseport split its connections between them', async () => {
    const t = client();
    const [be1, be2] = t.backends.ipv4;
    const shared = '198.51.100.9';
    const connections = 24;
    await run('ip', ['-n', t.ns.backends, 'addr', 'add', `${shared}/24`, 'dev', t.ifaces.backends]);
    const pair: NginxBackend[] = [];
    try {
      for (const address of [be1, be2]) {
        pair.push(
          await startNginx({
            netns: t.ns.backends,
            addresses: [address ?? ''],
            sharedAddresses: [shared],
            ports: [8081],
            proxyProtocol: false,
          }),
        );
      }
      for (let i = 0; i < connections; i++) {
        const view = await curlJson<NginxConnectionView>(`http://${shared}:8081/whoami`);
        assert.equal(view.server_addr, shared);
      }
      const served = await Promise.all(pair.map(async (n) => (await n.accessLog()).length));
      assert.equal(
        served.reduce((a, b) => a + b, 0),
        connections,
        `requests per backend: ${served.join(', ')}`,
      );
      // Each connection has its own client port, hence its own hash: 24 all on one side is a 2^-23 chance.
      assert.ok(
        served.every((n) => n > 0),
        `both backends served connections: ${served.join(', ')}`,
      );
    } finally {
      for (const n of pair) await n.stop();
      await run('ip', ['-n', t.ns.backends, 'addr', 'del', `${shared}/24`, 'dev', t.ifaces.backends]);
    }
  });

  it('serves downloads and keeps uploads with matching sha256', async () => {
    assert.ok(plain && scratch);
    const dl = plain.download(1024 * 1024 + 7);
    const out = join(scratch, 'download.bin');
    await run('curl', ['-sS', '--fail', '--max-time', '10', '-o', out, `${plain.url}${dl.path}`], {
      netns: client().ns.client,
    });
    assert.equal(await sha256File(out), dl.sha256);

    const body = join(scratch, 'upload.bin');
    await writeFile(body, Buffer.alloc(3 * 1024 * 1024 + 1, 'lbctl'));
    const res = await run(
      'curl',
      ['-sS', '--fail', '--max-time', '10', '--data-binary', `@${body}`, `${plain.url}/upload`],
      { netns: client().ns.client },
    );
    assert.equal(res.stdout, 'stored\n');
    assert.equal(await plain.lastUploadSha256(1), await sha256File(body));
    const [upload] = await plain.uploads();
    assert.equal(upload?.size, 3 * 1024 * 1024 + 1);
    assert.equal(upload?.remote_addr, client().client.ipv4[0]);
  });

  for (const [name, address] of [
    ['v2-tcp4-proxy', '198.51.100.2'],
    ['v2-tcp6-proxy', '2001:db8:b::2'],
  ] as const) {
    it(`nginx proxy_protocol reports the source encoded in ${name}`, async () => {
      const v = vector(vectors, name);
      const res = await tcpExchange({
        netns: client().ns.client,
        host: address,
        port: 80,
        send: [Buffer.from(v.hex, 'hex'), httpGet('/whoami')],
      });
      const http = parseHttpResponse(res.data);
      assert.equal(http?.status, 200, `no 200 from nginx: ${res.closed} ${res.data.toString('latin1')}`);
      const view = JSON.parse(http.body.toString('utf8')) as NginxConnectionView;
      assert.equal(view.proxy_protocol_addr, v.expect?.src);
      assert.equal(view.proxy_protocol_port, String(v.expect?.srcPort));
      assert.equal(view.proxy_protocol_server_addr, v.expect?.dst);
      assert.equal(view.proxy_protocol_server_port, String(v.expect?.dstPort));
      assert.equal(view.remote_addr, res.localAddress);
    });
  }

  for (const [name, address] of [
    ['v2-tcp4-proxy', '198.51.100.3'],
    ['v2-tcp6-proxy', '2001:db8:b::3'],
    ['v2-tcp4-tlvs-crc', '198.51.100.3'],
  ] as const) {
    it(`HAProxy accept-proxy reports the source encoded in ${name}`, async () => {
      const v = vector(vectors, name);
      const res = await tcpExchange({
        netns: client().ns.client,
        host: address,
        port: 80,
        send: Buffer.concat([Buffer.from(v.hex, 'hex'), httpGet('/whoami')]),
      });
      const http = parseHttpResponse(res.data);
      assert.equal(http?.status, 200, `no 200 from HAProxy: ${res.closed} ${res.data.toString('latin1')}`);
      const view = JSON.parse(http.body.toString('utf8')) as HaproxyConnectionView;
      assert.equal(view.src, v.expect?.src);
      assert.equal(view.src_port, String(v.expect?.srcPort));
      assert.equal(view.dst, v.expect?.dst);
      assert.equal(view.dst_port, String(v.expect?.dstPort));
      assert.equal(view.fc_src, res.localAddress);
      assert.equal(view.fc_rcvd_proxy, '1');
      const tlv = (type: number) => v.expect?.tlvs?.find((t) => t.type === type)?.hex ?? '';
      assert.equal(view.pp_unique_id, tlv(0x05).toUpperCase());
      assert.equal(view.pp_authority, Buffer.from(tlv(0x02), 'hex').toString('utf8'));
    });
  }

  it('HAProxy closes a connection with a header it rejects, without a response, and logs why', async () => {
    assert.ok(haproxy);
    const bad = vectors.find((v) => v.seen?.['haproxy-2.6.12 accept-proxy'] === 'rejected');
    assert.ok(bad, 'no vector that HAProxy is known to reject');
    const before = (await haproxy.rejectedHeaders()).length;
    const res = await tcpExchange({
      netns: client().ns.client,
      host: '198.51.100.3',
      port: 80,
      send: Buffer.concat([Buffer.from(bad.hex, 'hex'), httpGet('/whoami')]),
    });
    assert.equal(res.data.length, 0, `unexpected response: ${res.data.toString('latin1')}`);
    assert.ok(res.closed === 'eof' || res.closed === 'reset', `connection ${res.closed} ${res.error ?? ''}`);
    await haproxy.waitForLog(/invalid PROXY protocol header/);
    assert.equal((await haproxy.rejectedHeaders()).length, before + 1);
  });

  it('tshark decodes the PROXY headers seen at the backend, with good TCP checksums', async () => {
    assert.ok(capture);
    const rows = await capture.fields({
      displayFilter: 'proxy.v2.magic',
      fields: [
        'ip.src',
        'ipv6.src',
        'proxy.v2.protocol',
        'proxy.src.ipv4',
        'proxy.src.ipv6',
        'proxy.srcport',
        'tcp.checksum.status',
      ],
    });
    const v4 = vector(vectors, 'v2-tcp4-proxy');
    const v6 = vector(vectors, 'v2-tcp6-proxy');
    assert.ok(
      rows.some(
        (r) => r['proxy.src.ipv4'] === v4.expect?.src && r['proxy.srcport'] === String(v4.expect?.srcPort),
      ),
      `no decoded IPv4 header in ${JSON.stringify(rows)}`,
    );
    assert.ok(
      rows.some((r) => r['proxy.src.ipv6'] === v6.expect?.src && r['ipv6.src'] === client().client.ipv6[0]),
      `no decoded IPv6 header in ${JSON.stringify(rows)}`,
    );
    // 0x01 is STREAM; the DGRAM header sent to HAProxy in the rejection test shows up as 0x02.
    const streams = rows.filter((r) =>
      [v4.expect?.srcPort, v6.expect?.srcPort].map(String).includes(r['proxy.srcport'] ?? ''),
    );
    assert.ok(streams.length >= 4, `expected the 4+ stream headers sent above, got ${streams.length}`);
    for (const r of streams) assert.equal(r['proxy.v2.protocol'], '0x01');
    for (const r of rows) assert.equal(r['tcp.checksum.status'], '1', `bad checksum: ${JSON.stringify(r)}`);
  });

  it('destroy removes every namespace and process, and is safe to repeat', async () => {
    const t = client();
    await capture?.dispose();
    for (const d of [plain, nginx, haproxy]) await d?.stop();
    assert.deepEqual(await topologyPids(t), []);
    await destroyTopology(t);
    await destroyTopology(t);
    assert.ok(!(await listTopologies(PREFIX)).includes(t.name));
    const left = (await listNamespaces()).filter((ns) => ns.startsWith(t.name));
    assert.deepEqual(left, []);
    for (const pid of pids) assert.equal(isAlive(pid), false, `pid ${pid} still running`);
    for (const d of [plain, nginx, haproxy]) assert.equal(existsSync(d?.dir ?? '/nonexistent'), false);
  });
});
