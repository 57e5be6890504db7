// @ts-check
/**
 * The child side of tcpExchange (tcp-client.ts), run as `node tcp-client-child.mjs` under `ip netns exec`:
 * the parameters arrive as JSON on stdin and the result leaves as JSON on stdout. Plain JavaScript, checked
 * by tsc through the JSDoc types, so it starts without a TypeScript loader (one runs per exchange).
 */
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** @typedef {import('./tcp-client.js').ClientParams} ClientParams */
/** @typedef {import('./tcp-client.js').ClientReport} ClientReport */

/** @param {ClientParams} o */
function exchange(o) {
  const chunks = o.send.map((b) => Buffer.from(b, 'base64'));
  /** @type {Buffer[]} */
  const got = [];
  /** @type {{ localAddress?: string, localPort?: number }} */
  let local = {};
  let done = false;
  const sock = connect({
    host: o.host,
    port: o.port,
    localAddress: o.localAddress,
    localPort: o.localPort,
    noDelay: true,
  });
  /**
   * @param {ClientReport['closed']} closed
   * @param {string} [error]
   */
  const finish = (closed, error) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    sock.destroy();
    /** @type {ClientReport} */
    const report = { data: Buffer.concat(got).toString('base64'), closed, error, ...local };
    // Exit now: a pending gap timer would otherwise keep the process, and the caller, waiting.
    process.stdout.write(JSON.stringify(report), () => process.exit(0));
  };
  const timer = setTimeout(() => finish('timeout'), o.timeoutMs);
  sock.on('connect', async () => {
    local = { localAddress: sock.localAddress, localPort: sock.localPort };
    for (let i = 0; i < chunks.length; i++) {
      if (i > 0 && o.gapMs) await sleep(o.gapMs);
      if (done) return;
      sock.write(/** @type {Buffer} */ (chunks[i]));
    }
    if (o.endAfterSend) sock.end();
    if (o.resetAfterSend) {
      if (o.gapMs) await sleep(o.gapMs);
      if (done) return;
      sock.resetAndDestroy();
      finish('reset', 'ECONNRESET');
    }
  });
  sock.on('data', (d) => got.push(d));
  sock.on('end', () => finish('eof'));
  sock.on('close', () => finish('eof'));
  sock.on('error', (/** @type {NodeJS.ErrnoException} */ e) =>
    finish(e.code === 'ECONNRESET' ? 'reset' : 'error', e.code || e.message),
  );
}

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
  input += d;
});
process.stdin.on('end', () => exchange(JSON.parse(input)));
