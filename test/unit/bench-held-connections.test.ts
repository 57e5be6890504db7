import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeChunk, entryTemplate } from '../../bench/held-connections.js';
import { LBCTL_SNAT_ADDRESS } from '../../bench/lab.js';
import { decodeCtEntry, decodeCtKey, RECORD_SIZES } from '../../src/bpf/records.js';
import { LAB_ADDRESSES } from '../../src/lab/topology.js';

const target = {
  serviceId: 7,
  vip: '203.0.113.10',
  port: 80,
  backendId: 3,
  backendAddress: '198.51.100.2',
  backendPort: 80,
  headerBytes: 28,
};

describe('held connections (the large-table benchmark contender)', () => {
  const now = 123_456_789n;
  const templates = { orig: entryTemplate('orig', target, now), reply: entryTemplate('reply', target, now) };
  const first = 59_998; // across the first client address's last ports
  const n = 4;
  const { keys, values } = encodeChunk(first, n, target, templates);
  const k = RECORD_SIZES.ctKey;
  const v = RECORD_SIZES.ctEntry;
  const pairs = Array.from({ length: n }, (_, j) => ({
    origKey: decodeCtKey(keys.subarray(2 * j * k, (2 * j + 1) * k)),
    replyKey: decodeCtKey(keys.subarray((2 * j + 1) * k, (2 * j + 2) * k)),
    orig: decodeCtEntry(values.subarray(2 * j * v, (2 * j + 1) * v)),
    reply: decodeCtEntry(values.subarray((2 * j + 1) * v, (2 * j + 2) * v)),
  }));

  it('links each ORIG and REPLY entry to the other, as the datapath does', () => {
    for (const p of pairs) {
      assert.deepEqual(p.orig.peer, p.replyKey);
      assert.deepEqual(p.reply.peer, p.origKey);
      assert.equal(p.orig.kind, 'orig');
      assert.equal(p.reply.kind, 'reply');
      assert.equal(p.reply.flags.mirror, true);
      assert.equal(p.orig.state, 'established');
      assert.equal(p.orig.lastSeenNs, now);
      assert.equal(p.orig.serviceId, 7);
      assert.equal(p.orig.ppv2Len, 28);
    }
  });

  it('gives every connection its own tuples, none of which the run itself uses', () => {
    const all = pairs.flatMap((p) => [p.origKey, p.replyKey].map((x) => JSON.stringify(x)));
    assert.equal(new Set(all).size, 2 * n);
    assert.deepEqual(
      pairs.map((p) => `${p.origKey.saddr}:${p.origKey.sport}`),
      ['192.0.2.100:61022', '192.0.2.100:61023', '192.0.2.101:1024', '192.0.2.101:1025'],
    );
    for (const p of pairs) {
      assert.ok(!(LAB_ADDRESSES.clients4 as readonly string[]).includes(p.origKey.saddr));
      assert.notEqual(p.replyKey.daddr, LBCTL_SNAT_ADDRESS);
      assert.equal(p.origKey.daddr, target.vip);
      assert.equal(p.replyKey.saddr, target.backendAddress);
    }
  });
});
