import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { decodeUserBytes } from '../../cli/bytes-input.js';
import { type HeaderInput, readHeaderInput } from '../../cli/header-input.js';
import { renderKeyValue, renderTable } from '../../cli/output.js';
import { invalidDataError, usageError } from '../../errors.js';
import { hostPort } from '../../host-port.js';
import { describeTlv, type TlvDescription } from '../../ppv2/describe.js';
import { decodeProxyHeader, type ProxyHeader, toPlainHeader } from '../../ppv2/index.js';
import type { PlainHeader } from '../../ppv2/types.js';
import { readStdinBytes, stdinIsTerminal } from '../../sys/stdin.js';

export interface DecodeOutput {
  header: PlainHeader;
  /** Bytes the header occupies; anything after it is the connection's payload. */
  consumed: number;
  /** Bytes given after the header; null when they were left unread (raw bytes on stdin). */
  trailingBytes: number | null;
  tlvs: TlvDescription[];
}

export default class Ppv2Decode extends BaseCommand<typeof Ppv2Decode> {
  static override summary = 'Decode a PROXY protocol header (v1 or v2) from an argument or stdin.';

  static override description =
    `Input may be hex (spaces, colons and 0x allowed), base64, or raw bytes; the format is detected unless
--format is given. Bytes after the header (the connection's payload) are counted, not decoded; raw bytes on
stdin are read only as far as the header goes, in constant memory, so the header in front of an endless
stream decodes at once (trailingBytes is then null: what follows is left unread). An invalid or incomplete
header, or input in none of the formats, exits with code 7 and says why.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> 0d0a0d0a000d0a515549540a2111000cc000020acb00710ac8220050',
    '<%= config.bin %> ppv2 encode --src 192.0.2.10:51234 --dst 203.0.113.10:80 | <%= config.bin %> <%= command.id %> --json',
    {
      description: 'Decode the first bytes a backend received, from a capture file:',
      command: 'head -c 256 first-segment.bin | <%= config.bin %> <%= command.id %> --format raw',
    },
  ];

  static override args = {
    // ignoreStdin: oclif would otherwise read stdin as text lines, which mangles raw binary headers.
    data: Args.string({
      description: 'Header bytes as hex or base64. Omit to read stdin.',
      ignoreStdin: true,
    }),
  };

  static override flags = {
    format: Flags.option({
      summary: 'Input encoding (detected when omitted).',
      options: ['hex', 'base64', 'raw'] as const,
    })(),
  };

  public async run(): Promise<DecodeOutput> {
    const input = await this.readInput();
    const { bytes } = decodeUserBytes(input.bytes, this.flags.format);
    const result = decodeProxyHeader(bytes);
    if (result.status === 'incomplete') {
      throw invalidDataError(
        `incomplete PROXY header: ${bytes.length} bytes given, at least ${result.needed} more needed`,
        'pass the whole header (v2: 16 bytes plus the length field)',
      );
    }
    if (result.status === 'invalid') throw invalidDataError(`invalid PROXY header: ${result.reason}`);

    const output: DecodeOutput = {
      header: toPlainHeader(result.header),
      consumed: result.consumed,
      trailingBytes: input.whole ? bytes.length - result.consumed : null,
      tlvs: result.header.version === 2 ? result.header.tlvs.map(describeTlv) : [],
    };
    if (!this.jsonEnabled()) this.log(renderHuman(result.header, output));
    return output;
  }

  private async readInput(): Promise<HeaderInput> {
    if (this.args.data !== undefined) return { bytes: Buffer.from(this.args.data, 'latin1'), whole: true };
    if (stdinIsTerminal()) {
      throw usageError(
        'no input: give the header as an argument or pipe it on stdin',
        'see --help for examples',
      );
    }
    return readHeaderInput(readStdinBytes, this.flags.format);
  }
}

function renderHuman(header: ProxyHeader, output: DecodeOutput): string {
  const plain = output.header;
  const endpoint = (address?: string, port?: number) =>
    address === undefined ? '-' : port === undefined ? address : hostPort(address, port);
  const pairs: Array<[string, string | number]> = [
    ['version', plain.version],
    ['command', plain.command],
    ['family', plain.family],
    ['transport', plain.transport ?? (header.version === 1 ? 'STREAM (v1)' : '-')],
    ['source', endpoint(plain.src, plain.srcPort)],
    ['destination', endpoint(plain.dst, plain.dstPort)],
    ['header bytes', output.consumed],
    ['payload bytes after it', output.trailingBytes ?? 'not read (stdin)'],
  ];
  const lines = [renderKeyValue(pairs)];
  if (output.tlvs.length > 0) {
    lines.push(
      renderTable(
        ['type', 'name', 'length', 'value'],
        output.tlvs.map((t) => [t.typeHex, t.name, t.length, t.text]),
      ),
    );
  }
  return lines.join('\n');
}
