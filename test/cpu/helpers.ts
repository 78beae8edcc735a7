// Shared test helpers: graph building, value comparison, seeded data and plain multi-index arithmetic for the
// naive reference computations. Nothing here calls the executor's kernels.
import { expect } from 'vitest';
import type { DType, TypedArray } from '../../src/ir/dtype.js';
import { makeGraph } from '../../src/ir/graph.js';
import { makeNode, type Node } from '../../src/ir/node.js';
import type { AttrValue, OpName } from '../../src/ir/ops.js';
import type { Shape } from '../../src/ir/shape.js';
import { executeGraph } from '../../src/runtime/cpu/executor.js';

export function input(dtype: DType, shape: Shape, name?: string): Node {
  return makeNode('input', [], name === undefined ? {} : { name }, { dtype, shape });
}

export function op(name: OpName, inputs: readonly Node[], attrs: Record<string, AttrValue> = {}): Node {
  return makeNode(name, inputs, attrs);
}

/** Executes the graph of `outputs`; arguments bind to the graph's inputs in topological order. */
export function run(outputs: readonly Node[], args: readonly TypedArray[]): TypedArray[] {
  return executeGraph(makeGraph(outputs), args);
}

export function run1(output: Node, args: readonly TypedArray[]): number[] {
  return Array.from(run([output], args)[0]);
}

export const f32 = (xs: readonly number[]): Float32Array => Float32Array.from(xs);
export const i32 = (xs: readonly number[]): Int32Array => Int32Array.from(xs);
export const u8 = (xs: readonly number[]): Uint8Array => Uint8Array.from(xs);

/** The f32 value of each decimal literal, for writing expectations by hand. */
export const asF32 = (xs: readonly number[]): number[] => xs.map(Math.fround);

/** Exact comparison where NaN equals NaN and -0 equals +0 (the printed diff stays readable). */
export function expectValues(actual: ArrayLike<number>, expected: readonly number[]): void {
  const norm = (xs: ArrayLike<number>) => Array.from(xs, (x) => (Number.isNaN(x) ? 'NaN' : x === 0 ? 0 : x));
  expect(norm(actual)).toEqual(norm(expected));
}

export function expectClose(actual: ArrayLike<number>, expected: readonly number[], relTol = 1e-6): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (Number.isNaN(e)) expect(a, `element ${i}`).toBeNaN();
    else expect(Math.abs(a - e), `element ${i}: ${a} vs ${e}`).toBeLessThanOrEqual(relTol * Math.max(1, Math.abs(e)));
  }
}

export { mulberry32 as rng } from '../seeded.js';

export function size(shape: Shape): number {
  return shape.reduce((a, d) => a * d, 1);
}

/** Random data of a dtype: floats in [-4, 4) rounded to f32, ints in [-20, 20), bools 0/1. */
export function randomData(dtype: DType, shape: Shape, next: () => number): TypedArray {
  const n = size(shape);
  if (dtype === 'float32') return Float32Array.from({ length: n }, () => next() * 8 - 4);
  if (dtype === 'int32') return Int32Array.from({ length: n }, () => Math.floor(next() * 40) - 20);
  return Uint8Array.from({ length: n }, () => (next() < 0.5 ? 1 : 0));
}

/** Flat row-major index -> multi-index. */
export function unravel(flat: number, shape: Shape): number[] {
  const idx = new Array<number>(shape.length);
  for (let a = shape.length - 1; a >= 0; a--) {
    idx[a] = flat % shape[a];
    flat = Math.floor(flat / shape[a]);
  }
  return idx;
}

/** Multi-index -> flat row-major index. */
export function ravel(idx: readonly number[], shape: Shape): number {
  let flat = 0;
  for (let a = 0; a < shape.length; a++) flat = flat * shape[a] + idx[a];
  return flat;
}

/** The element of `data` (shape `from`) that output multi-index `outIdx` reads under NumPy broadcasting. */
export function broadcastRead(data: ArrayLike<number>, from: Shape, outIdx: readonly number[]): number {
  const off = outIdx.length - from.length;
  return data[ravel(from.map((d, a) => (d === 1 ? 0 : outIdx[off + a])), from)];
}
