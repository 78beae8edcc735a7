import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expectValues, f32, i32, input, op, randomData, ravel, rng, run, run1, size, u8, unravel } from './helpers.js';

const M23 = f32([1, 2, 3, 4, 5, 6]); // [[1,2,3],[4,5,6]]

describe('layout ops by hand', () => {
  it('reshape keeps row-major order', () => {
    const y = op('reshape', [input('float32', [2, 3])], { shape: [3, 2] });
    expectValues(run1(y, [M23]), [1, 2, 3, 4, 5, 6]);
    expectValues(run1(op('reshape', [input('int32', [])], { shape: [1, 1] }), [i32([7])]), [7]);
  });

  it('transpose of a matrix and of a rank-3 tensor', () => {
    expectValues(run1(op('transpose', [input('float32', [2, 3])], { perm: [1, 0] }), [M23]), [1, 4, 2, 5, 3, 6]);
    // x[i,j,k] = 100i + 10j + k over [2,3,2]; perm [2,0,1] gives y[k,i,j] = x[i,j,k], shape [2,2,3].
    const x = i32([0, 1, 10, 11, 20, 21, 100, 101, 110, 111, 120, 121]);
    const y = op('transpose', [input('int32', [2, 3, 2])], { perm: [2, 0, 1] });
    expect(y.shape).toEqual([2, 2, 3]);
    expectValues(run1(y, [x]), [0, 10, 20, 100, 110, 120, 1, 11, 21, 101, 111, 121]);
  });

  it('expand broadcasts size-1 and new leading axes', () => {
    const y = op('expand', [input('float32', [3, 1])], { shape: [2, 3, 2] });
    expectValues(run1(y, [f32([1, 2, 3])]), [1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3]);
    expectValues(run1(op('expand', [input('bool', [])], { shape: [3] }), [u8([1])]), [1, 1, 1]);
    expectValues(run1(op('expand', [input('float32', [1, 3])], { shape: [0, 3] }), [f32([1, 2, 3])]), []);
  });

  it('slice with stride 1', () => {
    const y = op('slice', [input('float32', [2, 3])], { begin: [0, 1], size: [2, 2] });
    expectValues(run1(y, [M23]), [2, 3, 5, 6]);
    expectValues(run1(op('slice', [input('float32', [2, 3])], { begin: [1, 0], size: [1, 3] }), [M23]), [4, 5, 6]);
    expectValues(run1(op('slice', [input('float32', [2, 3])], { begin: [1, 2], size: [0, 1] }), [M23]), []);
  });

  it('concat along the first and the last axis, with an empty piece', () => {
    const a = input('float32', [2, 3]);
    const b = input('float32', [1, 3]);
    expectValues(run1(op('concat', [a, b], { axis: 0 }), [M23, f32([7, 8, 9])]), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const c = input('float32', [2, 1]);
    const e = input('float32', [2, 0]);
    const y = op('concat', [c, a, e, c], { axis: 1 });
    expect(y.shape).toEqual([2, 5]);
    // Graph inputs are bound in topological order: c, a, e.
    expectValues(run1(y, [f32([0, -1]), M23, f32([])]), [0, 1, 2, 3, 0, -1, 4, 5, 6, -1]);
  });

  it('concat of a single tensor and of bools', () => {
    expectValues(run1(op('concat', [input('bool', [2])], { axis: 0 }), [u8([1, 0])]), [1, 0]);
    const a = input('bool', [1]);
    const b = input('bool', [2]);
    expectValues(run1(op('concat', [a, b], { axis: 0 }), [u8([0]), u8([1, 1])]), [0, 1, 1]);
  });
});

const shapeArb = fc.array(fc.constantFrom(0, 1, 2, 3, 5, 7), { minLength: 1, maxLength: 4 });

describe('layout ops against naive multi-index references', () => {
  it('transpose', () => {
    fc.assert(
      fc.property(shapeArb, fc.array(fc.nat(), { minLength: 4, maxLength: 4 }), fc.nat(), (shape, keys, seed) => {
        const perm = shape.map((_, i) => i).sort((p, q) => keys[p] - keys[q] || p - q);
        const data = randomData('float32', shape, rng(seed));
        const y = op('transpose', [input('float32', shape)], { perm });
        const want = Array.from({ length: size(y.shape) }, (_, o) => {
          const outIdx = unravel(o, y.shape);
          const inIdx = new Array<number>(shape.length);
          perm.forEach((p, i) => (inIdx[p] = outIdx[i]));
          return data[ravel(inIdx, shape)];
        });
        expectValues(run1(y, [data]), want);
      }),
      { numRuns: 100 },
    );
  });

  it('slice', () => {
    fc.assert(
      fc.property(shapeArb, fc.array(fc.tuple(fc.nat(), fc.nat()), { minLength: 4, maxLength: 4 }), fc.nat(), (shape, picks, seed) => {
        const begin = shape.map((d, i) => picks[i][0] % (d + 1));
        const sz = shape.map((d, i) => picks[i][1] % (d - begin[i] + 1));
        const data = randomData('int32', shape, rng(seed));
        const y = op('slice', [input('int32', shape)], { begin, size: sz });
        const want = Array.from({ length: size(sz) }, (_, o) => data[ravel(unravel(o, sz).map((v, a) => v + begin[a]), shape)]);
        expectValues(run1(y, [data]), want);
      }),
      { numRuns: 100 },
    );
  });

  it('expand', () => {
    fc.assert(
      fc.property(shapeArb, fc.nat(3), fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }), fc.nat(), (to, drop, ones, seed) => {
        const from = to.slice(Math.min(drop, to.length)).map((d, i) => (ones[i] ? 1 : d));
        const data = randomData('float32', from, rng(seed));
        const y = op('expand', [input('float32', from)], { shape: to });
        const off = to.length - from.length;
        const want = Array.from({ length: size(to) }, (_, o) => {
          const idx = unravel(o, to);
          return data[ravel(from.map((d, a) => (d === 1 ? 0 : idx[off + a])), from)];
        });
        expectValues(run1(y, [data]), want);
      }),
      { numRuns: 100 },
    );
  });

  it('concat', () => {
    fc.assert(
      fc.property(shapeArb, fc.nat(3), fc.array(fc.constantFrom(0, 1, 2, 3), { minLength: 1, maxLength: 4 }), fc.nat(), (base, axis0, extents, seed) => {
        const axis = axis0 % base.length;
        const shapes = extents.map((e) => base.map((d, a) => (a === axis ? e : d)));
        const next = rng(seed);
        const datas = shapes.map((s) => randomData('float32', s, next));
        const y = op('concat', shapes.map((s) => input('float32', s)), { axis });
        const want = Array.from({ length: size(y.shape) }, (_, o) => {
          const idx = unravel(o, y.shape);
          let t = 0;
          let k = idx[axis];
          while (k >= extents[t]) k -= extents[t++];
          return datas[t][ravel(idx.map((v, a) => (a === axis ? k : v)), shapes[t])];
        });
        expectValues(run([y], datas)[0], want);
      }),
      { numRuns: 100 },
    );
  });
});
