/** The facts a reader needs to compare one report with another: machine, kernel, versions, commit, object. */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';
import { run } from '../src/sys/run.js';

export interface Environment {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  /** 1-minute load average when the run started (the machine may be shared). */
  loadAverage: number;
  versions: Record<string, string>;
  git: { commit: string; dirty: boolean } | undefined;
  bpfObjectSha256: string | undefined;
}

async function firstLine(cmd: string, args: string[], pattern: RegExp): Promise<string> {
  const res = await run(cmd, args, { allowFailure: true, timeoutMs: 10_000 }).catch(() => undefined);
  const text = `${res?.stdout ?? ''}\n${res?.stderr ?? ''}`;
  return pattern.exec(text)?.[1] ?? 'unknown';
}

/** Collected at the start of a run (the load average matters then); the object's hash is added later. */
export async function collectEnvironment(
  repoRoot: string,
  bpfObject: string | undefined,
): Promise<Environment> {
  let git: Environment['git'];
  const head = await run('git', ['rev-parse', 'HEAD'], { cwd: repoRoot, allowFailure: true }).catch(
    () => undefined,
  );
  if (head?.code === 0) {
    const status = await run('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: repoRoot });
    git = { commit: head.stdout.trim(), dirty: status.stdout.trim().length > 0 };
  }
  const bpfObjectSha256 = bpfObject
    ? createHash('sha256')
        .update(await readFile(bpfObject))
        .digest('hex')
    : undefined;
  return {
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 1024 ** 3),
    kernel: release(),
    loadAverage: loadavg()[0] ?? 0,
    versions: {
      node: process.version,
      wrk: await firstLine('wrk', ['-v'], /wrk (\S+)/),
      haproxy: await firstLine('haproxy', ['-v'], /version (\S+)/),
      nginx: await firstLine('nginx', ['-v'], /nginx\/(\S+)/),
    },
    git,
    bpfObjectSha256,
  };
}
