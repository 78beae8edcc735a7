// fuse-epilogue: the chain of elementwise consumers of a matmul (bias, scale, activation, residual, clamp)
// runs inside the matmul kernel's store. The chain follows single uses: each link must be the only consumer
// of the previous one and have the matmul's output shape (its other operands are loaded per output
// element, broadcast as needed). A matmul whose result has another consumer, or is a graph output, keeps
// its plain store: the kernel writes one result.
import type { Graph } from '../ir/graph.js';
import { shapesEqual } from '../ir/shape.js';
import { Clusters, isElementwiseOp } from './fusion.js';
import type { Pass, PassResult } from './pass.js';

export function fuseEpilogues(graph: Graph, maxBuffers?: number): PassResult {
  const c = new Clusters(graph, maxBuffers);
  const fired: string[] = [];
  for (const m of c.order) {
    if ((m.op !== 'matmul' && m.op !== 'syrk') || c.groupOf.has(m)) continue;
    const chain = new Set([m]);
    let last = m;
    for (;;) {
      const users = c.users.get(last)!;
      if (users.length !== 1 || c.outputs.has(last)) {
        if (last === m && users.length + (c.outputs.has(m) ? 1 : 0) > 1) fired.push(`refuse ${c.name(m)}: its result has ${users.length + (c.outputs.has(m) ? 1 : 0)} uses, so it is stored as is`);
        break;
      }
      const next = users[0];
      if (!isElementwiseOp(next) || c.groupOf.has(next) || !shapesEqual(next.shape, m.shape)) break;
      // An operand that only appears on one side of the link (next uses `last` twice) is fine; a repeated use
      // of `last` makes users.length 2 and stops above.
      if (!c.convexWith(next, chain)) break;
      if (c.bindings(chain, next) > c.maxBuffers) {
        fired.push(`stop ${c.name(m)} at ${c.name(next)}: the kernel would bind more than ${c.maxBuffers} buffers`);
        break;
      }
      chain.add(next);
      last = next;
    }
    if (chain.size === 1) continue;
    const g = c.newGroup();
    for (const n of chain) c.add(g, n);
    fired.push(`epilogue of ${c.name(m)}: ${[...chain].slice(1).map((n) => `${c.name(n)} ${n.op}`).join(', ')}`);
  }
  return { graph: fired.some((f) => f.startsWith('epilogue')) ? c.apply() : graph, fired };
}

export const fuseEpilogue: Pass = {
  name: 'fuse-epilogue',
  description: 'run the elementwise chain after a matmul (bias, scale, activation, residual, clamp) in its store',
  run: (graph) => fuseEpilogues(graph),
};
