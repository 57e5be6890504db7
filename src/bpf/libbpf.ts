/**
 * Thin koffi bindings to the system's libbpf.so.1 (libbpf 1.1 on Debian 12), plus the conversions every
 * caller needs: negative errno → LbctlError, NULL + errno → LbctlError, and u64 fields → bigint.
 *
 * Function names stay exactly as in libbpf so they can be looked up in /usr/include/bpf/*.h. Opaque
 * handles (struct bpf_object *, struct bpf_map *, …) are plain `void *`, which koffi 3 hands back as a
 * bigint address or null; that avoids registering global koffi type names that could clash elsewhere.
 *
 * The library is loaded on first use, so commands that never touch BPF (help, ppv2 decode) work on a
 * machine without libbpf.
 */
import koffi, { type LibraryHandle } from 'koffi';
import { errnoError, errnoName, LbctlError } from '../errors.js';
import { libc } from '../sys/libc.js';

type TypeSpec = Parameters<typeof koffi.type>[0];

/** A non-null native address as koffi 3 returns it. */
export type Pointer = bigint;

/** struct bpf_object_open_opts (libbpf 1.1, 80 bytes). Only the log fields are used by lbctl. */
const OpenOpts = koffi.struct({
  sz: 'size_t',
  object_name: 'const char *',
  relaxed_maps: 'bool',
  pin_root_path: 'const char *',
  _removed_attach_prog_fd: 'uint32',
  kconfig: 'const char *',
  btf_custom_path: 'const char *',
  kernel_log_buf: 'void *',
  kernel_log_size: 'size_t',
  kernel_log_level: 'uint32',
});

/** struct bpf_tc_hook (24 bytes; the trailing `size_t :0` is the struct's natural padding). */
const TcHook = koffi.struct({
  sz: 'size_t',
  ifindex: 'int',
  attach_point: 'uint32',
  parent: 'uint32',
});

/** struct bpf_tc_opts (32 bytes). */
const TcOpts = koffi.struct({
  sz: 'size_t',
  prog_fd: 'int',
  flags: 'uint32',
  prog_id: 'uint32',
  handle: 'uint32',
  priority: 'uint32',
});

/** struct bpf_map_batch_opts (24 bytes). */
const MapBatchOpts = koffi.struct({
  sz: 'size_t',
  elem_flags: 'uint64',
  flags: 'uint64',
});

/**
 * struct bpf_test_run_opts (72 bytes): BPF_PROG_TEST_RUN's arguments. The buffers are native addresses
 * (koffi.alloc), not JS Buffers: the kernel writes data_out and ctx_out, and koffi would copy a Buffer.
 */
const TestRunOpts = koffi.struct({
  sz: 'size_t',
  data_in: 'void *',
  data_out: 'void *',
  data_size_in: 'uint32',
  data_size_out: 'uint32',
  ctx_in: 'void *',
  ctx_out: 'void *',
  ctx_size_in: 'uint32',
  ctx_size_out: 'uint32',
  retval: 'uint32',
  repeat: 'int',
  duration: 'uint32',
  flags: 'uint32',
  cpu: 'uint32',
  batch_size: 'uint32',
});

/**
 * struct __sk_buff from linux/bpf.h (192 bytes): the context a tc program sees, and what
 * BPF_PROG_TEST_RUN takes as ctx_in. The kernel accepts only a few fields set (mark, priority,
 * ingress_ifindex, ifindex, cb, tstamp, wire_len, gso_segs, gso_size, hwtstamp); the rest must be zero.
 */
export const SkBuffCtx = koffi.struct({
  len: 'uint32',
  pkt_type: 'uint32',
  mark: 'uint32',
  queue_mapping: 'uint32',
  protocol: 'uint32',
  vlan_present: 'uint32',
  vlan_tci: 'uint32',
  vlan_proto: 'uint32',
  priority: 'uint32',
  ingress_ifindex: 'uint32',
  ifindex: 'uint32',
  tc_index: 'uint32',
  cb: koffi.array('uint32', 5, 'Array'),
  hash: 'uint32',
  tc_classid: 'uint32',
  data: 'uint32',
  data_end: 'uint32',
  napi_id: 'uint32',
  family: 'uint32',
  remote_ip4: 'uint32',
  local_ip4: 'uint32',
  remote_ip6: koffi.array('uint32', 4, 'Array'),
  local_ip6: koffi.array('uint32', 4, 'Array'),
  remote_port: 'uint32',
  local_port: 'uint32',
  data_meta: 'uint32',
  flow_keys: 'uint64',
  tstamp: 'uint64',
  wire_len: 'uint32',
  gso_segs: 'uint32',
  sk: 'uint64',
  gso_size: 'uint32',
  tstamp_type: 'uint8',
  _tstamp_type_pad: koffi.array('uint8', 3, 'Array'),
  hwtstamp: 'uint64',
});

/**
 * struct bpf_prog_info from linux/bpf.h as of the 6.x kernels (232 bytes). Every field is spelled out so
 * the offsets match the C layout exactly (checked against offsetof() in test/unit/bpf-bindings.test.ts);
 * the bitfield word after `ifindex` is `gpl_bits`. The kernel fills min(our size, its size) bytes.
 */
export const BpfProgInfo = koffi.struct({
  type: 'uint32',
  id: 'uint32',
  tag: koffi.array('uint8', 8, 'Array'),
  jited_prog_len: 'uint32',
  xlated_prog_len: 'uint32',
  jited_prog_insns: 'uint64',
  xlated_prog_insns: 'uint64',
  load_time: 'uint64',
  created_by_uid: 'uint32',
  nr_map_ids: 'uint32',
  map_ids: 'uint64',
  name: koffi.array('char', 16),
  ifindex: 'uint32',
  gpl_bits: 'uint32',
  netns_dev: 'uint64',
  netns_ino: 'uint64',
  nr_jited_ksyms: 'uint32',
  nr_jited_func_lens: 'uint32',
  jited_ksyms: 'uint64',
  jited_func_lens: 'uint64',
  btf_id: 'uint32',
  func_info_rec_size: 'uint32',
  func_info: 'uint64',
  nr_func_info: 'uint32',
  nr_line_info: 'uint32',
  line_info: 'uint64',
  jited_line_info: 'uint64',
  nr_jited_line_info: 'uint32',
  line_info_rec_size: 'uint32',
  jited_line_info_rec_size: 'uint32',
  nr_prog_tags: 'uint32',
  prog_tags: 'uint64',
  run_time_ns: 'uint64',
  run_cnt: 'uint64',
  recursion_misses: 'uint64',
  verified_insns: 'uint32',
  attach_btf_obj_id: 'uint32',
  attach_btf_id: 'uint32',
  _pad: 'uint32',
});

/** struct bpf_map_info from linux/bpf.h (88 bytes). */
export const BpfMapInfo = koffi.struct({
  type: 'uint32',
  id: 'uint32',
  key_size: 'uint32',
  value_size: 'uint32',
  max_entries: 'uint32',
  map_flags: 'uint32',
  name: koffi.array('char', 16),
  ifindex: 'uint32',
  btf_vmlinux_value_type_id: 'uint32',
  netns_dev: 'uint64',
  netns_ino: 'uint64',
  btf_id: 'uint32',
  btf_key_type_id: 'uint32',
  btf_value_type_id: 'uint32',
  _pad: 'uint32',
  map_extra: 'uint64',
});

/** Every struct layout declared here, by its C name, so a test can check them against the C headers. */
export const STRUCT_LAYOUTS = {
  bpf_object_open_opts: OpenOpts,
  bpf_tc_hook: TcHook,
  bpf_tc_opts: TcOpts,
  bpf_map_batch_opts: MapBatchOpts,
  bpf_test_run_opts: TestRunOpts,
  __sk_buff: SkBuffCtx,
  bpf_prog_info: BpfProgInfo,
  bpf_map_info: BpfMapInfo,
} as const;

/** Sizes of the libbpf option structs, for their `sz` fields. */
export const OPTS_SIZE = {
  openOpts: koffi.sizeof(OpenOpts),
  tcHook: koffi.sizeof(TcHook),
  tcOpts: koffi.sizeof(TcOpts),
  mapBatchOpts: koffi.sizeof(MapBatchOpts),
  testRunOpts: koffi.sizeof(TestRunOpts),
} as const;

export interface OpenOptsValue {
  sz: number;
  object_name?: string | null;
  relaxed_maps?: boolean;
  pin_root_path?: string | null;
  kconfig?: string | null;
  btf_custom_path?: string | null;
  /** Must stay valid until bpf_object__load returns: allocate it with koffi.alloc, not a JS Buffer. */
  kernel_log_buf?: Pointer | null;
  kernel_log_size?: number;
  kernel_log_level?: number;
}

export interface TcHookValue {
  sz: number;
  ifindex: number;
  attach_point: number;
  parent: number;
}

export interface TcOptsValue {
  sz: number;
  prog_fd: number;
  flags: number;
  prog_id: number;
  handle: number;
  priority: number;
}

export interface MapBatchOptsValue {
  sz: number;
  elem_flags: number | bigint;
  flags: number | bigint;
}

/** Pointer fields hold native addresses (koffi.alloc); the out fields are filled in on return. */
export interface TestRunOptsValue {
  sz: number;
  data_in: Pointer | null;
  data_out: Pointer | null;
  data_size_in: number;
  data_size_out: number;
  ctx_in: Pointer | null;
  ctx_out: Pointer | null;
  ctx_size_in: number;
  ctx_size_out: number;
  retval: number;
  repeat: number;
  duration: number;
  flags: number;
  cpu: number;
  batch_size: number;
}

/** Signature of a ring buffer sample callback as koffi delivers it: (ctx, data, size). */
export const RingBufferSampleFn = koffi.proto('int', ['void *', 'void *', 'size_t']);
/** libbpf_print_fn_t: (level, fmt, va_list). va_list is an array type on x86-64, so it arrives as a pointer. */
const PrintFn = koffi.proto('int', ['int', 'void *', 'void *']);

/** enum bpf_tc_attach_point */
export const BPF_TC_INGRESS = 1;
export const BPF_TC_EGRESS = 2;
/** enum bpf_tc_flags */
export const BPF_TC_F_REPLACE = 1;
/** enum bpf_stats_type */
export const BPF_STATS_RUN_TIME = 0;
/** bpf_map_update_elem flags */
export const BPF_ANY = 0;
export const BPF_NOEXIST = 1;
export const BPF_EXIST = 2;

/** The raw libbpf functions lbctl uses, with their C names. Negative return values are -errno. */
export interface Libbpf {
  bpf_object__open_file(path: string, opts: OpenOptsValue | null): Pointer | null;
  bpf_object__load(obj: Pointer): number;
  bpf_object__close(obj: Pointer): void;
  bpf_object__find_program_by_name(obj: Pointer, name: string): Pointer | null;
  bpf_object__next_program(obj: Pointer, prev: Pointer | null): Pointer | null;
  bpf_program__name(prog: Pointer): string;
  bpf_program__fd(prog: Pointer): number;
  bpf_object__find_map_by_name(obj: Pointer, name: string): Pointer | null;
  bpf_object__next_map(obj: Pointer, prev: Pointer | null): Pointer | null;
  bpf_map__name(map: Pointer): string;
  bpf_map__fd(map: Pointer): number;
  bpf_map__is_internal(map: Pointer): boolean;
  bpf_map__set_pin_path(map: Pointer, path: string | null): number;
  bpf_map__pin(map: Pointer, path: string | null): number;
  bpf_map__unpin(map: Pointer, path: string | null): number;
  /** Before load only: the map is created with this many entries instead of the object's. */
  bpf_map__set_max_entries(map: Pointer, maxEntries: number): number;

  bpf_obj_get(path: string): number;
  bpf_obj_pin(fd: number, path: string): number;
  bpf_obj_get_info_by_fd(fd: number, info: Buffer, infoLen: Uint32Array): number;
  bpf_prog_get_fd_by_id(id: number): number;
  bpf_map_get_fd_by_id(id: number): number;
  bpf_enable_stats(type: number): number;
  /** BPF_PROG_TEST_RUN: fills opts.retval, duration, data_size_out and ctx_size_out. */
  bpf_prog_test_run_opts(progFd: number, opts: TestRunOptsValue): number;

  bpf_map_create(
    type: number,
    name: string | null,
    keySize: number,
    valueSize: number,
    maxEntries: number,
    opts: null,
  ): number;
  bpf_map_lookup_elem(fd: number, key: Buffer, value: Buffer): number;
  bpf_map_update_elem(fd: number, key: Buffer, value: Buffer, flags: number): number;
  bpf_map_delete_elem(fd: number, key: Buffer): number;
  bpf_map_get_next_key(fd: number, key: Buffer | null, nextKey: Buffer): number;
  bpf_map_lookup_and_delete_elem(fd: number, key: Buffer, value: Buffer): number;
  bpf_map_lookup_batch(
    fd: number,
    inBatch: Buffer | null,
    outBatch: Buffer,
    keys: Buffer,
    values: Buffer,
    count: Uint32Array,
    opts: MapBatchOptsValue | null,
  ): number;
  bpf_map_update_batch(
    fd: number,
    keys: Buffer,
    values: Buffer,
    count: Uint32Array,
    opts: MapBatchOptsValue | null,
  ): number;
  bpf_map_delete_batch(fd: number, keys: Buffer, count: Uint32Array, opts: MapBatchOptsValue | null): number;

  bpf_tc_hook_create(hook: TcHookValue): number;
  bpf_tc_hook_destroy(hook: TcHookValue): number;
  /** Fills opts.prog_id on success. */
  bpf_tc_attach(hook: TcHookValue, opts: TcOptsValue): number;
  bpf_tc_detach(hook: TcHookValue, opts: TcOptsValue): number;
  /** Fills opts.prog_id (and prog_fd/flags stay 0) when the handle/priority filter exists. */
  bpf_tc_query(hook: TcHookValue, opts: TcOptsValue): number;

  /** sampleCb is the value koffi.register() returned for a RingBufferSampleFn callback. */
  ring_buffer__new(mapFd: number, sampleCb: Pointer, ctx: null, opts: null): Pointer | null;
  ring_buffer__poll(rb: Pointer, timeoutMs: number): number;
  ring_buffer__consume(rb: Pointer): number;
  ring_buffer__epoll_fd(rb: Pointer): number;
  ring_buffer__free(rb: Pointer): void;

  libbpf_num_possible_cpus(): number;
  libbpf_strerror(err: number, buf: Buffer, size: number): number;
}

let bound: Libbpf | undefined;

/** The libbpf bindings, loading libbpf.so.1 on first call. Throws UNSUPPORTED when it is not installed. */
export function libbpf(): Libbpf {
  bound ??= bind();
  return bound;
}

function bind(): Libbpf {
  let lib: LibraryHandle;
  try {
    lib = koffi.load('libbpf.so.1');
  } catch (err) {
    throw new LbctlError(
      'UNSUPPORTED',
      'cannot load the system library libbpf.so.1',
      'install libbpf 1.x (Debian/Ubuntu: apt install libbpf1; Fedora: dnf install libbpf)',
      { cause: err },
    );
  }
  const f = (name: string, result: TypeSpec, args: TypeSpec[]) => lib.func(name, result, args);
  const hookPtr = koffi.pointer(TcHook);
  const optsInOut = koffi.inout(koffi.pointer(TcOpts));
  const api = {
    bpf_object__open_file: f('bpf_object__open_file', 'void *', ['const char *', koffi.pointer(OpenOpts)]),
    bpf_object__load: f('bpf_object__load', 'int', ['void *']),
    bpf_object__close: f('bpf_object__close', 'void', ['void *']),
    bpf_object__find_program_by_name: f('bpf_object__find_program_by_name', 'void *', [
      'void *',
      'const char *',
    ]),
    bpf_object__next_program: f('bpf_object__next_program', 'void *', ['void *', 'void *']),
    bpf_program__name: f('bpf_program__name', 'const char *', ['void *']),
    bpf_program__fd: f('bpf_program__fd', 'int', ['void *']),
    bpf_object__find_map_by_name: f('bpf_object__find_map_by_name', 'void *', ['void *', 'const char *']),
    bpf_object__next_map: f('bpf_object__next_map', 'void *', ['void *', 'void *']),
    bpf_map__name: f('bpf_map__name', 'const char *', ['void *']),
    bpf_map__fd: f('bpf_map__fd', 'int', ['void *']),
    bpf_map__is_internal: f('bpf_map__is_internal', 'bool', ['void *']),
    bpf_map__set_pin_path: f('bpf_map__set_pin_path', 'int', ['void *', 'const char *']),
    bpf_map__pin: f('bpf_map__pin', 'int', ['void *', 'const char *']),
    bpf_map__unpin: f('bpf_map__unpin', 'int', ['void *', 'const char *']),
    bpf_map__set_max_entries: f('bpf_map__set_max_entries', 'int', ['void *', 'uint32']),

    bpf_obj_get: f('bpf_obj_get', 'int', ['const char *']),
    bpf_obj_pin: f('bpf_obj_pin', 'int', ['int', 'const char *']),
    bpf_obj_get_info_by_fd: f('bpf_obj_get_info_by_fd', 'int', ['int', 'void *', 'uint32 *']),
    bpf_prog_get_fd_by_id: f('bpf_prog_get_fd_by_id', 'int', ['uint32']),
    bpf_map_get_fd_by_id: f('bpf_map_get_fd_by_id', 'int', ['uint32']),
    bpf_enable_stats: f('bpf_enable_stats', 'int', ['int']),
    bpf_prog_test_run_opts: f('bpf_prog_test_run_opts', 'int', [
      'int',
      koffi.inout(koffi.pointer(TestRunOpts)),
    ]),

    bpf_map_create: f('bpf_map_create', 'int', [
      'int',
      'const char *',
      'uint32',
      'uint32',
      'uint32',
      'void *',
    ]),
    bpf_map_lookup_elem: f('bpf_map_lookup_elem', 'int', ['int', 'void *', 'void *']),
    bpf_map_update_elem: f('bpf_map_update_elem', 'int', ['int', 'void *', 'void *', 'uint64']),
    bpf_map_delete_elem: f('bpf_map_delete_elem', 'int', ['int', 'void *']),
    bpf_map_get_next_key: f('bpf_map_get_next_key', 'int', ['int', 'void *', 'void *']),
    bpf_map_lookup_and_delete_elem: f('bpf_map_lookup_and_delete_elem', 'int', ['int', 'void *', 'void *']),
    bpf_map_lookup_batch: f('bpf_map_lookup_batch', 'int', [
      'int',
      'void *',
      'void *',
      'void *',
      'void *',
      'uint32 *',
      koffi.pointer(MapBatchOpts),
    ]),
    bpf_map_update_batch: f('bpf_map_update_batch', 'int', [
      'int',
      'void *',
      'void *',
      'uint32 *',
      koffi.pointer(MapBatchOpts),
    ]),
    bpf_map_delete_batch: f('bpf_map_delete_batch', 'int', [
      'int',
      'void *',
      'uint32 *',
      koffi.pointer(MapBatchOpts),
    ]),

    bpf_tc_hook_create: f('bpf_tc_hook_create', 'int', [hookPtr]),
    bpf_tc_hook_destroy: f('bpf_tc_hook_destroy', 'int', [hookPtr]),
    bpf_tc_attach: f('bpf_tc_attach', 'int', [hookPtr, optsInOut]),
    bpf_tc_detach: f('bpf_tc_detach', 'int', [hookPtr, koffi.pointer(TcOpts)]),
    bpf_tc_query: f('bpf_tc_query', 'int', [hookPtr, optsInOut]),

    ring_buffer__new: f('ring_buffer__new', 'void *', [
      'int',
      koffi.pointer(RingBufferSampleFn),
      'void *',
      'void *',
    ]),
    ring_buffer__poll: f('ring_buffer__poll', 'int', ['void *', 'int']),
    ring_buffer__consume: f('ring_buffer__consume', 'int', ['void *']),
    ring_buffer__epoll_fd: f('ring_buffer__epoll_fd', 'int', ['void *']),
    ring_buffer__free: f('ring_buffer__free', 'void', ['void *']),

    libbpf_num_possible_cpus: f('libbpf_num_possible_cpus', 'int', []),
    libbpf_strerror: f('libbpf_strerror', 'int', ['int', 'void *', 'size_t']),
  };
  installPrintCapture(lib);
  return api as unknown as Libbpf;
}

// ---------------------------------------------------------------------------------------------------------
// libbpf's own messages. By default libbpf prints warnings to stderr, which would interleave with our output
// (and with --json). We route them into a small in-memory ring instead, so a failed operation can quote the
// reason libbpf gave (e.g. "couldn't reuse pinned map ... parameter mismatch"). LBCTL_DEBUG_LIBBPF=1 echoes
// every message, debug level included, to stderr.

const MAX_MESSAGES = 64;
const messages: string[] = [];
const LIBBPF_WARN = 0;
const LIBBPF_INFO = 1;

function installPrintCapture(lib: LibraryHandle): void {
  const setPrint = lib.func('libbpf_set_print', 'void *', [koffi.pointer(PrintFn)]);
  const echo = process.env.LBCTL_DEBUG_LIBBPF === '1';
  const text = Buffer.alloc(16 * 1024);
  // Registered once for the life of the process: libbpf keeps the pointer in a global.
  const callback = koffi.register((level: number, fmt: Pointer, args: Pointer): number => {
    if (!echo && level !== LIBBPF_WARN && level !== LIBBPF_INFO) return 0;
    const n = libc().vsnprintf(text, text.length, fmt, args);
    if (n < 0) return 0;
    const line = text.toString('utf8', 0, Math.min(n, text.length - 1)).replace(/\n+$/, '');
    if (echo) process.stderr.write(`${line}\n`);
    if (level === LIBBPF_WARN || level === LIBBPF_INFO) {
      messages.push(line.replace(/^libbpf: /, ''));
      if (messages.length > MAX_MESSAGES) messages.shift();
    }
    return 0;
  }, koffi.pointer(PrintFn));
  setPrint(callback);
}

/** The last warning/info messages libbpf printed (without the "libbpf: " prefix), oldest first. */
export function libbpfMessages(): readonly string[] {
  return [...messages];
}

/** Forget captured libbpf messages, so the next failure's messages stand alone. */
export function clearLibbpfMessages(): void {
  messages.length = 0;
}

// ---------------------------------------------------------------------------------------------------------
// Error conversion.

/**
 * An LbctlError for a negative return value of a libbpf call. libbpf's own error codes (4000 and up, e.g.
 * LIBBPF_ERRNO__VERIFY) and errnos that errors.ts has no name for are described with libbpf_strerror.
 */
export function libbpfError(what: string, err: number, hint?: string): LbctlError {
  const code = Math.abs(err);
  const base = errnoError(what, code, hint);
  if (!errnoName(code).startsWith('errno ')) return base;
  return new LbctlError(base.kind, `${what}: ${libbpfStrerror(code)}`, base.hint);
}

/** libbpf_strerror(): text for an errno or a LIBBPF_ERRNO__* code. */
export function libbpfStrerror(err: number): string {
  const buf = Buffer.alloc(256);
  libbpf().libbpf_strerror(Math.abs(err), buf, buf.length);
  const end = buf.indexOf(0);
  return buf.toString('utf8', 0, end < 0 ? buf.length : end);
}

/** Return `ret` unchanged when it is >= 0, else throw the matching LbctlError. */
export function check(what: string, ret: number, hint?: string): number {
  if (ret < 0) throw libbpfError(what, ret, hint);
  return ret;
}

/** Return `ptr` when it is not NULL, else throw an LbctlError built from errno (libbpf 1.x sets it). */
export function checkPtr(what: string, ptr: Pointer | null, hint?: string): Pointer {
  if (ptr === null || ptr === 0n) throw libbpfError(what, koffi.errno() || 22, hint);
  return ptr;
}

/** Normalise a koffi integer (number, or bigint for values past 2^53) to bigint. */
export function toBigInt(value: number | bigint): bigint {
  return typeof value === 'bigint' ? value : BigInt(value);
}

/** A C char[N] array as koffi decodes it, up to the first NUL. */
export function cString(value: unknown): string {
  if (typeof value === 'string') {
    const nul = value.indexOf('\0');
    return nul < 0 ? value : value.slice(0, nul);
  }
  return '';
}

let possibleCpus: number | undefined;

/** libbpf_num_possible_cpus(), cached: per-CPU map values hold one slot per possible CPU. */
export function numPossibleCpus(): number {
  possibleCpus ??= check('count possible CPUs', libbpf().libbpf_num_possible_cpus());
  return possibleCpus;
}
