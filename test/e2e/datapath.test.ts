/**
 * Issue "datapath": the eBPF balancer end to end. Real kernel datapath loaded through libbpf by the CLI,
 * real nginx and HAProxy reading PROXY v2, tshark as an independent decoder, in namespaces this test makes.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RECORD_SIZES } from '../../src/bpf/records.js';
import { resolveInstance } from '../../src/core/instance.js';
import { loadState } from '../../src/core/state-file.js';
import type { HaproxyConnectionView } from '../../src/lab/haproxy.js';
import type { NginxConnectionView } from '../../src/lab/nginx.js';
import { sha256File } from '../../src/lab/nginx.js';
import { run } from '../../src/sys/run.js';
import { type CliResult, lbctl, parseJson } from '../helpers/cli.js';
import { assertCliError } from '../helpers/errors.js';
import { suitePrerequisites } from '../helpers/prereq.js';
import { startCapture } from '../helpers/tshark.js';
import { UNPRIVILEGED } from '../helpers/unprivileged.js';
import { type Balancer, DOWNLOAD_BYTES, startBalancer } from './fixtures/balancer.js';

const needs = {
  root: true,
  binaries: ['ip', 'tc', 'nginx', 'haproxy', 'curl', 'dumpcap', 'tshark', 'setpriv'],
};
const { skip, assertPrerequisites } = suitePrerequisites(needs);

const VIP4 = '203.0.113.10';
const VIP6 = '2001:db8:f::10';
const url = (vip: string, port: number, path: string) =>
  `http://${vip.includes(':') ? `[${vip}]` : vip}:${port}${path}`;

interface ServiceJson {
  id: number;
  key: string;
}
interface StatsJson {
  services: Array<{ key: string; counters: Record<string, number> }>;
}

describe('datapath: PPv2 injection end to end', { skip }, () => {
  let lb: Balancer;
  let scratch: string;

  before(async () => {
    assertPrerequisites();
    scratch = await mkdtemp(join(tmpdir(), 'lbctl-dp-'));
    lb = await startBalancer('lbctl-dp');
    const [b1, b2, hap] = lb.topo.backends.ipv4;
    const [b1v6, b2v6, hapv6] = lb.topo.backends.ipv6;
    const add = (args: string[]) => lb.cliJson<ServiceJson>(['service', 'add', ...args]);
    add([`${VIP4}:80`, '--backend', `${b1}:80`, '--backend', `${b2}:80`, '--ppv2', '--name', 'web4']);
    add([
      `[${VIP6}]:80`,
      '--backend',
      `[${b1v6}]:80`,
      '--backend',
      `[${b2v6}]:80`,
      '--ppv2',
      '--name',
      'web6',
    ]);
    add([`${VIP4}:81`, '--backend', `${b1}:80`, '--mode', 'dnat', '--ppv2', '--name', 'dnat4']);
    add([`[${VIP6}]:81`, '--backend', `[${b1v6}]:80`, '--mode', 'dnat', '--ppv2', '--name', 'dnat6']);
    // HAProxy behind both modes: port 82 fullnat, port 85 dnat.
    for (const [port, mode] of [
      [82, 'fullnat'],
      [85, 'dnat'],
    ] as const) {
      for (const [vip, backend] of [
        [VIP4, hap],
        [`[${VIP6}]`, `[${hapv6}]`],
      ] as const) {
        const tlvs = ['--ppv2-tlv', 'unique-id', '--ppv2-tlv', 'crc32c'];
        add([`${vip}:${port}`, '--backend', `${backend}:80`, '--mode', mode, '--ppv2', ...tlvs]);
      }
    }
    add([`${VIP4}:8080`, '--backend', `${b1}:8080`, '--name', 'plain4']);
  });

  after(async () => {
    await lb?.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  /** The instance's state file (service names, ownership) as lbctl reads it. */
  const stateFileText = () => JSON.stringify(loadState(resolveInstance(lb.topo.ns.lb)));

  for (const [family, vip, mode, port] of [
    ['IPv4', VIP4, 'fullnat', 80],
    ['IPv6', VIP6, 'fullnat', 80],
    ['IPv4', VIP4, 'dnat', 81],
    ['IPv6', VIP6, 'dnat', 81],
  ] as const) {
    it(`nginx sees the real ${family} client address and port (${mode})`, async () => {
      for (const source of family === 'IPv4' ? lb.topo.client.ipv4 : lb.topo.client.ipv6) {
        const res = await lb.curl(url(vip, port, '/whoami'), ['--interface', source]);
        const view = JSON.parse(res.body) as NginxConnectionView;
        assert.equal(view.proxy_protocol_addr, source);
        assert.equal(view.proxy_protocol_port, String(res.localPort));
        assert.equal(view.proxy_protocol_server_addr, vip);
        // fullnat: the backend's peer is the balancer; dnat: the client itself.
        const balancer = family === 'IPv4' ? lb.topo.lb.backend4 : lb.topo.lb.backend6;
        assert.equal(view.remote_addr, mode === 'fullnat' ? balancer : source);
      }
    });
  }

  for (const [family, vip, mode, port] of [
    ['IPv4', VIP4, 'fullnat', 82],
    ['IPv6', VIP6, 'fullnat', 82],
    ['IPv4', VIP4, 'dnat', 85],
    ['IPv6', VIP6, 'dnat', 85],
  ] as const) {
    it(`HAProxy accepts the ${family} header with UNIQUE_ID and CRC32C and reports the client (${mode})`, async () => {
      const first = await lb.curl(url(vip, port, '/whoami'));
      const second = await lb.curl(url(vip, port, '/whoami'));
      const views = [first, second].map((r) => JSON.parse(r.body) as HaproxyConnectionView);
      assert.equal(views[0]?.src, first.localIp);
      assert.equal(String(views[0]?.src_port), String(first.localPort));
      assert.equal(views[0]?.fc_rcvd_proxy, '1', 'HAProxy received a PROXY header');
      assert.match(views[0]?.pp_unique_id ?? '', /^[0-9A-F]{32}$/, 'a 16-byte unique id');
      assert.notEqual(views[0]?.pp_unique_id, views[1]?.pp_unique_id, 'each connection gets its own id');
      // The TCP peer HAProxy sees: the balancer in fullnat, the client itself in dnat.
      const balancer = family === 'IPv4' ? lb.topo.lb.backend4 : lb.topo.lb.backend6;
      assert.equal(views[0]?.fc_src, mode === 'fullnat' ? balancer : first.localIp);
    });
  }

  it('tshark on the backend side dissects the injected header', async () => {
    const capture = await startCapture({
      netns: lb.topo.ns.backends,
      iface: lb.topo.ifaces.backends,
      filter: 'tcp port 80',
    });
    try {
      const v4 = await lb.curl(url(VIP4, 80, '/whoami'));
      const v6 = await lb.curl(url(VIP6, 80, '/whoami'));
      await capture.stop();
      const rows = await capture.fields({
        displayFilter: 'proxy.v2.protocol == 0x01',
        fields: ['proxy.src.ipv4', 'proxy.src.ipv6', 'proxy.srcport'],
      });
      assert.ok(
        rows.some((r) => r['proxy.src.ipv4'] === v4.localIp && r['proxy.srcport'] === String(v4.localPort)),
        JSON.stringify(rows),
      );
      assert.ok(
        rows.some((r) => r['proxy.src.ipv6'] === v6.localIp && r['proxy.srcport'] === String(v6.localPort)),
        JSON.stringify(rows),
      );
    } finally {
      await capture.dispose();
    }
  });

  for (const [family, vip] of [
    ['IPv4', VIP4],
    ['IPv6', VIP6],
  ] as const) {
    it(`transfers 20 MB down and 20 MB up byte-exact over ${family}`, async () => {
      const download = lb.nginx.download(DOWNLOAD_BYTES);
      const out = join(scratch, `down-${family}.bin`);
      await lb.curl(url(vip, 80, download.path), ['-o', out]);
      assert.equal(await sha256File(out), download.sha256);

      const body = join(scratch, `up-${family}.bin`);
      const data = Buffer.alloc(DOWNLOAD_BYTES);
      for (let i = 0; i < data.length; i += 4) data.writeUInt32LE((i * 2654435761) >>> 0, i);
      await writeFile(body, data);
      const before = (await lb.nginx.uploads()).length;
      const res = await lb.curl(url(vip, 80, '/upload'), ['--data-binary', `@${body}`, '-H', 'Expect:']);
      assert.equal(res.body, 'stored\n');
      assert.equal(
        await lb.nginx.lastUploadSha256(before + 1),
        createHash('sha256').update(data).digest('hex'),
      );
    });
  }

  it('delivers a plain stream when PPv2 is off', async () => {
    const res = await lb.curl(url(VIP4, 8080, '/whoami'));
    const view = JSON.parse(res.body) as NginxConnectionView;
    assert.equal(view.proxy_protocol_addr, '');
    assert.equal(view.remote_addr, lb.topo.lb.backend4);
  });

  it('counts exactly N new connections and N injected headers for N connections', async () => {
    const [b2] = lb.topo.backends.ipv4.slice(1);
    lb.cliJson(['service', 'add', `${VIP4}:83`, '--backend', `${b2}:80`, '--ppv2', '--name', 'count4']);
    const n = 7;
    for (let i = 0; i < n; i++) await lb.curl(url(VIP4, 83, '/whoami'));
    const stats = lb.cliJson<StatsJson>(['stats', '--service', 'count4']);
    const counters = stats.services[0]?.counters ?? {};
    assert.equal(counters.conn_new, n);
    assert.equal(counters.ppv2_injected, n);
    assert.equal(counters.ppv2_reinjected, 0);
    for (const [name, value] of Object.entries(counters)) {
      if (/^(ppv2_fail|drop_)/.test(name)) assert.equal(value, 0, `${name} stays zero`);
    }
  });

  it('sends new connections to the new backend set after service set', async () => {
    const [b1, b2] = lb.topo.backends.ipv4;
    lb.cliJson(['service', 'add', `${VIP4}:84`, '--backend', `${b1}:80`, '--ppv2', '--name', 'moving4']);
    const before = JSON.parse((await lb.curl(url(VIP4, 84, '/whoami'))).body) as NginxConnectionView;
    assert.equal(before.server_addr, b1);
    const updated = lb.cliJson<{ backends: Array<{ address: string }> }>([
      'service',
      'set',
      'moving4',
      '--add-backend',
      `${b2}:80:1`,
      '--remove-backend',
      `${b1}:80`,
    ]);
    assert.deepEqual(
      updated.backends.map((b) => b.address),
      [b2],
    );
    for (let i = 0; i < 3; i++) {
      const view = JSON.parse((await lb.curl(url(VIP4, 84, '/whoami'))).body) as NginxConnectionView;
      assert.equal(view.server_addr, b2);
      assert.equal(view.proxy_protocol_addr, lb.topo.client.ipv4[0]);
    }
  });

  it('keeps services across separate CLI invocations and lists live connections', async () => {
    // A fresh connection: closed ones leave conntrack after the CLOSED timeout (10 s).
    await lb.curl(url(VIP4, 80, '/whoami'));
    const listed = lb.cliJson<{ services: Array<{ name: string }> }>(['service', 'list']);
    assert.deepEqual(listed.services.map((s) => s.name).slice(0, 4), ['web4', 'web6', 'dnat4', 'dnat6']);
    const conns = lb.cliJson<{
      total: number;
      connections: Array<{ vip: string; ppv2: { injected: boolean } }>;
    }>(['conn', 'list', '--service', 'web4']);
    assert.ok(conns.total > 0);
    assert.ok(conns.connections.every((c) => c.vip === `${VIP4}:80` && c.ppv2.injected));
  });

  it('refuses bad input with a clear error and changes nothing', async () => {
    const before = lb.cliJson<{ services: unknown[] }>(['service', 'list']);
    const stateBefore = stateFileText();
    const [b1] = lb.topo.backends.ipv4;
    // Each case's error names the input it refuses.
    const cases: Array<[string[], number, string]> = [
      [['service', 'add', '203.0.113.300:80', '--backend', `${b1}:80`], 2, '203.0.113.300'],
      [['service', 'add', `${VIP4}:0`, '--backend', `${b1}:80`], 2, `${VIP4}:0`],
      [['service', 'add', `${VIP4}:90`, '--backend', `${b1}:99999`], 2, '99999'],
      [['service', 'add', `${VIP4}:90`, '--backend', '[2001:db8:b::2]:80'], 2, '2001:db8:b::2'],
      [['service', 'add', `${VIP4}:80`, '--backend', `${b1}:80`], 6, `${VIP4}:80`],
      [['service', 'add', `${VIP4}:90`, '--backend', `${b1}:80`, '--ppv2-tlv', 'unique-id'], 2, '--ppv2'],
      [['service', 'delete', `${VIP4}:99`], 3, `${VIP4}:99`],
      [['service', 'show', 'nope'], 3, 'nope'],
      [['attach', 'nosuch0'], 3, 'nosuch0'],
      ...addressRefusals(),
    ];
    const results = await lb.cliEach(cases.map(([args]) => args));
    cases.forEach(([args, code, input], i) => {
      assertCliError(results[i] as CliResult, code, { mentions: [input] }, args.join(' '));
    });
    assert.deepEqual(lb.cliJson<{ services: unknown[] }>(['service', 'list']), before);
    assert.equal(stateFileText(), stateBefore, 'the state file is untouched');
  });

  /** Issue 12 point 6: special VIPs and backends, and SNAT addresses of the other family or not local. */
  function addressRefusals(): Array<[string[], number, string]> {
    const [b1] = lb.topo.backends.ipv4;
    const [b1v6] = lb.topo.backends.ipv6;
    const own = lb.topo.lb; // the balancer's own addresses: local, so only their family is wrong below
    const notLocal4 = '198.51.100.250';
    const vips4 = ['0.0.0.0', '255.255.255.255', '224.0.0.1', '127.0.0.1'];
    const vips6 = ['::', 'ff02::1', '::1', '::ffff:203.0.113.10'];
    const backends = ['0.0.0.0', '127.0.0.1', '224.0.0.1'];
    const add = (vip: string, backend: string, ...rest: string[]) => [
      'service',
      'add',
      vip,
      '--backend',
      backend,
      ...rest,
    ];
    return [
      ...vips4.map((vip): [string[], number, string] => [add(`${vip}:90`, `${b1}:80`), 2, vip]),
      ...vips6.map((vip): [string[], number, string] => [
        add(`[${vip}]:90`, `[${b1v6}]:80`),
        2,
        `[${vip}]:90`,
      ]),
      ...backends.map((b): [string[], number, string] => [add(`${VIP4}:90`, `${b}:80`), 2, b]),
      [add(`[${VIP6}]:90`, '[::1]:80'), 2, '::1'],
      [add(`${VIP4}:90`, `${b1}:80`, '--snat', own.backend6), 2, own.backend6],
      [add(`[${VIP6}]:90`, `[${b1v6}]:80`, '--snat', own.backend4), 2, own.backend4],
      [add(`${VIP4}:90`, `${b1}:80`, '--snat', notLocal4), 2, notLocal4],
      [add(`[${VIP6}]:90`, `[${b1v6}]:80`, '--snat', '2001:db8:b::250'), 2, '2001:db8:b::250'],
      [['service', 'set', 'web4', '--snat', own.backend6], 2, own.backend6],
      [['service', 'set', 'web6', '--snat', own.backend4], 2, own.backend4],
      [['service', 'set', 'web4', '--snat', notLocal4], 2, notLocal4],
      [['service', 'set', 'web4', '--add-backend', '127.0.0.1:80'], 2, '127.0.0.1'],
      [['service', 'set', 'dnat4', '--snat', own.backend4], 2, own.backend4],
    ];
  }

  it('accepts a local SNAT address of the VIP family and stores it as given', () => {
    const { backend4, backend6 } = lb.topo.lb;
    const v4 = lb.cliJson<{ snat: string }>(['service', 'set', 'web4', '--snat', backend4]);
    assert.equal(v4.snat, backend4);
    const v6 = lb.cliJson<{ snat: string }>(['service', 'set', 'web6', '--snat', backend6]);
    assert.equal(v6.snat, backend6);
  });

  it('reports missing privileges (capabilities dropped) with exit code 4', () => {
    const res = lbctl(['--netns', lb.topo.ns.lb, 'service', 'list'], {
      prefix: [...UNPRIVILEGED, '--'],
    });
    assertCliError(res, 4, { hint: true });
  });

  it("status shows the connection table's capacity, fill and memory, as the kernel accounts it", async () => {
    const status = lb.cliJson<{
      pinDir: string;
      maps: Array<{ map: string; entries: number; maxEntries: number; memoryBytes: number }>;
      conntrack: {
        connections: number;
        capacityConnections: number;
        memoryBytes: number;
        bytesPerConnection: number;
      };
    }>(['status']);
    const ct = status.maps.find((m) => m.map === 'conntrack');
    assert.ok(ct);
    // The pin is in this (the host's) bpffs: `ip netns exec` would mount a fresh sysfs without it.
    const shown = await run('bpftool', ['-j', 'map', 'show', 'pinned', join(status.pinDir, 'lb_conntrack')]);
    const kernel = JSON.parse(shown.stdout) as { max_entries: number; bytes_memlock: number };
    assert.equal(ct.maxEntries, kernel.max_entries);
    assert.equal(ct.memoryBytes, kernel.bytes_memlock, 'the memlock bpftool reports');
    assert.equal(status.conntrack.capacityConnections, kernel.max_entries / 2);
    assert.equal(status.conntrack.connections, Math.floor(ct.entries / 2));
    // Two entries per connection, each a key and a value (src/bpf/abi.ts) plus the kernel's bookkeeping.
    const payload = 2 * (RECORD_SIZES.ctKey + RECORD_SIZES.ctEntry);
    assert.ok(
      status.conntrack.bytesPerConnection >= payload && status.conntrack.bytesPerConnection < payload + 256,
      `${status.conntrack.bytesPerConnection} B per connection`,
    );
  });

  it('detach --all leaves no filter, qdisc or pinned object behind', async () => {
    const status = lb.cliJson<{ pinDir: string }>(['status']);
    const res = lb.cli(['detach', '--all']);
    assert.equal(res.code, 0, res.stderr);
    for (const dev of [lb.topo.ifaces.lbClient, lb.topo.ifaces.lbBackend]) {
      const qdiscs = await run('tc', ['qdisc', 'show', 'dev', dev], { netns: lb.topo.ns.lb });
      assert.doesNotMatch(qdiscs.stdout, /clsact/);
    }
    assert.equal(existsSync(status.pinDir), false);
    assert.equal(parseJson<{ attached: boolean }>(lb.cli(['status', '--json'])).attached, false);
  });
});
