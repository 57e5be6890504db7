/**
 * One place that undoes everything a benchmark run created, in reverse order, whether the run ends
 * normally, throws, or is interrupted (SIGINT/SIGTERM/SIGHUP). Each step runs once; a failing step is
 * reported and the others still run.
 */
export class Cleanup {
  private readonly steps: Array<{ what: string; step: () => unknown }> = [];
  private running: Promise<void> | undefined;
  /** Set by a signal: long loops check it and stop instead of measuring while things are torn down. */
  interrupted = false;

  /** Register an undo step; returns a function that runs it early (and removes it). */
  add(what: string, step: () => unknown): () => Promise<void> {
    const entry = { what, step };
    this.steps.push(entry);
    return async () => {
      const at = this.steps.indexOf(entry);
      if (at < 0) return;
      this.steps.splice(at, 1);
      await runStep(entry);
    };
  }

  /** Run every remaining step, newest first. Safe to call more than once. */
  run(): Promise<void> {
    this.running ??= (async () => {
      while (this.steps.length > 0) await runStep(this.steps.pop() as { what: string; step: () => unknown });
    })();
    return this.running;
  }

  /** Clean up and exit on the usual termination signals. Returns a function that removes the handlers. */
  onSignals(log: (line: string) => void): () => void {
    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
    const handler = (signal: NodeJS.Signals) => {
      this.interrupted = true;
      log(`${signal}: cleaning up`);
      void this.run().finally(() => process.exit(130));
    };
    for (const s of signals) process.on(s, handler);
    return () => {
      for (const s of signals) process.off(s, handler);
    };
  }
}

async function runStep(entry: { what: string; step: () => unknown }): Promise<void> {
  try {
    await entry.step();
  } catch (err) {
    console.error(
      `[bench] cleanup: ${entry.what} failed: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}
