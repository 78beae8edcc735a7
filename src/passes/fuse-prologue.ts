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
// A prologue is recomputed every time the kernel loads the operand, in the load path between the prefetch
// and the product, so it pays only where the operand is loaded a few times and its ops are cheap (measured on
// an H100, bench/prologue-cost.ts, GPU time against storing the operand): the covariance's X - mean in the
// SYRK over 512 x 20000 (X loaded 4 times) 0.269 ms against 0.292, x - mu feeding 65536 x 256 x 256 (A loaded
// twice) 0.255 against 0.276; but x - mu or relu(x) feeding 4096^3 (A loaded 32 times) 3.29 against 2.94,
// gelu(w) as the B of 4096 x 1024 x 4096 0.890 against 0.801, and tanh(x) in the SYRK 0.435 against 0.249.
// So a product takes a prologue only
// - from the tiled kernel (chooseMatmul / chooseSyrk on the shape), the direct kernel, or on the short
//   operand of the gemv kernel (below); gemv's long operand and a SYRK's direct kernel have none,
// - loading each operand element at most MAX_PROLOGUE_LOADS times (A: once per column tile, B: once per row
//   tile), a SYRK's X at most MAX_SYRK_PROLOGUE_LOADS times (once per tile of its row of the triangle),
// - of CHEAP_OPS only (no transcendental function, division or power).
// Why the SYRK's limit is higher (stop 20, prologue-cost's upto8 column: each limit at 8): since SYRKs of up
// to 512 features take the 64x64 tile (chooseSyrk), X's 512 columns are loaded 8 times; with the prologue the
// covariance of 512 x 20000 took 0.245 ms against 0.249 stored (512 x 80000 0.770 against 0.782, 384 x
// 20000 0.172 against 0.179), and no n x d temporary, while a GEMM loading A 8 times (x - mu feeding 4096 x
// 1024 x 4096) took 0.834 against 0.798 stored.
//
// gemv's short operand (a vector, or up to 8 rows: the normalised vector of a power iteration, an activation
// times a weight matrix) is loaded by every workgroup beside a stream of the long operand, the kernel's
// bound. Where the threads walk the long operand along n (the 'n' layout: v^T @ W, W stored [k, n]) each
// thread loads an element of it for 4 columns, and its prologue may hold any elementwise op (tanh(x) @ W on
// 4096 x 4096: 0.0353 ms against 0.0451 stored); along k (the 'k' layout: W @ v, x @ w.T) every column's
// threads load it again, one evaluation per multiply-add, so only CHEAP_OPS and division (W @ (v / ||v||)
// 0.0375 against 0.0423; W @ tanh(v) 0.0442 against 0.0402, gelu(x) @ w.T over 8 rows 0.0945 against
// 0.0682: stored; prologue-cost-2026-11-25-stop22). The direct kernel (at most 1024 outputs, K up to 256: a
// dispatch's floor of work) takes any op on both operands.
// Both also take prologue values (src/shaders/prologue-values.ts): whole reductions to one element and the
// one-element values computed from them, which each workgroup computes once before its loop (any op). A
// reduction joins when it reduces no more elements than the operand has (the operand itself, typically: no
// more than each workgroup loads anyway). PCA's step v = u / ||u|| then runs inside the next product C @ v,
// one dispatch an iteration instead of two.
import type { Graph } from '../ir/graph.js';
import type { Node } from '../ir/node.js';
import { OPS } from '../ir/ops.js';
import { shapesEqual, sizeOf, type Shape } from '../ir/shape.js';
import { PROLOGUE_REDUCE_OPS } from '../shaders/prologue-values.js';
import { chooseMatmul } from '../shaders/matmul.js';
import { chooseSyrk } from '../shaders/syrk.js';
import { Clusters, isElementwiseOp } from './fusion.js';
import type { Pass, PassResult } from './pass.js';

/** Times a matmul's kernel may load each element of a prologue operand (see the header). */
export const MAX_PROLOGUE_LOADS = 4;
/** Times a SYRK's kernel may load each element of a prologue operand (see the header). */
export const MAX_SYRK_PROLOGUE_LOADS = 8;
/** Ops a prologue may hold: a few instructions each (see the header). */
export const CHEAP_OPS: ReadonlySet<string> = new Set(['neg', 'abs', 'square', 'sign', 'relu', 'floor', 'ceil', 'round', 'not', 'cast', 'add', 'sub', 'mul', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'and', 'or', 'where']);

/** Ops a prologue on gemv's short operand may evaluate per load in the 'k' layout (see the header). */
export const GEMV_K_OPS: ReadonlySet<string> = new Set([...CHEAP_OPS, 'div']);

/**
 * How many times the product's kernel loads each element of its operand `i` when that kernel is the tiled
 * one (chooseMatmul / chooseSyrk on the shape), 'gemv-n' / 'gemv-k' for the short operand of the gemv kernel
 * in its n or k layout, 'direct' for a matmul's direct kernel (an empty output takes it too), else null:
 * gemv's long operand and a SYRK's direct kernel take no prologue.
 */
export function prologueLoads(product: Node, i: number): number | 'gemv-n' | 'gemv-k' | 'direct' | null {
  if (product.dtype !== 'float32' && product.dtype !== 'int32') return null;
  const batch = product.shape.slice(0, -2);
  const x = product.inputs[0].shape;
  const k = x[x.length - (product.attrs.transA === true ? 2 : 1)];
  const [m, n] = product.shape.slice(-2);
  if (product.op === 'syrk') {
    const c = chooseSyrk({ batch, n, k });
    return c.variant === 'tiled' ? Math.ceil(n / c.tile.bm) : null;
  }
  const c = chooseMatmul({ batch, m, n, k });
  if (c.variant === 'direct') return 'direct';
  if (c.variant === 'gemv') {
    // gemv's rows are the short side (planMatmul): B's columns when n < m, else A's rows. The long operand
    // is stored along k (the k layout) when it is A without transA, or B with transB.
    const swapped = n < m;
    if (i !== (swapped ? 1 : 0)) return null;
    return (swapped ? product.attrs.transA !== true : product.attrs.transB === true) ? 'gemv-k' : 'gemv-n';
  }
  if (c.variant !== 'tiled') return null;
  return i === 0 ? Math.ceil(n / c.tile.bn) : Math.ceil(m / c.tile.bm);
}

/**
 * Whether a producer of gemv's short operand or a direct kernel's operand may join its prologue as a prologue value (src/shaders/
 * prologue-values.ts): a reduction of a float32 or int32 tensor to one element, with an identity and a plain
 * combine, over no more elements than the operand has (each workgroup walks it before its loop, at most what
 * it loads of the operand itself).
 */
function valueReduction(p: Node, operand: Node): boolean {
  const x = p.inputs[0];
  return (
    (PROLOGUE_REDUCE_OPS as readonly string[]).includes(p.op) &&
    sizeOf(p.shape) === 1 &&
    (x.dtype === 'float32' || x.dtype === 'int32') &&
    sizeOf(x.shape) <= sizeOf(operand.shape)
  );
}

/** maxLoads: MAX_PROLOGUE_LOADS (MAX_SYRK_PROLOGUE_LOADS for a SYRK) unless a measurement asks otherwise (bench/prologue-cost.ts). */
export function fusePrologues(graph: Graph, maxBuffers?: number, maxLoads?: number): PassResult {
  const c = new Clusters(graph, maxBuffers);
  const fired: string[] = [];
  for (const m of c.order) {
    if (m.op !== 'matmul' && m.op !== 'syrk') continue;
    const candidates: Node[] = [];
    // Operands of gemv's short side (by layout) and of the direct kernel: prologue values, and the ops of the kernel (see the header).
    const smallOperands = new Map<Node, 'gemv-n' | 'gemv-k' | 'direct'>();
    for (const x of new Set(m.inputs)) {
      if (!isElementwiseOp(x) || c.groupOf.has(x)) continue;
      // An operand used twice (x @ x) is loaded as both: the larger count decides.
      const loads = m.inputs.flatMap((y, j) => (y === x ? [prologueLoads(m, j)] : []));
      if (loads.includes(null)) {
        fired.push(`keep ${c.name(x)}: ${c.name(m)}'s kernel takes no prologue on it (gemv's long operand, a SYRK's direct kernel)`);
        continue;
      }
      const kind = loads[0];
      if (typeof kind === 'string' && loads.every((l) => l === kind)) {
        smallOperands.set(x, kind);
        candidates.push(x);
        continue;
      }
      const most = Math.max(...(loads as number[]));
      const limit = maxLoads ?? (m.op === 'syrk' ? MAX_SYRK_PROLOGUE_LOADS : MAX_PROLOGUE_LOADS);
      if (most > limit) {
        fired.push(`keep ${c.name(x)}: ${c.name(m)}'s kernel would compute it ${most} times per element (at most ${limit})`);
        continue;
      }
      candidates.push(x);
    }
    if (candidates.length === 0) continue;
    const existing = c.groupOf.get(m);
    const group = new Set(existing === undefined ? [m] : c.members.get(existing)!);
    const added: Node[] = [];
    // Depth first from each operand: a producer joins when its every use is in the group and it has the
    // shape of the consumer that reached it (an operand: its own). Into gemv's short operand and the direct
    // kernel's operands also one-element values and whole reductions (prologue values), whose input chain
    // then has the reduced tensor's shape.
    // perLoad: evaluated at every load of the operand (not under a prologue value's reduction). Those go
    // first, so that a producer both loads and a reduction read is checked as evaluated per load.
    type Small = { operand: Node; layout: 'gemv-n' | 'gemv-k' | 'direct' };
    type Entry = { p: Node; shape: Shape; small: Small | null; perLoad: boolean };
    const stack: Entry[] = candidates.map((p) => {
      const layout = smallOperands.get(p);
      return { p, shape: p.shape, small: layout ? { operand: p, layout } : null, perLoad: true };
    });
    const underValues: Entry[] = [];
    // Refused as evaluated per load: a member reads it as loaded, so no reduction may take it in either.
    const refused = new Set<Node>();
    while (stack.length > 0 || underValues.length > 0) {
      const { p, shape, small, perLoad } = stack.length > 0 ? stack.pop()! : underValues.pop()!;
      if (group.has(p) || refused.has(p) || c.groupOf.has(p) || c.outputs.has(p)) continue;
      const reduction = small !== null && OPS[p.op].kind === 'reduce' && valueReduction(p, small.operand);
      if (!reduction && (!isElementwiseOp(p) || !(shapesEqual(p.shape, shape) || (small !== null && sizeOf(p.shape) === 1)))) continue;
      const allowed = small === null ? CHEAP_OPS : small.layout === 'gemv-k' && perLoad && sizeOf(p.shape) > 1 ? GEMV_K_OPS : null;
      if (!reduction && allowed !== null && !allowed.has(p.op)) {
        fired.push(`stop ${c.name(m)}'s prologue at ${c.name(p)} ${p.op}: ${small ? "evaluated per multiply-add in gemv's k layout" : 'not a cheap op'}, it is stored instead`);
        refused.add(p);
        continue;
      }
      if (!c.users.get(p)!.every((u) => group.has(u))) continue;
      if (!c.convexWith(p, group)) continue;
      if (c.bindings(group, p) > c.maxBuffers) {
        fired.push(`stop ${c.name(m)}'s prologue at ${c.name(p)}: the kernel would bind more than ${c.maxBuffers} buffers`);
        continue;
      }
      group.add(p);
      added.push(p);
      const next = p.inputs.map((i) => ({ p: i, shape: reduction ? i.shape : p.shape, small, perLoad: perLoad && !reduction }));
      (perLoad && !reduction ? stack : underValues).push(...next);
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
