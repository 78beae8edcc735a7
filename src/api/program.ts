// Turns the lazy DAG behind some tensors into a data-free program: a Graph whose `input` leaves stand for
// every value that already has storage (user data and results of earlier evaluations), plus the storages
// bound to those leaves. Realized values enter as leaves, so evaluating twice never recomputes them.
import { WgfuseError } from '../ir/errors.js';
import { makeGraph, type Graph } from '../ir/graph.js';
import { makeNode, type Node } from '../ir/node.js';
import type { Storage } from '../runtime/storage.js';

/** Storage of every node that has been computed or was given data, while a live tensor holds it. */
const realized = new WeakMap<Node, Storage>();

export function setRealized(node: Node, storage: Storage): void {
  realized.set(node, storage);
}

export function forgetRealized(node: Node): void {
  realized.delete(node);
}

export function storageOf(node: Node): Storage | undefined {
  return realized.get(node);
}

export interface Program {
  readonly graph: Graph;
  /** Storages bound to graph.inputs, in order. */
  readonly args: readonly Storage[];
}

export function extractProgram(outputs: readonly Node[]): Program {
  const rebuilt = new Map<Node, Node>();
  const leafFor = new Map<Storage, Node>();
  const bound = new Map<Node, Storage>();

  const leafOf = (node: Node, storage: Storage): Node => {
    if (storage.released) {
      throw new WgfuseError(`evaluate: a tensor this program reads (${node.dtype}[${node.shape.join(',')}]) was disposed`);
    }
    // One leaf per storage: two views of one realized value are one argument.
    let leaf = leafFor.get(storage);
    if (!leaf) {
      leaf = node.op === 'input' ? node : makeNode('input', [], {}, { dtype: node.dtype, shape: node.shape });
      leafFor.set(storage, leaf);
      bound.set(leaf, storage);
    }
    return leaf;
  };

  // Iterative post-order so very deep lazy chains do not overflow the stack.
  const stack: { node: Node; next: number }[] = outputs.map((node) => ({ node, next: 0 })).reverse();
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const { node } = top;
    if (rebuilt.has(node)) {
      stack.pop();
      continue;
    }
    const storage = realized.get(node);
    if (storage) {
      rebuilt.set(node, leafOf(node, storage));
      stack.pop();
      continue;
    }
    if (node.op === 'input') {
      throw new WgfuseError(`evaluate: an input ${node.dtype}[${node.shape.join(',')}] has no data (its tensor was disposed)`);
    }
    if (top.next < node.inputs.length) {
      stack.push({ node: node.inputs[top.next++], next: 0 });
      continue;
    }
    stack.pop();
    const inputs = node.inputs.map((i) => rebuilt.get(i)!);
    const same = inputs.every((n, i) => n === node.inputs[i]);
    rebuilt.set(node, same ? node : makeNode(node.op, inputs, { ...node.attrs }, typeOf(node)));
  }

  const graph = makeGraph(outputs.map((o) => rebuilt.get(o)!));
  return { graph, args: graph.inputs.map((leaf) => bound.get(leaf)!) };
}

function typeOf(node: Node) {
  return { dtype: node.dtype, shape: node.shape };
}
