import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type CtEntry, type CtKey, encodeCtEntry, encodeCtKey } from '../../src/bpf/records.js';
import { listConnections } from '../../src/core/connections.js';
import type { DatapathMaps } from '../../src/core/maps.js';

type Key = Omit<CtKey, 'protocol' | 'family'>;

const NOW = process.hrtime.bigint();

function entry(kind: 'orig' | 'reply', peer: Key, overrides: Partial<CtEntry> = {}): CtEntry {
  return {
    kind,
    peer: { ...peer, protocol: 'tcp', family: peer.saddr.includes(':') ? 6 : 4 },
    state: kind === 'orig' ? 'established' : 'none',
    mode: 'fullnat',
    flags: {
      ppv2: true,
      headerSent: true,
      finFromClient: false,
      finFromBackend: false,
      mirror: kind === 'reply',
    },
    ppv2Len: 28,
    serviceId: 1,
    backendId: 1,
    clientIsn: 1,
    reinjections: 0,
    createdNs: NOW - 5_000_000_000n,
    lastSeenNs: NOW - 4_000_000_000n,
    packetsFromClient: 0n,
    bytesFromClient: 0n,
    packetsFromBackend: 0n,
    bytesFromBackend: 0n,
    uniqueId: Buffer.alloc(16),
    ...overrides,
  };
}

/** Both entries of connection i (client port 10000 + i), the reply entry carrying its direction's figures. */
function connection(i: number): Array<[Buffer, Buffer]> {
  const client: Key = { saddr: '192.0.2.10', daddr: '203.0.113.10', sport: 10000 + i, dport: 80 };
  const reply: Key = { saddr: '198.51.100.2', daddr: '198.51.100.11', sport: 80, dport: 10000 + i };
  const orig = entry('orig', reply, { packetsFromClient: BigInt(i), bytesFromClient: 100n });
  const back = entry('reply', client, {
    packetsFromBackend: BigInt(2 * i),
    bytesFromBackend: BigInt(1000 * i),
    lastSeenNs: NOW - 1_000_000_000n,
  });
  return [
    [encodeCtKey(client), encodeCtEntry(orig)],
    [encodeCtKey(reply), encodeCtEntry(back)],
  ];
}

function fakeMaps(rows: Array<[Buffer, Buffer]>): DatapathMaps {
  const conntrack = {
    *entries() {
      yield* rows;
    },
  };
  return { get: () => conntrack } as unknown as DatapathMaps;
}

describe('listConnections', () => {
  it("adds each reply entry's counters and last packet to its connection, in either order", () => {
    const n = 5000;
    const pairs = Array.from({ length: n }, (_, i) => connection(i));
    // Half the connections list their reply entry first.
    const rows = pairs.flatMap((p, i) => (i % 2 ? [p[1], p[0]] : p) as Array<[Buffer, Buffer]>);
    const { connections, total } = listConnections(fakeMaps(rows), []);
    assert.equal(total, n);
    assert.equal(connections.length, n);
    for (const c of connections) {
      const i = Number(c.client.split(':')[1]) - 10000;
      assert.equal(c.packetsFromClient, i);
      assert.equal(c.packetsFromBackend, 2 * i, c.client);
      assert.equal(c.bytesFromBackend, 1000 * i);
      assert.ok(c.idleSeconds >= 1 && c.idleSeconds < 2, `idle from the later stamp: ${c.idleSeconds}`);
    }
  });

  it('counts connections beyond the limit, and keeps an orig entry without its reply entry as is', () => {
    const rows = [connection(1), connection(2), connection(3)].flat();
    const { connections, total } = listConnections(fakeMaps(rows.slice(0, 5)), [], {}, 2);
    assert.equal(total, 3);
    assert.equal(connections.length, 2);
    const only = listConnections(fakeMaps([rows[4] as [Buffer, Buffer]]), []);
    assert.equal(only.connections[0]?.packetsFromBackend, 0);
    assert.ok((only.connections[0]?.idleSeconds ?? 0) >= 4);
  });
});
