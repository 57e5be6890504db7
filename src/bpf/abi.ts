/**
 * The datapath's ABI, declared once: every struct, field, flag, enum value, counter, map and default that
 * crosses the kernel/user boundary. Everything else follows from this file:
 * - bpf/lbctl_abi.h is generated from it (`npm run gen:abi`), so the C side compiles against these layouts;
 * - the tables in bpf/ABI.md are generated from it too;
 * - src/bpf/records.ts takes its field offsets from `STRUCT_LAYOUTS` (computed here by C's layout rules);
 * - test/unit/abi-schema.test.ts fails when the generated files are stale, and checks every struct and map
 *   field by field against the BTF of the compiled object, so a C change without this file (or the reverse)
 *   fails `npm test`.
 *
 * Conventions: addresses are 16 bytes, IPv4 in the first 4 bytes (network order) and zeros after; ports are
 * in network byte order (as on the wire); every other integer is in host byte order (little endian on x86_64
 * and arm64).
 */

// ---------------------------------------------------------------------------------------------------------
// constants

/** A named constant with the reason it exists; the C name is the group's prefix + '_' + the key. */
type ConstEntries = Record<string, readonly [value: number, doc: string]>;

export interface ConstGroup<T extends ConstEntries = ConstEntries> {
  /** C name prefix, e.g. LB_SVC_F. */
  prefix: string;
  /** What the values are, e.g. "lb_service.flags". */
  doc: string;
  entries: T;
  /** The values by key, for TypeScript code. */
  values: { readonly [K in keyof T]: T[K][0] };
  /** Render as hexadecimal bit flags (true) or decimal values. */
  bits: boolean;
}

function group<const T extends ConstEntries>(
  prefix: string,
  doc: string,
  entries: T,
  bits = false,
): ConstGroup<T> {
  const values = Object.fromEntries(
    Object.entries(entries).map(([k, [v]]) => [k, v]),
  ) as ConstGroup<T>['values'];
  return { prefix, doc, entries, values, bits };
}

export const FAMILY = group('LB_FAMILY', 'family bytes (not AF_INET/AF_INET6)', {
  V4: [4, 'IPv4'],
  V6: [6, 'IPv6'],
});

export const PROTO = group('LB_PROTO', 'protocol bytes (IANA numbers)', {
  TCP: [6, 'TCP'],
  UDP: [17, 'UDP: flows of datagrams; with PPv2 every datagram gets its own header (bpf/udp.h)'],
});

export const MODE = group('LB_MODE', 'lb_service.mode, lb_ct_entry.mode', {
  FULLNAT: [1, 'source and destination translated: backends reply to the balancer'],
  DNAT: [2, 'destination translated only: backends route replies through the balancer'],
});

export const SVC_FLAGS = group(
  'LB_SVC_F',
  'lb_service.flags',
  {
    PPV2: [0x01, 'inject a PROXY protocol header: v2, or the v1 text line with PPV1'],
    UNIQUE_ID: [0x02, 'add a PP2_TYPE_UNIQUE_ID TLV (16 bytes)'],
    CRC32C: [0x04, 'add a PP2_TYPE_CRC32C TLV computed in the kernel'],
    LIVENESS: [0x08, 'control plane only: `lbctl agent` probes the backends'],
    PPV1: [0x10, 'with PPV2: the header is the PROXY protocol v1 text line (no TLVs)'],
    // The top bit, so that flags other work adds from 0x10 upwards do not collide with it.
    APPLIED: [
      0x80,
      'control plane only: created by `lbctl apply`, so `apply --prune` may delete it (set in the same write as the record)',
    ],
  },
  true,
);

export const BACKEND_FLAGS = group(
  'LB_BE_F',
  'lb_backend.flags',
  { DOWN: [0x01, 'control plane only: failed its liveness probes, left out of lb_maglev'] },
  true,
);

export const LIMITS = group('LB', 'limits compiled into the datapath', {
  MAX_SERVICES: [256, 'stats slots: 0 is global, valid service ids are 1..255'],
  MAX_BACKENDS: [4096, 'backend ids are global, 1..'],
  MAGLEV_SIZE: [4093, 'entries per service lookup ring (prime, so every skip visits every slot)'],
  TLV_MAX: [128, 'bytes of pre-encoded custom TLVs per service'],
  CT_MAX_ENTRIES: [
    524288,
    'default conntrack entries (two per connection); attach --max-connections sets it',
  ],
  EVENTS_BYTES: [256 * 1024, 'ring buffer size'],
});

/** The pieces of a PPv2 header the datapath builds; the length rule is `ppv2HeaderLength` below. */
export const PPV2_LEN = group('LB_PPV2', 'PPv2 header pieces, in bytes', {
  FIXED_LEN: [16, 'signature, version/command, family/protocol, length'],
  ADDR_LEN_V4: [12, 'IPv4 addresses and ports'],
  ADDR_LEN_V6: [36, 'IPv6 addresses and ports'],
  UNIQUE_ID_TLV_LEN: [19, 'UNIQUE_ID TLV: 3-byte TLV header + 16 bytes'],
  CRC32C_TLV_LEN: [7, 'CRC32C TLV: 3-byte TLV header + 4 bytes'],
  NOOP_TLV_LEN: [3, 'empty NOOP TLV that keeps the length even'],
});

const p = PPV2_LEN.values;
/** Longest header the datapath builds: every optional piece, IPv6 and a full TLV area. */
const PPV2_MAX_LEN =
  p.FIXED_LEN +
  p.ADDR_LEN_V6 +
  p.UNIQUE_ID_TLV_LEN +
  p.CRC32C_TLV_LEN +
  LIMITS.values.TLV_MAX +
  p.NOOP_TLV_LEN;

export const DERIVED_LIMITS = group('LB', 'limits derived from the ones above', {
  PPV2_MAX_LEN: [PPV2_MAX_LEN, 'longest header the datapath builds (every piece, IPv6, a full TLV area)'],
  EVENT_HDR_MAX: [Math.ceil(PPV2_MAX_LEN / 4) * 4, 'LB_PPV2_MAX_LEN rounded up to 4: lb_event.hdr'],
});

/**
 * The length of the PPv2 header the datapath builds: the sequence shift of a connection, and what the SYN-ACK's
 * MSS is lowered by. The C twin is ppv2_len_for() in bpf/ppv2.h, built from the same constants.
 */
export function ppv2HeaderLength(
  opts: { uniqueId: boolean; crc32c: boolean; tlvBytes: number },
  family: 4 | 6,
): number {
  let n = p.FIXED_LEN + (family === 4 ? p.ADDR_LEN_V4 : p.ADDR_LEN_V6);
  if (opts.uniqueId) n += p.UNIQUE_ID_TLV_LEN;
  if (opts.crc32c) n += p.CRC32C_TLV_LEN;
  n += Math.min(opts.tlvBytes, LIMITS.values.TLV_MAX);
  if (n % 2 === 1) n += p.NOOP_TLV_LEN; // the NOOP TLV keeps the length even: the moved payload stays aligned
  return n;
}

/**
 * The PROXY v1 line the datapath writes: "PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n", addresses in RFC 5952 text
 * (IPv4 dotted quad). Its length depends on the connection's addresses and ports and is fixed at the SYN; the rule
 * is `proxyV1HeaderLength` below, and the datapath computes it by writing the line (bpf/proxy_v1.h).
 */
export const PPV1_LEN = group('LB_PPV1', 'PROXY v1 line pieces, in bytes', {
  FIXED_LEN: [16, '"PROXY TCP4 " (or TCP6), three separating spaces, CRLF'],
  MAX_LEN: [104, 'longest line the datapath writes: two 39-character IPv6 addresses, two 5-digit ports'],
});

/** Decimal digits of a port. */
const decimalDigits = (value: number) =>
  value >= 10000 ? 5 : value >= 1000 ? 4 : value >= 100 ? 3 : value >= 10 ? 2 : 1;
/** Hex digits of a 16-bit group without leading zeros. */
const hexDigits = (group: number) => (group >= 0x1000 ? 4 : group >= 0x100 ? 3 : group >= 0x10 ? 2 : 1);

/** Characters of an IPv4 address as a dotted quad. */
function ipv4TextLength(bytes: Uint8Array, offset = 0): number {
  let n = 3;
  for (let i = 0; i < 4; i++) {
    const octet = bytes[offset + i] ?? 0;
    n += octet >= 100 ? 3 : octet >= 10 ? 2 : 1;
  }
  return n;
}

/**
 * Characters of an IPv6 address in RFC 5952 text: groups without leading zeros, the longest run of two or more
 * zero groups (the first on a tie) as "::", IPv4-mapped addresses as "::ffff:" and a dotted quad.
 */
function ipv6TextLength(bytes: Uint8Array): number {
  const groups = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i] ?? 0) << 8) | (bytes[2 * i + 1] ?? 0));
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) return 7 + ipv4TextLength(bytes, 12);
  let run = 0;
  let bestStart = 8;
  let bestLength = 1;
  groups.forEach((g, i) => {
    run = g === 0 ? run + 1 : 0;
    if (run > bestLength) {
      bestLength = run;
      bestStart = i + 1 - run;
    }
  });
  const kept = groups.filter((_, i) => i < bestStart || i >= bestStart + bestLength);
  const digits = kept.reduce((sum, g) => sum + hexDigits(g), 0);
  if (bestStart === 8) return digits + 7;
  const head = bestStart;
  const tail = 8 - bestStart - bestLength;
  return digits + Math.max(head - 1, 0) + Math.max(tail - 1, 0) + 2;
}

/**
 * The length of the PROXY v1 line the datapath writes for a connection: its sequence shift and what the SYN-ACK's
 * MSS is lowered by. `src`/`dst` are the 4 or 16 address bytes. The C side computes it by writing the line.
 */
export function proxyV1HeaderLength(
  family: 4 | 6,
  src: Uint8Array,
  dst: Uint8Array,
  srcPort: number,
  dstPort: number,
): number {
  const address = family === 4 ? ipv4TextLength : ipv6TextLength;
  return (
    PPV1_LEN.values.FIXED_LEN + address(src) + address(dst) + decimalDigits(srcPort) + decimalDigits(dstPort)
  );
}

export const CT_KIND = group('LB_CT_KIND', 'lb_ct_entry.kind', {
  ORIG: [1, 'keyed by client -> VIP; holds the connection state'],
  REPLY: [2, 'keyed by backend -> (SNAT address | client); points at the ORIG key'],
});

export const CT_STATE = group('LB_CT', 'lb_ct_entry.state (ORIG entries)', {
  SYN_SENT: [1, 'client SYN seen'],
  ESTABLISHED: [2, 'backend SYN-ACK seen'],
  FIN: [3, 'a FIN seen in one direction'],
  CLOSED: [4, 'FIN seen in both directions, or RST'],
  UDP: [5, 'a UDP flow (its only state); idle timeout LB_TIMEOUT_UDP_DEFAULT_S'],
});

export const CT_FLAGS = group(
  'LB_CT_F',
  'lb_ct_entry.flags',
  {
    PPV2: [0x01, 'connection gets a PPv2 header'],
    HDR_SENT: [0x02, 'header injected at least once'],
    FIN_ORIG: [0x04, 'client sent FIN'],
    FIN_REPLY: [0x08, 'backend sent FIN'],
    UNIQUE_ID: [0x10, 'the header carries a UNIQUE_ID TLV (the service choice at SYN time)'],
    CRC32C: [0x20, 'the header carries a CRC32C TLV (the service choice at SYN time)'],
    HDR_ACKED: [0x40, 'the backend acknowledged the header bytes (both entries)'],
    MIRROR: [0x80, 'REPLY: mirrors the PPv2 fields and counts backend -> client itself'],
    DATA_SENT: [0x100, "ORIG: the client's first data (sequence ISN+1) went to the backend"],
    PPV1: [0x200, 'with PPV2: the header is the v1 text line (the service choice at SYN time)'],
  },
  true,
);

export const CFG_FLAGS = group(
  'LB_CFG_F',
  'lb_config.flags',
  {
    EVENTS: [0x01, 'emit ring buffer events'],
    HOLD: [0x02, 'detach --keep-maps: drop service and tracked packets (bpf/detaching.h)'],
    DRAIN: [0x04, 'detach: turn tracked packets into resets to both ends (bpf/detaching.h)'],
  },
  true,
);

/** Idle timeouts per connection state; lb_config holds 0 for "the default". */
export const TIMEOUT_DEFAULTS = group(
  'LB_TIMEOUT',
  'default idle timeouts in seconds (lb_config field = 0)',
  {
    SYN_DEFAULT_S: [30, 'SYN_SENT: unanswered handshakes'],
    EST_DEFAULT_S: [900, 'ESTABLISHED: idle established connections (IPVS uses the same)'],
    FIN_DEFAULT_S: [60, 'FIN: half-closed'],
    CLOSED_DEFAULT_S: [10, 'CLOSED: absorbs the last ACKs and retransmitted FINs'],
    UDP_DEFAULT_S: [60, 'UDP flows: idle time since the last datagram either way'],
  },
);

/**
 * The fullnat SNAT port range when lb_config holds 0: all unprivileged ports below Linux's default ephemeral
 * range (32768-60999), so the balancer host's own connections never pick these ports (attach also reserves
 * them: net.ipv4.ip_local_reserved_ports). 31,744 ports: more than the 28,232 of that ephemeral range, so
 * a client's port maps onto its own SNAT port (bpf/snat.h) for a client on Linux's defaults.
 */
export const SNAT_PORT_DEFAULTS = group(
  'LB_SNAT_PORTS',
  'default fullnat SNAT port range (lb_config field = 0)',
  {
    MIN_DEFAULT: [1024, 'first port'],
    MAX_DEFAULT: [32767, 'last port: 31,744 ports per (SNAT address, backend address and port)'],
  },
);

export const EVENT_TYPE = group('LB_EV', 'lb_event.type', {
  HDR_INJECTED: [1, 'header injected'],
  HDR_REINJECTED: [2, 'header injected again into a retransmitted first segment'],
  FAILURE: [3, 'a failure; reason names the counter that counted it'],
});

export const CONST_GROUPS: ConstGroup[] = [
  FAMILY,
  PROTO,
  MODE,
  SVC_FLAGS,
  BACKEND_FLAGS,
  LIMITS,
  PPV2_LEN,
  PPV1_LEN,
  DERIVED_LIMITS,
  CT_KIND,
  CT_STATE,
  CT_FLAGS,
  CFG_FLAGS,
  TIMEOUT_DEFAULTS,
  SNAT_PORT_DEFAULTS,
  EVENT_TYPE,
];

/** The C name of a constant: prefix + '_' + key. */
export const constName = (g: ConstGroup, key: string) => `${g.prefix}_${key}`;

// ---------------------------------------------------------------------------------------------------------
// counters: enum lb_counter, the index into an lb_stats value

/** Per-CPU counters in lb_stats, in enum order. Append only: the index is the ABI (events carry it). */
export const COUNTERS = [
  ['fwd_packets', 'client -> backend packets forwarded'],
  ['fwd_bytes', 'their bytes as received (before rewriting)'],
  ['rev_packets', 'backend -> client packets forwarded'],
  ['rev_bytes', 'their bytes as received'],
  ['conn_new', "connections created (client SYN) and UDP flows (a flow's first datagram)"],
  ['conn_recycled', 'SYN reusing the tuple of a finished connection'],
  ['conn_expired', "connections removed by the janitor's idle sweep"],
  ['ppv2_injected', 'PPv2 headers inserted (first time; ppv2_hdr_alone + ppv2_hdr_with_data)'],
  ['ppv2_reinjected', 'headers inserted again into a retransmitted first segment'],
  ['ppv2_gso_trimmed', 'GSO first segments cut to one segment before insertion'],
  [
    'ppv2_fail_too_big',
    'first segment (or UDP datagram) payload larger than the datapath can shift (> clamped MSS), or a GSO UDP packet; dropped',
  ],
  ['ppv2_fail_grow', 'growing the packet failed (bpf_skb_change_tail); dropped'],
  ['ppv2_fail_write', 'moving payload or writing the header failed; dropped'],
  ['ppv2_no_service', 'header built after its service was deleted (custom TLVs -> NOOP); not a drop'],
  ['ppv2_tlvs_changed', 'service TLVs changed size since the SYN (custom TLVs -> NOOP); not a drop'],
  ['ppv2_syn_data', 'SYN carrying data (TCP Fast Open) on a PPv2 service, dropped'],
  ['mss_clamped', 'SYN-ACKs whose MSS option was lowered by the header length'],
  ['sack_shifted', 'backend -> client segments whose SACK blocks were shifted'],
  [
    'snat_port_collision',
    "client's own SNAT port (its port mapped into the range) held towards the backend by another connection",
  ],
  ['drop_snat_exhausted', 'no free or reclaimable SNAT port among the 16 candidates in the range'],
  [
    'drop_no_backend',
    'empty lookup ring slot, missing/mismatched backend, or fullnat with no source address',
  ],
  ['drop_no_conntrack', 'non-SYN packet to a VIP with no connection'],
  ['drop_ct_insert', 'conntrack insert failed'],
  ['drop_reply_collision', 'dnat: reply tuple already used by another connection'],
  ['drop_ct_orphan', 'reply entry whose original entry is gone'],
  ['drop_fib_unreachable', 'route lookup: blackhole, unreachable or prohibit'],
  ['drop_fib_fwd_disabled', 'route lookup: forwarding disabled on the ingress device'],
  ['drop_fib_frag_needed', 'packet larger than the egress MTU'],
  ['drop_fib_other', 'any other route lookup failure'],
  ['events_lost', 'ring buffer full'],
  ['drain_resets', 'packets turned into a reset pair (or SYNs refused) while detach drains'],
  ['drop_detaching', 'packets dropped while held (detach --keep-maps) or draining (payload)'],
  ['ppv2_hdr_alone', "first headers sent alone, in the client's handshake-completing ACK (before any data)"],
  [
    'ppv2_hdr_with_data',
    "first headers sent in front of the client's first data (it came with the handshake's ACK)",
  ],
  ['drop_ct_full', 'SYNs refused with a reset: the conntrack table is full (no live entry is evicted)'],
  [
    'icmp_translated',
    'ICMP/ICMPv6 errors about a tracked connection, translated to the other side and forwarded',
  ],
  ['icmp_too_big', 'of those, fragmentation needed (ICMP) or packet too big (ICMPv6): path MTU discovery'],
  [
    'icmp_mtu_lowered',
    'of those, about the segment that carried the PPv2 header: MTU reported lower by the header length',
  ],
  [
    'snat_port_reclaimed',
    "SNAT ports taken over from a closed connection idle 1 s: the same client's, or (no port free) anyone's",
  ],
  ['ppv2_udp_injected', 'PPv2 headers put on UDP datagrams (one per client -> backend datagram)'],
  [
    'drop_udp_too_big',
    'UDP datagrams that would exceed the egress MTU once the header is in: dropped, never fragmented',
  ],
] as const;

export type CounterName = (typeof COUNTERS)[number][0];
export const COUNTER_NAMES: readonly CounterName[] = COUNTERS.map(([name]) => name);
/** The C enumerator of a counter: LB_CNT_ + its name in upper case. */
export const counterConst = (name: string) => `LB_CNT_${name.toUpperCase()}`;

// ---------------------------------------------------------------------------------------------------------
// structs

type Scalar = 'u8' | 'u16' | 'u32' | 'u64' | 'be16';
/** A field's C type: a scalar, another ABI struct, or an opaque kernel struct of known size and alignment. */
type FieldType = Scalar | { struct: string } | { opaque: string; size: number; align: number };

interface FieldDecl {
  name: string;
  type: FieldType;
  /** Array length (a number, or the C name of the constant that gives it). */
  count?: number;
  countName?: string;
  doc: string;
  /** The constant group whose values the field holds, for the documentation. */
  values?: ConstGroup;
}

export interface StructDecl {
  name: string;
  doc: string;
  fields: readonly FieldDecl[];
}

/** A 16-byte address field (IPv4 in the first 4 bytes). */
const addr = <const N extends string>(name: N, doc: string) =>
  ({ name, type: 'u8', count: 16, doc }) as const;
const lim = LIMITS.values;

export const STRUCTS = {
  lb_svc_key: {
    name: 'lb_svc_key',
    doc: 'lb_services key',
    fields: [
      addr('addr', 'VIP'),
      { name: 'port', type: 'be16', doc: 'VIP port, network order' },
      { name: 'proto', type: 'u8', doc: 'LB_PROTO_*', values: PROTO },
      { name: 'family', type: 'u8', doc: 'LB_FAMILY_V4 | LB_FAMILY_V6', values: FAMILY },
    ],
  },
  lb_service: {
    name: 'lb_service',
    doc: 'lb_services value',
    fields: [
      { name: 'id', type: 'u32', doc: '1..LB_MAX_SERVICES-1; stats slot and lb_maglev key' },
      { name: 'mode', type: 'u8', doc: 'LB_MODE_*', values: MODE },
      { name: 'flags', type: 'u8', doc: 'LB_SVC_F_*', values: SVC_FLAGS },
      { name: 'tlv_len', type: 'u16', doc: 'bytes used in tlvs[] (<= LB_TLV_MAX)' },
      addr(
        'snat_addr',
        "fullnat: the source address towards every backend (--snat, same family as the VIP); zero: each backend's src_addr",
      ),
      {
        name: 'tlvs',
        type: 'u8',
        count: lim.TLV_MAX,
        countName: 'LB_TLV_MAX',
        doc: 'custom TLVs (types 0xE0-0xEF), fully encoded (type, BE length, value); rest zero',
      },
    ],
  },
  lb_backend: {
    name: 'lb_backend',
    doc: 'lb_backends value, keyed by a __u32 backend id',
    fields: [
      addr('addr', 'backend address'),
      { name: 'port', type: 'be16', doc: 'network order' },
      { name: 'family', type: 'u8', doc: "must equal the service's family", values: FAMILY },
      { name: 'flags', type: 'u8', doc: 'LB_BE_F_*; the datapath ignores them', values: BACKEND_FLAGS },
      {
        name: 'weight',
        type: 'u32',
        doc: 'informational: weights are applied by the control plane when it fills lb_maglev',
      },
      addr(
        'src_addr',
        "fullnat: the balancer's source towards this backend (the route's preferred source), used when lb_service.snat_addr is zero",
      ),
    ],
  },
  lb_maglev_ring: {
    name: 'lb_maglev_ring',
    doc: 'lb_maglev value, keyed by a __u32 service id',
    fields: [
      {
        name: 'backend_ids',
        type: 'u32',
        count: lim.MAGLEV_SIZE,
        countName: 'LB_MAGLEV_SIZE',
        doc: 'backend ids (keys of lb_backends); 0 = empty slot',
      },
    ],
  },
  lb_ct_key: {
    name: 'lb_ct_key',
    doc: 'lb_conntrack key',
    fields: [
      addr('saddr', 'source address'),
      addr('daddr', 'destination address'),
      { name: 'sport', type: 'be16', doc: 'network order' },
      { name: 'dport', type: 'be16', doc: 'network order' },
      { name: 'proto', type: 'u8', doc: 'LB_PROTO_*', values: PROTO },
      { name: 'family', type: 'u8', doc: 'LB_FAMILY_*', values: FAMILY },
      { name: 'pad', type: 'u16', doc: 'always 0' },
    ],
  },
  lb_ct_entry: {
    name: 'lb_ct_entry',
    doc: 'lb_conntrack value',
    fields: [
      {
        name: 'peer',
        type: { struct: 'lb_ct_key' },
        doc: 'ORIG: the reply-direction key; REPLY: the original key',
      },
      { name: 'kind', type: 'u8', doc: 'LB_CT_KIND_*', values: CT_KIND },
      { name: 'state', type: 'u8', doc: 'LB_CT_* (ORIG only)', values: CT_STATE },
      { name: 'mode', type: 'u8', doc: 'LB_MODE_*', values: MODE },
      { name: 'pad', type: 'u8', doc: 'zero' },
      { name: 'flags', type: 'u16', doc: 'LB_CT_F_*', values: CT_FLAGS },
      { name: 'ppv2_len', type: 'u16', doc: 'PPv2 header length N = sequence shift (0 without PPv2)' },
      { name: 'svc_id', type: 'u32', doc: 'service id' },
      { name: 'backend_id', type: 'u32', doc: 'backend id' },
      { name: 'client_isn', type: 'u32', doc: "sequence number of the client's SYN" },
      { name: 'reinjections', type: 'u32', doc: 'header re-injections on this connection' },
      { name: 'created_ns', type: 'u64', doc: 'CLOCK_MONOTONIC' },
      {
        name: 'last_seen_ns',
        type: 'u64',
        doc: 'CLOCK_MONOTONIC; ORIG: last client -> backend packet, REPLY (mirror): last backend -> client packet',
      },
      { name: 'packets_orig', type: 'u64', doc: 'client -> backend' },
      { name: 'bytes_orig', type: 'u64', doc: 'as received, before rewriting' },
      { name: 'packets_reply', type: 'u64', doc: 'backend -> client (in the REPLY entry, which mirrors)' },
      { name: 'bytes_reply', type: 'u64', doc: 'backend -> client bytes' },
      addr('unique_id', 'PP2_TYPE_UNIQUE_ID value: boot id (8, BE) + connection sequence (8, BE)'),
    ],
  },
  lb_config: {
    name: 'lb_config',
    doc: 'lb_config value (one entry, key 0)',
    fields: [
      { name: 'boot_id', type: 'u64', doc: 'random per balancer instance; first half of UNIQUE_ID' },
      { name: 'flags', type: 'u32', doc: 'LB_CFG_F_*', values: CFG_FLAGS },
      { name: 'timeout_syn_s', type: 'u32', doc: '0 = LB_TIMEOUT_SYN_DEFAULT_S' },
      { name: 'timeout_est_s', type: 'u32', doc: '0 = LB_TIMEOUT_EST_DEFAULT_S' },
      { name: 'timeout_fin_s', type: 'u32', doc: '0 = LB_TIMEOUT_FIN_DEFAULT_S' },
      { name: 'timeout_closed_s', type: 'u32', doc: '0 = LB_TIMEOUT_CLOSED_DEFAULT_S' },
      {
        name: 'snat_port_min',
        type: 'u16',
        doc: 'fullnat SNAT ports: first of the range (host order); 0 = LB_SNAT_PORTS_MIN_DEFAULT',
      },
      {
        name: 'snat_port_max',
        type: 'u16',
        doc: 'last of the range (host order, >= snat_port_min); 0 = LB_SNAT_PORTS_MAX_DEFAULT',
      },
      { name: 'timeout_udp_s', type: 'u32', doc: '0 = LB_TIMEOUT_UDP_DEFAULT_S' },
      { name: 'pad', type: 'u32', doc: 'zero' },
    ],
  },
  lb_stats: {
    name: 'lb_stats',
    doc: 'lb_stats value (per CPU): one __u64 per enum lb_counter',
    fields: [{ name: 'c', type: 'u64', count: COUNTERS.length, countName: 'LB_CNT__MAX', doc: 'counters' }],
  },
  lb_event: {
    name: 'lb_event',
    doc: 'lb_events ring buffer record',
    fields: [
      { name: 'ts_ns', type: 'u64', doc: 'CLOCK_MONOTONIC' },
      { name: 'type', type: 'u16', doc: 'LB_EV_*', values: EVENT_TYPE },
      {
        name: 'reason',
        type: 'u16',
        doc: 'LB_EV_FAILURE: index of the counter that counted it (enum lb_counter)',
      },
      { name: 'svc_id', type: 'u32', doc: 'service id' },
      { name: 'family', type: 'u8', doc: 'LB_FAMILY_*', values: FAMILY },
      { name: 'pad', type: 'u8', doc: 'zero' },
      { name: 'sport', type: 'be16', doc: 'client port' },
      { name: 'dport', type: 'be16', doc: 'VIP port' },
      { name: 'hdr_len', type: 'u16', doc: 'valid bytes in hdr[]' },
      addr('saddr', 'client address'),
      addr('daddr', 'VIP'),
      {
        name: 'hdr',
        type: 'u8',
        count: DERIVED_LIMITS.values.EVENT_HDR_MAX,
        countName: 'LB_EVENT_HDR_MAX',
        doc: 'the injected PPv2 header',
      },
    ],
  },
} as const satisfies Record<string, StructDecl>;

export type StructName = keyof typeof STRUCTS;
type FieldOf<S extends StructName> = (typeof STRUCTS)[S]['fields'][number]['name'];

// ---------------------------------------------------------------------------------------------------------
// layout, by the C rules: a field sits at the next multiple of its alignment, a struct's size is a multiple of
// its largest alignment

export interface FieldLayout {
  name: string;
  offset: number;
  /** Bytes of the whole field (all elements of an array). */
  size: number;
  /** C type as written in the header. */
  ctype: string;
  count: number | null;
  doc: string;
  values: ConstGroup | undefined;
}

export interface StructLayout<S extends StructName = StructName> {
  name: S;
  size: number;
  align: number;
  fields: FieldLayout[];
  /** Offsets by field name, for the record codecs. */
  off: { readonly [F in FieldOf<S>]: number };
}

const SCALARS: Record<Scalar, { size: number; ctype: string }> = {
  u8: { size: 1, ctype: '__u8' },
  u16: { size: 2, ctype: '__u16' },
  u32: { size: 4, ctype: '__u32' },
  u64: { size: 8, ctype: '__u64' },
  be16: { size: 2, ctype: '__be16' },
};

function typeShape(type: FieldType): { size: number; align: number; ctype: string } {
  if (typeof type === 'string') return { ...SCALARS[type], align: SCALARS[type].size };
  if ('opaque' in type) return { size: type.size, align: type.align, ctype: `struct ${type.opaque}` };
  const inner = layoutOf(type.struct as StructName);
  return { size: inner.size, align: inner.align, ctype: `struct ${type.struct}` };
}

const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;

function layoutOf<S extends StructName>(name: S): StructLayout<S> {
  const decl: StructDecl = STRUCTS[name];
  let offset = 0;
  let align = 1;
  const fields: FieldLayout[] = [];
  for (const f of decl.fields) {
    const shape = typeShape(f.type);
    offset = alignUp(offset, shape.align);
    align = Math.max(align, shape.align);
    const size = shape.size * (f.count ?? 1);
    fields.push({
      name: f.name,
      offset,
      size,
      ctype: shape.ctype,
      count: f.count ?? null,
      doc: f.doc,
      values: f.values,
    });
    offset += size;
  }
  const off = Object.fromEntries(fields.map((f) => [f.name, f.offset])) as StructLayout<S>['off'];
  return { name, size: alignUp(offset, align), align, fields, off };
}

export const STRUCT_LAYOUTS: { readonly [S in StructName]: StructLayout<S> } = Object.fromEntries(
  Object.keys(STRUCTS).map((name) => [name, layoutOf(name as StructName)]),
) as { readonly [S in StructName]: StructLayout<S> };

// ---------------------------------------------------------------------------------------------------------
// maps

/** libbpf's BPF_MAP_TYPE_* numbers for the kinds the datapath uses. */
export const MAP_TYPES = { hash: 1, array: 2, percpu_array: 6, lru_hash: 9, ringbuf: 27 } as const;

export interface MapDecl {
  /** The C variable, which is also the pin name. */
  name: string;
  type: keyof typeof MAP_TYPES;
  /** C type of the key and value: a scalar ('u32', 'u64'), an ABI struct, or a private struct name. */
  key: string | null;
  value: string | null;
  maxEntries: number;
  /** Whether the control plane reads or writes it (else it is the program's private state). */
  shared: boolean;
  doc: string;
}

export const MAPS = {
  services: {
    name: 'lb_services',
    type: 'hash',
    key: 'lb_svc_key',
    value: 'lb_service',
    maxEntries: lim.MAX_SERVICES,
    shared: true,
    doc: 'one per VIP:port',
  },
  backends: {
    name: 'lb_backends',
    type: 'hash',
    key: 'u32',
    value: 'lb_backend',
    maxEntries: lim.MAX_BACKENDS,
    shared: true,
    doc: 'key: backend id (global, 1..)',
  },
  maglev: {
    name: 'lb_maglev',
    type: 'hash',
    key: 'u32',
    value: 'lb_maglev_ring',
    maxEntries: lim.MAX_SERVICES,
    shared: true,
    doc: 'key: service id; its lookup ring',
  },
  conntrack: {
    name: 'lb_conntrack',
    type: 'hash',
    key: 'lb_ct_key',
    value: 'lb_ct_entry',
    maxEntries: lim.CT_MAX_ENTRIES,
    shared: true,
    doc: '2 entries per connection, preallocated; a full table refuses new connections (never evicts)',
  },
  stats: {
    name: 'lb_stats',
    type: 'percpu_array',
    key: 'u32',
    value: 'lb_stats',
    maxEntries: lim.MAX_SERVICES,
    shared: true,
    doc: 'slot 0 global, slot = service id',
  },
  config: {
    name: 'lb_config',
    type: 'array',
    key: 'u32',
    value: 'lb_config',
    maxEntries: 1,
    shared: true,
    doc: 'key 0',
  },
  connSeq: {
    name: 'lb_conn_seq',
    type: 'array',
    key: 'u32',
    value: 'u64',
    maxEntries: 1,
    shared: true,
    doc: 'UNIQUE_ID sequence; never write it',
  },
  events: {
    name: 'lb_events',
    type: 'ringbuf',
    key: null,
    value: null,
    maxEntries: lim.EVENTS_BYTES,
    shared: true,
    doc: 'lb_event records',
  },
  janitor: {
    name: 'lb_janitor',
    type: 'array',
    key: 'u32',
    value: 'lb_janitor',
    maxEntries: 1,
    shared: true,
    doc: "the conntrack sweep's timer (bpf_timer, armed, runs); pinned because a timer needs its map held; never write it",
  },
  scratch: {
    name: 'lb_scratch',
    type: 'percpu_array',
    key: 'u32',
    value: 'ppv2_scratch',
    maxEntries: 1,
    shared: false,
    doc: 'per-CPU work area (header, copy buffer, conntrack template)',
  },
  fibCache: {
    name: 'lb_fib_cache',
    type: 'percpu_array',
    key: 'u32',
    value: 'fib_cache_entry',
    maxEntries: 256,
    shared: false,
    doc: 'per-CPU route cache, 100 ms per entry',
  },
  icmpWork: {
    name: 'lb_icmp_work',
    type: 'percpu_array',
    key: 'u32',
    value: 'icmp_work',
    maxEntries: 1,
    shared: false,
    doc: 'per-CPU work area for translating ICMP errors (bpf/icmp.h)',
  },
} as const satisfies Record<string, MapDecl>;

/** Pinned map names by role, for the control plane. */
export const MAP_NAMES: { readonly [K in keyof typeof MAPS]: (typeof MAPS)[K]['name'] } = Object.fromEntries(
  Object.entries(MAPS).map(([role, m]) => [role, m.name]),
) as { readonly [K in keyof typeof MAPS]: (typeof MAPS)[K]['name'] };

/** The program in the object and its ELF section. */
export const PROGRAM = { name: 'lbctl_ingress', section: 'tc' } as const;
