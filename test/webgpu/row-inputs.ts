// What the row-kernel tests share (row-cache.test.ts, row-segments.test.ts): random inputs reproducible from
// a seed, and the check of a program's outputs against the CPU reference.
import * as wg from '../../src/index.js';
import type { Tensor } from '../../src/api/tensor.js';
import type { WebGpuBackend } from '../../src/runtime/webgpu/backend.js';
import { setRowTuning } from '../../src/shaders/row.js';
import { setRowSplitTuning } from '../../src/shaders/row-split.js';
import { EXACT, expectClose, reference, rng, type Tolerance } from './differential.js';
import { runOutputs } from './gpu.js';

/** The default tolerance of float outputs (softmax, mean, variance, ...); everything else is exact. */
export const FLOAT: Tolerance = { rel: 1e-4, abs: 1e-5 };

/** `outputs` evaluated on `backend` against the CPU reference: floats within `tol`, other dtypes exactly. */
export async function expectReference(backend: WebGpuBackend, outputs: Tensor[], tol: Tolerance, what: string): Promise<void> {
  const want = reference(...outputs);
  const got = await runOutputs(backend, outputs);
  got.forEach((g, k) => expectClose(g, want[k], want[k] instanceof Float32Array ? tol : EXACT, `${what}, output ${k}`));
}

/** After a check on its own backend: its pooled buffers destroyed, the row and split tunings back to their defaults. */
export function restoreRowDefaults(backend: WebGpuBackend): void {
  backend.pool.trim(0);
  setRowTuning(null);
  setRowSplitTuning(null);
}

export const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** Elements a reduction over `axes` of `shape` combines per output (its row length). */
export const reducedExtent = (shape: readonly number[], axes: readonly number[]) => axes.reduce((a, d) => a * shape[d], 1);

/** Uniform floats in [lo, hi); with specials (2-D), row 1 holds +inf, row 2 a NaN in its last element, row 3 is all -inf. */
export function f32(shape: number[], seed: number, lo = -1, hi = 1, specials = false): Tensor {
  const rand = rng(seed);
  const data = Float32Array.from({ length: size(shape) }, () => lo + (hi - lo) * rand());
  if (specials && shape.length === 2) {
    const [rows, n] = shape;
    if (rows > 1) data[n + (n >> 1)] = Number.POSITIVE_INFINITY;
    if (rows > 2) data[3 * n - 1] = Number.NaN;
    if (rows > 3) data.fill(Number.NEGATIVE_INFINITY, 3 * n, 4 * n);
  }
  return wg.tensor(data, shape);
}

/** Uniform int32 over the whole range (sums wrap around). */
export function i32(shape: number[], seed: number): Tensor {
  const rand = rng(seed);
  return wg.tensor(Int32Array.from({ length: size(shape) }, () => (rand() * 4294967296) | 0), shape, 'int32');
}
