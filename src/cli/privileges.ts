import { LbctlError, PERMISSION_HINT } from '../errors.js';
import { effectiveCapabilities, missingDatapathCapabilities } from '../sys/capabilities.js';

/**
 * Refuses a command that needs root before it starts, when the process lacks the capabilities: without
 * them the kernel hides what the command would read (pinned maps, the lab's state, namespaces) behind
 * EACCES, and reading that as "absent" would tell a user the balancer or the lab is down while it is up.
 * `command` is how the user called it ("lbctl lab status"), `purpose` why it needs root.
 */
export function requirePrivileges(
  command: string,
  purpose: string,
  effective = effectiveCapabilities(),
): void {
  const missing = missingDatapathCapabilities(effective);
  if (missing.length === 0) return;
  const caps = missing.map((name) => `CAP_${name}`).join(' and ');
  throw new LbctlError(
    'PERMISSION',
    `permission denied: ${command} needs root ${purpose} (this process lacks ${caps})`,
    PERMISSION_HINT,
  );
}
