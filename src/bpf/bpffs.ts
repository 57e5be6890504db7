/**
 * The BPF filesystem that holds lbctl's pinned maps: make sure it is mounted, create pin directories on
 * it, and remove them again.
 *
 * bpffs is a per-mount-namespace thing. `ip netns exec` gives its child a fresh /sys, so pins made there
 * are not the host's; lbctl switches only the network namespace (see netns.ts) and keeps the host's bpffs.
 */
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmdirSync,
  unlinkSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import koffi from 'koffi';
import { errnoError, LbctlError } from '../errors.js';
import { withFileLock } from '../sys/file-lock.js';
import { libc, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RELATIME } from '../sys/libc.js';

export const BPFFS_ROOT = '/sys/fs/bpf';
/** Serialises "check, then mount" between concurrent lbctl processes, so bpffs is never mounted twice. */
const MOUNT_LOCK = '/run/lock/lbctl-bpffs.lock';

interface MountEntry {
  source: string;
  target: string;
  fstype: string;
}

/** /proc/self/mounts, in mount order; fields escape space, tab, newline and backslash as octal. */
function readMounts(): MountEntry[] {
  const decodeOctal = (s: string) =>
    s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => {
      const [source = '', target = '', fstype = ''] = line.split(' ');
      return { source: decodeOctal(source), target: decodeOctal(target), fstype };
    });
}

/** The real path of `path`, or of its nearest existing ancestor joined with the missing tail. */
function realpathOfNearest(path: string): string {
  let dir = resolve(path);
  const tail: string[] = [];
  while (!existsSync(dir)) {
    const parent = dirname(dir);
    if (parent === dir) break;
    tail.unshift(dir.slice(parent === '/' ? 1 : parent.length + 1));
    dir = parent;
  }
  return join(realpathSync(dir), ...tail);
}

/** The mount `path` lives on: the longest matching mount point, the last one mounted if stacked. */
function mountOf(path: string): MountEntry | undefined {
  const real = realpathOfNearest(path);
  let best: MountEntry | undefined;
  for (const m of readMounts()) {
    const covers = m.target === '/' || real === m.target || real.startsWith(`${m.target}/`);
    if (covers && (!best || m.target.length >= best.target.length)) best = m;
  }
  return best;
}

/** Whether `path` (existing or not) would live on a bpffs mount. */
export function isOnBpffs(path: string): boolean {
  return mountOf(path)?.fstype === 'bpf';
}

/**
 * Make sure `root` (default /sys/fs/bpf) is on a bpffs mount, mounting bpffs there if needed.
 * Returns true when this call mounted it. Needs CAP_SYS_ADMIN to mount.
 */
export function ensureBpffs(root: string = BPFFS_ROOT): boolean {
  if (isOnBpffs(root)) return false;
  return withMountLock(() => {
    if (isOnBpffs(root)) return false; // another lbctl mounted it while we waited for the lock
    mkdirSync(root, { recursive: true });
    const flags = MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME;
    if (libc().mount('bpf', root, 'bpf', flags, 'mode=0700') !== 0) {
      throw errnoError(`mount bpffs on ${root}`, koffi.errno(), mountHint(koffi.errno(), root));
    }
    return true;
  });
}

function mountHint(errno: number, root: string): string {
  return errno === 1 || errno === 13
    ? 'run as root (mounting bpffs needs CAP_SYS_ADMIN)'
    : `mount it yourself: mount -t bpf bpf ${root}`;
}

function withMountLock<T>(fn: () => T): T {
  try {
    return withFileLock(MOUNT_LOCK, fn);
  } catch (err) {
    // No writable /run/lock: mount unlocked; the mount itself reports EPERM if that is the real problem.
    if ((err as NodeJS.ErrnoException).code === 'EACCES' || (err as NodeJS.ErrnoException).code === 'EROFS') {
      return fn();
    }
    throw err;
  }
}

/**
 * `mkdir -p` a pin directory on bpffs (mode 0700), mounting bpffs at /sys/fs/bpf first when the directory
 * is below it. A directory that would not be on bpffs is refused: pinning there fails with a misleading EPERM.
 */
export function ensurePinDir(dir: string): void {
  const abs = resolve(dir);
  if (abs === BPFFS_ROOT || abs.startsWith(`${BPFFS_ROOT}/`)) ensureBpffs(BPFFS_ROOT);
  if (!isOnBpffs(abs)) {
    throw new LbctlError(
      'USAGE',
      `pin directory ${abs} is not on a bpffs mount`,
      `choose a directory under ${BPFFS_ROOT}, or mount bpffs: mount -t bpf bpf <dir>`,
    );
  }
  try {
    mkdirSync(abs, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw fsError(`create pin directory ${abs}`, err);
  }
}

/**
 * Remove a pin directory: unlink every pinned object in it (and in subdirectories), then the directories.
 * Returns false when it did not exist. Refuses paths that are not on bpffs, and a bpffs mount point itself.
 */
export function removePinDir(dir: string): boolean {
  const abs = resolve(dir);
  if (!existsSync(abs)) return false;
  const mount = mountOf(abs);
  if (mount?.fstype !== 'bpf') {
    throw new LbctlError('USAGE', `refusing to remove ${abs}: it is not on a bpffs mount`);
  }
  if (realpathSync(abs) === mount.target) {
    throw new LbctlError('USAGE', `refusing to remove ${abs}: it is the bpffs mount point itself`);
  }
  const remove = (path: string): void => {
    if (lstatSync(path).isDirectory()) {
      for (const name of readdirSync(path)) remove(join(path, name));
      rmdirSync(path);
    } else {
      unlinkSync(path); // unpinning: the kernel frees the object once no fd or link holds it
    }
  };
  try {
    remove(abs);
  } catch (err) {
    throw fsError(`remove pin directory ${abs}`, err);
  }
  return true;
}

function fsError(what: string, err: unknown): LbctlError {
  const errno = (err as NodeJS.ErrnoException).errno;
  return typeof errno === 'number'
    ? errnoError(what, errno)
    : new LbctlError('FAILURE', `${what}: ${String(err)}`);
}
