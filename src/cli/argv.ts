/**
 * oclif reads the leading words as the command, so `lbctl --netns lb service list` or `lbctl service --json
 * list` would fail. Operators put global flags anywhere (as with `ip -n NS ...` or `kubectl -o json get ...`),
 * so every global flag before a `--` (`--netns NAME`, `--netns=NAME`, `--json`) is moved behind the other
 * words, where oclif parses flags.
 */
const GLOBAL_FLAGS_WITH_VALUE = new Set(['--netns']);
const GLOBAL_SWITCHES = new Set(['--json']);

export function hoistGlobalFlags(argv: readonly string[]): string[] {
  const separator = argv.indexOf('--');
  const head = separator < 0 ? argv : argv.slice(0, separator);
  const tail = separator < 0 ? [] : argv.slice(separator);
  const globals: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < head.length; i++) {
    const arg = head[i] ?? '';
    const name = arg.split('=')[0] ?? '';
    if (GLOBAL_SWITCHES.has(arg) || (GLOBAL_FLAGS_WITH_VALUE.has(name) && arg.includes('='))) {
      globals.push(arg);
    } else if (GLOBAL_FLAGS_WITH_VALUE.has(arg)) {
      globals.push(arg, ...(i + 1 < head.length ? [head[i + 1] as string] : []));
      i += 1;
    } else {
      rest.push(arg);
    }
  }
  return [...rest, ...globals, ...tail];
}
