import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';

/** What a test needs from the machine: root, binaries on PATH, files (headers, shared vectors). */
export interface Needs {
  root?: boolean;
  binaries?: string[];
  files?: string[];
}

/**
 * End-to-end prerequisites (root, a binary, a file). Under CI=true a missing one FAILS the test:
 * CI must never turn green by skipping. On a developer machine it skips with the reason.
 */
export function missingPrerequisites(needs: Needs): string[] {
  const missing: string[] = [];
  if (needs.root && process.getuid?.() !== 0) missing.push('root privileges');
  // The sbin directories too, as src/sys/run.ts looks there when it runs a tool a user's PATH lacks.
  const env = { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/local/sbin:/usr/sbin:/sbin` };
  for (const bin of needs.binaries ?? []) {
    if (spawnSync('sh', ['-c', `command -v ${bin}`], { env }).status !== 0)
      missing.push(`the "${bin}" binary`);
  }
  for (const file of needs.files ?? []) if (!existsSync(file)) missing.push(`the file ${file}`);
  return missing;
}

const underCi = () => process.env.CI === 'true';
const reasonFor = (missing: string[]) => `missing ${missing.join(', ')} (run scripts/setup.sh as root)`;

/** Call first in a test. Returns false if skipped (then return at once); throws under CI=true. */
export function requirePrerequisites(t: TestContext, needs: Needs): boolean {
  const missing = missingPrerequisites(needs);
  return missing.length === 0 || skipOrFailUnderCi(t, reasonFor(missing));
}

/**
 * A test that cannot run or conclude on this machine (e.g. another process holds a kernel setting it
 * needs): a skip with the reason on a developer machine, a failure under CI=true. Returns false, so a test
 * can `return skipOrFailUnderCi(t, ...)`.
 */
export function skipOrFailUnderCi(t: TestContext, reason: string): false {
  if (underCi()) throw new Error(`cannot run under CI: ${reason}`);
  t.skip(reason);
  return false;
}

/**
 * For a whole `describe`: pass `skip` in its options and call `assertPrerequisites()` first in its `before`.
 * Under CI=true `skip` is always false, so the suite runs and `assertPrerequisites()` fails it instead.
 *
 *   const { skip, assertPrerequisites } = suitePrerequisites({ root: true, binaries: ['ip'] });
 *   describe('...', { skip }, () => { before(() => { assertPrerequisites(); ... }); });
 */
export function suitePrerequisites(needs: Needs): { skip: string | false; assertPrerequisites(): void } {
  const missing = missingPrerequisites(needs);
  return {
    skip: missing.length > 0 && !underCi() ? reasonFor(missing) : false,
    assertPrerequisites() {
      if (missing.length > 0) throw new Error(`prerequisite check failed under CI: ${reasonFor(missing)}`);
    },
  };
}
