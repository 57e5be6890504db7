import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hoistGlobalFlags } from '../../src/cli/argv.js';

describe('hoistGlobalFlags', () => {
  it('moves a leading --netns behind the command words', () => {
    assert.deepEqual(hoistGlobalFlags(['--netns', 'lb', 'service', 'list']), [
      'service',
      'list',
      '--netns',
      'lb',
    ]);
    assert.deepEqual(hoistGlobalFlags(['--netns=lb', 'attach', 'eth0']), ['attach', 'eth0', '--netns=lb']);
  });

  it('moves a leading --json too, alone or with --netns, in any order', () => {
    assert.deepEqual(hoistGlobalFlags(['--json', 'service', 'list']), ['service', 'list', '--json']);
    assert.deepEqual(hoistGlobalFlags(['--json', '--netns', 'lb', 'status']), [
      'status',
      '--json',
      '--netns',
      'lb',
    ]);
    assert.deepEqual(hoistGlobalFlags(['--netns=lb', '--json', 'stats']), ['stats', '--netns=lb', '--json']);
  });

  it('keeps everything after "--" last', () => {
    assert.deepEqual(hoistGlobalFlags(['--netns', 'lb', 'x', '--', '-y']), [
      'x',
      '--netns',
      'lb',
      '--',
      '-y',
    ]);
  });

  it('moves global flags from between the command words too', () => {
    assert.deepEqual(hoistGlobalFlags(['service', '--json', 'list']), ['service', 'list', '--json']);
    assert.deepEqual(hoistGlobalFlags(['service', '--netns', 'lb', 'add', '203.0.113.10:80', '--ppv2']), [
      'service',
      'add',
      '203.0.113.10:80',
      '--ppv2',
      '--netns',
      'lb',
    ]);
  });

  it('leaves argv alone where the global flags already come last, or there are none', () => {
    assert.deepEqual(hoistGlobalFlags(['status', '--netns', 'lb']), ['status', '--netns', 'lb']);
    assert.deepEqual(hoistGlobalFlags(['stats', '--per-cpu']), ['stats', '--per-cpu']);
    assert.deepEqual(hoistGlobalFlags([]), []);
  });
});
