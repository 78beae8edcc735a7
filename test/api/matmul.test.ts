// matmul with NumPy semantics: 2-D, 1-D on either side, batched with broadcast batch axes, int32 exactness,
// promotion, empty extents, lazy (transposed / sliced) operands.
import { beforeAll, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.js';
import { expectClose, randFloats, randInts, refMatmul, refTranspose, rng, sizeOf, type Shape } from './helpers.js';

beforeAll(async () => {
  await wg.init({ backend: 'cpu', quiet: true });
});

/** NumPy matmul of arbitrary-rank operands (1-D promoted and the added axis removed). */
function refNumpyMatmul(a: readonly number[], sa: Shape, b: readonly number[], sb: Shape): { data: number[]; shape: number[] } {
  const sa2 = sa.length === 1 ? [1, sa[0]] : sa;
  const sb2 = sb.length === 1 ? [sb[0], 1] : sb;
  const r = refMatmul(a, sa2, b, sb2);
  let shape = r.shape;
  if (sb.length === 1) shape = shape.slice(0, -1);
  if (sa.length === 1) shape = [...shape.slice(0, shape.length - (sb.length === 1 ? 1 : 2)), ...shape.slice(shape.length - (sb.length === 1 ? 0 : 1))];
  return { data: r.data, shape };
}

/** Tolerance scale for dot products: sum |a||b| per output element. */
function absScale(a: readonly number[], sa: Shape, b: readonly number[], sb: Shape): number[] {
  return refNumpyMatmul(
    a.map(Math.abs),
    sa,
    b.map(Math.abs),
    sb,
  ).data;
}

describe('hand-computed', () => {
  it('2-D @ 2-D', async () => {
    const a = wg.tensor([
      [1, 2],
      [3, 4],
    ]);
    const b = wg.tensor([
      [5, 6],
      [7, 8],
    ]);
    const c = a.matmul(b);
    expect(c.shape).toEqual([2, 2]);
    expect(c.dtype).toBe('float32');
    expect(await c.array()).toEqual([
      [19, 22],
      [43, 50],
    ]);
  });

  it('non-square 2-D', async () => {
    const a = wg.tensor([
      [1, 0, 2],
      [-1, 3, 1],
    ]); // [2,3]
    const b = wg.tensor([
      [3, 1],
      [2, 1],
      [1, 0],
    ]); // [3,2]
    expect(await a.matmul(b).array()).toEqual([
      [5, 1],
      [4, 2],
    ]);
    expect(await b.matmul(a).array()).toEqual([
      [2, 3, 7],
      [1, 3, 5],
      [1, 0, 2],
    ]);
  });

  it('1-D @ 1-D is a scalar (dot product)', async () => {
    const c = wg.tensor([1, 2, 3]).matmul(wg.tensor([4, 5, 6]));
    expect(c.shape).toEqual([]);
    expect(await c.item()).toBe(32);
  });

  it('1-D @ 2-D and 2-D @ 1-D', async () => {
    const m = wg.tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const v = wg.tensor([1, 2]).matmul(m);
    expect(v.shape).toEqual([3]);
    expect(await v.array()).toEqual([9, 12, 15]);
    const w = m.matmul(wg.tensor([1, 0, -1]));
    expect(w.shape).toEqual([2]);
    expect(await w.array()).toEqual([-2, -2]);
  });

  it('batched 3-D @ 2-D', async () => {
    const a = wg.tensor([
      [[1, 2]],
      [[3, 4]],
    ]); // [2,1,2]
    const b = wg.tensor([
      [1, 0, 2],
      [0, 1, 3],
    ]); // [2,3]
    const c = a.matmul(b);
    expect(c.shape).toEqual([2, 1, 3]);
    expect(await c.array()).toEqual([[[1, 2, 8]], [[3, 4, 18]]]);
  });

  it('1-D @ 3-D and 3-D @ 1-D', async () => {
    const b = wg.tensor([
      [
        [1, 2],
        [3, 4],
      ],
      [
        [5, 6],
        [7, 8],
      ],
    ]); // [2,2,2]
    const l = wg.tensor([1, 1]).matmul(b);
    expect(l.shape).toEqual([2, 2]);
    expect(await l.array()).toEqual([
      [4, 6],
      [12, 14],
    ]);
    const r = b.matmul(wg.tensor([1, -1]));
    expect(r.shape).toEqual([2, 2]);
    expect(await r.array()).toEqual([
      [-1, -1],
      [-1, -1],
    ]);
  });

  it('int32 @ int32 stays int32 and is exact beyond 2^24', async () => {
    const a = wg.tensor([[4096, 1]], undefined, 'int32');
    const b = wg.tensor([[4097], [1]], undefined, 'int32');
    const c = a.matmul(b);
    expect(c.dtype).toBe('int32');
    expect(await c.data()).toBeInstanceOf(Int32Array);
    expect(await c.item()).toBe(4096 * 4097 + 1); // 16781313, not representable in float32
  });

  it('int32 matmul wraps', async () => {
    const a = wg.tensor([[65536, 65536]], undefined, 'int32');
    const b = wg.tensor([[65536], [1]], undefined, 'int32');
    expect(await a.matmul(b).item()).toBe(65536);
    const c = wg.tensor([[2147483647, 1]], undefined, 'int32');
    const d = wg.tensor([[1], [1]], undefined, 'int32');
    expect(await c.matmul(d).item()).toBe(-2147483648);
  });

  it('int32 matmul wraps even when the exact products exceed 2^53', async () => {
    const a = wg.tensor([[2147483647, -2147483648, 123456789]], undefined, 'int32');
    const b = wg.tensor([[2147483647], [2147483647], [987654321]], undefined, 'int32');
    const exp = (Math.imul(2147483647, 2147483647) + Math.imul(-2147483648, 2147483647) + Math.imul(123456789, 987654321)) | 0;
    expect(await a.matmul(b).item()).toBe(exp);
    // random large operands against imul accumulation
    const next = rng(77);
    const big = () => Math.floor(next() * 4294967296) - 2147483648;
    const xa = Array.from({ length: 3 * 7 }, big);
    const xb = Array.from({ length: 7 * 5 }, big);
    const want: number[] = [];
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 5; j++) {
        let acc = 0;
        for (let p = 0; p < 7; p++) acc = (acc + Math.imul(xa[i * 7 + p], xb[p * 5 + j])) | 0;
        want.push(acc);
      }
    const got = wg.tensor(Int32Array.from(xa), [3, 7]).matmul(wg.tensor(Int32Array.from(xb), [7, 5]));
    expect(Array.from(await got.data())).toEqual(want);
  });

  it('int32 @ float32 promotes to float32', async () => {
    const a = wg.tensor([[1, 2]], undefined, 'int32');
    const b = wg.tensor([[0.5], [0.25]]);
    const c = a.matmul(b);
    expect(c.dtype).toBe('float32');
    expect(await c.item()).toBe(1);
    expect(b.T.matmul(a.T).dtype).toBe('float32');
  });

  it('K = 0 gives zeros; M = 0 or N = 0 give empty results', async () => {
    const c = wg.zeros([3, 0]).matmul(wg.zeros([0, 2]));
    expect(c.shape).toEqual([3, 2]);
    expect(Array.from(await c.data())).toEqual([0, 0, 0, 0, 0, 0]);
    const d = wg.zeros([0, 3]).matmul(wg.ones([3, 2]));
    expect(d.shape).toEqual([0, 2]);
    expect(Array.from(await d.data())).toEqual([]);
    const e = wg.ones([2, 3]).matmul(wg.ones([3, 0]));
    expect(e.shape).toEqual([2, 0]);
    const f = wg.tensor([]).matmul(wg.tensor([]));
    expect(f.shape).toEqual([]);
    expect(await f.item()).toBe(0);
  });

  it('1x1 matrices and a batch of size 1', async () => {
    expect(await wg.tensor([[3]]).matmul(wg.tensor([[4]])).array()).toEqual([[12]]);
    const a = wg.tensor([[[2, 3]]]); // [1,1,2]
    const b = wg.tensor([[[4], [5]]]); // [1,2,1]
    expect(await a.matmul(b).array()).toEqual([[[23]]]);
  });
});

describe('random shapes against naive loops', () => {
  const CASES: [Shape, Shape][] = [
    [[1, 1], [1, 1]],
    [[3, 5], [5, 7]],
    [[7, 13], [13, 1]],
    [[1, 13], [13, 5]],
    [[5, 3], [3, 13]],
    [[13, 7], [7, 5]],
    [[17, 9], [9, 11]],
    [[2, 3, 5], [5, 7]],
    [[3, 5], [2, 5, 7]],
    [[2, 3, 5], [2, 5, 7]],
    [[2, 1, 3, 5], [4, 5, 3]],
    [[1, 3, 5], [4, 5, 2]],
    [[3, 1, 3, 4], [1, 2, 4, 3]],
    [[5], [5, 3]],
    [[3, 5], [5]],
    [[7], [7]],
    [[5], [2, 5, 3]],
    [[2, 3, 5], [5]],
    [[4, 0, 3], [3, 2]],
    [[2, 3, 0], [0, 4]],
  ];
  for (const [sa, sb] of CASES) {
    it(`float32 ${JSON.stringify(sa)} @ ${JSON.stringify(sb)}`, async () => {
      const next = rng(sizeOf(sa) * 13 + sizeOf(sb) * 3 + sa.length + sb.length * 7);
      const a = randFloats(sizeOf(sa), next);
      const b = randFloats(sizeOf(sb), next);
      const exp = refNumpyMatmul(a, sa, b, sb);
      const c = wg.tensor(a, [...sa]).matmul(wg.tensor(b, [...sb]));
      expect(c.shape).toEqual(exp.shape);
      expectClose(await c.data(), exp.data, 1e-5, 0, absScale(a, sa, b, sb));
    });

    it(`int32 ${JSON.stringify(sa)} @ ${JSON.stringify(sb)}`, async () => {
      const next = rng(sizeOf(sa) * 11 + sizeOf(sb) * 5 + 2);
      const a = randInts(sizeOf(sa), next, -50, 50);
      const b = randInts(sizeOf(sb), next, -50, 50);
      const exp = refNumpyMatmul(a, sa, b, sb);
      const c = wg.tensor(Int32Array.from(a), [...sa]).matmul(wg.tensor(Int32Array.from(b), [...sb]));
      expect(c.dtype).toBe('int32');
      expect(c.shape).toEqual(exp.shape);
      expect(Array.from(await c.data())).toEqual(exp.data);
    });
  }

  it('a larger odd-sized product (33x65 @ 65x31)', async () => {
    const next = rng(1234);
    const a = randFloats(33 * 65, next, -1, 1);
    const b = randFloats(65 * 31, next, -1, 1);
    const exp = refMatmul(a, [33, 65], b, [65, 31]);
    const c = wg.tensor(a, [33, 65]).matmul(wg.tensor(b, [65, 31]));
    expectClose(await c.data(), exp.data, 1e-5, 0, absScale(a, [33, 65], b, [65, 31]));
  });
});

describe('lazy operands', () => {
  it('transposed operands (a.T @ b, a @ b.T, a.T @ b.T)', async () => {
    const next = rng(8);
    const a = randFloats(15, next); // [5,3]
    const b = randFloats(35, next); // [5,7]
    const w = randFloats(21, next); // [7,3]
    const ta = wg.tensor(a, [5, 3]);
    const tb = wg.tensor(b, [5, 7]);
    const tw = wg.tensor(w, [7, 3]);
    const aT = refTranspose(a, [5, 3], [1, 0]).data; // [3,5]
    const bT = refTranspose(b, [5, 7], [1, 0]).data; // [7,5]
    const wT = refTranspose(w, [7, 3], [1, 0]).data; // [3,7]
    // a.T @ b: [3,5] @ [5,7]
    const c1 = ta.T.matmul(tb);
    expect(c1.shape).toEqual([3, 7]);
    expectClose(await c1.data(), refMatmul(aT, [3, 5], b, [5, 7]).data, 1e-5, 1e-5);
    // a @ w.T: [5,3] @ [3,7]
    const c2 = ta.matmul(tw.T);
    expect(c2.shape).toEqual([5, 7]);
    expectClose(await c2.data(), refMatmul(a, [5, 3], wT, [3, 7]).data, 1e-5, 1e-5);
    // b.T @ a.T... shapes [7,5] @ [3,5] do not fit; use b.T @ w.T.T.T.T ... -> [7,5] @ [5,3] = b.T @ a
    const c3 = tb.T.matmul(ta);
    expect(c3.shape).toEqual([7, 3]);
    expectClose(await c3.data(), refMatmul(bT, [7, 5], a, [5, 3]).data, 1e-5, 1e-5);
    // a.T @ b.T.T: both transposed views, one of them twice
    const c4 = ta.T.matmul(tb.T.T);
    expectClose(await c4.data(), refMatmul(aT, [3, 5], b, [5, 7]).data, 1e-5, 1e-5);
    // w.T.T @ a.T then transposed: ([7,3] @ [3,5]).T = [5,7]
    const c5 = tw.T.T.matmul(ta.T).T;
    expect(c5.shape).toEqual([5, 7]);
    expectClose(await c5.data(), refTranspose(refMatmul(w, [7, 3], aT, [3, 5]).data, [7, 5], [1, 0]).data, 1e-5, 1e-5);
    // batched transposed: [2,5,3] -> transpose last two -> [2,3,5] @ [5,7]
    const a2 = randFloats(30, next);
    const t2 = wg.tensor(a2, [2, 5, 3]).transpose([0, 2, 1]);
    const a2T = refTranspose(a2, [2, 5, 3], [0, 2, 1]).data;
    expectClose(await t2.matmul(tb).data(), refMatmul(a2T, [2, 3, 5], b, [5, 7]).data, 1e-5, 1e-5);
  });

  it('sliced and broadcast (expanded) operands', async () => {
    const next = rng(9);
    const a = randFloats(7 * 6, next);
    const ta = wg.tensor(a, [7, 6]).slice([1, 2], [4, 3]); // [4,3]
    const as: number[] = [];
    for (let i = 1; i < 5; i++) for (let j = 2; j < 5; j++) as.push(a[i * 6 + j]);
    const v = randFloats(3, next);
    const tv = wg.tensor(v, [3, 1]).expand([3, 5]);
    const vs: number[] = [];
    for (let i = 0; i < 3; i++) for (let j = 0; j < 5; j++) vs.push(v[i]);
    expectClose(await ta.matmul(tv).data(), refMatmul(as, [4, 3], vs, [3, 5]).data, 1e-5, 1e-5);
  });

  it('matmul inside a larger expression: relu(x @ w + b)', async () => {
    const next = rng(10);
    const x = randFloats(5 * 4, next);
    const w = randFloats(4 * 3, next);
    const b = randFloats(3, next);
    const y = wg.tensor(x, [5, 4]).matmul(wg.tensor(w, [4, 3])).add(wg.tensor(b)).relu();
    const mm = refMatmul(x, [5, 4], w, [4, 3]).data;
    const exp = mm.map((v, i) => Math.max(v + b[i % 3], 0));
    expectClose(await y.data(), exp, 1e-5, 1e-5);
  });
});
