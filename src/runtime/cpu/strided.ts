// Strided views over flat row-major buffers: the one indexing primitive of the CPU executor. Transpose, slice,
// expand and NumPy broadcasting are all "read this buffer with these strides"; a broadcast axis has stride 0.
import type { TypedArray } from '../../ir/dtype.js';
import { sizeOf, stridesOf, type Shape } from '../../ir/shape.js';

/** A fresh zeroed array of the same element type as `like`. */
export function allocLike(like: TypedArray, length: number): TypedArray {
  if (like instanceof Float32Array) return new Float32Array(length);
  if (like instanceof Int32Array) return new Int32Array(length);
  return new Uint8Array(length);
}

/** Strides that read a row-major `from` as if broadcast to `to`: new leading axes and size-1 axes get stride 0. */
export function broadcastStrides(from: Shape, to: Shape): number[] {
  const own = stridesOf(from);
  const off = to.length - from.length;
  return to.map((_, i) => (i < off || from[i - off] === 1 ? 0 : own[i - off]));
}

/**
 * Copies the view (shape, strides, offset) of `src` into a new row-major array. An odometer walks the outer
 * axes and a tight loop the last one, so no per-element index arrays are built.
 */
export function gather(src: TypedArray, shape: Shape, strides: readonly number[], offset = 0): TypedArray {
  const n = sizeOf(shape);
  const out = allocLike(src, n);
  if (n === 0) return out;
  const rank = shape.length;
  if (rank === 0) {
    out[0] = src[offset];
    return out;
  }
  const inner = shape[rank - 1];
  const innerStride = strides[rank - 1];
  const index = new Array<number>(rank - 1).fill(0);
  let base = offset;
  let o = 0;
  for (;;) {
    for (let j = 0, s = base; j < inner; j++, s += innerStride) out[o++] = src[s];
    let axis = rank - 2;
    for (; axis >= 0; axis--) {
      base += strides[axis];
      if (++index[axis] < shape[axis]) break;
      base -= strides[axis] * shape[axis];
      index[axis] = 0;
    }
    if (axis < 0) return out;
  }
}

/** `x` (row-major `from`) broadcast to `to`; `x` itself when the shapes already agree (kernels never write operands). */
export function broadcastTo(x: TypedArray, from: Shape, to: Shape): TypedArray {
  if (sizeOf(from) === sizeOf(to)) return x;
  return gather(x, to, broadcastStrides(from, to));
}

/** `x` with its axes reordered: output axis i is input axis perm[i]. */
export function permute(x: TypedArray, shape: Shape, perm: readonly number[]): TypedArray {
  if (perm.every((p, i) => p === i)) return x;
  const strides = stridesOf(shape);
  return gather(
    x,
    perm.map((p) => shape[p]),
    perm.map((p) => strides[p]),
  );
}

/** For each element of `to` (row-major), the flat index of the element of `from` it broadcasts from. */
export function broadcastIndices(from: Shape, to: Shape): Int32Array {
  const ramp = new Int32Array(sizeOf(from));
  for (let i = 0; i < ramp.length; i++) ramp[i] = i;
  return gather(ramp, to, broadcastStrides(from, to)) as Int32Array;
}
