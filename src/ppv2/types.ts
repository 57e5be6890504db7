/**
 * The data model of the codec. Headers are plain objects so they can be built by hand, compared with
 * deepStrictEqual and turned into JSON through `toPlainHeader` (view.ts).
 */

export type Command = 'LOCAL' | 'PROXY';
export type Family = 'UNSPEC' | 'INET' | 'INET6' | 'UNIX';
export type Transport = 'UNSPEC' | 'STREAM' | 'DGRAM';

/**
 * One TLV exactly as on the wire: the type byte and the value bytes (the length is `value.length`).
 * Decoded values are fresh copies, never views into the caller's buffer.
 */
export interface Tlv {
  readonly type: number;
  readonly value: Uint8Array;
}

interface V2Common {
  readonly version: 2;
  readonly command: Command;
  readonly transport: Transport;
  /** Every TLV in wire order, SSL sub-TLVs still inside the SSL value (see `tlvInfo` for typed views). */
  readonly tlvs: readonly Tlv[];
}

/** AF_UNSPEC: no address block (transport must be UNSPEC too). */
export interface V2UnspecHeader extends V2Common {
  readonly family: 'UNSPEC';
}

/** AF_INET / AF_INET6: addresses in canonical text form (RFC 5952 for IPv6), ports as numbers. */
export interface V2InetHeader extends V2Common {
  readonly family: 'INET' | 'INET6';
  readonly src: string;
  readonly dst: string;
  readonly srcPort: number;
  readonly dstPort: number;
}

/**
 * AF_UNIX: socket paths (UTF-8, at most 108 bytes). A Linux abstract socket, whose sun_path starts with a
 * NUL byte, is written "@name" as `ss` does; "" is an unnamed socket (all zero bytes). As with `ss`, a
 * file path that itself starts with "@" reads the same as an abstract name, and encodes as one; a bare
 * "@" is the file "@".
 */
export interface V2UnixHeader extends V2Common {
  readonly family: 'UNIX';
  readonly src: string;
  readonly dst: string;
}

export type V2Header = V2UnspecHeader | V2InetHeader | V2UnixHeader;

/** v1 "PROXY TCP4|TCP6 ..." line. TCP is implied, so there is no transport field. */
export interface V1ProxyHeader {
  readonly version: 1;
  readonly command: 'PROXY';
  readonly family: 'INET' | 'INET6';
  readonly src: string;
  readonly dst: string;
  readonly srcPort: number;
  readonly dstPort: number;
}

/**
 * v1 "PROXY UNKNOWN ...": the receiver must use the real connection endpoints, which is what LOCAL means
 * in v2, so it is modelled as LOCAL/UNSPEC. Anything after "UNKNOWN" is ignored, as the spec requires.
 */
export interface V1UnknownHeader {
  readonly version: 1;
  readonly command: 'LOCAL';
  readonly family: 'UNSPEC';
}

export type V1Header = V1ProxyHeader | V1UnknownHeader;

export type ProxyHeader = V1Header | V2Header;

/**
 * What a stream reader gets back. `incomplete.needed` is a lower bound on the bytes still missing: read
 * at least that many more and call again with the whole buffer. `complete.consumed` is the header length;
 * bytes after it are payload.
 */
export type DecodeResult<H extends ProxyHeader = ProxyHeader> =
  | { readonly status: 'complete'; readonly header: H; readonly consumed: number }
  | { readonly status: 'incomplete'; readonly needed: number }
  | { readonly status: 'invalid'; readonly reason: string };

export interface DecodeOptions {
  /**
   * Largest whole v2 header accepted, in bytes (default DEFAULT_MAX_V2_HEADER_BYTES = 4096, the most is
   * 65551). A longer header is invalid as soon as its length field is read.
   */
  readonly maxHeaderBytes?: number;
}

export interface EncodeV2Options {
  /**
   * Append a CRC32C TLV when the header has none. A CRC32C TLV already in `tlvs` always gets its value
   * computed, wherever it sits, so encoding a decoded header gives back the same bytes.
   */
  readonly crc32c?: boolean;
  /** Same bound as DecodeOptions.maxHeaderBytes: the encoder never emits what the decoder would refuse. */
  readonly maxHeaderBytes?: number;
  /**
   * Allow TLV types 0xF8-0xFF. The spec reserves them for future use, possibly multi-byte types, so they
   * are refused by default; set this only to test how a receiver treats them.
   */
  readonly allowFutureTypes?: boolean;
}

/** A TLV in the plain JSON view: type number and value as lowercase hex. */
export interface PlainTlv {
  type: number;
  hex: string;
}

/**
 * The JSON view of any header (`lbctl ppv2 decode --json` prints it). Fields that a header does not have
 * are absent, not null: v1 has no transport and no tlvs; UNSPEC has no addresses; UNIX has no ports.
 */
export interface PlainHeader {
  version: 1 | 2;
  command: Command;
  family: Family;
  transport?: Transport;
  src?: string;
  dst?: string;
  srcPort?: number;
  dstPort?: number;
  tlvs?: PlainTlv[];
}
