// dce: dead-code elimination, which in this IR has nothing to eliminate.
//
// A graph is its outputs plus the nodes reachable from them (src/ir/graph.ts); nodes are immutable and
// know their operands, not their users. A value that a rewrite stops referencing is simply no longer
// reachable: every walk (topoOrder, the printer, the verifier, the executors, the lowering) starts from the
// outputs and never sees it, and the garbage collector frees it. So dead code is dropped by construction,
// at the moment a rewrite drops the last reference, and there is no node set a DCE pass could prune.
// What is *not* dead: two outputs that are the same node are two results and stay two outputs; duplicate
// work (two nodes computing the same thing) is cse's business, not dce's.
//
// The one place a graph could name something unreachable is graph.inputs: an `input` leaf kept there after
// every use of it was rewritten away. It must stay: arguments bind to graph.inputs by position, and the
// pass manager forbids changing them. verifyGraph rejects such a graph; this pass reports it.
//
// So dce is kept as a named pipeline step that changes nothing (it returns the very graph it was given)
// and reports what it saw: `dead code is dropped by construction: N nodes reachable from M outputs`.
import { orderOf, type Graph } from '../ir/graph.js';
import type { Pass, PassResult } from './pass.js';

export const dce: Pass = {
  name: 'dce',
  description: 'no-op: unreachable nodes are dropped by construction (a graph is what its outputs reach); reports the reachable count',
  run(graph: Graph): PassResult {
    const reachable = orderOf(graph);
    const live = new Set(reachable);
    const fired = [`dead code is dropped by construction: ${reachable.length} nodes reachable from ${graph.outputs.length} output(s)`];
    const stale = graph.inputs.filter((n) => !live.has(n)).length;
    if (stale > 0) fired.push(`kept ${stale} unreachable input(s) in graph.inputs: arguments bind to them by position`);
    return { graph, fired };
  },
};
