/**
 * Path MTU discovery through the balancer (issue 12, point 7): a router between the balancer and the
 * backends whose routes carry a smaller MTU than any link, no MSS clamping anywhere, PMTUD as the kernel
 * does it by default. A client's full-size segments only get through once the router's "fragmentation
 * needed" / "packet too big" error, sent to the SNAT address (fullnat) or the client (dnat) about the
 * translated segment, reaches the client translated back to its own connection. Uploads and downloads
 * through the VIP must then complete byte-exact, in both families and both modes.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sha256File } from '../../src/lab/nginx.js';
import { run } from '../../src/sys/run.js';
import { suitePrerequisites } from '../helpers/prereq.js';
import { type Balancer, startBalancer } from './fixtures/balancer.js';
import { type Counters, FAMILIES, serviceCounters, url } from './fixtures/lifecycle.js';
import { assertNoFailures, patternBytes } from './fixtures/tcp-cases.js';

const { skip, assertPrerequisites } = suitePrerequisites({
  root: true,
  binaries: ['ip', 'tc', 'nginx', 'haproxy', 'curl', 'sysctl'],
});

const PATH_MTU = 1400;
const MIB = 1024 * 1024;
const MODES = [
  { mode: 'fullnat', port: 80 },
  { mode: 'dnat', port: 81 },
] as const;

/** sha256 of the first `bytes` bytes of a file. */
async function sha256Prefix(file: string, bytes: number): Promise<string> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(bytes);
    const { bytesRead } = await fh.read(buf, 0, bytes, 0);
    assert.equal(bytesRead, bytes, `${file} holds at least ${bytes} bytes`);
    return createHash('sha256').update(buf).digest('hex');
  } finally {
    await fh.close();
  }
}

describe(`path MTU discovery through the balancer (router with a ${PATH_MTU}-byte path MTU to the backends)`, {
  skip,
}, () => {
  let lb: Balancer;
  let scratch = '';

  before(async () => {
    assertPrerequisites();
    scratch = await mkdtemp(join(tmpdir(), 'lbctl-pmtu-'));
    lb = await startBalancer('lbctl-pmtu', { router: { mtu: PATH_MTU } });
    const [b1] = lb.topo.backends.ipv4;
    const [b1v6] = lb.topo.backends.ipv6;
    for (const f of FAMILIES) {
      const backend = f.v6 ? `[${b1v6}]:80` : `${b1}:80`;
      const vip = f.v6 ? `[${f.vip}]` : f.vip;
      for (const m of MODES) {
        const name = `${m.mode}${f.v6 ? 6 : 4}`;
        lb.cliJson([
          'service',
          'add',
          `${vip}:${m.port}`,
          '--backend',
          backend,
          '--mode',
          m.mode,
          '--ppv2',
          '--name',
          name,
        ]);
      }
    }
  });
  after(async () => {
    await lb?.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  for (const f of FAMILIES) {
    for (const m of MODES) {
      const name = `${m.mode}${f.v6 ? 6 : 4}`;

      it(`${f.family} ${m.mode}: 1 MiB up and 1 MiB down byte-exact, the client learning the path MTU from the translated error`, async () => {
        const client = lb.topo.ns.client;
        // Each case starts from a client that knows no path MTU for the VIP: the error must come again.
        await run('ip', ['-n', client, f.v6 ? '-6' : '-4', 'route', 'flush', 'cache']);
        const before: Counters = serviceCounters(lb, name);

        const body = join(scratch, `up-${name}.bin`);
        const data = patternBytes(MIB, f.v6 ? 6 : 4);
        await writeFile(body, data);
        const uploadsBefore = (await lb.nginx.uploads()).length;
        const up = await lb.curl(url(f.vip, m.port, '/upload'), [
          '--data-binary',
          `@${body}`,
          '-H',
          'Expect:',
        ]);
        assert.equal(up.body, 'stored\n');
        assert.equal(
          await lb.nginx.lastUploadSha256(uploadsBefore + 1),
          createHash('sha256').update(data).digest('hex'),
          'the upload arrived byte-exact',
        );

        const route = await run('ip', ['-n', client, f.v6 ? '-6' : '-4', 'route', 'get', f.vip]);
        assert.match(
          route.stdout,
          new RegExp(`mtu ${PATH_MTU}\\b`),
          `the client learned the path MTU: ${route.stdout}`,
        );

        const file = lb.nginx.downloads[0];
        assert.ok(file, 'nginx serves a download');
        const out = join(scratch, `down-${name}.bin`);
        await lb.curl(url(f.vip, m.port, file.path), ['-o', out, '-r', `0-${MIB - 1}`]);
        assert.equal(
          await sha256File(out),
          await sha256Prefix(file.file, MIB),
          'the download arrived byte-exact',
        );

        const after = serviceCounters(lb, name);
        assert.ok(
          after.icmp_translated > before.icmp_translated,
          `errors translated: ${after.icmp_translated}`,
        );
        assert.ok(after.icmp_too_big > before.icmp_too_big, `too-big errors: ${after.icmp_too_big}`);
        assertNoFailures(after);
      });
    }
  }
});
