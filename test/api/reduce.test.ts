// Reductions: sum prod max min mean variance argmax argmin, over one axis, several, all, negative axes,
// keepdims, empty tensors, and the bool/int32 paths.
import { beforeAll, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.js';
import {
  expectClose,
  expectExact,
  f32,
  randBools,
  randFloats,
  randInts,
  refArg,
  refReduce,
  rng,
  sizeOf,
  type Shape,
} from './helpers.js';

beforeAll(async () => {
  await wg.init({ backend: 'cpu', quiet: true });
});

const M = [
  [1, 2, 3],
  [4, 5, 6],
];

describe('hand-computed reductions of a 2x3 matrix', () => {
  it('sum', async () => {
    const x = wg.tensor(M);
    expect(await x.sum().item()).toBe(21);
    expect(x.sum().shape).toEqual([]);
    expect(await x.sum(0).array()).toEqual([5, 7, 9]);
    expect(await x.sum(1).array()).toEqual([6, 15]);
    expect(await x.sum(-1).array()).toEqual([6, 15]);
    expect(await x.sum(-2).array()).toEqual([5, 7, 9]);
    expect(await x.sum([0, 1]).item()).toBe(21);
    expect(await x.sum([1, 0]).item()).toBe(21);
    expect(await x.sum([-1, 0]).item()).toBe(21);
  });

  it('keepdims keeps size-1 axes', async () => {
    const x = wg.tensor(M);
    expect(x.sum(0, true).shape).toEqual([1, 3]);
    expect(await x.sum(0, true).array()).toEqual([[5, 7, 9]]);
    expect(await x.sum(1, true).array()).toEqual([[6], [15]]);
    expect(x.sum(undefined, true).shape).toEqual([1, 1]);
    expect(await x.sum(undefined, true).array()).toEqual([[21]]);
    expect(await x.max(-1, true).array()).toEqual([[3], [6]]);
    expect(await x.mean(0, true).array()).toEqual([[2.5, 3.5, 4.5]]);
  });

  it('prod max min mean', async () => {
    const x = wg.tensor(M);
    expect(await x.prod().item()).toBe(720);
    expect(await x.prod(0).array()).toEqual([4, 10, 18]);
    expect(await x.prod(1).array()).toEqual([6, 120]);
    expect(await x.max().item()).toBe(6);
    expect(await x.max(0).array()).toEqual([4, 5, 6]);
    expect(await x.min(1).array()).toEqual([1, 4]);
    expect(await x.min().item()).toBe(1);
    expect(await x.mean().item()).toBe(3.5);
    expect(await x.mean(1).array()).toEqual([2, 5]);
    expect(await x.mean(0).array()).toEqual([2.5, 3.5, 4.5]);
  });

  it('variance is the population variance (ddof 0)', async () => {
    const x = wg.tensor([1, 2, 3, 4]);
    expect(await x.variance().item()).toBe(1.25);
    const m = wg.tensor(M);
    expect(await m.variance(1).array()).toEqual([2 / 3, 2 / 3].map(f32));
    expect(await m.variance(0).array()).toEqual([2.25, 2.25, 2.25]);
    expect(m.variance(0, true).shape).toEqual([1, 3]);
    expect(await m.variance(-1, true).array()).toEqual([[f32(2 / 3)], [f32(2 / 3)]]);
    expectClose([(await m.variance().item()) as number], [35 / 12], 1e-6);
    expect(await wg.tensor([5, 5, 5]).variance().item()).toBe(0);
  });

  it('argmax / argmin along an axis and flattened', async () => {
    const x = wg.tensor([
      [3, 9, 1],
      [7, 2, 8],
    ]);
    const am = x.argmax(1);
    expect(am.dtype).toBe('int32');
    expect(Array.from(await am.data())).toEqual([1, 2]);
    expect(Array.from(await x.argmax(0).data())).toEqual([1, 0, 1]);
    expect(Array.from(await x.argmin(1).data())).toEqual([2, 1]);
    expect(Array.from(await x.argmin(-2).data())).toEqual([0, 1, 0]);
    expect(await x.argmax().item()).toBe(1);
    expect(await x.argmin().item()).toBe(2);
    expect(x.argmax().shape).toEqual([]);
    expect(x.argmax(1, true).shape).toEqual([2, 1]);
    expect(await x.argmax(1, true).array()).toEqual([[1], [2]]);
  });

  it('argmax / argmin with keepdims and no axis keep every axis as size 1 (as NumPy)', async () => {
    const x = wg.tensor([
      [3, 9, 1],
      [7, 2, 8],
    ]);
    const a = x.argmax(undefined, true);
    expect(a.shape).toEqual([1, 1]);
    expect(await a.array()).toEqual([[1]]);
    expect(x.argmin(undefined, true).shape).toEqual([1, 1]);
  });

  it('argmax / argmin pick the first of equal extremes', async () => {
    const x = wg.tensor([2, 5, 1, 5, 1, 5]);
    expect(await x.argmax().item()).toBe(1);
    expect(await x.argmin().item()).toBe(2);
    const c = wg.tensor([4, 4, 4]);
    expect(await c.argmax().item()).toBe(0);
    expect(await c.argmin().item()).toBe(0);
  });

  it('argmax / argmin pick the first NaN if any', async () => {
    const x = wg.tensor([1, NaN, 7, NaN, -3]);
    expect(await x.argmax().item()).toBe(1);
    expect(await x.argmin().item()).toBe(1);
    const y = wg.tensor([NaN, 9]);
    expect(await y.argmax().item()).toBe(0);
    expect(await y.argmin().item()).toBe(0);
    const z = wg.tensor([[0, 1, NaN], [NaN, 5, 6]]);
    expect(Array.from(await z.argmax(1).data())).toEqual([2, 0]);
    expect(Array.from(await z.argmin(0).data())).toEqual([1, 0, 0]);
  });

  it('argmax / argmin with -Infinity / +Infinity', async () => {
    const x = wg.tensor([-Infinity, -Infinity, -5]);
    expect(await x.argmax().item()).toBe(2);
    expect(await x.argmin().item()).toBe(0);
    expect(await wg.tensor([-Infinity, -Infinity]).argmax().item()).toBe(0);
    expect(await wg.tensor([Infinity, Infinity]).argmin().item()).toBe(0);
  });

  it('argmax with no axis on a 3-D tensor returns the flat index', async () => {
    const data = [0, 1, 2, 3, 4, 5, 6, 99, 8, 9, 10, 11];
    const x = wg.tensor(data, [2, 3, 2]);
    expect(await x.argmax().item()).toBe(7);
    expect(await x.neg().argmin().item()).toBe(7);
  });

  it('max / min propagate NaN', async () => {
    const x = wg.tensor([
      [1, NaN, 3],
      [4, 5, 6],
    ]);
    expectExact(await x.max(1).data(), [NaN, 6]);
    expectExact(await x.min(1).data(), [NaN, 4]);
    expectExact(await x.max(0).data(), [4, NaN, 6]);
    expect(await x.max().item()).toBeNaN();
  });

  it('sum and mean with infinities', async () => {
    expect(await wg.tensor([1, Infinity]).sum().item()).toBe(Infinity);
    expect(await wg.tensor([-Infinity, Infinity]).sum().item()).toBeNaN();
    expect(await wg.tensor([1, Infinity]).mean().item()).toBe(Infinity);
  });
});

describe('int32 and bool reductions', () => {
  it('int32 sum / prod / max / min stay int32 and are exact', async () => {
    const x = wg.tensor([[3, -7, 11], [2, 5, -1]], undefined, 'int32');
    const s = x.sum(1);
    expect(s.dtype).toBe('int32');
    expect(await s.data()).toBeInstanceOf(Int32Array);
    expect(Array.from(await s.data())).toEqual([7, 6]);
    expect(Array.from(await x.prod(0).data())).toEqual([6, -35, -11]);
    expect(x.max(0).dtype).toBe('int32');
    expect(Array.from(await x.max(0).data())).toEqual([3, 5, 11]);
    expect(Array.from(await x.min(1).data())).toEqual([-7, -1]);
    expect(await x.sum().item()).toBe(13);
  });

  it('int32 sum and prod wrap', async () => {
    const x = wg.tensor([2147483647, 1, 1], undefined, 'int32');
    expect(await x.sum().item()).toBe(-2147483647);
    const y = wg.tensor([65536, 65536, 3], undefined, 'int32');
    expect(await y.prod().item()).toBe(0);
    const z = wg.tensor([46341, 46341], undefined, 'int32');
    expect(await z.prod().item()).toBe(-2147479015);
  });

  it('int32 sum beyond 2^24 is exact (not accumulated in float32)', async () => {
    const x = wg.tensor([16777216, 1, 1, 1], undefined, 'int32');
    expect(await x.sum().item()).toBe(16777219);
  });

  it('int32 mean and variance give float32', async () => {
    const x = wg.tensor([1, 2], undefined, 'int32');
    expect(x.mean().dtype).toBe('float32');
    expect(await x.mean().item()).toBe(1.5);
    expect(x.variance().dtype).toBe('float32');
    expect(await x.variance().item()).toBe(0.25);
  });

  it('int32 argmax', async () => {
    const x = wg.tensor([[-5, -2, -9]], undefined, 'int32');
    expect(Array.from(await x.argmax(1).data())).toEqual([1]);
    expect(Array.from(await x.argmin(-1).data())).toEqual([2]);
  });

  it('sum / prod of bool count in int32', async () => {
    const b = wg.tensor([
      [true, false, true],
      [true, true, true],
    ]);
    const s = b.sum();
    expect(s.dtype).toBe('int32');
    expect(await s.item()).toBe(5);
    expect(Array.from(await b.sum(0).data())).toEqual([2, 1, 2]);
    expect(Array.from(await b.sum(1).data())).toEqual([2, 3]);
    const p = b.prod(1);
    expect(p.dtype).toBe('int32');
    expect(Array.from(await p.data())).toEqual([0, 1]);
  });

  it('max / min of bool are any / all and stay bool', async () => {
    const b = wg.tensor([
      [true, false, false],
      [false, false, false],
    ]);
    expect(b.max(1).dtype).toBe('bool');
    expect(await b.max(1).array()).toEqual([true, false]);
    expect(await b.min(0).array()).toEqual([false, false, false]);
    expect(await wg.tensor([true, true]).min().item()).toBe(true);
  });

  it('argmax of bool finds the first true', async () => {
    expect(await wg.tensor([false, false, true, true]).argmax().item()).toBe(2);
    expect(await wg.tensor([true, false, true]).argmin().item()).toBe(1);
  });

  it('counting with a comparison', async () => {
    const next = rng(1);
    const xs = randFloats(101, next);
    const n = await wg.tensor(xs).gt(0).sum().item();
    expect(n).toBe(xs.filter((x) => x > 0).length);
  });
});

describe('empty tensors', () => {
  it('sum over an empty axis is 0, prod is 1', async () => {
    const x = wg.zeros([0, 3]);
    expect(x.sum(0).shape).toEqual([3]);
    expect(Array.from(await x.sum(0).data())).toEqual([0, 0, 0]);
    expect(Array.from(await x.prod(0).data())).toEqual([1, 1, 1]);
    expect(await x.sum().item()).toBe(0);
    expect(await x.prod().item()).toBe(1);
    expect(x.sum(1).shape).toEqual([0]);
    expect(Array.from(await x.sum(1).data())).toEqual([]);
    const i = wg.zeros([0, 2], 'int32');
    expect(Array.from(await i.sum(0).data())).toEqual([0, 0]);
    const b = wg.zeros([3, 0], 'bool');
    expect(Array.from(await b.sum(1).data())).toEqual([0, 0, 0]);
  });

  it('mean over an empty axis is NaN', async () => {
    const x = wg.zeros([0, 3]);
    const m = x.mean(0);
    expect(m.shape).toEqual([3]);
    expectExact(await m.data(), [NaN, NaN, NaN]);
    expect(await x.mean().item()).toBeNaN();
    expect(x.mean(1).shape).toEqual([0]);
  });

  it('max / min over a non-empty axis of an empty tensor are fine', async () => {
    const x = wg.zeros([0, 3]);
    expect(x.max(1).shape).toEqual([0]);
    expect(Array.from(await x.max(1).data())).toEqual([]);
    expect(x.argmax(1).shape).toEqual([0]);
  });

  it('keepdims on empty', async () => {
    const x = wg.zeros([2, 0, 3]);
    expect(x.sum(1, true).shape).toEqual([2, 1, 3]);
    expect(Array.from(await x.sum(1, true).data())).toEqual([0, 0, 0, 0, 0, 0]);
  });
});

describe('random data against naive loops', () => {
  const SHAPES: Shape[] = [[1], [7], [3, 5], [13, 1], [1, 13], [2, 3, 5], [5, 1, 7], [3, 2, 1, 5], [2, 3, 4, 5]];
  const allAxisSets = (r: number): number[][] => {
    const out: number[][] = [];
    for (let mask = 1; mask < 1 << r; mask++) out.push([...Array(r).keys()].filter((a) => mask & (1 << a)));
    return out;
  };

  for (const shape of SHAPES) {
    it(`float32 sum/mean/max/min/prod/variance over every axis set of ${JSON.stringify(shape)}`, async () => {
      const next = rng(sizeOf(shape) + shape.length * 1000);
      const n = sizeOf(shape);
      const xs = randFloats(n, next);
      const small = randFloats(n, next, 0.5, 1.5);
      const x = wg.tensor(xs, [...shape]);
      const xsm = wg.tensor(small, [...shape]);
      for (const axes of allAxisSets(shape.length)) {
        for (const keep of [false, true]) {
          // Use negative axis numbers half the time.
          const ax = keep ? axes.map((a) => a - shape.length) : axes;
          const sum = refReduce(xs, shape, axes, 0, (a, v) => a + v, keep);
          const absSum = refReduce(xs, shape, axes, 0, (a, v) => a + Math.abs(v), keep);
          const count = sizeOf(axes.map((a) => shape[a]));
          const label = `${JSON.stringify(ax)} keepdims=${keep}`;
          const s = x.sum(ax, keep);
          expect(s.shape, label).toEqual(sum.shape);
          expectClose(await s.data(), sum.data, 1e-5, 0, absSum.data);
          const m = x.mean(ax, keep);
          expect(m.shape, label).toEqual(sum.shape);
          expectClose(
            await m.data(),
            sum.data.map((v) => v / count),
            1e-5,
            0,
            absSum.data.map((v) => v / count),
          );
          const mx = refReduce(xs, shape, axes, -Infinity, Math.max, keep);
          expectExact(await x.max(ax, keep).data(), mx.data);
          const mn = refReduce(xs, shape, axes, Infinity, Math.min, keep);
          expectExact(await x.min(ax, keep).data(), mn.data);
          const pr = refReduce(small, shape, axes, 1, (a, v) => a * v, keep);
          expectClose(await xsm.prod(ax, keep).data(), pr.data, 1e-5);
          // two-pass population variance
          const mean = sum.data.map((v) => v / count);
          const keptShape = shape.map((d, i) => (axes.includes(i) ? 1 : d));
          const dev: number[] = xs.map((v, i) => {
            let o = 0;
            let rem = i;
            const idx: number[] = [];
            for (let a = shape.length - 1; a >= 0; a--) {
              idx[a] = rem % shape[a];
              rem = Math.floor(rem / shape[a]);
            }
            for (let a = 0; a < shape.length; a++) o = o * keptShape[a] + (axes.includes(a) ? 0 : idx[a]);
            return (v - mean[o]) ** 2;
          });
          const vr = refReduce(dev, shape, axes, 0, (a, v) => a + v, keep);
          const vv = x.variance(ax, keep);
          expect(vv.shape, label).toEqual(vr.shape);
          expectClose(
            await vv.data(),
            vr.data.map((v) => v / count),
            1e-5,
            1e-6,
          );
        }
      }
    });

    it(`int32 sum/prod/max/min and argmax/argmin on ${JSON.stringify(shape)}`, async () => {
      const next = rng(sizeOf(shape) * 3 + shape.length);
      const n = sizeOf(shape);
      const xs = randInts(n, next, -5, 5);
      const x = wg.tensor(Int32Array.from(xs), [...shape]);
      for (const axes of allAxisSets(shape.length)) {
        const s = refReduce(xs, shape, axes, 0, (a, v) => (a + v) | 0);
        expect(Array.from(await x.sum(axes).data())).toEqual(s.data);
        const p = refReduce(xs, shape, axes, 1, (a, v) => Math.imul(a, v));
        expect(Array.from(await x.prod(axes).data())).toEqual(p.data);
        const mx = refReduce(xs, shape, axes, -Infinity, Math.max);
        expect(Array.from(await x.max(axes).data())).toEqual(mx.data);
        const mn = refReduce(xs, shape, axes, Infinity, Math.min);
        expect(Array.from(await x.min(axes).data())).toEqual(mn.data);
      }
      for (let a = -shape.length; a < shape.length; a++) {
        // many ties with values in [-5, 5): the first index must win
        const am = refArg(xs, shape, a, true);
        const r = x.argmax(a);
        expect(r.shape).toEqual(am.shape);
        expect(Array.from(await r.data()), `argmax axis ${a}`).toEqual(am.data);
        const an = refArg(xs, shape, a, false);
        expect(Array.from(await x.argmin(a).data()), `argmin axis ${a}`).toEqual(an.data);
      }
      const flatMax = refArg(xs, [n], 0, true);
      expect(await x.argmax().item()).toBe(flatMax.data[0]);
      const flatMin = refArg(xs, [n], 0, false);
      expect(await x.argmin().item()).toBe(flatMin.data[0]);
    });
  }

  it('bool sums over random data', async () => {
    const next = rng(2);
    const shape = [5, 7, 3];
    const xs = randBools(105, next);
    const b = wg.tensor(xs, shape, 'bool');
    for (const axes of [[0], [1], [2], [0, 2], [1, 2], [0, 1, 2]]) {
      const s = refReduce(xs, shape, axes, 0, (a, v) => a + v);
      const r = b.sum(axes);
      expect(r.dtype).toBe('int32');
      expect(Array.from(await r.data())).toEqual(s.data);
    }
  });

  it('float32 argmax / argmin with NaNs sprinkled in', async () => {
    const next = rng(10);
    const shape = [7, 5];
    const xs = randFloats(35, next).map((v) => (next() < 0.1 ? NaN : v));
    const x = wg.tensor(xs, shape);
    for (const a of [0, 1, -1]) {
      expect(Array.from(await x.argmax(a).data())).toEqual(refArg(xs, shape, a, true).data);
      expect(Array.from(await x.argmin(a).data())).toEqual(refArg(xs, shape, a, false).data);
    }
  });

  it('a long sum is accurate (reference accumulates in f64)', async () => {
    const next = rng(6);
    const xs = randFloats(100003, next, 0, 1);
    let s = 0;
    for (const v of xs) s += v;
    expectClose([(await wg.tensor(xs).sum().item()) as number], [s], 1e-4);
    expectClose([(await wg.tensor(xs).mean().item()) as number], [s / xs.length], 1e-4);
  });

  it('reductions of a lazy, transposed input', async () => {
    const next = rng(12);
    const xs = randFloats(35, next);
    const x = wg.tensor(xs, [5, 7]).T; // [7, 5]
    const exp: number[] = [];
    for (let j = 0; j < 7; j++) {
      let s = 0;
      for (let i = 0; i < 5; i++) s += xs[i * 7 + j];
      exp.push(s);
    }
    expectClose(await x.sum(1).data(), exp, 1e-6, 1e-6);
    expect(Array.from(await x.argmax(0).data())).toEqual(refArg(xs, [5, 7], 1, true).data);
  });

  it('reducing a scalar with no axis is the scalar', async () => {
    expect(await wg.tensor(4).sum().item()).toBe(4);
    expect(await wg.tensor(4).max().item()).toBe(4);
    expect(await wg.tensor(4).mean().item()).toBe(4);
    expect(await wg.tensor(4).argmax().item()).toBe(0);
  });

  it('an empty axis list reduces nothing', async () => {
    const x = wg.tensor(M);
    const s = x.sum([]);
    expect(s.shape).toEqual([2, 3]);
    expect(await s.array()).toEqual(M);
  });
});
