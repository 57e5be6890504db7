import { createInterface } from 'node:readline';
import { LbctlError } from '../errors.js';

/**
 * Asking before a destructive change (issue 13, point 5). Only a person at a terminal is asked: without a
 * TTY on stdin and stderr (a script, a pipe, CI) the command proceeds as it always did, so scripts do not
 * hang or break; `--yes` skips the question on a terminal too.
 */
export interface PromptStreams {
  input: NodeJS.ReadableStream & { isTTY?: boolean };
  /** Where the question goes: stderr, so stdout keeps only the command's data. */
  output: NodeJS.WritableStream & { isTTY?: boolean };
}

export const processStreams = (): PromptStreams => ({ input: process.stdin, output: process.stderr });

/** True when the question must be asked: a person is at a terminal and did not pass --yes. */
export function mustAsk(streams: PromptStreams, yes: boolean): boolean {
  return !yes && streams.input.isTTY === true && streams.output.isTTY === true;
}

/** Ask `question` and read one line: "y" or "yes" (any case) is a yes, anything else (or end of input) no. */
export function askYesNo(question: string, streams: PromptStreams): Promise<boolean> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: streams.input, output: streams.output, terminal: false });
    let answered = false;
    rl.once('line', (line) => {
      answered = true;
      rl.close();
      resolve(/^\s*y(es)?\s*$/i.test(line));
    });
    rl.once('close', () => {
      if (!answered) resolve(false);
    });
    streams.output.write(`${question} [y/N] `);
  });
}

/**
 * Ask when mustAsk says so, and throw (exit 1, nothing changed) on anything but yes. `plan` lines say what
 * would happen; they are shown above the question.
 */
export async function confirmOrAbort(
  plan: readonly string[],
  question: string,
  options: { yes: boolean; streams?: PromptStreams },
): Promise<void> {
  const streams = options.streams ?? processStreams();
  if (!mustAsk(streams, options.yes)) return;
  for (const line of plan) streams.output.write(`${line}\n`);
  if (!(await askYesNo(question, streams)))
    throw new LbctlError('FAILURE', 'not confirmed: nothing was changed', 'pass --yes to skip the question');
}
