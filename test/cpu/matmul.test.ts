import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DType, TypedArray } from '../../src/ir/dtype.js';
import type { Shape } from '../../src/ir/shape.js';
import { expectClose, expectValues, f32, i32, input, op, randomData, rng, run, run1, size, unravel } from './helpers.js';

const A = [1, 2, 3, 4]; // [[1,2],[3,4]]
const B = [5, 6, 7, 8]; // [[5,6],[7,8]]

function mm(a: readonly number[], aShape: Shape, b: readonly number[], bShape: Shape, attrs = {}, dtype: DType = 'float32') {
  const make = dtype === 'float32' ? f32 : i32;
  const node = op('matmul', [input(dtype, aShape), input(dtype, bShape)], attrs);
  return { shape: node.shape, values: run1(node, [make(a), make(b)]) };
}

describe('matmul by hand', () => {
  it('2x2 with every combination of transposes', () => {
    expectValues(mm(A, [2, 2], B, [2, 2]).values, [19, 22, 43, 50]);
    expectValues(mm(A, [2, 2], B, [2, 2], { transA: true }).values, [26, 30, 38, 44]);
    expectValues(mm(A, [2, 2], B, [2, 2], { transB: true }).values, [17, 23, 39, 53]);
    expectValues(mm(A, [2, 2], B, [2, 2], { transA: true, transB: true }).values, [23, 31, 34, 46]);
  });

  it('non-square shapes', () => {
    // [[1,2,3],[4,5,6]] @ [[1],[0],[-1]] = [[-2],[-2]]
    const r = mm([1, 2, 3, 4, 5, 6], [2, 3], [1, 0, -1], [3, 1]);
    expect(r.shape).toEqual([2, 1]);
    expectValues(r.values, [-2, -2]);
    // [1,2,3] as [3,1] transposed is a row: [[1,2,3]] @ [[1,2],[3,4],[5,6]] = [[22,28]]
    expectValues(mm([1, 2, 3], [3, 1], [1, 2, 3, 4, 5, 6], [3, 2], { transA: true }).values, [22, 28]);
  });

  it('int32 accumulates with wrap-around', () => {
    expectValues(mm([65536], [1, 1], [65536], [1, 1], {}, 'int32').values, [0]);
    expectValues(mm([2147483647, 1], [1, 2], [1, 1], [2, 1], {}, 'int32').values, [-2147483648]);
    expectValues(mm(A, [2, 2], B, [2, 2], {}, 'int32').values, [19, 22, 43, 50]);
  });

  it('float32 accumulates in f64 and rounds once', () => {
    expectValues(mm([16777216, 1, 1], [1, 3], [1, 1, 1], [3, 1]).values, [16777218]);
  });

  it('K = 0 gives zeros; M = 0 or N = 0 give empty results', () => {
    const r = mm([], [2, 0], [], [0, 3]);
    expect(r.shape).toEqual([2, 3]);
    expectValues(r.values, [0, 0, 0, 0, 0, 0]);
    expectValues(mm([], [0, 2], B, [2, 2]).values, []);
    expectValues(mm(A, [2, 2], [], [2, 0]).values, []);
    expectValues(mm([], [0, 2, 2], A, [2, 2]).values, []);
  });

  it('batched with a broadcast batch axis', () => {
    // a: [2,2,2] = [I, 2I]; b: [1,2,2] = B for both batches.
    const r = mm([1, 0, 0, 1, 2, 0, 0, 2], [2, 2, 2], B, [1, 2, 2]);
    expect(r.shape).toEqual([2, 2, 2]);
    expectValues(r.values, [5, 6, 7, 8, 10, 12, 14, 16]);
    // Rank difference: b is a plain matrix shared by every batch of a.
    expectValues(mm([1, 0, 0, 1, 2, 0, 0, 2], [2, 2, 2], B, [2, 2]).values, [5, 6, 7, 8, 10, 12, 14, 16]);
  });

  it('propagates NaN and infinities', () => {
    const r = mm([NaN, 1, 1, 1], [2, 2], [1, 0, 0, 1], [2, 2]).values;
    expectValues(r, [NaN, NaN, 1, 1]);
    expectValues(mm([Infinity, 0], [1, 2], [0, 1], [2, 1]).values, [NaN]);
  });
});

/** Nested JS arrays of the matrices: m[batchIndex][row][col] with the logical transpose applied. */
function toMatrices(data: TypedArray, shape: Shape, trans: boolean): number[][][] {
  const [r, c] = shape.slice(-2);
  const batches = size(shape.slice(0, -2));
  return Array.from({ length: batches }, (_, bi) => {
    const rows = trans ? c : r;
    const cols = trans ? r : c;
    return Array.from({ length: rows }, (_, i) =>
      Array.from({ length: cols }, (_, j) => data[bi * r * c + (trans ? j * c + i : i * c + j)]),
    );
  });
}

function naiveMatmul(a: number[][], b: number[][], n: number, dtype: DType): number[][] {
  return a.map((row) =>
    Array.from({ length: n }, (_, j) => {
      let acc = 0;
      row.forEach((v, p) => {
        acc = dtype === 'int32' ? Number(BigInt.asIntN(32, BigInt(acc) + BigInt(v) * BigInt(b[p][j]))) : acc + v * b[p][j];
      });
      return acc;
    }),
  );
}

/** The batch index of an operand with batch shape `own` that output batch index `outIdx` reads. */
function batchOf(own: Shape, outIdx: readonly number[]): number {
  const off = outIdx.length - own.length;
  let flat = 0;
  own.forEach((d, a) => (flat = flat * d + (d === 1 ? 0 : outIdx[off + a])));
  return flat;
}

describe('batched matmul against nested-loop matmul', () => {
  const dim = fc.constantFrom(0, 1, 2, 3, 5, 7);
  const batchArb = fc.array(fc.constantFrom(1, 2, 3), { maxLength: 3 });
  const caseArb = fc.record({
    m: dim,
    k: dim,
    n: dim,
    batch: batchArb,
    dropA: fc.nat(3),
    dropB: fc.nat(3),
    onesA: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
    onesB: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
    transA: fc.boolean(),
    transB: fc.boolean(),
    dtype: fc.constantFrom<DType>('float32', 'int32'),
    seed: fc.nat(),
  });

  it('matches on random shapes, transposes and broadcast batches', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const cut = (drop: number, ones: boolean[]) => c.batch.slice(Math.min(drop, c.batch.length)).map((d, i) => (ones[i] ? 1 : d));
        const batchA = cut(c.dropA, c.onesA);
        const batchB = cut(c.dropB, c.onesB);
        const aShape = [...batchA, ...(c.transA ? [c.k, c.m] : [c.m, c.k])];
        const bShape = [...batchB, ...(c.transB ? [c.n, c.k] : [c.k, c.n])];
        const next = rng(c.seed);
        const da = randomData(c.dtype, aShape, next);
        const db = randomData(c.dtype, bShape, next);
        const node = op('matmul', [input(c.dtype, aShape), input(c.dtype, bShape)], { transA: c.transA, transB: c.transB });
        const got = run([node], [da, db])[0];

        const ma = toMatrices(da, aShape, c.transA);
        const mb = toMatrices(db, bShape, c.transB);
        const outBatch = node.shape.slice(0, -2);
        const want: number[] = [];
        for (let bi = 0; bi < size(outBatch); bi++) {
          const idx = unravel(bi, outBatch);
          const prod = naiveMatmul(ma[batchOf(batchA, idx)], mb[batchOf(batchB, idx)], c.n, c.dtype);
          for (const row of prod) want.push(...row);
        }
        expect(node.shape).toEqual([...outBatch, c.m, c.n]);
        if (c.dtype === 'int32') expectValues(got, want);
        else expectClose(got, want.map(Math.fround), 1e-6);
      }),
      { numRuns: 150 },
    );
  });
});
