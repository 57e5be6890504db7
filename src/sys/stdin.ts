import { read } from 'node:fs';
import { isatty } from 'node:tty';

/**
 * All of stdin as bytes. Read through the stream API: a synchronous read of fd 0 fails with EAGAIN when
 * stdin is a non-blocking pipe, which is how Node sets up pipes from other processes.
 */
export async function readAllStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin)
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks);
}

/** Whether stdin is a terminal, asked of fd 0 itself: `process.stdin` would open it as a stream. */
export const stdinIsTerminal = (): boolean => isatty(0);

/**
 * Up to `count` bytes of stdin, fewer only at its end. Read from fd 0 directly, never through
 * `process.stdin`: a stream reads ahead in 64 KiB chunks, this consumes exactly what it returns, so a
 * caller that needs a few bytes in front of an endless stream reads those and no more.
 */
export async function readStdinBytes(count: number): Promise<Buffer> {
  const buffer = Buffer.alloc(count);
  let have = 0;
  while (have < count) {
    const got = await readFd0(buffer, have, count - have);
    if (got === 0) break;
    have += got;
  }
  return buffer.subarray(0, have);
}

/** Retry interval when fd 0 is a non-blocking pipe with nothing in it yet (read gives EAGAIN). */
const EAGAIN_RETRY_MS = 5;

function readFd0(buffer: Buffer, offset: number, length: number): Promise<number> {
  return new Promise((resolve, reject) => {
    read(0, buffer, offset, length, null, (err, bytesRead) => {
      if (!err) resolve(bytesRead);
      else if (err.code === 'EAGAIN') {
        setTimeout(() => readFd0(buffer, offset, length).then(resolve, reject), EAGAIN_RETRY_MS);
      } else reject(err);
    });
  });
}
