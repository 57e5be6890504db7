import { Flags } from '@oclif/core';
import { stringify } from 'yaml';

/**
 * `-o FORMAT` for commands that print data: the default table (cut to a terminal's width), `wide` (every
 * column, nothing cut), `json` (the same document as --json) and `yaml` (that document as YAML).
 */
export const OUTPUT_FORMATS = ['table', 'wide', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export const outputFlag = {
  output: Flags.option({
    char: 'o',
    summary: 'Output format: table (fits the terminal), wide (every column, nothing cut), json, yaml.',
    description: '--json is the same as -o json.',
    options: OUTPUT_FORMATS,
  })(),
};

/**
 * The YAML of a JSON document. YAML 1.1 rules decide the quoting, so a string such as "yes", "off" or "007"
 * stays a string for 1.1 readers (PyYAML, older Ruby) as well as for 1.2 ones.
 */
export function toYaml(document: unknown): string {
  return stringify(document, { version: '1.1' });
}
