/**
 * Command prefix that runs a child as nobody with every capability dropped (and no way to regain them),
 * the closest thing to "an operator without privileges" a root test can make.
 */
export const UNPRIVILEGED = [
  'setpriv',
  '--reuid=65534',
  '--regid=65534',
  '--clear-groups',
  '--inh-caps=-all',
  '--bounding-set=-all',
  '--no-new-privs',
] as const;
