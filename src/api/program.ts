// Turns the lazy DAG behind some tensors into a data-free program: a Graph whose `input` leaves stand for
// every value that already has storage (user data and results of earlier evaluations), plus the storages
// bound to those leaves. Realized values enter as leaves, so evaluating twice never recomputes them.
import { WgfuseError } from '../ir/errors.js';
import { graphWithOrder, type Graph } from '../ir/graph.js';
import { makeNode, type Node } from '../ir/node.js';
import { DeviceLostError } from '../runtime/errors.js';
import type { Storage } from '../runtime/storage.js';
import { residencyProblem } from './context.js';

/**
 * Storage of every node that has been computed or was given data. An entry holds one reference per tensor
 * that realized the node (two tensors can stand for one node, e.g. a cast to the same dtype). A lazy tensor
 * built from a value keeps it alive through the node after the value's own tensor is gone; when the node
 * is collected, the entry's references go with it.
 */
interface Entry {
  readonly storage: Storage;
  owners: number;
}

const realized = new WeakMap<Node, Entry>();
const nodeFinalizer = new FinalizationRegistry<Entry>((e) => {
  for (; e.owners > 0; e.owners--) e.storage.release();
});

export function setRealized(node: Node, storage: Storage): void {
  const entry = realized.get(node);
  if (entry) {
    if (entry.storage !== storage) throw new WgfuseError('internal: a node was realized with two different storages');
    entry.owners++;
    storage.retain();
    return;
  }
  const created: Entry = { storage: storage.retain(), owners: 1 };
  realized.set(node, created);
  nodeFinalizer.register(node, created, node);
  track(storage);
}

/**
 * Every storage a tensor has adopted, weakly: wg.init() walks them to copy values whose only copy is on the
 * device it is about to replace (see context.ts). Dead references are pruned as the set grows.
 */
const tracked = new Set<WeakRef<Storage>>();
let pruneAt = 1024;

function track(storage: Storage): void {
  tracked.add(new WeakRef(storage));
  if (tracked.size < pruneAt) return;
  for (const ref of tracked) {
    const s = ref.deref();
    if (!s || s.released) tracked.delete(ref);
  }
  pruneAt = Math.max(1024, 2 * tracked.size);
}

/** The adopted storages that still hold a value. */
export function liveStorages(): Storage[] {
  const out: Storage[] = [];
  for (const ref of tracked) {
    const s = ref.deref();
    if (s && !s.released) out.push(s);
    else tracked.delete(ref);
  }
  return out;
}

/** Drops one owner's reference; the node stops being realized when the last owner is gone. */
export function forgetRealized(node: Node): void {
  const entry = realized.get(node);
  if (!entry) return;
  entry.owners--;
  entry.storage.release();
  if (entry.owners === 0) {
    realized.delete(node);
    nodeFinalizer.unregister(node);
  }
}

export function storageOf(node: Node): Storage | undefined {
  return realized.get(node)?.storage;
}

export interface Program {
  readonly graph: Graph;
  /** Storages bound to graph.inputs, in order. */
  readonly args: readonly Storage[];
}

/** `what` names the user's call (evaluate, data, compile, ...) in the errors. */
export function extractProgram(outputs: readonly Node[], what = 'evaluate'): Program {
  const rebuilt = new Map<Node, Node>();
  const leafFor = new Map<Storage, Node>();
  const args: Storage[] = [];
  // The rebuilt graph's nodes in the order topoOrder(graph.outputs) gives (see graphWithOrder): the walk below
  // is that depth-first post-order, over the user's nodes instead of the rebuilt ones. The two walks agree
  // node for node because only leaves merge (two nodes realized by one storage become one leaf, emitted
  // where the first is met; the second, met later, has nothing below it to visit); every other rebuilt node
  // stands for exactly one node walked.
  const order: Node[] = [];

  const leafOf = (node: Node, storage: Storage): Node => {
    if (storage.released) {
      throw new WgfuseError(`${what}: a tensor this program reads (${node.dtype}[${node.shape.join(',')}]) was disposed`);
    }
    const problem = residencyProblem(storage);
    if (problem) throw new DeviceLostError(`${what}: a tensor this program reads (${node.dtype}[${node.shape.join(',')}]) ${problem}`);
    // One leaf per storage: two views of one realized value are one argument.
    let leaf = leafFor.get(storage);
    if (!leaf) {
      leaf = node.op === 'input' ? node : makeNode('input', [], {}, { dtype: node.dtype, shape: node.shape });
      leafFor.set(storage, leaf);
      order.push(leaf);
      args.push(storage);
    }
    return leaf;
  };

  // Iterative post-order so very deep lazy chains do not overflow the stack. A node is looked at once, when
  // it is first met: a value with storage becomes a leaf at once, anything else is walked.
  const stack: Node[] = [];
  const next: number[] = [];
  const enter = (node: Node): void => {
    const storage = realized.get(node)?.storage;
    if (storage) {
      rebuilt.set(node, leafOf(node, storage));
      return;
    }
    if (node.op === 'input') {
      throw new WgfuseError(`${what}: an input ${node.dtype}[${node.shape.join(',')}] has no data (its tensor was disposed)`);
    }
    stack.push(node);
    next.push(0);
  };
  for (const root of outputs) {
    if (!rebuilt.has(root)) enter(root);
    while (stack.length > 0) {
      const top = stack.length - 1;
      const node = stack[top];
      const inputs = node.inputs;
      if (next[top] < inputs.length) {
        const child = inputs[next[top]++];
        if (!rebuilt.has(child)) enter(child);
        continue;
      }
      stack.pop();
      next.pop();
      let same = true;
      for (let i = 0; i < inputs.length && same; i++) same = rebuilt.get(inputs[i]) === inputs[i];
      const out = same ? node : makeNode(node.op, inputs.map((i) => rebuilt.get(i)!), { ...node.attrs }, typeOf(node));
      rebuilt.set(node, out);
      order.push(out);
    }
  }

  const graph = graphWithOrder(
    outputs.map((o) => rebuilt.get(o)!),
    order,
  );
  return { graph, args };
}

function typeOf(node: Node) {
  return { dtype: node.dtype, shape: node.shape };
}
