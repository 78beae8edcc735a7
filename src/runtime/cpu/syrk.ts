// The symmetric product syrk(x) = x @ x^T (x^T @ x with transA), batched over the leading axes. It is by
// definition matmul(x, x) {transB} (matmul(x, x) {transA}), so the reference computes exactly that: the
// two agree bit for bit, which lets detect-syrk replace one with the other without changing a result.
import type { TypedArray } from '../../ir/dtype.js';
import { makeNode, type Node } from '../../ir/node.js';
import { evalMatmul } from './matmul.js';

export function evalSyrk(node: Node, [x]: readonly TypedArray[]): TypedArray {
  const xn = node.inputs[0];
  const product = makeNode('matmul', [xn, xn], node.attrs.transA === true ? { transA: true } : { transB: true });
  return evalMatmul(product, [x, x]);
}
