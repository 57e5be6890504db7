import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

/**
 * The layering of src/ (DESIGN.md "Shape", issue 15) enforced on the import statements: errors and exit
 * codes are a base every layer may use, the layers below the CLI never reach the CLI or oclif, no two
 * directories import each other, and the PPv2 codec stays pure.
 */
const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src');
const BASE = '(base)'; // modules directly in src/: errors.ts, exit-codes.ts
const CLI_LAYERS = new Set(['cli', 'commands']);
const LOWER_LAYERS = ['ppv2', 'bpf', 'core', 'k8s', 'lab', 'sys', 'net', 'health', 'ui'];

interface Import {
  file: string; // relative to src/
  specifier: string;
  /** Relative to src/ for a relative specifier, undefined for a package. */
  target: string | undefined;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return /\.tsx?$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [full] : [];
  });
}

/** Static `import`/`export ... from`, side-effect `import '...'` and dynamic `import('...')`. */
const IMPORT_PATTERN = /(?:\bfrom\s*|\bimport\s*\(?\s*)['"]([^'"]+)['"]/g;

function importsOf(full: string): Import[] {
  const file = path.relative(SRC, full);
  return [...readFileSync(full, 'utf8').matchAll(IMPORT_PATTERN)].map((match) => {
    const specifier = match[1] ?? '';
    const target = specifier.startsWith('.')
      ? path.relative(SRC, path.resolve(path.dirname(full), specifier))
      : undefined;
    return { file, specifier, target };
  });
}

/** The top-level directory of a path relative to src/, or BASE for a module directly in src/. */
function layerOf(relative: string): string {
  const parts = relative.split(path.sep);
  return parts.length > 1 ? (parts[0] ?? BASE) : BASE;
}

const imports = sourceFiles(SRC).flatMap(importsOf);
const crossLayer = imports.filter((i) => i.target !== undefined && layerOf(i.file) !== layerOf(i.target));
const show = (list: Import[]) => list.map((i) => `${i.file} imports ${i.specifier}`);

describe('source layers', () => {
  it('the scanner sees the imports it checks (the CLI imports oclif, commands import the CLI)', () => {
    assert.ok(
      imports.some((i) => i.file === path.join('cli', 'base-command.ts') && i.specifier === '@oclif/core'),
    );
    assert.ok(crossLayer.some((i) => layerOf(i.file) === 'commands' && layerOf(i.target ?? '') === 'cli'));
    assert.ok(crossLayer.some((i) => layerOf(i.file) === 'ui' && layerOf(i.target ?? '') === 'core'));
  });

  for (const layer of LOWER_LAYERS) {
    it(`${layer}/ imports neither the CLI layers nor oclif`, () => {
      const upward = imports.filter(
        (i) =>
          layerOf(i.file) === layer &&
          (i.specifier.startsWith('@oclif/') || CLI_LAYERS.has(layerOf(i.target ?? BASE))),
      );
      assert.deepEqual(show(upward), []);
    });
  }

  it('no two directories import each other (e.g. ui/ and cli/)', () => {
    const edges = new Set(crossLayer.map((i) => `${layerOf(i.file)} -> ${layerOf(i.target ?? '')}`));
    const cycles = [...edges].filter((edge) => {
      const [from, to] = edge.split(' -> ');
      return edges.has(`${to} -> ${from}`);
    });
    assert.deepEqual(cycles, []);
  });

  it('the base modules (errors, exit codes) import no layer', () => {
    assert.deepEqual(show(crossLayer.filter((i) => layerOf(i.file) === BASE)), []);
  });

  it('the PPv2 codec imports only itself: no I/O, no other layer', () => {
    const outside = imports.filter(
      (i) =>
        layerOf(i.file) === 'ppv2' &&
        (i.target === undefined ? i.specifier.startsWith('node:') : layerOf(i.target) !== 'ppv2'),
    );
    assert.deepEqual(show(outside), []);
  });
});
