import { execFile, spawn } from 'node:child_process';
import { constants as fsConstants, readFileSync } from 'node:fs';
import { access, open, readFile } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LbctlError } from '../errors.js';
import { hostPort } from '../host-port.js';

/** Where our tools live even when the caller's PATH lacks the sbin directories (nginx, ip, haproxy). */
const EXTRA_PATH_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin'];
const SETUP_HINT = 'run scripts/setup.sh to install the system packages lbctl and its lab need';
const DEFAULT_TIMEOUT_MS = 30_000;

export interface RunOptions {
  /** Run inside this network namespace (`ip netns exec NAME ...`). */
  netns?: string;
  /** Kill the command (SIGKILL) after this long; default 30 s. */
  timeoutMs?: number;
  /** Bytes written to the command's stdin. */
  input?: string | Buffer;
  /** Return a non-zero exit as a result instead of throwing. */
  allowFailure?: boolean;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  /** Exit code; only non-zero when `allowFailure` is set. */
  code: number;
}

const resolved = new Map<string, string>();

/**
 * Absolute path of an executable, searching PATH plus the sbin directories. Resolving up front is what
 * lets a missing tool inside `ip netns exec` be reported as missing rather than as a failed `ip`.
 */
export async function findExecutable(name: string): Promise<string | undefined> {
  if (isAbsolute(name)) return (await isExecutable(name)) ? name : undefined;
  const cached = resolved.get(name);
  if (cached) return cached;
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...EXTRA_PATH_DIRS];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    if (await isExecutable(candidate)) {
      resolved.set(name, candidate);
      return candidate;
    }
  }
  return undefined;
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function requireExecutable(name: string): Promise<string> {
  const path = await findExecutable(name);
  if (!path) throw new LbctlError('UNSUPPORTED', `command not found: ${name}`, SETUP_HINT);
  return path;
}

/** The argv that runs `cmd args` in `netns` (or as is without one), with binaries resolved. */
async function buildArgv(cmd: string, args: readonly string[], netns?: string): Promise<[string, string[]]> {
  const bin = await requireExecutable(cmd);
  if (!netns) return [bin, [...args]];
  const ip = await requireExecutable('ip');
  return [ip, ['netns', 'exec', netns, bin, ...args]];
}

/** A command line for messages: the words the user would type, quoted only where needed. */
export function describeCommand(cmd: string, args: readonly string[], netns?: string): string {
  const words = netns ? ['ip', 'netns', 'exec', netns, cmd, ...args] : [cmd, ...args];
  return words.map((w) => (/^[\w@%+=:,./[\]-]+$/.test(w) ? w : `'${w.replaceAll("'", "'\\''")}'`)).join(' ');
}

function firstLine(text: string): string {
  return (
    text
      .split('\n')
      .map((l) => l.trim())
      .find(Boolean) ?? ''
  );
}

/**
 * Run an external command without a shell and capture its output. A non-zero exit, a timeout or a
 * signal becomes an LbctlError whose one-line message names the command and the first line of stderr.
 */
export async function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const [bin, argv] = await buildArgv(cmd, args, opts.netns);
  const shown = describeCommand(cmd, args, opts.netns);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise<RunResult>((resolve, reject) => {
    const child = execFile(
      bin,
      argv,
      {
        timeout: timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: 64 * 1024 * 1024,
        encoding: 'utf8',
        cwd: opts.cwd,
        env: opts.env,
      },
      (err, stdout, stderr) => {
        if (!err) return resolve({ stdout, stderr, code: 0 });
        const e = err as NodeJS.ErrnoException & { killed?: boolean; signal?: string | null; code?: unknown };
        if (e.code === 'ENOENT') {
          return reject(
            new LbctlError('UNSUPPORTED', `command not found: ${cmd}`, SETUP_HINT, { cause: err }),
          );
        }
        if (e.killed && e.signal === 'SIGKILL') {
          return reject(
            new LbctlError('FAILURE', `${shown} timed out after ${timeoutMs} ms`, undefined, { cause: err }),
          );
        }
        const code = typeof e.code === 'number' ? e.code : -1;
        if (opts.allowFailure && code > 0) return resolve({ stdout, stderr, code });
        const status = code >= 0 ? `exit ${code}` : `signal ${e.signal ?? 'unknown'}`;
        const detail = firstLine(stderr) || firstLine(stdout) || 'no output';
        const permission = /operation not permitted|permission denied/i.test(stderr);
        reject(
          new LbctlError(
            permission ? 'PERMISSION' : 'FAILURE',
            `${shown} failed (${status}): ${detail}`,
            permission ? 'run as root (the lab needs CAP_NET_ADMIN and CAP_SYS_ADMIN)' : undefined,
            { cause: err },
          ),
        );
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

// ---------------------------------------------------------------------------------------------------------
// Long-running processes

export interface DaemonOptions {
  /** Start inside this network namespace. `ip netns exec` execs the command, so the PID is the daemon's. */
  netns?: string;
  /** Both stdout and stderr are appended here; read it to see why a daemon failed or what it logged. */
  logFile: string;
  /**
   * Wait until the daemon itself (by PID, so an older listener on the same port does not count) listens
   * on all of these TCP sockets in the namespace.
   */
  waitListening?: ListenSpec[];
  /** Or wait until this returns true (e.g. a capture file has its header). Checked every 50 ms. */
  ready?: () => Promise<boolean>;
  /** How long to wait for readiness; default 10 s. */
  timeoutMs?: number;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Point start-up errors at the log file (default true); false when the caller deletes it on failure. */
  logHint?: boolean;
  /**
   * Let the daemon outlive this process (its own session, no pipes to us). `lbctl lab up` needs this;
   * tests do not, but it does no harm there either.
   */
  detached?: boolean;
}

export interface Daemon {
  pid: number;
  /** Kernel start time of the process (clock ticks since boot); guards `stop` against a reused PID. */
  startTime: number;
  command: string;
  logFile: string;
  /** The daemon's output so far. */
  log(): Promise<string>;
  /** True while the process exists (zombies count as gone). */
  alive(): boolean;
  /** SIGTERM, then SIGKILL after the grace period; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Start a long-running process and wait until it is ready (port listening, or `ready()` true). If it
 * exits or never gets ready, it is stopped and the error quotes the last line of its log.
 */
export async function spawnDaemon(
  cmd: string,
  args: readonly string[],
  opts: DaemonOptions,
): Promise<Daemon> {
  const [bin, argv] = await buildArgv(cmd, args, opts.netns);
  const shown = describeCommand(cmd, args, opts.netns);
  const out = await open(opts.logFile, 'a');
  let child: ReturnType<typeof spawn>;
  let started: Promise<number>;
  try {
    child = spawn(bin, argv, {
      stdio: ['ignore', out.fd, out.fd],
      detached: opts.detached ?? false,
      cwd: opts.cwd,
      env: opts.env,
    });
    // Listen before any other await: 'spawn' or 'error' fires on the next tick.
    const c = child;
    started = new Promise<number>((resolve, reject) => {
      c.once('spawn', () => resolve(c.pid as number));
      c.once('error', (err) =>
        reject(
          new LbctlError('FAILURE', `${shown} could not start: ${err.message}`, undefined, { cause: err }),
        ),
      );
    });
  } finally {
    // The child holds its own copy of the descriptor.
    await out.close();
  }
  let exitStatus: string | undefined;
  child.once('exit', (code, signal) => {
    exitStatus = signal ? `signal ${signal}` : `exit ${code}`;
  });
  const pid = await started;
  if (opts.detached) child.unref();
  const startTime = processStartTime(pid) ?? 0;
  const daemon: Daemon = {
    pid,
    startTime,
    command: shown,
    logFile: opts.logFile,
    log: () => readFile(opts.logFile, 'utf8').catch(() => ''),
    alive: () => exitStatus === undefined && isAlive(pid, startTime),
    stop: (graceMs?: number) => stop(pid, { graceMs, startTime }),
  };

  const hint = (opts.logHint ?? true) ? `see ${opts.logFile}` : undefined;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  const isReady = async (): Promise<boolean> => {
    for (const spec of opts.waitListening ?? [])
      if (!(await isListening(spec, opts.netns, pid))) return false;
    if (opts.ready && !(await opts.ready())) return false;
    return true;
  };
  for (;;) {
    if (!daemon.alive()) {
      const last = lastLine(await daemon.log());
      throw new LbctlError(
        'FAILURE',
        `${shown} exited during start-up (${exitStatus ?? 'gone'}): ${last || 'no output'}`,
        hint,
      );
    }
    if (await isReady()) return daemon;
    if (Date.now() > deadline) {
      await daemon.stop();
      const last = lastLine(await daemon.log());
      const what = opts.waitListening ? 'listening' : 'ready';
      throw new LbctlError(
        'FAILURE',
        `${shown} was not ${what} after ${timeoutMs} ms${last ? `: ${last}` : ''}`,
        hint,
      );
    }
    await sleep(50);
  }
}

function lastLine(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return lines[lines.length - 1] ?? '';
}

export interface ListenSpec {
  port: number;
  /** A local address; any address when absent. */
  host?: string;
}

/** PIDs owning TCP listeners on `port` (and `host`, if given) in the namespace; empty if none. */
export async function tcpListenerPids(spec: ListenSpec, netns?: string): Promise<number[]> {
  const { port, host } = spec;
  const filter = host ? `src ${hostPort(host, port)}` : `sport = :${port}`;
  const res = await run('ss', ['-Hltnp', filter], { netns, allowFailure: true, timeoutMs: 5_000 });
  if (res.code !== 0) return [];
  const pids = new Set<number>();
  for (const line of res.stdout.split('\n').filter((l) => l.trim())) {
    const owners = [...line.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1]));
    // A socket whose owner ss cannot name still counts as a listener.
    for (const pid of owners.length > 0 ? owners : [0]) pids.add(pid);
  }
  return [...pids];
}

/** Whether a TCP listener matches `spec` in the namespace; with `pid`, one owned by that process. */
export async function isListening(spec: ListenSpec, netns?: string, pid?: number): Promise<boolean> {
  const pids = await tcpListenerPids(spec, netns);
  return pid === undefined ? pids.length > 0 : pids.includes(pid);
}

/**
 * Start time of a process from /proc/PID/stat (field 22), or undefined if it does not exist. The command
 * name may hold spaces and parentheses, so fields are counted after the last ')'.
 */
export function processStartTime(pid: number): number | undefined {
  const stat = procStat(pid);
  if (!stat) return undefined;
  const value = Number(stat[19]);
  return Number.isFinite(value) ? value : undefined;
}

/** Fields of /proc/PID/stat after the command name: index 0 is the state (field 3). */
function procStat(pid: number): string[] | undefined {
  let text: string;
  try {
    // Synchronous on purpose: it is a tiny procfs read and keeps `alive()` usable in plain conditions.
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  return text
    .slice(text.lastIndexOf(')') + 2)
    .trim()
    .split(' ');
}

/**
 * Whether PID is a live process (not a zombie). With `startTime`, a different process that reused the
 * PID counts as gone. Zombies matter here: PID 1 in a container does not always reap orphans.
 */
export function isAlive(pid: number, startTime?: number): boolean {
  const stat = procStat(pid);
  if (!stat) return false;
  if (stat[0] === 'Z' || stat[0] === 'X') return false;
  if (startTime && Number(stat[19]) !== startTime) return false;
  return true;
}

export interface StopOptions {
  /** Time between SIGTERM and SIGKILL; default 3 s. */
  graceMs?: number;
  /** Only signal PID if it is still the process that started at this time (see `processStartTime`). */
  startTime?: number;
}

/**
 * Stop exactly one process: SIGTERM, SIGKILL after the grace period, and wait until it is gone. Safe to
 * call on a process that already exited.
 */
export async function stop(pid: number, opts: StopOptions = {}): Promise<void> {
  const graceMs = opts.graceMs ?? 3_000;
  if (!Number.isInteger(pid) || pid <= 1) throw new LbctlError('USAGE', `refusing to stop pid ${pid}`);
  if (!isAlive(pid, opts.startTime)) return;
  signal(pid, 'SIGTERM');
  if (await waitGone(pid, opts.startTime, graceMs)) return;
  signal(pid, 'SIGKILL');
  if (await waitGone(pid, opts.startTime, 5_000)) return;
  throw new LbctlError('FAILURE', `process ${pid} did not exit after SIGKILL`);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

async function waitGone(pid: number, startTime: number | undefined, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!isAlive(pid, startTime)) return true;
    await sleep(20);
  }
  return !isAlive(pid, startTime);
}
