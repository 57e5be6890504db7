/**
 * `ppv2 decode` reads a header from stdin in constant memory (issue 13 point 8): only the bytes the header
 * needs, never the stream behind it. Runs the built CLI with a never-ending stream after the header; no
 * root, namespaces or BPF.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const RUN_JS = fileURLToPath(new URL('../../bin/run.js', import.meta.url));
/** Generous for Node and oclif (about 70 MB here); buffering the stream would pass it within a second. */
const PEAK_RSS_LIMIT_KB = 150 * 1024;
/** Not a timing check: a reader that waits for the end of an endless stream never exits at all. */
const GIVE_UP_MS = 60_000;

/** PROXY TCP4 192.0.2.10:51234 -> 203.0.113.10:80, the example of `lbctl ppv2 decode --help`. */
const v2 = Buffer.from('0d0a0d0a000d0a515549540a2111000cc000020acb00710ac8220050', 'hex');
const v1 = Buffer.from('PROXY TCP6 2001:db8::10 2001:db8:1::a 40000 443\r\n', 'latin1');

/** Preloaded into the child: on exit it writes its peak RSS (VmHWM, kB) to the file PEAK_RSS_FILE names. */
const PEAK_RSS_REPORTER = `data:text/javascript,${encodeURIComponent(`
  import { readFileSync, writeFileSync } from 'node:fs';
  process.on('exit', () => {
    const hwm = /VmHWM:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'));
    writeFileSync(process.env.PEAK_RSS_FILE, hwm ? hwm[1] : '');
  });
`)}`;

interface StreamRun {
  code: number | null;
  stdout: string;
  stderr: string;
  peakRssKb: number;
  streamedBytes: number;
}

/** `ppv2 decode --json` with `header` and then zeros for as long as it reads them. */
async function decodeInFrontOfEndlessStream(header: Buffer, dir: string): Promise<StreamRun> {
  const peakFile = join(dir, 'peak-rss');
  const child = spawn(process.execPath, ['--import', PEAK_RSS_REPORTER, RUN_JS, 'ppv2', 'decode', '--json'], {
    env: { ...process.env, NO_COLOR: '1', PEAK_RSS_FILE: peakFile },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  child.stdin.on('error', () => {}); // EPIPE once the reader is done: expected
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const giveUp = setTimeout(() => child.kill('SIGKILL'), GIVE_UP_MS);
  let alive = true;
  void exited.then(() => {
    alive = false;
  });
  let streamedBytes = 0;
  const chunk = Buffer.alloc(1 << 20);
  child.stdin.write(header);
  while (alive && child.stdin.writable) {
    streamedBytes += chunk.length;
    if (!child.stdin.write(chunk)) {
      await Promise.race([new Promise((resolve) => child.stdin.once('drain', resolve)), exited]);
    }
  }
  const code = await exited;
  clearTimeout(giveUp);
  const peak = readFileSync(peakFile, 'utf8');
  return { code, stdout, stderr, peakRssKb: Number(peak), streamedBytes };
}

describe('ppv2 decode on a stream', () => {
  for (const [name, header] of [
    ['v2', v2],
    ['v1', v1],
  ] as const) {
    it(`decodes a ${name} header in front of an endless stream, exits by itself, in constant memory`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'lbctl-decode-'));
      try {
        const run = await decodeInFrontOfEndlessStream(header, dir);
        assert.equal(run.code, 0, `exit ${run.code}: ${run.stderr}`);
        const doc = JSON.parse(run.stdout) as {
          header: { version: number };
          consumed: number;
          trailingBytes: unknown;
        };
        assert.equal(doc.header.version, name === 'v2' ? 2 : 1);
        assert.equal(doc.consumed, header.length);
        assert.equal(doc.trailingBytes, null, 'what follows the header is left unread');
        assert.ok(run.peakRssKb > 0, 'the child reported its peak RSS');
        assert.ok(
          run.peakRssKb < PEAK_RSS_LIMIT_KB,
          `peak RSS ${run.peakRssKb} kB after ${run.streamedBytes} bytes offered`,
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('consumes exactly the header: the payload is still there for the next reader of the same stdin', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lbctl-decode-'));
    try {
      const payload = Buffer.from('GET / HTTP/1.1\r\nHost: example.com\r\n\r\n');
      for (const header of [v2, v1]) {
        const file = join(dir, 'capture.bin');
        writeFileSync(file, Buffer.concat([header, payload]));
        const fd = openSync(file, 'r');
        try {
          const shell = `"${process.execPath}" "${RUN_JS}" ppv2 decode --json >/dev/null && cat`;
          const res = spawnSync('sh', ['-c', shell], { stdio: [fd, 'pipe', 'pipe'] });
          assert.equal(res.status, 0, res.stderr.toString());
          assert.deepEqual(res.stdout, payload);
        } finally {
          closeSync(fd);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
