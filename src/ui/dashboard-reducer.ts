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
  /** The highlighted row of the connections or headers pane (Enter opens it). */
  selected: number;
  /** The detail view of the row Enter opened is showing (the caller keeps the row itself). */
  detail: boolean;
  /** First line shown of the detail view. */
  detailScroll: number;
}

/** Panes whose rows can be selected and opened with Enter. */
export const SELECTABLE_VIEWS: readonly View[] = ['connections', 'headers'];

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
  /** Rows in the current pane's list (the detail view's lines while it is open). */
  length: number;
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
    selected: 0,
    detail: false,
    detailScroll: 0,
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
  ['⏎', 'open'],
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
  '↑ ↓ j k        scroll one row; PgUp PgDn a page; Home End (g G) top and bottom;',
  '               in the connections and headers panes they move the highlighted row',
  'Enter          connections and headers panes: open the highlighted row: the whole',
  '               decoded header with every TLV, and its raw hex. Esc or Enter closes it',
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
  if (ui.detail) return detailKey(ui, input, key, bounds);

  const view = (v: View) => next({ view: v, scroll: 0, selected: 0 });
  const selecting = SELECTABLE_VIEWS.includes(ui.view);
  const step = (delta: number) => {
    if (!selecting) return next({ scroll: clamp(ui.scroll + delta, bounds.maxScroll) });
    // The highlight moves; the page follows it just enough to keep it in sight.
    const selected = clamp(ui.selected + delta, bounds.length - 1);
    const scroll = Math.min(Math.max(ui.scroll, selected - bounds.pageSize + 1), selected);
    return next({ selected, scroll: clamp(scroll, bounds.maxScroll) });
  };
  if (key.return && selecting && bounds.length > 0) return next({ detail: true, detailScroll: 0 });

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
  if (key.home || input === 'g') return step(-Number.MAX_SAFE_INTEGER);
  if (key.end || input === 'G') return step(Number.MAX_SAFE_INTEGER);
  return { ui, quit: false };
}

/** Keys while a row's detail view is open: scroll it, or close it (Esc, Enter, Backspace). */
function detailKey(ui: UiState, input: string, key: KeyFlags, bounds: ScrollBounds): KeyResult {
  const scrollTo = (n: number): KeyResult => ({
    ui: { ...ui, detailScroll: clamp(n, bounds.maxScroll) },
    quit: false,
  });
  if (key.escape || key.return || key.backspace || key.delete)
    return { ui: { ...ui, detail: false }, quit: false };
  if (key.upArrow || input === 'k') return scrollTo(ui.detailScroll - 1);
  if (key.downArrow || input === 'j') return scrollTo(ui.detailScroll + 1);
  if (key.pageUp) return scrollTo(ui.detailScroll - bounds.pageSize);
  if (key.pageDown) return scrollTo(ui.detailScroll + bounds.pageSize);
  if (key.home || input === 'g') return scrollTo(0);
  if (key.end || input === 'G') return scrollTo(bounds.maxScroll);
  return { ui, quit: false };
}
