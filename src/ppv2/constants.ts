/**
 * Byte layouts, type numbers and limits of the PROXY protocol (HAProxy's proxy-protocol.txt, versions 1
 * and 2). Everything here is a fact of the wire format or a limit this codec chooses; the reason for each
 * chosen limit is written next to it.
 */

/** The 12-byte block every v2 header starts with. Its NUL at offset 4 rules out C-string handling. */
export const V2_SIGNATURE: readonly number[] = [
  0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
];

/** Signature, version/command byte, family/transport byte and the 16-bit length field. */
export const V2_FIXED_HEADER_BYTES = 16;

/** The length field is 16 bits, so no v2 header can be longer than this. */
export const V2_PROTOCOL_MAX_HEADER_BYTES = V2_FIXED_HEADER_BYTES + 0xffff;

/**
 * Default cap on a whole v2 header (fixed part + address block + TLVs). 4096 is nginx's
 * NGX_PROXY_PROTOCOL_MAX_HEADER: nginx reads the header into a buffer of that size and drops longer ones,
 * and HAProxy's limit (its 16 KiB default buffer) is larger, so a header within 4096 bytes is accepted by
 * both. Callers that need more pass `maxHeaderBytes` (up to V2_PROTOCOL_MAX_HEADER_BYTES).
 */
export const DEFAULT_MAX_V2_HEADER_BYTES = 4096;

/** v1: "PROXY" + space. */
export const V1_PREFIX = 'PROXY ';

/** v1: the longest legal line, CRLF included (the spec's worst case, an UNKNOWN line with IPv6 fields). */
export const V1_MAX_LINE_BYTES = 107;

/** v1: the shortest legal line, "PROXY UNKNOWN\r\n". */
export const V1_MIN_LINE_BYTES = 15;

/** v1 shortest lines per protocol token, used to report how many bytes a partial line needs at least. */
export const V1_MIN_LINE_BYTES_BY_PROTO: Readonly<Record<string, number>> = {
  TCP4: 'PROXY TCP4 0.0.0.0 0.0.0.0 0 0\r\n'.length,
  TCP6: 'PROXY TCP6 :: :: 0 0\r\n'.length,
  UNKNOWN: V1_MIN_LINE_BYTES,
};

/** Wire values of the command nibble. */
export const COMMAND_CODES = { LOCAL: 0x0, PROXY: 0x1 } as const;

/** Wire values of the address family nibble. */
export const FAMILY_CODES = { UNSPEC: 0x0, INET: 0x1, INET6: 0x2, UNIX: 0x3 } as const;

/** Wire values of the transport nibble. */
export const TRANSPORT_CODES = { UNSPEC: 0x0, STREAM: 0x1, DGRAM: 0x2 } as const;

/** Size of the address block each family puts before the TLVs (ports included for INET/INET6). */
export const ADDRESS_BLOCK_BYTES = { UNSPEC: 0, INET: 12, INET6: 36, UNIX: 216 } as const;

/** AF_UNIX addresses are 108-byte sun_path copies, NUL padded (a 108-byte path has no terminator). */
export const UNIX_PATH_BYTES = 108;

/** Top-level TLV types registered by the specification. */
export const TlvType = {
  ALPN: 0x01,
  AUTHORITY: 0x02,
  CRC32C: 0x03,
  NOOP: 0x04,
  UNIQUE_ID: 0x05,
  SSL: 0x20,
  NETNS: 0x30,
} as const;

/** Sub-TLV types found inside the value of an SSL TLV. */
export const SslSubtype = {
  VERSION: 0x21,
  CN: 0x22,
  CIPHER: 0x23,
  SIG_ALG: 0x24,
  KEY_ALG: 0x25,
} as const;

/** Bits of the SSL TLV `client` field. */
export const SslClientFlag = {
  SSL: 0x01,
  CERT_CONN: 0x02,
  CERT_SESS: 0x04,
} as const;

/** Reserved TLV type ranges (inclusive). */
export const TLV_CUSTOM_RANGE = { min: 0xe0, max: 0xef } as const;
export const TLV_EXPERIMENTAL_RANGE = { min: 0xf0, max: 0xf7 } as const;
export const TLV_FUTURE_RANGE = { min: 0xf8, max: 0xff } as const;

/** Type byte plus the 16-bit length. */
export const TLV_HEADER_BYTES = 3;

/** The longest value a TLV length field can announce. */
export const TLV_MAX_VALUE_BYTES = 0xffff;

/** Spec: UNIQUE_ID is "an opaque byte sequence of up to 128 bytes". */
export const UNIQUE_ID_MAX_BYTES = 128;

/** Spec: the CRC32C value is a 32-bit number. */
export const CRC32C_VALUE_BYTES = 4;

/**
 * AUTHORITY carries an SNI / host name. HAProxy rejects headers whose AUTHORITY is longer than 255 bytes
 * (PP2_AUTHORITY_MAX), and a DNS name fits in 253, so 255 is the bound a strict receiver enforces.
 */
export const AUTHORITY_MAX_BYTES = 255;

/** Linux namespace names are file names under /var/run/netns, so at most NAME_MAX (255) bytes. */
export const NETNS_MAX_BYTES = 255;

/** The SSL TLV value starts with `client` (1 byte) and `verify` (4 bytes) before any sub-TLV. */
export const SSL_FIXED_BYTES = 5;
