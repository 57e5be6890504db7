import type { Hook } from '@oclif/core';
import { usageError } from '../../errors.js';
import { errorJson, errorLine } from '../error-report.js';
import { closestMatch } from '../suggest.js';

/**
 * An unknown command is a usage error like any other: exit code 2, one line on stderr (or the JSON error
 * document with --json), and the nearest real command as the hint.
 */
const hook: Hook<'command_not_found'> = async (options) => {
  const typed = options.id.replaceAll(':', ' ');
  const known = options.config.commandIDs.map((id) => id.replaceAll(':', ' '));
  const nearest = closestMatch(typed, known);
  const error = usageError(
    `unknown command "${typed}"`,
    nearest ? `did you mean "lbctl ${nearest}"? See lbctl --help` : 'see lbctl --help',
  );
  process.exitCode = error.exitCode;
  if (options.argv?.includes('--json'))
    process.stdout.write(`${JSON.stringify(errorJson(error), null, 2)}\n`);
  else process.stderr.write(`${errorLine(error)}\n`);
};

export default hook;
