// Composite ops built from primitives: softmax, logSoftmax, layerNorm, variance/mean chains, and small models.
import { beforeAll, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.js';
import { expectClose, randFloats, refMatmul, rng, sizeOf, stridesOf, type Shape } from './helpers.js';

beforeAll(async () => {
  await wg.init({ backend: 'cpu', quiet: true });
});

/** Applies `f` to every 1-D line along `axis` of a row-major array. */
function alongAxis(x: readonly number[], shape: Shape, axis: number, f: (line: number[]) => number[]): number[] {
  const a = axis < 0 ? axis + shape.length : axis;
  const st = stridesOf(shape);
  const out = new Array<number>(x.length);
  const n = shape[a];
  const total = sizeOf(shape);
  if (n === 0) return [];
  for (let i = 0; i < total; i++) {
    // first element of each line: index along `a` is 0
    if (Math.floor(i / st[a]) % n !== 0) continue;
    const line = Array.from({ length: n }, (_, j) => x[i + j * st[a]]);
    const r = f(line);
    r.forEach((v, j) => (out[i + j * st[a]] = v));
  }
  return out;
}

const softmaxLine = (l: number[]) => {
  const m = Math.max(...l);
  const e = l.map((v) => Math.exp(v - m));
  const s = e.reduce((p, q) => p + q, 0);
  return e.map((v) => v / s);
};
const logSoftmaxLine = (l: number[]) => {
  const m = Math.max(...l);
  const s = l.reduce((p, v) => p + Math.exp(v - m), 0);
  return l.map((v) => v - m - Math.log(s));
};
const layerNormLine = (eps: number) => (l: number[]) => {
  const mean = l.reduce((p, q) => p + q, 0) / l.length;
  const v = l.reduce((p, q) => p + (q - mean) ** 2, 0) / l.length;
  return l.map((q) => (q - mean) / Math.sqrt(v + eps));
};

describe('softmax', () => {
  it('hand-computed', async () => {
    const x = wg.tensor([
      [0, 0],
      [0, Math.log(3)],
    ]);
    expectClose(await x.softmax().data(), [0.5, 0.5, 0.25, 0.75], 1e-6);
    expectClose(await wg.tensor([1, 2, 3]).softmax().data(), [0.09003057317038046, 0.24472847105479764, 0.6652409557748219], 1e-6);
  });

  it('is stable for large inputs', async () => {
    const d = await wg.tensor([1000, 1001]).softmax().data();
    expectClose(d, [0.2689414213699951, 0.7310585786300049], 1e-6);
    const e = await wg.tensor([-1000, -1001, -1002]).softmax().data();
    expectClose(e, [0.6652409557748219, 0.24472847105479764, 0.09003057317038046], 1e-6);
  });

  it('handles -Infinity entries', async () => {
    const d = await wg.tensor([-Infinity, 0, -Infinity]).softmax().data();
    expect(Array.from(d)).toEqual([0, 1, 0]);
  });

  it('along axis 0, 1 and negative axes, rows sum to 1', async () => {
    const next = rng(2);
    const shape = [3, 7, 5];
    const xs = randFloats(sizeOf(shape), next, -5, 5);
    const x = wg.tensor(xs, shape);
    for (const axis of [0, 1, 2, -1, -2, -3]) {
      const s = x.softmax(axis);
      expect(s.shape).toEqual(shape);
      expect(s.dtype).toBe('float32');
      expectClose(await s.data(), alongAxis(xs, shape, axis, softmaxLine), 1e-5, 1e-7);
      const sums = await s.sum(axis).data();
      expectClose(sums, Array(sums.length).fill(1), 1e-5);
    }
  });

  it('default axis is -1', async () => {
    const next = rng(3);
    const xs = randFloats(15, next);
    const x = wg.tensor(xs, [3, 5]);
    expect(Array.from(await x.softmax().data())).toEqual(Array.from(await x.softmax(-1).data()));
    expectClose(await x.softmax().data(), alongAxis(xs, [3, 5], 1, softmaxLine), 1e-5, 1e-7);
  });

  it('of int32 input is float32', async () => {
    const s = wg.tensor([0, 0], undefined, 'int32').softmax();
    expect(s.dtype).toBe('float32');
    expect(Array.from(await s.data())).toEqual([0.5, 0.5]);
  });

  it('a size-1 axis gives ones', async () => {
    expect(Array.from(await wg.tensor([[3], [-7]]).softmax(1).data())).toEqual([1, 1]);
  });
});

describe('logSoftmax', () => {
  it('hand-computed and stable', async () => {
    expectClose(await wg.tensor([0, 0]).logSoftmax().data(), [-Math.LN2, -Math.LN2], 1e-6);
    expectClose(await wg.tensor([1000, 1001]).logSoftmax().data(), [-1.3132616875182228, -0.3132616875182228], 1e-6);
    expectClose(await wg.tensor([-1000, 0]).logSoftmax().data(), [-1000, 0], 1e-6);
  });

  it('random, every axis, and exp(logSoftmax) = softmax', async () => {
    const next = rng(5);
    const shape = [5, 1, 13];
    const xs = randFloats(sizeOf(shape), next, -8, 8);
    const x = wg.tensor(xs, shape);
    for (const axis of [0, 1, 2, -1]) {
      const l = x.logSoftmax(axis);
      expectClose(await l.data(), alongAxis(xs, shape, axis, logSoftmaxLine), 1e-5, 1e-6);
      expectClose(await l.exp().data(), await x.softmax(axis).data(), 1e-5, 1e-7);
    }
  });
});

describe('layerNorm', () => {
  it('hand-computed without weight and bias', async () => {
    // [1,2,3]: mean 2, var 2/3
    const x = wg.tensor([[1, 2, 3]]);
    const s = 1 / Math.sqrt(2 / 3 + 1e-5);
    expectClose(await wg.layerNorm(x).data(), [-s, 0, s], 1e-5, 1e-6);
  });

  it('weight and bias broadcast over the last axis', async () => {
    const x = wg.tensor([
      [1, 3],
      [10, 30],
    ]);
    const w = wg.tensor([2, -1]);
    const b = wg.tensor([0.5, 0.5]);
    const k = 1 / Math.sqrt(1 + 1e-5); // each row: mean m, var = d^2, normalised to [-1, 1]
    const k2 = 1 / Math.sqrt(100 + 1e-5) * 10;
    expectClose(await wg.layerNorm(x, w, b).data(), [-2 * k + 0.5, -k + 0.5, -2 * k2 + 0.5, -k2 + 0.5], 1e-5, 1e-6);
    expectClose(await wg.layerNorm(x, w).data(), [-2 * k, -k, -2 * k2, -k2], 1e-5, 1e-6);
    expectClose(await wg.layerNorm(x, null, b).data(), [-k + 0.5, k + 0.5, -k2 + 0.5, k2 + 0.5], 1e-5, 1e-6);
    expectClose(await wg.layerNorm(x, 3, 1).data(), [-3 * k + 1, 3 * k + 1, -3 * k2 + 1, 3 * k2 + 1], 1e-5, 1e-6);
  });

  it('eps matters for small variance', async () => {
    const x = wg.tensor([0, 0.002]); // var 1e-6
    const exp = (eps: number) => [-0.001 / Math.sqrt(1e-6 + eps), 0.001 / Math.sqrt(1e-6 + eps)];
    expectClose(await wg.layerNorm(x, null, null, 1e-6).data(), exp(1e-6), 1e-4);
    expectClose(await wg.layerNorm(x).data(), exp(1e-5), 1e-4);
    expectClose(await wg.layerNorm(x, null, null, 0).data(), [-1, 1], 1e-4);
  });

  it('random 3-D input against a loop', async () => {
    const next = rng(9);
    const shape = [3, 5, 13];
    const xs = randFloats(sizeOf(shape), next, -3, 7);
    const ws = randFloats(13, next);
    const bs = randFloats(13, next);
    const base = alongAxis(xs, shape, -1, layerNormLine(1e-5));
    const exp = base.map((v, i) => v * ws[i % 13] + bs[i % 13]);
    const y = wg.layerNorm(wg.tensor(xs, shape), wg.tensor(ws), wg.tensor(bs));
    expect(y.shape).toEqual(shape);
    expect(y.dtype).toBe('float32');
    expectClose(await y.data(), exp, 1e-4, 1e-5);
  });

  it('int32 input is normalised in float32', async () => {
    const y = wg.layerNorm(wg.tensor([1, 3], undefined, 'int32'));
    expect(y.dtype).toBe('float32');
    const k = 1 / Math.sqrt(1 + 1e-5);
    expectClose(await y.data(), [-k, k], 1e-5);
  });

  it('a constant row normalises to zero', async () => {
    expectClose(await wg.layerNorm(wg.tensor([[4, 4, 4]])).data(), [0, 0, 0], 0, 1e-6);
  });
});

describe('small models', () => {
  it('two-layer MLP with gelu and softmax, against loops', async () => {
    const next = rng(11);
    const B = 5;
    const D = 7;
    const H = 13;
    const O = 3;
    const x = randFloats(B * D, next, -1, 1);
    const w1 = randFloats(D * H, next, -0.5, 0.5);
    const b1 = randFloats(H, next, -0.1, 0.1);
    const w2 = randFloats(H * O, next, -0.5, 0.5);
    const gelu = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
    const h = refMatmul(x, [B, D], w1, [D, H]).data.map((v, i) => gelu(v + b1[i % H]));
    const logits = refMatmul(h, [B, H], w2, [H, O]).data;
    const exp = alongAxis(logits, [B, O], -1, softmaxLine);
    const y = wg
      .tensor(x, [B, D])
      .matmul(wg.tensor(w1, [D, H]))
      .add(wg.tensor(b1))
      .gelu()
      .matmul(wg.tensor(w2, [H, O]))
      .softmax();
    expect(y.shape).toEqual([B, O]);
    expectClose(await y.data(), exp, 1e-4, 1e-6);
    const am = await y.argmax(1).data();
    for (let i = 0; i < B; i++) {
      const row = exp.slice(i * O, (i + 1) * O);
      expect(am[i]).toBe(row.indexOf(Math.max(...row)));
    }
  });

  it('attention-style scores: softmax(q @ k.T / sqrt(d)) @ v, batched', async () => {
    const next = rng(12);
    const Bt = 2;
    const T = 5;
    const d = 3;
    const q = randFloats(Bt * T * d, next, -1, 1);
    const k = randFloats(Bt * T * d, next, -1, 1);
    const v = randFloats(Bt * T * d, next, -1, 1);
    const kT: number[] = [];
    for (let b = 0; b < Bt; b++) for (let j = 0; j < d; j++) for (let t = 0; t < T; t++) kT.push(k[b * T * d + t * d + j]);
    const scores = refMatmul(q, [Bt, T, d], kT, [Bt, d, T]).data.map((s) => s / Math.sqrt(d));
    const p = alongAxis(scores, [Bt, T, T], -1, softmaxLine);
    const exp = refMatmul(p, [Bt, T, T], v, [Bt, T, d]).data;
    const tq = wg.tensor(q, [Bt, T, d]);
    const tk = wg.tensor(k, [Bt, T, d]);
    const tv = wg.tensor(v, [Bt, T, d]);
    const y = tq.matmul(tk.transpose([0, 2, 1])).div(Math.sqrt(d)).softmax(-1).matmul(tv);
    expect(y.shape).toEqual([Bt, T, d]);
    expectClose(await y.data(), exp, 1e-4, 1e-6);
  });

  it('mean squared error and standardisation', async () => {
    const next = rng(13);
    const a = randFloats(31, next);
    const b = randFloats(31, next);
    const mse = a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0) / 31;
    const ta = wg.tensor(a);
    expectClose([(await ta.sub(wg.tensor(b)).square().mean().item()) as number], [mse], 1e-5);
    const mean = a.reduce((s, v) => s + v, 0) / 31;
    const sd = Math.sqrt(a.reduce((s, v) => s + (v - mean) ** 2, 0) / 31);
    const z = ta.sub(ta.mean()).div(ta.variance().sqrt());
    expectClose(await z.data(), a.map((v) => (v - mean) / sd), 1e-5, 1e-6);
  });
});
