import { dump } from 'js-yaml';

/**
 * YAML text of a plain value that YAML 1.1 readers (kubectl's go-yaml, PyYAML) and YAML 1.2 readers read
 * alike: js-yaml's dump schema quotes every string that either version would take for something else
 * ("yes", "off", "007", "0o17", "1e3"). No line folding, no anchors for repeated objects.
 */
export function yamlText(value: unknown): string {
  return dump(value, { lineWidth: -1, quoteStyle: 'double', noRefs: true });
}
