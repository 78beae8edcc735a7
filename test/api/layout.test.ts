// Layout ops: reshape, transpose / T, expand, slice, squeeze, unsqueeze, concat; compositions of them on lazy
// (non-contiguous) inputs; empty tensors.
import { beforeAll, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.js';
import { expectExact, nest, randFloats, randInts, refTranspose, rng, sizeOf, stridesOf, type Shape } from './helpers.js';

beforeAll(async () => {
  await wg.init({ backend: 'cpu', quiet: true });
});

const iota = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Naive slice with explicit strides. */
function refSlice(x: readonly number[], shape: Shape, begin: readonly number[], size: readonly number[]): number[] {
  const st = stridesOf(shape);
  const out: number[] = [];
  const n = sizeOf(size);
  for (let i = 0; i < n; i++) {
    let rem = i;
    let off = 0;
    for (let a = size.length - 1; a >= 0; a--) {
      off += (begin[a] + (rem % size[a])) * st[a];
      rem = Math.floor(rem / size[a]);
    }
    out.push(x[off]);
  }
  return out;
}

/** Naive concat along axis. */
function refConcat(parts: { data: readonly number[]; shape: Shape }[], axis: number): { data: number[]; shape: number[] } {
  const r = parts[0].shape.length;
  const a = axis < 0 ? axis + r : axis;
  const outShape = parts[0].shape.map((d, i) => (i === a ? parts.reduce((s, p) => s + p.shape[a], 0) : d));
  const outer = sizeOf(outShape.slice(0, a));
  const data: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (const p of parts) {
      const chunk = sizeOf(p.shape.slice(a));
      data.push(...p.data.slice(o * chunk, (o + 1) * chunk));
    }
  }
  return { data, shape: outShape };
}

describe('reshape', () => {
  it('keeps row-major order', async () => {
    const x = wg.tensor(iota(6), [2, 3]);
    expect(await x.reshape([3, 2]).array()).toEqual([
      [0, 1],
      [2, 3],
      [4, 5],
    ]);
    expect(await x.reshape([6]).array()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(await x.reshape([1, 6, 1]).array()).toEqual([[[0], [1], [2], [3], [4], [5]]]);
  });

  it('infers one -1', async () => {
    const x = wg.tensor(iota(12), [3, 4]);
    expect(x.reshape([-1]).shape).toEqual([12]);
    expect(x.reshape([2, -1]).shape).toEqual([2, 6]);
    expect(x.reshape([-1, 3, 2]).shape).toEqual([2, 3, 2]);
    expect(x.reshape([2, -1, 3]).shape).toEqual([2, 2, 3]);
    expect(Array.from(await x.reshape([2, -1, 3]).data())).toEqual(iota(12));
  });

  it('scalars and size-1 shapes', async () => {
    const s = wg.tensor([7]).reshape([]);
    expect(s.shape).toEqual([]);
    expect(await s.item()).toBe(7);
    const t = wg.tensor(7).reshape([1, 1]);
    expect(await t.array()).toEqual([[7]]);
    expect(wg.tensor(7).reshape([-1]).shape).toEqual([1]);
  });

  it('empty tensors', async () => {
    const x = wg.zeros([0, 3]);
    expect(x.reshape([3, 0]).shape).toEqual([3, 0]);
    expect(x.reshape([-1, 3]).shape).toEqual([0, 3]);
    expect(x.reshape([-1]).shape).toEqual([0]);
    expect(Array.from(await x.reshape([3, 0, 5]).data())).toEqual([]);
  });

  it('int32 and bool keep their dtype', async () => {
    const i = wg.tensor(Int32Array.from([1, 2, 3, 4])).reshape([2, 2]);
    expect(i.dtype).toBe('int32');
    expect(await i.array()).toEqual([
      [1, 2],
      [3, 4],
    ]);
    const b = wg.tensor([true, false, false, true]).reshape([2, 2]);
    expect(await b.array()).toEqual([
      [true, false],
      [false, true],
    ]);
  });

  it('of a transposed (lazy) tensor reads in the transposed order', async () => {
    const x = wg.tensor(iota(6), [2, 3]).T; // [[0,3],[1,4],[2,5]]
    expect(Array.from(await x.reshape([6]).data())).toEqual([0, 3, 1, 4, 2, 5]);
    expect(await x.reshape([2, 3]).array()).toEqual([
      [0, 3, 1],
      [4, 2, 5],
    ]);
  });
});

describe('transpose and T', () => {
  it('2-D', async () => {
    const x = wg.tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(x.T.shape).toEqual([3, 2]);
    expect(await x.T.array()).toEqual([
      [1, 4],
      [2, 5],
      [3, 6],
    ]);
    expect(await x.transpose().array()).toEqual(await x.T.array());
    expect(await x.transpose([1, 0]).array()).toEqual([
      [1, 4],
      [2, 5],
      [3, 6],
    ]);
    expect(await x.transpose([0, 1]).array()).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
  });

  it('3-D, every permutation, against strided indexing', async () => {
    const shape = [2, 3, 5];
    const xs = iota(30);
    const x = wg.tensor(Int32Array.from(xs), shape);
    const perms = [
      [0, 1, 2],
      [0, 2, 1],
      [1, 0, 2],
      [1, 2, 0],
      [2, 0, 1],
      [2, 1, 0],
    ];
    for (const p of perms) {
      const exp = refTranspose(xs, shape, p);
      const t = x.transpose(p);
      expect(t.shape, JSON.stringify(p)).toEqual(exp.shape);
      expect(Array.from(await t.data()), JSON.stringify(p)).toEqual(exp.data);
    }
  });

  it('negative axes in perm', async () => {
    const shape = [2, 3, 4];
    const xs = iota(24);
    const x = wg.tensor(xs, shape);
    const exp = refTranspose(xs, shape, [2, 0, 1]);
    const t = x.transpose([-1, 0, 1]);
    expect(t.shape).toEqual([4, 2, 3]);
    expect(Array.from(await t.data())).toEqual(exp.data);
  });

  it('default reverses all axes; T of 1-D and 0-D are unchanged', async () => {
    const xs = iota(24);
    const x = wg.tensor(xs, [2, 3, 4]);
    expect(x.T.shape).toEqual([4, 3, 2]);
    expect(Array.from(await x.T.data())).toEqual(refTranspose(xs, [2, 3, 4], [2, 1, 0]).data);
    expect(Array.from(await wg.tensor([1, 2, 3]).T.data())).toEqual([1, 2, 3]);
    expect(wg.tensor(5).T.shape).toEqual([]);
    expect(await wg.tensor(5).T.item()).toBe(5);
  });

  it('double transpose is the identity', async () => {
    const next = rng(3);
    const xs = randFloats(105, next);
    const x = wg.tensor(xs, [3, 5, 7]);
    expectExact(await x.transpose([2, 0, 1]).transpose([1, 2, 0]).data(), xs);
    expectExact(await x.T.T.data(), xs);
  });

  it('bool and empty', async () => {
    const b = wg.tensor([
      [true, false, true],
      [false, false, true],
    ]);
    expect(await b.T.array()).toEqual([
      [true, false],
      [false, false],
      [true, true],
    ]);
    const e = wg.zeros([0, 3]).T;
    expect(e.shape).toEqual([3, 0]);
    expect(await e.array()).toEqual([[], [], []]);
  });
});

describe('expand', () => {
  it('size-1 axes and new leading axes', async () => {
    const x = wg.tensor([[1], [2], [3]]);
    expect(await x.expand([3, 4]).array()).toEqual([
      [1, 1, 1, 1],
      [2, 2, 2, 2],
      [3, 3, 3, 3],
    ]);
    const y = wg.tensor([1, 2, 3]);
    const e = y.expand([2, 3]);
    expect(e.shape).toEqual([2, 3]);
    expect(await e.array()).toEqual([
      [1, 2, 3],
      [1, 2, 3],
    ]);
    expect(await wg.tensor(4).expand([2, 2]).array()).toEqual([
      [4, 4],
      [4, 4],
    ]);
  });

  it('3-D against a loop', async () => {
    const x = wg.tensor([10, 20, 30], [3, 1]);
    const e = x.expand([2, 3, 5]);
    const exp: number[] = [];
    for (let a = 0; a < 2; a++) for (let b = 0; b < 3; b++) for (let c = 0; c < 5; c++) exp.push((b + 1) * 10);
    expect(Array.from(await e.data())).toEqual(exp);
  });

  it('to the same shape, and to a zero extent', async () => {
    expect(await wg.tensor([1, 2]).expand([2]).array()).toEqual([1, 2]);
    const z = wg.tensor([[1, 2]]).expand([0, 2]);
    expect(z.shape).toEqual([0, 2]);
    expect(Array.from(await z.data())).toEqual([]);
  });

  it('an expanded tensor used in arithmetic', async () => {
    const x = wg.tensor([1, 2, 3]).expand([2, 3]);
    expect(await x.add(wg.tensor([[10], [20]])).array()).toEqual([
      [11, 12, 13],
      [21, 22, 23],
    ]);
    expect(await x.sum(0).array()).toEqual([2, 4, 6]);
  });
});

describe('slice', () => {
  const x = () => wg.tensor(iota(20), [4, 5]);

  it('begin and size', async () => {
    expect(await x().slice([1, 2], [2, 3]).array()).toEqual([
      [7, 8, 9],
      [12, 13, 14],
    ]);
    expect(await x().slice([0, 0], [1, 1]).array()).toEqual([[0]]);
    expect(await x().slice([3, 4], [1, 1]).array()).toEqual([[19]]);
  });

  it('negative begin counts from the end; size -1 runs to the end', async () => {
    expect(await x().slice([-1, 0], [1, -1]).array()).toEqual([[15, 16, 17, 18, 19]]);
    expect(await x().slice([-2, -3], [-1, 2]).array()).toEqual([
      [12, 13],
      [17, 18],
    ]);
    expect(await x().slice([2, 3]).array()).toEqual([
      [13, 14],
      [18, 19],
    ]);
    expect(await x().slice([1, 1], [-1, -1]).shape).toEqual([3, 4]);
  });

  it('zero-size slices are legal', async () => {
    const s = x().slice([2, 0], [0, 5]);
    expect(s.shape).toEqual([0, 5]);
    expect(Array.from(await s.data())).toEqual([]);
    const t = x().slice([0, 5], [4, 0]);
    expect(t.shape).toEqual([4, 0]);
    expect(x().slice([4, 0], [0, -1]).shape).toEqual([0, 5]);
  });

  it('3-D random slices against strided indexing', async () => {
    const next = rng(15);
    const shape = [5, 7, 3];
    const xs = randInts(105, next, -100, 100);
    const t = wg.tensor(Int32Array.from(xs), shape);
    for (let k = 0; k < 25; k++) {
      const begin = shape.map((d) => Math.floor(next() * d));
      const size = begin.map((b, i) => Math.floor(next() * (shape[i] - b + 1)));
      const s = t.slice(begin, size);
      expect(s.shape).toEqual(size);
      expect(Array.from(await s.data()), `${begin} ${size}`).toEqual(refSlice(xs, shape, begin, size));
    }
  });

  it('slice of a transposed tensor, and transpose of a slice', async () => {
    const xs = iota(20);
    const t = wg.tensor(xs, [4, 5]).T; // [5, 4]
    const tt = refTranspose(xs, [4, 5], [1, 0]);
    expect(Array.from(await t.slice([1, 1], [3, 2]).data())).toEqual(refSlice(tt.data, [5, 4], [1, 1], [3, 2]));
    const s = wg.tensor(xs, [4, 5]).slice([1, 1], [3, 3]);
    const sl = refSlice(xs, [4, 5], [1, 1], [3, 3]);
    expect(Array.from(await s.T.data())).toEqual(refTranspose(sl, [3, 3], [1, 0]).data);
  });

  it('bool slice', async () => {
    const b = wg.tensor([true, false, true, true]);
    expect(await b.slice([1], [2]).array()).toEqual([false, true]);
  });
});

describe('squeeze / unsqueeze', () => {
  it('squeeze removes every size-1 axis by default', async () => {
    const x = wg.tensor(iota(6), [1, 2, 1, 3, 1]);
    const s = x.squeeze();
    expect(s.shape).toEqual([2, 3]);
    expect(await s.array()).toEqual([
      [0, 1, 2],
      [3, 4, 5],
    ]);
    expect(wg.tensor([[[5]]]).squeeze().shape).toEqual([]);
    expect(await wg.tensor([[[5]]]).squeeze().item()).toBe(5);
    expect(wg.tensor([1, 2]).squeeze().shape).toEqual([2]);
  });

  it('squeeze given axes, negative too', async () => {
    const x = wg.tensor(iota(6), [1, 2, 1, 3, 1]);
    expect(x.squeeze(0).shape).toEqual([2, 1, 3, 1]);
    expect(x.squeeze(2).shape).toEqual([1, 2, 3, 1]);
    expect(x.squeeze(-1).shape).toEqual([1, 2, 1, 3]);
    expect(x.squeeze([0, -1]).shape).toEqual([2, 1, 3]);
    expect(Array.from(await x.squeeze([0, 2]).data())).toEqual(iota(6));
  });

  it('squeeze keeps zero extents', () => {
    expect(wg.zeros([1, 0, 1]).squeeze().shape).toEqual([0]);
  });

  it('unsqueeze inserts a size-1 axis; negative counts in the result', async () => {
    const x = wg.tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(x.unsqueeze(0).shape).toEqual([1, 2, 3]);
    expect(x.unsqueeze(1).shape).toEqual([2, 1, 3]);
    expect(x.unsqueeze(2).shape).toEqual([2, 3, 1]);
    expect(x.unsqueeze(-1).shape).toEqual([2, 3, 1]);
    expect(x.unsqueeze(-3).shape).toEqual([1, 2, 3]);
    expect(await x.unsqueeze(1).array()).toEqual([[[1, 2, 3]], [[4, 5, 6]]]);
    expect(wg.tensor(3).unsqueeze(0).shape).toEqual([1]);
    expect(await wg.tensor(3).unsqueeze(-1).array()).toEqual([3]);
  });

  it('unsqueeze then squeeze round-trips', async () => {
    const xs = iota(15);
    const x = wg.tensor(xs, [3, 5]);
    for (const a of [0, 1, 2, -1, -2, -3]) {
      const u = x.unsqueeze(a).squeeze(a);
      expect(u.shape).toEqual([3, 5]);
      expect(Array.from(await u.data())).toEqual(xs);
    }
  });
});

describe('concat', () => {
  it('along axis 0 and 1, hand-computed', async () => {
    const a = wg.tensor([
      [1, 2],
      [3, 4],
    ]);
    const b = wg.tensor([[5, 6]]);
    const c0 = wg.concat([a, b], 0);
    expect(c0.shape).toEqual([3, 2]);
    expect(await c0.array()).toEqual([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    const d = wg.tensor([[7], [8]]);
    const c1 = wg.concat([a, d], 1);
    expect(await c1.array()).toEqual([
      [1, 2, 7],
      [3, 4, 8],
    ]);
    expect(await wg.concat([a, d], -1).array()).toEqual([
      [1, 2, 7],
      [3, 4, 8],
    ]);
  });

  it('default axis is 0', async () => {
    expect(await wg.concat([wg.tensor([1]), wg.tensor([2, 3])]).array()).toEqual([1, 2, 3]);
  });

  it('one tensor, many tensors, and empty pieces', async () => {
    expect(await wg.concat([wg.tensor([1, 2])], 0).array()).toEqual([1, 2]);
    const parts = [0, 1, 2, 3, 4].map((i) => wg.tensor([i]));
    expect(await wg.concat(parts).array()).toEqual([0, 1, 2, 3, 4]);
    const e = wg.zeros([0, 3]);
    const x = wg.ones([2, 3]);
    const c = wg.concat([e, x, e], 0);
    expect(c.shape).toEqual([2, 3]);
    expect(Array.from(await c.data())).toEqual([1, 1, 1, 1, 1, 1]);
    expect(wg.concat([e, e], 0).shape).toEqual([0, 3]);
  });

  it('promotes dtypes like arithmetic', async () => {
    const i = wg.tensor([1, 2], undefined, 'int32');
    const f = wg.tensor([0.5]);
    const b = wg.tensor([true, false]);
    const c = wg.concat([i, f], 0);
    expect(c.dtype).toBe('float32');
    expect(Array.from(await c.data())).toEqual([1, 2, 0.5]);
    const d = wg.concat([b, i], 0);
    expect(d.dtype).toBe('int32');
    expect(Array.from(await d.data())).toEqual([1, 0, 1, 2]);
    const e = wg.concat([b, b], 0);
    expect(e.dtype).toBe('bool');
    expect(await e.array()).toEqual([true, false, true, false]);
  });

  it('random 3-D pieces along every axis against a loop', async () => {
    const next = rng(44);
    for (const axis of [0, 1, 2, -1, -2, -3]) {
      const base = [3, 2, 5];
      const a = axis < 0 ? axis + 3 : axis;
      const parts = [1, 3, 2].map((k) => {
        const shape = base.map((d, i) => (i === a ? k : d));
        return { data: randFloats(sizeOf(shape), next), shape };
      });
      const exp = refConcat(parts, axis);
      const c = wg.concat(
        parts.map((p) => wg.tensor(p.data, p.shape)),
        axis,
      );
      expect(c.shape).toEqual(exp.shape);
      expectExact(await c.data(), exp.data);
    }
  });

  it('concat of lazy, transposed pieces', async () => {
    const a = wg.tensor(iota(6), [2, 3]).T; // [3,2]
    const b = wg.tensor([100, 101, 102], [3, 1]);
    expect(await wg.concat([a, b], 1).array()).toEqual([
      [0, 3, 100],
      [1, 4, 101],
      [2, 5, 102],
    ]);
  });
});

describe('layout compositions', () => {
  it('reshape -> transpose -> slice -> expand -> add, against loops', async () => {
    const next = rng(71);
    const xs = randFloats(60, next);
    const x = wg.tensor(xs, [60]);
    const r = x.reshape([3, 4, 5]).transpose([2, 0, 1]).slice([1, 0, 1], [3, 3, 2]); // [3,3,2]
    const t1 = refTranspose(xs, [3, 4, 5], [2, 0, 1]); // [5,3,4]
    const sl = refSlice(t1.data, t1.shape, [1, 0, 1], [3, 3, 2]);
    expectExact(await r.data(), sl);
    const e = r.unsqueeze(0).expand([2, 3, 3, 2]);
    expectExact(await e.data(), [...sl, ...sl]);
    expect(await e.array()).toEqual(nest([...sl, ...sl], [2, 3, 3, 2]));
  });
});
