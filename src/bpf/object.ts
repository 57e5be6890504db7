/**
 * Load a BPF object file with its maps pinned in one directory.
 *
 * Every (non-internal) map gets the pin path `<pinDir>/<mapName>` before load. libbpf then reuses a map
 * already pinned there, if its type, sizes and flags match, instead of creating a new empty one, and pins
 * the maps it had to create. That is what lets each short-lived lbctl invocation, and a reload of a newer
 * object, keep the state in the maps: the pinned maps are the source of truth.
 *
 * Internal maps (.rodata, .data, .bss, .kconfig) are deliberately not pinned: they carry the object's own
 * constants, and reusing an old .rodata would silently keep an older build's values.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import koffi from 'koffi';
import { LbctlError } from '../errors.js';
import { ensurePinDir } from './bpffs.js';
import {
  check,
  checkPtr,
  clearLibbpfMessages,
  libbpf,
  libbpfError,
  libbpfMessages,
  OPTS_SIZE,
  type Pointer,
} from './libbpf.js';

export interface LoadedMap {
  name: string;
  fd: number;
  /** Where the map is pinned; undefined for internal maps (.rodata, .bss, …), which are not pinned. */
  pinPath: string | undefined;
  /** True when an existing pinned map was reused rather than created by this load. */
  reused: boolean;
}

export interface LoadedObject {
  readonly path: string;
  readonly pinDir: string;
  /** Program name → fd. The fds are owned by the object and closed by close(). */
  readonly programs: ReadonlyMap<string, number>;
  /** Map name (as in the ELF file) → map. */
  readonly maps: ReadonlyMap<string, LoadedMap>;
  /** The fd of a program by name; NOT_FOUND if the object has no such program. */
  programFd(name: string): number;
  /**
   * Free the object: closes program and map fds. Pinned maps stay, and programs attached to tc stay
   * attached (the filter holds its own reference). Safe to call twice.
   */
  close(): void;
}

export interface LoadOptions {
  /** Directory on bpffs for the pinned maps; created if missing. */
  pinDir: string;
  /**
   * false: no map is pinned or reused, every map is private to this load and goes with close() (tests
   * that drive the program with BPF_PROG_TEST_RUN). pinDir is then only reported. Default true.
   */
  pin?: boolean;
  /** Map name → max_entries to create it with instead of the object's (e.g. a small table to fill). */
  maxEntries?: Readonly<Record<string, number>>;
  /** Bytes kept of the verifier log on failure (the kernel keeps the tail). Default 1 MiB. */
  logSize?: number;
}

/** The pin path lbctl uses for a map of an object loaded with `pinDir`. */
export function mapPinPath(pinDir: string, mapName: string): string {
  return join(pinDir, mapName);
}

/** Open, pin-configure and load `path`. Throws LbctlError (with the verifier's reason) on failure. */
export function loadObject(path: string, options: LoadOptions): LoadedObject {
  const bpf = libbpf();
  const pin = options.pin ?? true;
  if (pin) ensurePinDir(options.pinDir);
  const logSize = options.logSize ?? 1 << 20;
  // The log buffer must outlive bpf_object__open_file (libbpf keeps the pointer until load), so it is
  // native memory rather than a Buffer.
  const logBuf: Pointer = koffi.alloc('uint8_t', logSize);
  let obj: Pointer | undefined;
  try {
    koffi.encode(logBuf, 'uint8_t', 0);
    clearLibbpfMessages();
    obj = checkPtr(
      `open BPF object ${path}`,
      bpf.bpf_object__open_file(path, {
        sz: OPTS_SIZE.openOpts,
        kernel_log_buf: logBuf,
        kernel_log_size: logSize,
        kernel_log_level: 0,
      }),
      'check the path to the compiled BPF object file',
    );

    const maps = new Map<string, LoadedMap>();
    const handles: Array<[Pointer, LoadedMap]> = []; // struct bpf_map * stays valid across load
    for (let m = bpf.bpf_object__next_map(obj, null); m !== null; m = bpf.bpf_object__next_map(obj, m)) {
      const name = bpf.bpf_map__name(m);
      const pinPath = !pin || bpf.bpf_map__is_internal(m) ? undefined : mapPinPath(options.pinDir, name);
      if (pinPath !== undefined) {
        check(`set pin path of map ${name} to ${pinPath}`, bpf.bpf_map__set_pin_path(m, pinPath));
      } else if (!pin) {
        // the object's own pinning attribute (LIBBPF_PIN_BY_NAME) would pin it under the default root
        check(`unpin map ${name}`, bpf.bpf_map__set_pin_path(m, null));
      }
      const maxEntries = options.maxEntries?.[name];
      if (maxEntries !== undefined) {
        check(`set max_entries of map ${name}`, bpf.bpf_map__set_max_entries(m, maxEntries));
      }
      const entry: LoadedMap = {
        name,
        fd: -1,
        pinPath,
        reused: pinPath !== undefined && existsSync(pinPath),
      };
      maps.set(name, entry);
      handles.push([m, entry]);
    }

    clearLibbpfMessages();
    const ret = bpf.bpf_object__load(obj);
    if (ret < 0) throw loadError(path, ret, koffi.decode(logBuf, 'char', -1) as string);

    for (const [handle, entry] of handles) entry.fd = bpf.bpf_map__fd(handle);
    const programs = new Map<string, number>();
    for (
      let p = bpf.bpf_object__next_program(obj, null);
      p !== null;
      p = bpf.bpf_object__next_program(obj, p)
    ) {
      programs.set(bpf.bpf_program__name(p), bpf.bpf_program__fd(p));
    }
    const loaded = makeLoadedObject(obj, path, options.pinDir, programs, maps);
    obj = undefined; // owned by `loaded` now
    return loaded;
  } finally {
    if (obj !== undefined) bpf.bpf_object__close(obj);
    koffi.free(logBuf);
  }
}

function makeLoadedObject(
  obj: Pointer,
  path: string,
  pinDir: string,
  programs: Map<string, number>,
  maps: Map<string, LoadedMap>,
): LoadedObject {
  let handle: Pointer | undefined = obj;
  return {
    path,
    pinDir,
    programs,
    maps,
    programFd(name: string): number {
      const fd = programs.get(name);
      if (fd === undefined || handle === undefined) {
        throw new LbctlError(
          'NOT_FOUND',
          `BPF object ${path} has no program named ${name}`,
          `programs in it: ${[...programs.keys()].join(', ') || 'none'}`,
        );
      }
      return fd;
    },
    close(): void {
      if (handle === undefined) return;
      libbpf().bpf_object__close(handle);
      handle = undefined;
      programs.clear();
      for (const m of maps.values()) m.fd = -1;
    },
  };
}

/**
 * Build the error for a failed bpf_object__load. A verifier rejection (the kernel log is non-empty) is
 * described by the log's last statements, which is where the verifier says why; anything else (a pinned
 * map that no longer matches the object, a missing kernel feature) by libbpf's last warning.
 */
function loadError(path: string, ret: number, verifierLog: string): LbctlError {
  const warnings = libbpfMessages();
  const failedProg = warnings
    .map((w) => /^prog '([^']+)': BPF program load failed/.exec(w)?.[1])
    .find((p) => p !== undefined);
  const reason = verifierReason(verifierLog);
  if (failedProg !== undefined && reason !== undefined) {
    if (process.env.LBCTL_DEBUG_LIBBPF === '1') process.stderr.write(verifierLog);
    return new LbctlError(
      'FAILURE',
      `load BPF object ${path}: program '${failedProg}' rejected by the verifier: ${reason}`,
      'set LBCTL_DEBUG_LIBBPF=1 to print the full verifier log',
      { cause: new Error(verifierLog) },
    );
  }
  const base = libbpfError(`load BPF object ${path}`, ret);
  const detail = warnings.find(
    (w) => /couldn't reuse pinned map|failed to|error/i.test(w) && !/^failed to load object/.test(w),
  );
  if (detail !== undefined && /reuse pinned map/.test(detail)) {
    return new LbctlError(
      'CONFLICT',
      `${base.message} (${detail})`,
      'a map pinned by an incompatible object is in the way: detach, remove the pin directory, then attach again',
    );
  }
  return new LbctlError(base.kind, detail ? `${base.message} (${detail})` : base.message, base.hint);
}

/**
 * The verifier's complaint, from the end of its log: the non-empty lines before the closing "processed N
 * insns" summary that are neither instruction dumps ("12: (61) r1 = …") nor source annotations ("; …"),
 * plus the source location of the last annotation when the object has BTF line info.
 */
export function verifierReason(log: string): string | undefined {
  const lines = log.split('\n').map((l) => l.trim());
  let end = lines.length;
  while (
    end > 0 &&
    (lines[end - 1] === '' || /^(processed \d+ insns|verification time)/.test(lines[end - 1] ?? ''))
  ) {
    end -= 1;
  }
  const reason: string[] = [];
  let i = end - 1;
  for (; i >= 0 && reason.length < 3; i -= 1) {
    const line = lines[i] ?? '';
    if (line === '' || /^\d+: /.test(line) || line.startsWith(';')) break;
    reason.unshift(line);
  }
  if (reason.length === 0) return undefined;
  const source = lines
    .slice(0, end)
    .reverse()
    .map((l) => / @ (\S+:\d+)$/.exec(l)?.[1])
    .find((s) => s !== undefined);
  return source ? `${reason.join('; ')} (at ${source})` : reason.join('; ');
}
