/**
 * Command prefix that runs a child with every capability dropped (and no way to regain them). It stays
 * uid 0 on purpose: a checkout may sit in a directory only root can read (CI clones into a temp dir), and
 * what is being tested is the missing capabilities (CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN), not the uid.
 */
export const UNPRIVILEGED = ['setpriv', '--inh-caps=-all', '--bounding-set=-all', '--no-new-privs'] as const;
