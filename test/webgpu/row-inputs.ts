// Random inputs of the row-kernel tests (row-cache.test.ts, row-segments.test.ts): reproducible from a seed.
import * as wg from '../../src/index.js';
import type { Tensor } from '../../src/api/tensor.js';
import { rng } from './differential.js';

export const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

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
