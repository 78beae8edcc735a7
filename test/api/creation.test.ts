// Tensor constructors, tensor properties and reading values back (data, array, item).
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.js';
import { coerce, type DType } from '../../src/ir/dtype.js';
import { expectClose, expectExact, f32, nest, refNormal, refUniform, rng, sizeOf } from './helpers.js';

beforeAll(async () => {
  await wg.init({ backend: 'cpu', quiet: true });
});

describe('wg.tensor', () => {
  it('a JS number is a float32 scalar', async () => {
    const t = wg.tensor(2.5);
    expect(t.shape).toEqual([]);
    expect(t.dtype).toBe('float32');
    expect(t.ndim).toBe(0);
    expect(t.size).toBe(1);
    expect(await t.item()).toBe(2.5);
    expect(await t.array()).toBe(2.5);
    const d = await t.data();
    expect(d).toBeInstanceOf(Float32Array);
    expect(Array.from(d)).toEqual([2.5]);
  });

  it('an integer JS number is still float32 data (numbers default to float32)', async () => {
    const t = wg.tensor(7);
    expect(t.dtype).toBe('float32');
    expect(await t.item()).toBe(7);
  });

  it('a boolean is a bool scalar', async () => {
    const t = wg.tensor(true);
    expect(t.dtype).toBe('bool');
    expect(t.shape).toEqual([]);
    expect(await t.item()).toBe(true);
    expect(await wg.tensor(false).item()).toBe(false);
    const d = await t.data();
    expect(d).toBeInstanceOf(Uint8Array);
    expect(Array.from(d)).toEqual([1]);
  });

  it('nested number arrays infer shape and default to float32', async () => {
    const t = wg.tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(t.shape).toEqual([2, 3]);
    expect(t.dtype).toBe('float32');
    expect(t.ndim).toBe(2);
    expect(t.size).toBe(6);
    expect(Array.from(await t.data())).toEqual([1, 2, 3, 4, 5, 6]);
    expect(await t.array()).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
  });

  it('values are rounded to float32 on the way in', async () => {
    const t = wg.tensor([0.1, 1 / 3, 16777217]);
    expect(Array.from(await t.data())).toEqual([f32(0.1), f32(1 / 3), 16777216]);
  });

  it('rank-3 nested arrays', async () => {
    const data = [
      [
        [1, 2],
        [3, 4],
        [5, 6],
      ],
      [
        [7, 8],
        [9, 10],
        [11, 12],
      ],
    ];
    const t = wg.tensor(data);
    expect(t.shape).toEqual([2, 3, 2]);
    expect(await t.array()).toEqual(data);
  });

  it('nested booleans are bool and come back as booleans', async () => {
    const t = wg.tensor([
      [true, false],
      [false, true],
    ]);
    expect(t.dtype).toBe('bool');
    expect(Array.from(await t.data())).toEqual([1, 0, 0, 1]);
    expect(await t.array()).toEqual([
      [true, false],
      [false, true],
    ]);
  });

  it('an explicit shape reshapes flat data', async () => {
    const t = wg.tensor([1, 2, 3, 4, 5, 6], [3, 2]);
    expect(t.shape).toEqual([3, 2]);
    expect(await t.array()).toEqual([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    const s = wg.tensor([4], []);
    expect(s.shape).toEqual([]);
    expect(await s.item()).toBe(4);
  });

  it('an explicit int32 dtype truncates toward zero, and rejects what int32 cannot hold (as PyTorch)', async () => {
    const t = wg.tensor([1.7, -1.7, 2.5, -0.5, 2147483647.5, -2147483648.5], undefined, 'int32');
    expect(t.dtype).toBe('int32');
    const d = await t.data();
    expect(d).toBeInstanceOf(Int32Array);
    expect(Array.from(d)).toEqual([1, -1, 2, 0, 2147483647, -2147483648]);
    // Saturating (3e9 -> 2147483647) or zeroing (NaN -> 0) would be a silent wrong value: test/api/bad-input.test.ts.
    expect(() => wg.tensor([3e9], undefined, 'int32')).toThrow(wg.DTypeError);
  });

  it('an explicit bool dtype is x != 0', async () => {
    const t = wg.tensor([0, 2, -1, 0.5, 0], [5], 'bool');
    expect(t.dtype).toBe('bool');
    expect(await t.array()).toEqual([false, true, true, true, false]);
  });

  it('booleans with an explicit float32 or int32 dtype become 1 and 0', async () => {
    expect(Array.from(await wg.tensor([true, false, true], undefined, 'float32').data())).toEqual([1, 0, 1]);
    const i = wg.tensor([false, true], undefined, 'int32');
    expect(i.dtype).toBe('int32');
    expect(Array.from(await i.data())).toEqual([0, 1]);
  });

  it('typed arrays keep their dtype', async () => {
    const f = wg.tensor(new Float32Array([1.5, -2]));
    expect(f.dtype).toBe('float32');
    expect(f.shape).toEqual([2]);
    const i = wg.tensor(new Int32Array([7, -8, 2147483647]));
    expect(i.dtype).toBe('int32');
    expect(Array.from(await i.data())).toEqual([7, -8, 2147483647]);
    const b = wg.tensor(new Uint8Array([0, 1, 1]));
    expect(b.dtype).toBe('bool');
    expect(await b.array()).toEqual([false, true, true]);
  });

  it('a Uint8Array with values other than 0/1 is normalised to 0/1', async () => {
    const b = wg.tensor(new Uint8Array([0, 2, 255]));
    expect(Array.from(await b.data())).toEqual([0, 1, 1]);
    expect(await b.array()).toEqual([false, true, true]);
  });

  it('typed array with a shape', async () => {
    const t = wg.tensor(new Int32Array([1, 2, 3, 4, 5, 6]), [2, 1, 3]);
    expect(t.shape).toEqual([2, 1, 3]);
    expect(await t.array()).toEqual([[[1, 2, 3]], [[4, 5, 6]]]);
  });

  it('copies its input: mutating the source array later does not change the tensor', async () => {
    const src = new Float32Array([1, 2, 3]);
    const t = wg.tensor(src);
    src[0] = 100;
    expect(Array.from(await t.data())).toEqual([1, 2, 3]);
    const nested = [1, 2];
    const u = wg.tensor(nested);
    nested[0] = 9;
    expect(Array.from(await u.data())).toEqual([1, 2]);
  });

  it('data() returns a copy: mutating it does not change the tensor', async () => {
    const t = wg.tensor([1, 2, 3]);
    const d = await t.data();
    d[1] = 50;
    expect(Array.from(await t.data())).toEqual([1, 2, 3]);
    const y = t.mul(2);
    const dy = await y.data();
    dy[0] = -1;
    expect(Array.from(await y.data())).toEqual([2, 4, 6]);
  });

  it('empty data: [] has shape [0], [[]] has shape [1,0], and shape [0,3] with no data', async () => {
    const a = wg.tensor([]);
    expect(a.shape).toEqual([0]);
    expect(a.dtype).toBe('float32');
    expect(a.size).toBe(0);
    expect(Array.from(await a.data())).toEqual([]);
    expect(await a.array()).toEqual([]);
    const b = wg.tensor([[]]);
    expect(b.shape).toEqual([1, 0]);
    expect(await b.array()).toEqual([[]]);
    const c = wg.tensor([], [0, 3]);
    expect(c.shape).toEqual([0, 3]);
    expect(await c.array()).toEqual([]);
    const d = wg.tensor(new Int32Array(0), [2, 0]);
    expect(d.dtype).toBe('int32');
    expect(await d.array()).toEqual([[], []]);
  });

  it('special float values survive the round trip', async () => {
    const t = wg.tensor([NaN, Infinity, -Infinity, -0]);
    const d = await t.data();
    expect(d[0]).toBeNaN();
    expect(d[1]).toBe(Infinity);
    expect(d[2]).toBe(-Infinity);
    expect(Object.is(d[3], -0)).toBe(true);
  });

  it('toString names dtype and shape', () => {
    expect(String(wg.tensor([[1, 2, 3]]))).toContain('[1,3]');
    expect(String(wg.tensor([[1, 2, 3]]))).toContain('float32');
  });

  it('shape is a copy: mutating it does not change the tensor', () => {
    const t = wg.zeros([2, 3]);
    const s = t.shape;
    s[0] = 99;
    expect(t.shape).toEqual([2, 3]);
  });
});

describe('zeros / ones / full', () => {
  it('zeros defaults to float32', async () => {
    const t = wg.zeros([2, 3]);
    expect(t.dtype).toBe('float32');
    expect(t.shape).toEqual([2, 3]);
    expect(await t.array()).toEqual([
      [0, 0, 0],
      [0, 0, 0],
    ]);
  });

  it('ones in each dtype', async () => {
    const f = wg.ones([3]);
    expect(f.dtype).toBe('float32');
    expect(Array.from(await f.data())).toEqual([1, 1, 1]);
    const i = wg.ones([2, 2], 'int32');
    expect(i.dtype).toBe('int32');
    expect(await i.data()).toBeInstanceOf(Int32Array);
    expect(Array.from(await i.data())).toEqual([1, 1, 1, 1]);
    const b = wg.ones([1, 3], 'bool');
    expect(b.dtype).toBe('bool');
    expect(await b.array()).toEqual([[true, true, true]]);
    expect(await wg.zeros([2], 'bool').array()).toEqual([false, false]);
  });

  it('full with a number, a boolean, and a dtype', async () => {
    expect(Array.from(await wg.full([2, 2], 3.25).data())).toEqual([3.25, 3.25, 3.25, 3.25]);
    expect(wg.full([2], 3.25).dtype).toBe('float32');
    const b = wg.full([3], true);
    expect(b.dtype).toBe('bool');
    expect(await b.array()).toEqual([true, true, true]);
    const i = wg.full([2], 7.9, 'int32');
    expect(i.dtype).toBe('int32');
    expect(Array.from(await i.data())).toEqual([7, 7]);
    expect(Array.from(await wg.full([2], -7.9, 'int32').data())).toEqual([-7, -7]);
    expect(Array.from(await wg.full([1], 0.1).data())).toEqual([f32(0.1)]);
    const n = await wg.full([2], NaN).data();
    expect(n[0]).toBeNaN();
    expect(n[1]).toBeNaN();
  });

  it('scalar and empty shapes', async () => {
    const s = wg.full([], 5, 'int32');
    expect(s.shape).toEqual([]);
    expect(await s.item()).toBe(5);
    const e = wg.zeros([0, 3]);
    expect(e.shape).toEqual([0, 3]);
    expect(e.size).toBe(0);
    expect(Array.from(await e.data())).toEqual([]);
    expect(await wg.ones([3, 0]).array()).toEqual([[], [], []]);
  });
});

describe('arange', () => {
  it('one argument: [0, n) as int32', async () => {
    const t = wg.arange(5);
    expect(t.dtype).toBe('int32');
    expect(t.shape).toEqual([5]);
    expect(Array.from(await t.data())).toEqual([0, 1, 2, 3, 4]);
  });

  it('start, stop and step', async () => {
    expect(Array.from(await wg.arange(2, 7).data())).toEqual([2, 3, 4, 5, 6]);
    expect(Array.from(await wg.arange(1, 10, 3).data())).toEqual([1, 4, 7]);
    expect(Array.from(await wg.arange(1, 11, 3).data())).toEqual([1, 4, 7, 10]);
    expect(Array.from(await wg.arange(-3, 3, 2).data())).toEqual([-3, -1, 1]);
  });

  it('negative step counts down', async () => {
    const t = wg.arange(5, 0, -1);
    expect(t.dtype).toBe('int32');
    expect(Array.from(await t.data())).toEqual([5, 4, 3, 2, 1]);
    expect(Array.from(await wg.arange(10, -1, -4).data())).toEqual([10, 6, 2]);
  });

  it('empty ranges have shape [0]', async () => {
    expect(wg.arange(3, 0).shape).toEqual([0]);
    expect(wg.arange(0).shape).toEqual([0]);
    expect(wg.arange(0, 5, -1).shape).toEqual([0]);
    expect(Array.from(await wg.arange(3, 3).data())).toEqual([]);
  });

  it('float arguments give float32', async () => {
    const t = wg.arange(0.5, 3);
    expect(t.dtype).toBe('float32');
    expect(Array.from(await t.data())).toEqual([0.5, 1.5, 2.5]);
    const u = wg.arange(0, 1, 0.25);
    expect(u.dtype).toBe('float32');
    expect(Array.from(await u.data())).toEqual([0, 0.25, 0.5, 0.75]);
    const v = wg.arange(0, 1, 0.1);
    expect(v.shape).toEqual([10]);
    expectClose(await v.data(), [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9], 1e-6, 1e-7);
    const w = wg.arange(2.5);
    expect(w.dtype).toBe('float32');
    expect(Array.from(await w.data())).toEqual([0, 1, 2]);
    const down = wg.arange(1, 0, -0.5);
    expect(Array.from(await down.data())).toEqual([1, 0.5]);
  });
});

describe('more creation cases', () => {
  it('integer arange is exact beyond 2^24', async () => {
    const t = wg.arange(16777216, 16777220);
    expect(t.dtype).toBe('int32');
    expect(Array.from(await t.data())).toEqual([16777216, 16777217, 16777218, 16777219]);
    expect(Array.from(await wg.arange(2147483640, 2147483647, 3).data())).toEqual([2147483640, 2147483643, 2147483646]);
  });

  it('eye(n, m) is rectangular', async () => {
    expect(await wg.eye(2, 3).array()).toEqual([
      [1, 0, 0],
      [0, 1, 0],
    ]);
    expect(await wg.eye(3, 1).array()).toEqual([[1], [0], [0]]);
  });

  it('a nested array with an explicit shape of the same size is reshaped', async () => {
    const t = wg.tensor(
      [
        [1, 2],
        [3, 4],
      ],
      [4],
    );
    expect(t.shape).toEqual([4]);
    expect(Array.from(await t.data())).toEqual([1, 2, 3, 4]);
  });

  it('a typed array with an explicit dtype is converted', async () => {
    const t = wg.tensor(new Float32Array([1.5, -2.5, 0]), [3], 'int32');
    expect(t.dtype).toBe('int32');
    expect(Array.from(await t.data())).toEqual([1, -2, 0]);
    const b = wg.tensor(new Int32Array([0, 5]), [2], 'bool');
    expect(await b.array()).toEqual([false, true]);
    const f = wg.tensor(new Uint8Array([1, 0]), [2], 'float32');
    expect(f.dtype).toBe('float32');
    expect(Array.from(await f.data())).toEqual([1, 0]);
  });

  it('converts any source (plain numbers, each typed array) to each dtype as coerce does, element by element', async () => {
    // wg.tensor copies typed data in bulk; this holds it to coerce's rules (float32 rounding, int32 truncation
    // toward zero, bool as != 0) on values with fractions, signed zeros, float32 edge cases and int32 limits.
    const value = fc.oneof(
      fc.double({ noNaN: true, min: -3e9, max: 3e9 }),
      fc.integer({ min: -2147483648, max: 2147483647 }),
      fc.constantFrom(0, -0, 0.5, -0.5, 1.5, -2.5, 16777217, 2147483647, -2147483648, 1e-40, 3.4e38),
    );
    const sources = ['array', 'float32', 'int32', 'uint8'] as const;
    await fc.assert(
      fc.asyncProperty(fc.array(value, { maxLength: 40 }), fc.constantFrom(...sources), fc.constantFrom<DType>('float32', 'int32', 'bool'), async (xs, source, dtype) => {
        const data = source === 'array' ? xs : source === 'float32' ? Float32Array.from(xs) : source === 'int32' ? Int32Array.from(xs) : Uint8Array.from(xs);
        const values = Array.from(data as ArrayLike<number>);
        // int32 refuses what it cannot hold (checked elsewhere): only values it holds here.
        if (dtype === 'int32' && values.some((v) => !(Math.abs(Math.trunc(v)) <= 2147483647 && Math.trunc(v) >= -2147483648))) return;
        const got = await wg.tensor(data as Float32Array, [values.length], dtype).data();
        // What storing coerce's values element by element gives (an Int32Array holds -0 as 0).
        const want = (dtype === 'float32' ? Float32Array : dtype === 'int32' ? Int32Array : Uint8Array).from(values.map((v) => coerce(v, dtype)));
        expect(Array.from(got)).toEqual(Array.from(want));
      }),
      { numRuns: 300, seed: 7 },
    );
  });

  it('mixed booleans and numbers are float32 with booleans as 1 / 0', async () => {
    const t = wg.tensor([true, 2.5, false]);
    expect(t.dtype).toBe('float32');
    expect(Array.from(await t.data())).toEqual([1, 2.5, 0]);
  });
});

describe('eye', () => {
  it('is a float32 identity', async () => {
    const t = wg.eye(3);
    expect(t.dtype).toBe('float32');
    expect(t.shape).toEqual([3, 3]);
    expect(await t.array()).toEqual([
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ]);
  });

  it('eye(1) and eye(0)', async () => {
    expect(await wg.eye(1).array()).toEqual([[1]]);
    expect(wg.eye(0).shape).toEqual([0, 0]);
    expect(Array.from(await wg.eye(0).data())).toEqual([]);
  });

  it('eye(7) against a loop', async () => {
    const n = 7;
    const exp: number[] = [];
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) exp.push(i === j ? 1 : 0);
    expect(Array.from(await wg.eye(n).data())).toEqual(exp);
  });

  it('x @ eye is x', async () => {
    const next = rng(3);
    const xs = Array.from({ length: 15 }, () => f32(next() * 10 - 5));
    const x = wg.tensor(xs, [3, 5]);
    expect(Array.from(await x.matmul(wg.eye(5)).data())).toEqual(xs);
  });
});

describe('rand / randn', () => {
  it('rand: float32 values in [0, 1) that are multiples of 2^-24', async () => {
    const t = wg.rand([7, 13], 42);
    expect(t.dtype).toBe('float32');
    expect(t.shape).toEqual([7, 13]);
    const d = await t.data();
    expect(d.length).toBe(91);
    for (const v of d) {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThan(1);
      expect(Number.isInteger(v * 16777216)).toBe(true);
    }
    expect(new Set(d).size).toBeGreaterThan(85);
  });

  it('the same seed gives the same values; different seeds differ', async () => {
    const a = await wg.rand([5, 3], 7).data();
    const b = await wg.rand([5, 3], 7).data();
    const c = await wg.rand([5, 3], 8).data();
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
  });

  it('is counter-based: element i depends only on (seed, i), whatever the shape', async () => {
    const flat = Array.from(await wg.rand([30], 11).data());
    expect(Array.from(await wg.rand([5, 6], 11).data())).toEqual(flat);
    expect(Array.from(await wg.rand([2, 3, 5], 11).data())).toEqual(flat);
    expect(Array.from(await wg.rand([7], 11).data())).toEqual(flat.slice(0, 7));
  });

  it('a lazy rand gives the same values in two different programs', async () => {
    const r = wg.rand([9], 5);
    const a = await r.add(0).data();
    const b = await r.mul(1).data();
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(await r.data())).toEqual(Array.from(a));
  });

  it('matches the documented generator (docs/semantics.md)', async () => {
    for (const seed of [0, 1, 42, -5, 123456789]) {
      const d = await wg.rand([13], seed).data();
      expect(Array.from(d)).toEqual(Array.from({ length: 13 }, (_, i) => refUniform(seed, i)));
      const n = await wg.randn([5], seed).data();
      expectClose(
        n,
        Array.from({ length: 5 }, (_, i) => refNormal(seed, i)),
        1e-6,
        1e-6,
      );
    }
  });

  it('without a seed, each call draws different values', async () => {
    const a = await wg.rand([16]).data();
    const b = await wg.rand([16]).data();
    expect(Array.from(a)).not.toEqual(Array.from(b));
  });

  it('rand has mean ~1/2 and variance ~1/12 on many samples', async () => {
    const d = await wg.rand([20001], 3).data();
    let s = 0;
    for (const v of d) s += v;
    const mean = s / d.length;
    let v2 = 0;
    for (const v of d) v2 += (v - mean) ** 2;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.01);
    expect(Math.abs(v2 / d.length - 1 / 12)).toBeLessThan(0.005);
  });

  it('randn has mean ~0 and standard deviation ~1, all finite', async () => {
    const t = wg.randn([101, 199], 9);
    expect(t.dtype).toBe('float32');
    expect(t.shape).toEqual([101, 199]);
    const d = await t.data();
    let s = 0;
    for (const v of d) {
      expect(Number.isFinite(v)).toBe(true);
      s += v;
    }
    const mean = s / d.length;
    let v2 = 0;
    for (const v of d) v2 += (v - mean) ** 2;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(Math.sqrt(v2 / d.length) - 1)).toBeLessThan(0.03);
    // about 68% within one standard deviation
    const within = Array.from(d).filter((v) => Math.abs(v) < 1).length / d.length;
    expect(Math.abs(within - 0.6827)).toBeLessThan(0.02);
  });

  it('scalar and empty shapes', async () => {
    const s = wg.rand([], 1);
    expect(s.shape).toEqual([]);
    const v = await s.item();
    expect(typeof v).toBe('number');
    expect(wg.randn([0, 4], 1).shape).toEqual([0, 4]);
    expect(Array.from(await wg.randn([0, 4], 1).data())).toEqual([]);
  });
});

describe('reading values', () => {
  it('array() of a scalar is a plain number or boolean', async () => {
    expect(await wg.tensor(3).array()).toBe(3);
    expect(await wg.tensor(false).array()).toBe(false);
    expect(await wg.full([], 4, 'int32').array()).toBe(4);
  });

  it('array() nests like the shape, including size-1 axes', async () => {
    const data = Array.from({ length: 24 }, (_, i) => i);
    for (const shape of [[24], [2, 12], [4, 3, 2], [1, 24], [24, 1], [2, 1, 3, 1, 4], [1, 1, 1, 24]]) {
      const t = wg.tensor(Int32Array.from(data), shape);
      expect(await t.array()).toEqual(nest(data, shape));
    }
  });

  it('array() of shapes with a zero extent inside', async () => {
    expect(await wg.zeros([2, 0, 3]).array()).toEqual([[], []]);
    expect(await wg.zeros([2, 1, 0]).array()).toEqual([[[]], [[]]]);
  });

  it('array() of bool is booleans at every depth', async () => {
    const t = wg.tensor([1, 0, 0, 1, 1, 0], [3, 1, 2], 'bool');
    expect(await t.array()).toEqual([[[true, false]], [[false, true]], [[true, false]]]);
  });

  it('item() of a size-1 tensor of any rank', async () => {
    expect(await wg.tensor([[5]]).item()).toBe(5);
    expect(await wg.tensor([[[true]]]).item()).toBe(true);
    expect(await wg.tensor([-3], [1], 'int32').item()).toBe(-3);
    expect(await wg.tensor([1, 2, 3]).sum().item()).toBe(6);
  });

  it('item() of a tensor with more or fewer than one element rejects with a ShapeError naming the shape', async () => {
    let err: unknown = null;
    try {
      await wg.tensor([1, 2]).item();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(wg.ShapeError);
    expect((err as Error).message).toContain('[2]');
    err = null;
    try {
      await wg.zeros([0, 1]).item();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(wg.ShapeError);
    expect((err as Error).message).toContain('[0,1]');
  });

  it('data() of a lazy tensor computes it', async () => {
    const d = await wg.tensor([1, 2, 3]).add(1).data();
    expect(d).toBeInstanceOf(Float32Array);
    expect(Array.from(d)).toEqual([2, 3, 4]);
  });

  it('properties of a lazy tensor are known before it runs', () => {
    const t = wg.zeros([2, 3, 5]).sum(1);
    expect(t.shape).toEqual([2, 5]);
    expect(t.dtype).toBe('float32');
    expect(t.ndim).toBe(2);
    expect(t.size).toBe(10);
  });

  it('bigger tensors round-trip exactly', async () => {
    const next = rng(77);
    const shape = [7, 13, 5];
    const xs = Array.from({ length: sizeOf(shape) }, () => f32(next() * 100 - 50));
    const t = wg.tensor(xs, shape);
    expectExact(await t.data(), xs);
    expect(await t.array()).toEqual(nest(xs, shape));
  });
});
