/**
 * The parts of the BPF bindings that need no privileges: struct layouts against the C headers, per-CPU
 * value arithmetic, verifier log parsing and error text.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { libbpfError, STRUCT_LAYOUTS } from '../../src/bpf/libbpf.js';
import { perCpuSlices, sumPerCpuU64 } from '../../src/bpf/map.js';
import { verifierReason } from '../../src/bpf/object.js';
import { requirePrerequisites } from '../helpers/prereq.js';

describe('libbpf struct layouts', () => {
  it('match offsetof/sizeof from the installed headers', (t) => {
    // clang and libbpf-dev: a skip on a laptop without them, a failure under CI.
    if (!requirePrerequisites(t, { binaries: ['clang'], files: ['/usr/include/bpf/libbpf.h'] })) return;
    // Fields whose name starts with '_' stand in for padding or unnamed bitfields; gpl_bits is a bitfield word.
    const lines: string[] = [];
    for (const [struct, type] of Object.entries(STRUCT_LAYOUTS)) {
      lines.push(`printf("%s sizeof %zu\\n", "${struct}", sizeof(struct ${struct}));`);
      for (const name of Object.keys(type.members ?? {})) {
        if (name.startsWith('_') || name === 'gpl_bits') continue;
        lines.push(`printf("%s %s %zu\\n", "${struct}", "${name}", offsetof(struct ${struct}, ${name}));`);
      }
    }
    const dir = mkdtempSync(join(tmpdir(), 'lbctl-layout-'));
    try {
      const src = join(dir, 'layout.c');
      writeFileSync(
        src,
        `#include <stdio.h>\n#include <stddef.h>\n#include <bpf/libbpf.h>\n#include <bpf/bpf.h>\nint main(void) {\n${lines.join('\n')}\nreturn 0;\n}\n`,
      );
      const cc = spawnSync('clang', ['-o', join(dir, 'layout'), src], { encoding: 'utf8' });
      assert.equal(cc.status, 0, cc.stderr);
      const out = spawnSync(join(dir, 'layout'), { encoding: 'utf8' }).stdout;
      for (const line of out.trim().split('\n')) {
        const [struct = '', field = '', value = ''] = line.split(' ');
        const type = STRUCT_LAYOUTS[struct as keyof typeof STRUCT_LAYOUTS];
        const actual = field === 'sizeof' ? type.size : type.members?.[field]?.offset;
        assert.equal(actual, Number(value), `${struct}.${field}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('per-CPU values', () => {
  it('splits slots rounded up to 8 bytes and sums u64 fields across CPUs', () => {
    // 3 CPUs, value_size 16: two u64 counters per CPU.
    const value = Buffer.alloc(48);
    for (let cpu = 0; cpu < 3; cpu += 1) {
      value.writeBigUInt64LE(BigInt(cpu + 1), cpu * 16);
      value.writeBigUInt64LE(2n ** 60n, cpu * 16 + 8);
    }
    assert.equal(perCpuSlices(value, 16).length, 3);
    assert.deepEqual(sumPerCpuU64(value, 16), [6n, 3n * 2n ** 60n]);
    // value_size 12 occupies 16 bytes per CPU; only whole u64 fields are summed.
    const odd = Buffer.alloc(32);
    odd.writeBigUInt64LE(5n, 0);
    odd.writeBigUInt64LE(7n, 16);
    const slices = perCpuSlices(odd, 12);
    assert.deepEqual(
      slices.map((s) => s.length),
      [12, 12],
    );
    assert.deepEqual(sumPerCpuU64(odd, 12), [12n]);
  });
});

describe('verifier log parsing', () => {
  it('picks the complaint before the summary, with the source location', () => {
    const log = [
      '0: R1=ctx() R10=fp0',
      '; __u8 *data = (void *)(long)skb->data; @ prog.bpf.c:13',
      '0: (61) r1 = *(u32 *)(r1 +76)         ; R1=pkt(r=0)',
      '; return data[20] == 6; @ prog.bpf.c:14',
      '1: (71) r1 = *(u8 *)(r1 +20)',
      'invalid access to packet, off=20 size=1, R1(id=0,off=20,r=0)',
      'R1 offset is outside of the packet',
      'processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0',
      '',
    ].join('\n');
    assert.equal(
      verifierReason(log),
      'invalid access to packet, off=20 size=1, R1(id=0,off=20,r=0); R1 offset is outside of the packet (at prog.bpf.c:14)',
    );
  });

  it('works without line info and returns undefined for an empty log', () => {
    assert.equal(verifierReason('0: (b7) r0 = 0\nR0 !read_ok\nprocessed 1 insns\n'), 'R0 !read_ok');
    assert.equal(verifierReason(''), undefined);
  });
});

describe('libbpf errors', () => {
  it('describes libbpf-specific codes with libbpf_strerror and keeps errno kinds', () => {
    assert.match(libbpfError('load x', -4007).message, /^load x: .*verifier/i); // LIBBPF_ERRNO__VERIFY
    assert.equal(libbpfError('open x', -1).kind, 'PERMISSION');
    assert.equal(libbpfError('open x', -2).kind, 'NOT_FOUND');
  });
});
