// Helpers for the public-API tests: seeded data, plain-JS reference computations on flat row-major arrays with
// explicit strides, and value comparison. Nothing here calls wgfuse; every expected value comes from the code
// below or from numbers written by hand in the tests.
import { expect } from 'vitest';

export type Shape = readonly number[];
export type Nested = number | boolean | Nested[];

export { mulberry32 as rng } from '../seeded.js';

export const f32 = Math.fround;

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** Floats in [lo, hi), already representable in f32. */
export function randFloats(n: number, next: () => number, lo = -4, hi = 4): number[] {
  return Array.from({ length: n }, () => f32(lo + (hi - lo) * next()));
}

/** Integers in [lo, hi). */
export function randInts(n: number, next: () => number, lo = -20, hi = 20): number[] {
  return Array.from({ length: n }, () => lo + Math.floor((hi - lo) * next()));
}

export function randBools(n: number, next: () => number): number[] {
  return Array.from({ length: n }, () => (next() < 0.5 ? 1 : 0));
}

/** Flat index -> multi-index. */
export function unravel(flat: number, shape: Shape): number[] {
  const idx = new Array<number>(shape.length);
  for (let a = shape.length - 1; a >= 0; a--) {
    idx[a] = flat % shape[a];
    flat = Math.floor(flat / shape[a]);
  }
  return idx;
}

export function ravel(idx: readonly number[], shape: Shape): number {
  let flat = 0;
  for (let a = 0; a < shape.length; a++) flat = flat * shape[a] + idx[a];
  return flat;
}

/** NumPy broadcast of two shapes, or null when they do not broadcast. */
export function broadcastShape(a: Shape, b: Shape): number[] | null {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const da = i - (n - a.length) >= 0 ? a[i - (n - a.length)] : 1;
    const db = i - (n - b.length) >= 0 ? b[i - (n - b.length)] : 1;
    if (da !== db && da !== 1 && db !== 1) return null;
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** The element of `data` (shape `from`) that output multi-index `outIdx` reads under broadcasting. */
export function readBroadcast(data: ArrayLike<number>, from: Shape, outIdx: readonly number[]): number {
  const off = outIdx.length - from.length;
  let flat = 0;
  for (let a = 0; a < from.length; a++) flat = flat * from[a] + (from[a] === 1 ? 0 : outIdx[off + a]);
  return data[flat];
}

/** Naive broadcasting binary map. */
export function refBinary(
  a: ArrayLike<number>,
  sa: Shape,
  b: ArrayLike<number>,
  sb: Shape,
  f: (x: number, y: number) => number,
): { data: number[]; shape: number[] } {
  const shape = broadcastShape(sa, sb);
  if (!shape) throw new Error('test bug: shapes do not broadcast');
  const n = sizeOf(shape);
  const data: number[] = [];
  for (let i = 0; i < n; i++) {
    const idx = unravel(i, shape);
    data.push(f(readBroadcast(a, sa, idx), readBroadcast(b, sb, idx)));
  }
  return { data, shape };
}

/** Naive transpose with explicit strides: out axis i is in axis perm[i]. */
export function refTranspose(x: ArrayLike<number>, shape: Shape, perm: readonly number[]): { data: number[]; shape: number[] } {
  const inStrides = stridesOf(shape);
  const outShape = perm.map((p) => shape[p]);
  const n = sizeOf(outShape);
  const data: number[] = [];
  for (let i = 0; i < n; i++) {
    const idx = unravel(i, outShape);
    let off = 0;
    for (let k = 0; k < perm.length; k++) off += idx[k] * inStrides[perm[k]];
    data.push(x[off]);
  }
  return { data, shape: outShape };
}

/** Naive reduction over a set of axes with an accumulator in f64; returns the kept-axes shape (keepdims optional). */
export function refReduce(
  x: ArrayLike<number>,
  shape: Shape,
  axes: readonly number[],
  init: number,
  step: (acc: number, v: number) => number,
  keepdims = false,
): { data: number[]; shape: number[] } {
  const r = shape.length;
  const ax = axes.map((a) => (a < 0 ? a + r : a));
  const outShapeKeep = shape.map((d, i) => (ax.includes(i) ? 1 : d));
  const n = sizeOf(outShapeKeep);
  const acc = new Array<number>(n).fill(init);
  const total = sizeOf(shape);
  for (let i = 0; i < total; i++) {
    const idx = unravel(i, shape);
    const o = ravel(
      idx.map((v, k) => (ax.includes(k) ? 0 : v)),
      outShapeKeep,
    );
    acc[o] = step(acc[o], x[i]);
  }
  const outShape = keepdims ? outShapeKeep : shape.filter((_, i) => !ax.includes(i));
  return { data: acc, shape: outShape };
}

/** Naive argmax/argmin along one axis: first extreme, first NaN wins. */
export function refArg(x: ArrayLike<number>, shape: Shape, axis: number, isMax: boolean): { data: number[]; shape: number[] } {
  const r = shape.length;
  const a = axis < 0 ? axis + r : axis;
  const outShape = shape.filter((_, i) => i !== a);
  const n = sizeOf(outShape);
  const strides = stridesOf(shape);
  const data: number[] = [];
  for (let o = 0; o < n; o++) {
    const oi = unravel(o, outShape);
    const full = [...oi.slice(0, a), 0, ...oi.slice(a)];
    let base = 0;
    for (let k = 0; k < r; k++) base += full[k] * strides[k];
    let best = NaN;
    let bi = -1;
    for (let j = 0; j < shape[a]; j++) {
      const v = x[base + j * strides[a]];
      if (Number.isNaN(v)) {
        bi = j;
        break;
      }
      if (bi === -1 || (isMax ? v > best : v < best)) {
        best = v;
        bi = j;
      }
    }
    data.push(bi);
  }
  return { data, shape: outShape };
}

/** Naive NumPy matmul for rank >= 2 operands with broadcast batch axes, accumulating in f64. */
export function refMatmul(a: ArrayLike<number>, sa: Shape, b: ArrayLike<number>, sb: Shape): { data: number[]; shape: number[] } {
  const m = sa[sa.length - 2];
  const k = sa[sa.length - 1];
  const n = sb[sb.length - 1];
  if (sb[sb.length - 2] !== k) throw new Error('test bug: inner dims');
  const ba = sa.slice(0, -2);
  const bb = sb.slice(0, -2);
  const batch = broadcastShape(ba, bb);
  if (!batch) throw new Error('test bug: batch dims');
  const nb = sizeOf(batch);
  const data: number[] = [];
  for (let bi = 0; bi < nb; bi++) {
    const idx = unravel(bi, batch);
    const offA = ravelBroadcast(idx, ba) * m * k;
    const offB = ravelBroadcast(idx, bb) * k * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += a[offA + i * k + p] * b[offB + p * n + j];
        data.push(s);
      }
    }
  }
  return { data, shape: [...batch, m, n] };
}

function ravelBroadcast(outIdx: readonly number[], from: Shape): number {
  const off = outIdx.length - from.length;
  let flat = 0;
  for (let a = 0; a < from.length; a++) flat = flat * from[a] + (from[a] === 1 ? 0 : outIdx[off + a]);
  return flat;
}

/** Nested JS arrays from flat row-major data. */
export function nest(data: ArrayLike<number>, shape: Shape, conv: (v: number) => number | boolean = (v) => v): Nested {
  if (shape.length === 0) return conv(data[0]);
  const build = (off: number, depth: number): Nested[] => {
    const out: Nested[] = [];
    const stride = sizeOf(shape.slice(depth + 1));
    for (let i = 0; i < shape[depth]; i++) {
      out.push(depth === shape.length - 1 ? conv(data[off + i]) : build(off + i * stride, depth + 1));
    }
    return out;
  };
  return build(0, 0);
}

/** Exact comparison where NaN equals NaN; -0 and +0 are told apart only when `signedZero`. */
export function expectExact(actual: ArrayLike<number>, expected: ArrayLike<number>, signedZero = false): void {
  const norm = (xs: ArrayLike<number>) =>
    Array.from(xs, (x) => (Number.isNaN(x) ? 'NaN' : x === 0 ? (signedZero && Object.is(x, -0) ? '-0' : 0) : x));
  expect(norm(actual)).toEqual(norm(expected));
}

/**
 * |a - e| <= rel * max(|e|, scale) + abs, elementwise; NaN must match NaN and infinities must match exactly.
 * `scale` lets sums and dot products use the magnitude of their terms.
 */
export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rel = 1e-6,
  abs = 0,
  scale: ArrayLike<number> | number = 0,
): void {
  expect(actual.length, 'length').toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (Number.isNaN(e)) {
      expect(a, `element ${i} should be NaN`).toBeNaN();
    } else if (!Number.isFinite(e)) {
      expect(a, `element ${i}`).toBe(e);
    } else {
      const sc = typeof scale === 'number' ? scale : scale[i];
      const tol = rel * Math.max(Math.abs(e), sc) + abs;
      expect(Math.abs(a - e), `element ${i}: got ${a}, expected ${e} (tol ${tol})`).toBeLessThanOrEqual(tol);
    }
  }
}

/** Runs `fn` and returns the thrown error (fails the test when nothing is thrown). */
export function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected the call to throw, but it returned');
}

/** Checks class and that the message contains every fragment. */
export function expectThrow(fn: () => unknown, cls: abstract new (...args: never[]) => Error, ...fragments: string[]): Error {
  const e = thrown(fn);
  expect(e, `${e?.name}: ${e?.message}`).toBeInstanceOf(cls);
  for (const f of fragments) expect(e.message).toContain(f);
  return e;
}

export async function expectReject(p: Promise<unknown>, cls: abstract new (...args: never[]) => Error, ...fragments: string[]): Promise<Error> {
  let err: Error | null = null;
  try {
    await p;
  } catch (e) {
    err = e as Error;
  }
  expect(err, 'expected the promise to reject').not.toBeNull();
  expect(err, `${err?.name}: ${err?.message}`).toBeInstanceOf(cls);
  for (const f of fragments) expect(err!.message).toContain(f);
  return err!;
}

/** An independent transcription of the documented counter-based generator (docs/semantics.md). */
function hash32(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}
function bits(seed: number, i: number): number {
  const key = hash32(seed >>> 0);
  return hash32((hash32((i ^ key) >>> 0) + key) >>> 0);
}
export function refUniform(seed: number, i: number): number {
  return (bits(seed, i) >>> 8) / 16777216;
}
export function refNormal(seed: number, i: number): number {
  const u1 = ((bits(seed, (2 * i) >>> 0) >>> 8) + 1) / 16777216;
  const u2 = (bits(seed, (2 * i + 1) >>> 0) >>> 8) / 16777216;
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}
