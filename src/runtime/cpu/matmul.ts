// Batched matmul with NumPy-broadcast batch axes and logical transposes of either operand.
// A is laid out as contiguous [..., M, K] rows and B as contiguous [..., N, K] rows, so every output element
// is a dot product of two contiguous runs. f32 accumulates in f64 and rounds once; i32 wraps at every step.
import type { TypedArray } from '../../ir/dtype.js';
import type { Node } from '../../ir/node.js';
import { matrixDims } from '../../ir/ops.js';
import { sizeOf, type Shape } from '../../ir/shape.js';
import { allocLike, broadcastIndices, permute } from './strided.js';

/** `x` with its last two axes swapped when `swap` is set. */
function swapLastTwo(x: TypedArray, shape: Shape, swap: boolean): TypedArray {
  if (!swap) return x;
  const perm = shape.map((_, i) => i);
  const r = shape.length;
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return permute(x, shape, perm);
}

export function evalMatmul(node: Node, [a, b]: readonly TypedArray[]): TypedArray {
  const [na, nb] = node.inputs;
  const transA = node.attrs.transA === true;
  const transB = node.attrs.transB === true;
  const [m, k] = matrixDims(na.shape, transA);
  const n = matrixDims(nb.shape, transB)[1];
  const rowsA = swapLastTwo(a, na.shape, transA);
  // B is stored [K, N] unless transposed, so the untransposed case is the one that needs the swap.
  const rowsB = swapLastTwo(b, nb.shape, !transB);
  const batch = node.shape.slice(0, -2);
  const batchA = broadcastIndices(na.shape.slice(0, -2), batch);
  const batchB = broadcastIndices(nb.shape.slice(0, -2), batch);
  const out = allocLike(a, sizeOf(node.shape));
  const dot = a instanceof Float32Array ? dotFloat : dotInt;
  for (let bi = 0; bi < batchA.length; bi++) {
    const offA = batchA[bi] * m * k;
    const offB = batchB[bi] * n * k;
    const offOut = bi * m * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) out[offOut + i * n + j] = dot(rowsA, offA + i * k, rowsB, offB + j * k, k);
    }
  }
  return out;
}

function dotFloat(x: TypedArray, xi: number, y: TypedArray, yi: number, k: number): number {
  let acc = 0;
  for (let p = 0; p < k; p++) acc += x[xi + p] * y[yi + p];
  return acc;
}

function dotInt(x: TypedArray, xi: number, y: TypedArray, yi: number, k: number): number {
  let acc = 0;
  for (let p = 0; p < k; p++) acc = (acc + Math.imul(x[xi + p], y[yi + p])) | 0;
  return acc;
}
