import type { DetachOptions, DetachPlan } from '../core/attach.js';

/** What `detach` is about to do, one line per effect: its --dry-run output and the text above its question. */
export function detachPlanLines(plan: DetachPlan, options: DetachOptions): string[] {
  if (plan.interfaces.length === 0) return ['nothing is attached: nothing to do'];
  const lines = [`detach lbctl from ${plan.interfaces.join(', ')}`];
  if (!plan.nothingLeft) return lines;
  const services = `${plan.services} service(s)`;
  const live = `${plan.liveConnections} live connection(s)`;
  if (!plan.removesState) {
    lines.push(`hold: packets of ${services} and ${live} are dropped until lbctl attach`);
    return lines;
  }
  if (plan.liveConnections > 0) {
    const seconds = (options.drainTimeoutMs ?? 0) / 1000;
    lines.push(
      seconds > 0
        ? `reset ${live} at both ends (for at most ${seconds} s; any left then are cut)`
        : `cut ${live} at once, without resets (--drain-timeout 0)`,
    );
  }
  lines.push(`delete ${services}, the pinned maps and the state file`);
  return lines;
}
