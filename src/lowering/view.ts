// Views: how a value lies in a slot (offset and strides over its shape). Layout ops become views instead of
// copies wherever strides can express them: transpose permutes strides, expand sets broadcast strides to
// 0, slice moves the offset, reshape of a row-major view restrides it. Kernels read views in place.
import type { DType } from '../ir/dtype.js';
import type { Node } from '../ir/node.js';
import { isRowMajorStrides, sizeOf, stridesOf, type Shape } from '../ir/shape.js';
import type { Access } from '../shaders/expr.js';

export interface View {
  readonly slot: number;
  readonly dtype: DType;
  readonly shape: Shape;
  readonly offset: number;
  readonly strides: readonly number[];
}

export function rowMajorView(slot: number, dtype: DType, shape: Shape, offset = 0): View {
  return { slot, dtype, shape: [...shape], offset, strides: stridesOf(shape) };
}

/** True when the view's elements sit row-major and gap-free from its offset. */
export function isRowMajor(v: View): boolean {
  return isRowMajorStrides(v.shape, v.strides);
}

/** The view a layout op produces from its operand's view, or null when strides cannot express it. */
export function layoutView(node: Node, v: View): View | null {
  switch (node.op) {
    case 'transpose': {
      const perm = node.attrs.perm as readonly number[];
      return { ...v, shape: perm.map((p) => v.shape[p]), strides: perm.map((p) => v.strides[p]) };
    }
    case 'expand': {
      const shape = node.shape;
      const off = shape.length - v.shape.length;
      const strides = shape.map((d, i) => (i < off || (v.shape[i - off] === 1 && d !== 1) ? 0 : v.strides[i - off]));
      return { ...v, shape: [...shape], strides };
    }
    case 'slice': {
      const begin = node.attrs.begin as readonly number[];
      const offset = v.offset + begin.reduce((acc, b, d) => acc + b * v.strides[d], 0);
      return { ...v, shape: [...node.shape], offset };
    }
    case 'reshape':
      return reshapeView(v, node.shape);
    default:
      return null;
  }
}

/**
 * Reshape without a copy: a row-major view takes row-major strides of the new shape; otherwise only
 * adding or removing extent-1 axes is expressible (the other axes keep their strides).
 */
function reshapeView(v: View, shape: Shape): View | null {
  if (isRowMajor(v)) return { ...v, shape: [...shape], strides: stridesOf(shape) };
  const kept = v.shape.flatMap((d, i) => (d === 1 ? [] : [i]));
  const target = shape.flatMap((d, i) => (d === 1 ? [] : [i]));
  if (kept.length !== target.length || kept.some((k, j) => v.shape[k] !== shape[target[j]])) return null;
  const strides = shape.map(() => 0);
  target.forEach((t, j) => (strides[t] = v.strides[kept[j]]));
  return { ...v, shape: [...shape], strides };
}

/** How a kernel whose index space is `space` reads the view, broadcasting it NumPy-style (stride 0). */
export function accessIn(v: View, space: Shape): Access {
  const off = space.length - v.shape.length;
  const strides = space.map((_, i) => (i < off || v.shape[i - off] === 1 ? 0 : v.strides[i - off]));
  return { offset: v.offset, strides };
}

export function elementsOf(v: View): number {
  return sizeOf(v.shape);
}
