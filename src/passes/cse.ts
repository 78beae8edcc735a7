// cse: common-subexpression elimination. Two nodes that are bound to compute the same values become one,
// so the value is computed once and later passes see one producer with several users.
//
// A node's structural key is (op, the identities of its already deduplicated operands, its attributes
// without `group`); its type need not be in it, since type inference is a function of exactly those. Walking bottom-up, the first node with a key survives and every later node
// with that key is replaced by it; since operands are deduplicated first, whole duplicate subtrees collapse.
// Leaves merge by (op, attributes, type):
//   const   equal value (as printed: -0 and 0 differ, NaN equals NaN), dtype and shape;
//   iota    equal axis and type;
//   rand    equal seed, dist and type: element i is a pure function of (seed, i), so same seed, same numbers;
//   input   NEVER: two inputs are two arguments, whatever their types.
// `group` (fusion's kernel annotation) is ignored by the key: the survivor keeps its own, the duplicate's goes.
//
// graph.inputs stay valid: no input is merged, and a merged node had the same operands as its survivor, so
// the first-reached order of the inputs does not change.
//
// Notes name values as the input graph prints them: `merge %5 into %2 (add %0, %1)`.
import { orderOf, type Graph } from '../ir/graph.js';
import type { Node } from '../ir/node.js';
import { OPS, type AttrValue, type Attrs } from '../ir/ops.js';
import { numberValues, printAttrs, printType } from '../ir/printer.js';
import type { Pass, PassResult } from './pass.js';
import { rewrite, withInputs } from './rewrite.js';

export const cse: Pass = {
  name: 'cse',
  description: 'merge nodes with the same op, operands, attributes (ignoring group) and type; consts, iotas and rands with equal attributes; never inputs',
  run(graph: Graph): PassResult {
    const order = orderOf(graph);
    // Numbered only when a note needs a name (the second run of cse usually merges nothing).
    let names: Map<Node, number> | undefined;
    const fired: string[] = [];
    // The rewritten node -> the original it stands for, to name it in notes after its operands changed.
    const original = new Map<Node, Node>();
    const nameOf = (n: Node) => `%${(names ??= numberValues(order)).get(original.get(n) ?? n) ?? '?'}`;
    const identity = new Map<Node, number>();
    const idOf = (n: Node) => {
      let id = identity.get(n);
      if (id === undefined) identity.set(n, (id = identity.size));
      return id;
    };
    const survivors = new Map<string, Node>();

    // Leaves first, in topological order, so the first-printed of equal leaves survives.
    const leaf = new Map<Node, Node>();
    for (const n of order) {
      if (OPS[n.op].kind !== 'leaf' || n.op === 'input') continue;
      const key = `${n.op}${printAttrs(n.attrs)}:${printType(n)}`;
      const first = survivors.get(key);
      if (first) {
        leaf.set(n, first);
        fired.push(`merge ${nameOf(n)} into ${nameOf(first)} (${n.op}${attrsPart(n.attrs)} : ${printType(n)})`);
      } else {
        survivors.set(key, n);
      }
    }
    const canonical = (n: Node) => leaf.get(n) ?? n;

    const result = rewrite(graph, (node, inputs) => {
      const operands = inputs.map(canonical);
      const attrs = node.attrs.group === undefined ? node.attrs : withoutGroup(node.attrs);
      let key = `${node.op}(`;
      for (const x of operands) key += `${idOf(x)},`;
      key += `)${attrsPart(attrs)}`;
      const first = survivors.get(key);
      if (first) {
        const described = `${node.op} ${node.inputs.map(nameOf).join(', ')}${attrsPart(attrs)}`;
        fired.push(`merge ${nameOf(node)} into ${nameOf(first)} (${described})`);
        return first;
      }
      const out = withInputs(node, operands);
      original.set(out, node);
      survivors.set(key, out);
      return out;
    });

    // rewrite() does not visit leaves, so a leaf that is itself an output is merged here.
    const outputs = result.outputs.map(canonical);
    if (outputs.every((o, i) => o === graph.outputs[i])) return { graph, fired };
    return { graph: { inputs: graph.inputs, outputs }, fired };
  },
};

function withoutGroup(attrs: Attrs): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = {};
  for (const [k, v] of Object.entries(attrs)) if (k !== 'group') out[k] = v;
  return out;
}

function attrsPart(attrs: Attrs): string {
  return Object.keys(attrs).length === 0 ? '' : ' ' + printAttrs(attrs);
}
