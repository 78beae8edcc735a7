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
  readonly position = new Map<Node, number>();
  readonly users: Map<Node, Node[]>;
  readonly outputs: Set<Node>;
  readonly groupOf = new Map<Node, number>();
  readonly members = new Map<number, Node[]>();
  private readonly names: Map<Node, number>;
  private nextGroup = 0;
  /** Lowest and highest topological position of each group's members. */
  private readonly span = new Map<number, { lo: number; hi: number }>();

  constructor(
    readonly graph: Graph,
    readonly maxBuffers = DEFAULT_MAX_BUFFERS,
  ) {
    this.order = orderOf(graph);
    this.order.forEach((n, i) => this.position.set(n, i));
    this.users = usersOf(this.order);
    this.outputs = new Set(graph.outputs);
    this.names = numberValues(this.order);
    for (const n of this.order) {
      const g = n.attrs.group;
      if (typeof g === 'number') this.add(g, n);
    }
  }

  /** `%N` as the printed input graph names the node (for `fired` notes). */
  name(n: Node): string {
    return `%${this.names.get(n)}`;
  }

  newGroup(): number {
    while (this.members.has(this.nextGroup)) this.nextGroup++;
    return this.nextGroup++;
  }

  add(group: number, n: Node): void {
    const at = this.position.get(n)!;
    const span = this.span.get(group);
    this.span.set(group, span ? { lo: Math.min(span.lo, at), hi: Math.max(span.hi, at) } : { lo: at, hi: at });
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
   * member of a group to another member can go up, so the bound is lowered past every group spanning it.
   */
  private floorFor(low: number): number {
    let floor = low;
    for (let changed = true; changed; ) {
      changed = false;
      for (const { lo, hi } of this.span.values()) {
        if (lo < floor && hi >= floor) {
          floor = lo;
          changed = true;
        }
      }
    }
    return floor;
  }

  /** True when some node in `from` reaches a member of `group` through operands, leaving the group first. */
  private reachesGroupUpward(from: readonly Node[], group: ReadonlySet<Node>): boolean {
    const low = this.floorFor(Math.min(...[...group].map((m) => this.position.get(m)!)));
    const seen = new Set<Node>();
    const stack = [...from];
    while (stack.length > 0) {
      const n = stack.pop()!;
      if (seen.has(n) || this.position.get(n)! < low) continue;
      seen.add(n);
      if (group.has(n)) return true;
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
    stack.push(...n.inputs);
    const g = this.groupOf.get(n);
    if (g !== undefined && !group.has(n)) stack.push(...this.members.get(g)!);
  }

  /**
   * Whether `n` may join `group` without a cycle: no operand of n outside the group depends on the group,
   * and no member of the group depends on a consumer of n outside the group.
   */
  convexWith(n: Node, group: ReadonlySet<Node>): boolean {
    const outsideOperands = n.inputs.filter((i) => !group.has(i));
    if (this.reachesGroupUpward(outsideOperands, group)) return false;
    const outsideUsers = this.users.get(n)!.filter((u) => !group.has(u));
    if (outsideUsers.length === 0) return true;
    const targets = new Set(outsideUsers);
    const low = this.floorFor(Math.min(...outsideUsers.map((u) => this.position.get(u)!)));
    const seen = new Set<Node>();
    const stack = [...group].filter((m) => m !== n);
    while (stack.length > 0) {
      const m = stack.pop()!;
      if (seen.has(m) || this.position.get(m)! < low) continue;
      seen.add(m);
      if (targets.has(m)) return false;
      this.pushUpward(m, group, stack);
    }
    return true;
  }

  /** Buffers a kernel for `group` binds: distinct external values read plus values stored. */
  bindings(group: ReadonlySet<Node>): number {
    const external = new Set<Node>();
    let stored = 0;
    for (const m of group) {
      for (const i of m.inputs) if (!group.has(i) && !GENERATED_LEAVES.has(i.op)) external.add(i);
      if (this.outsideUses(m, group) > 0) stored++;
    }
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
