// Elementwise ops: binary arithmetic, comparisons, where, clamp, unary and math functions, cast; dtype
// promotion; NumPy broadcasting; int32 wrap-around and per-op float32 rounding.
import { beforeAll, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.js';
import {
  expectClose,
  expectExact,
  f32,
  randBools,
  randFloats,
  randInts,
  refBinary,
  rng,
  sizeOf,
  type Shape,
} from './helpers.js';

beforeAll(async () => {
  await wg.init({ backend: 'cpu', quiet: true });
});

const I32_MAX = 2147483647;
const I32_MIN = -2147483648;

/** Shape pairs that broadcast, including size-1 axes, rank differences, scalars and empty extents. */
const BROADCAST_PAIRS: [Shape, Shape][] = [
  [[5], [5]],
  [[3, 1], [1, 4]],
  [[5], [2, 5]],
  [[2, 5], [5]],
  [[2, 1, 3], [4, 1]],
  [[7, 1, 1], [1, 13]],
  [[], [3]],
  [[3, 2], []],
  [[], []],
  [[1], [1, 1, 1]],
  [[1, 7], [5, 1]],
  [[13], [1]],
  [[0, 3], [1, 3]],
  [[2, 0], [2, 1]],
  [[0], []],
];

type FloatBin = 'add' | 'sub' | 'mul' | 'div' | 'maximum' | 'minimum';
/** Correctly rounded f32 results: the double result of two f32 values, rounded once, is the f32 result. */
const FLOAT_REF: Record<FloatBin, (a: number, b: number) => number> = {
  add: (a, b) => f32(a + b),
  sub: (a, b) => f32(a - b),
  mul: (a, b) => f32(a * b),
  div: (a, b) => f32(a / b),
  maximum: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.max(a, b)),
  minimum: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.min(a, b)),
};

type IntBin = 'add' | 'sub' | 'mul' | 'maximum' | 'minimum';
const INT_REF: Record<IntBin, (a: number, b: number) => number> = {
  add: (a, b) => (a + b) | 0,
  sub: (a, b) => (a - b) | 0,
  mul: (a, b) => Math.imul(a, b),
  maximum: (a, b) => Math.max(a, b),
  minimum: (a, b) => Math.min(a, b),
};

type Cmp = 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge';
const CMP_REF: Record<Cmp, (a: number, b: number) => number> = {
  eq: (a, b) => +(a === b),
  ne: (a, b) => +(a !== b),
  lt: (a, b) => +(a < b),
  le: (a, b) => +(a <= b),
  gt: (a, b) => +(a > b),
  ge: (a, b) => +(a >= b),
};

describe('binary arithmetic, hand-computed', () => {
  it('float32 add sub mul div', async () => {
    const a = wg.tensor([1, 2.5, -3, 8]);
    const b = wg.tensor([4, 0.5, 2, -16]);
    expect(Array.from(await a.add(b).data())).toEqual([5, 3, -1, -8]);
    expect(Array.from(await a.sub(b).data())).toEqual([-3, 2, -5, 24]);
    expect(Array.from(await a.mul(b).data())).toEqual([4, 1.25, -6, -128]);
    expect(Array.from(await a.div(b).data())).toEqual([0.25, 5, -1.5, -0.5]);
  });

  it('pow', async () => {
    const a = wg.tensor([2, 9, 4, 0, 10, 2]);
    const b = wg.tensor([10, 0.5, -1, 0, 0, -2]);
    expect(Array.from(await a.pow(b).data())).toEqual([1024, 3, 0.25, 1, 1, 0.25]);
  });

  it('maximum and minimum, with NaN propagating', async () => {
    const a = wg.tensor([1, -2, 3, NaN, 5]);
    const b = wg.tensor([0, -1, 3, 1, NaN]);
    expectExact(await a.maximum(b).data(), [1, -1, 3, NaN, NaN]);
    expectExact(await a.minimum(b).data(), [0, -2, 3, NaN, NaN]);
  });

  it('division by zero follows IEEE', async () => {
    expectExact(await wg.tensor([1, -1, 0]).div(0).data(), [Infinity, -Infinity, NaN]);
    expectExact(await wg.tensor([1, -1, 0], undefined, 'int32').div(0).data(), [Infinity, -Infinity, NaN]);
  });

  it('int32 add sub mul maximum minimum stay int32 and exact', async () => {
    const a = wg.tensor([7, -3, 100, 0], undefined, 'int32');
    const b = wg.tensor([2, 5, -7, -9], undefined, 'int32');
    for (const [op, exp] of [
      ['add', [9, 2, 93, -9]],
      ['sub', [5, -8, 107, 9]],
      ['mul', [14, -15, -700, 0]],
      ['maximum', [7, 5, 100, 0]],
      ['minimum', [2, -3, -7, -9]],
    ] as const) {
      const r = a[op](b);
      expect(r.dtype, op).toBe('int32');
      const d = await r.data();
      expect(d, op).toBeInstanceOf(Int32Array);
      expect(Array.from(d), op).toEqual(exp);
    }
  });

  it('int32 arithmetic wraps (two\'s complement)', async () => {
    const big = wg.tensor([I32_MAX, I32_MIN, 65536, 46341], undefined, 'int32');
    expect(Array.from(await big.add(1).data())).toEqual([I32_MIN, I32_MIN + 1, 65537, 46342]);
    expect(Array.from(await big.sub(1).data())).toEqual([I32_MAX - 1, I32_MAX, 65535, 46340]);
    expect(Array.from(await big.mul(big).data())).toEqual([1, 0, 0, -2147479015]);
    expect(Array.from(await big.mul(2).data())).toEqual([-2, 0, 131072, 92682]);
    expect(Array.from(await big.neg().data())).toEqual([-I32_MAX, I32_MIN, -65536, -46341]);
  });

  it('int32 div and pow give float32', async () => {
    const a = wg.tensor([7, -7, 1, 2], undefined, 'int32');
    const b = wg.tensor([2, 2, 3, 10], undefined, 'int32');
    const d = a.div(b);
    expect(d.dtype).toBe('float32');
    expect(Array.from(await d.data())).toEqual([3.5, -3.5, f32(1 / 3), f32(0.2)]);
    const p = a.pow(b);
    expect(p.dtype).toBe('float32');
    expect(Array.from(await p.data())).toEqual([49, 49, 1, 1024]);
    expect(a.div(2).dtype).toBe('float32');
    expect(Array.from(await a.div(2).data())).toEqual([3.5, -3.5, 0.5, 1]);
  });

  it('int32 division is float division, not integer division', async () => {
    const t = wg.tensor([5], undefined, 'int32').div(wg.tensor([2], undefined, 'int32'));
    expect(await t.item()).toBe(2.5);
  });
});

describe('binary ops against a naive broadcast, random data', () => {
  for (const [sa, sb] of BROADCAST_PAIRS) {
    it(`float32 ${JSON.stringify(sa)} op ${JSON.stringify(sb)}`, async () => {
      const next = rng(sizeOf(sa) * 31 + sizeOf(sb) * 7 + sa.length);
      const a = randFloats(sizeOf(sa), next);
      const b = randFloats(sizeOf(sb), next, 0.25, 4);
      const ta = wg.tensor(a, sa);
      const tb = wg.tensor(b, sb);
      for (const op of Object.keys(FLOAT_REF) as FloatBin[]) {
        const exp = refBinary(a, sa, b, sb, FLOAT_REF[op]);
        const r = ta[op](tb);
        expect(r.shape, op).toEqual(exp.shape);
        expect(r.dtype, op).toBe('float32');
        expectExact(await r.data(), exp.data);
        // the other operand order
        const rev = refBinary(b, sb, a, sa, FLOAT_REF[op]);
        const r2 = tb[op](ta);
        expect(r2.shape, op).toEqual(rev.shape);
        expectExact(await r2.data(), rev.data);
      }
      const p = refBinary(b, sb, a, sa, (x, y) => Math.pow(x, y));
      const tp = tb.pow(ta);
      expect(tp.shape).toEqual(p.shape);
      expectClose(await tp.data(), p.data, 1e-6);
    });

    it(`int32 ${JSON.stringify(sa)} op ${JSON.stringify(sb)}`, async () => {
      const next = rng(sizeOf(sa) * 17 + sizeOf(sb) * 5 + 1);
      const a = randInts(sizeOf(sa), next, -1000, 1000);
      const b = randInts(sizeOf(sb), next, -1000, 1000);
      const ta = wg.tensor(Int32Array.from(a), [...sa]);
      const tb = wg.tensor(Int32Array.from(b), [...sb]);
      for (const op of Object.keys(INT_REF) as IntBin[]) {
        const exp = refBinary(a, sa, b, sb, INT_REF[op]);
        const r = ta[op](tb);
        expect(r.shape, op).toEqual(exp.shape);
        expect(r.dtype, op).toBe('int32');
        expect(Array.from(await r.data()), op).toEqual(exp.data);
      }
      for (const op of Object.keys(CMP_REF) as Cmp[]) {
        const exp = refBinary(a, sa, b, sb, CMP_REF[op]);
        const r = ta[op](tb);
        expect(r.dtype, op).toBe('bool');
        expect(r.shape, op).toEqual(exp.shape);
        expect(Array.from(await r.data()), op).toEqual(exp.data);
      }
    });
  }

  it('int32 products that overflow wrap like Math.imul', async () => {
    const next = rng(99);
    const a = randInts(37, next, -2147483648, 2147483647);
    const b = randInts(37, next, -2147483648, 2147483647);
    const ta = wg.tensor(Int32Array.from(a));
    const tb = wg.tensor(Int32Array.from(b));
    expect(Array.from(await ta.mul(tb).data())).toEqual(a.map((x, i) => Math.imul(x, b[i])));
    expect(Array.from(await ta.add(tb).data())).toEqual(a.map((x, i) => (x + b[i]) | 0));
    expect(Array.from(await ta.sub(tb).data())).toEqual(a.map((x, i) => (x - b[i]) | 0));
  });
});

describe('scalars (JS numbers) on either side', () => {
  const xs = [1.5, -2, 0.25, 7, -0.5];
  it('tensor op number', async () => {
    const t = wg.tensor(xs);
    expectExact(await t.add(2).data(), xs.map((x) => f32(x + 2)));
    expectExact(await t.sub(0.5).data(), xs.map((x) => f32(x - 0.5)));
    expectExact(await t.mul(-3).data(), xs.map((x) => f32(x * -3)));
    expectExact(await t.div(4).data(), xs.map((x) => f32(x / 4)));
    expectExact(await t.maximum(0).data(), xs.map((x) => Math.max(x, 0)));
    expectExact(await t.minimum(1).data(), xs.map((x) => Math.min(x, 1)));
    expectClose(await t.abs().pow(2).data(), xs.map((x) => x * x));
  });

  it('number op tensor, through a scalar tensor on the left', async () => {
    const t = wg.tensor(xs);
    expectExact(await wg.tensor(10).sub(t).data(), xs.map((x) => f32(10 - x)));
    expectExact(await wg.tensor(1).div(t).data(), xs.map((x) => f32(1 / x)));
    expectExact(await wg.full([], 3, 'int32').mul(t).data(), xs.map((x) => f32(3 * x)));
    expectClose(await wg.tensor(2).pow(t).data(), xs.map((x) => 2 ** x));
    expect(await wg.tensor(2).sub(3).item()).toBe(-1);
  });

  it('a scalar constant is rounded to float32 before the op', async () => {
    const t = wg.tensor([3]);
    expect(await t.mul(0.1).item()).toBe(f32(3 * f32(0.1)));
    expect(await t.add(1e-8).sub(3).item()).toBe(0);
  });

  it('boolean scalars compare with bool tensors', async () => {
    const b = wg.tensor([true, false, true]);
    expect(await b.eq(true).array()).toEqual([true, false, true]);
    expect(await b.ne(true).array()).toEqual([false, true, false]);
  });
});

describe('dtype promotion', () => {
  const i = () => wg.tensor([1, 2, 3], undefined, 'int32');
  const f = () => wg.tensor([0.5, 1.5, 2.5]);

  it('int32 op integer number stays int32; op fractional number is float32', async () => {
    expect(i().add(1).dtype).toBe('int32');
    expect(Array.from(await i().add(1).data())).toEqual([2, 3, 4]);
    expect(i().mul(2).dtype).toBe('int32');
    expect(i().add(0.5).dtype).toBe('float32');
    expect(Array.from(await i().add(0.5).data())).toEqual([1.5, 2.5, 3.5]);
    expect(i().maximum(1.5).dtype).toBe('float32');
    expect(Array.from(await i().maximum(1.5).data())).toEqual([1.5, 2, 3]);
  });

  it('int32 op float32 tensor is float32, in either order', async () => {
    expect(i().add(f()).dtype).toBe('float32');
    expect(f().add(i()).dtype).toBe('float32');
    expect(Array.from(await i().add(f()).data())).toEqual([1.5, 3.5, 5.5]);
    expect(Array.from(await f().sub(i()).data())).toEqual([-0.5, -0.5, -0.5]);
  });

  it('float32 op integer number stays float32', async () => {
    expect(f().add(1).dtype).toBe('float32');
    expect(Array.from(await f().add(1).data())).toEqual([1.5, 2.5, 3.5]);
  });

  it('a JS integer outside the int32 range is not silently saturated', async () => {
    // 2^31 cannot be an int32 operand: the op must either promote (float32) or refuse at the call.
    const x = wg.zeros([1], 'int32');
    let r: wg.Tensor | null = null;
    try {
      r = x.add(2 ** 31);
    } catch (e) {
      expect(e).toBeInstanceOf(wg.WgfuseError);
    }
    if (r) expect(await r.item()).toBe(2 ** 31);
    let m: wg.Tensor | null = null;
    try {
      m = wg.tensor([3], undefined, 'int32').mul(1e10);
    } catch (e) {
      expect(e).toBeInstanceOf(wg.WgfuseError);
    }
    if (m) expect(await m.item()).toBe(f32(3e10));
  });

  it('int32 promoted to float32 is rounded to float32', async () => {
    const big = wg.tensor([16777217], undefined, 'int32');
    expect(await big.add(0.5).item()).toBe(16777216);
  });

  it('comparisons promote too and give bool', async () => {
    const c = i().lt(2.5);
    expect(c.dtype).toBe('bool');
    expect(await c.array()).toEqual([true, true, false]);
    expect(await i().eq(f().add(0.5)).array()).toEqual([true, true, true]);
    expect(await i().ge(2).array()).toEqual([false, true, true]);
  });

  it('bool compared with numbers promotes bool to int32', async () => {
    const b = wg.tensor([true, false]);
    expect(await b.eq(1).array()).toEqual([true, false]);
    expect(await b.lt(0.5).array()).toEqual([false, true]);
  });
});

describe('comparisons', () => {
  it('hand-computed float32', async () => {
    const a = wg.tensor([1, 2, 3, NaN, -0]);
    const b = wg.tensor([2, 2, 2, NaN, 0]);
    expect(await a.eq(b).array()).toEqual([false, true, false, false, true]);
    expect(await a.ne(b).array()).toEqual([true, false, true, true, false]);
    expect(await a.lt(b).array()).toEqual([true, false, false, false, false]);
    expect(await a.le(b).array()).toEqual([true, true, false, false, true]);
    expect(await a.gt(b).array()).toEqual([false, false, true, false, false]);
    expect(await a.ge(b).array()).toEqual([false, true, true, false, true]);
  });

  it('on bool tensors: false < true', async () => {
    const a = wg.tensor([false, false, true, true]);
    const b = wg.tensor([false, true, false, true]);
    expect(await a.lt(b).array()).toEqual([false, true, false, false]);
    expect(await a.eq(b).array()).toEqual([true, false, false, true]);
    expect(await a.ge(b).array()).toEqual([true, false, true, true]);
  });

  it('random float32 with broadcasting, against JS', async () => {
    const next = rng(5);
    const a = randFloats(21, next).map((x) => Math.round(x * 2) / 2);
    const b = randFloats(7, next).map((x) => Math.round(x * 2) / 2);
    const ta = wg.tensor(a, [3, 1, 7]);
    const tb = wg.tensor(b, [7]);
    for (const op of Object.keys(CMP_REF) as Cmp[]) {
      const exp = refBinary(a, [3, 1, 7], b, [7], CMP_REF[op]);
      const r = ta[op](tb);
      expect(r.shape).toEqual([3, 1, 7]);
      expect(Array.from(await r.data()), op).toEqual(exp.data);
    }
  });
});

describe('where', () => {
  it('hand-computed', async () => {
    const c = wg.tensor([true, false, true, false]);
    const r = wg.where(c, wg.tensor([1, 2, 3, 4]), wg.tensor([10, 20, 30, 40]));
    expect(r.dtype).toBe('float32');
    expect(Array.from(await r.data())).toEqual([1, 20, 3, 40]);
  });

  it('numbers for both branches', async () => {
    const x = wg.tensor([-2, 3, 0, 5]);
    const r = wg.where(x.gt(0), 1, -1);
    expect(r.dtype).toBe('int32');
    expect(r.shape).toEqual([4]);
    expect(Array.from(await r.data())).toEqual([-1, 1, -1, 1]);
    const s = wg.where(x.gt(0), x, 0);
    expect(s.dtype).toBe('float32');
    expect(Array.from(await s.data())).toEqual([0, 3, 0, 5]);
    const t = wg.where(x.gt(0), 0.5, x);
    expect(Array.from(await t.data())).toEqual([-2, 0.5, 0, 0.5]);
  });

  it('boolean branches give bool', async () => {
    const c = wg.tensor([true, false]);
    const r = wg.where(c, false, true);
    expect(r.dtype).toBe('bool');
    expect(await r.array()).toEqual([false, true]);
  });

  it('promotes int32 and float32 branches', async () => {
    const c = wg.tensor([true, false]);
    const r = wg.where(c, wg.tensor([1, 2], undefined, 'int32'), 2.5);
    expect(r.dtype).toBe('float32');
    expect(Array.from(await r.data())).toEqual([1, 2.5]);
    const s = wg.where(c, wg.tensor([true, true]), wg.tensor([7, 8], undefined, 'int32'));
    expect(s.dtype).toBe('int32');
    expect(Array.from(await s.data())).toEqual([1, 8]);
  });

  it('broadcasts all three operands, random data', async () => {
    const next = rng(21);
    const cs: Shape = [3, 1, 1];
    const as: Shape = [1, 5];
    const bs: Shape = [4, 1];
    const c = randBools(3, next);
    const a = randFloats(5, next);
    const b = randFloats(4, next);
    const r = wg.where(wg.tensor(c, [...cs], 'bool'), wg.tensor(a, [...as]), wg.tensor(b, [...bs]));
    expect(r.shape).toEqual([3, 4, 5]);
    const exp: number[] = [];
    for (let i = 0; i < 3; i++) for (let j = 0; j < 4; j++) for (let k = 0; k < 5; k++) exp.push(c[i] ? a[k] : b[j]);
    expectExact(await r.data(), exp);
  });

  it('the condition alone can set the shape', async () => {
    const c = wg.tensor([
      [true, false, true],
      [false, false, true],
    ]);
    const r = wg.where(c, wg.tensor(1), wg.tensor(0));
    expect(r.shape).toEqual([2, 3]);
    expect(await r.array()).toEqual([
      [1, 0, 1],
      [0, 0, 1],
    ]);
  });

  it('empty', async () => {
    const r = wg.where(wg.zeros([0, 2], 'bool'), 1, 2);
    expect(r.shape).toEqual([0, 2]);
    expect(Array.from(await r.data())).toEqual([]);
  });
});

describe('clamp', () => {
  it('both bounds, float32', async () => {
    const x = wg.tensor([-3, -1, 0, 0.5, 2, 9]);
    expect(Array.from(await x.clamp(-1, 1).data())).toEqual([-1, -1, 0, 0.5, 1, 1]);
  });

  it('one bound only', async () => {
    const x = wg.tensor([-3, 0, 4]);
    expect(Array.from(await x.clamp(0).data())).toEqual([0, 0, 4]);
    expect(Array.from(await x.clamp(null, 1).data())).toEqual([-3, 0, 1]);
    expect(Array.from(await x.clamp(undefined, 1).data())).toEqual([-3, 0, 1]);
  });

  it('int32 stays int32 with integer bounds', async () => {
    const x = wg.tensor([-5, 2, 7], undefined, 'int32');
    const r = x.clamp(0, 5);
    expect(r.dtype).toBe('int32');
    expect(Array.from(await r.data())).toEqual([0, 2, 5]);
    const s = x.clamp(0.5, 5);
    expect(s.dtype).toBe('float32');
    expect(Array.from(await s.data())).toEqual([0.5, 2, 5]);
  });

  it('tensor bounds broadcast', async () => {
    const x = wg.tensor([
      [0, 5, 10],
      [-10, 5, 20],
    ]);
    const lo = wg.tensor([1, 2, 3]);
    const hi = wg.tensor([[4], [6]]);
    expect(await x.clamp(lo, hi).array()).toEqual([
      [1, 4, 4],
      [1, 5, 6],
    ]);
  });

  it('lo > hi gives hi (as numpy.clip); NaN stays NaN', async () => {
    expect(Array.from(await wg.tensor([0, 5]).clamp(3, 1).data())).toEqual([1, 1]);
    expect(await wg.tensor([NaN]).clamp(0, 1).item()).toBeNaN();
  });

  it('random, against JS', async () => {
    const next = rng(8);
    const xs = randFloats(13, next);
    expectExact(await wg.tensor(xs).clamp(-1.5, 2).data(), xs.map((x) => Math.min(Math.max(x, f32(-1.5)), 2)));
  });
});

describe('unary ops, hand-computed', () => {
  it('neg abs square sign relu', async () => {
    const x = wg.tensor([-2.5, -1, 0, 1.5, 3]);
    expect(Array.from(await x.neg().data())).toEqual([2.5, 1, -0, -1.5, -3]);
    expect(Array.from(await x.abs().data())).toEqual([2.5, 1, 0, 1.5, 3]);
    expect(Array.from(await x.square().data())).toEqual([6.25, 1, 0, 2.25, 9]);
    expect(Array.from(await x.sign().data())).toEqual([-1, -1, 0, 1, 1]);
    expect(Array.from(await x.relu().data())).toEqual([0, 0, 0, 1.5, 3]);
  });

  it('floor ceil round (half to even)', async () => {
    const x = wg.tensor([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5, 2.4, -2.6, 0.49999997]);
    expectExact(await x.floor().data(), [-3, -2, -1, 0, 1, 2, 3, 2, -3, 0]);
    expectExact(await x.ceil().data(), [-2, -1, -0, 1, 2, 3, 4, 3, -2, 1]);
    expectExact(await x.round().data(), [-2, -2, -0, 0, 2, 2, 4, 2, -3, 0]);
  });

  it('round of larger halves', async () => {
    const x = wg.tensor([4.5, 5.5, 1000.5, 1001.5, -7.5, 8388607.5]);
    expectExact(await x.round().data(), [4, 6, 1000, 1002, -8, 8388608]);
  });

  it('exp log sqrt rsqrt reciprocal', async () => {
    const x = wg.tensor([1, 4, 0.25]);
    expectClose(await x.exp().data(), [Math.E, 54.598150033144236, 1.2840254166877414], 1e-6);
    expectClose(await x.log().data(), [0, 1.3862943611198906, -1.3862943611198906], 1e-6, 1e-7);
    expect(Array.from(await x.sqrt().data())).toEqual([1, 2, 0.5]);
    expect(Array.from(await x.rsqrt().data())).toEqual([1, 0.5, 2]);
    expect(Array.from(await x.reciprocal().data())).toEqual([1, 0.25, 4]);
  });

  it('edge values of exp log sqrt', async () => {
    expectExact(await wg.tensor([0, -1, Infinity]).log().data(), [-Infinity, NaN, Infinity]);
    expectExact(await wg.tensor([-1, 0, Infinity]).sqrt().data(), [NaN, 0, Infinity]);
    expectExact(await wg.tensor([-Infinity, 0, -200]).exp().data(), [0, 1, 0]);
    expectExact(await wg.tensor([0]).reciprocal().data(), [Infinity]);
    expectExact(await wg.tensor([0]).rsqrt().data(), [Infinity]);
  });

  it('sin cos tanh sigmoid', async () => {
    const x = wg.tensor([0, 1, 0.5, -2]);
    expectClose(await x.sin().data(), [0, 0.8414709848078965, 0.479425538604203, -0.9092974268256817], 1e-6, 1e-7);
    expectClose(await x.cos().data(), [1, 0.5403023058681398, 0.8775825618903728, -0.4161468365471424], 1e-6, 1e-7);
    expectClose(await x.tanh().data(), [0, 0.7615941559557649, 0.46211715726000974, -0.9640275800758169], 1e-6, 1e-7);
    expectClose(await x.sigmoid().data(), [0.5, 0.7310585786300049, 0.6224593312018546, 0.11920292202211755], 1e-6, 1e-7);
  });

  it('sigmoid and tanh saturate without NaN', async () => {
    expectExact(await wg.tensor([100, -100, 1000, -1000]).tanh().data(), [1, -1, 1, -1]);
    const s = await wg.tensor([100, -1000]).sigmoid().data();
    expect(s[0]).toBe(1);
    expect(s[1]).toBe(0);
  });

  it('NaN through relu, sign, abs, floor and round stays NaN; sign(-0) is 0', async () => {
    const x = wg.tensor([NaN]);
    for (const op of ['relu', 'sign', 'abs', 'neg', 'floor', 'ceil', 'round', 'square', 'exp', 'sigmoid'] as const) {
      expect(await x[op]().item(), op).toBeNaN();
    }
    expect(await wg.tensor([-0]).sign().item()).toBe(0);
  });

  it('pow of a negative base: integer exponents are real, fractional ones NaN (as NumPy)', async () => {
    const base = wg.tensor([-2, -2, -8, -1]);
    const exp = wg.tensor([3, 2, 0.5, -1]);
    expectExact(await base.pow(exp).data(), [-8, 4, NaN, -1]);
  });

  it('gelu is the tanh approximation', async () => {
    const x = wg.tensor([0, 1, -1, 2, -3, 0.5]);
    // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), written out by hand
    expectClose(
      await x.gelu().data(),
      [0, 0.8411919906082768, -0.15880800939172324, 1.954597694087775, -0.0036373920817729943, 0.34571400982514394],
      1e-6,
      1e-7,
    );
  });

  it('math functions on int32 compute in float32', async () => {
    const x = wg.tensor([1, 4, 9], undefined, 'int32');
    for (const op of ['exp', 'log', 'sqrt', 'rsqrt', 'reciprocal', 'sin', 'cos', 'tanh', 'sigmoid', 'gelu'] as const) {
      expect(x[op]().dtype, op).toBe('float32');
    }
    expect(Array.from(await x.sqrt().data())).toEqual([1, 2, 3]);
    expect(Array.from(await x.reciprocal().data())).toEqual([1, 0.25, f32(1 / 9)]);
    expectClose(await x.log().data(), [0, Math.log(4), Math.log(9)], 1e-6, 1e-7);
  });

  it('int32 unary ops stay int32 and wrap', async () => {
    const x = wg.tensor([-7, 0, 5, I32_MIN, I32_MAX, 46341], undefined, 'int32');
    const check = async (t: wg.Tensor, exp: number[], name: string) => {
      expect(t.dtype, name).toBe('int32');
      expect(Array.from(await t.data()), name).toEqual(exp);
    };
    await check(x.neg(), [7, 0, -5, I32_MIN, -I32_MAX, -46341], 'neg');
    await check(x.abs(), [7, 0, 5, I32_MIN, I32_MAX, 46341], 'abs');
    await check(x.square(), [49, 0, 25, 0, 1, -2147479015], 'square');
    await check(x.sign(), [-1, 0, 1, -1, 1, 1], 'sign');
    await check(x.relu(), [0, 0, 5, 0, I32_MAX, 46341], 'relu');
    await check(x.floor(), [-7, 0, 5, I32_MIN, I32_MAX, 46341], 'floor');
    await check(x.ceil(), [-7, 0, 5, I32_MIN, I32_MAX, 46341], 'ceil');
    await check(x.round(), [-7, 0, 5, I32_MIN, I32_MAX, 46341], 'round');
  });

  it('float unary ops on random odd-size data against JS', async () => {
    const next = rng(13);
    const xs = randFloats(13 * 7, next, -6, 6);
    const pos = xs.map((x) => f32(Math.abs(x) + 0.01));
    const t = wg.tensor(xs, [13, 7]);
    const tp = wg.tensor(pos, [13, 7]);
    // Exact: these are correctly rounded from one f32 operand.
    expectExact(await t.neg().data(), xs.map((x) => -x));
    expectExact(await t.abs().data(), xs.map(Math.abs));
    expectExact(await t.square().data(), xs.map((x) => f32(x * x)));
    expectExact(await t.relu().data(), xs.map((x) => Math.max(x, 0)));
    expectExact(await t.sign().data(), xs.map(Math.sign));
    expectExact(await t.floor().data(), xs.map(Math.floor));
    expectExact(await t.ceil().data(), xs.map(Math.ceil));
    expectExact(await tp.sqrt().data(), pos.map((x) => f32(Math.sqrt(x))));
    expectExact(await tp.reciprocal().data(), pos.map((x) => f32(1 / x)));
    // Transcendental: a few ulp.
    const tol = 4e-7;
    expectClose(await t.exp().data(), xs.map(Math.exp), tol);
    expectClose(await tp.log().data(), pos.map(Math.log), tol, 1e-7);
    expectClose(await tp.rsqrt().data(), pos.map((x) => 1 / Math.sqrt(x)), tol);
    expectClose(await t.sin().data(), xs.map(Math.sin), tol, 1e-7);
    expectClose(await t.cos().data(), xs.map(Math.cos), tol, 1e-7);
    expectClose(await t.tanh().data(), xs.map(Math.tanh), tol, 1e-7);
    expectClose(await t.sigmoid().data(), xs.map((x) => 1 / (1 + Math.exp(-x))), tol, 1e-7);
    const gelu = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
    expectClose(await t.gelu().data(), xs.map(gelu), tol, 1e-7);
  });

  it('round against a half-to-even reference on random halves', async () => {
    const next = rng(4);
    const xs = randInts(41, next, -200, 200).map((k) => k / 2);
    const rhe = (x: number) => {
      const fl = Math.floor(x);
      const d = x - fl;
      if (d < 0.5) return fl;
      if (d > 0.5) return fl + 1;
      return fl % 2 === 0 ? fl : fl + 1;
    };
    expectExact(await wg.tensor(xs).round().data(), xs.map(rhe));
  });

  it('unary ops on empty and scalar tensors', async () => {
    const e = wg.zeros([0, 3]).exp();
    expect(e.shape).toEqual([0, 3]);
    expect(Array.from(await e.data())).toEqual([]);
    expect(await wg.tensor(-4).abs().sqrt().item()).toBe(2);
  });
});

describe('float32 rounding per op', () => {
  it('each op rounds its result to float32', async () => {
    expect(await wg.tensor([1]).add(1e-8).sub(1).item()).toBe(0);
    expect(await wg.tensor([16777216]).add(1).sub(16777216).item()).toBe(0);
    expect(await wg.tensor([89]).exp().item()).toBe(Infinity);
    expect(await wg.tensor([1e30]).square().item()).toBe(Infinity);
    expect(await wg.tensor([1e30]).mul(1e30).div(1e30).item()).toBe(Infinity);
  });

  it('chains agree with rounding after every step', async () => {
    const next = rng(33);
    const xs = randFloats(101, next, -3, 3);
    const ys = randFloats(101, next, -3, 3);
    const x = wg.tensor(xs);
    const y = wg.tensor(ys);
    const r = x.mul(y).add(x).mul(x).sub(y.div(3));
    const exp = xs.map((a, i) => {
      const b = ys[i];
      const t1 = f32(a * b);
      const t2 = f32(t1 + a);
      const t3 = f32(t2 * a);
      return f32(t3 - f32(b / 3));
    });
    expectExact(await r.data(), exp);
  });
});

describe('cast', () => {
  it('float32 to int32 truncates toward zero, saturates, NaN -> 0', async () => {
    const x = wg.tensor([1.9, -1.9, 0.5, -0.5, 3e9, -3e9, NaN, Infinity, -Infinity]);
    const r = x.cast('int32');
    expect(r.dtype).toBe('int32');
    expect(Array.from(await r.data())).toEqual([1, -1, 0, 0, I32_MAX, I32_MIN, 0, I32_MAX, I32_MIN]);
  });

  it('float32 to bool is x != 0 (NaN is true)', async () => {
    const r = wg.tensor([0, -0, 0.5, -2, NaN]).cast('bool');
    expect(r.dtype).toBe('bool');
    expect(await r.array()).toEqual([false, false, true, true, true]);
  });

  it('int32 to float32 rounds to float32; to bool is x != 0', async () => {
    const x = wg.tensor([16777217, -3, 0, I32_MAX], undefined, 'int32');
    expect(Array.from(await x.cast('float32').data())).toEqual([16777216, -3, 0, 2147483648]);
    expect(await x.cast('bool').array()).toEqual([true, true, false, true]);
  });

  it('bool to int32 and float32 is 1/0', async () => {
    const b = wg.tensor([true, false, true]);
    const i = b.cast('int32');
    expect(i.dtype).toBe('int32');
    expect(Array.from(await i.data())).toEqual([1, 0, 1]);
    expect(Array.from(await b.cast('float32').data())).toEqual([1, 0, 1]);
    expect(Array.from(await b.cast('int32').add(b.cast('int32')).data())).toEqual([2, 0, 2]);
  });

  it('cast to the same dtype keeps values', async () => {
    expect(Array.from(await wg.tensor([1.5]).cast('float32').data())).toEqual([1.5]);
    expect(wg.tensor([1.5]).cast('float32').dtype).toBe('float32');
  });
});

describe('bool tensors where arithmetic is allowed', () => {
  it('sum of bool counts; comparing and selecting bool works', async () => {
    const b = wg.tensor([true, false, true, true]);
    expect(await b.sum().item()).toBe(3);
    expect(await wg.where(b, 1, 0).sum().item()).toBe(3);
    expect(await b.eq(b.cast('int32').gt(0)).array()).toEqual([true, true, true, true]);
  });
});
