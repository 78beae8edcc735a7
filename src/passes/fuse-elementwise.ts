// fuse-elementwise: maximal groups of elementwise ops become one kernel with one or more stores. The
// kernel's index space is the shape of its largest member; members of smaller shapes are evaluated per
// element of that space, so only cheap ops (no transcendental functions) may be broadcast into it.
// Multiple consumers: a value whose uses are all in the group is never stored; a value of the group's
// shape that also has uses outside is stored once by the group (a multi-output kernel); a value of a
// smaller shape with outside uses stays out (it gets its own kernel and is loaded). Groups stop growing at
// the binding limit, so a long fan-in chain is split into several kernels.
import type { Graph } from '../ir/graph.js';
import type { Node } from '../ir/node.js';
import { broadcastsTo, fmtShape, shapesEqual, sizeOf, type Shape } from '../ir/shape.js';
import { Clusters, isElementwiseOp } from './fusion.js';
import type { Pass, PassResult } from './pass.js';

/** Ops cheap enough to recompute for every element of a larger space. */
const CHEAP = new Set(['neg', 'abs', 'square', 'sign', 'relu', 'floor', 'ceil', 'round', 'not', 'cast', 'add', 'sub', 'mul', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'and', 'or', 'where']);

export function fuseElementwiseGroups(graph: Graph, maxBuffers?: number): PassResult {
  const c = new Clusters(graph, maxBuffers);
  const fired: string[] = [];
  // Seeds from the last node backwards: a group grows from its consumers toward its producers.
  for (let i = c.order.length - 1; i >= 0; i--) {
    const seed = c.order[i];
    if (!isElementwiseOp(seed) || c.groupOf.has(seed)) continue;
    const group = new Set<Node>([seed]);
    let space: Shape = seed.shape;
    const fits = (n: Node): boolean => {
      if (group.has(n) || c.groupOf.has(n) || !isElementwiseOp(n)) return false;
      const stored = c.outsideUses(n, group) > 0;
      if (shapesEqual(n.shape, space)) return true;
      // A smaller value is recomputed per element of the space: only if cheap, and never stored.
      return !stored && broadcastsTo(n.shape, space) && sizeOf(n.shape) < sizeOf(space) && CHEAP.has(n.op);
    };
    const admit = (n: Node): boolean => {
      if (!fits(n) || !c.convexWith(n, group)) return false;
      if (c.bindings(group, n) > c.maxBuffers) {
        fired.push(`split at ${c.name(n)}: the kernel of ${c.name(seed)} would bind more than ${c.maxBuffers} buffers`);
        return false;
      }
      group.add(n);
      return true;
    };
    for (let changed = true; changed; ) {
      changed = false;
      for (const m of [...group]) {
        for (const p of m.inputs) if (admit(p)) changed = true;
        for (const u of c.users.get(m)!) {
          // A consumer of a larger shape would change the space: allowed when every stored member can follow.
          if (isElementwiseOp(u) && !c.groupOf.has(u) && !group.has(u) && broadcastsTo(space, u.shape) && !shapesEqual(space, u.shape)) {
            const storedSmaller = [...group].some((g) => c.outsideUses(g, new Set([...group, u])) > 0);
            if (!storedSmaller && [...group].every((g) => CHEAP.has(g.op))) {
              const before = space;
              space = u.shape;
              if (admit(u)) changed = true;
              else space = before;
              continue;
            }
          }
          if (admit(u)) changed = true;
        }
      }
    }
    // Say why broadcast producers stayed out: recomputing them per element of the space would cost too much.
    for (const m of group) {
      for (const p of m.inputs) {
        if (!group.has(p) && !c.groupOf.has(p) && isElementwiseOp(p) && !shapesEqual(p.shape, space) && !CHEAP.has(p.op)) {
          fired.push(`keep ${c.name(p)} ${p.op} out of the kernel of ${c.name(seed)}: it would be recomputed for every element of ${fmtShape(space)}`);
        }
      }
    }
    if (group.size === 1) continue;
    const g = c.newGroup();
    const members = c.order.filter((n) => group.has(n));
    for (const n of members) c.add(g, n);
    const stores = members.filter((n) => c.outsideUses(n, group) > 0);
    fired.push(`kernel of ${members.length} ops (${members.map((n) => c.name(n)).join(' ')}) storing ${stores.map((n) => c.name(n)).join(', ')}`);
  }
  return { graph: fired.some((f) => f.startsWith('kernel')) ? c.apply() : graph, fired };
}

export const fuseElementwise: Pass = {
  name: 'fuse-elementwise',
  description: 'merge elementwise ops into kernels with one or more outputs, within the binding limit',
  run: (graph) => fuseElementwiseGroups(graph),
};
