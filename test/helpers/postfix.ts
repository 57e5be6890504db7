/**
 * A private Postfix instance in a namespace, as a server-first backend that reads PROXY headers
 * (`smtpd_upstream_proxy_protocol = haproxy`, which takes v1 and v2). Its own configuration, queue and log in a
 * scratch directory; the master runs in the foreground (`master -d`), so stopping it by PID stops the
 * instance. Postfix logs "connect from unknown[ADDR]" with the address the header names.
 */
import { chmod, chown, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listenSpecs } from '../../src/lab/net.js';
import { removeScratchDir, stopAndRemove } from '../../src/lab/scratch-dir.js';
import { run, spawnDaemon } from '../../src/sys/run.js';
import { waitFor } from './wait.js';

export const POSTFIX_MASTER = '/usr/lib/postfix/sbin/master';
export const SMTP_BANNER = 'ESMTP lbctl-test';

export interface PostfixBackend {
  pid: number;
  dir: string;
  logFile: string;
  log(): Promise<string>;
  /** Wait until the mail log has a line matching `pattern`; returns it. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
}

/** The services a receiving smtpd needs, none chrooted (the scratch queue has no chroot jail). */
const MASTER_CF = (port: number) =>
  [
    `${port} inet n - n - - smtpd`,
    'pickup unix n - n 60 1 pickup',
    'cleanup unix n - n - 0 cleanup',
    'qmgr unix n - n 300 1 qmgr',
    'rewrite unix - - n - - trivial-rewrite',
    'bounce unix - - n - 0 bounce',
    'defer unix - - n - 0 bounce',
    'trace unix - - n - 0 bounce',
    'verify unix - - n - 1 verify',
    'proxymap unix - - n - - proxymap',
    'anvil unix - - n - 1 anvil',
    'scache unix - - n - 1 scache',
    'postlog unix-dgram n - n - 1 postlogd',
    'discard unix - - n - - discard',
    'local unix - n n - - discard',
    '',
  ].join('\n');

const MAIN_CF = (dir: string, addresses: readonly string[]) =>
  [
    'compatibility_level = 3.6',
    `queue_directory = ${dir}/queue`,
    `data_directory = ${dir}/data`,
    `inet_interfaces = ${addresses.map((a) => (a.includes(':') ? `[${a}]` : a)).join(', ')}`,
    'inet_protocols = all',
    'myhostname = backend.lbctl.test',
    'mydestination = backend.lbctl.test',
    'mynetworks =',
    'alias_maps =',
    'alias_database =',
    'smtpd_upstream_proxy_protocol = haproxy',
    `maillog_file = ${dir}/maillog`,
    `maillog_file_prefixes = ${dir}`,
    `smtpd_banner = $myhostname ${SMTP_BANNER}`,
    '',
  ].join('\n');

export async function startPostfix(opts: {
  netns: string;
  addresses: string[];
  port: number;
}): Promise<PostfixBackend> {
  const dir = await mkdtemp(join(tmpdir(), 'lbctl-postfix-'));
  try {
    await chmod(dir, 0o755); // the daemons run as the postfix user and must reach the queue below it
    const conf = join(dir, 'conf');
    await mkdir(conf);
    await mkdir(join(dir, 'queue'));
    await mkdir(join(dir, 'data'));
    await writeFile(join(conf, 'main.cf'), MAIN_CF(dir, opts.addresses));
    await writeFile(join(conf, 'master.cf'), MASTER_CF(opts.port));
    // Postfix's daemons run as its own user: the data directory is theirs, the queue is laid out by postfix.
    const owner = await postfixUser();
    await chown(join(dir, 'data'), owner.uid, owner.gid);
    // In the namespace: postfix checks that inet_interfaces are local.
    await run('postfix', ['-c', conf, 'set-permissions', 'create-missing'], { netns: opts.netns });
    const logFile = join(dir, 'maillog');
    const daemon = await spawnDaemon(POSTFIX_MASTER, ['-c', conf, '-d'], {
      netns: opts.netns,
      logFile: join(dir, 'master.out'),
      logHint: false,
      waitListening: listenSpecs(opts.addresses, [opts.port]),
    });
    const log = () => readFile(logFile, 'utf8').catch(() => '');
    return {
      pid: daemon.pid,
      dir,
      logFile,
      log,
      waitForLog: (pattern: RegExp, timeoutMs = 5_000) =>
        waitFor(
          `a Postfix log line matching ${pattern}`,
          async () => (await log()).split('\n').find((l) => pattern.test(l)),
          { timeoutMs, intervalMs: 25 },
        ),
      stop: () => stopAndRemove(daemon, dir),
    };
  } catch (err) {
    await removeScratchDir(dir);
    throw err;
  }
}

async function postfixUser(): Promise<{ uid: number; gid: number }> {
  const id = async (flag: string) => Number((await run('id', [flag, 'postfix'])).stdout.trim());
  return { uid: await id('-u'), gid: await id('-g') };
}
