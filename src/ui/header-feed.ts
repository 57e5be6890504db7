/**
 * The injected-headers feed: ring-buffer events turned into lines, with the header bytes decoded by the
 * project's own codec (the same one `lbctl ppv2 decode` uses). What the line shows as source and
 * destination comes from the decoded header, i.e. what the backend was told, not from the event metadata.
 */

import type { EventSample } from '../core/datapath-snapshot.js';
import { hostPort } from '../host-port.js';
import { describeTlv, type TlvDescription } from '../ppv2/describe.js';
import { decodeProxyHeader, toPlainHeader } from '../ppv2/index.js';
import type { PlainHeader } from '../ppv2/types.js';
import { clockMs } from './format.js';

export interface HeaderLine {
  timeMs: number;
  kind: 'inject' | 'reinject' | 'failure';
  serviceId: number;
  /** From the event: the connection's client and VIP. */
  client: string;
  vip: string;
  /** The decoded header; null for failures and for bytes the codec rejects. */
  header: PlainHeader | null;
  tlvs: TlvDescription[];
  /** Failures: the counter that counted it; undecodable headers: the codec's reason. */
  error: string | null;
  hex: string;
}

const KINDS = { header_injected: 'inject', header_reinjected: 'reinject', failure: 'failure' } as const;
const KIND_SHORT = { inject: 'inj', reinject: 'REINJ', failure: 'FAIL' } as const;

export function toHeaderLine(event: EventSample): HeaderLine {
  const base = {
    timeMs: event.timeMs,
    kind: KINDS[event.type],
    serviceId: event.serviceId,
    client: event.client,
    vip: event.vip,
    hex: event.headerHex,
  };
  if (event.type === 'failure') {
    return { ...base, header: null, tlvs: [], error: event.reason ?? 'unknown failure' };
  }
  const decoded = decodeProxyHeader(Buffer.from(event.headerHex, 'hex'));
  if (decoded.status !== 'complete') {
    const why = decoded.status === 'invalid' ? decoded.reason : `incomplete, ${decoded.needed} bytes short`;
    return { ...base, header: null, tlvs: [], error: `undecodable header: ${why}` };
  }
  return {
    ...base,
    header: toPlainHeader(decoded.header),
    tlvs: decoded.header.version === 2 ? decoded.header.tlvs.map(describeTlv) : [],
    error: null,
  };
}

const endpoint = (address: string | undefined, port: number | undefined): string =>
  address === undefined ? '-' : hostPort(address, String(port));

/**
 * "PROXY TCP4 192.0.2.10:51234 -> 203.0.113.10:80" (v1 spelling of the v2 family, as tools print it); a DGRAM
 * header (UDP services) reads UDP4 / UDP6.
 */
export function headerSummary(h: PlainHeader): string {
  if (h.command === 'LOCAL' || h.family === 'UNSPEC') return `${h.command} ${h.family}`;
  const transport = h.transport === 'DGRAM' ? 'UDP' : 'TCP';
  const proto = h.family === 'INET6' ? `${transport}6` : h.family === 'INET' ? `${transport}4` : h.family;
  return `${h.command} ${proto} ${endpoint(h.src, h.srcPort)} -> ${endpoint(h.dst, h.dstPort)}`;
}

/** TLVs as "NAME=value" words; NOOP padding is left out (it only keeps the length even). */
export function tlvSummary(tlvs: readonly TlvDescription[]): string {
  return tlvs
    .filter((t) => t.name !== 'NOOP')
    .map((t) => `${t.name}=${t.text}`)
    .join(' ');
}

/**
 * One feed line: time, kind, service, then the decoded header and its TLVs (or the raw hex when `raw`).
 * Failures show the reason and the connection they hit.
 */
export function headerLineText(line: HeaderLine, options: { raw: boolean; service: string }): string {
  const head = `${clockMs(line.timeMs)} ${KIND_SHORT[line.kind].padEnd(5)} ${options.service}`;
  if (line.kind === 'failure') return `${head} ${line.error} (${line.client} -> ${line.vip})`;
  if (options.raw) return `${head} ${line.hex}`;
  if (!line.header) return `${head} ${line.error} (${line.client})`;
  const tlvs = tlvSummary(line.tlvs);
  return `${head} ${headerSummary(line.header)}${tlvs ? ` ${tlvs}` : ''}`;
}
