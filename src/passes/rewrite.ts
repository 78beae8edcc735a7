// The one rewriting mechanism passes share: visit nodes bottom-up with their already rewritten operands and
// return a replacement. Unchanged subgraphs keep their node objects, so a pass that fires nowhere returns
// the very same graph, and a graph's inputs never change (arguments bind to them by position).
import { produce, type Draft } from 'immer';
import { topoOrder, type Graph } from '../ir/graph.js';
import { makeNode, type Node } from '../ir/node.js';
import type { AttrValue, Attrs } from '../ir/ops.js';
import { OPS } from '../ir/ops.js';

export type Visitor = (node: Node, inputs: readonly Node[]) => Node;

export function rewrite(graph: Graph, visit: Visitor): Graph {
  const replaced = new Map<Node, Node>();
  for (const node of topoOrder(graph.outputs)) {
    const inputs = node.inputs.map((i) => replaced.get(i)!);
    replaced.set(node, OPS[node.op].kind === 'leaf' ? node : visit(node, inputs));
  }
  const outputs = graph.outputs.map((o) => replaced.get(o)!);
  if (outputs.every((o, i) => o === graph.outputs[i])) return graph;
  return { inputs: graph.inputs, outputs };
}

/** The node with new operands (the same node object when nothing changed). */
export function withInputs(node: Node, inputs: readonly Node[]): Node {
  if (inputs.length === node.inputs.length && inputs.every((n, i) => n === node.inputs[i])) return node;
  return makeNode(node.op, inputs, { ...node.attrs } as Record<string, AttrValue>);
}

/** The node with attributes changed by an immer recipe (e.g. `d => { d.transB = true }`). */
export function withAttrs(node: Node, inputs: readonly Node[], recipe: (draft: Draft<Record<string, AttrValue>>) => void): Node {
  const attrs = produce(node.attrs as Record<string, AttrValue>, recipe) as Attrs;
  return makeNode(node.op, inputs, { ...attrs } as Record<string, AttrValue>);
}
