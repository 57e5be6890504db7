import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  handleKey,
  initialUi,
  type KeyFlags,
  splitKeys,
  type UiState,
} from '../../src/ui/dashboard-reducer.js';

const bounds = { pageSize: 5, maxScroll: 12, length: 17 };

/** Press keys in order: strings are typed, objects are special keys. */
function press(ui: UiState, ...keys: Array<string | KeyFlags>): { ui: UiState; quit: boolean } {
  let result = { ui, quit: false };
  for (const k of keys) {
    result =
      typeof k === 'string' ? handleKey(result.ui, k, {}, bounds) : handleKey(result.ui, '', k, bounds);
    if (result.quit) return result;
  }
  return result;
}

describe('dashboard keys', () => {
  it('quits on q and Ctrl+C, also from the help screen', () => {
    assert.equal(press(initialUi(), 'q').quit, true);
    assert.equal(handleKey(initialUi(), 'c', { ctrl: true }, bounds).quit, true);
    assert.equal(press(initialUi(), '?', 'q').quit, true);
  });

  it('opens and closes help; other keys do nothing while it is open', () => {
    const open = press(initialUi(), '?').ui;
    assert.equal(open.help, true);
    assert.equal(press(open, 's').ui.sort.key, 'age');
    assert.equal(press(open, '?').ui.help, false);
    assert.equal(press(open, { escape: true }).ui.help, false);
  });

  it('pauses and resumes with p or space', () => {
    assert.equal(press(initialUi(), 'p').ui.paused, true);
    assert.equal(press(initialUi(), 'p', ' ').ui.paused, false);
  });

  it('cycles sort keys forwards and backwards, and reverses', () => {
    assert.equal(press(initialUi(), 's').ui.sort.key, 'bytes');
    assert.equal(press(initialUi(), 's', 's').ui.sort.key, 'bytes-in');
    assert.equal(press(initialUi(), 'S').ui.sort.key, 'state');
    assert.deepEqual(press(initialUi(), 'r').ui.sort, { key: 'age', reverse: true });
  });

  it('edits a filter after /, applies it on Enter and cancels on Esc', () => {
    const typing = press(initialUi(), '/', 'w', 'e', 'b', 'x', { backspace: true });
    assert.equal(typing.ui.editing, 'web');
    assert.equal(press(typing.ui, 'q').quit, false, 'q is a letter while typing');
    const applied = press(typing.ui, { return: true }).ui;
    assert.equal(applied.filter, 'web');
    assert.equal(applied.editing, null);
    const cancelled = press(applied, '/', 'zzz', { escape: true }).ui;
    assert.equal(cancelled.filter, 'web', 'Esc while typing keeps the applied filter');
    assert.equal(press(cancelled, { escape: true }).ui.filter, '', 'Esc clears it');
  });

  it('switches panes with tab, shift+tab, digits and c', () => {
    assert.equal(press(initialUi(), { tab: true }).ui.view, 'connections');
    assert.equal(press(initialUi(), { tab: true, shift: true }).ui.view, 'cpus');
    assert.equal(press(initialUi(), '3').ui.view, 'headers');
    assert.equal(press(initialUi(), 'c').ui.view, 'cpus');
    assert.equal(press(initialUi(), 'c', 'c').ui.view, 'overview');
    assert.equal(press(initialUi({ scroll: 7 }), '2').ui.scroll, 0, 'a new pane starts at the top');
  });

  it('scrolls within bounds', () => {
    assert.equal(press(initialUi(), { downArrow: true }, 'j').ui.scroll, 2);
    assert.equal(press(initialUi(), { upArrow: true }).ui.scroll, 0);
    assert.equal(
      press(initialUi(), { pageDown: true }, { pageDown: true }, { pageDown: true }).ui.scroll,
      12,
    );
    assert.equal(press(initialUi(), 'G').ui.scroll, 12);
    assert.equal(press(initialUi({ scroll: 9 }), 'g').ui.scroll, 0);
    assert.equal(press(initialUi({ scroll: 9 }), { pageUp: true }).ui.scroll, 4);
  });

  it('toggles raw hex', () => {
    assert.equal(press(initialUi(), 'x').ui.rawHex, true);
  });

  it('splits keys that arrive together, except while typing a filter', () => {
    assert.deepEqual(splitKeys('3x', {}, false), ['3', 'x']);
    assert.deepEqual(splitKeys('web', {}, true), ['web']);
    assert.deepEqual(splitKeys('q', {}, false), ['q']);
  });
});
