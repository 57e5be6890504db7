import { asLbctlError, LbctlError } from '../errors.js';

/**
 * All-or-nothing changes made of several kernel writes (a service's records, tc filters on several
 * interfaces, a whole apply): each write journals its undo right before it is made, and a failure replays
 * the journal newest first. An undo that fails is reported and the others still run, so one stuck object
 * does not leave the rest half-applied.
 */
export class UndoJournal {
  private readonly steps: Array<{ what: string; run: () => void }> = [];

  /** `what` names the undo for the report when it fails, e.g. "delete backend 0x10001". */
  record(what: string, run: () => void): void {
    this.steps.push({ what, run });
  }

  /** Undo steps journalled so far. */
  get size(): number {
    return this.steps.length;
  }

  /** Runs every undo newest first and empties the journal; returns the undos that failed, with why. */
  rollBack(): string[] {
    const failures: string[] = [];
    for (const step of this.steps.splice(0).reverse()) {
      try {
        step.run();
      } catch (err) {
        failures.push(`${step.what}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    return failures;
  }
}

/** What a failed transaction throws: the error that stopped it, and what undoing could not put back. */
export type RollbackReport = (err: unknown, journal: { size: number }, undoFailures: string[]) => unknown;

/**
 * Runs `work` with a fresh journal. If it throws, the journal is rolled back and `report` decides what to
 * throw; by default the original error, or when some undo failed, the same kind of error saying which.
 */
export function withRollback<T>(
  work: (journal: UndoJournal) => T,
  report: RollbackReport = reportUndoFailures,
): T {
  const journal = new UndoJournal();
  try {
    return work(journal);
  } catch (err) {
    const size = journal.size;
    throw report(err, { size }, journal.rollBack());
  }
}

function reportUndoFailures(err: unknown, _journal: { size: number }, undoFailures: string[]): unknown {
  if (undoFailures.length === 0) return err;
  const cause = asLbctlError(err);
  return new LbctlError(
    cause.kind,
    `${cause.message}; undoing failed (${undoFailures.join('; ')})`,
    cause.hint,
    {
      cause: err,
    },
  );
}
