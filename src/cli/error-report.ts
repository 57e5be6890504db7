import { Errors } from '@oclif/core';
import { LbctlError } from './errors.js';
import { ExitCode, type ExitCodeName } from './exit-codes.js';

/** The JSON shape of an error under `--json` (documented in the README). */
export interface ErrorJson {
  error: { code: ExitCodeName; exitCode: number; message: string; hint?: string };
}

const NODE_CODE_KIND: Record<string, ExitCodeName> = {
  EPERM: 'PERMISSION',
  EACCES: 'PERMISSION',
  ENOENT: 'NOT_FOUND',
  EEXIST: 'CONFLICT',
};

/**
 * Every error a command can throw, normalised to an LbctlError: our own pass through, oclif's parser errors
 * (bad flags, missing args) become USAGE, Node system errors map by their code, anything else is FAILURE.
 */
export function toLbctlError(err: unknown): LbctlError {
  if (err instanceof LbctlError) return err;
  if (err instanceof Errors.CLIError) {
    const exit = err.oclif?.exit;
    const kind: ExitCodeName = exit === ExitCode.USAGE || exit === undefined ? 'USAGE' : 'FAILURE';
    return new LbctlError(kind, firstLine(stripPrefix(err.message)), 'see --help for usage and examples');
  }
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    const kind = (code && NODE_CODE_KIND[code]) || 'FAILURE';
    return new LbctlError(kind, firstLine(err.message), undefined, { cause: err });
  }
  return new LbctlError('FAILURE', String(err));
}

export function errorJson(err: LbctlError): ErrorJson {
  const body: ErrorJson['error'] = { code: err.kind, exitCode: err.exitCode, message: err.message };
  if (err.hint) body.hint = err.hint;
  return { error: body };
}

/** One line for stderr: what failed, then how to fix it. */
export function errorLine(err: LbctlError): string {
  return err.hint ? `Error: ${err.message} (hint: ${err.hint})` : `Error: ${err.message}`;
}

function firstLine(text: string): string {
  return text.split('\n').find((line) => line.trim() !== '') ?? text;
}

function stripPrefix(text: string): string {
  return text.replace(/^\s*(Error:\s*)?/, '');
}
