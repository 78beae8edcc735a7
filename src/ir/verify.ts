// Checks the IR invariants that makeNode and makeGraph establish, for graphs that may have been built by hand
// (or by a buggy pass). Each error names the offending node in the text format, numbered as printGraph would.
import { isDType } from './dtype.js';
import { VerifyError, WgfuseError } from './errors.js';
import type { Graph } from './graph.js';
import { makeNode, type Node } from './node.js';
import { isOpName, OPS } from './ops.js';
import { describeNode, numberValues, printAttrs, printNode, printType } from './printer.js';
import { fmtShape, MAX_ELEMENTS, shapesEqual, sizeOf } from './shape.js';

/** Kernels index elements with 32-bit integers, so no tensor may hold more than 2^31-1 elements. */
export { MAX_ELEMENTS };

export function verifyGraph(graph: Graph): void {
  const order = acyclicOrder(graph.outputs);
  const names = numberValues(order);
  for (const node of order) verifyNode(node, names);
  verifyInputs(graph, order, names);
}

/**
 * topoOrder's exact order, but stopping at a cycle (topoOrder would loop on one). This is an iterative DFS
 * rather than graphlib's alg.isAcyclic/findCycles: those recurse once per node of a path and overflow the
 * JS stack on chains of a few thousand nodes, which real graphs reach.
 */
function acyclicOrder(outputs: readonly Node[]): Node[] {
  const order: Node[] = [];
  const done = new Set<Node>();
  const onPath = new Set<Node>();
  const stack: { node: Node; next: number }[] = [];
  for (const root of outputs) {
    if (done.has(root)) continue;
    stack.push({ node: root, next: 0 });
    onPath.add(root);
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      if (top.next < top.node.inputs.length) {
        const child = top.node.inputs[top.next++];
        if (onPath.has(child)) throw cycleError(stack.map((f) => f.node), child);
        if (!done.has(child)) {
          stack.push({ node: child, next: 0 });
          onPath.add(child);
        }
        continue;
      }
      stack.pop();
      onPath.delete(top.node);
      done.add(top.node);
      order.push(top.node);
    }
  }
  return order;
}

/** `path` runs from an output down through operands; its last node reads `back`, which is on the path. */
function cycleError(path: readonly Node[], back: Node): VerifyError {
  const cycle = path.slice(path.indexOf(back));
  const lines = cycle.map((n) => `  ${describeNode(n)}  (node id ${n.id})`);
  return new VerifyError(`the graph has a cycle of ${cycle.length} node(s), each reading the next and the last the first:\n${lines.join('\n')}`);
}

function verifyNode(node: Node, names: ReadonlyMap<Node, number>): void {
  const fail = (problem: string) => new VerifyError(`${problem}\n  at ${printNode(node, names)}`);
  if (!isOpName(node.op)) throw fail(`unknown op '${String(node.op)}'`);
  if (!isDType(node.dtype)) throw fail(`unknown dtype '${String(node.dtype)}'`);
  if (!node.shape.every((d) => Number.isInteger(d) && d >= 0)) throw fail(`shape ${fmtShape(node.shape)} has an extent that is not a non-negative integer`);

  // makeNode is the reference for arity, attribute schemas and type inference: rebuild the node and compare.
  const leaf = OPS[node.op].kind === 'leaf';
  let rebuilt: Node;
  try {
    rebuilt = makeNode(node.op, node.inputs, { ...node.attrs }, leaf ? { dtype: node.dtype, shape: node.shape } : undefined);
  } catch (e) {
    if (e instanceof WgfuseError) throw fail(e.message);
    throw e;
  }
  // The printed form is what the plan cache keys on, so "canonical" means "prints as makeNode's attrs do".
  if (printAttrs(node.attrs) !== printAttrs(rebuilt.attrs)) {
    throw fail(`attributes ${printAttrs(node.attrs)} are not canonical (keys sorted, false flags dropped): expected ${printAttrs(rebuilt.attrs)}`);
  }
  if (node.dtype !== rebuilt.dtype || !shapesEqual(node.shape, rebuilt.shape)) {
    throw fail(`${node.op}: stored type ${printType(node)} differs from ${printType(rebuilt)} inferred from the operands`);
  }
  const size = sizeOf(node.shape);
  if (size > MAX_ELEMENTS) {
    throw fail(`${printType(node)} has ${size} elements, over the limit of 2^31-1 = ${MAX_ELEMENTS} that 32-bit kernel indexing can address`);
  }
}

/** graph.inputs is the argument binding order, so it must be exactly the `input` leaves in topological order. */
function verifyInputs(graph: Graph, order: readonly Node[], names: ReadonlyMap<Node, number>): void {
  const expected = order.filter((n) => n.op === 'input');
  const same = graph.inputs.length === expected.length && graph.inputs.every((n, i) => n === expected[i]);
  if (same) return;
  const list = (nodes: readonly Node[]) => `[${nodes.map((n) => `%${names.get(n) ?? '?'}`).join(', ')}]`;
  const lines = expected.map((n) => `  ${printNode(n, names)}`);
  throw new VerifyError(
    `graph.inputs ${list(graph.inputs)} must be the input leaves in topological order, ${list(expected)} (%? is not reachable from the outputs):\n${lines.join('\n')}`,
  );
}
