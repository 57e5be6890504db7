import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LbctlError } from '../../src/errors.js';
import { run, spawnDaemon } from '../../src/sys/run.js';

/**
 * Packet capture for the tests: dumpcap writes a pcapng in a namespace, tshark reads fields back.
 *
 * Wireshark 4.0's PROXY dissector (`proxy`) is heuristic-only on TCP, and on port 80 the HTTP dissector
 * wins unless heuristics run first, so `readFields` sets `tcp.try_heuristic_first` by default. Useful
 * fields: proxy.v2.cmd, proxy.v2.addr_family, proxy.v2.protocol (0x01 = STREAM), proxy.src.ipv4,
 * proxy.dst.ipv4, proxy.src.ipv6, proxy.dst.ipv6, proxy.srcport, proxy.dstport, proxy.v2.tlv.type,
 * proxy.v2.tlv.value; and tcp.checksum.status (0 bad, 1 good, 2 unverified) with `checksums`.
 *
 * A capture on the sending side of a veth with tx checksum offload on sees partial checksums (reported
 * bad); capture on the receiving side, or create the topology with `txChecksum: false`.
 */

export interface CaptureOptions {
  netns?: string;
  iface: string;
  /** BPF capture filter, e.g. `tcp port 80`. */
  filter?: string;
  /** Bytes kept per packet; default the whole packet. */
  snaplen?: number;
  parentDir?: string;
  /** Let dumpcap outlive this process. */
  detached?: boolean;
  timeoutMs?: number;
}

export interface ReadFieldsOptions {
  /** Display filter (`-Y`), e.g. `proxy.v2.magic`. */
  displayFilter?: string;
  /** Field names (`-e`). Each row maps them to the value; repeated occurrences are joined with ','. */
  fields: string[];
  /** Verify TCP/IP checksums so tcp.checksum.status means something; default true. */
  checksums?: boolean;
  /** Try heuristic dissectors (PROXY) before port-based ones (HTTP); default true. */
  heuristicFirst?: boolean;
  /** Extra `-d` decode-as rules, e.g. `tcp.port==8443,tls`. */
  decodeAs?: string[];
  /** Extra `-o name:value` preferences. */
  prefs?: Record<string, string>;
}

export type FieldRow = Record<string, string>;

export interface Capture {
  pid: number;
  netns: string | undefined;
  iface: string;
  dir: string;
  file: string;
  /** Stop dumpcap (after `settleMs` for packets in flight; default 300 ms). The file stays. */
  stop(settleMs?: number): Promise<void>;
  /** Stop if needed, then read fields from the file. */
  fields(opts: ReadFieldsOptions): Promise<FieldRow[]>;
  /** Stop if needed and delete the capture directory. */
  dispose(): Promise<void>;
}

export async function startCapture(opts: CaptureOptions): Promise<Capture> {
  const dir = await mkdtemp(join(opts.parentDir ?? tmpdir(), 'lbctl-capture-'));
  const file = join(dir, `${opts.iface}.pcapng`);
  const logFile = join(dir, 'dumpcap.log');
  const args = ['-i', opts.iface, '-w', file];
  if (opts.filter) args.push('-f', opts.filter);
  if (opts.snaplen) args.push('-s', String(opts.snaplen));
  try {
    const daemon = await spawnDaemon('dumpcap', args, {
      netns: opts.netns,
      logFile,
      detached: opts.detached,
      // The directory is removed if start-up fails; the error carries the log's last line instead.
      logHint: false,
      timeoutMs: opts.timeoutMs,
      // dumpcap reports the file once the interface is open with its filter and the file header is
      // written; from then on every matching packet is queued for it.
      ready: async () => {
        const log = await readFile(logFile, 'utf8').catch(() => '');
        if (!/^Capturing on /m.test(log) || !/^File: /m.test(log)) return false;
        return (await stat(file).catch(() => undefined))?.size !== undefined;
      },
    });
    let stopped: Promise<void> | undefined;
    const stop = (settleMs = 300): Promise<void> => {
      stopped ??= (async () => {
        if (settleMs > 0) await sleep(settleMs);
        await daemon.stop();
      })();
      return stopped;
    };
    return {
      pid: daemon.pid,
      netns: opts.netns,
      iface: opts.iface,
      dir,
      file,
      stop,
      async fields(readOpts: ReadFieldsOptions): Promise<FieldRow[]> {
        await stop();
        return readFields(file, readOpts);
      },
      async dispose(): Promise<void> {
        await stop(0);
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** `tshark -r FILE -T fields`: one row per displayed packet. */
export async function readFields(file: string, opts: ReadFieldsOptions): Promise<FieldRow[]> {
  if (opts.fields.length === 0) throw new LbctlError('USAGE', 'readFields needs at least one field');
  const args = ['-r', file, '-n', '-T', 'fields', '-E', 'separator=/t', '-E', 'occurrence=a'];
  args.push('-E', 'aggregator=,');
  if (opts.displayFilter) args.push('-Y', opts.displayFilter);
  if (opts.checksums ?? true) {
    args.push(
      '-o',
      'ip.check_checksum:TRUE',
      '-o',
      'tcp.check_checksum:TRUE',
      '-o',
      'udp.check_checksum:TRUE',
    );
  }
  if (opts.heuristicFirst ?? true) args.push('-o', 'tcp.try_heuristic_first:TRUE');
  for (const rule of opts.decodeAs ?? []) args.push('-d', rule);
  for (const [name, value] of Object.entries(opts.prefs ?? {})) args.push('-o', `${name}:${value}`);
  for (const f of opts.fields) args.push('-e', f);

  const res = await run('tshark', args, { allowFailure: true, timeoutMs: 60_000 });
  if (res.code !== 0) {
    // tshark warns about running as root on stderr; the real error is the other line.
    const why = res.stderr
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l && !/^Running as user/.test(l));
    throw new LbctlError('FAILURE', `tshark -r ${file} failed (exit ${res.code}): ${why ?? 'no output'}`);
  }
  // Not filtering empty lines: with one field, a packet without it is an empty line but still a row.
  const text = res.stdout.endsWith('\n') ? res.stdout.slice(0, -1) : res.stdout;
  if (text === '') return [];
  return text.split('\n').map((line) => {
    const values = line.split('\t');
    return Object.fromEntries(opts.fields.map((f, i) => [f, values[i] ?? '']));
  });
}

/**
 * Write Ethernet frames to a classic pcap file (microsecond timestamps, one second apart), for tshark to
 * judge frames a test made without a capture (e.g. BPF_PROG_TEST_RUN output).
 */
export async function writePcap(file: string, frames: readonly Buffer[]): Promise<void> {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0); // magic: microseconds, little-endian fields
  header.writeUInt16LE(2, 4); // version 2.4
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(65535, 16); // snaplen
  header.writeUInt32LE(1, 20); // LINKTYPE_ETHERNET
  const records = frames.map((frame, i) => {
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(i + 1, 0); // seconds
    rec.writeUInt32LE(frame.length, 8); // captured length
    rec.writeUInt32LE(frame.length, 12); // original length
    return Buffer.concat([rec, frame]);
  });
  await writeFile(file, Buffer.concat([header, ...records]));
}
