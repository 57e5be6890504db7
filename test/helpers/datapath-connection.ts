/**
 * TCP connections through the packet-level harness (datapath-harness.ts): the services of one family, and a
 * connection driven segment by segment from either end. Shared by the datapath suites in test/packet.
 */
import assert from 'node:assert/strict';
import type { CtEntry, CtKey, Mode } from '../../src/bpf/records.js';
import { encodeV1 } from '../../src/ppv2/index.js';
import { type DatapathHarness, NET, type RunResult, TC_ACT } from './datapath-harness.js';
import { buildFrame, type Segment, seqAdd, TCP_ACK, TCP_PSH, TCP_SYN, type TcpOption } from './packets.js';

export const BACKEND_PORT = 8080;
export const CLIENT_MSS = 1460;
/** A service's custom TLV, pre-encoded as the control plane stores it: type 0xE0, 3 bytes. */
export const CUSTOM_TLV = Buffer.from([0xe0, 0x00, 0x03, 0x61, 0x62, 0x63]);

/** The services of one family: what each port of the VIP does. */
export function services(family: 4 | 6) {
  const idBase = family === 4 ? 0 : 10;
  const net = NET[family];
  // PPv2 v2 header length by the spec: 16 fixed + addresses (12 or 36) + TLVs (UNIQUE_ID 3+16, CRC32C 3+4:
  // idAndCrc; or the custom one).
  const addrBytes = family === 4 ? 12 : 36;
  return {
    fullnat: {
      id: idBase + 1,
      port: 80,
      mode: 'fullnat' as Mode,
      n: 16 + addrBytes + 19 + 7,
      idAndCrc: true,
      version: 2 as 1 | 2,
    },
    dnat: {
      id: idBase + 2,
      port: 81,
      mode: 'dnat' as Mode,
      n: 16 + addrBytes,
      idAndCrc: false,
      version: 2 as 1 | 2,
    },
    plain: { id: idBase + 3, port: 82, mode: 'fullnat' as Mode, n: 0, idAndCrc: false, version: 2 as 1 | 2 },
    custom: {
      id: idBase + 4,
      port: 83,
      mode: 'fullnat' as Mode,
      n: 16 + addrBytes + CUSTOM_TLV.length,
      idAndCrc: false,
      version: 2 as 1 | 2,
    },
    // PROXY v1: the line's length follows the connection's address and port text (Connection.n); the VIP
    // ports have 2 and 3 digits so that, for one client, one line is odd and the other even in length.
    v1: { id: idBase + 5, port: 84, mode: 'fullnat' as Mode, n: 0, idAndCrc: false, version: 1 as 1 | 2 },
    v1dnat: { id: idBase + 6, port: 185, mode: 'dnat' as Mode, n: 0, idAndCrc: false, version: 1 as 1 | 2 },
    net,
  };
}
export type Service = ReturnType<typeof services>['fullnat'];

export function addServices(h: DatapathHarness, family: 4 | 6): void {
  const s = services(family);
  for (const svc of [s.fullnat, s.dnat, s.plain, s.custom, s.v1, s.v1dnat]) {
    h.addService({
      id: svc.id,
      vip: s.net.vip,
      port: svc.port,
      mode: svc.mode,
      ppv2: svc.n > 0 || svc.version === 1,
      proxyV1: svc.version === 1,
      uniqueId: svc.idAndCrc,
      crc32c: svc.idAndCrc,
      tlvs: svc === s.custom ? CUSTOM_TLV : undefined,
      snatAddr: svc.mode === 'fullnat' ? s.net.snat : undefined,
      backends: [{ id: svc.id, addr: s.net.backend, port: BACKEND_PORT }],
    });
  }
}

/**
 * One TCP connection through one service, driven segment by segment. Frames are built as each end sends
 * them (the client in its own sequence space, the backend in its own, which the header shifts); the tests
 * state what the other end must receive.
 */
export class Connection {
  readonly isn: number;
  readonly backendIsn = 0x7000_0000;
  /** fullnat: the SNAT port the datapath gave this connection, learnt from its ORIG entry after the SYN. */
  private snatPort: number | undefined;
  /** The header length = sequence shift: the service's for v2, this connection's line for v1. */
  readonly n: number;
  constructor(
    private readonly h: DatapathHarness,
    readonly family: 4 | 6,
    readonly svc: Service,
    readonly clientPort: number,
    /** Options on every non-SYN segment (timestamps, or none at all: doff=5 as Windows sends). */
    readonly dataOptions: readonly TcpOption[],
  ) {
    this.isn = 0xfff0_0000 + clientPort; // near the wrap: sequence arithmetic must be modular
    this.n = svc.version === 1 ? this.expectedV1Line().length : svc.n;
  }

  /** The v1 line the backend must get, by the project's encoder (an independent reference for the kernel's). */
  expectedV1Line(): Buffer {
    return Buffer.from(
      encodeV1({
        version: 1,
        command: 'PROXY',
        family: this.family === 4 ? 'INET' : 'INET6',
        src: this.net.client,
        dst: this.net.vip,
        srcPort: this.clientPort,
        dstPort: this.svc.port,
      }),
    );
  }

  /** What the backend sees as its peer: SNAT address and port (fullnat) or the client (dnat). */
  get peerAtBackend(): { addr: string; port: number } {
    if (this.svc.mode !== 'fullnat') return { addr: this.net.client, port: this.clientPort };
    // Before its SYN (or never sent one: an untracked flow) no port was chosen; the client's stands in.
    const chosen = this.snatPort ?? this.h.conntrackEntry(this.origKey)?.peer.dport;
    this.snatPort = chosen;
    return { addr: this.net.snat, port: chosen ?? this.clientPort };
  }

  get net() {
    return NET[this.family];
  }

  /** A client → VIP frame. */
  fromClient(seg: Omit<Segment, 'src' | 'dst' | 'sport' | 'dport'>): Buffer {
    return buildFrame({
      src: this.net.client,
      dst: this.net.vip,
      sport: this.clientPort,
      dport: this.svc.port,
      ...seg,
    });
  }

  /** A backend → (SNAT address | client) frame. */
  fromBackend(seg: Omit<Segment, 'src' | 'dst' | 'sport' | 'dport'>): Buffer {
    return buildFrame({
      src: this.net.backend,
      dst: this.peerAtBackend.addr,
      sport: BACKEND_PORT,
      dport: this.peerAtBackend.port,
      ...seg,
    });
  }

  get origKey(): Omit<CtKey, 'family' | 'protocol'> {
    return { saddr: this.net.client, daddr: this.net.vip, sport: this.clientPort, dport: this.svc.port };
  }

  get replyKey(): Omit<CtKey, 'family' | 'protocol'> {
    return {
      saddr: this.net.backend,
      daddr: this.peerAtBackend.addr,
      sport: BACKEND_PORT,
      dport: this.peerAtBackend.port,
    };
  }

  orig(): CtEntry {
    const e = this.h.conntrackEntry(this.origKey);
    assert.ok(e, 'the ORIG conntrack entry exists');
    return e;
  }

  /** SYN and SYN-ACK, each checked for being forwarded: the client's next segment completes the handshake. */
  open(): void {
    const syn = this.fromClient({
      seq: this.isn,
      ack: 0,
      flags: TCP_SYN,
      options: [{ kind: 'mss', value: CLIENT_MSS }],
    });
    assert.equal(this.h.run(syn, 'client').retval, TC_ACT.REDIRECT);
    const synAck = this.fromBackend({
      seq: this.backendIsn,
      ack: seqAdd(this.isn, 1),
      flags: TCP_SYN | TCP_ACK,
      options: [{ kind: 'mss', value: CLIENT_MSS }],
    });
    assert.equal(this.h.run(synAck, 'backend').retval, TC_ACT.REDIRECT);
  }

  /** SYN, SYN-ACK, ACK, each checked for being forwarded. Returns the ACK as sent and as forwarded. */
  handshake(): { ack: Buffer; result: RunResult } {
    this.open();
    const ack = this.fromClient({
      seq: seqAdd(this.isn, 1),
      ack: seqAdd(this.backendIsn, 1),
      flags: TCP_ACK,
      options: this.dataOptions,
    });
    const result = this.h.run(ack, 'client');
    assert.equal(result.retval, TC_ACT.REDIRECT);
    return { ack, result };
  }

  /** The backend's bare ACK of `clientBytes` client bytes behind the header (backend sequence space). */
  backendAck(clientBytes: number): RunResult {
    const seg = this.fromBackend({
      seq: seqAdd(this.backendIsn, 1),
      ack: seqAdd(this.isn, 1 + this.n + clientBytes),
      flags: TCP_ACK,
      options: this.dataOptions,
    });
    return this.h.run(seg, 'backend');
  }

  /** A client data segment at client offset `offset` (0 = the first byte after the SYN). */
  clientData(offset: number, payload: Buffer, flags = TCP_ACK | TCP_PSH): Buffer {
    return this.fromClient({
      seq: seqAdd(this.isn, 1 + offset),
      ack: seqAdd(this.backendIsn, 1),
      flags,
      options: this.dataOptions,
      payload,
    });
  }
}
