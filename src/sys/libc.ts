/**
 * The few libc functions lbctl needs and Node does not offer: setns(2), mount(2), flock(2), raw sockets
 * (socket(2), sendto(2), close(2)), if_nametoindex(3) and vsnprintf(3) (to format libbpf's log messages).
 * Loaded on first use.
 *
 * Calls return the C result; on failure read the errno with `koffi.errno()` right after the call.
 */
import koffi, { type LibraryHandle } from 'koffi';
import { LbctlError } from '../errors.js';

export interface Libc {
  /** Returns 0 for an unknown interface (errno ENODEV). Resolved in the calling thread's network namespace. */
  if_nametoindex(name: string): number;
  setns(fd: number, nstype: number): number;
  mount(source: string, target: string, fstype: string, flags: number, data: string | null): number;
  flock(fd: number, operation: number): number;
  socket(domain: number, type: number, protocol: number): number;
  /** `addr` is an encoded sockaddr_in / sockaddr_in6. */
  sendto(fd: number, buf: Buffer, len: number, flags: number, addr: Buffer, addrlen: number): number;
  close(fd: number): number;
  /** fmt and args are raw pointers handed to a callback by libbpf. */
  vsnprintf(buf: Buffer, size: number, fmt: bigint, args: bigint): number;
}

export const CLONE_NEWNET = 0x40000000;
export const LOCK_EX = 2;
export const LOCK_UN = 8;
export const MS_NOSUID = 0x2;
export const MS_NODEV = 0x4;
export const MS_NOEXEC = 0x8;
export const MS_RELATIME = 0x200000;

let bound: Libc | undefined;

export function libc(): Libc {
  if (bound) return bound;
  let lib: LibraryHandle;
  try {
    lib = koffi.load('libc.so.6');
  } catch (err) {
    throw new LbctlError('UNSUPPORTED', 'cannot load the C library libc.so.6', 'lbctl needs glibc on Linux', {
      cause: err,
    });
  }
  bound = {
    if_nametoindex: lib.func('if_nametoindex', 'uint32', ['const char *']),
    setns: lib.func('setns', 'int', ['int', 'int']),
    mount: lib.func('mount', 'int', [
      'const char *',
      'const char *',
      'const char *',
      'unsigned long',
      'const char *',
    ]),
    flock: lib.func('flock', 'int', ['int', 'int']),
    socket: lib.func('socket', 'int', ['int', 'int', 'int']),
    sendto: lib.func('sendto', 'long', ['int', 'const void *', 'size_t', 'int', 'const void *', 'uint32']),
    close: lib.func('close', 'int', ['int']),
    vsnprintf: lib.func('vsnprintf', 'int', ['void *', 'size_t', 'void *', 'void *']),
  } as unknown as Libc;
  return bound;
}
