// Layout ops move elements without computing on them: reshape, transpose, expand, slice (stride 1), concat.
import type { TypedArray } from '../../ir/dtype.js';
import { VerifyError } from '../../ir/errors.js';
import type { Node } from '../../ir/node.js';
import { normalizeAxis, sizeOf, stridesOf } from '../../ir/shape.js';
import { allocLike, broadcastTo, gather, permute } from './strided.js';

export function evalLayout(node: Node, xs: readonly TypedArray[]): TypedArray {
  const [x] = xs;
  const inShape = node.inputs[0].shape;
  switch (node.op) {
    case 'reshape':
      // Row-major data is unchanged; sharing the buffer is safe because kernels never write their operands.
      return x;
    case 'transpose':
      return permute(x, inShape, node.attrs.perm as readonly number[]);
    case 'expand':
      return broadcastTo(x, inShape, node.shape);
    case 'slice': {
      const begin = node.attrs.begin as readonly number[];
      const strides = stridesOf(inShape);
      const offset = begin.reduce((acc, b, i) => acc + b * strides[i], 0);
      return gather(x, node.shape, strides, offset);
    }
    case 'concat':
      return concat(node, xs);
    default:
      throw new VerifyError(`cpu: ${node.op} is not a layout op`);
  }
}

/** Per index of the axes before `axis`, each operand contributes one contiguous block in turn. */
function concat(node: Node, xs: readonly TypedArray[]): TypedArray {
  const axis = normalizeAxis(node.attrs.axis, node.shape.length, 'concat');
  const outer = sizeOf(node.shape.slice(0, axis));
  const inner = sizeOf(node.shape.slice(axis + 1));
  const out = allocLike(xs[0], sizeOf(node.shape));
  let pos = 0;
  for (let o = 0; o < outer; o++) {
    xs.forEach((x, t) => {
      const block = node.inputs[t].shape[axis] * inner;
      out.set(x.subarray(o * block, (o + 1) * block), pos);
      pos += block;
    });
  }
  return out;
}
