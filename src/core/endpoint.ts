import { usageError } from '../errors.js';
import { hostPort } from '../host-port.js';
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from '../ppv2/ip-address.js';

/**
 * "ADDRESS:PORT" endpoints as users type them on the command line: "192.0.2.10:51234" or
 * "[2001:db8::1]:80" (brackets are required for IPv6, as in URLs, because its colons would make the port
 * ambiguous). Host names are not resolved: this is pure parsing. Ports are 1-65535 in decimal without
 * leading zeros (port 0 cannot be connected to; "080" is refused like in PROXY v1 lines).
 */
export interface Endpoint {
  readonly family: 4 | 6;
  /** Canonical text form (RFC 5952 for IPv6), without brackets. */
  readonly address: string;
  readonly port: number;
}

const FORMAT_HINT = 'write IPv4 as 192.0.2.10:80 and IPv6 in brackets as [2001:db8::1]:80';

export function parseEndpoint(text: string): Endpoint {
  const input = text.trim();
  if (input === '') throw usageError('endpoint is empty', FORMAT_HINT);
  let addressText: string;
  let portText: string | undefined;
  if (input.startsWith('[')) {
    const close = input.indexOf(']');
    if (close < 0) throw usageError(`endpoint "${text}" has "[" without a closing "]"`, FORMAT_HINT);
    addressText = input.slice(1, close);
    const after = input.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) {
      throw usageError(`endpoint "${text}" has "${after}" after "]" where ":PORT" should be`, FORMAT_HINT);
    }
    portText = after === '' ? undefined : after.slice(1);
  } else {
    const colons = input.split(':').length - 1;
    if (colons > 1) {
      throw usageError(
        `IPv6 endpoint "${text}" needs brackets around the address`,
        'write it as [ADDRESS]:PORT, e.g. [2001:db8::1]:80',
      );
    }
    const colon = input.indexOf(':');
    addressText = colon < 0 ? input : input.slice(0, colon);
    portText = colon < 0 ? undefined : input.slice(colon + 1);
  }

  const bracketed = input.startsWith('[');
  const v6 = parseIPv6(addressText);
  const v4 = bracketed ? undefined : parseIPv4(addressText);
  if (bracketed && v6 === undefined) {
    throw usageError(`"${addressText}" in endpoint "${text}" is not an IPv6 address`, FORMAT_HINT);
  }
  if (!bracketed && v4 === undefined) {
    throw usageError(`"${addressText}" in endpoint "${text}" is not an IPv4 address`, FORMAT_HINT);
  }
  if (portText === undefined || portText === '') {
    const example = hostPort(addressText, 80);
    throw usageError(`endpoint "${text}" has no port`, `add the port, e.g. ${example}`);
  }
  const port = /^[1-9][0-9]{0,4}$/.test(portText) ? Number(portText) : Number.NaN;
  if (!(port >= 1 && port <= 65535)) {
    throw usageError(
      `port "${portText}" in endpoint "${text}" is not a number from 1 to 65535`,
      'ports are decimal without leading zeros',
    );
  }
  return v4 !== undefined
    ? { family: 4, address: formatIPv4(v4), port }
    : { family: 6, address: formatIPv6(v6 as Uint8Array), port };
}

/** "192.0.2.10:80" or "[2001:db8::1]:80": the form parseEndpoint reads. */
export function formatEndpoint(endpoint: Endpoint): string {
  return hostPort(endpoint.address, endpoint.port);
}
