// Differential checks: the same lazy program computed by the CPU reference executor (directly, on the
// program's host arguments) and by the active WebGPU backend, compared element by element.
import { expect } from 'vitest';
import { tensor } from '../../src/api/creation.js';
import { extractProgram } from '../../src/api/program.js';
import type { Tensor } from '../../src/api/tensor.js';
import type { DType, TypedArray } from '../../src/ir/dtype.js';
import { fmtShape, sizeOf } from '../../src/ir/shape.js';
import { executeGraph } from '../../src/runtime/cpu/executor.js';

export interface Tolerance {
  /** Relative error allowed for float32 results. */
  rel: number;
  /** Absolute error allowed near zero. */
  abs: number;
}

export const EXACT: Tolerance = { rel: 0, abs: 0 };
export const ARITH: Tolerance = { rel: 2e-6, abs: 1e-6 };
export const TRANSCENDENTAL: Tolerance = { rel: 2e-5, abs: 2e-6 };

/** The CPU reference's values for these tensors (every argument must have host data). */
export function reference(...tensors: Tensor[]): TypedArray[] {
  const { graph, args } = extractProgram(tensors.map((t) => t.node));
  return executeGraph(
    graph,
    args.map((a) => {
      if (!a.host) throw new Error('reference: an argument has no host data');
      return a.host;
    }),
  );
}

export function expectClose(got: TypedArray, want: TypedArray, tol: Tolerance, what: string): void {
  expect(got.constructor.name, what).toBe(want.constructor.name);
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const g = got[i];
    const w = want[i];
    if (Number.isNaN(w)) {
      if (!Number.isNaN(g)) expect.fail(`${what}: element ${i}: got ${g}, want NaN`);
      continue;
    }
    if (g === w) continue;
    const err = Math.abs(g - w);
    if (!(err <= tol.abs + tol.rel * Math.abs(w))) expect.fail(`${what}: element ${i}: got ${g}, want ${w} (error ${err}, allowed ${tol.abs + tol.rel * Math.abs(w)})`);
  }
}

/** Computes `t` on the CPU reference and on the active backend and compares. */
export async function expectMatchesReference(t: Tensor, tol: Tolerance, what = `${t.dtype}${fmtShape(t.shape)}`): Promise<void> {
  const [want] = reference(t);
  const got = await t.data();
  expectClose(got, want, t.dtype === 'float32' ? tol : EXACT, what);
}

// ---------------------------------------------------------------------------------------------------------
// Seeded data, so that a failing case reproduces.

export { mulberry32 as rng } from '../seeded.js';

/** A linear congruential generator (the stream the elementwise tests were written against). */
export function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/** Random float32 / int32 / bool tensors drawn in order from one seeded stream (`next`). */
export function seededTensors(seed: number) {
  const next = seeded(seed);
  return {
    next,
    randomF(shape: number[], lo = -3, hi = 3): Tensor {
      return tensor(Float32Array.from({ length: sizeOf(shape) }, () => lo + (hi - lo) * next()), shape);
    },
    randomI(shape: number[], lo = -50, hi = 50): Tensor {
      return tensor(Int32Array.from({ length: sizeOf(shape) }, () => lo + Math.floor((hi - lo) * next())), shape, 'int32');
    },
    randomB(shape: number[]): Tensor {
      return tensor(Uint8Array.from({ length: sizeOf(shape) }, () => (next() < 0.5 ? 1 : 0)), shape, 'bool');
    },
  };
}

/** Host form of `n` values: Float32Array / Int32Array / Uint8Array (bool 0/1). */
export function hostArray(dtype: DType, values: ArrayLike<number>): TypedArray {
  if (dtype === 'float32') return Float32Array.from(values);
  if (dtype === 'int32') return Int32Array.from(values);
  return Uint8Array.from(values, (v) => (v ? 1 : 0));
}

/** Every unary float32 op, with its tolerance and the input range [lo, hi] it is checked over. */
export const UNARY_FLOAT_OPS: readonly [string, (t: Tensor) => Tensor, Tolerance, number, number][] = [
  ['neg', (t) => t.neg(), ARITH, -5, 5],
  ['abs', (t) => t.abs(), ARITH, -5, 5],
  ['square', (t) => t.square(), ARITH, -5, 5],
  ['sign', (t) => t.sign(), ARITH, -5, 5],
  ['relu', (t) => t.relu(), ARITH, -5, 5],
  ['floor', (t) => t.floor(), ARITH, -5, 5],
  ['ceil', (t) => t.ceil(), ARITH, -5, 5],
  ['round', (t) => t.mul(2).round(), ARITH, -5, 5],
  ['exp', (t) => t.exp(), TRANSCENDENTAL, -10, 10],
  ['log', (t) => t.log(), TRANSCENDENTAL, 0.001, 100],
  ['sqrt', (t) => t.sqrt(), TRANSCENDENTAL, 0, 100],
  ['rsqrt', (t) => t.rsqrt(), TRANSCENDENTAL, 0.01, 100],
  ['reciprocal', (t) => t.reciprocal(), TRANSCENDENTAL, 0.01, 10],
  // WGSL guarantees sin/cos to 2^-11 absolute after range reduction; SwiftShader is near that bound.
  ['sin', (t) => t.sin(), { rel: 0, abs: 2 ** -11 }, -20, 20],
  ['cos', (t) => t.cos(), { rel: 0, abs: 2 ** -11 }, -20, 20],
  ['tanh', (t) => t.tanh(), TRANSCENDENTAL, -20, 20],
  ['sigmoid', (t) => t.sigmoid(), TRANSCENDENTAL, -30, 30],
  ['gelu', (t) => t.gelu(), TRANSCENDENTAL, -8, 8],
];
