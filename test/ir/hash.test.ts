import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { DType } from '../../src/ir/dtype.js';
import { makeGraph, type Graph } from '../../src/ir/graph.js';
import { fnv1a64, hashCode, sameCode, structuralCode, structuralHash } from '../../src/ir/hash.js';
import { makeNode, type Node } from '../../src/ir/node.js';
import type { AttrValue } from '../../src/ir/ops.js';
import { parseGraph } from '../../src/ir/parser.js';
import { printGraph } from '../../src/ir/printer.js';
import { StructureCache } from '../../src/runtime/structure-cache.js';

/** Textbook FNV-1a with BigInt, as an independent reference for the two-half implementation. */
function referenceFnv1a64(text: string): string {
  let h = 0xcbf29ce484222325n;
  for (const byte of new TextEncoder().encode(text)) {
    h ^= BigInt(byte);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, '0');
}

describe('fnv1a64', () => {
  test('matches the published FNV-1a 64-bit test vectors', () => {
    expect(fnv1a64('')).toBe('cbf29ce484222325');
    expect(fnv1a64('a')).toBe('af63dc4c8601ec8c');
    expect(fnv1a64('foobar')).toBe('85944171f73967e8');
  });

  test('matches a BigInt reference over the UTF-8 bytes of any string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 64 }), (s) => {
        expect(fnv1a64(s)).toBe(referenceFnv1a64(s));
      }),
      { numRuns: 200 },
    );
    expect(fnv1a64('é😀')).toBe(referenceFnv1a64('é😀'));
  });
});

describe('structuralHash', () => {
  interface Variant {
    dtype: DType;
    shape: number[];
    perm: number[];
    value: number;
    op: 'exp' | 'log';
    name: string;
  }
  const base: Variant = { dtype: 'float32', shape: [2, 3], perm: [1, 0], value: 0, op: 'exp', name: 'x' };

  function program(v: Variant): Graph {
    const x = makeNode('input', [], { name: v.name }, { dtype: v.dtype, shape: v.shape });
    const t = makeNode('transpose', [makeNode('cast', [x], { to: 'float32' })], { perm: v.perm });
    const c = makeNode('const', [], { value: v.value }, { dtype: 'float32', shape: [] });
    return makeGraph([makeNode('add', [makeNode(v.op, [t]), c])]);
  }

  test('is 16 hex digits and equal for the same program built twice', () => {
    const h = structuralHash(program(base));
    expect(h).toMatch(/^[0-9a-f]{16}$/);
    expect(structuralHash(program(base))).toBe(h);
  });

  test('is the same after a print/parse round trip, so cached plans survive dump-ir', () => {
    const text = '%a = input {name="x"} : f32[2,3]\n%b = cast %a {to="float32"} : f32[2,3]\n' +
      '%c = transpose %b {perm=[1,0]} : f32[3,2]\n%d = exp %c : f32[3,2]\n%e = const {value=0} : f32[]\n%f = add %d, %e : f32[3,2]\nreturn %f\n';
    expect(structuralHash(parseGraph(text))).toBe(structuralHash(program(base)));
  });

  test.each<[string, Partial<Variant>]>([
    ['an attribute', { perm: [0, 1] }],
    ['a const value', { value: 1 }],
    ['a const value of -0', { value: -0 }],
    ['a shape', { shape: [3, 2] }],
    ['a dtype', { dtype: 'int32' }],
    ['an op', { op: 'log' }],
    ['an input name', { name: 'y' }],
  ])('changes when %s changes', (_what, change) => {
    expect(structuralHash(program({ ...base, ...change }))).not.toBe(structuralHash(program(base)));
  });

  test('changes with the order of the outputs', () => {
    const x = makeNode('input', [], {}, { dtype: 'float32', shape: [2] });
    const y = makeNode('neg', [x]);
    expect(structuralHash(makeGraph([x, y]))).not.toBe(structuralHash(makeGraph([y, x])));
  });
});

describe('structuralCode (the plan-cache key)', () => {
  const code = (g: Graph): number[] => {
    const out: number[] = [];
    expect(structuralCode(g, out)).toBe(out.length);
    return out;
  };
  const base = { dtype: 'float32' as DType, shape: [2, 3], perm: [1, 0], value: 0, op: 'exp' as 'exp' | 'log', name: 'x' };
  function program(v: typeof base): Graph {
    const x = makeNode('input', [], { name: v.name }, { dtype: v.dtype, shape: v.shape });
    const t = makeNode('transpose', [makeNode('cast', [x], { to: 'float32' })], { perm: v.perm });
    const c = makeNode('const', [], { value: v.value }, { dtype: 'float32', shape: [] });
    return makeGraph([makeNode('add', [makeNode(v.op, [t]), c])]);
  }

  test('is equal for the same program built twice and after a print/parse round trip', () => {
    const a = code(program(base));
    expect(sameCode(code(program(base)), a)).toBe(true);
    expect(sameCode(code(parseGraph(printGraph(program(base)))), a)).toBe(true);
    expect(hashCode(code(program(base)))).toBe(hashCode(a));
  });

  test.each<[string, Partial<typeof base>]>([
    ['an attribute', { perm: [0, 1] }],
    ['a const value', { value: 1 }],
    ['a const value of -0', { value: -0 }],
    ['a shape', { shape: [3, 2] }],
    ['a dtype', { dtype: 'int32' }],
    ['an op', { op: 'log' }],
    ['an input name', { name: 'y' }],
  ])('changes when %s changes', (_what, change) => {
    expect(sameCode(code(program({ ...base, ...change })), code(program(base)))).toBe(false);
  });

  test('tells apart x + y from x + x, and the order of the outputs', () => {
    const x = makeNode('input', [], {}, { dtype: 'float32', shape: [2] });
    const y = makeNode('input', [], {}, { dtype: 'float32', shape: [2] });
    expect(sameCode(code(makeGraph([makeNode('add', [x, y])])), code(makeGraph([makeNode('add', [x, x])])))).toBe(false);
    const n = makeNode('neg', [x]);
    expect(sameCode(code(makeGraph([x, n])), code(makeGraph([n, x])))).toBe(false);
  });

  test('writes into a reused array from an offset and returns where it ends', () => {
    const full = code(program(base));
    const out = new Array<number>(full.length + 10).fill(7);
    expect(structuralCode(program(base), out, 3)).toBe(3 + full.length);
    expect(out.slice(3, 3 + full.length)).toEqual(full);
    expect(out.slice(0, 3)).toEqual([7, 7, 7]);
  });

  // Random pairs of small graphs over a small vocabulary, so that many pairs print alike: the code must be
  // equal exactly when the printed text is (the property that makes it a collision-free cache key).
  const CONSTS = [0, -0, 1, 0.1, NaN, -Infinity, 1e21, 2 ** 31];
  const stepArb = fc.record({ op: fc.constantFrom('neg', 'exp', 'add', 'mul', 'sum', 'cast', 'const', 'transpose'), a: fc.nat(3), b: fc.nat(3), k: fc.nat(7) });
  const programArb = fc.record({
    leaves: fc.array(fc.record({ dtype: fc.constantFrom<DType>('float32', 'int32'), rank: fc.nat(2), name: fc.constantFrom(undefined, 'x', 'y', 'a\n"b') }), { minLength: 1, maxLength: 2 }),
    steps: fc.array(stepArb, { maxLength: 4 }),
    outputs: fc.array(fc.nat(5), { minLength: 1, maxLength: 2 }),
  });
  type Program = typeof programArb extends fc.Arbitrary<infer T> ? T : never;
  function build(p: Program): Graph {
    const pool: Node[] = p.leaves.map((l) =>
      makeNode('input', [], l.name === undefined ? {} : { name: l.name }, { dtype: l.dtype, shape: [2, 2, 2].slice(0, l.rank) }),
    );
    for (const s of p.steps) {
      const x = pool[s.a % pool.length];
      const y = pool[s.b % pool.length];
      const attrs: Record<string, AttrValue> = {};
      try {
        if (s.op === 'const') {
          pool.push(makeNode('const', [], { value: CONSTS[s.k] }, { dtype: 'float32', shape: x.shape }));
          continue;
        }
        if (s.op === 'sum') Object.assign(attrs, { axes: x.shape.length ? [s.k % x.shape.length] : [], keepdims: s.k > 3 });
        if (s.op === 'cast') attrs.to = s.k % 2 ? 'float32' : 'int32';
        if (s.op === 'transpose') attrs.perm = x.shape.map((_, i) => (s.k % 2 ? x.shape.length - 1 - i : i));
        pool.push(makeNode(s.op, s.op === 'add' || s.op === 'mul' ? [x, y] : [x], attrs));
      } catch {
        // ill-typed step: skipped
      }
    }
    return makeGraph(p.outputs.map((k) => pool[k % pool.length]));
  }

  test('property: two graphs have equal codes exactly when they print alike', () => {
    let alike = 0;
    let different = 0;
    fc.assert(
      fc.property(programArb, programArb, fc.nat(7), (p, q, j) => {
        // Half the pairs: p against p with one field of one step taken from q (often printing alike).
        const r: Program = j % 2 ? q : { ...p, steps: p.steps.map((s, i) => (i === j % 4 ? { ...s, k: q.steps[0]?.k ?? s.k, b: q.steps[0]?.b ?? s.b } : s)) };
        const a = build(p);
        const b = build(r);
        const same = printGraph(a) === printGraph(b);
        if (same) alike++;
        else different++;
        const ca = code(a);
        const cb = code(b);
        expect(sameCode(ca, cb) && ca.length === cb.length).toBe(same);
        if (same) expect(hashCode(ca)).toBe(hashCode(cb));
        // The same program built again always has the same code.
        expect(sameCode(code(build(p)), ca)).toBe(true);
      }),
      { numRuns: 3000 },
    );
    // Both outcomes must really be exercised.
    expect(alike).toBeGreaterThan(100);
    expect(different).toBeGreaterThan(100);
  });
});

describe('StructureCache', () => {
  test('finds a value only for an equal code, also when two codes share a hash', () => {
    const cache = new StructureCache<string>(4);
    cache.set([1, 2, 3], 3, 42, 'a');
    cache.set([1, 2, 4], 3, 42, 'b'); // a forced collision
    expect(cache.get([1, 2, 3], 3, 42)).toBe('a');
    expect(cache.get([1, 2, 4], 3, 42)).toBe('b');
    expect(cache.get([1, 2, 5], 3, 42)).toBeUndefined();
    expect(cache.get([1, 2, 3, 9], 3, 42)).toBe('a'); // only the first `length` numbers count
    expect(cache.get([1, 2], 2, 42)).toBeUndefined();
    expect(cache.get([-0], 1, 7)).toBeUndefined();
    cache.set([0], 1, 7, 'zero');
    expect(cache.get([-0], 1, 7)).toBeUndefined();
    cache.set([NaN], 1, 8, 'nan');
    expect(cache.get([NaN], 1, 8)).toBe('nan');
    expect(cache.size).toBe(4);
  });

  test('keeps a copy of the code, and drops the least recently used entries past its capacity', () => {
    const cache = new StructureCache<number>(2);
    const scratch = [1];
    cache.set(scratch, 1, 1, 1);
    scratch[0] = 2;
    cache.set(scratch, 1, 2, 2);
    expect(cache.get([1], 1, 1)).toBe(1); // 1 is now the most recent
    cache.set([3], 1, 3, 3);
    expect(cache.size).toBe(2);
    expect(cache.get([2], 1, 2)).toBeUndefined();
    expect(cache.get([1], 1, 1)).toBe(1);
    expect(cache.get([3], 1, 3)).toBe(3);
    cache.clear();
    expect(cache.size).toBe(0);
    expect(cache.get([1], 1, 1)).toBeUndefined();
  });
});
