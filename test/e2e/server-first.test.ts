/**
 * Server-first protocols through the balancer: the backend speaks first, so the PPv2 header must reach it
 * when the handshake completes, not with the client's first data (which never comes before the greeting).
 * A real Postfix with `smtpd_upstream_proxy_protocol = haproxy` behind PPv2 services, IPv4 and IPv6, fullnat
 * and dnat, once with PROXY v2 headers and once with v1 lines (Postfix reads both); swaks as the SMTP client.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hostPort } from '../../src/host-port.js';
import { run } from '../../src/sys/run.js';
import { type PostfixBackend, SMTP_BANNER, startPostfix } from '../helpers/postfix.js';
import { suitePrerequisites } from '../helpers/prereq.js';
import { type Balancer, startBalancer } from './fixtures/balancer.js';
import { assertNoFailures, counterDelta, globalCounters } from './fixtures/tcp-cases.js';

const needs = { root: true, binaries: ['ip', 'tc', 'nginx', 'haproxy', 'postfix', 'swaks'] };
const { skip, assertPrerequisites } = suitePrerequisites(needs);

const SMTP_PORT = 2525;
const CASES = [
  { family: 4, mode: 'fullnat', vip: '203.0.113.10', port: 25, client: '192.0.2.10' },
  { family: 4, mode: 'dnat', vip: '203.0.113.10', port: 26, client: '192.0.2.11' },
  { family: 6, mode: 'fullnat', vip: '2001:db8:f::10', port: 25, client: '2001:db8:c::10' },
  { family: 6, mode: 'dnat', vip: '2001:db8:f::10', port: 26, client: '2001:db8:c::11' },
] as const;

/** Once per header version, each with its own balancer and Postfix (and so its own log). */
for (const version of [2, 1] as const) {
  describe(`server-first (PROXY v${version}): SMTP through Postfix gets its banner, and Postfix logs the real client`, {
    skip,
  }, () => {
    let lb: Balancer;
    let postfix: PostfixBackend;

    before(async () => {
      assertPrerequisites();
      lb = await startBalancer(`lbctl-smtp${version}`);
      const [b4] = lb.topo.backends.ipv4;
      const [b6] = lb.topo.backends.ipv6;
      assert.ok(b4 && b6);
      postfix = await startPostfix({ netns: lb.topo.ns.backends, addresses: [b4, b6], port: SMTP_PORT });
      for (const c of CASES) {
        const backend = hostPort(c.family === 4 ? b4 : b6, SMTP_PORT);
        lb.cliJson([
          'service',
          'add',
          hostPort(c.vip, c.port),
          '--backend',
          backend,
          '--mode',
          c.mode,
          ...(version === 1 ? ['--proxy-protocol', 'v1'] : ['--ppv2']),
        ]);
      }
    });

    after(async () => {
      await postfix?.stop();
      await lb?.close();
    });

    for (const c of CASES) {
      it(`IPv${c.family} ${c.mode}: the banner comes, EHLO is answered, and the log names ${c.client}`, async () => {
        const before = globalCounters(lb);
        const res = await run(
          'swaks',
          [
            ...['--server', c.vip, '--port', String(c.port), '--local-interface', c.client],
            ...['--quit-after', 'EHLO', '--helo', 'client.lbctl.test', '--timeout', '10'],
          ],
          { netns: lb.topo.ns.client, timeoutMs: 20_000, allowFailure: true },
        );
        assert.equal(res.code, 0, `swaks failed: ${res.stdout}${res.stderr}`);
        assert.match(
          res.stdout,
          new RegExp(`<- {2}220 \\S+ ${SMTP_BANNER}`),
          'the greeting reached the client',
        );
        assert.match(res.stdout, /<- {2}250 /, 'EHLO answered');
        const escaped = c.client.replaceAll('.', '\\.');
        await postfix.waitForLog(new RegExp(`connect from unknown\\[${escaped}\\]`));
        const delta = counterDelta(before, globalCounters(lb));
        assert.equal(delta.ppv2_hdr_alone, 1, 'the header went alone, in the handshake-completing ACK');
        assert.equal(delta.ppv2_hdr_with_data ?? 0, 0);
        assertNoFailures(globalCounters(lb));
      });
    }
  });
}
