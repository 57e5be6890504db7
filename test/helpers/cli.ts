import { spawnSync } from 'node:child_process';
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
export function lbctl(
  args: string[],
  options: { input?: string | Buffer; env?: NodeJS.ProcessEnv; prefix?: string[] } = {},
): CliResult {
  const prefix = options.prefix ?? [];
  const [command, ...rest] = [...prefix, process.execPath, RUN_JS, ...args];
  const result = spawnSync(command as string, rest, {
    input: options.input,
    env: definedOnly({ ...process.env, NO_COLOR: '1', ...options.env }),
    timeout: 60_000,
  });
  if (result.error) throw result.error;
  return {
    code: result.status ?? -1,
    stdout: result.stdout.toString('utf8'),
    stderr: result.stderr.toString('utf8'),
    stdoutBytes: result.stdout,
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
