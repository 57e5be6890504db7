import { Flags } from '@oclif/core';
import { yamlText } from '../yaml.js';

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
 * The YAML of a JSON document: what --json prints (so undefined fields are left out and toJSON applies, as
 * there), with strings such as "yes", "off" or "007" quoted for YAML 1.1 and 1.2 readers alike.
 */
export function toYaml(document: unknown): string {
  return yamlText(JSON.parse(JSON.stringify(document)));
}
