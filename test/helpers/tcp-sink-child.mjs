// @ts-check
/**
 * The child side of startTcpSink (tcp-sink.ts), run as `node tcp-sink-child.mjs PARAMS_JSON` under
 * `ip netns exec`: it reads each connection to the end and answers (and logs) one JSON report of what it
 * received. Plain JavaScript, checked by tsc through the JSDoc types, so it starts without a loader.
 */
import { createHash } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** @typedef {import('./tcp-sink.js').SinkParams} SinkParams */
/** @typedef {import('./tcp-sink.js').SinkReportJson} SinkReportJson */

/** @type {SinkParams} */
const o = JSON.parse(process.argv[2] ?? '{}');
for (const host of o.addresses) {
  createServer((sock) => {
    const hash = createHash('sha256');
    /** @type {Buffer[]} */
    const head = [];
    let bytes = 0;
    sock.on('data', (d) => {
      hash.update(d);
      if (bytes < o.headBytes) head.push(d.subarray(0, o.headBytes - bytes));
      bytes += d.length;
    });
    sock.on('end', () => {
      /** @type {SinkReportJson} */
      const report = {
        remoteAddress: /** @type {string} */ (sock.remoteAddress),
        remotePort: /** @type {number} */ (sock.remotePort),
        bytes,
        sha256: hash.digest('hex'),
        head: Buffer.concat(head).toString('base64'),
      };
      const line = JSON.stringify(report);
      appendFileSync(o.log, `${line}\n`);
      sock.end(`${line}\n`);
    });
    sock.on('error', () => sock.destroy());
  }).listen({ host, port: o.port });
}
