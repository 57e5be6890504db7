import { usageError } from '../errors.js';
import { TlvType } from '../ppv2/constants.js';
import { encodeV2 } from '../ppv2/index.js';
import { parseTlvSpec, TLV_SPEC_HINT } from '../ppv2/tlv-spec.js';
import { tlvTypeClass } from '../ppv2/tlv-types.js';
import type { Tlv } from '../ppv2/types.js';
import { checkBackendAddress, checkVipAddress } from './address-policy.js';
import { withCodecUsage } from './codec-errors.js';
import { type Endpoint, formatEndpoint, parseEndpoint } from './endpoint.js';

/**
 * A service as the user describes it, validated before anything touches the kernel, so that bad input is
 * refused whole and nothing is half-applied.
 */
export type Mode = 'fullnat' | 'dnat';

export interface BackendSpec extends Endpoint {
  weight: number;
}

export interface Ppv2Spec {
  enabled: boolean;
  /** PROXY protocol version: 2 (binary, TLVs) when absent, or 1 (the text line, no TLVs). */
  version?: ProxyVersion;
  /** Kernel-generated UNIQUE_ID TLV, unique per connection across the balancer's lifetime. */
  uniqueId: boolean;
  /** CRC32C TLV computed in the kernel over the whole header. */
  crc32c: boolean;
  /** Static TLVs copied into every header (custom 0xE0-0xEF, experimental, authority, alpn, netns). */
  tlvs: Tlv[];
}

import type { Protocol } from '../bpf/records.js';

/** The transport a service balances: TCP connections, or UDP flows (a PPv2 header on every datagram). */
export type { Protocol };
export const PROTOCOLS: readonly Protocol[] = ['tcp', 'udp'];

export type ProxyVersion = 1 | 2;

export interface ServiceSpec {
  name: string | undefined;
  vip: Endpoint;
  /** Default 'tcp'. Part of the service's identity (VIP:PORT/PROTOCOL): it cannot change. */
  protocol?: Protocol;
  mode: Mode;
  backends: BackendSpec[];
  ppv2: Ppv2Spec;
  /** `lbctl agent` health-checks the backends and takes failing ones out of selection. */
  liveness?: boolean;
}

export const MAX_WEIGHT = 65535;
export const MAX_STATIC_TLV_BYTES = 128; // bytes the datapath reserves per service (LB_TLV_MAX)
export const NAME_RULE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** Static TLV types the kernel may copy verbatim; UNIQUE_ID and CRC32C are computed per connection. */
const STATIC_TLV_TYPES = new Set<number>([TlvType.ALPN, TlvType.AUTHORITY, TlvType.NETNS]);

/** "ADDR:PORT[:WEIGHT]", e.g. 198.51.100.2:80:3 or [2001:db8::2]:80:3; weight defaults to 1. */
export function parseBackend(text: string): BackendSpec {
  const { endpoint, weight } = splitWeight(text.trim());
  return { ...parseEndpoint(endpoint), weight: weight === undefined ? 1 : parseWeight(weight, text) };
}

/**
 * The endpoint and the weight after its port: "[ADDR]:PORT:W", or "A.B.C.D:PORT:W" (an address with a dot
 * and no colon before its port). Anything else keeps its colons, so parseEndpoint reports the address (an
 * IPv6 one without brackets), while a bad weight is reported as the weight.
 */
function splitWeight(text: string): { endpoint: string; weight?: string } {
  const close = text.startsWith('[') ? text.indexOf(']') : -1;
  const addressEnd = close >= 0 ? close + 1 : /^[^:]*\.[^:]*:/.test(text) ? text.indexOf(':') : -1;
  if (addressEnd < 0) return { endpoint: text };
  const fields = text.slice(addressEnd).split(':'); // ["", PORT, WEIGHT...]
  if (fields.length < 3) return { endpoint: text };
  return { endpoint: `${text.slice(0, addressEnd)}:${fields[1]}`, weight: fields.slice(2).join(':') };
}

function parseWeight(weight: string, backend: string): number {
  const value = /^\d{1,5}$/.test(weight) ? Number(weight) : Number.NaN;
  if (!(value <= MAX_WEIGHT)) {
    throw usageError(
      `weight "${weight}" of backend "${backend}" is not a whole number from 0 to ${MAX_WEIGHT}`,
      'e.g. 198.51.100.2:80:3; weight 0 drains the backend',
    );
  }
  return value;
}

/** --ppv2-tlv values: `unique-id` and `crc32c` (computed in the kernel), or a static TLV spec. */
export function parsePpv2Options(specs: readonly string[]): Omit<Ppv2Spec, 'enabled'> {
  const options: Omit<Ppv2Spec, 'enabled'> = { uniqueId: false, crc32c: false, tlvs: [] };
  for (const spec of specs) {
    const keyword = spec.trim().toLowerCase();
    if (keyword === 'unique-id') options.uniqueId = true;
    else if (keyword === 'crc32c') options.crc32c = true;
    else options.tlvs.push(staticTlv(spec));
  }
  return options;
}

function staticTlv(spec: string): Tlv {
  const tlv = withCodecUsage(() => parseTlvSpec(spec));
  const cls = tlvTypeClass(tlv.type);
  if (!STATIC_TLV_TYPES.has(tlv.type) && cls !== 'custom' && cls !== 'experimental') {
    throw usageError(
      `--ppv2-tlv "${spec}": type 0x${tlv.type.toString(16)} cannot be a static TLV`,
      `use unique-id or crc32c (computed per connection), authority=, alpn=, netns=, or 0xE0-0xF7=HEX; ${TLV_SPEC_HINT}`,
    );
  }
  return tlv;
}

export function validateService(spec: ServiceSpec): ServiceSpec {
  const vip = formatEndpoint(spec.vip);
  if (spec.name !== undefined && !NAME_RULE.test(spec.name)) {
    throw usageError(
      `invalid service name "${spec.name}"`,
      'use lower-case letters, digits and "-", at most 63 characters',
    );
  }
  checkVipAddress(spec.vip);
  if (spec.backends.length === 0)
    throw usageError(`service ${vip} has no backend`, 'add --backend ADDR:PORT[:WEIGHT]');
  const seen = new Set<string>();
  for (const backend of spec.backends) {
    const text = formatEndpoint(backend);
    if (backend.family !== spec.vip.family) {
      throw usageError(
        `backend ${text} is IPv${backend.family} but the VIP ${vip} is IPv${spec.vip.family}`,
        'a service and its backends use one address family',
      );
    }
    checkBackendAddress(backend);
    if (seen.has(text))
      throw usageError(`backend ${text} is listed twice`, 'list each backend once; use a weight instead');
    seen.add(text);
  }
  if (!spec.backends.some((b) => b.weight > 0)) {
    throw usageError(`every backend of ${vip} has weight 0`, 'give at least one backend a weight above 0');
  }
  const tlvBytes = staticTlvBytes(spec.ppv2.tlvs);
  if (tlvBytes > MAX_STATIC_TLV_BYTES) {
    throw usageError(
      `static PPv2 TLVs take ${tlvBytes} bytes, more than the ${MAX_STATIC_TLV_BYTES} the datapath reserves per service`,
      'shorten or drop some --ppv2-tlv values',
    );
  }
  const hasTlvs = spec.ppv2.uniqueId || spec.ppv2.crc32c || spec.ppv2.tlvs.length > 0;
  if (!spec.ppv2.enabled && hasTlvs) {
    throw usageError('--ppv2-tlv needs --ppv2', 'add --ppv2 to inject PROXY protocol v2 headers');
  }
  if (spec.ppv2.enabled && spec.ppv2.version === 1 && hasTlvs) {
    throw usageError(
      'PROXY protocol v1 has no TLVs: --ppv2-tlv needs --proxy-protocol v2',
      'drop --ppv2-tlv, or use --proxy-protocol v2',
    );
  }
  if (spec.protocol === 'udp' && spec.ppv2.enabled && spec.ppv2.version === 1) {
    throw usageError(
      `service ${vip}/udp cannot send PROXY v1: v1 is a text line for TCP streams`,
      'use --ppv2 (PROXY v2, a header on every datagram) for UDP services',
    );
  }
  if (spec.protocol === 'udp' && spec.liveness) {
    throw usageError(
      `service ${vip}/udp cannot have liveness: the agent's probe is a TCP handshake`,
      'drop --liveness for UDP services',
    );
  }
  return spec;
}

/**
 * The header version from --ppv2 (PROXY v2) and --proxy-protocol v1|v2; undefined when neither is given.
 * `--ppv2 --proxy-protocol v1` contradicts itself and is refused.
 */
export function proxyVersionFromFlags(
  ppv2: boolean | undefined,
  proxyProtocol: string | undefined,
): ProxyVersion | undefined {
  const asked = proxyProtocol === undefined ? undefined : parseProxyVersion(proxyProtocol);
  if (ppv2 === true && asked === 1) {
    throw usageError('--ppv2 means PROXY protocol v2, but --proxy-protocol says v1', 'give only one of them');
  }
  if (ppv2 === false && asked !== undefined) {
    throw usageError(
      `--no-ppv2 turns the header off, but --proxy-protocol asks for v${asked}`,
      'give only one of them',
    );
  }
  return asked ?? (ppv2 ? 2 : undefined);
}

/** "v1" or "v2" (also "1", "2"), as --proxy-protocol and the lbctl.io/proxy-protocol annotation take it. */
export function parseProxyVersion(text: string): ProxyVersion {
  const version = text.trim().toLowerCase().replace(/^v/, '');
  if (version === '1' || version === '2') return Number(version) as ProxyVersion;
  throw usageError(`PROXY protocol version "${text}" is neither v1 nor v2`, 'use v1 or v2');
}

/** Encoded size of the static TLVs (3-byte type+length each plus the value). */
export function staticTlvBytes(tlvs: readonly Tlv[]): number {
  return tlvs.reduce((sum, tlv) => sum + 3 + tlv.value.length, 0);
}

/** The static TLVs as the datapath stores them: encoded back to back, checked by the codec's rules. */
export function encodeStaticTlvs(tlvs: readonly Tlv[]): Buffer {
  if (tlvs.length === 0) return Buffer.alloc(0);
  const header = withCodecUsage(() =>
    encodeV2({
      version: 2,
      command: 'LOCAL',
      family: 'UNSPEC',
      transport: 'UNSPEC',
      tlvs: [...tlvs],
    }),
  );
  return Buffer.from(header.subarray(16));
}
