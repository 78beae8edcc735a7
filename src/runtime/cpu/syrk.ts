// The symmetric product syrk(x) = x @ x^T (x^T @ x with transA), batched over the leading axes.
// It computes the full [n, n] product exactly as evalMatmul computes matmul(x, x) {transB} (matmul(x, x)
// {transA}): element (i, j) is the dot product of rows i and j of op(x), summed over p = 0..k-1 in that
// order, f32 in f64 rounded once, i32 with Math.imul and |0 at every step. So the two agree bit for bit,
// which lets detect-syrk replace one with the other without changing a single result.
import type { TypedArray } from '../../ir/dtype.js';
import type { Node } from '../../ir/node.js';
import { matrixDims } from '../../ir/ops.js';
import { sizeOf } from '../../ir/shape.js';
import { allocLike, permute } from './strided.js';

export function evalSyrk(node: Node, [x]: readonly TypedArray[]): TypedArray {
  const xn = node.inputs[0];
  const transA = node.attrs.transA === true;
  const [n, k] = matrixDims(xn.shape, transA);
  // Rows of op(x), each k contiguous elements: x itself, or x with its last two axes swapped.
  const r = xn.shape.length;
  const perm = xn.shape.map((_, i) => (i === r - 2 ? r - 1 : i === r - 1 ? r - 2 : i));
  const rows = transA ? permute(x, xn.shape, perm) : x;
  const batches = sizeOf(node.shape.slice(0, -2));
  const out = allocLike(x, sizeOf(node.shape));
  const dot = x instanceof Float32Array ? dotFloat : dotInt;
  for (let b = 0; b < batches; b++) {
    const offX = b * n * k;
    const offOut = b * n * n;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) out[offOut + i * n + j] = dot(rows, offX + i * k, rows, offX + j * k, k);
    }
  }
  return out;
}

// The same loops as evalMatmul's (src/runtime/cpu/matmul.ts): keep them identical.
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
