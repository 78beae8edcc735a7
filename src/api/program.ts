// Turns the lazy DAG behind some tensors into a data-free program: a Graph whose `input` leaves stand for
// every value that already has storage (user data and results of earlier evaluations), plus the storages
// bound to those leaves. Realized values enter as leaves, so evaluating twice never recomputes them.
import { WgfuseError } from '../ir/errors.js';
import { makeGraph, type Graph } from '../ir/graph.js';
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
  const bound = new Map<Node, Storage>();

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
    const storage = realized.get(node)?.storage;
    if (storage) {
      rebuilt.set(node, leafOf(node, storage));
      stack.pop();
      continue;
    }
    if (node.op === 'input') {
      throw new WgfuseError(`${what}: an input ${node.dtype}[${node.shape.join(',')}] has no data (its tensor was disposed)`);
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
