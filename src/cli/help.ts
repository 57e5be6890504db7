import { Help } from '@oclif/core';
import { EXIT_CODE_MEANINGS, ExitCode, type ExitCodeName } from '../exit-codes.js';

/** Environment variables lbctl reads, for the root help (and nowhere else to keep in step). */
export const ENVIRONMENT: ReadonlyArray<[name: string, meaning: string]> = [
  ['LBCTL_NETNS', 'default for --netns: the balancer network namespace every command acts on'],
  ['NO_COLOR', 'no colours (FORCE_COLOR=1 forces them on a non-terminal)'],
  ['LBCTL_STATE_ROOT', 'where instance state and locks live (default /run/lbctl)'],
  ['LBCTL_BPF_OBJECT', 'a datapath object to load instead of the packaged one (development)'],
  ['LBCTL_DEBUG', 'print the stack of an error; LBCTL_DEBUG_LIBBPF=1 echoes libbpf messages'],
];

const GLOBAL_FLAGS: ReadonlyArray<[flag: string, meaning: string]> = [
  [
    '--netns NAME',
    'act on the balancer in network namespace NAME (an `ip netns` name); anywhere on the line',
  ],
  ['--json', 'machine-readable output on stdout, errors as JSON too; anywhere on the line'],
  ['-h, --help', 'help for lbctl or a command (also: lbctl help COMMAND)'],
  ['-v, --version', 'the version (also: lbctl version)'],
];

function section(title: string, rows: ReadonlyArray<readonly [string, string]>): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  return [title, ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`)].join('\n');
}

/**
 * oclif's root help, followed by what every command shares and a script needs: the global flags, the
 * environment and the exit codes (the same table as the README's, from src/exit-codes.ts).
 */
export default class LbctlHelp extends Help {
  protected override formatRoot(): string {
    const codes = (Object.entries(ExitCode) as Array<[ExitCodeName, number]>).map(
      ([name, code]) => [`${code} ${name}`, EXIT_CODE_MEANINGS[name]] as const,
    );
    return [
      super.formatRoot(),
      section('GLOBAL FLAGS', GLOBAL_FLAGS),
      section('ENVIRONMENT', ENVIRONMENT),
      section('EXIT CODES', codes),
    ].join('\n\n');
  }
}
