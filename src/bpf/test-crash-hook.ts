/**
 * TEST ONLY: LBCTL_TEST_CRASH_AFTER_WRITES=N makes the process SIGKILL itself right after its Nth BPF map
 * write (update or delete) succeeded. The crash-convergence test uses it to stop `lbctl apply` at exact
 * points of its sequence of writes, which timed kills cannot hit reproducibly. Unset (the normal case), it
 * costs one comparison per write. Not a user-facing setting: nothing is cleaned up, on purpose.
 */
const limit = Number.parseInt(process.env.LBCTL_TEST_CRASH_AFTER_WRITES ?? '', 10);
let writes = 0;

export function countMapWrite(): void {
  if (!(limit > 0)) return;
  writes += 1;
  if (writes >= limit) process.kill(process.pid, 'SIGKILL');
}
