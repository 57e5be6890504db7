import { createHash } from 'node:crypto';
import { NAME_RULE } from '../core/service-spec.js';
import { DEFAULT_NAMESPACE } from './objects.js';

/**
 * The lbctl service name for one port and family of a Service:
 *
 *   base     = lbctl.io/name if set, else NAME for namespace "default", else NAMESPACE-NAME
 *   + "-PORT" where PORT is the port's name (or number when unnamed), only when the Service has several ports
 *   + "-v6"   on the IPv6 service of a dual-stack Service
 *
 * Kubernetes names are already lower-case letters, digits and "-", so only the length can break lbctl's
 * rule (at most 63 characters): a longer name keeps its first 54 characters and ends in "-" plus 8 hex
 * digits of its SHA-256, so it stays unique and the same on every apply.
 */
export interface NameParts {
  namespace: string;
  name: string;
  /** lbctl.io/name. */
  override: string | undefined;
  port: { name: string; port: number };
  multiPort: boolean;
  family: 4 | 6;
  dualStack: boolean;
}

const MAX_NAME = 63;
const HASH_DIGITS = 8;

export function lbctlServiceName(parts: NameParts): string {
  const base =
    parts.override ??
    (parts.namespace === DEFAULT_NAMESPACE ? parts.name : `${parts.namespace}-${parts.name}`);
  const portSuffix = parts.multiPort ? `-${parts.port.name || parts.port.port}` : '';
  const familySuffix = parts.dualStack && parts.family === 6 ? '-v6' : '';
  const full = `${base}${portSuffix}${familySuffix}`.toLowerCase();
  if (full.length <= MAX_NAME && NAME_RULE.test(full)) return full;
  const hash = createHash('sha256').update(full).digest('hex').slice(0, HASH_DIGITS);
  const head = full
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, MAX_NAME - HASH_DIGITS - 1)
    .replace(/^-+|-+$/g, '');
  return head === '' ? `svc-${hash}` : `${head}-${hash}`;
}
