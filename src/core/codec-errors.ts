import { LbctlError } from '../errors.js';
import { Ppv2ValueError } from '../ppv2/errors.js';

/**
 * The PPv2 codec refuses values with its own error kind; where those values came from the user (flags,
 * annotations, header JSON) that is a USAGE error (exit code 2) with the codec's hint. Other errors pass.
 */
export function codecUsageError(err: unknown): unknown {
  if (!(err instanceof Ppv2ValueError)) return err;
  return new LbctlError('USAGE', err.message, err.hint, { cause: err });
}

/** Runs a codec call on user input, reporting a refused value as USAGE. */
export function withCodecUsage<T>(run: () => T): T {
  try {
    return run();
  } catch (err) {
    throw codecUsageError(err);
  }
}
