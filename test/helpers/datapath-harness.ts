/**
 * Packet in → packet out for the datapath: lbctl_ingress run once per crafted frame with BPF_PROG_TEST_RUN,
 * on the real compiled object loaded with private (unpinned) maps, so each test owns its state.
 *
 * The program routes what it rewrites itself (bpf_fib_lookup + bpf_redirect_neigh), and a test run looks
 * routes up in the calling thread's network namespace. So the harness makes a scratch namespace with a
 * client-facing and a backend-facing veth, their subnets, permanent neighbours and forwarding on, and moves
 * this thread into it while it is open. Under a test run a redirect is not carried out: the program returns
 * TC_ACT_REDIRECT and the rewritten frame comes back as data_out (its Ethernet header untouched: MACs are
 * written by the redirect).
 */
import { spawnSync } from 'node:child_process';
import koffi from 'koffi';
import { STRUCT_LAYOUTS } from '../../src/bpf/abi.js';
import { check, libbpf, numPossibleCpus, OPTS_SIZE, SkBuffCtx } from '../../src/bpf/libbpf.js';
import { BpfMap } from '../../src/bpf/map.js';
import { enterNetns } from '../../src/bpf/netns.js';
import { type LoadedObject, loadObject } from '../../src/bpf/object.js';
import {
  type Counters,
  type CtEntry,
  type CtKey,
  type CtKeyInput,
  type DetachingMode,
  decodeCtEntry,
  decodeCtKey,
  decodeEvent,
  encodeArrayIndex,
  encodeBackend,
  encodeBackendId,
  encodeConfig,
  encodeCtKey,
  encodeMaglevRing,
  encodeService,
  encodeServiceId,
  encodeServiceKey,
  type LbEvent,
  MAP_NAMES,
  type Mode,
  type PortRange,
  PROGRAM,
  type Protocol,
  RECORD_SIZES,
  sumPerCpuStats,
} from '../../src/bpf/records.js';
import { RingBufferReader } from '../../src/bpf/ringbuf.js';
import { buildMaglevRing } from '../../src/core/maglev.js';
import { datapathObjectPath } from '../../src/core/maps.js';

/** linux/pkt_cls.h */
export const TC_ACT = { OK: 0, SHOT: 2, REDIRECT: 7 } as const;

/**
 * The scratch namespace's addresses (documentation ranges only). `backend2` sits on a second backend-facing
 * veth and subnet; `src`/`src2` are the namespace's own addresses on the two backend subnets (the routes'
 * preferred sources towards `backend` and `backend2`).
 */
export const NET = {
  4: {
    client: '192.0.2.10',
    vip: '203.0.113.10',
    backend: '198.51.100.2',
    snat: '198.51.100.11',
    src: '198.51.100.1',
    backend2: '203.0.113.130',
    src2: '203.0.113.129',
  },
  6: {
    client: '2001:db8:1::10',
    vip: '2001:db8:3::10',
    backend: '2001:db8:2::2',
    snat: '2001:db8:2::11',
    src: '2001:db8:2::1',
    backend2: '2001:db8:4::2',
    src2: '2001:db8:4::1',
  },
} as const;

export interface ServiceSpec {
  id: number;
  vip: string;
  port: number;
  /** Default TCP. */
  protocol?: Protocol;
  mode: Mode;
  ppv2: boolean;
  uniqueId?: boolean;
  crc32c?: boolean;
  /** With ppv2: the PROXY v1 text line instead of the v2 header. */
  proxyV1?: boolean;
  tlvs?: Buffer;
  /** fullnat only. */
  snatAddr?: string;
  /** `srcAddr`: the backend's own fullnat source (lb_backend.src_addr), used without `snatAddr`. */
  backends: ReadonlyArray<{ id: number; addr: string; port: number; srcAddr?: string }>;
}

export interface RunResult {
  retval: number;
  /** The frame as the program left it. */
  frame: Buffer;
}

export type Side = 'client' | 'backend' | 'backend2';

const sh = (args: string[]) => {
  const r = spawnSync(args[0] ?? '', args.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed (${r.status}): ${r.stderr || r.error}`);
  return r.stdout;
};

/** A network namespace with the two veths the datapath forwards between. */
class ScratchNetns {
  readonly name = `lbctl-pkt-${process.pid}-${Math.random().toString(16).slice(2, 8)}`;
  private created = false;

  setUp(): Record<Side, number> {
    sh(['ip', 'netns', 'add', this.name]);
    this.created = true;
    const ip = (...args: string[]) => sh(['ip', '-n', this.name, ...args]);
    const devices = { client: 'pc', backend: 'ps', backend2: 'pt' } as const;
    for (const dev of Object.values(devices)) {
      ip('link', 'add', dev, 'type', 'veth', 'peer', 'name', `${dev}2`);
      ip('link', 'set', dev, 'up');
      ip('link', 'set', `${dev}2`, 'up'); // a veth has carrier only with its peer up: routes need it
    }
    ip('link', 'set', 'lo', 'up');
    ip('addr', 'add', '192.0.2.1/24', 'dev', devices.client);
    ip('addr', 'add', '2001:db8:1::1/64', 'dev', devices.client, 'nodad');
    ip('addr', 'add', '198.51.100.1/24', 'dev', devices.backend);
    ip('addr', 'add', '2001:db8:2::1/64', 'dev', devices.backend, 'nodad');
    ip('addr', 'add', `${NET[4].src2}/25`, 'dev', devices.backend2);
    ip('addr', 'add', `${NET[6].src2}/64`, 'dev', devices.backend2, 'nodad');
    const neighbours: Array<[string, string, Side]> = [
      [NET[4].client, '02:00:00:00:00:0a', 'client'],
      [NET[6].client, '02:00:00:00:00:0a', 'client'],
      [NET[4].backend, '02:00:00:00:00:0c', 'backend'],
      [NET[6].backend, '02:00:00:00:00:0c', 'backend'],
      [NET[4].backend2, '02:00:00:00:00:0d', 'backend2'],
      [NET[6].backend2, '02:00:00:00:00:0d', 'backend2'],
    ];
    for (const [addr, mac, side] of neighbours) {
      ip('neigh', 'add', addr, 'lladdr', mac, 'dev', devices[side], 'nud', 'permanent');
    }
    sh(['ip', 'netns', 'exec', this.name, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    sh(['ip', 'netns', 'exec', this.name, 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1']);
    const ifindex = (dev: string) =>
      (JSON.parse(ip('-j', 'link', 'show', 'dev', dev)) as [{ ifindex: number }])[0].ifindex;
    return {
      client: ifindex(devices.client),
      backend: ifindex(devices.backend),
      backend2: ifindex(devices.backend2),
    };
  }

  remove(): void {
    if (this.created) spawnSync('ip', ['netns', 'del', this.name]);
    this.created = false;
  }
}

export class DatapathHarness {
  private constructor(
    private readonly netns: ScratchNetns,
    private readonly leaveNetns: () => void,
    private readonly ifindex: Record<Side, number>,
    private readonly object: LoadedObject,
    private readonly progFd: number,
  ) {}

  /**
   * A scratch namespace (entered by this thread) and a fresh copy of the datapath. `conntrackEntries`
   * creates the conntrack table that small, so that a test can fill it. Undo with close(), also on failure.
   */
  static open(options: { conntrackEntries?: number } = {}): DatapathHarness {
    const netns = new ScratchNetns();
    let leave: (() => void) | undefined;
    let object: LoadedObject | undefined;
    try {
      const ifindex = netns.setUp();
      leave = enterNetns(netns.name);
      object = loadObject(datapathObjectPath(), {
        pinDir: '(unpinned)',
        pin: false,
        maxEntries:
          options.conntrackEntries === undefined ? {} : { [MAP_NAMES.conntrack]: options.conntrackEntries },
      });
      const harness = new DatapathHarness(netns, leave, ifindex, object, object.programFd(PROGRAM.name));
      harness.configure({});
      return harness;
    } catch (err) {
      object?.close();
      leave?.();
      netns.remove();
      throw err;
    }
  }

  close(): void {
    this.object.close();
    this.leaveNetns();
    this.netns.remove();
  }

  private map(name: keyof typeof MAP_NAMES): BpfMap {
    const loaded = this.object.maps.get(MAP_NAMES[name]);
    if (!loaded) throw new Error(`the object has no map ${MAP_NAMES[name]}`);
    return BpfMap.fromFd(loaded.fd, { label: loaded.name });
  }

  /** Service, backends and lookup ring, written as the control plane writes them (records.ts encoders). */
  addService(spec: ServiceSpec): void {
    for (const be of spec.backends) {
      this.map('backends').update(
        encodeBackendId(be.id),
        encodeBackend({ addr: be.addr, port: be.port, weight: 1, srcAddr: be.srcAddr ?? null }),
      );
    }
    const ring = buildMaglevRing(
      spec.backends.map((b) => ({ id: b.id, weight: 1, key: `${b.addr}:${b.port}` })),
    );
    this.map('maglev').update(encodeServiceId(spec.id), encodeMaglevRing(ring));
    this.map('services').update(
      encodeServiceKey({ vip: spec.vip, port: spec.port, protocol: spec.protocol }),
      encodeService({
        id: spec.id,
        mode: spec.mode,
        ppv2: spec.ppv2,
        uniqueId: spec.uniqueId ?? false,
        crc32c: spec.crc32c ?? false,
        proxyV1: spec.proxyV1 ?? false,
        liveness: false,
        snatAddr: spec.snatAddr ?? null,
        tlvs: spec.tlvs ?? Buffer.alloc(0),
      }),
    );
  }

  private config: { events: boolean; detaching: DetachingMode | null; snatPorts: PortRange } = {
    events: false,
    detaching: null,
    snatPorts: { min: 0, max: 0 },
  };

  /**
   * lb_config: boot id 0x1122334455667788, default timeouts, events, the detach mode and the SNAT port range as
   * given (what is not given stays as it was; events and detaching start off, the range at 0-0: the default).
   */
  configure(changes: { events?: boolean; detaching?: DetachingMode | null; snatPorts?: PortRange }): void {
    this.config = { ...this.config, ...changes };
    this.map('config').update(
      encodeArrayIndex(0),
      encodeConfig({
        bootId: 0x1122334455667788n,
        ...this.config,
        timeouts: { synSentS: 0, establishedS: 0, finS: 0, closedS: 0, udpS: 0 },
      }),
    );
  }

  /** The events the datapath has written to its ring buffer since the last call, decoded by records.ts. */
  takeEvents(): LbEvent[] {
    const loaded = this.object.maps.get(MAP_NAMES.events);
    if (!loaded) throw new Error(`the object has no map ${MAP_NAMES.events}`);
    const events: LbEvent[] = [];
    const reader = RingBufferReader.fromFd(loaded.fd, (record) => events.push(decodeEvent(record)));
    try {
      reader.drain();
    } finally {
      reader.close();
    }
    return events;
  }

  /** Remove a service's key (its backends and ring stay, as between two control-plane steps). */
  deleteService(vip: string, port: number, protocol?: Protocol): void {
    this.map('services').delete(encodeServiceKey({ vip, port, protocol }));
  }

  /**
   * Run lbctl_ingress once on `frame`, as received on the client- or backend-facing interface. `gsoSize`
   * makes it a GSO super-packet of segments that size (skb_shinfo gso_size, as a test run allows).
   */
  run(frame: Buffer, side: Side, options: { gsoSize?: number } = {}): RunResult {
    const outSize = frame.length + 512;
    const dataIn = koffi.alloc('uint8_t', frame.length);
    const dataOut = koffi.alloc('uint8_t', outSize);
    const ctx = koffi.alloc('uint8_t', SkBuffCtx.size);
    try {
      new Uint8Array(koffi.view(dataIn, frame.length)).set(frame);
      new Uint8Array(koffi.view(ctx, SkBuffCtx.size)).fill(0);
      const gso = options.gsoSize
        ? { gso_size: options.gsoSize, gso_segs: Math.ceil(frame.length / options.gsoSize) }
        : {};
      koffi.encode(ctx, SkBuffCtx, {
        ingress_ifindex: this.ifindex[side],
        ifindex: this.ifindex[side],
        ...gso,
      });
      const opts = {
        sz: OPTS_SIZE.testRunOpts,
        data_in: dataIn,
        data_out: dataOut,
        data_size_in: frame.length,
        data_size_out: outSize,
        ctx_in: ctx,
        ctx_out: null,
        ctx_size_in: SkBuffCtx.size,
        ctx_size_out: 0,
        retval: 0,
        repeat: 1,
        duration: 0,
        flags: 0,
        cpu: 0,
        batch_size: 0,
      };
      check('BPF_PROG_TEST_RUN lbctl_ingress', libbpf().bpf_prog_test_run_opts(this.progFd, opts));
      // a copy: Buffer.from(ArrayBuffer) would be a view of memory freed below
      const out = Buffer.from(new Uint8Array(koffi.view(dataOut, opts.data_size_out)));
      return { retval: opts.retval, frame: out };
    } finally {
      koffi.free(dataIn);
      koffi.free(dataOut);
      koffi.free(ctx);
    }
  }

  /** A conntrack entry by its key, decoded by records.ts. */
  conntrackEntry(key: CtKeyInput): CtEntry | undefined {
    const value = this.map('conntrack').lookup(encodeCtKey(key));
    return value === undefined ? undefined : decodeCtEntry(value);
  }

  /** Rewrite a 16-bit field of a conntrack entry in place (a test's way to make the datapath fail on it). */
  setConntrackField(key: CtKeyInput, field: 'ppv2_len' | 'flags', value: number): void {
    const map = this.map('conntrack');
    const k = encodeCtKey(key);
    const entry = map.lookup(k);
    if (entry === undefined) throw new Error('no such conntrack entry');
    const edited = Buffer.from(entry);
    edited.writeUInt16LE(value, STRUCT_LAYOUTS.lb_ct_entry.off[field]);
    map.update(k, edited);
  }

  /**
   * Make a connection look idle for `seconds` more than it is: both entries' last_seen_ns moved back, as the
   * passing of time would (what the janitor and SNAT port reclaiming read). Returns whether it was tracked.
   */
  ageConnection(origKey: Omit<CtKey, 'family' | 'protocol'>, seconds: number): boolean {
    const map = this.map('conntrack');
    const key = encodeCtKey(origKey);
    const orig = map.lookup(key);
    if (orig === undefined) return false;
    const at = STRUCT_LAYOUTS.lb_ct_entry.off.last_seen_ns;
    const peer = STRUCT_LAYOUTS.lb_ct_entry.off.peer;
    const replyKey = orig.subarray(peer, peer + RECORD_SIZES.ctKey);
    for (const [k, v] of [
      [key, orig],
      [replyKey, map.lookup(replyKey)],
    ] as const) {
      if (v === undefined) continue;
      const aged = Buffer.from(v);
      aged.writeBigUInt64LE(aged.readBigUInt64LE(at) - BigInt(seconds * 1e9), at);
      map.update(Buffer.from(k), aged);
    }
    return true;
  }

  /** Every conntrack entry. */
  conntrack(): Array<{ key: CtKey; entry: CtEntry }> {
    return [...this.map('conntrack').entries()].map(([k, v]) => ({
      key: decodeCtKey(k),
      entry: decodeCtEntry(v),
    }));
  }

  /** Counters of slot `serviceId` (0: the whole balancer), summed over CPUs. */
  counters(serviceId = 0): Counters {
    const value = this.map('stats').lookup(encodeArrayIndex(serviceId));
    if (value === undefined) throw new Error(`no stats slot ${serviceId}`);
    return sumPerCpuStats(value, numPossibleCpus());
  }
}
