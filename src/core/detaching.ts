/**
 * Taking the datapath away from live connections without leaving any of them hanging (bpf/detaching.h has
 * the kernel side): `hold` parks their packets until the next attach, `drain` resets both ends of each.
 */
import { randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DetachingMode } from '../bpf/records.js';
import { RawSender } from '../net/raw-socket.js';
import { buildTcpAck } from '../net/tcp-probe.js';
import { readConfigRecord, writeConfigRecord } from './config.js';
import { type LiveConnectionKeys, liveConnectionKeys } from './connections.js';
import type { DatapathMaps } from './maps.js';

/** Set or clear the detaching mode; the rest of the configuration record stays as it is. */
export function setDetachingMode(maps: DatapathMaps, mode: DetachingMode | null): void {
  const record = readConfigRecord(maps);
  if (!record) return; // no record yet: nothing is attached that could be in a mode
  if (record.detaching === mode) return;
  writeConfigRecord(maps, { ...record, detaching: mode });
}

export interface DrainResult {
  /** Live connections when the drain started. */
  live: number;
  /** Of those, closed by resets during the drain. */
  reset: number;
  /** Still live at the deadline: they are cut without a reset. */
  remaining: number;
}

/** Linux answers out-of-window segments at most once per 500 ms per socket (net.ipv4.tcp_invalid_ratelimit). */
const PROBE_INTERVAL_MS = 600;
const POLL_MS = 50;
/** After the last round of probes, time for the answers to come back through the datapath. */
const SETTLE_MS = 200;

/**
 * Put the datapath in drain mode and make both ends of every live connection send a payload-free packet
 * (which the datapath turns into resets to both ends) until none is live or `timeoutMs` has passed.
 *
 * Probes are ACKs with sequence numbers 2^31 apart: a receive window is at most 2^30 bytes, so at least one of
 * them is out of window and answered with a duplicate ACK. Conntrack marks a connection closed once a reset
 * went to one end; the other end may still have refused its reset (data that was in flight moved its
 * expected sequence number, and its challenge ACK can be rate-limited), so a last round probes every
 * connection once more: an end that is still open answers and is reset, one that is gone answers with a
 * reset of its own, which the datapath passes on.
 */
export async function drainConnections(maps: DatapathMaps, timeoutMs: number): Promise<DrainResult> {
  const initial = liveConnectionKeys(maps);
  if (initial.length === 0 || timeoutMs <= 0)
    return { live: initial.length, reset: 0, remaining: initial.length };
  setDetachingMode(maps, 'drain');
  const deadline = Date.now() + timeoutMs;
  const sender = new RawSender();
  let live = initial;
  try {
    let lastProbe = 0;
    while (live.length > 0 && Date.now() < deadline) {
      if (Date.now() - lastProbe >= PROBE_INTERVAL_MS) {
        for (const connection of live) probeBothEnds(sender, connection);
        lastProbe = Date.now();
      }
      await sleep(POLL_MS);
      live = liveConnectionKeys(maps);
    }
    const wait = lastProbe + PROBE_INTERVAL_MS - Date.now();
    if (live.length === 0 && Date.now() + wait + SETTLE_MS <= deadline) {
      await sleep(Math.max(0, wait));
      for (const connection of initial) probeBothEnds(sender, connection);
      await sleep(SETTLE_MS);
    }
  } finally {
    sender.close();
  }
  return { live: initial.length, reset: initial.length - live.length, remaining: live.length };
}

function probeBothEnds(sender: RawSender, connection: LiveConnectionKeys): void {
  // Each key is a direction as it arrives at the balancer; the probe goes the other way, to its source.
  for (const key of [connection.client, connection.backend]) {
    const seq = randomInt(0, 2 ** 31);
    for (const offset of [0, 2 ** 31]) {
      const packet = buildTcpAck({
        from: { address: key.daddr, port: key.dport },
        to: { address: key.saddr, port: key.sport },
        seq: seq + offset,
      });
      try {
        sender.send(packet, key.saddr);
      } catch {
        // An end that is unreachable now cannot be told either way; the deadline bounds the wait.
      }
    }
  }
}
