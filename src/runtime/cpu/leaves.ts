// Leaves that produce data from attributes alone: const, iota and rand (`input` is bound by the executor).
import { coerce, typedArrayFor, type TypedArray } from '../../ir/dtype.js';
import { VerifyError } from '../../ir/errors.js';
import type { Node } from '../../ir/node.js';
import { normalAt, uniformAt } from '../../ir/random.js';
import { sizeOf } from '../../ir/shape.js';

export function evalLeaf(node: Node): TypedArray {
  switch (node.op) {
    case 'const':
      return typedArrayFor(node.dtype, sizeOf(node.shape)).fill(coerce(node.attrs.value as number, node.dtype));
    case 'iota':
      return iota(node);
    case 'rand':
      return rand(node);
    default:
      throw new VerifyError(`cpu: ${node.op} is not a generated leaf`);
  }
}

/** Each element is its index along `axis`: blocks of `inner` equal values, repeated for every outer index. */
function iota(node: Node): TypedArray {
  const axis = node.attrs.axis as number;
  const extent = node.shape[axis];
  const inner = sizeOf(node.shape.slice(axis + 1));
  const out = new Int32Array(sizeOf(node.shape));
  for (let start = 0; start < out.length; start += extent * inner) {
    for (let j = 0; j < extent; j++) out.fill(j, start + j * inner, start + (j + 1) * inner);
  }
  return out;
}

/** Element at flat row-major index i is a pure function of (seed, i), shared with the GPU kernels. */
function rand(node: Node): TypedArray {
  const seed = node.attrs.seed as number;
  const at = node.attrs.dist === 'normal' ? normalAt : uniformAt;
  const out = new Float32Array(sizeOf(node.shape));
  for (let i = 0; i < out.length; i++) out[i] = at(seed, i);
  return out;
}
