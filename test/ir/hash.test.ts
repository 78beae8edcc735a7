import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { DType } from '../../src/ir/dtype.js';
import { makeGraph, type Graph } from '../../src/ir/graph.js';
import { fnv1a64, structuralHash } from '../../src/ir/hash.js';
import { makeNode } from '../../src/ir/node.js';
import { parseGraph } from '../../src/ir/parser.js';

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
