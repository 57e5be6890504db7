/**
 * oclif reads the first word as the command, so `lbctl --netns lb service list` would fail. Operators put
 * global flags first (as with `ip -n NS ...` or `kubectl -o json get ...`), so leading global flags
 * (`--netns NAME`, `--json`) are moved behind the command words.
 */
const GLOBAL_FLAGS_WITH_VALUE = new Set(['--netns']);
const GLOBAL_SWITCHES = new Set(['--json']);

export function hoistGlobalFlags(argv: readonly string[]): string[] {
  const leading: string[] = [];
  let i = 0;
  while (i < argv.length) {
    const arg = argv[i] ?? '';
    const name = arg.split('=')[0] ?? '';
    if (GLOBAL_SWITCHES.has(arg)) {
      leading.push(arg);
      i += 1;
      continue;
    }
    if (!GLOBAL_FLAGS_WITH_VALUE.has(name)) break;
    if (arg.includes('=')) {
      leading.push(arg);
      i += 1;
    } else {
      leading.push(arg, ...(argv[i + 1] !== undefined ? [argv[i + 1] as string] : []));
      i += 2;
    }
  }
  if (leading.length === 0) return [...argv];
  const rest = argv.slice(i);
  const separator = rest.indexOf('--');
  return separator < 0
    ? [...rest, ...leading]
    : [...rest.slice(0, separator), ...leading, ...rest.slice(separator)];
}
