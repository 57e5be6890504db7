/**
 * The detail view Enter opens on a connection or header row: everything the one-line row had to cut, as
 * plain lines. A header shows its decoded fields, every TLV on a line of its own, and its raw hex wrapped to
 * the width; a connection shows its tuple, state and counters, and the header the feed holds for it.
 */
import type { ConnectionView } from '../core/connections.js';
import { bytes, clockMs, duration } from './format.js';
import type { HeaderLine } from './header-feed.js';

export type DetailItem =
  | { kind: 'connection'; connection: ConnectionView; header: HeaderLine | null }
  | { kind: 'header'; header: HeaderLine };

/** The row Enter opened in the connections or headers pane, with what the feed knows of it. */
export function detailItemFor(
  view: 'connections' | 'headers',
  index: number,
  connections: readonly ConnectionView[],
  headers: readonly HeaderLine[],
): DetailItem | null {
  if (view === 'headers') {
    const header = headers[index];
    return header ? { kind: 'header', header } : null;
  }
  const connection = connections[index];
  if (!connection) return null;
  // The feed is newest first: the latest header sent on this connection's tuple.
  const header =
    headers.find((h) => h.kind !== 'failure' && h.client === connection.client && h.vip === connection.vip) ??
    null;
  return { kind: 'connection', connection, header };
}

/** Hex in groups of two bytes, as many groups per line as fit the width. */
export function hexLines(hex: string, width: number, indent = '  '): string[] {
  const groups = hex.match(/.{1,4}/g) ?? [];
  const perLine = Math.max(1, Math.floor((width - indent.length + 1) / 5));
  const out: string[] = [];
  for (let i = 0; i < groups.length; i += perLine) out.push(indent + groups.slice(i, i + perLine).join(' '));
  return out;
}

/** Long text cut into lines of `width` (TLV values can be kilobytes). */
function wrap(text: string, width: number, indent: string): string[] {
  const room = Math.max(8, width - indent.length);
  const out: string[] = [];
  for (let i = 0; i < text.length; i += room) out.push(indent + text.slice(i, i + room));
  return out.length > 0 ? out : [indent];
}

function headerLines(line: HeaderLine, service: string, width: number): string[] {
  const out = [
    `HEADER  ${line.kind}  ${clockMs(line.timeMs)}  service ${service}`,
    `connection  ${line.client} -> ${line.vip}`,
  ];
  if (line.error) out.push(`error  ${line.error}`);
  const h = line.header;
  if (h) {
    out.push(
      `version ${h.version}  command ${h.command}  family ${h.family}${h.transport ? `  transport ${h.transport}` : ''}`,
      `source       ${h.src ?? '-'}${h.srcPort === undefined ? '' : ` port ${h.srcPort}`}`,
      `destination  ${h.dst ?? '-'}${h.dstPort === undefined ? '' : ` port ${h.dstPort}`}`,
      `TLVs ${line.tlvs.length}`,
    );
    for (const t of line.tlvs) {
      out.push(`  ${t.name} (type ${t.typeHex}, ${t.length} B)`);
      out.push(...wrap(t.text, width, '    '));
    }
  }
  if (line.hex) out.push(`raw ${line.hex.length / 2} B`, ...hexLines(line.hex, width));
  return out;
}

function connectionLines(
  c: ConnectionView,
  header: HeaderLine | null,
  service: string,
  width: number,
): string[] {
  const out = [
    `CONNECTION  ${c.state}  ${c.mode}  service ${service}`,
    `client ${c.client} -> VIP ${c.vip}`,
    `backend ${c.backend}, which sees the connection come from ${c.backendSees}`,
    `in (from client)  ${bytes(c.bytesFromClient)} in ${c.packetsFromClient} packets`,
    `out (from backend)  ${bytes(c.bytesFromBackend)} in ${c.packetsFromBackend} packets`,
    `age ${duration(c.ageSeconds)}  idle ${duration(c.idleSeconds)}`,
    c.ppv2.expected
      ? `PPv2 ${c.ppv2.injected ? 'sent' : 'not sent yet'}, ${c.ppv2.headerBytes} B, reinjected ${c.ppv2.reinjections} times`
      : 'PPv2 off for this connection',
    '',
  ];
  if (header) out.push(...headerLines(header, service, width));
  else if (c.ppv2.expected)
    out.push('its header is not in the feed (the feed keeps the latest headers sent while top runs)');
  return out;
}

export function detailLines(item: DetailItem, service: string, width: number): string[] {
  return item.kind === 'header'
    ? headerLines(item.header, service, width)
    : connectionLines(item.connection, item.header, service, width);
}
