/**
 * A child process the e2e suites keep running beside a test (the health agent, a client loop), its stdout
 * collected line by line. The caller stops it by pid.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';

/** A child process whose stdout is collected line by line. */
export interface Child {
  proc: ChildProcess;
  pid: number;
  lines: string[];
  stderr: () => string;
  exited: Promise<number | null>;
}

export function startChild(cmd: string, args: string[]): Child {
  const proc = spawn(cmd, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  });
  const lines: string[] = [];
  let partial = '';
  let err = '';
  proc.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts.filter(Boolean));
  });
  proc.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  assert.ok(proc.pid, `${cmd} started`);
  return { proc, pid: proc.pid, lines, stderr: () => err, exited };
}
