/**
 * Development helper for test/e2e/datapath-smoke.sh, until the libbpf loader exists: turns a small JSON
 * description into `bpftool batch` lines (map updates encoded by src/bpf/records.ts), and decodes
 * `bpftool -j map dump` output of lb_stats and lb_conntrack.
 *
 *   tsx lbmap.ts batch <pin-dir> < spec.json      -> bpftool batch file on stdout
 *   tsx lbmap.ts stats < dump.json                -> {"global": {...}, "services": {id: {...}}}
 *   tsx lbmap.ts conntrack < dump.json            -> decoded entries
 *   tsx lbmap.ts events < hexlines                -> decoded events (one hex record per line)
 *   tsx lbmap.ts check-events <boot-id-hex> <custom-tlv-hex> < hexlines
 *        -> checks every injected header (layout, UNIQUE_ID, custom TLV, CRC32C); prints a summary,
 *           exits 1 on a bad header
 */

import { readFileSync } from 'node:fs';
import {
  COUNTER_NAMES,
  type Counters,
  decodeCtEntry,
  decodeCtKey,
  decodeEvent,
  decodeStats,
  encodeArrayIndex,
  encodeBackend,
  encodeBackendId,
  encodeConfig,
  encodeMaglevRing,
  encodeService,
  encodeServiceId,
  encodeServiceKey,
  MAP_NAMES,
  type Mode,
} from '../../src/bpf/records.js';
import { buildMaglevRing } from '../../src/core/maglev.js';

interface Spec {
  bootId?: string;
  events?: boolean;
  services: {
    id: number;
    vip: string;
    port: number;
    mode: Mode;
    ppv2?: boolean;
    uniqueId?: boolean;
    crc32c?: boolean;
    snat?: string;
    tlvsHex?: string;
    backends: { id: number; addr: string; port: number; weight?: number }[];
  }[];
}

const hex = (b: Buffer) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ');
const bytes = (arr: string[]) => Buffer.from(arr.map((x) => Number.parseInt(x, 16)));
const stdin = () => readFileSync(0, 'utf8');

function batch(pinDir: string, spec: Spec): string {
  const lines: string[] = [];
  const upd = (map: string, k: Buffer, v: Buffer) =>
    lines.push(`map update pinned ${pinDir}/${map} key hex ${hex(k)} value hex ${hex(v)}`);
  upd(
    MAP_NAMES.config,
    encodeArrayIndex(0),
    encodeConfig({
      bootId: BigInt(spec.bootId ?? '0x1122334455667788'),
      events: spec.events ?? true,
      detaching: null,
      timeouts: { synSentS: 0, establishedS: 0, finS: 0, closedS: 0 },
    }),
  );
  for (const s of spec.services) {
    for (const b of s.backends) {
      upd(MAP_NAMES.backends, encodeBackendId(b.id), encodeBackend({ ...b, weight: b.weight ?? 1 }));
    }
    const ring = buildMaglevRing(
      s.backends.map((b) => ({ id: b.id, weight: b.weight ?? 1, key: `${b.addr}:${b.port}` })),
    );
    upd(MAP_NAMES.maglev, encodeServiceId(s.id), encodeMaglevRing(ring));
    upd(
      MAP_NAMES.services,
      encodeServiceKey(s),
      encodeService({
        id: s.id,
        mode: s.mode,
        ppv2: s.ppv2 ?? false,
        uniqueId: s.uniqueId ?? false,
        liveness: false,
        crc32c: s.crc32c ?? false,
        snatAddr: s.snat ?? null,
        tlvs: Buffer.from(s.tlvsHex ?? '', 'hex'),
      }),
    );
  }
  return `${lines.join('\n')}\n`;
}

function stats(dump: { key: string[]; values: { value: string[] }[] }[]) {
  const out: { global?: Record<string, string>; services: Record<string, Record<string, string>> } = {
    services: {},
  };
  for (const e of dump) {
    const slot = bytes(e.key).readUInt32LE(0);
    const sum = Object.fromEntries(COUNTER_NAMES.map((n) => [n, 0n])) as Counters;
    for (const v of e.values) {
      const c = decodeStats(bytes(v.value));
      for (const n of COUNTER_NAMES) sum[n] += c[n];
    }
    const nonzero = Object.fromEntries(
      Object.entries(sum)
        .filter(([, v]) => v !== 0n)
        .map(([k, v]) => [k, String(v)]),
    );
    if (slot === 0) out.global = nonzero;
    else if (Object.keys(nonzero).length) out.services[slot] = nonzero;
  }
  return out;
}

function conntrack(dump: { key: string[]; value: string[] }[]) {
  return dump.map((e) => ({ key: decodeCtKey(bytes(e.key)), entry: decodeCtEntry(bytes(e.value)) }));
}

/** Test-side CRC32C (Castagnoli), bitwise: an independent check of the kernel's table-driven one. */
function crc32c(data: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

const SIG = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

/** Problems with one injected header, [] when it is right. */
function headerProblems(
  h: Buffer,
  client: { addr: string; port: number },
  bootId: string,
  custom: string,
): string[] {
  const problems: string[] = [];
  if (!h.subarray(0, 12).equals(SIG)) problems.push('signature');
  if (h[12] !== 0x21) problems.push(`version/command ${h[12]}`);
  const v6 = h[13] === 0x21;
  if (h[13] !== 0x11 && !v6) problems.push(`family/transport ${h[13]}`);
  if (16 + h.readUInt16BE(14) !== h.length)
    problems.push(`length field ${h.readUInt16BE(14)} vs ${h.length} bytes`);
  if (h.length % 2) problems.push('odd length');
  const srcPort = h.readUInt16BE(v6 ? 48 : 24);
  if (srcPort !== client.port) problems.push(`source port ${srcPort} vs ${client.port}`);
  const tlvs = new Map<number, Buffer>();
  let crcAt = -1;
  for (let off = v6 ? 52 : 28; off < h.length; ) {
    const type = h[off] ?? 0;
    const len = h.readUInt16BE(off + 1);
    if (off + 3 + len > h.length) {
      problems.push(`TLV 0x${type.toString(16)} overruns`);
      break;
    }
    if (type === 0x03) crcAt = off + 3;
    tlvs.set(type, h.subarray(off + 3, off + 3 + len));
    off += 3 + len;
  }
  const uid = tlvs.get(0x05);
  if (uid?.subarray(0, 8).toString('hex') !== bootId || uid.length !== 16) problems.push('UNIQUE_ID');
  if (tlvs.get(0xe0)?.toString('hex') !== custom.slice(6)) problems.push('custom TLV 0xE0');
  if (crcAt < 0) problems.push('no CRC32C TLV');
  else {
    const zeroed = Buffer.from(h);
    zeroed.fill(0, crcAt, crcAt + 4);
    if (crc32c(zeroed) !== h.readUInt32BE(crcAt)) problems.push('CRC32C mismatch');
  }
  return problems;
}

function checkEvents(bootId: string, custom: string): number {
  const summary = {
    injected: 0,
    reinjected: 0,
    failures: [] as string[],
    badHeaders: [] as string[],
    uniqueIds: 0,
  };
  const ids = new Set<string>();
  for (const line of stdin().split('\n').filter(Boolean)) {
    const ev = decodeEvent(Buffer.from(line, 'hex'));
    if (ev.type === 'failure') {
      summary.failures.push(`${ev.reason} svc ${ev.serviceId}`);
      continue;
    }
    summary[ev.type === 'header_injected' ? 'injected' : 'reinjected']++;
    const problems = headerProblems(ev.header, ev.client, bootId, custom);
    if (problems.length)
      summary.badHeaders.push(`${ev.client.addr}:${ev.client.port}: ${problems.join(', ')}`);
    const uid = ev.header.toString('hex').match(/050010([0-9a-f]{32})/)?.[1];
    if (uid && ev.type === 'header_injected') ids.add(uid);
  }
  summary.uniqueIds = ids.size;
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  return summary.badHeaders.length === 0 && summary.injected === ids.size ? 0 : 1;
}

const [cmd, arg, arg2] = process.argv.slice(2);
const json = (x: unknown) =>
  JSON.stringify(x, (_k, v) =>
    typeof v === 'bigint' ? String(v) : v?.type === 'Buffer' ? Buffer.from(v.data).toString('hex') : v,
  );
if (cmd === 'batch' && arg) process.stdout.write(batch(arg, JSON.parse(stdin()) as Spec));
else if (cmd === 'stats') process.stdout.write(`${json(stats(JSON.parse(stdin())))}\n`);
else if (cmd === 'conntrack') process.stdout.write(`${json(conntrack(JSON.parse(stdin())))}\n`);
else if (cmd === 'events')
  for (const line of stdin().split('\n').filter(Boolean))
    process.stdout.write(`${json(decodeEvent(Buffer.from(line, 'hex')))}\n`);
else if (cmd === 'check-events' && arg && arg2) process.exitCode = checkEvents(arg, arg2);
else {
  process.stderr.write('usage: lbmap.ts batch <pin-dir> | stats | conntrack | events\n');
  process.exit(2);
}
