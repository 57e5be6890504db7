import { ExitCode, type ExitCodeName } from './exit-codes.js';

/**
 * The one error type commands surface to users. `kind` picks the documented exit code; `hint` is the
 * suggested fix printed after the message. Lower layers throw it directly so the message is written where
 * the context is known, not reconstructed at the top.
 */
export class LbctlError extends Error {
  readonly kind: ExitCodeName;
  readonly hint: string | undefined;

  constructor(kind: ExitCodeName, message: string, hint?: string, options?: { cause?: unknown }) {
    super(clipQuotedValues(message), options);
    this.name = 'LbctlError';
    this.kind = kind;
    this.hint = hint;
  }

  get exitCode(): number {
    return ExitCode[this.kind];
  }
}

/** Longest echoed value kept whole: past it the reason that follows would scroll out of sight. */
export const ECHO_MAX_CHARS = 80;

const lengthNote = (value: string) => ` (${value.length} characters)`;

/**
 * A user's value as an error message echoes it: whole when short, else its start, an ellipsis and how
 * long it was, so a 70 KB flag value neither floods the terminal nor hides why it was refused.
 */
export function clipValue(value: string, max = ECHO_MAX_CHARS): string {
  return value.length <= max ? value : `${value.slice(0, max)}…${lengthNote(value)}`;
}

/**
 * Every "quoted" value in a message clipped like clipValue, the length outside the quotes. Messages quote
 * the input they echo, so doing it here covers every layer's errors in one place. Unbalanced quotes are
 * left alone: there is no telling which part is the value.
 */
export function clipQuotedValues(message: string, max = ECHO_MAX_CHARS): string {
  const parts = message.split('"');
  if (parts.length % 2 === 0) return message;
  const quoted = (value: string) =>
    value.length <= max ? `"${value}"` : `"${value.slice(0, max)}…"${lengthNote(value)}`;
  return parts.map((part, i) => (i % 2 === 0 ? part : quoted(part))).join('');
}

export const usageError = (message: string, hint?: string) => new LbctlError('USAGE', message, hint);
export const notFoundError = (message: string, hint?: string) => new LbctlError('NOT_FOUND', message, hint);
export const conflictError = (message: string, hint?: string) => new LbctlError('CONFLICT', message, hint);
export const unsupportedError = (message: string, hint?: string) =>
  new LbctlError('UNSUPPORTED', message, hint);
export const invalidDataError = (message: string, hint?: string) =>
  new LbctlError('INVALID_DATA', message, hint);

const NODE_CODE_KIND: Record<string, ExitCodeName> = {
  EPERM: 'PERMISSION',
  EACCES: 'PERMISSION',
  ENOENT: 'NOT_FOUND',
  EEXIST: 'CONFLICT',
};

/**
 * Any thrown value as an LbctlError, without knowing the CLI framework: our own pass through, Node system
 * errors map by their code, anything else is FAILURE. The CLI adds its framework's errors on top
 * (cli/error-report.ts); lower layers use this when they wrap a failure in more context.
 */
export function asLbctlError(err: unknown): LbctlError {
  if (err instanceof LbctlError) return err;
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    const kind = (code && NODE_CODE_KIND[code]) || 'FAILURE';
    return new LbctlError(kind, firstLine(err.message), undefined, { cause: err });
  }
  return new LbctlError('FAILURE', String(err));
}

/** The first non-blank line: multi-line messages from tools and frameworks read as one error line. */
export function firstLine(text: string): string {
  return text.split('\n').find((line) => line.trim() !== '') ?? text;
}

const ERRNO_KIND: Record<number, ExitCodeName> = {
  1: 'PERMISSION', // EPERM
  13: 'PERMISSION', // EACCES
  2: 'NOT_FOUND', // ENOENT
  19: 'NOT_FOUND', // ENODEV
  17: 'CONFLICT', // EEXIST
  16: 'CONFLICT', // EBUSY
  22: 'USAGE', // EINVAL
  95: 'UNSUPPORTED', // EOPNOTSUPP
  38: 'UNSUPPORTED', // ENOSYS
  524: 'UNSUPPORTED', // ENOTSUPP (kernel-internal, leaks out of some bpf calls)
};

export const PERMISSION_HINT = 'run as root, or grant CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN';

/**
 * Turn a negative errno from libbpf or a syscall into an LbctlError with the matching exit code.
 * `what` says what was being attempted, e.g. "attach tc ingress on eth0".
 */
export function errnoError(what: string, errno: number, hint?: string): LbctlError {
  const code = Math.abs(errno);
  const kind = ERRNO_KIND[code] ?? 'FAILURE';
  const text = `${what}: ${errnoName(code)}`;
  return new LbctlError(kind, text, hint ?? (kind === 'PERMISSION' ? PERMISSION_HINT : undefined));
}

const ERRNO_NAMES: Record<number, string> = {
  1: 'EPERM (operation not permitted)',
  2: 'ENOENT (no such file or object)',
  7: 'E2BIG (argument list too long)',
  12: 'ENOMEM (out of memory)',
  13: 'EACCES (permission denied)',
  16: 'EBUSY (resource busy)',
  17: 'EEXIST (already exists)',
  19: 'ENODEV (no such device)',
  22: 'EINVAL (invalid argument)',
  28: 'ENOSPC (map is full)',
  38: 'ENOSYS (function not implemented)',
  95: 'EOPNOTSUPP (operation not supported)',
  524: 'ENOTSUPP (not supported by this kernel)',
};

export function errnoName(code: number): string {
  return ERRNO_NAMES[Math.abs(code)] ?? `errno ${Math.abs(code)}`;
}
