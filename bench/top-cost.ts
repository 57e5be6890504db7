/**
 * What `lbctl top` itself costs with a full conntrack table: the whole process's CPU time (process.cpuUsage)
 * while the real dashboard (TopApp: polling hook, model, Ink rendering) runs on the real collector at a 1 s
 * interval, as a percentage of one core. The goal is under 5% with 100,000 conntrack entries.
 *
 *   sudo node --import tsx bench/top-cost.ts [entries=100000] [seconds=120] [COLUMNSxROWS=120x40]
 *
 * It loads the datapath object into a scratch pin directory (maps only, nothing is attached), adds two
 * services, writes `entries` synthetic conntrack entries (half original-direction, half reply) with
 * records.ts's encoders, renders to a discarding terminal of the given size, and removes the pin directory
 * at the end.
 * Needs root. Events are not simulated (user space cannot write a ring buffer); draining an empty one is a
 * syscall per tick.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { removePinDir } from '../src/bpf/bpffs.js';
import { loadObject } from '../src/bpf/object.js';
import { type CtEntry, encodeCtEntry, encodeCtKey } from '../src/bpf/records.js';
import { DatapathCollector, type DatapathSnapshot } from '../src/core/datapath-snapshot.js';
import { parseEndpoint } from '../src/core/endpoint.js';
import type { Instance } from '../src/core/instance.js';
import { DatapathMaps, datapathObjectPath } from '../src/core/maps.js';
import { addService } from '../src/core/services.js';

const entries = Number(process.argv[2] ?? 100_000);
const seconds = Number(process.argv[3] ?? 120);
const [columns = 120, rows = 40] = (process.argv[4] ?? '120x40').split('x').map(Number);
const INTERVAL_MS = 1000;

const id = randomBytes(4).toString('hex');
const stateDir = mkdtempSync(join(tmpdir(), 'lbctl-bench-state-'));
const instance: Instance = {
  name: `bench-${id}`,
  netns: undefined,
  pinDir: `/sys/fs/bpf/lbctl-bench-${id}`,
  stateDir,
};

const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;

function fill(maps: DatapathMaps): void {
  const state = { version: 1 as const, interfaces: {}, serviceNames: {} };
  const services = [80, 443].map((port, i) =>
    addService(
      maps,
      state,
      {
        name: `svc${i}`,
        vip: parseEndpoint(`203.0.113.10:${port}`),
        mode: 'fullnat',
        backends: ['198.51.100.2', '198.51.100.3'].map((a) => ({ ...parseEndpoint(`${a}:80`), weight: 1 })),
        ppv2: { enabled: true, uniqueId: true, crc32c: false, tlvs: [] },
      },
      { override: '198.51.100.1', sources: new Map() },
    ),
  );
  const ct = maps.get('conntrack');
  const now = process.hrtime.bigint();
  for (let i = 0; i < entries / 2; i++) {
    const svc = services[i % 2];
    if (!svc) throw new Error('no service');
    const client = {
      saddr: `192.0.2.${1 + (i % 250)}`,
      daddr: svc.vip,
      sport: 1024 + Math.floor(i / 250),
      dport: svc.port,
      protocol: 'tcp' as const,
      family: 4 as const,
    };
    const backend = svc.backends[i % svc.backends.length];
    const reply = {
      saddr: backend?.address ?? '',
      daddr: '198.51.100.1',
      sport: 80,
      dport: 1024 + (i % 60000),
      protocol: 'tcp' as const,
      family: 4 as const,
    };
    const orig: CtEntry = {
      kind: 'orig',
      peer: reply,
      state: i % 7 === 0 ? 'fin' : 'established',
      mode: 'fullnat',
      flags: { ppv2: true, headerSent: true, finFromClient: false, finFromBackend: false },
      ppv2Len: 48,
      serviceId: svc.id,
      backendId: backend?.id ?? 0,
      clientIsn: i,
      reinjections: 0,
      createdNs: now - BigInt(i) * 1_000_000n,
      lastSeenNs: now,
      packetsFromClient: BigInt(10 + (i % 100)),
      bytesFromClient: BigInt(1000 + i),
      packetsFromBackend: BigInt(20 + (i % 50)),
      bytesFromBackend: BigInt(50_000 + i * 3),
      uniqueId: Buffer.alloc(16, i % 256),
    };
    ct.update(encodeCtKey(client), encodeCtEntry(orig));
    ct.update(encodeCtKey(reply), encodeCtEntry({ ...orig, kind: 'reply', peer: client }));
  }
}

/** A terminal that discards what Ink writes: a TTY for Ink's purposes, no keyboard. */
function fakeTerminal() {
  const stdout = Object.assign(new EventEmitter(), {
    columns,
    rows,
    isTTY: true,
    written: 0,
    write(chunk: string) {
      stdout.written += chunk.length;
      return true;
    },
  });
  const stdin = Object.assign(new EventEmitter(), {
    isTTY: false,
    setEncoding() {},
    setRawMode() {},
    resume() {},
    pause() {},
    ref() {},
    unref() {},
    read: () => null,
  });
  return { stdout, stdin };
}

async function main(): Promise<void> {
  try {
    await measure();
  } finally {
    if (existsSync(instance.pinDir)) removePinDir(instance.pinDir);
    rmSync(stateDir, { recursive: true, force: true });
  }
}

async function measure(): Promise<void> {
  const object = loadObject(datapathObjectPath(), { pinDir: instance.pinDir });
  object.close();
  const maps = DatapathMaps.open(instance);
  let fillMs = performance.now();
  fill(maps);
  fillMs = performance.now() - fillMs;
  let stored = 0;
  for (const _ of maps.get('conntrack').keys()) stored++;
  maps.close();
  console.log(`conntrack: ${stored} entries (written in ${fillMs.toFixed(0)} ms), node ${process.version}`);

  // As `lbctl top` does before it loads the dashboard: React's production build.
  process.env.NODE_ENV ??= 'production';
  const { render } = await import('ink');
  const { createElement: h } = await import('react');
  const { TopApp } = await import('../src/ui/top-app.js');

  // runTimeStats off: there is no attached program to measure, and the switch is system-wide.
  const collector = DatapathCollector.open(instance, { perCpu: true, runTimeStats: false });
  const collects: Array<{ cpu: number; pass: boolean }> = [];
  let lastSample: unknown;
  const source = {
    collect(): DatapathSnapshot {
      const before = process.cpuUsage();
      const snapshot = collector.collect();
      const pass = snapshot.connections !== lastSample;
      lastSample = snapshot.connections;
      collects.push({ cpu: cpuMs(process.cpuUsage(before)), pass });
      return snapshot;
    },
  };
  const { stdout, stdin } = fakeTerminal();
  const app = render(h(TopApp, { source, intervalMs: INTERVAL_MS }), {
    stdout: stdout as unknown as NodeJS.WriteStream,
    stdin: stdin as unknown as NodeJS.ReadStream,
    stderr: stdout as unknown as NodeJS.WriteStream,
    patchConsole: false,
    exitOnCtrlC: false,
  });
  try {
    // The first tick JIT-compiles and makes the first conntrack pass: measured from the second second on.
    await sleep(INTERVAL_MS + 200);
    const first = collects.length;
    const start = process.cpuUsage();
    const wallStart = performance.now();
    await sleep(seconds * 1000);
    const totalCpu = cpuMs(process.cpuUsage(start));
    const wall = performance.now() - wallStart;
    const measured = collects.slice(first);
    const quiet = measured.filter((c) => !c.pass);
    const passes = measured.filter((c) => c.pass);
    const avg = (list: typeof measured) => list.reduce((n, c) => n + c.cpu, 0) / Math.max(1, list.length);
    const sample = collector.collect('skip').connections;
    console.log(
      `${measured.length} ticks at ${INTERVAL_MS} ms over ${(wall / 1000).toFixed(1)} s, terminal ${columns}x${rows}`,
    );
    console.log(
      `conntrack: ${sample?.total} connections; ${passes.length} passes in the window, ` +
        `${avg(passes).toFixed(0)} ms CPU per collect with a pass (the last pass: ${sample?.scanCpuMs.toFixed(0)} ms CPU, ` +
        `${sample?.scanMs.toFixed(0)} ms wall; the next is allowed ${((sample?.nextInMs ?? 0) / 1000).toFixed(1)} s later)`,
    );
    console.log(`collect without a pass: ${avg(quiet).toFixed(2)} ms CPU per tick`);
    console.log(`terminal output: ${(stdout.written / measured.length / 1024).toFixed(1)} KiB per tick`);
    console.log(
      `\ndashboard CPU (collector + model + React/Ink): ${totalCpu.toFixed(0)} ms over ${(wall / 1000).toFixed(1)} s` +
        ` = ${((100 * totalCpu) / wall).toFixed(2)}% of one core (goal < 5%)`,
    );
  } finally {
    app.unmount();
    collector.close();
  }
}

await main();
