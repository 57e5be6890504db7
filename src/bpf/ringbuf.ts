/**
 * Read records from a BPF ring buffer map (BPF_MAP_TYPE_RINGBUF) with libbpf's ring_buffer API.
 *
 * Two ways to wait for records, neither of which spins:
 *  - poll(maxMs): block the calling thread in epoll_wait for up to maxMs, then deliver what is there.
 *    Simple, right for one-shot commands.
 *  - watch(): register libbpf's epoll fd with Node's event loop (koffi.node.poll, libuv underneath) and
 *    deliver records as they arrive, without blocking the JS thread. Right for the `top` dashboard.
 * Records are delivered synchronously, in order, as copies (the ring's memory is released as soon as the
 * callback returns).
 */
import { closeSync } from 'node:fs';
import koffi from 'koffi';
import { LbctlError } from '../errors.js';
import { check, checkPtr, libbpf, libbpfError, type Pointer, RingBufferSampleFn } from './libbpf.js';
import { MapType, mapInfoByFd } from './map.js';

export type RecordHandler = (record: Buffer) => void;

type PollHandle = ReturnType<typeof koffi.node.poll>;

export class RingBufferReader {
  /** Open a pinned ring buffer map. */
  static open(pinPath: string, onRecord: RecordHandler): RingBufferReader {
    const fd = libbpf().bpf_obj_get(pinPath);
    if (fd < 0) throw libbpfError(`open pinned ring buffer ${pinPath}`, fd);
    try {
      return new RingBufferReader(fd, pinPath, true, onRecord);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  /** Read a ring buffer map by fd (e.g. from a LoadedObject). The fd is not closed unless `owned`. */
  static fromFd(
    fd: number,
    onRecord: RecordHandler,
    options: { owned?: boolean; label?: string } = {},
  ): RingBufferReader {
    return new RingBufferReader(
      fd,
      options.label ?? `ring buffer fd ${fd}`,
      options.owned ?? false,
      onRecord,
    );
  }

  private rb: Pointer | undefined;
  private readonly callback: bigint;
  private watcher: PollHandle | undefined;
  /** An exception thrown by the handler, rethrown once libbpf has returned. */
  private pending: { error: unknown } | undefined;

  private constructor(
    private readonly mapFd: number,
    readonly label: string,
    private readonly owned: boolean,
    private readonly onRecord: RecordHandler,
  ) {
    const type = mapInfoByFd(mapFd, label).type;
    if (type !== MapType.RINGBUF) {
      throw new LbctlError('USAGE', `${label} is not a ring buffer map (map type ${type})`);
    }
    // A registered (not transient) callback: libbpf stores it in the ring_buffer and calls it from later
    // poll/consume calls. It holds one of koffi's trampoline slots until close().
    this.callback = koffi.register((_ctx: Pointer | null, data: Pointer, size: number | bigint): number => {
      try {
        // Copy (a Uint8Array copies, an ArrayBuffer would be shared): the record's memory is the mmapped
        // ring, handed back to the kernel as soon as we return.
        this.onRecord(Buffer.from(new Uint8Array(koffi.view(data, Number(size)))));
        return 0;
      } catch (error) {
        this.pending = { error };
        return -1; // makes libbpf stop consuming; the error is rethrown below
      }
    }, koffi.pointer(RingBufferSampleFn));
    try {
      this.rb = checkPtr(
        `open ring buffer ${label}`,
        libbpf().ring_buffer__new(mapFd, this.callback, null, null),
      );
    } catch (err) {
      koffi.unregister(this.callback);
      throw err;
    }
  }

  /**
   * Wait up to `maxMs` (0 = do not wait) for records and deliver all that are available. Blocks the JS
   * thread meanwhile. Returns the number of records delivered.
   */
  poll(maxMs: number): number {
    return this.settle('poll', libbpf().ring_buffer__poll(this.handle(), Math.max(0, Math.floor(maxMs))));
  }

  /** Deliver every record available right now, without waiting. Returns how many. */
  drain(): number {
    return this.settle('consume', libbpf().ring_buffer__consume(this.handle()));
  }

  /**
   * Deliver records from the event loop as they arrive, until unwatch() or close(). `onError` receives
   * exceptions thrown by the record handler and read errors (watching continues). The watcher keeps the
   * process alive unless `unref` is set.
   */
  watch(options: { onError?: (error: unknown) => void; unref?: boolean } = {}): void {
    if (this.watcher) return;
    const epollFd = check(
      `get epoll fd of ring buffer ${this.label}`,
      libbpf().ring_buffer__epoll_fd(this.handle()),
    );
    this.watcher = koffi.node.poll(epollFd, { readable: true }, () => {
      if (this.rb === undefined) return;
      try {
        this.drain();
      } catch (error) {
        if (options.onError) options.onError(error);
        else throw error;
      }
    });
    if (options.unref) this.watcher.unref();
  }

  /** Stop delivering records from the event loop. */
  unwatch(): void {
    this.watcher?.stop();
    this.watcher?.close();
    this.watcher = undefined;
  }

  /** Free the ring buffer, its callback slot and (if owned) the map fd. Safe to call twice. */
  close(): void {
    this.unwatch();
    if (this.rb === undefined) return;
    libbpf().ring_buffer__free(this.rb);
    this.rb = undefined;
    koffi.unregister(this.callback);
    if (this.owned) closeSync(this.mapFd);
  }

  private handle(): Pointer {
    if (this.rb === undefined) throw new Error(`ring buffer ${this.label} is closed`);
    return this.rb;
  }

  private settle(op: string, ret: number): number {
    const pending = this.pending;
    this.pending = undefined;
    if (pending) throw pending.error;
    if (ret === -4) return 0; // EINTR: a signal arrived while waiting; nothing was lost
    return check(`${op} ring buffer ${this.label}`, ret);
  }
}
