import { Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { type Endpoint, parseEndpoint } from '../../core/endpoint.js';
import { LbctlError, usageError } from '../../errors.js';
import {
  bytesToHex,
  decodeProxyHeader,
  encodeProxyHeader,
  type ProxyHeader,
  parseTlvSpec,
  type Tlv,
  TlvType,
  toPlainHeader,
} from '../../ppv2/index.js';
import type { PlainHeader } from '../../ppv2/types.js';

type OutputFormat = 'raw' | 'hex' | 'base64';

export interface EncodeResult {
  header: PlainHeader;
  length: number;
  hex: string;
}

export default class Ppv2Encode extends BaseCommand<typeof Ppv2Encode> {
  static override summary = 'Write a PROXY protocol header (v2 by default, or a v1 line) to stdout.';

  static override description =
    `The header can be piped into a socket ahead of a request to test a backend that expects PROXY
protocol, or decoded again with \`lbctl ppv2 decode\`. Raw bytes are written when stdout is a pipe or file;
on a terminal the default is hex, because raw binary would garble it.`;

  static override examples = [
    {
      description: 'A v2 header for an IPv4 TCP connection, as hex:',
      command:
        '<%= config.bin %> <%= command.id %> --src 192.0.2.10:51234 --dst 203.0.113.10:80 --format hex',
    },
    {
      description: 'With TLVs and a CRC32C checksum, decoded again:',
      command:
        '<%= config.bin %> <%= command.id %> --src 192.0.2.10:51234 --dst 203.0.113.10:80 --tlv unique-id=conn-1 --tlv authority=example.com --tlv 0xE0=00ff --crc32c | <%= config.bin %> ppv2 decode',
    },
    {
      description: 'Send a header and a request to a backend on loopback:',
      command:
        "{ <%= config.bin %> <%= command.id %> --src 192.0.2.10:51234 --dst 127.0.0.1:8080; printf 'GET / HTTP/1.0\\r\\n\\r\\n'; } | nc 127.0.0.1 8080",
    },
    {
      description: 'A v1 text line for IPv6, and a v2 LOCAL header (health checks):',
      command: `<%= config.bin %> <%= command.id %> --v1 --src [2001:db8::10]:40000 --dst [2001:db8:1::a]:443
<%= config.bin %> <%= command.id %> --local --format hex`,
    },
  ];

  static override flags = {
    src: Flags.string({ summary: 'Client address and port, e.g. 192.0.2.10:51234 or [2001:db8::10]:40000.' }),
    dst: Flags.string({ summary: 'Destination (proxy-side) address and port, same family as --src.' }),
    tlv: Flags.string({
      summary:
        'Add a TLV (repeatable): unique-id=ID, authority=HOST, alpn=PROTO, netns=NAME, noop=N, 0xE0=HEX.',
      multiple: true,
    }),
    crc32c: Flags.boolean({ summary: 'Append a CRC32C TLV computed over the whole header.', default: false }),
    local: Flags.boolean({
      summary: 'Encode a LOCAL command (no addresses), as health checks send.',
      exclusive: ['src', 'dst'],
      default: false,
    }),
    dgram: Flags.boolean({ summary: 'Use transport DGRAM (UDP) instead of STREAM.', default: false }),
    v1: Flags.boolean({
      summary: 'Write a v1 text line instead of v2.',
      default: false,
      exclusive: ['tlv', 'crc32c', 'dgram'],
    }),
    format: Flags.option({
      summary: 'Output encoding; default raw, or hex when stdout is a terminal.',
      options: ['raw', 'hex', 'base64'] as const,
    })(),
  };

  public async run(): Promise<EncodeResult> {
    const header = this.buildHeader();
    const crc32c =
      this.flags.crc32c || (this.flags.tlv ?? []).some((spec) => parseTlvSpec(spec).type === TlvType.CRC32C);
    const bytes = Buffer.from(encodeProxyHeader(header, { crc32c }));
    const result: EncodeResult = {
      header: decodedView(bytes),
      length: bytes.length,
      hex: bytesToHex(bytes),
    };
    if (!this.jsonEnabled()) this.write(bytes, this.flags.format ?? (process.stdout.isTTY ? 'hex' : 'raw'));
    return result;
  }

  private buildHeader(): ProxyHeader {
    const { flags } = this;
    if (flags.local) {
      return flags.v1
        ? { version: 1, command: 'LOCAL', family: 'UNSPEC' }
        : { version: 2, command: 'LOCAL', family: 'UNSPEC', transport: 'UNSPEC', tlvs: this.tlvs() };
    }
    if (!flags.src || !flags.dst) {
      throw usageError(
        '--src and --dst are both required (or --local)',
        'e.g. --src 192.0.2.10:51234 --dst 203.0.113.10:80',
      );
    }
    const src = parseEndpoint(flags.src);
    const dst = parseEndpoint(flags.dst);
    if (src.family !== dst.family) {
      throw usageError(
        `--src is IPv${src.family} but --dst is IPv${dst.family}`,
        'a PROXY header carries one address family',
      );
    }
    const family = familyOf(src);
    const addresses = { src: src.address, dst: dst.address, srcPort: src.port, dstPort: dst.port };
    if (flags.v1) return { version: 1, command: 'PROXY', family, ...addresses };
    const transport = flags.dgram ? 'DGRAM' : 'STREAM';
    return { version: 2, command: 'PROXY', family, transport, ...addresses, tlvs: this.tlvs() };
  }

  /** `--tlv crc32c` is folded into the --crc32c option (see run) so the TLV appears once, last. */
  private tlvs(): Tlv[] {
    return (this.flags.tlv ?? [])
      .map((spec) => parseTlvSpec(spec))
      .filter((tlv) => tlv.type !== TlvType.CRC32C);
  }

  private write(bytes: Buffer, format: OutputFormat): void {
    if (format === 'raw') process.stdout.write(bytes);
    else process.stdout.write(`${bytes.toString(format)}\n`);
  }
}

function familyOf(endpoint: Endpoint): 'INET' | 'INET6' {
  return endpoint.family === 4 ? 'INET' : 'INET6';
}

/** The JSON shows the header as a receiver will see it, including the computed CRC32C value. */
function decodedView(bytes: Buffer): PlainHeader {
  const decoded = decodeProxyHeader(bytes);
  if (decoded.status !== 'complete') {
    throw new LbctlError('FAILURE', `internal error: the encoded header does not decode (${decoded.status})`);
  }
  return toPlainHeader(decoded.header);
}
