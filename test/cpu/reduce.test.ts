import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DType } from '../../src/ir/dtype.js';
import type { OpName } from '../../src/ir/ops.js';
import type { Shape } from '../../src/ir/shape.js';
import { expectValues, f32, i32, input, op, randomData, ravel, rng, run, run1, size, u8, unravel } from './helpers.js';

const M23 = [1, 2, 3, 4, 5, 6]; // [[1,2,3],[4,5,6]]

function reduceOn(name: OpName, dtype: DType, shape: Shape, data: readonly number[], axes: number[], keepdims = false) {
  const make = dtype === 'float32' ? f32 : dtype === 'int32' ? i32 : u8;
  const node = op(name, [input(dtype, shape)], { axes, keepdims });
  return { shape: node.shape, values: run1(node, [make(data)]) };
}

describe('reductions by hand', () => {
  it('sum over each axis and both', () => {
    expectValues(reduceOn('sum', 'float32', [2, 3], M23, [0]).values, [5, 7, 9]);
    expectValues(reduceOn('sum', 'float32', [2, 3], M23, [1]).values, [6, 15]);
    expectValues(reduceOn('sum', 'int32', [2, 3], M23, [0, 1]).values, [21]);
  });

  it('keepdims keeps size-1 axes with the same values', () => {
    const r = reduceOn('sum', 'float32', [2, 3], M23, [1], true);
    expect(r.shape).toEqual([2, 1]);
    expectValues(r.values, [6, 15]);
  });

  it('prod, max, min', () => {
    expectValues(reduceOn('prod', 'float32', [2, 3], M23, [1]).values, [6, 120]);
    expectValues(reduceOn('prod', 'int32', [2, 3], M23, [0]).values, [4, 10, 18]);
    expectValues(reduceOn('max', 'float32', [2, 3], [3, -1, 2, -5, 0, -7], [1]).values, [3, 0]);
    expectValues(reduceOn('min', 'int32', [2, 3], [3, -1, 2, -5, 0, -7], [0]).values, [-5, -1, -7]);
  });

  it('reduces the middle axis of a rank-3 tensor', () => {
    // x[i,j,k] = 100i + 10j + k over [2,3,2]; summing j gives 300i + 30 + 3k.
    const data = [0, 1, 10, 11, 20, 21, 100, 101, 110, 111, 120, 121];
    expectValues(reduceOn('sum', 'int32', [2, 3, 2], data, [1]).values, [30, 33, 330, 333]);
    expectValues(reduceOn('max', 'int32', [2, 3, 2], data, [0, 2]).values, [101, 111, 121]);
  });

  it('empty axes are a copy, keepdims or not', () => {
    expectValues(reduceOn('sum', 'float32', [2, 3], M23, []).values, M23);
    expectValues(reduceOn('max', 'int32', [2, 3], M23, [], true).values, M23);
  });

  it('sum of nothing is 0 and prod of nothing is 1', () => {
    expectValues(reduceOn('sum', 'float32', [2, 0], [], [1]).values, [0, 0]);
    expectValues(reduceOn('prod', 'float32', [2, 0], [], [1]).values, [1, 1]);
    expectValues(reduceOn('sum', 'int32', [0], [], [0]).values, [0]);
    expectValues(reduceOn('prod', 'int32', [0, 3], [], [0]).values, [1, 1, 1]);
    expectValues(reduceOn('max', 'float32', [0, 3], [], [1]).values, []);
  });

  it('int32 sum and prod wrap around', () => {
    expectValues(reduceOn('sum', 'int32', [3], [2147483647, 1, 5], [0]).values, [-2147483643]);
    expectValues(reduceOn('prod', 'int32', [2], [65536, 65536], [0]).values, [0]);
    expectValues(reduceOn('prod', 'int32', [3], [65536, 65537, 3], [0]).values, [196608]);
  });

  it('float sums accumulate in f64 and round once', () => {
    // Accumulating in f32 would give 16777216 and 0.
    expectValues(reduceOn('sum', 'float32', [3], [16777216, 1, 1], [0]).values, [16777218]);
    expectValues(reduceOn('sum', 'float32', [3], [1e8, 1, -1e8], [0]).values, [1]);
  });

  it('max and min propagate NaN wherever it is', () => {
    expectValues(reduceOn('max', 'float32', [2, 3], [NaN, 1, 2, 1, 2, NaN], [1]).values, [NaN, NaN]);
    expectValues(reduceOn('min', 'float32', [2, 3], [1, NaN, 2, 1, 2, 3], [1]).values, [NaN, 1]);
    expectValues(reduceOn('sum', 'float32', [2], [NaN, 1], [0]).values, [NaN]);
  });

  it('max/min handle infinities', () => {
    expectValues(reduceOn('max', 'float32', [2], [-Infinity, -Infinity], [0]).values, [-Infinity]);
    expectValues(reduceOn('min', 'float32', [2], [Infinity, 5], [0]).values, [5]);
  });

  it('max/min on bool are any/all', () => {
    const data = [0, 0, 1, 0, 1, 1, 1, 1]; // rows 00, 10, 11, 11 -> [4,2]
    expectValues(reduceOn('max', 'bool', [4, 2], data, [1]).values, [0, 1, 1, 1]);
    expectValues(reduceOn('min', 'bool', [4, 2], data, [1]).values, [0, 0, 1, 1]);
  });
});

describe('arg-reductions by hand', () => {
  it('first occurrence of the max/min wins', () => {
    const x = input('float32', [3, 3]);
    const data = f32([1, 3, 3, 2, 2, 2, 5, -1, 5]);
    expectValues(run1(op('argmax', [x], { axis: 1 }), [data]), [1, 0, 0]);
    expectValues(run1(op('argmin', [x], { axis: 1 }), [data]), [0, 0, 1]);
    expectValues(run1(op('argmax', [x], { axis: 0 }), [data]), [2, 0, 2]);
    expectValues(run1(op('argmin', [x], { axis: 0 }), [data]), [0, 2, 1]);
  });

  it('the first NaN wins', () => {
    const x = input('float32', [4, 3]);
    const data = f32([NaN, 2, NaN, 1, NaN, 7, 1, 2, NaN, 9, 8, 7]);
    expectValues(run1(op('argmax', [x], { axis: 1 }), [data]), [0, 1, 2, 0]);
    expectValues(run1(op('argmin', [x], { axis: 1 }), [data]), [0, 1, 2, 2]);
  });

  it('keepdims, int32 and bool operands, rank 1', () => {
    const x = input('int32', [2, 3]);
    const node = op('argmax', [x], { axis: 1, keepdims: true });
    expect(node.shape).toEqual([2, 1]);
    expectValues(run1(node, [i32([-2147483648, -5, -5, 7, 7, 1])]), [1, 0]);
    expectValues(run1(op('argmin', [input('bool', [4])], { axis: 0 }), [u8([1, 1, 0, 0])]), [2]);
    expectValues(run1(op('argmax', [input('float32', [1])], { axis: 0 }), [f32([-Infinity])]), [0]);
  });

  it('an empty non-reduced axis gives an empty result', () => {
    const r = run([op('argmax', [input('float32', [0, 3])], { axis: 1 })], [f32([])])[0];
    expect(r).toEqual(new Int32Array(0));
  });
});

/** Naive reduction: every input element adds itself into the output element its multi-index maps to. */
function naiveReduce(name: OpName, dtype: DType, data: ArrayLike<number>, shape: Shape, axes: number[]): number[] {
  const outShape = shape.map((d, a) => (axes.includes(a) ? 1 : d));
  const init = { sum: 0, prod: 1, max: -Infinity, min: Infinity }[name as 'sum' | 'prod' | 'max' | 'min'];
  const acc = new Array<number>(size(outShape)).fill(init);
  for (let i = 0; i < size(shape); i++) {
    const idx = unravel(i, shape).map((v, a) => (axes.includes(a) ? 0 : v));
    const o = ravel(idx, outShape);
    const v = data[i];
    if (name === 'sum') acc[o] = dtype === 'int32' ? (acc[o] + v) | 0 : acc[o] + v;
    else if (name === 'prod') acc[o] = dtype === 'int32' ? Number(BigInt.asIntN(32, BigInt(acc[o]) * BigInt(v))) : acc[o] * v;
    else if (name === 'max') acc[o] = v > acc[o] ? v : acc[o];
    else acc[o] = v < acc[o] ? v : acc[o];
  }
  return dtype === 'float32' ? acc.map(Math.fround) : acc;
}

const shapeArb = fc.array(fc.constantFrom(0, 1, 2, 3, 5, 7), { minLength: 0, maxLength: 4 });

describe('reductions against a naive multi-index reference', () => {
  const cases: [OpName, DType][] = [
    ['sum', 'float32'],
    ['sum', 'int32'],
    ['prod', 'int32'],
    ['max', 'float32'],
    ['min', 'int32'],
    ['max', 'bool'],
  ];
  for (const [name, dtype] of cases) {
    it(`${name} on ${dtype}`, () => {
      fc.assert(
        fc.property(shapeArb, fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }), fc.boolean(), fc.nat(), (shape, pick, keepdims, seed) => {
          const axes = shape.map((_, a) => a).filter((a) => pick[a]);
          const emptyAxis = axes.some((a) => shape[a] === 0);
          fc.pre(!(emptyAxis && (name === 'max' || name === 'min')));
          const data = randomData(dtype, shape, rng(seed));
          const got = reduceOn(name, dtype, shape, Array.from(data), axes, keepdims);
          const want = naiveReduce(name, dtype, data, shape, axes);
          if (name === 'sum' && dtype === 'float32') {
            // f32 data summed in f64: the order of additions cannot move the f32-rounded result by more than one ulp.
            got.values.forEach((g, i) => expect(Math.abs(g - want[i])).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(want[i]))));
          } else {
            expectValues(got.values, want);
          }
        }),
        { numRuns: 80 },
      );
    });
  }

  it('argmax/argmin on float32', () => {
    fc.assert(
      fc.property(shapeArb, fc.nat(3), fc.boolean(), fc.nat(), (shape0, axis0, isMax, seed) => {
        const shape = shape0.length === 0 ? [3] : shape0.map((d) => d || 2);
        const axis = axis0 % shape.length;
        // Few distinct values so ties are common and "first occurrence" matters.
        const next = rng(seed);
        const data = f32(Array.from({ length: size(shape) }, () => Math.floor(next() * 3)));
        const got = run1(op(isMax ? 'argmax' : 'argmin', [input('float32', shape)], { axis }), [data]);
        const outShape = shape.filter((_, a) => a !== axis);
        const want = Array.from({ length: size(outShape) }, (_, o) => {
          const base = unravel(o, outShape);
          let best = 0;
          for (let j = 1; j < shape[axis]; j++) {
            const at = (k: number) => data[ravel([...base.slice(0, axis), k, ...base.slice(axis)], shape)];
            if (isMax ? at(j) > at(best) : at(j) < at(best)) best = j;
          }
          return best;
        });
        expectValues(got, want);
      }),
      { numRuns: 80 },
    );
  });
});
