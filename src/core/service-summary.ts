import type { ServiceHealth } from './backend-health.js';
import type { ServiceView } from './services.js';

/**
 * One-line summaries of a service that the CLI tables and the `top` dashboard both show, kept beside the
 * service model so neither presentation layer has to import the other.
 */
export function ppv2Summary(s: ServiceView): string {
  if (!s.ppv2.enabled) return 'off';
  if (s.ppv2.version === 1) return `v1 (up to ${s.ppv2.headerBytes} B)`;
  const parts = [
    'v2',
    s.ppv2.uniqueId && 'unique-id',
    s.ppv2.crc32c && 'crc32c',
    ...s.ppv2.tlvs.map((t) => `${t.name}=${t.text}`),
  ];
  const where = s.protocol === 'udp' ? ', every datagram' : '';
  return `${parts.filter(Boolean).join(' ')} (${s.ppv2.headerBytes} B${where})`;
}

/**
 * "2/3 up" for a service with liveness on ("0/2 up, fail-open" when every backend is down and all of them
 * stay in the table); "-" when nobody probes it.
 */
export function healthSummary(h: ServiceHealth): string {
  if (!h.probed) return '-';
  return `${h.up}/${h.up + h.down} up${h.failOpen ? ', fail-open' : ''}`;
}
