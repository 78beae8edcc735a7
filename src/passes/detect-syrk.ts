// detect-syrk: a matmul of a value with its own transpose is symmetric, so it becomes `syrk`, whose kernel
// computes only the tiles on and below the diagonal and mirrors them:
//   matmul %x, %x {transB}  ->  syrk %x            (x @ x^T)
//   matmul %x, %x {transA}  ->  syrk %x {transA}   (x^T @ x)
// Both operands must be the same node: fold-transposes has already turned `matmul(x, transpose(x))` into
// the flagged form, and CSE has already merged equal values, so this pass proves nothing about values.
// matmul(x, x) with no flag (x @ x) or with both (x^T @ x^T) is not symmetric and stays; the notes say so.
// The CPU reference computes syrk with the same summation order as matmul, so results do not change by a bit.
//
// Notes name values as the input graph prints them: `rewrite %2 = matmul %0, %0 {transB} as syrk (x @ x^T)`.
import { orderOf, type Graph } from '../ir/graph.js';
import { makeNode, type Node } from '../ir/node.js';
import { numberValues } from '../ir/printer.js';
import type { Pass, PassResult } from './pass.js';
import { rewrite, withInputs } from './rewrite.js';

export const detectSyrk: Pass = {
  name: 'detect-syrk',
  description: 'turn matmul(x, x) with exactly one of transA/transB into the symmetric product syrk(x)',
  run(graph: Graph): PassResult {
    const names = numberValues(orderOf(graph));
    const name = (n: Node) => `%${names.get(n) ?? '?'}`;
    const fired: string[] = [];
    const result = rewrite(graph, (node, inputs) => {
      if (node.op !== 'matmul' || inputs[0] !== inputs[1]) return withInputs(node, inputs);
      const transA = node.attrs.transA === true;
      const transB = node.attrs.transB === true;
      const what = `${name(node)} = matmul ${name(node.inputs[0])}, ${name(node.inputs[1])}`;
      if (transA === transB) {
        fired.push(`keep ${what}${transA ? ' {transA, transB}: x^T @ x^T' : ': x @ x'} is not symmetric`);
        return withInputs(node, inputs);
      }
      fired.push(`rewrite ${what} {${transA ? 'transA' : 'transB'}} as syrk (${transA ? 'x^T @ x' : 'x @ x^T'})`);
      return makeNode('syrk', [inputs[0]], transA ? { transA: true } : {});
    });
    return { graph: result, fired };
  },
};
