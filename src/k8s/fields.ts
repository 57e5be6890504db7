import { LbctlError } from '../errors.js';
import type { ExitCodeName } from '../exit-codes.js';

/**
 * Typed reads from an untyped manifest. A `Field` knows which document it came from and its path inside
 * that document ("spec.ports[0].targetPort"), so every error can say where the bad value is, in one line:
 * `document 2 (Service default/web): spec.ports[0].port must be an integer from 1 to 65535, got "x"`.
 */
export interface Field {
  /** "document 2 (Service default/web)". */
  readonly doc: string;
  /** "" for the document itself. */
  readonly path: string;
  readonly value: unknown;
}

export const rootField = (doc: string, value: unknown): Field => ({ doc, path: '', value });

/** An error about a field; `kind` is INVALID_DATA (a malformed manifest) unless said otherwise. */
export function fieldError(
  field: Pick<Field, 'doc' | 'path'>,
  problem: string,
  hint?: string,
  kind: ExitCodeName = 'INVALID_DATA',
): LbctlError {
  const where = field.path === '' ? field.doc : `${field.doc}: ${field.path}`;
  return new LbctlError(kind, `${where} ${problem}`, hint);
}

/** Keys that are not plain identifiers (annotation and label keys) are written as ["loxilb.io/lbmode"]. */
export function childPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) return path === '' ? key : `${path}.${key}`;
  return `${path}[${JSON.stringify(key)}]`;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Kubernetes treats an absent field and an explicit null alike. */
const absent = (value: unknown) => value === undefined || value === null;

const shown = (value: unknown) => JSON.stringify(value) ?? String(value);

export function child(field: Field, key: string): Field {
  const value = isObject(field.value) ? field.value[key] : undefined;
  return { doc: field.doc, path: childPath(field.path, key), value };
}

/** The field as an object; absent or null reads as {} so optional sections need no special case. */
export function objectAt(field: Field): Field {
  if (absent(field.value)) return { ...field, value: {} };
  if (!isObject(field.value)) throw fieldError(field, `must be an object, got ${shown(field.value)}`);
  return field;
}

/** The elements of a list; absent or null is an empty list. */
export function listAt(field: Field): Field[] {
  if (absent(field.value)) return [];
  if (!Array.isArray(field.value)) throw fieldError(field, `must be a list, got ${shown(field.value)}`);
  return field.value.map((value, index) => ({ doc: field.doc, path: childPath(field.path, index), value }));
}

export function optionalString(field: Field): string | undefined {
  if (absent(field.value)) return undefined;
  if (typeof field.value !== 'string') throw fieldError(field, `must be a string, got ${shown(field.value)}`);
  return field.value;
}

export function requiredString(field: Field): string {
  const value = optionalString(field);
  if (value === undefined || value === '') throw fieldError(field, 'is missing');
  return value;
}

export function optionalBoolean(field: Field): boolean | undefined {
  if (absent(field.value)) return undefined;
  if (typeof field.value !== 'boolean')
    throw fieldError(field, `must be true or false, got ${shown(field.value)}`);
  return field.value;
}

/** A TCP/UDP port number. */
export function optionalPort(field: Field): number | undefined {
  if (absent(field.value)) return undefined;
  const value = field.value;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) {
    throw fieldError(field, `must be an integer from 1 to 65535, got ${shown(value)}`);
  }
  return value;
}

export function requiredPort(field: Field): number {
  const value = optionalPort(field);
  if (value === undefined) throw fieldError(field, 'is missing', 'give the port number, e.g. 80');
  return value;
}

/**
 * A string-to-string map such as metadata.annotations or metadata.labels. Kubernetes refuses non-string
 * values there (an unquoted `yes` or `true` in YAML is the usual cause), and so does lbctl.
 */
export function stringMap(field: Field): Map<string, string> {
  const object = objectAt(field).value as Record<string, unknown>;
  const map = new Map<string, string>();
  for (const [key, value] of Object.entries(object)) {
    if (typeof value !== 'string') {
      throw fieldError(
        { doc: field.doc, path: childPath(field.path, key) },
        `must be a string, got ${shown(value)}`,
        `quote the value in YAML, e.g. "${String(value)}"`,
      );
    }
    map.set(key, value);
  }
  return map;
}
