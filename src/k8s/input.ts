import { readFile } from 'node:fs/promises';
import { notFoundError, usageError } from '../errors.js';
import { readAllStdin } from '../sys/stdin.js';
import { type ManifestReading, servicesFromManifests } from './desired.js';
import { parseManifests } from './documents.js';
import { readObjects } from './objects.js';

/** The text of `-f FILE`, or of stdin for `-f -`. */
export async function readManifestText(filename: string): Promise<string> {
  if (filename === '-') {
    if (process.stdin.isTTY)
      throw usageError('-f - reads stdin, but stdin is a terminal', 'pipe the manifests in, or pass -f FILE');
    return (await readAllStdin()).toString('utf8');
  }
  try {
    return await readFile(filename, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw notFoundError(`cannot read ${filename}: no such file`, 'check the path, or pass -f - for stdin');
    if (code === 'EISDIR')
      throw usageError(
        `${filename} is a directory`,
        'pass one file, or concatenate them: cat *.yaml | lbctl apply -f -',
      );
    throw err;
  }
}

/** Manifest text to the lbctl services it describes: parse, read the objects, match, validate. */
export function readManifest(text: string): ManifestReading {
  const objects = parseManifests(text);
  // Like kubectl: an empty input is a mistake (a failed pipe), and with --prune it would delete everything.
  if (objects.length === 0)
    throw usageError('the input has no objects', 'pass a file or stdin with manifests');
  return servicesFromManifests(readObjects(objects));
}
