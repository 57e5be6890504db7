import { spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';

/**
 * End-to-end prerequisites (root, a binary, a kernel feature). Under CI=true a missing one FAILS the test:
 * CI must never turn green by skipping. On a developer machine it skips with the reason.
 */
export function missingPrerequisites(needs: { root?: boolean; binaries?: string[] }): string[] {
  const missing: string[] = [];
  if (needs.root && process.getuid?.() !== 0) missing.push('root privileges');
  for (const bin of needs.binaries ?? []) {
    if (spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0) missing.push(`the "${bin}" binary`);
  }
  return missing;
}

/** Call first in an end-to-end `describe`'s `before`, or at the top of a test. Returns false if skipped. */
export function requirePrerequisites(
  t: TestContext,
  needs: { root?: boolean; binaries?: string[] },
): boolean {
  const missing = missingPrerequisites(needs);
  if (missing.length === 0) return true;
  const reason = `missing ${missing.join(', ')} (run scripts/setup.sh as root)`;
  if (process.env.CI === 'true') throw new Error(`prerequisite check failed under CI: ${reason}`);
  t.skip(reason);
  return false;
}
