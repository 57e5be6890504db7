import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { LOCK_EX, LOCK_UN, libc } from './libc.js';

/**
 * Run `fn` holding an exclusive flock(2) on `path`. Short-lived lbctl processes can run concurrently (two
 * scripts adding services at once); the lock turns their read-modify-write of maps and state into a queue.
 * The kernel drops the lock if the process dies, so a crash never leaves it held.
 */
export function withFileLock<T>(path: string, fn: () => T): T {
  const release = acquire(path);
  try {
    return fn();
  } finally {
    release();
  }
}

/** The same for asynchronous work: the lock is held until the promise settles. */
export async function withFileLockAsync<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const release = acquire(path);
  try {
    return await fn();
  } finally {
    release();
  }
}

function acquire(path: string): () => void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const fd = openSync(path, 'a', 0o600);
  libc().flock(fd, LOCK_EX);
  return () => {
    libc().flock(fd, LOCK_UN);
    closeSync(fd);
  };
}
