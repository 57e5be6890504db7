import { clipValue } from '../errors.js';

/**
 * oclif's parser messages as one line that keeps the reason. oclif puts the reason on the lines after a
 * generic first line ("The following error occurred:", "Parsing --limit"), so a first-line cut loses it;
 * its error classes are not exported, so the pinned version's wording is recognised here, and anything
 * not recognised keeps all its meaningful lines, joined.
 */
export function describeParseError(message: string): string {
  const lines = meaningfulLines(message);
  const [first = '', ...rest] = lines;
  const flagParse = /^Parsing (--[\w-]+)$/.exec(first);
  if (flagParse) return `${flagParse[1]}: ${rest.map(describeValueReason).join('; ')}`;
  if (/^The following errors? occurred:$/.test(first)) return rest.map(describeValidation).join('; ');
  const missingArgs = /^Missing \d+ required args?:?$/.exec(first);
  if (missingArgs) return describeMissingArgs(rest);
  const unexpected = /^Unexpected arguments?: (.*)$/.exec(first);
  if (unexpected) return `unexpected argument ${got(unexpected[1])}: the command takes no more arguments`;
  return lines.map(clipUnquoted).join(': ');
}

/** Lines that say something: not blank, not oclif's "See more help" trailer, not its notes on "--". */
function meaningfulLines(message: string): string[] {
  const lines: string[] = [];
  for (const raw of stripAnsi(message).split('\n')) {
    const line = raw.trim();
    if (line.startsWith('Note:')) break; // the rest is advice about "--", repeated by our hint
    if (line === '' || line === 'See more help with --help') continue;
    lines.push(line.replace(/^Error:\s*/, ''));
  }
  return lines;
}

/** Flags.integer's reasons ("Expected an integer greater than or equal to 1 but received: 0"). */
function describeValueReason(reason: string): string {
  const bound = /^Expected an integer (greater|less) than or equal to (-?\d+) but received:\s*(.*)$/.exec(
    reason,
  );
  if (bound)
    return `must be at ${bound[1] === 'greater' ? 'least' : 'most'} ${bound[2]} (got ${got(bound[3])})`;
  const integer = /^Expected an integer but received:\s*(.*)$/.exec(reason);
  if (integer) return `must be a whole number (got ${got(integer[1])})`;
  return clipUnquoted(reason);
}

/** FailedFlagValidationError's reasons: a missing required flag, exclusive or dependent flags. */
function describeValidation(reason: string): string {
  const required = /^Missing required flag ([\w-]+)$/.exec(reason);
  if (required) return `--${required[1]} is required`;
  const exclusive = /^--([\w-]+)(?:=.*)? cannot also be provided when using --([\w-]+)$/s.exec(reason);
  if (exclusive) return `--${exclusive[2]} and --${exclusive[1]} cannot be used together`;
  const dependsOn = /^All of the following must be provided when using --([\w-]+): (.*)$/.exec(reason);
  if (dependsOn) return `--${dependsOn[1]} needs ${dependsOn[2]}`;
  return clipUnquoted(reason);
}

/** RequiredArgsError lists "NAME  description" per missing argument; name them as the usage line does. */
function describeMissingArgs(list: string[]): string {
  const names = list.map((line) => (line.split(/\s{2,}/)[0] ?? line).toUpperCase());
  return names.length === 0 ? 'an argument is missing' : `missing argument ${names.join(', ')}`;
}

/** The value received: a number as is, other text quoted (LbctlError clips quoted values), none said so. */
const got = (value = '') => (value === '' ? 'nothing' : /^-?\d+$/.test(value) ? value : `"${value}"`);

/** An unquoted echo (e.g. "Unexpected argument: <70 KB>") clipped as a whole. */
const clipUnquoted = (text: string) => clipValue(text, 200);

// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escapes start with ESC
const stripAnsi = (text: string) => text.replace(/\u001b\[[0-9;]*m/g, '');
