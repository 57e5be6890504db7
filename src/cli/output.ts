import chalk from 'chalk';
import Table from 'cli-table3';

/**
 * Tables for humans. Colour comes only from chalk's decision for stdout (TTY, FORCE_COLOR, NO_COLOR via
 * color-env.ts); cli-table3 would otherwise colour headers and borders on its own, even into a pipe.
 */
export function renderTable(head: string[], rows: Array<Array<string | number>>): string {
  const colored = chalk.level > 0;
  const table = new Table({
    head: colored ? head.map((h) => chalk.bold(h)) : head,
    style: { head: [], border: [], compact: true },
  });
  for (const row of rows) table.push(row.map((cell) => String(cell)));
  return table.toString();
}

/** Two-column "field  value" listing, used by `show`-style commands. */
export function renderKeyValue(pairs: Array<[string, string | number]>): string {
  const colored = chalk.level > 0;
  const width = Math.max(0, ...pairs.map(([k]) => k.length));
  return pairs
    .map(([key, value]) => `${colored ? chalk.bold(key.padEnd(width)) : key.padEnd(width)}  ${value}`)
    .join('\n');
}
