/**
 * Sending hand-built IP packets (header included) from the current network namespace: Node has no raw
 * sockets, so this goes through libc. IPPROTO_RAW means "header included" for both families on Linux.
 */
import koffi from 'koffi';
import { errnoError } from '../errors.js';
import { parseIpAddress } from '../ppv2/ip-address.js';
import { libc } from '../sys/libc.js';

const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_RAW = 3;
const IPPROTO_RAW = 255;

export class RawSender {
  private readonly fds = new Map<4 | 6, number>();

  /** Send one packet whose IP header says where it goes; `destination` must be its destination address. */
  send(packet: Buffer, destination: string): void {
    const parsed = parseIpAddress(destination);
    if (!parsed) throw new Error(`not an IP address: ${destination}`);
    const fd = this.socketFor(parsed.family);
    const addr = Buffer.alloc(parsed.family === 4 ? 16 : 28);
    addr.writeUInt16LE(parsed.family === 4 ? AF_INET : AF_INET6, 0);
    Buffer.from(parsed.bytes).copy(addr, parsed.family === 4 ? 4 : 8);
    if (libc().sendto(fd, packet, packet.length, 0, addr, addr.length) < 0)
      throw errnoError(`sending a raw packet to ${destination}`, -koffi.errno());
  }

  close(): void {
    for (const fd of this.fds.values()) libc().close(fd);
    this.fds.clear();
  }

  private socketFor(family: 4 | 6): number {
    const open = this.fds.get(family);
    if (open !== undefined) return open;
    const fd = libc().socket(family === 4 ? AF_INET : AF_INET6, SOCK_RAW, IPPROTO_RAW);
    if (fd < 0) throw errnoError(`opening a raw IPv${family} socket`, -koffi.errno());
    this.fds.set(family, fd);
    return fd;
  }
}
