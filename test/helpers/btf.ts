/**
 * Reads the BTF of a compiled BPF object through `bpftool btf dump file OBJ -j`, and answers the two questions
 * the ABI check asks of it: what a struct's members are (name, offset, size, C type), and how each map in the
 * `.maps` section is declared (type, max_entries, key and value types).
 */
import { execFileSync } from 'node:child_process';

interface RawType {
  id: number;
  kind: string;
  name?: string;
  size?: number;
  type_id?: number;
  nr_elems?: number;
  members?: { name: string; type_id: number; bits_offset: number }[];
  vars?: { type_id: number }[];
}

export interface BtfMember {
  name: string;
  offset: number;
  size: number;
  /** C spelling of the type: a typedef or base type name, `struct X`, with `[N]` for arrays. */
  ctype: string;
}

export interface BtfMap {
  name: string;
  type: number;
  maxEntries: number;
  /** C spelling of the key and value types (as BtfMember.ctype); null when the map has none (ring buffer). */
  key: string | null;
  value: string | null;
}

const QUALIFIERS = new Set(['VOLATILE', 'CONST', 'RESTRICT', 'TYPE_TAG']);

export class Btf {
  private readonly types = new Map<number, RawType>();

  constructor(objectPath: string) {
    const out = execFileSync('bpftool', ['btf', 'dump', 'file', objectPath, '-j'], { encoding: 'utf8' });
    for (const t of (JSON.parse(out) as { types: RawType[] }).types) this.types.set(t.id, t);
  }

  private get(id: number): RawType {
    const t = this.types.get(id);
    if (!t) throw new Error(`BTF type ${id} not found`);
    return t;
  }

  sizeOf(id: number): number {
    const t = this.get(id);
    if (t.kind === 'ARRAY') return (t.nr_elems ?? 0) * this.sizeOf(t.type_id ?? 0);
    if (t.kind === 'TYPEDEF' || QUALIFIERS.has(t.kind)) return this.sizeOf(t.type_id ?? 0);
    return t.size ?? 0;
  }

  ctypeOf(id: number): string {
    const t = this.get(id);
    if (t.kind === 'ARRAY') return `${this.ctypeOf(t.type_id ?? 0)}[${t.nr_elems}]`;
    if (QUALIFIERS.has(t.kind)) return this.ctypeOf(t.type_id ?? 0);
    if (t.kind === 'STRUCT' || t.kind === 'UNION') return `${t.kind.toLowerCase()} ${t.name ?? ''}`;
    return t.name ?? t.kind;
  }

  /** The members of a named struct, or null if the object has no such struct. */
  struct(name: string): { size: number; members: BtfMember[] } | null {
    const t = [...this.types.values()].find((x) => x.kind === 'STRUCT' && x.name === name);
    if (!t) return null;
    return {
      size: t.size ?? 0,
      members: (t.members ?? []).map((m) => ({
        name: m.name,
        offset: m.bits_offset / 8,
        size: this.sizeOf(m.type_id),
        ctype: this.ctypeOf(m.type_id),
      })),
    };
  }

  /** Every map of the `.maps` section, decoded from libbpf's __uint/__type declaration convention. */
  maps(): BtfMap[] {
    const section = [...this.types.values()].find((x) => x.kind === 'DATASEC' && x.name === '.maps');
    return (section?.vars ?? []).map(({ type_id }) => {
      const variable = this.get(type_id);
      const def = this.get(variable.type_id ?? 0);
      const member = (n: string) => def.members?.find((m) => m.name === n);
      // __uint(name, N) is `int (*name)[N]`; __type(name, T) is `T *name`.
      const uintOf = (n: string) => {
        const m = member(n);
        return m ? (this.get(this.get(m.type_id).type_id ?? 0).nr_elems ?? 0) : 0;
      };
      const typeOf = (n: string) => {
        const m = member(n);
        return m ? this.ctypeOf(this.get(m.type_id).type_id ?? 0) : null;
      };
      return {
        name: variable.name ?? '',
        type: uintOf('type'),
        maxEntries: uintOf('max_entries'),
        key: typeOf('key'),
        value: typeOf('value'),
      };
    });
  }
}
