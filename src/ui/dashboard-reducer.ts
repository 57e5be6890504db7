/**
 * What the dashboard's keys do, as a pure reducer over the view state (which pane, sort, filter, scroll,
 * pause). The Ink component only forwards key presses here, so the key map is tested without a terminal.
 */
import { SORT_KEYS, type SortOrder } from './connection-table.js';

export const VIEWS = ['overview', 'connections', 'headers', 'services', 'cpus'] as const;
export type View = (typeof VIEWS)[number];

export interface UiState {
  view: View;
  help: boolean;
  paused: boolean;
  /** Header feed shows raw hex instead of the decoded header. */
  rawHex: boolean;
  sort: SortOrder;
  /** Applied text filter ("" = none). */
  filter: string;
  /** The filter being typed after "/"; null when not typing. */
  editing: string | null;
  /** First row shown of the current view's list. */
  scroll: number;
}

/** The subset of Ink's Key flags the dashboard reads. */
export interface KeyFlags {
  upArrow?: boolean;
  downArrow?: boolean;
  pageUp?: boolean;
  pageDown?: boolean;
  home?: boolean;
  end?: boolean;
  return?: boolean;
  escape?: boolean;
  tab?: boolean;
  shift?: boolean;
  backspace?: boolean;
  delete?: boolean;
  ctrl?: boolean;
  meta?: boolean;
}

export interface ScrollBounds {
  /** Rows one page scrolls. */
  pageSize: number;
  /** Largest useful scroll offset (list length minus page height). */
  maxScroll: number;
}

export function initialUi(overrides: Partial<UiState> = {}): UiState {
  return {
    view: 'overview',
    help: false,
    paused: false,
    rawHex: false,
    sort: { key: 'age', reverse: false },
    filter: '',
    editing: null,
    scroll: 0,
    ...overrides,
  };
}

/** The key-hint footer and the help screen are generated from this table so they cannot drift. */
export const KEY_HELP: ReadonlyArray<[keys: string, what: string]> = [
  ['q', 'quit'],
  ['?', 'help'],
  ['p', 'pause'],
  ['s', 'sort'],
  ['r', 'rev'],
  ['/', 'filter'],
  ['tab', 'pane'],
  ['x', 'hex'],
  ['c', 'cpu'],
  ['↑↓', 'scroll'],
];

export const HELP_TEXT: readonly string[] = [
  'q, Ctrl+C      quit (the terminal is restored)',
  '?, Esc         close this help',
  'p, space       pause or resume the display (collection continues)',
  's / S          next / previous sort key of the connections: age (newest first),',
  '               bytes, bytes-in, bytes-out (largest first), idle, client,',
  '               backend, service, state',
  'r              reverse the sort order',
  '/              filter connections and headers: each word must occur in the',
  '               client, VIP, backend, service or state. Enter applies, Esc',
  '               cancels the edit',
  'Esc            clear the filter',
  'tab, shift+tab next / previous pane; 1-5 jump: overview, connections, headers,',
  '               services, per-CPU',
  'c              per-CPU counters (again: back to the overview)',
  'x              header feed: decoded headers or raw hex',
  '↑ ↓ j k        scroll one row; PgUp PgDn a page; Home End (g G) top and bottom',
];

/**
 * Ink hands over several keys at once when they arrive in one read (a fast typist, tmux send-keys, a
 * paste). Outside the filter prompt each printable character is its own command, so split them.
 */
export function splitKeys(input: string, key: KeyFlags, editing: boolean): string[] {
  const special =
    key.upArrow || key.downArrow || key.pageUp || key.pageDown || key.home || key.end || key.return;
  if (editing || special || key.escape || key.tab || key.ctrl || key.meta || input.length <= 1)
    return [input];
  return [...input];
}

export interface KeyResult {
  ui: UiState;
  quit: boolean;
}

const clamp = (n: number, max: number) => Math.max(0, Math.min(n, Math.max(0, max)));

export function handleKey(ui: UiState, input: string, key: KeyFlags, bounds: ScrollBounds): KeyResult {
  const next = (changes: Partial<UiState>): KeyResult => ({ ui: { ...ui, ...changes }, quit: false });
  if (key.ctrl && input === 'c') return { ui, quit: true };

  if (ui.editing !== null) {
    if (key.escape) return next({ editing: null });
    if (key.return) return next({ filter: ui.editing.trim(), editing: null, scroll: 0 });
    if (key.backspace || key.delete) return next({ editing: ui.editing.slice(0, -1) });
    if (key.ctrl && input === 'u') return next({ editing: '' });
    if (input && !key.ctrl && !key.meta && !key.tab && !key.upArrow && !key.downArrow) {
      return next({ editing: ui.editing + input.replace(/[\r\n\t]/g, '') });
    }
    return { ui, quit: false };
  }

  if (input === 'q') return { ui, quit: true };
  if (ui.help) return input === '?' || key.escape ? next({ help: false }) : { ui, quit: false };

  const view = (v: View) => next({ view: v, scroll: 0 });
  const step = (delta: number) => next({ scroll: clamp(ui.scroll + delta, bounds.maxScroll) });

  if (input === '?') return next({ help: true });
  if (input === 'p' || input === ' ') return next({ paused: !ui.paused });
  if (input === 's' || input === 'S') {
    const i = SORT_KEYS.indexOf(ui.sort.key);
    const j = (i + (input === 's' ? 1 : SORT_KEYS.length - 1)) % SORT_KEYS.length;
    return next({ sort: { key: SORT_KEYS[j] ?? 'age', reverse: false }, scroll: 0 });
  }
  if (input === 'r') return next({ sort: { ...ui.sort, reverse: !ui.sort.reverse }, scroll: 0 });
  if (input === '/') return next({ editing: ui.filter });
  if (key.escape) return ui.filter ? next({ filter: '', scroll: 0 }) : { ui, quit: false };
  if (input === 'x') return next({ rawHex: !ui.rawHex });
  if (input === 'c') return view(ui.view === 'cpus' ? 'overview' : 'cpus');
  if (key.tab) {
    const i = VIEWS.indexOf(ui.view);
    return view(VIEWS[(i + (key.shift ? VIEWS.length - 1 : 1)) % VIEWS.length] ?? 'overview');
  }
  if (/^[1-5]$/.test(input)) return view(VIEWS[Number(input) - 1] ?? 'overview');
  if (key.upArrow || input === 'k') return step(-1);
  if (key.downArrow || input === 'j') return step(1);
  if (key.pageUp) return step(-bounds.pageSize);
  if (key.pageDown) return step(bounds.pageSize);
  if (key.home || input === 'g') return next({ scroll: 0 });
  if (key.end || input === 'G') return next({ scroll: clamp(bounds.maxScroll, bounds.maxScroll) });
  return { ui, quit: false };
}
