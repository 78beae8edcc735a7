// The one rewriting mechanism passes share: visit nodes bottom-up with their already rewritten operands and
// return a replacement. Unchanged subgraphs keep their node objects, so a pass that fires nowhere returns
// the very same graph, and a graph's inputs never change (arguments bind to them by position).
import { produce, type Draft } from 'immer';
import { orderOf, type Graph } from '../ir/graph.js';
import { VerifyError } from '../ir/errors.js';
import { remakeNode, type Node } from '../ir/node.js';
import type { AttrValue, Attrs } from '../ir/ops.js';
import { OPS } from '../ir/ops.js';

export type Visitor = (node: Node, inputs: readonly Node[]) => Node;

export function rewrite(graph: Graph, visit: Visitor): Graph {
  const replaced = new Map<Node, Node>();
  for (const node of orderOf(graph)) {
    if (OPS[node.op].kind === 'leaf') {
      replaced.set(node, node);
      continue;
    }
    // The node's own operand list when none changed: most nodes of most passes, and no array to allocate.
    let inputs = node.inputs;
    for (let k = 0; k < node.inputs.length; k++) {
      const r = replaced.get(node.inputs[k])!;
      if (r !== node.inputs[k]) {
        if (inputs === node.inputs) inputs = node.inputs.slice(0, k);
        (inputs as Node[]).push(r);
      } else if (inputs !== node.inputs) (inputs as Node[]).push(r);
    }
    replaced.set(node, visit(node, inputs));
  }
  const outputs = graph.outputs.map((o) => replaced.get(o)!);
  if (outputs.every((o, i) => o === graph.outputs[i])) return graph;
  return { inputs: graph.inputs, outputs };
}

/** The node with new operands (the same node object when nothing changed). */
export function withInputs(node: Node, inputs: readonly Node[]): Node {
  if (inputs === node.inputs) return node;
  if (inputs.length === node.inputs.length && inputs.every((n, i) => n === node.inputs[i])) return node;
  return remakeNode(node, inputs, node.attrs, true);
}

/** The node with attributes changed by an immer recipe (e.g. `d => { d.transB = true }`). */
export function withAttrs(node: Node, inputs: readonly Node[], recipe: (draft: Draft<Record<string, AttrValue>>) => void): Node {
  const attrs = produce(node.attrs as Record<string, AttrValue>, recipe) as Attrs;
  return remakeNode(node, inputs, attrs, onlyGroupChanged(node.attrs, attrs));
}

/**
 * The node in fusion group `group` (none when undefined), with new operands. Fusion passes annotate every
 * grouped node and rebuild everything downstream, so this one-key change skips immer's draft (a few
 * microseconds a node, a third of a fusion pass on a 1,000-node graph).
 */
export function withGroup(node: Node, inputs: readonly Node[], group: number | undefined): Node {
  if (group !== undefined && !Number.isInteger(group)) throw new VerifyError(`${node.op}: attribute 'group' must be int, got ${JSON.stringify(group)}`);
  return remakeNode(node, inputs, groupAttrs(node.attrs, group), true, true);
}

/**
 * `attrs` with `group` set (or removed when undefined), still canonical: keys sorted as canonicalAttrs sorts
 * them, frozen. The node's attributes were checked when it was made and withGroup checked the group, so
 * nothing needs checking again.
 */
function groupAttrs(attrs: Attrs, group: number | undefined): Attrs {
  if (attrs.group === group) return attrs;
  const out: Record<string, AttrValue> = {};
  let placed = group === undefined;
  for (const k of Object.keys(attrs)) {
    if (k === 'group') continue;
    if (!placed && k > 'group') {
      out.group = group!;
      placed = true;
    }
    out[k] = attrs[k];
  }
  if (!placed) out.group = group!;
  return Object.freeze(out) as Attrs;
}

/** True when two attribute sets differ at most in `group`, which no type inference reads. */
function onlyGroupChanged(before: Attrs, after: Attrs): boolean {
  if (before === after) return true;
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  for (const k of keys) if (k !== 'group' && before[k] !== after[k]) return false;
  return true;
}
