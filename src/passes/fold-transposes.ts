// fold-transposes: a transpose that swaps the last two axes (and keeps every other axis in place) feeding a
// matmul operand becomes that operand's transA/transB flag, so the matmul reads the untransposed value with
// swapped strides. The flag toggles: an operand that is already flagged gets unflagged, and a chain of such
// transposes folds one after another (transpose(transpose(x)) leaves the flag as it was).
//
// The same holds for syrk's one operand (syrk(x^T) is syrk(x) with transA toggled), should a syrk exist when
// the pass runs (detect-syrk normally runs after it).
//
// Only the matmul's operand changes; the transpose node itself stays wherever something else reads it (an
// elementwise op, a reduction, a graph output): the lowering reads those as strided views, with no copy, so
// there is nothing to gain by rewriting them. A transpose with any other perm (one that moves a batch axis)
// is not a flag and stays in front of its matmul; the notes say so.
//
// Notes name values as the input graph prints them: `fold %1 into %3 as transB (operand B)`.
import { orderOf, type Graph } from '../ir/graph.js';
import type { Node } from '../ir/node.js';
import { numberValues } from '../ir/printer.js';
import type { Pass, PassResult } from './pass.js';
import { rewrite, withAttrs, withInputs } from './rewrite.js';

/** True when `perm` is the identity except that its last two entries are swapped. */
export function swapsLastTwo(perm: readonly number[]): boolean {
  const r = perm.length;
  return r >= 2 && perm[r - 2] === r - 1 && perm[r - 1] === r - 2 && perm.slice(0, -2).every((p, i) => p === i);
}

type Flag = 'transA' | 'transB';
/** Per op that takes transpose flags: operand i's flag, and its name in notes. */
const FLAGS: Readonly<Record<string, readonly { readonly flag: Flag; readonly name: string }[]>> = {
  matmul: [
    { flag: 'transA', name: 'A' },
    { flag: 'transB', name: 'B' },
  ],
  // syrk(x^T) = x^T x = syrk(x) {transA}, and the other way round.
  syrk: [{ flag: 'transA', name: 'X' }],
};

export const foldTransposes: Pass = {
  name: 'fold-transposes',
  description: 'turn a transpose of the last two axes feeding a matmul (or syrk) operand into its transA/transB flag',
  run(graph: Graph): PassResult {
    const names = numberValues(orderOf(graph));
    const fired: string[] = [];
    // The rewritten node -> its original, to name operands in notes after their own inputs changed.
    const original = new Map<Node, Node>();
    const nameOf = (n: Node) => `%${names.get(original.get(n) ?? n) ?? '?'}`;
    const result = rewrite(graph, (node, inputs) => {
      const operandFlags = Object.hasOwn(FLAGS, node.op) ? FLAGS[node.op] : null;
      if (!operandFlags) {
        const out = withInputs(node, inputs);
        original.set(out, node);
        return out;
      }
      const operands = [...inputs];
      const flags: Record<Flag, boolean> = { transA: node.attrs.transA === true, transB: node.attrs.transB === true };
      let changed = false;
      operandFlags.forEach(({ flag, name }, i) => {
        for (;;) {
          const t = operands[i];
          if (t.op !== 'transpose') break;
          const perm = t.attrs.perm as readonly number[];
          if (!swapsLastTwo(perm)) {
            fired.push(`keep ${nameOf(t)} feeding ${nameOf(node)} operand ${name}: perm [${perm.join(',')}] moves more than the last two axes`);
            break;
          }
          flags[flag] = !flags[flag];
          fired.push(`fold ${nameOf(t)} into ${nameOf(node)} ${flags[flag] ? 'as' : 'cancelling'} ${flag} (operand ${name})`);
          operands[i] = t.inputs[0];
          changed = true;
        }
      });
      const out = changed
        ? withAttrs(node, operands, (d) => {
            delete d.group;
            for (const { flag } of operandFlags) {
              if (flags[flag]) d[flag] = true;
              else delete d[flag];
            }
          })
        : withInputs(node, inputs);
      original.set(out, node);
      return out;
    });
    return { graph: result, fired };
  },
};
