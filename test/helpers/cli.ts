import { spawn, spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RUN_JS = fileURLToPath(new URL('../../bin/run.js', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  stdoutBytes: Buffer;
}

/**
 * Run the built CLI (bin/run.js over dist/) the way a user does: a separate process, real stdout/stderr,
 * no TTY. `npm test` builds dist/ first.
 */
export function lbctl(args: string[], options: LbctlOptions = {}): CliResult {
  const [command, ...rest] = commandLine(args, options);
  const result = spawnSync(command as string, rest, {
    input: options.input,
    env: environment(options),
    timeout: TIMEOUT_MS,
  });
  if (result.error) throw result.error;
  return resultOf(result.status, result.stdout, result.stderr);
}

export interface LbctlOptions {
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  prefix?: string[];
}

const TIMEOUT_MS = 60_000;

/**
 * Many independent runs (each mostly node's start-up, CPU-bound), as many at a time as there are cores; the
 * results in the order of `runs`. For checks that only read, such as refusals: nothing may depend on order.
 */
export async function lbctlEach(
  runs: ReadonlyArray<readonly [string[], LbctlOptions?]>,
): Promise<CliResult[]> {
  const results: CliResult[] = new Array(runs.length);
  let next = 0;
  const worker = async () => {
    while (next < runs.length) {
      const index = next++;
      const [args, options] = runs[index] as readonly [string[], LbctlOptions?];
      results[index] = await lbctlAsync(args, options);
    }
  };
  await Promise.all(Array.from({ length: Math.min(availableParallelism(), runs.length) }, worker));
  return results;
}

function lbctlAsync(args: string[], options: LbctlOptions = {}): Promise<CliResult> {
  const [command, ...rest] = commandLine(args, options);
  return new Promise((resolve, reject) => {
    const child = spawn(command as string, rest, { env: environment(options), timeout: TIMEOUT_MS });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve(resultOf(code, Buffer.concat(out), Buffer.concat(err))));
    child.stdin.end(options.input);
  });
}

const commandLine = (args: string[], options: LbctlOptions) => [
  ...(options.prefix ?? []),
  process.execPath,
  RUN_JS,
  ...args,
];

const environment = (options: LbctlOptions) => definedOnly({ ...process.env, NO_COLOR: '1', ...options.env });

function resultOf(code: number | null, stdout: Buffer, stderr: Buffer): CliResult {
  return {
    code: code ?? -1,
    stdout: stdout.toString('utf8'),
    stderr: stderr.toString('utf8'),
    stdoutBytes: stdout,
  };
}

/** Parse stdout as JSON, with the raw output in the failure message when it is not JSON. */
export function parseJson<T = unknown>(result: CliResult): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(`stdout is not JSON (exit ${result.code}):\n${result.stdout}\nstderr:\n${result.stderr}`);
  }
}

/** An `undefined` value removes the variable (spawn would otherwise pass the string "undefined"). */
function definedOnly(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined));
}
