/**
 * Switch the calling thread into a named network namespace with setns(2), the way `--netns NAME` works.
 *
 * Why this is enough in Node: setns(CLONE_NEWNET) changes only the calling thread's network namespace.
 * lbctl calls it on the main JS thread, and everything that must happen inside the namespace also runs on
 * that thread: koffi's synchronous calls (libbpf's netlink sockets for tc, if_nametoindex) execute on the
 * caller's thread, sockets Node opens are created there, and child processes are forked from it (so they
 * inherit the namespace too). libuv's worker threads stay where they were; they do file system work, which
 * does not depend on the network namespace. Unlike `ip netns exec`, no mount namespace is entered, so
 * /sys/fs/bpf stays the host's bpffs and pinned maps are shared with the host.
 *
 * Never switch namespaces with `.async` koffi calls in flight: those run on worker threads that would not
 * follow.
 */
import { closeSync, openSync, readdirSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import koffi from 'koffi';
import { errnoError, LbctlError } from '../errors.js';
import { CLONE_NEWNET, libc } from '../sys/libc.js';

const NETNS_DIR = '/run/netns';
/** The namespace of this thread (not of the thread group leader, which /proc/self would give). */
const CURRENT_NETNS = '/proc/thread-self/ns/net';

/**
 * A network namespace's identity: the (device, inode) pair of its nsfs file, which stat(2) reports the same
 * for /proc/<pid>/ns/net, /proc/thread-self/ns/net and an `ip netns` bind mount under /run/netns.
 */
export interface NetnsId {
  dev: number;
  ino: number;
}

/** The (dev, ino) of an nsfs path, or undefined when it cannot be read (no such file, EACCES). */
export function netnsIdOf(path: string): NetnsId | undefined {
  try {
    const st = statSync(path);
    return { dev: st.dev, ino: st.ino };
  } catch {
    return undefined;
  }
}

/** The identity of this thread's network namespace (after any setns). */
export function currentNetnsId(): NetnsId {
  const id = netnsIdOf(CURRENT_NETNS);
  if (!id) throw new LbctlError('FAILURE', `cannot read ${CURRENT_NETNS}`, 'is /proc mounted?');
  return id;
}

/** Every `ip netns` name with the namespace it names; names whose bind mount is gone are left out. */
export function namedNetnsIds(): Array<{ name: string; id: NetnsId }> {
  let names: string[];
  try {
    names = readdirSync(NETNS_DIR);
  } catch {
    return [];
  }
  // An `ip netns add` that is not mounted (yet) is an empty file on the directory's own file system.
  const directoryDev = netnsIdOf(NETNS_DIR)?.dev;
  return names.flatMap((name) => {
    const id = netnsIdOf(join(NETNS_DIR, name));
    return id && id.dev !== directoryDev ? [{ name, id }] : [];
  });
}

/** /run/netns/<name> for an `ip netns` name; an absolute path (e.g. /proc/<pid>/ns/net) is used as is. */
export function netnsPath(name: string): string {
  if (isAbsolute(name)) return name;
  if (name.length === 0 || name.includes('/') || name === '.' || name === '..') {
    throw new LbctlError(
      'USAGE',
      `invalid network namespace name '${name}'`,
      'use a name from `ip netns list`',
    );
  }
  return join(NETNS_DIR, name);
}

function openNamespace(path: string, label: string): number {
  try {
    return openSync(path, 'r');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') {
      throw new LbctlError(
        'NOT_FOUND',
        `no network namespace ${label} (${path})`,
        'list namespaces with: ip netns list',
      );
    }
    throw errnoError(`open network namespace ${label}`, e.errno ?? -5);
  }
}

function setnsFd(fd: number, label: string): void {
  if (libc().setns(fd, CLONE_NEWNET) === 0) return;
  const errno = koffi.errno();
  if (errno === 22) throw new LbctlError('USAGE', `${label} is not a network namespace`);
  throw errnoError(`enter network namespace ${label}`, errno);
}

/**
 * Move the calling thread into network namespace `name` (an `ip netns` name or a path). Returns a function
 * that moves it back to the namespace it was in. A missing namespace is NOT_FOUND.
 */
export function enterNetns(name: string): () => void {
  const target = openNamespace(netnsPath(name), name);
  let original: number;
  try {
    original = openNamespace(CURRENT_NETNS, 'of this process');
  } catch (err) {
    closeSync(target);
    throw err;
  }
  try {
    setnsFd(target, name);
  } catch (err) {
    closeSync(original);
    throw err;
  } finally {
    closeSync(target);
  }
  let restored = false;
  return () => {
    if (restored) return;
    restored = true;
    try {
      setnsFd(original, 'of this process');
    } finally {
      closeSync(original);
    }
  };
}

/**
 * Run `fn` inside network namespace `name` and switch back afterwards, also when it throws. If `fn` returns
 * a promise, the switch back happens when it settles — and everything else the event loop runs meanwhile
 * is inside the namespace too, so keep such sections short and exclusive.
 */
export function withNetns<T>(name: string, fn: () => T): T {
  const restore = enterNetns(name);
  let result: T;
  try {
    result = fn();
  } catch (err) {
    restore();
    throw err;
  }
  if (result instanceof Promise) return result.finally(restore) as T;
  restore();
  return result;
}
