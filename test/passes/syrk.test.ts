// The syrk op and detect-syrk: type inference, the CPU reference (bit for bit equal to matmul(x, x) with the
// matching flag), golden IR cases for the pass (test/golden/detect-syrk/NAME.in.ir -> NAME.out.ir), and
// fold-transposes followed by detect-syrk on the forms users write (x @ x.T, x.T @ x).
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it, test } from 'vitest';
import type { DType, TypedArray } from '../../src/ir/dtype.js';
import { DTypeError, ShapeError, VerifyError } from '../../src/ir/errors.js';
import { makeGraph, topoOrder, type Graph } from '../../src/ir/graph.js';
import { makeNode, type Node } from '../../src/ir/node.js';
import { parseGraph } from '../../src/ir/parser.js';
import { printGraph } from '../../src/ir/printer.js';
import { sizeOf, type Shape } from '../../src/ir/shape.js';
import { detectSyrk } from '../../src/passes/detect-syrk.js';
import { foldTransposes } from '../../src/passes/fold-transposes.js';
import { runPasses } from '../../src/passes/manager.js';
import { executeGraph } from '../../src/runtime/cpu/executor.js';
import { mulberry32 as rng } from '../seeded.js';

const DIR = fileURLToPath(new URL('../golden/detect-syrk/', import.meta.url));
const CASES = readdirSync(DIR)
  .filter((f) => f.endsWith('.in.ir'))
  .map((f) => f.slice(0, -'.in.ir'.length))
  .sort();
/** Cases named `no-*` are negative: the pass must not change the graph at all. */
const isNegative = (name: string) => name.startsWith('no-');
const read = (name: string, ext: 'in' | 'out') => readFileSync(`${DIR}${name}.${ext}.ir`, 'utf8');


type Mode = 'wide' | 'specials' | 'cancelling';
const CANCELLING = [2 ** 20, -(2 ** 20), 2 ** -20, -(2 ** -20), 1, -1, 3];

/**
 * Random data: full-range i32 (every sum wraps), and f32 in one of three modes: 'wide', mixed signs over
 * 2^-20..2^20; 'specials', the same with Infinity and NaN mixed in; 'cancelling', values from a small set
 * with huge and tiny magnitudes, so large products cancel exactly and whether a tiny one survives depends on
 * the summation order (a bit-for-bit comparison of two orders notices it; with 'wide' data alone it would
 * almost never: f64 sums of f32 products rarely differ after rounding to f32).
 */
function randomArray(dtype: DType, length: number, next: () => number, mode: Mode = 'wide'): TypedArray {
  if (dtype === 'int32') return Int32Array.from({ length }, () => (next() * 2 ** 32) | 0);
  if (dtype === 'bool') return Uint8Array.from({ length }, () => (next() < 0.5 ? 1 : 0));
  return Float32Array.from({ length }, () => {
    if (mode === 'cancelling') return CANCELLING[Math.floor(next() * CANCELLING.length)];
    if (mode === 'specials' && next() < 0.05) return [Infinity, -Infinity, NaN][Math.floor(next() * 3)];
    return (next() - 0.5) * 2 ** Math.floor(next() * 41 - 20);
  });
}

/** Arguments for the graph's inputs; the f32 mode cycles with the seed. */
function randomArgs(graph: Graph, seed: number): TypedArray[] {
  const next = rng(seed);
  const mode = (['wide', 'cancelling', 'specials'] as const)[seed % 3];
  return graph.inputs.map((n) => randomArray(n.dtype, sizeOf(n.shape), next, mode));
}

/** The bytes of each array: equal bytes means bit-for-bit equal values (NaN payloads and -0 included). */
function bits(values: readonly TypedArray[]): number[][] {
  return values.map((v) => Array.from(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)));
}

const input = (dtype: DType, shape: Shape) => makeNode('input', [], {}, { dtype, shape });

describe('the syrk op', () => {
  it('infers [..., n, n] from x [..., n, k], or from x [..., k, n] with transA', () => {
    expect(makeNode('syrk', [input('float32', [5, 3])]).shape).toEqual([5, 5]);
    expect(makeNode('syrk', [input('float32', [5, 3])], { transA: true }).shape).toEqual([3, 3]);
    const batched = makeNode('syrk', [input('int32', [2, 4, 7, 3])], { transA: true });
    expect([batched.dtype, batched.shape]).toEqual(['int32', [2, 4, 3, 3]]);
    expect(makeNode('syrk', [input('float32', [0, 3])]).shape).toEqual([0, 0]);
  });

  it('rejects rank < 2, bool, a second operand and matmul-only attributes', () => {
    expect(() => makeNode('syrk', [input('float32', [5])])).toThrow(ShapeError);
    expect(() => makeNode('syrk', [input('bool', [2, 2])])).toThrow(DTypeError);
    expect(() => makeNode('syrk', [input('float32', [2, 2]), input('float32', [2, 2])])).toThrow(VerifyError);
    expect(() => makeNode('syrk', [input('float32', [2, 2])], { transB: true })).toThrow(VerifyError);
  });

  it('prints and parses back', () => {
    const text = '%0 = input : i32[2,5,3]\n%1 = syrk %0 {transA} : i32[2,3,3]\n%2 = syrk %0 : i32[2,5,5]\nreturn %1, %2\n';
    expect(printGraph(parseGraph(text))).toBe(text);
  });
});

describe('the CPU reference', () => {
  /** syrk(x) and matmul(x, x) with the matching flag, evaluated on the same data. */
  function both(dtype: DType, shape: Shape, transA: boolean, data: TypedArray): { syrk: TypedArray; matmul: TypedArray; n: number } {
    const x = input(dtype, shape);
    const s = makeNode('syrk', [x], { transA });
    const m = makeNode('matmul', [x, x], transA ? { transA: true } : { transB: true });
    expect(s.shape).toEqual(m.shape);
    const [syrk, matmul] = executeGraph(makeGraph([s, m]), [data]);
    return { syrk, matmul, n: s.shape[s.shape.length - 1] };
  }

  it('computes x @ x^T and x^T @ x by hand', () => {
    const x = Float32Array.from([1, 2, 3, 4, 5, 6]); // [[1,2],[3,4],[5,6]]
    expect(Array.from(both('float32', [3, 2], false, x).syrk)).toEqual([5, 11, 17, 11, 25, 39, 17, 39, 61]);
    expect(Array.from(both('float32', [3, 2], true, x).syrk)).toEqual([35, 44, 44, 56]);
    // Two batches, int32; the second matrix wraps: 65536 * 65536 = 2^32 -> 0, plus 1 * 1.
    const xi = Int32Array.from([1, 2, 3, 4, 65536, 1, 0, 0]); // [[1,2],[3,4]], [[65536,1],[0,0]]
    expect(Array.from(both('int32', [2, 2, 2], false, xi).syrk)).toEqual([5, 11, 11, 25, 1, 0, 0, 0]);
    expect(Array.from(both('int32', [2, 2, 2], true, xi).syrk)).toEqual([10, 14, 14, 20, 0, 65536, 65536, 1]);
  });

  it('equals matmul(x, x) with the matching flag bit for bit, and is exactly symmetric', () => {
    const shapes: Shape[] = [[1, 1], [3, 1], [1, 5], [7, 13], [13, 7], [6, 40], [40, 6], [2, 5, 9], [2, 3, 4, 6], [4, 0], [0, 4], [2, 0, 3]];
    let seed = 1;
    for (const dtype of ['float32', 'int32'] as const) {
      for (const shape of shapes) {
        for (const transA of [false, true]) {
          for (const mode of ['wide', 'specials', 'cancelling'] as const) {
            const next = rng(seed++);
            const { syrk, matmul, n } = both(dtype, shape, transA, randomArray(dtype, sizeOf(shape), next, mode));
            const what = `${dtype}[${shape}] transA=${transA} ${mode}`;
            expect(bits([syrk]), what).toEqual(bits([matmul]));
            for (let b = 0; b * n * n < syrk.length; b++) {
              for (let i = 0; i < n; i++) {
                for (let j = 0; j < i; j++) expect(Object.is(syrk[b * n * n + i * n + j], syrk[b * n * n + j * n + i]), `${what} (${i}, ${j})`).toBe(true);
              }
            }
          }
        }
      }
    }
  });

  it('accumulates f32 in f64 and rounds once, as matmul does', () => {
    // Products 1, 2^-24, 2^-24: summed in f32, each 2^-24 is lost (a tie, rounded to even); in f64 they add up
    // to 2^-23, which f32 holds next to 1.
    const x = Float32Array.from([1, 2 ** -12, 2 ** -12]);
    expect(both('float32', [1, 3], false, x).syrk[0]).toBe(1 + 2 ** -23);
    expect(both('float32', [3, 1], true, x).syrk[0]).toBe(1 + 2 ** -23);
  });
});

describe('detect-syrk golden cases', () => {
  it('has at least 6 cases, 2 of them negative, each explaining itself and with an expected output', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(6);
    expect(CASES.filter(isNegative).length).toBeGreaterThanOrEqual(2);
    for (const name of CASES) {
      expect(read(name, 'in').split('\n')[0], name).toMatch(/^# why: \S/);
      expect(() => read(name, 'out'), name).not.toThrow();
    }
  });

  test.each(CASES)('%s', (name) => {
    const input = parseGraph(read(name, 'in'));
    const { graph, log } = runPasses(input, [detectSyrk]);
    expect(printGraph(graph)).toBe(read(name, 'out'));
    if (isNegative(name)) {
      expect(graph, 'a negative case must come back as the very same graph').toBe(input);
      expect(log[0].fired.filter((f) => f.startsWith('rewrite'))).toEqual([]);
    } else {
      expect(graph).not.toBe(input);
      expect(log[0].fired.some((f) => f.startsWith('rewrite'))).toBe(true);
    }
  });

  test.each(CASES)('%s: same results before and after, bit for bit', (name) => {
    const input = parseGraph(read(name, 'in'));
    const after = detectSyrk.run(input).graph;
    expect(after.inputs).toEqual(input.inputs);
    for (const seed of [1, 2, 3]) {
      const args = randomArgs(input, seed);
      expect(bits(executeGraph(after, args)), `seed ${seed}`).toEqual(bits(executeGraph(input, args)));
    }
  });

  it('notes name the matmul and why a same-operand matmul stays', () => {
    const fired = (name: string) => detectSyrk.run(parseGraph(read(name, 'in'))).fired;
    expect(fired('xxt')).toEqual(['rewrite %1 = matmul %0, %0 {transB} as syrk (x @ x^T)']);
    expect(fired('xtx')).toEqual(['rewrite %1 = matmul %0, %0 {transA} as syrk (x^T @ x)']);
    expect(fired('no-flags')).toEqual(['keep %1 = matmul %0, %0: x @ x is not symmetric']);
    expect(fired('no-both-flags')).toEqual(['keep %1 = matmul %0, %0 {transA, transB}: x^T @ x^T is not symmetric']);
    expect(fired('no-distinct-operands')).toEqual([]);
  });

  it('drops the fusion group of the matmul it replaces', () => {
    const x = input('float32', [4, 3]);
    const out = detectSyrk.run(makeGraph([makeNode('matmul', [x, x], { transB: true, group: 2 })])).graph.outputs[0];
    expect([out.op, out.attrs, out.inputs]).toEqual(['syrk', {}, [x]]);
  });
});

describe('fold-transposes then detect-syrk', () => {
  const pipeline = (g: Graph) => runPasses(g, [foldTransposes, detectSyrk]).graph;
  const t = (x: Node) => {
    const r = x.shape.length;
    return makeNode('transpose', [x], { perm: x.shape.map((_, i) => (i < r - 2 ? i : 2 * r - 3 - i)) });
  };

  it('turns x @ x.T, x.T @ x and their batched forms into syrk', () => {
    const x = input('float32', [2, 5, 3]);
    const g = makeGraph([makeNode('matmul', [x, t(x)]), makeNode('matmul', [t(x), x]), makeNode('add', [makeNode('matmul', [t(x), x]), makeNode('const', [], { value: 1 }, { dtype: 'float32', shape: [] })])]);
    expect(printGraph(pipeline(g))).toBe(
      [
        '%0 = input : f32[2,5,3]',
        '%1 = syrk %0 : f32[2,5,5]',
        '%2 = syrk %0 {transA} : f32[2,3,3]',
        '%3 = syrk %0 {transA} : f32[2,3,3]',
        '%4 = const {value=1} : f32[]',
        '%5 = add %3, %4 : f32[2,3,3]',
        'return %1, %2, %5',
        '',
      ].join('\n'),
    );
  });

  it('leaves x.T @ x.T (both flags) and x @ x alone, and preserves results bit for bit on random graphs', () => {
    // x, optionally behind a swap, on each side of a matmul with random flags: syrk exactly when the
    // folded flags are one of the two; the results never change.
    fc.assert(
      fc.property(fc.boolean(), fc.boolean(), fc.boolean(), fc.boolean(), fc.constantFrom<DType>('float32', 'int32'), fc.nat(), (ta, tb, fa, fb, dtype, seed) => {
        const x = input(dtype, [2, 4, 4]);
        const mm = makeNode('matmul', [ta ? t(x) : x, tb ? t(x) : x], { transA: fa, transB: fb });
        const before = makeGraph([mm]);
        const after = pipeline(before);
        const flagA = ta !== fa;
        const flagB = tb !== fb;
        expect(after.outputs[0].op).toBe(flagA !== flagB ? 'syrk' : 'matmul');
        if (flagA !== flagB) expect(after.outputs[0].attrs).toEqual(flagA ? { transA: true } : {});
        expect(topoOrder(after.outputs).some((n) => n.op === 'transpose')).toBe(false);
        const args = randomArgs(before, seed);
        expect(bits(executeGraph(after, args))).toEqual(bits(executeGraph(before, args)));
      }),
      { numRuns: 100, seed: 99 },
    );
  });
});
