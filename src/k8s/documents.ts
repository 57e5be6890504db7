import { loadAll, YAMLException } from 'js-yaml';
import { invalidDataError } from '../errors.js';
import { lineAndColumn, splitJsonStream } from './json-stream.js';

/**
 * The objects of a manifest stream: multi-document YAML, or JSON (one value or several in a row), with
 * `List` objects (kind List, or ServiceList and the like as the API returns them) flattened into their
 * items, as kubectl prints them. Empty documents (a trailing `---`) are skipped.
 */
export interface ManifestObject {
  /** Where it is in the input: "document 2", or "document 1 item 3" inside a List. Numbers are 1-based. */
  position: string;
  value: Record<string, unknown>;
}

const SYNTAX_HINT = 'fix the syntax; `kubectl apply --dry-run=client -f FILE` shows the same problem';

export function parseManifests(text: string): ManifestObject[] {
  const input = text.replace(/^\uFEFF/, '');
  const documents = /^\s*[{[]/.test(input) ? jsonDocuments(input) : yamlDocuments(input);
  const objects: ManifestObject[] = [];
  documents.forEach((value, index) => {
    const position = `document ${index + 1}`;
    if (value === null || value === undefined) return;
    objects.push(...flatten(position, value));
  });
  return objects;
}

/*
 * js-yaml: it reads a 1,000-Service manifest about ten times faster than the `yaml` package lbctl used before
 * (0.12 s against 1.2 s in a fresh process), which was most of what planning a big apply cost. It reads YAML
 * 1.2 (so `yes` stays a string). Aliases are capped, as a billion-laughs input would otherwise make every
 * later walk of the objects explode.
 */
function yamlDocuments(input: string): unknown[] {
  try {
    return loadAll(input, { maxAliases: 100 });
  } catch (err) {
    if (!(err instanceof YAMLException)) throw err;
    const reason = err.reason ?? firstLine(err.message);
    if (!err.mark) throw invalidDataError(`not valid YAML: ${reason}`, SYNTAX_HINT);
    const { line, column } = err.mark;
    throw invalidDataError(
      `document ${documentAtLine(input, line)}: not valid YAML at line ${line + 1}, column ${column + 1}: ${reason}`,
      SYNTAX_HINT,
    );
  }
}

/**
 * Which document (1-based, as parseManifests numbers them) holds the 0-based line. A `---` line starts a
 * document; the first one only opens the first document when nothing but comments, blank lines and
 * directives comes before it.
 */
export function documentAtLine(input: string, line: number): number {
  let document = 1;
  let opened = false;
  for (const text of input.split('\n', line + 1)) {
    if (/^---(\s|$)/.test(text)) {
      if (opened) document++;
      opened = true;
    } else if (!/^\s*(#.*)?$/.test(text) && !text.startsWith('%')) {
      opened = true;
    }
  }
  return document;
}

function jsonDocuments(input: string): unknown[] {
  return splitJsonStream(input).map((chunk, index) => {
    try {
      return JSON.parse(chunk.text) as unknown;
    } catch (err) {
      const message = (err as Error).message;
      // V8 words some errors with a position ("... in JSON at position 7"), some with an excerpt.
      const at = /position (\d+)/.exec(message);
      const where = at ? ` at ${lineAndColumn(input, chunk.offset + Number(at[1]))}` : '';
      const what = message
        .replace(/ in JSON at position \d+.*$/s, '')
        .replace(/, (\.\.\.)?".*" is not valid JSON$/s, '');
      throw invalidDataError(`document ${index + 1}: not valid JSON: ${what}${where}`, SYNTAX_HINT);
    }
  });
}

function flatten(position: string, value: unknown): ManifestObject[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidDataError(
      `${position} is not a Kubernetes object: expected a mapping with apiVersion and kind, got ${Array.isArray(value) ? 'a list' : JSON.stringify(value)}`,
      'each document is one object (kind: Service, EndpointSlice, Endpoints or List)',
    );
  }
  const object = value as Record<string, unknown>;
  const kind = object.kind;
  if (typeof kind !== 'string' || !kind.endsWith('List') || !('items' in object))
    return [{ position, value: object }];
  if (!Array.isArray(object.items) && object.items !== null) {
    throw invalidDataError(
      `${position} (${kind}): items must be a list`,
      'kubectl prints List objects with items: [...]',
    );
  }
  // The API's typed lists (ServiceList ...) leave kind and apiVersion out of their items.
  const itemKind = kind === 'List' ? undefined : kind.slice(0, -'List'.length);
  return ((object.items as unknown[] | null) ?? []).flatMap((item, index) => {
    const itemPosition = `${position} item ${index + 1}`;
    if (typeof item === 'object' && item !== null && !Array.isArray(item) && itemKind !== undefined) {
      const typed = item as Record<string, unknown>;
      return flatten(itemPosition, { kind: itemKind, apiVersion: object.apiVersion, ...typed });
    }
    return flatten(itemPosition, item);
  });
}

function firstLine(text: string): string {
  return text.split('\n')[0]?.replace(/:$/, '') ?? text;
}
