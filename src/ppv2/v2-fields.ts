import { COMMAND_CODES, FAMILY_CODES, TRANSPORT_CODES } from './constants.js';
import type { Command, Family, Transport } from './types.js';

/**
 * Bytes 13 and 14 of a v2 header: version/command and family/transport, as names. The spec allows only
 * the protocol bytes 0x00, 0x11, 0x12, 0x21, 0x22, 0x31 and 0x32 ("other values ... must be rejected as
 * invalid by receivers"): UNSPEC family goes with UNSPEC transport only, and a real family needs a real
 * transport. This holds for LOCAL too: LOCAL tells the receiver to ignore the addresses, not that any byte
 * may stand there.
 */

export const COMMANDS: readonly Command[] = ['LOCAL', 'PROXY'];
export const FAMILIES: readonly Family[] = ['UNSPEC', 'INET', 'INET6', 'UNIX'];
export const TRANSPORTS: readonly Transport[] = ['UNSPEC', 'STREAM', 'DGRAM'];

export function commandCode(command: Command): number {
  return COMMAND_CODES[command];
}

export function protocolByte(family: Family, transport: Transport): number {
  return (FAMILY_CODES[family] << 4) | TRANSPORT_CODES[transport];
}

/** Why this family/transport pair is not one of the seven the spec allows, or undefined. */
export function familyTransportError(family: Family, transport: Transport): string | undefined {
  if (family === 'UNSPEC' && transport !== 'UNSPEC') {
    return `family UNSPEC with transport ${transport}: UNSPEC family requires UNSPEC transport`;
  }
  if (family !== 'UNSPEC' && transport === 'UNSPEC') {
    return `family ${family} with transport UNSPEC: ${family} requires STREAM or DGRAM`;
  }
  return undefined;
}
