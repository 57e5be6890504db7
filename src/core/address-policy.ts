import { usageError } from '../errors.js';
import { hostPort } from '../host-port.js';
import { canonicalIpAddress, parseIpAddress } from '../ppv2/ip-address.js';
import type { Endpoint } from './endpoint.js';

/**
 * Which addresses lbctl accepts in which role: VIP, backend, fullnat SNAT address. Pure functions, so
 * `service add`, `service set` and `apply` refuse the same inputs with the same USAGE error (exit 2)
 * before anything is written. The namespace's own addresses are read by the caller (core/snat.ts) and
 * passed in, so that the SNAT check stays pure too.
 */
export type AddressKind = 'unspecified' | 'loopback' | 'multicast' | 'broadcast' | 'v4-mapped';

const KIND_TEXT: Record<AddressKind, string> = {
  unspecified: 'the unspecified address',
  loopback: 'a loopback address',
  multicast: 'a multicast address',
  broadcast: 'the limited broadcast address',
  'v4-mapped': 'an IPv4-mapped IPv6 address',
};

/**
 * Addresses no balanced connection can use in any role: nothing can connect to or from them. A VIP or an
 * SNAT address also refuses v4-mapped ones: the datapath matches and writes real IPv6 headers, where a
 * mapped address never appears on the wire (RFC 4291 2.5.5.2), so such a service would never match.
 */
const NEVER_USABLE: readonly AddressKind[] = ['unspecified', 'loopback', 'multicast', 'broadcast'];
const REFUSED = {
  VIP: new Set<AddressKind>([...NEVER_USABLE, 'v4-mapped']),
  backend: new Set<AddressKind>(NEVER_USABLE),
  'SNAT address': new Set<AddressKind>([...NEVER_USABLE, 'v4-mapped']),
} as const;
type Role = keyof typeof REFUSED;

const ROLE_HINT: Record<Role, string> = {
  VIP: 'a VIP is a unicast address clients reach the balancer on, e.g. 203.0.113.10 or 2001:db8:f::10',
  backend: 'a backend is a unicast address of a server the balancer can reach, e.g. 198.51.100.2',
  'SNAT address':
    "use a unicast address of the balancer's network namespace, or omit it for the route's source",
};

/** The special kind of an address, or undefined for an ordinary unicast one (or a text that is no address). */
export function addressKind(address: string): AddressKind | undefined {
  const parsed = parseIpAddress(address);
  if (!parsed) return undefined;
  const b = parsed.bytes;
  const zeros = (from: number, to: number) => b.subarray(from, to).every((x) => x === 0);
  if (parsed.family === 4) {
    if (zeros(0, 4)) return 'unspecified';
    if (b.every((x) => x === 255)) return 'broadcast';
    if (b[0] === 127) return 'loopback';
    if (((b[0] as number) & 0xf0) === 0xe0) return 'multicast'; // 224.0.0.0/4
    return undefined;
  }
  if (b[0] === 0xff) return 'multicast'; // ff00::/8
  if (zeros(0, 10) && b[10] === 0xff && b[11] === 0xff) return 'v4-mapped'; // ::ffff:0:0/96
  if (zeros(0, 15) && b[15] === 0) return 'unspecified';
  if (zeros(0, 15) && b[15] === 1) return 'loopback';
  return undefined;
}

function refuseSpecial(role: Role, address: string, shown: string): void {
  const kind = addressKind(address);
  if (kind !== undefined && REFUSED[role].has(kind)) {
    throw usageError(`${role} ${shown} is ${KIND_TEXT[kind]}`, ROLE_HINT[role]);
  }
}

export function checkVipAddress(vip: Endpoint): void {
  refuseSpecial('VIP', vip.address, hostPort(vip.address, vip.port));
}

export function checkBackendAddress(backend: Endpoint): void {
  refuseSpecial('backend', backend.address, hostPort(backend.address, backend.port));
}

/**
 * A given fullnat SNAT address, checked: an IP address of the VIP's family (the datapath stores it in the
 * VIP's family, so another family would be stored as garbage), not a special address, and one of
 * `localAddresses` (canonical texts of the balancer namespace's addresses), since backends reply to it.
 * Returns its canonical text.
 */
export function checkSnatAddress(text: string, vip: Endpoint, localAddresses: ReadonlySet<string>): string {
  const parsed = parseIpAddress(text.trim());
  if (!parsed)
    throw usageError(`SNAT address "${text}" is not an IP address`, 'e.g. 198.51.100.1 or 2001:db8::1');
  const address = canonicalIpAddress(text.trim()) as string;
  checkSnatFamily(address, vip.family, hostPort(vip.address, vip.port));
  refuseSpecial('SNAT address', address, address);
  if (!localAddresses.has(address)) {
    throw usageError(
      `SNAT address ${address} is not an address of the balancer's network namespace`,
      "backends reply to it, so it must be local: pick one from `ip addr` there, or omit it for the route's source",
    );
  }
  return address;
}

/** The SNAT address `address` must be of the VIP's family (`vipText` names the VIP in the message). */
export function checkSnatFamily(address: string, vipFamily: 4 | 6, vipText: string): void {
  const family = parseIpAddress(address)?.family;
  if (family !== undefined && family !== vipFamily) {
    throw usageError(
      `SNAT address ${address} is IPv${family} but the VIP ${vipText} is IPv${vipFamily}`,
      `a fullnat service rewrites within one family: give an IPv${vipFamily} address of the balancer`,
    );
  }
}
