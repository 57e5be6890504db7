import { parseEndpoint } from '../core/endpoint.js';
import {
  MAX_WEIGHT,
  type Mode,
  NAME_RULE,
  type Ppv2Spec,
  type ProxyVersion,
  parsePpv2Options,
  parseProxyVersion,
} from '../core/service-spec.js';
import { LbctlError } from '../errors.js';
import { canonicalIpAddress, parseIpAddress } from '../ppv2/ip-address.js';
import { childPath, type Field, fieldError } from './fields.js';
import type { ServiceObject } from './objects.js';

/**
 * The Service annotations `lbctl apply` reads (README "apply and export" lists them with their values).
 * The loxilb.io ones are what users of loxilb already write; the lbctl.io ones carry what lbctl can do
 * beyond them, and are what `lbctl export` writes so a saved file restores every setting.
 */
export const ANNOTATIONS = {
  proxyProtocol: 'loxilb.io/useproxyprotov2',
  lbMode: 'loxilb.io/lbmode',
  liveness: 'loxilb.io/liveness',
  vip: 'lbctl.io/vip',
  snat: 'lbctl.io/snat',
  ppv2Tlvs: 'lbctl.io/ppv2-tlvs',
  proxyVersion: 'lbctl.io/proxy-protocol',
  weights: 'lbctl.io/weights',
  name: 'lbctl.io/name',
} as const;

/** loxilb's modes; lbctl implements fullnat and default (dnat). */
const LOXILB_MODES = ['default', 'fullnat', 'onearm', 'dsr', 'fullproxy', 'hostonearm'];

export type AddressesByFamily = Map<4 | 6, string>;

/** `lbctl.io/weights` entries: ADDR=W applies to every port of that address, ADDR:PORT=W to one endpoint. */
export interface WeightRule {
  address: string;
  port: number | undefined;
  weight: number;
}

export interface ServiceSettings {
  mode: Mode;
  ppv2: Ppv2Spec;
  liveness: boolean;
  /** lbctl.io/vip, when given. */
  vips: AddressesByFamily | undefined;
  snat: AddressesByFamily;
  weights: WeightRule[];
  /** lbctl.io/name: the base of the lbctl names; "" keeps the services unnamed. */
  name: string | undefined;
  /** Annotations read but not acted on (other loxilb.io settings). */
  notes: string[];
}

export function readServiceSettings(service: ServiceObject): ServiceSettings {
  const field = (key: string): Field => ({
    doc: service.doc,
    path: childPath('metadata.annotations', key),
    value: service.annotations.get(key),
  });
  const known = new Set<string>(Object.values(ANNOTATIONS));
  const notes: string[] = [];
  for (const key of service.annotations.keys()) {
    if (known.has(key)) continue;
    if (key.startsWith('lbctl.io/')) {
      throw fieldError(
        field(key),
        'is not an lbctl annotation',
        `lbctl reads ${Object.values(ANNOTATIONS)
          .filter((k) => k.startsWith('lbctl.io/'))
          .join(', ')}`,
      );
    }
    if (key.startsWith('loxilb.io/')) notes.push(`${service.doc}: annotation ${key} is not used by lbctl`);
  }

  const mode = readMode(field(ANNOTATIONS.lbMode));
  const v2Field = field(ANNOTATIONS.proxyProtocol);
  const version = readProxyVersion(field(ANNOTATIONS.proxyVersion), readYesNo(v2Field));
  const ppv2Enabled = version !== undefined;
  const tlvsField = field(ANNOTATIONS.ppv2Tlvs);
  if (version === 1 && tlvsField.value !== undefined) {
    throw fieldError(
      tlvsField,
      'does not apply: PROXY protocol v1 has no TLVs',
      `drop it, or set ${ANNOTATIONS.proxyVersion}: "v2"`,
    );
  }
  const ppv2: Ppv2Spec = { enabled: ppv2Enabled, version: version ?? 2, ...readTlvs(tlvsField, ppv2Enabled) };
  const snatField = field(ANNOTATIONS.snat);
  const snat = readAddresses(snatField) ?? new Map();
  if (snat.size > 0 && mode !== 'fullnat') {
    throw fieldError(snatField, `applies to fullnat only, but ${ANNOTATIONS.lbMode} is not "fullnat"`);
  }
  return {
    mode,
    ppv2,
    liveness: readYesNo(field(ANNOTATIONS.liveness)),
    vips: readAddresses(field(ANNOTATIONS.vip)),
    snat,
    weights: readWeights(field(ANNOTATIONS.weights)),
    name: readName(field(ANNOTATIONS.name)),
    notes,
  };
}

function readMode(field: Field): Mode {
  const value = field.value as string | undefined;
  if (value === undefined || value === 'default') return 'dnat';
  if (value === 'fullnat') return 'fullnat';
  if (LOXILB_MODES.includes(value)) {
    throw fieldError(
      field,
      `"${value}" is not supported: lbctl balances in fullnat or default (dnat) mode`,
      'use "fullnat" or "default"',
      'UNSUPPORTED',
    );
  }
  throw fieldError(field, `"${value}" is not a loxilb lbmode`, `use "fullnat" or "default"`);
}

function readYesNo(field: Field): boolean {
  const value = field.value as string | undefined;
  if (value === undefined || value === 'no') return false;
  if (value === 'yes') return true;
  throw fieldError(field, `"${value}" is neither "yes" nor "no"`, 'write "yes" or "no" (quoted in YAML)');
}

/**
 * lbctl.io/proxy-protocol "v1" or "v2" turns the header on in that version (as --proxy-protocol does);
 * loxilb.io/useproxyprotov2 "yes" alone means v2. Undefined: no header.
 */
function readProxyVersion(field: Field, v2: boolean): ProxyVersion | undefined {
  const value = field.value as string | undefined;
  if (value === undefined) return v2 ? 2 : undefined;
  const version = rethrowAt(field, () => parseProxyVersion(value));
  if (v2 && version === 1) {
    throw fieldError(
      field,
      `is "v1", but ${ANNOTATIONS.proxyProtocol} is "yes" (PROXY v2)`,
      `set ${ANNOTATIONS.proxyProtocol}: "no" for v1`,
    );
  }
  return version;
}

/** Comma-separated `--ppv2-tlv` values: unique-id, crc32c, authority=HOST, alpn=P, 0xE0=HEX ... */
function readTlvs(field: Field, ppv2Enabled: boolean): Omit<Ppv2Spec, 'enabled'> {
  const value = field.value as string | undefined;
  const specs = splitList(value);
  if (specs.length > 0 && !ppv2Enabled) {
    throw fieldError(field, `needs ${ANNOTATIONS.proxyProtocol}: "yes"`, 'turn PPv2 on, or drop the TLVs');
  }
  return rethrowAt(field, () => parsePpv2Options(specs));
}

/** One address per family, comma-separated: "203.0.113.10" or "203.0.113.10,2001:db8:f::10". */
function readAddresses(field: Field): AddressesByFamily | undefined {
  const items = splitList(field.value as string | undefined);
  if (items.length === 0) return undefined;
  const byFamily: AddressesByFamily = new Map();
  for (const item of items) {
    const parsed = parseIpAddress(item);
    if (!parsed)
      throw fieldError(field, `"${item}" is not an IP address`, 'e.g. 203.0.113.10 or 2001:db8::10');
    if (byFamily.has(parsed.family)) {
      throw fieldError(field, `has two IPv${parsed.family} addresses`, 'give at most one address per family');
    }
    byFamily.set(parsed.family, canonicalIpAddress(item) as string);
  }
  return byFamily;
}

/** "198.51.100.2=3, [2001:db8:b::2]:80=1": weights 0-65535 (0 drains: no new connections). */
function readWeights(field: Field): WeightRule[] {
  return splitList(field.value as string | undefined).map((item) => {
    const equals = item.lastIndexOf('=');
    const target = item.slice(0, equals).trim();
    const weightText = item.slice(equals + 1).trim();
    const weight = /^[0-9]{1,5}$/.test(weightText) ? Number(weightText) : Number.NaN;
    if (equals < 0 || !(weight <= MAX_WEIGHT)) {
      throw fieldError(
        field,
        `entry "${item}" is not ADDRESS=WEIGHT with a weight from 0 to ${MAX_WEIGHT}`,
        'e.g. "198.51.100.2=3, [2001:db8:b::2]:80=1"',
      );
    }
    const address = canonicalIpAddress(target);
    if (address !== undefined) return { address, port: undefined, weight };
    const endpoint = rethrowAt(field, () => parseEndpoint(target));
    return { address: endpoint.address, port: endpoint.port, weight };
  });
}

function readName(field: Field): string | undefined {
  const value = field.value as string | undefined;
  if (value === undefined || value === '') return value;
  if (!NAME_RULE.test(value)) {
    throw fieldError(
      field,
      `"${value}" is not an lbctl service name`,
      'use lower-case letters, digits and "-", at most 63 characters, or "" for no name',
    );
  }
  return value;
}

function splitList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

/** Errors of the shared CLI parsers (USAGE, worded for flags) re-worded for the annotation they came from. */
function rethrowAt<T>(field: Field, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof LbctlError) throw fieldError(field, `is invalid: ${err.message}`, err.hint);
    throw err;
  }
}
