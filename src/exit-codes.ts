/**
 * The exit codes lbctl documents (README "Exit codes"). A command exits with the same code whether or not
 * `--json` is set, so shell scripts can branch on `$?` alone.
 */
export const ExitCode = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  NOT_FOUND: 3,
  PERMISSION: 4,
  UNSUPPORTED: 5,
  CONFLICT: 6,
  INVALID_DATA: 7,
} as const;

export type ExitCodeName = keyof typeof ExitCode;

/** One line per code, shown in `lbctl --help`-adjacent docs and asserted by tests against the README. */
export const EXIT_CODE_MEANINGS: Record<ExitCodeName, string> = {
  OK: 'success',
  FAILURE: 'the operation failed for a reason not listed below (kernel or I/O error)',
  USAGE: 'invalid flags, arguments or values; nothing was changed',
  NOT_FOUND: 'a named service, interface, namespace or pinned object does not exist',
  PERMISSION: 'missing privileges (not root, or CAP_BPF/CAP_NET_ADMIN dropped, EPERM/EACCES)',
  UNSUPPORTED: 'a kernel feature, system library or tool lbctl needs is missing',
  CONFLICT: 'the object already exists or is in use (duplicate service, busy interface), or a map is full',
  INVALID_DATA: 'input data could not be decoded (a malformed or incomplete PROXY header)',
};
