// A graph is the set of nodes reachable from its outputs. Its inputs are the `input` leaves in topological
// order: that order is the binding order of arguments for every executor, and the order the printer numbers.
import type { Node } from './node.js';

export interface Graph {
  /** The `input` leaves, in topological order; arguments bind to them by position. */
  readonly inputs: readonly Node[];
  readonly outputs: readonly Node[];
}

const orders = new WeakMap<Graph, readonly Node[]>();

export function makeGraph(outputs: readonly Node[]): Graph {
  return graphWithOrder(outputs, topoOrder(outputs));
}

/**
 * The graph of `outputs` when the caller has its topological order already: `order` must be exactly
 * topoOrder(outputs) (extractProgram builds it during its own walk; a test checks the two agree). The order
 * is kept for orderOf: the plan-cache key, the passes and the printer all need it next.
 */
export function graphWithOrder(outputs: readonly Node[], order: readonly Node[]): Graph {
  const frozen = Object.isFrozen(order) ? order : Object.freeze(order);
  const graph: Graph = { inputs: frozen.filter((n) => n.op === 'input'), outputs: [...outputs] };
  orders.set(graph, frozen);
  return graph;
}

/**
 * topoOrder(graph.outputs), computed once per graph object: graphs are immutable, and the passes, the
 * pass manager, the printer and the lowering all walk the same graph in turn.
 */
export function orderOf(graph: Graph): readonly Node[] {
  let order = orders.get(graph);
  if (!order) {
    order = Object.freeze(topoOrder(graph.outputs));
    orders.set(graph, order);
  }
  return order;
}

/**
 * Deterministic topological order: depth-first post-order from the outputs in order, operands left to right.
 * Iterative, so a chain of 100k nodes does not overflow the JS stack.
 */
export function topoOrder(outputs: readonly Node[]): Node[] {
  const order: Node[] = [];
  const done = new Set<Node>();
  const stack: { node: Node; next: number }[] = [];
  for (const root of outputs) {
    if (done.has(root)) continue;
    stack.push({ node: root, next: 0 });
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      if (top.next < top.node.inputs.length) {
        const child = top.node.inputs[top.next++];
        if (!done.has(child)) stack.push({ node: child, next: 0 });
        continue;
      }
      stack.pop();
      if (!done.has(top.node)) {
        done.add(top.node);
        order.push(top.node);
      }
    }
  }
  return order;
}

/** For each node, the nodes that read it (in topological order, one entry per operand use). */
export function usersOf(order: readonly Node[]): Map<Node, Node[]> {
  const users = new Map<Node, Node[]>();
  for (const n of order) users.set(n, []);
  for (const n of order) for (const i of n.inputs) users.get(i)!.push(n);
  return users;
}
