import { Errors } from '@oclif/core';
import { codecUsageError } from '../core/codec-errors.js';
import { asLbctlError, LbctlError } from '../errors.js';
import { ExitCode, type ExitCodeName } from '../exit-codes.js';
import { Ppv2ValueError } from '../ppv2/errors.js';
import { describeParseError } from './parse-error.js';

/** The JSON shape of an error under `--json` (documented in the README). */
export interface ErrorJson {
  error: { code: ExitCodeName; exitCode: number; message: string; hint?: string };
}

/**
 * Every error a command can throw, normalised to an LbctlError: oclif's parser errors (bad flags, missing
 * args; one line with their reason, see parse-error.ts) and values the PPv2 codec refuses become USAGE;
 * the rest is mapped by the layer-neutral `asLbctlError`. `command` ("lbctl service add") names the help
 * to read in the hint.
 */
export function toLbctlError(err: unknown, command?: string): LbctlError {
  if (err instanceof LbctlError) return err;
  if (err instanceof Errors.CLIError) {
    const exit = err.oclif?.exit;
    const kind: ExitCodeName = exit === ExitCode.USAGE || exit === undefined ? 'USAGE' : 'FAILURE';
    const help = command ? `${command} --help` : '--help';
    return new LbctlError(kind, describeParseError(err.message), `see ${help} for usage and examples`);
  }
  if (err instanceof Ppv2ValueError) return codecUsageError(err) as LbctlError;
  return asLbctlError(err);
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
