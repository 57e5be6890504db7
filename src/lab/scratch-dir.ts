import { rm } from 'node:fs/promises';

/** Remove a daemon's private temp dir (config, logs, pid file); a missing one is fine. */
export function removeScratchDir(dir: string): Promise<void> {
  return rm(dir, { recursive: true, force: true });
}

/** Stop a lab daemon by its PID, then remove its private temp dir. */
export async function stopAndRemove(daemon: { stop(): Promise<void> }, dir: string): Promise<void> {
  await daemon.stop();
  await removeScratchDir(dir);
}
