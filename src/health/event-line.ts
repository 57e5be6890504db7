import type { HealthEvent } from './agent.js';

/**
 * One log line per health transition: JSON (one object per line, for log shippers and jq) or text that
 * reads as a sentence in `journalctl -u lbctl-agent`.
 */
export function formatHealthEvent(event: HealthEvent, json: boolean): string {
  if (json) return JSON.stringify(event);
  const service = event.service ? `${event.service} (${event.serviceKey})` : event.serviceKey;
  const why =
    event.health === 'down'
      ? `${event.probes} probes failed${event.reason ? ` (last: ${event.reason})` : ''}`
      : `${event.probes} probes succeeded`;
  const after = `${event.backendsUp}/${event.backends} up${event.failOpen ? ', fail-open: every backend stays in selection' : ''}`;
  return `${event.time} ${service}: backend ${event.backend} is ${event.health.toUpperCase()}, ${why}; ${after}`;
}
