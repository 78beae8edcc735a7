// fuse-reduction: a reduction and the elementwise work around it become one row kernel. One workgroup (or
// thread) owns each output row, so it can run several reductions over the same row in sequence and then
// map the row: softmax (max, sum of exp, divide), layerNorm (mean, variance, normalise, scale, shift) and
// variance are one kernel each. A group has one input space I (the reductions' input shape) and one set
// of reduced axes; its members are:
// - reductions over I and those axes;
// - I-space elementwise nodes (shape I): producers of a reduction or values broadcast back from one;
// - O-space elementwise nodes: results of the reductions (keepdims or not) and what is computed from them
//   per row (mean = sum / n, rsqrt(var + eps)).
// A producer joins only when all its uses are in the group; a consumer joins when it fits a space, and is
// stored if it also has uses outside. Convexity and the binding limit are checked on every join.
import type { Graph } from '../ir/graph.js';
import type { Node } from '../ir/node.js';
import { normalizeAxes, shapesEqual, type Shape } from '../ir/shape.js';
import { Clusters, isElementwiseOp } from './fusion.js';
import type { Pass, PassResult } from './pass.js';

interface RowSpace {
  readonly input: Shape;
  readonly axes: readonly number[];
  /** The reduced result with keepdims, and without. */
  readonly keep: Shape;
  readonly drop: Shape;
}

function isReduce(n: Node): boolean {
  return ['sum', 'prod', 'max', 'min', 'argmax', 'argmin'].includes(n.op);
}

export function reductionAxes(n: Node): number[] {
  const rank = n.inputs[0].shape.length;
  return n.op === 'argmax' || n.op === 'argmin' ? normalizeAxes(n.attrs.axis as number, rank, n.op) : normalizeAxes(n.attrs.axes as number[], rank, n.op);
}

export function rowSpaceOf(r: Node): RowSpace {
  const input = r.inputs[0].shape;
  const axes = reductionAxes(r);
  return {
    input,
    axes,
    keep: input.map((d, i) => (axes.includes(i) ? 1 : d)),
    drop: input.filter((_, i) => !axes.includes(i)),
  };
}

function sameRow(a: RowSpace, b: RowSpace): boolean {
  return shapesEqual(a.input, b.input) && a.axes.length === b.axes.length && a.axes.every((x, i) => x === b.axes[i]);
}

/** Which space of the row an elementwise node would live in, if any. */
function spaceOf(n: Node, row: RowSpace): 'I' | 'O' | null {
  if (shapesEqual(n.shape, row.input)) return 'I';
  if (shapesEqual(n.shape, row.keep) || shapesEqual(n.shape, row.drop)) return 'O';
  return null;
}

/**
 * Whether a per-row value of the dropped shape, broadcast against the input space as NumPy does (aligned
 * to the right), lands on the kept axes. Only then is it its own row's value wherever a row map reads it;
 * `sum(x, axis=1)` of x: [2,2] broadcasts along axis 1 of [2,2], one value per column, not per row.
 */
function dropAligned(row: RowSpace): boolean {
  const kept = row.input.map((_, i) => i).filter((i) => !row.axes.includes(i));
  const offset = row.input.length - row.drop.length;
  return row.drop.every((d, j) => d === 1 || kept[j] === offset + j);
}

export function fuseReductions(graph: Graph, maxBuffers?: number): PassResult {
  const c = new Clusters(graph, maxBuffers);
  const fired: string[] = [];
  for (const seed of c.order) {
    if (!isReduce(seed) || c.groupOf.has(seed)) continue;
    const row = rowSpaceOf(seed);
    if (row.axes.some((a) => row.input[a] === 0)) {
      // Nothing is read: the result is the identity, which the lone reduction writes (nothing to fuse).
      fired.push(`leave ${c.name(seed)} ${seed.op} alone: it reduces an empty extent`);
      continue;
    }
    const group = new Set<Node>([seed]);
    const aligned = dropAligned(row);
    /** A row map (input space) reading a dropped-shape row value that does not broadcast along the rows. */
    const misread = (map: Node, value: Node) =>
      !aligned && shapesEqual(map.shape, row.input) && shapesEqual(value.shape, row.drop) && !shapesEqual(value.shape, row.input);
    // Whether n may join depends only on n and the group, which only grows: a candidate refused at the
    // group's current size is not tried again until the group has grown (each round revisits them all).
    const refusedAt = new Map<Node, number>();
    const admit = (n: Node, why: string): boolean => {
      if (group.has(n) || c.groupOf.has(n) || refusedAt.get(n) === group.size) return false;
      if (!tryAdmit(n, why)) {
        refusedAt.set(n, group.size);
        return false;
      }
      return true;
    };
    const tryAdmit = (n: Node, why: string): boolean => {
      if (!c.convexWith(n, group)) return false;
      if (n.inputs.some((x) => group.has(x) && misread(n, x)) || c.users.get(n)!.some((u) => group.has(u) && misread(u, n))) {
        fired.push(`keep ${c.name(n)} ${n.op} out of the row kernel of ${c.name(seed)}: a value of shape [${row.drop.join(',')}] broadcasts along other axes than its rows`);
        return false;
      }
      if (c.bindings(group, n) > c.maxBuffers) {
        fired.push(`stop at ${c.name(n)}: the row kernel of ${c.name(seed)} would bind more than ${c.maxBuffers} buffers`);
        return false;
      }
      group.add(n);
      notes.push(`${c.name(n)} ${n.op} (${why})`);
      return true;
    };
    const notes: string[] = [];
    for (let changed = true; changed; ) {
      changed = false;
      for (const m of [...group]) {
        // Producers: elementwise values of the input space whose every use is already in the group.
        for (const p of m.inputs) {
          const fits = isElementwiseOp(p) && spaceOf(p, row) === 'I' && c.outsideUses(p, group) === 0;
          if (fits && admit(p, 'producer')) changed = true;
          // Siblings: other reductions of the same rows of a value the group reads (x.sum(-1) beside
          // x.max(-1)) share its passes over the rows instead of reading them again in their own kernels.
          for (const u of c.users.get(p)!) {
            if (isReduce(u) && sameRow(rowSpaceOf(u), row) && admit(u, 'reduction of the same rows of the same value')) changed = true;
          }
        }
        // Consumers: elementwise values of either space, and further reductions of the same row.
        for (const u of c.users.get(m)!) {
          if (isReduce(u)) {
            if (sameRow(rowSpaceOf(u), row) && admit(u, 'reduction of the same rows')) changed = true;
          } else if (isElementwiseOp(u)) {
            const space = spaceOf(u, row);
            if (space && admit(u, space === 'I' ? 'row map' : 'per-row value')) changed = true;
          }
        }
      }
    }
    // Say why elementwise producers of the row stayed out: they are read outside it, so they are stored.
    for (const m of group) {
      for (const p of m.inputs) {
        if (!group.has(p) && !c.groupOf.has(p) && isElementwiseOp(p) && spaceOf(p, row) === 'I' && c.outsideUses(p, group) > 0) {
          fired.push(`keep ${c.name(p)} ${p.op} out of the row kernel of ${c.name(seed)}: it is also read outside it`);
        }
      }
    }
    if (group.size === 1) continue;
    const g = c.newGroup();
    for (const n of [...group].sort((a, b) => c.position.get(a)! - c.position.get(b)!)) c.add(g, n);
    fired.push(`row kernel of ${c.name(seed)} ${seed.op}: ${notes.join(', ')}`);
  }
  return { graph: fired.some((f) => f.startsWith('row kernel')) ? c.apply() : graph, fired };
}

export const fuseReduction: Pass = {
  name: 'fuse-reduction',
  description: 'fuse elementwise producers and consumers, and reductions of the same rows, into one row kernel',
  run: (graph) => fuseReductions(graph),
};
