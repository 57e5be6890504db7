import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  addressSortKey,
  filterConnections,
  liveConnectionCounts,
  pageRows,
  ppv2Cell,
  SORT_KEYS,
  sortConnections,
} from '../../src/ui/connection-table.js';
import { CONNECTIONS, connection } from './ui-fixtures.js';

const clients = (rows: Array<{ client: string }>) => rows.map((r) => r.client);

describe('connection table: sort, filter, page', () => {
  it('sorts by age, newest first, and reverses', () => {
    assert.deepEqual(clients(sortConnections(CONNECTIONS, { key: 'age', reverse: false })), [
      '192.0.2.9:40002',
      '192.0.2.10:40001',
      '192.0.2.11:40003',
    ]);
    assert.deepEqual(clients(sortConnections(CONNECTIONS, { key: 'age', reverse: true })), [
      '192.0.2.11:40003',
      '192.0.2.10:40001',
      '192.0.2.9:40002',
    ]);
  });

  it('sorts by bytes, largest first, and by bytes in one direction', () => {
    assert.deepEqual(clients(sortConnections(CONNECTIONS, { key: 'bytes', reverse: false })), [
      '192.0.2.9:40002',
      '192.0.2.11:40003',
      '192.0.2.10:40001',
    ]);
    assert.equal(sortConnections(CONNECTIONS, { key: 'bytes-in', reverse: false })[0]?.bytesFromClient, 9000);
  });

  it('sorts addresses numerically: .9 before .10 before .11', () => {
    assert.deepEqual(clients(sortConnections(CONNECTIONS, { key: 'client', reverse: false })), [
      '192.0.2.9:40002',
      '192.0.2.10:40001',
      '192.0.2.11:40003',
    ]);
    assert.ok(addressSortKey('192.0.2.9:80') < addressSortKey('192.0.2.10:80'));
    assert.ok(addressSortKey('192.0.2.10:9') < addressSortKey('192.0.2.10:10'));
    assert.ok(addressSortKey('203.0.113.1:80') < addressSortKey('[2001:db8::1]:80'), 'IPv4 before IPv6');
  });

  it('sorts by every key without throwing, and breaks ties by client', () => {
    for (const key of SORT_KEYS)
      assert.equal(sortConnections(CONNECTIONS, { key, reverse: false }).length, 3);
    const tied = [connection('192.0.2.20:1'), connection('192.0.2.3:1')];
    assert.deepEqual(clients(sortConnections(tied, { key: 'state', reverse: false })), [
      '192.0.2.3:1',
      '192.0.2.20:1',
    ]);
  });

  it('filters by service, address or state; every word must match', () => {
    assert.deepEqual(clients(filterConnections(CONNECTIONS, 'api')), ['192.0.2.11:40003']);
    assert.deepEqual(clients(filterConnections(CONNECTIONS, '198.51.100.3')), ['192.0.2.9:40002']);
    assert.deepEqual(clients(filterConnections(CONNECTIONS, 'web 192.0.2.10')), ['192.0.2.10:40001']);
    assert.deepEqual(clients(filterConnections(CONNECTIONS, 'FIN')), ['192.0.2.11:40003']);
    assert.equal(filterConnections(CONNECTIONS, '   ').length, 3);
    assert.equal(filterConnections(CONNECTIONS, 'nothing-like-this').length, 0);
  });

  it('pages and counts the rows above and below, clamping the offset', () => {
    const rows = [1, 2, 3, 4, 5, 6, 7];
    assert.deepEqual(pageRows(rows, 0, 3), { rows: [1, 2, 3], offset: 0, above: 0, below: 4 });
    assert.deepEqual(pageRows(rows, 3, 3), { rows: [4, 5, 6], offset: 3, above: 3, below: 1 });
    assert.deepEqual(pageRows(rows, 99, 3), { rows: [5, 6, 7], offset: 4, above: 4, below: 0 });
    assert.deepEqual(pageRows([1], 5, 3), { rows: [1], offset: 0, above: 0, below: 0 });
  });

  it('counts live connections per backend and names the PPv2 state', () => {
    const live = liveConnectionCounts(CONNECTIONS);
    assert.equal(live.byService.get(1)?.total, 2);
    assert.deepEqual(
      [...(live.byService.get(1)?.byBackend ?? [])],
      [
        ['198.51.100.2:80', 1],
        ['198.51.100.3:80', 1],
      ],
    );
    assert.deepEqual([...(live.byService.get(2)?.byBackend ?? [])], [['198.51.100.4:80', 1]]);
    assert.equal(ppv2Cell(CONNECTIONS[0] ?? connection('x')), 'yes');
    const pending = connection('192.0.2.1:1', {
      ppv2: { expected: true, injected: false, headerBytes: 28, reinjections: 0 },
    });
    assert.equal(ppv2Cell(pending), 'wait');
    const reinjected = connection('192.0.2.1:1', {
      ppv2: { expected: true, injected: true, headerBytes: 28, reinjections: 2 },
    });
    assert.equal(ppv2Cell(reinjected), 're2');
  });
});
