// What the three fusion passes share: the graph's use lists and topological positions, the groups already
// formed (the `group` attribute: nodes sharing a value run as one kernel), and the legality checks every
// group must pass:
// - convexity: no path may leave a group and come back (the kernel would need its own output), checked by
//   searching the operand side and the consumer side of each candidate, pruned by topological position;
// - bindings: a kernel binds each external value it reads and each value it stores, at most
//   `maxBuffers` (WebGPU's default maxStorageBuffersPerShaderStage, 8);
// - generated leaves (const, iota, rand) are never group members: every kernel recomputes them.
import type { Graph } from '../ir/graph.js';
import { orderOf, usersOf } from '../ir/graph.js';
import type { Node } from '../ir/node.js';
import { OPS } from '../ir/ops.js';
import { numberValues } from '../ir/printer.js';
import { rewrite, withGroup } from './rewrite.js';

export const DEFAULT_MAX_BUFFERS = 8;
export const GENERATED_LEAVES = new Set(['const', 'iota', 'rand']);

export class Clusters {
  readonly order: readonly Node[];
  readonly position: Map<Node, number>;
  readonly users: Map<Node, Node[]>;
  readonly outputs: Set<Node>;
  readonly groupOf = new Map<Node, number>();
  readonly members = new Map<number, Node[]>();
  private nextGroup = 0;
  /** Lowest and highest topological position of each group's members. */
  private readonly span = new Map<number, { lo: number; hi: number }>();
  /** floorFor of every position, rebuilt when a group's span changes (null: stale). */
  private floors: Int32Array | null = null;
  /** Walk marks by position (see walkFinds): a node is visited in the current walk when it holds `stamp`. */
  private readonly visited: Int32Array;
  private stamp = 0;

  constructor(
    readonly graph: Graph,
    readonly maxBuffers = DEFAULT_MAX_BUFFERS,
  ) {
    this.order = orderOf(graph);
    this.position = numberValues(this.order);
    this.visited = new Int32Array(this.order.length);
    this.users = usersOf(this.order);
    this.outputs = new Set(graph.outputs);
    for (const n of this.order) {
      const g = n.attrs.group;
      if (typeof g === 'number') this.add(g, n);
    }
  }

  /** `%N` as the printed input graph names the node (for `fired` notes). */
  name(n: Node): string {
    return `%${this.position.get(n)}`; // the printer numbers values by topological position too
  }

  newGroup(): number {
    while (this.members.has(this.nextGroup)) this.nextGroup++;
    return this.nextGroup++;
  }

  add(group: number, n: Node): void {
    const at = this.position.get(n)!;
    const span = this.span.get(group);
    this.span.set(group, span ? { lo: Math.min(span.lo, at), hi: Math.max(span.hi, at) } : { lo: at, hi: at });
    this.floors = null;
    this.groupOf.set(n, group);
    const list = this.members.get(group);
    if (list) list.push(n);
    else this.members.set(group, [n]);
  }

  /** Users of `n` outside `group` (graph outputs count as an outside use). */
  outsideUses(n: Node, group: ReadonlySet<Node>): number {
    return this.users.get(n)!.filter((u) => !group.has(u)).length + (this.outputs.has(n) ? 1 : 0);
  }

  /**
   * A position below which no node reaches one at `low` or above. Operand edges only go down; a step from a
   * member of a group to another member can go up, so the bound is lowered past every group spanning it:
   * it is the highest position at or below `low` that no group's span crosses (lo < p <= hi). One sweep
   * over the positions gives it for every `low` at once; convexity asks for it hundreds of times between
   * two changes of the groups.
   */
  private floorFor(low: number): number {
    if (!this.floors) {
      const n = this.order.length;
      const crossing = new Int32Array(n + 1);
      for (const { lo, hi } of this.span.values()) {
        if (hi > lo) {
          crossing[lo + 1]++;
          crossing[hi + 1]--;
        }
      }
      const floors = new Int32Array(n);
      let open = 0;
      for (let p = 0; p < n; p++) {
        open += crossing[p];
        floors[p] = open > 0 && p > 0 ? floors[p - 1] : p;
      }
      this.floors = floors;
    }
    return this.floors[low];
  }

  /** Lowest topological position of the nodes. */
  private lowest(nodes: Iterable<Node>): number {
    let low = Infinity;
    for (const m of nodes) low = Math.min(low, this.position.get(m)!);
    return low;
  }

  /**
   * A depth-first walk down operand edges (and across other groups, see pushUpward) from the nodes on
   * `stack`, never below position `low`, stopping when `hit` says so. Visited nodes are stamped in an array
   * by position rather than kept in a Set: convexity runs hundreds of these walks per pass.
   */
  private walkFinds(stack: Node[], low: number, group: ReadonlySet<Node>, hit: (n: Node) => boolean): boolean {
    const stamp = ++this.stamp;
    while (stack.length > 0) {
      const n = stack.pop()!;
      const at = this.position.get(n)!;
      if (at < low || this.visited[at] === stamp) continue;
      this.visited[at] = stamp;
      if (hit(n)) return true;
      this.pushUpward(n, group, stack);
    }
    return false;
  }

  /**
   * The operands of `n`, and when `n` is in another group, that group's members: a group runs as one
   * kernel, so whatever reaches one member reaches all of them (a path through two groups that are each
   * convex can still close a cycle).
   */
  private pushUpward(n: Node, group: ReadonlySet<Node>, stack: Node[]): void {
    for (const i of n.inputs) stack.push(i);
    const g = this.groupOf.get(n);
    if (g !== undefined && !group.has(n)) for (const m of this.members.get(g)!) stack.push(m);
  }

  /**
   * Whether `n` may join `group` without a cycle: no operand of n outside the group depends on the group,
   * and no member of the group depends on a consumer of n outside the group.
   */
  convexWith(n: Node, group: ReadonlySet<Node>): boolean {
    const outsideOperands: Node[] = [];
    for (const i of n.inputs) if (!group.has(i)) outsideOperands.push(i);
    if (outsideOperands.length > 0 && this.walkFinds(outsideOperands, this.floorFor(this.lowest(group)), group, (m) => group.has(m))) return false;
    const outsideUsers: Node[] = [];
    for (const u of this.users.get(n)!) if (!group.has(u)) outsideUsers.push(u);
    if (outsideUsers.length === 0) return true;
    const members: Node[] = [];
    for (const m of group) if (m !== n) members.push(m);
    return !this.walkFinds(members, this.floorFor(this.lowest(outsideUsers)), group, (m) => outsideUsers.includes(m));
  }

  /** Buffers a kernel for `group` (and `extra`, when given) binds: distinct external values read plus values stored. */
  bindings(group: ReadonlySet<Node>, extra?: Node): number {
    const inside = (x: Node) => x === extra || group.has(x);
    const external = new Set<Node>();
    let stored = 0;
    const count = (m: Node) => {
      for (const i of m.inputs) if (!inside(i) && !GENERATED_LEAVES.has(i.op)) external.add(i);
      if (this.outputs.has(m) || this.users.get(m)!.some((u) => !inside(u))) stored++;
    };
    for (const m of group) count(m);
    if (extra !== undefined && !group.has(extra)) count(extra);
    return external.size + stored;
  }

  /** The graph with every clustered node carrying its group id, renumbered densely in topological order. */
  apply(): Graph {
    const dense = new Map<number, number>();
    for (const n of this.order) {
      const g = this.groupOf.get(n);
      if (g !== undefined && !dense.has(g)) dense.set(g, dense.size);
    }
    return rewrite(this.graph, (node, inputs) => {
      const g = this.groupOf.get(node);
      const want = g === undefined ? undefined : dense.get(g);
      if (want === node.attrs.group && inputs.every((x, i) => x === node.inputs[i])) return node;
      return withGroup(node, inputs, want);
    });
  }
}

export function isElementwiseOp(n: Node): boolean {
  const k = OPS[n.op].kind;
  return (k === 'unary' || k === 'binary' || k === 'select') && !GENERATED_LEAVES.has(n.op);
}
