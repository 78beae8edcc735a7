// fuse-prologue: the elementwise producers of a matmul's (or syrk's) operand run inside the product kernel, as
// it loads the operand's tiles, so the operand is never written out and read back. The covariance of a
// centred X = data - mean is one SYRK reading `data` and `mean` (src/shaders/prologue.ts), instead of a
// kernel writing n x d centred values for the product to read.
//
// A producer joins when it is elementwise, has the operand's shape, is used by nothing outside the product's
// group (and is no graph output): its value then exists only inside the kernel. From the operand, the chain
// grows through producers of the same shape that only it uses; smaller, broadcast operands (a mean, a
// scale) stay loads, read once per tile element rather than recomputed. A product joins its epilogue's group
// when it has one (run after fuse-epilogue).
//
// Only products that take the tiled kernel are fused (chooseMatmul and chooseSyrk from the shape): its tile
// loads amortise the recomputation (each A element is loaded once per column tile, and feeds a whole row of
// the tile); the direct and gemv kernels have no prologue.
import type { Graph } from '../ir/graph.js';
import type { Node } from '../ir/node.js';
import { shapesEqual, type Shape } from '../ir/shape.js';
import { chooseMatmul } from '../shaders/matmul.js';
import { chooseSyrk } from '../shaders/syrk.js';
import { Clusters, isElementwiseOp } from './fusion.js';
import type { Pass, PassResult } from './pass.js';

/** Whether the product's kernel (from its shape) is the tiled one, the only one with operand prologues. */
export function takesPrologue(product: Node): boolean {
  if (product.dtype !== 'float32' && product.dtype !== 'int32') return false;
  const batch = product.shape.slice(0, -2);
  const x = product.inputs[0].shape;
  const k = x[x.length - (product.attrs.transA === true ? 2 : 1)];
  // (An empty output takes the direct kernel.)
  if (product.op === 'syrk') return chooseSyrk({ batch, n: product.shape[product.shape.length - 1], k }).variant === 'tiled';
  const [m, n] = product.shape.slice(-2);
  return chooseMatmul({ batch, m, n, k }).variant === 'tiled';
}

export function fusePrologues(graph: Graph, maxBuffers?: number): PassResult {
  const c = new Clusters(graph, maxBuffers);
  const fired: string[] = [];
  for (const m of c.order) {
    if (m.op !== 'matmul' && m.op !== 'syrk') continue;
    const candidates = [...new Set(m.inputs)].filter((x) => isElementwiseOp(x) && !c.groupOf.has(x));
    if (candidates.length === 0) continue;
    if (!takesPrologue(m)) {
      fired.push(`keep ${c.name(m)}'s operands: its kernel is not the tiled one (no prologue)`);
      continue;
    }
    const existing = c.groupOf.get(m);
    const group = new Set(existing === undefined ? [m] : c.members.get(existing)!);
    const added: Node[] = [];
    // Depth first from each operand: a producer joins when its every use is in the group and it has the
    // shape of the consumer that reached it (an operand: its own).
    const stack: { p: Node; shape: Shape }[] = candidates.map((p) => ({ p, shape: p.shape }));
    while (stack.length > 0) {
      const { p, shape } = stack.pop()!;
      if (group.has(p) || !isElementwiseOp(p) || c.groupOf.has(p) || c.outputs.has(p) || !shapesEqual(p.shape, shape)) continue;
      if (!c.users.get(p)!.every((u) => group.has(u))) continue;
      if (!c.convexWith(p, group)) continue;
      if (c.bindings(group, p) > c.maxBuffers) {
        fired.push(`stop ${c.name(m)}'s prologue at ${c.name(p)}: the kernel would bind more than ${c.maxBuffers} buffers`);
        continue;
      }
      group.add(p);
      added.push(p);
      stack.push(...p.inputs.map((i) => ({ p: i, shape: p.shape })));
    }
    if (added.length === 0) continue;
    const g = existing ?? c.newGroup();
    if (existing === undefined) c.add(g, m);
    for (const n of added) c.add(g, n);
    const order = [...added].sort((a, b) => c.position.get(a)! - c.position.get(b)!);
    fired.push(`prologue of ${c.name(m)}: ${order.map((n) => `${c.name(n)} ${n.op}`).join(', ')}`);
  }
  return { graph: fired.some((f) => f.startsWith('prologue')) ? c.apply() : graph, fired };
}

export const fusePrologue: Pass = {
  name: 'fuse-prologue',
  description: "compute a matmul's operand from its elementwise producers as the kernel loads it (centring, scaling, activation)",
  run: (graph) => fusePrologues(graph),
};
