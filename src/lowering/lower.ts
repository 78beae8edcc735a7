// Lowering: a graph becomes a plan of WGSL dispatches. Each compute node is one dispatch here; layout ops
// become views (no dispatch) wherever strides can express them; the fusion passes hand this code larger
// groups through the same kernel generators (an Expr per kernel), so nothing here is unfused-only.
import type { DType } from '../ir/dtype.js';
import type { Graph } from '../ir/graph.js';
import { orderOf, usersOf } from '../ir/graph.js';
import type { Node } from '../ir/node.js';
import { isElementwise, OPS } from '../ir/ops.js';
import { printNode, numberValues } from '../ir/printer.js';
import { broadcastsTo, shapesEqual, sizeOf, stridesOf, type Shape } from '../ir/shape.js';
import { generateElementwise, type ElementwiseKernel, type ElementwiseSpec, type GeneratedKernel, type KernelBuffer } from '../shaders/elementwise.js';
import { isFlatAccess, type Access, type Expr, type ExprStep } from '../shaders/expr.js';
import { planMatmul, type GemmProgram, type MatrixOperand } from '../shaders/matmul.js';
import type { OperandPrologue } from '../shaders/prologue.js';
import type { PrologueReduceOp, PrologueValue } from '../shaders/prologue-values.js';
import { generateRow, type RowReduceOp, type RowSpec, type RowStage } from '../shaders/row.js';
import { generateRowSplit, planRowSplit, rowFastAxis, rowSplitTuning, type RowSplitTuning } from '../shaders/row-split.js';
import { DEFAULT_MAX_BUFFERS } from '../passes/fusion.js';
import { prologueLoads } from '../passes/fuse-prologue.js';
import { planSyrk } from '../shaders/syrk.js';
import { DEVICE_BYTES } from '../shaders/wgsl.js';
import type { Binding, Dispatch, InPlaceVariant, Plan, Slot } from './plan.js';
import { KernelCache, kernelAttrs } from './kernel-cache.js';
import { accessIn, layoutView, rowMajorView, type View } from './view.js';

/** How an argument lies in its buffer, when it is a view rather than a plain row-major tensor. */
export interface InputLayout {
  readonly offset: number;
  readonly strides: readonly number[];
}

export interface LowerOptions {
  /** Per graph input: its layout in the bound buffer (null or absent: row-major from offset 0). */
  readonly inputLayouts?: readonly (InputLayout | null)[];
  /**
   * Optional device features the kernels may use: `subgroups` for the reductions' workgroup combines, and
   * with it the device's smallest subgroup size (GPUAdapterInfo.subgroupMinSize) for segmented row kernels.
   */
  readonly features?: { readonly subgroups?: boolean; readonly subgroupMinSize?: number };
  /** When row programs and reductions split long rows over several workgroups (default: rowSplitTuning()). */
  readonly rowSplit?: RowSplitTuning;
  /** Generate each distinct kernel once per lowering (default true; tests turn it off to compare). */
  readonly reuseKernels?: boolean;
}

export function lowerGraph(graph: Graph, options: LowerOptions = {}): Plan {
  return new Lowering(graph, options).run();
}

class Lowering {
  private readonly slots: Slot[] = [];
  private readonly dispatches: Dispatch[] = [];
  private readonly views = new Map<Node, View>();
  /** A node's IR line, numbered as the graph prints (numbered on first use: dumps and errors only). */
  private readonly line: (node: Node) => string;
  private readonly order: readonly Node[];
  private readonly users: Map<Node, Node[]>;
  private readonly outputs: Set<Node>;
  /** Each fused group's members, in topological order. */
  private readonly groups = new Map<number, Node[]>();
  private readonly lowered = new Set<number>();
  private readonly inProgress = new Set<number>();
  /** Kernels generated so far, by spec: repeated blocks of a program share their WGSL. */
  private readonly kernels: KernelCache;

  constructor(
    private readonly graph: Graph,
    private readonly options: LowerOptions,
  ) {
    this.order = orderOf(graph);
    this.line = lineNamer(this.order);
    this.kernels = new KernelCache(options.reuseKernels !== false);
    this.users = usersOf(this.order);
    this.outputs = new Set(graph.outputs);
    for (const n of this.order) {
      const g = n.attrs.group;
      if (typeof g !== 'number') continue;
      const list = this.groups.get(g);
      if (list) list.push(n);
      else this.groups.set(g, [n]);
    }
  }

  run(): Plan {
    const inputSlots = this.graph.inputs.map((node, i) => {
      const slot = this.newSlot(node.dtype, node.shape, 'input');
      const layout = this.options.inputLayouts?.[i];
      this.views.set(node, layout ? { slot, dtype: node.dtype, shape: node.shape, offset: layout.offset, strides: layout.strides } : rowMajorView(slot, node.dtype, node.shape));
      return slot;
    });
    for (const node of this.order) {
      // Generated leaves are recomputed inside each elementwise consumer; they get a buffer only when
      // something else reads them (see viewOf).
      const group = node.attrs.group;
      if (typeof group === 'number') this.lowerGroup(group);
      else if (!GENERATED.has(node.op)) this.viewOf(node);
    }
    const outputs = this.graph.outputs.map((node) => {
      const v = this.viewOf(node);
      const slot = this.slots[v.slot];
      if (slot.role === 'temp') this.slots[v.slot] = { ...slot, role: 'output' };
      return { slot: v.slot, shape: v.shape, offset: v.offset, strides: v.strides };
    });
    return { slots: this.slots, inputSlots, outputs, dispatches: this.dispatches };
  }

  private newSlot(dtype: DType, shape: Shape, role: Slot['role'], size = sizeOf(shape)): number {
    this.slots.push({ index: this.slots.length, dtype, size, role });
    return this.slots.length - 1;
  }

  /** The view holding a node's value, lowering it (once) when first asked for. */
  private viewOf(node: Node): View {
    let v = this.views.get(node);
    const group = node.attrs.group;
    if (!v && typeof group === 'number') {
      // A fused group stores what is used outside it; nothing else of it exists in memory.
      this.lowerGroup(group);
      v = this.views.get(node);
      if (!v) throw new Error(`internal: ${this.line(node)} is read outside its group but not stored by it`);
    }
    if (!v) {
      v = this.lowerNode(node);
      this.views.set(node, v);
    }
    return v;
  }

  private lowerNode(node: Node): View {
    const kind = OPS[node.op].kind;
    if (kind === 'leaf' || isElementwise(node.op)) return this.elementwise(node);
    if (kind === 'layout') {
      if (node.op === 'concat') return this.concat(node);
      const operand = this.viewOf(node.inputs[0]);
      return layoutView(node, operand) ?? layoutView(node, this.materialize(node.inputs[0], operand))!;
    }
    if (kind === 'reduce' || kind === 'argreduce') return this.reduce(node);
    if (kind === 'matmul') return this.matmul(node);
    throw new Error(`internal: no lowering for ${node.op}`);
  }

  /** The IR text of `nodes` for a dispatch, printed when first read (dump-ir, error messages). */
  private irOf(nodes: readonly Node[], prefix = ''): IrText {
    const line = this.line;
    let text: string | undefined;
    return () => (text ??= prefix + nodes.map(line).join('\n'));
  }

  /** True when a value is read outside `group` (or is a graph output): the group must store it. */
  private storedBy(n: Node, group: ReadonlySet<Node>): boolean {
    return this.outputs.has(n) || this.users.get(n)!.some((u) => !group.has(u));
  }

  private lowerGroup(id: number): void {
    if (this.lowered.has(id)) {
      if (this.inProgress.has(id)) throw new Error(`internal: fused group ${id} reads its own result through another group (the groups are not convex)`);
      return;
    }
    this.lowered.add(id);
    this.inProgress.add(id);
    const members = this.groups.get(id) ?? [];
    const set = new Set(members);
    const anchor = members.find((n) => n.op === 'matmul' || n.op === 'syrk');
    if (anchor) this.matmulGroup(anchor, members, set);
    else if (members.some(isReduction)) this.rowGroup(members, set);
    else this.elementwiseGroup(members, set);
    this.inProgress.delete(id);
  }

  /**
   * Expression steps computing `nodes` (in topological order) over `space`: operands computed earlier in
   * the list are step references, `values` are supplied by the kernel, generated leaves are recomputed,
   * anything else is loaded through its view (`adapt` may re-express the view for the space).
   */
  private exprFor(nodes: readonly Node[], space: Shape, values: ReadonlyMap<Node, string>, nameOf: (slot: number) => string, adapt: (v: View) => View = (v) => v) {
    const steps: ExprStep[] = [];
    const index = new Map<Node, number>();
    const operand = (i: Node): number => {
      let k = index.get(i);
      if (k !== undefined) return k;
      const value = values.get(i);
      if (value !== undefined) steps.push({ kind: 'value', name: value, dtype: i.dtype });
      else if (GENERATED.has(i.op)) steps.push(leafStep(i, space));
      else {
        const v = adapt(this.viewOf(i));
        steps.push({ kind: 'load', buffer: nameOf(v.slot), dtype: i.dtype, access: accessIn(v, space) });
      }
      k = steps.length - 1;
      index.set(i, k);
      return k;
    };
    for (const n of nodes) {
      const args = n.inputs.map(operand);
      steps.push({ kind: 'op', op: n.op, args, attrs: kernelAttrs(n.attrs), dtype: n.dtype });
      index.set(n, steps.length - 1);
    }
    return { expr: { steps } as Expr, index, operand };
  }

  /** External values the nodes read (excluding `inside`, supplied values and generated leaves), as views. */
  private externalReads(nodes: readonly Node[], inside: ReadonlySet<Node>, adapt: (v: View) => View = (v) => v): View[] {
    const reads: View[] = [];
    for (const n of nodes) for (const i of n.inputs) if (!inside.has(i) && !GENERATED.has(i.op)) reads.push(adapt(this.viewOf(i)));
    return reads;
  }

  private elementwiseGroup(members: readonly Node[], set: ReadonlySet<Node>): void {
    // The index space is the shape every member broadcasts to (fuse-elementwise's space), not the member
    // with the most elements: an empty space ([2,0,2]) has fewer than the [2,2] broadcast into it.
    const space = members.find((m) => members.every((n) => broadcastsTo(n.shape, m.shape)))?.shape ?? members.reduce<Shape>((big, n) => (sizeOf(n.shape) > sizeOf(big) ? n.shape : big), members[0].shape);
    const stored = members.filter((n) => this.storedBy(n, set));
    const reads = this.externalReads(members, set);
    const writes = stored.map((n) => ({ slot: this.newSlot(n.dtype, n.shape, 'temp'), dtype: n.dtype }));
    const { buffers, bindings, nameOf } = this.bind(reads, writes);
    const { expr, index } = this.exprFor(members, space, new Map(), nameOf);
    const own: Access = { offset: 0, strides: stridesOf(space) };
    const spec: ElementwiseSpec = {
      space,
      expr,
      buffers,
      stores: stored.map((n, k) => ({ step: index.get(n)!, buffer: nameOf(writes[k].slot), access: own })),
      vec4: this.vec4Allowed(buffers, bindings),
    };
    const generated = this.elementwiseKernel(spec);
    // A value read by several members is loaded once per element: count its bytes once.
    this.emit(`fused.elementwise.${members.length}ops${vec4Suffix(generated)}`, generated, bindings, this.irOf(members), distinctViews(reads), sizeOf(space) * stored.length, sizeOf(space), this.inPlaceVariant(spec, bindings));
    stored.forEach((n, k) => this.views.set(n, rowMajorView(writes[k].slot, n.dtype, n.shape)));
  }

  /**
   * A row group (see src/shaders/row.ts): reductions over one input space I and one set of axes, the
   * elementwise values of I around them, and per-row values (space O, keepdims or not) computed from them.
   */
  private rowGroup(members: readonly Node[], set: ReadonlySet<Node>): void {
    const first = members.find(isReduction)!;
    const inShape = first.inputs[0].shape;
    const axes = reducedAxes(first);
    const keep = inShape.map((d, i) => (axes.includes(i) ? 1 : d));
    const drop = inShape.filter((_, i) => !axes.includes(i));
    const afterReduce = new Set<Node>();
    for (const m of members) if (isReduction(m) || m.inputs.some((i) => afterReduce.has(i))) afterReduce.add(m);
    // A value of the input's shape is mapped over the row even when the keep-dims shape equals it (every
    // reduced extent 1): then its row has one element and either reading gives the same numbers, but only
    // the mapped one can reach the other mapped values it depends on.
    const isRowValue = (m: Node) =>
      isReduction(m) || (afterReduce.has(m) && !shapesEqual(m.shape, inShape) && (shapesEqual(m.shape, keep) || shapesEqual(m.shape, drop)));
    const mapped = members.filter((m) => !isRowValue(m));
    const mappedSet = new Set(mapped);
    // A drop-shaped per-row value reads its operands as if reduced axes were kept (extent 1, stride 0).
    const toKeep = (shape: Shape) => (v: View): View => {
      if (!shapesEqual(shape, drop) || shapesEqual(keep, drop)) return v;
      const padded = { shape: [...drop.slice(0, drop.length - v.shape.length).map(() => 1), ...v.shape], strides: [...drop.slice(0, drop.length - v.shape.length).map(() => 0), ...v.strides] };
      const shape2: number[] = [];
      const strides2: number[] = [];
      let j = 0;
      inShape.forEach((_, d) => {
        if (axes.includes(d)) (shape2.push(1), strides2.push(0));
        else (shape2.push(padded.shape[j]), strides2.push(padded.strides[j++]));
      });
      return { ...v, shape: shape2, strides: strides2 };
    };
    const needed = (roots: readonly Node[]) => reachedWithin(roots, mapped, mappedSet);

    const stored = members.filter((n) => this.storedBy(n, set));
    const reads = [
      ...this.externalReads(mapped, set),
      ...members.filter(isReduction).flatMap((r) => this.externalReads([r], set)),
      ...members.filter((m) => isRowValue(m) && !isReduction(m)).flatMap((m) => this.externalReads([m], set, toKeep(m.shape))),
    ];
    const writes = stored.map((n) => ({ slot: this.newSlot(n.dtype, n.shape, 'temp'), dtype: n.dtype }));
    const { buffers, bindings, nameOf } = this.bind(reads, writes);
    const rowName = new Map<Node, string>();
    const stages: RowStage[] = [];
    for (const m of members) {
      if (!isRowValue(m)) continue;
      const name = `row${rowName.size}`;
      if (isReduction(m)) {
        const x = m.inputs[0];
        const { expr, operand } = this.exprFor(needed([x]), inShape, rowName, nameOf);
        const step = operand(x);
        stages.push({ kind: 'reduce', op: m.op as RowReduceOp, dtype: x.dtype, expr, step, name });
      } else {
        const { expr, index } = this.exprFor([m], keep, rowName, nameOf, toKeep(m.shape));
        stages.push({ kind: 'value', expr, step: index.get(m)!, name, dtype: m.dtype });
      }
      rowName.set(m, name);
    }
    const keepStrides = stridesOf(keep);
    const rowStores = stored.filter(isRowValue).map((n) => ({ name: rowName.get(n)!, dtype: n.dtype, buffer: nameOf(writes[stored.indexOf(n)].slot), access: { offset: 0, strides: keepStrides } }));
    const mapStored = stored.filter((n) => !isRowValue(n));
    let map: RowSpec['map'] = null;
    if (mapStored.length > 0) {
      const { expr, index } = this.exprFor(needed(mapStored), inShape, rowName, nameOf);
      const own = { offset: 0, strides: stridesOf(inShape) };
      map = { expr, stores: mapStored.map((n) => ({ step: index.get(n)!, buffer: nameOf(writes[stored.indexOf(n)].slot), dtype: n.dtype, access: own })) };
    }
    const rowSpec: RowSpec = { inShape, axes, stages, rowStores, map, buffers };
    const ops = members.filter(isReduction).map((r) => r.op).join('+');
    const kernel = `fused.row.${ops}+${members.length - stages.filter((st) => st.kind === 'reduce').length}`;
    const ir = this.irOf(members);
    // Skipped only when nothing is stored: a sum or prod over an empty axis still writes its identities.
    const written = stored.reduce((a, n) => a + sizeOf(n.shape), 0);
    this.rows(kernel, rowSpec, bindings, reads, ir, written);
    stored.forEach((n, k) => this.views.set(n, rowMajorView(writes[k].slot, n.dtype, n.shape)));
  }

  /** A row program's dispatches: split over several workgroups per row where its rows are few and long, else one row kernel. */
  private rows(kernel: string, rowSpec: RowSpec, bindings: readonly Binding[], reads: readonly View[], ir: IrText, written: number): void {
    if (this.splitRows(kernel, rowSpec, bindings, reads, ir, written)) return;
    const vec4 = this.vec4Allowed(rowSpec.buffers, bindings);
    const key = { rowSpec, subgroups: this.subgroups, subgroupMinSize: this.subgroupMinSize, vec4: rowSpec.buffers.map((b) => vec4(b.name)) };
    const row = this.kernels.get('row', key, (k) =>
      generateRow(k.rowSpec, { subgroups: k.subgroups, subgroupMinSize: k.subgroupMinSize, vec4: (name) => k.vec4[k.rowSpec.buffers.findIndex((b) => b.name === name)] === true }),
    );
    this.emit(kernel, row, bindings, ir, reads, written, written);
  }

  /**
   * A product with its fused neighbours: the members computing an operand (its prologue, evaluated as the
   * kernel loads the operand's tiles) and the chain after it (its epilogue, run in the store). The group
   * stores exactly one value, its last member.
   */
  private matmulGroup(anchor: Node, members: readonly Node[], set: ReadonlySet<Node>): void {
    const at = members.indexOf(anchor);
    const before = members.slice(0, at);
    const epilogue = members.slice(at + 1);
    const stored = members.filter((n) => this.storedBy(n, set));
    if (stored.length !== 1 || stored[0] !== members[members.length - 1]) {
      throw new Error(`internal: a matmul group must store exactly its last member, got ${stored.map((n) => this.line(n)).join('; ')}`);
    }
    const out = stored[0];
    // Each operand computed in the group: the members it depends on, in order (a product of one value twice shares them).
    const prologueOf = anchor.inputs.map((input) => (set.has(input) ? before.filter((n) => n === input || dependsOn(input, n, set)) : null));
    const leaves = anchor.inputs.map((input, i) => (prologueOf[i] ? undefined : this.leafOperand(anchor, i)));
    const operandReads = anchor.inputs.flatMap((input, i) => (prologueOf[i] ? this.externalReads(prologueOf[i]!, set) : leaves[i] ? [] : [this.viewOf(input)]));
    const reads = [...operandReads, ...this.externalReads(epilogue, set)];
    const slot = this.newSlot(out.dtype, out.shape, 'temp');
    const { buffers, bindings, nameOf } = this.bind(reads, [{ slot, dtype: out.dtype }]);
    const prologues = anchor.inputs.map((input, i): OperandPrologue | undefined => {
      const nodes = prologueOf[i];
      if (!nodes) return leaves[i];
      const { values, valueName, needed } = this.prologueValues(nodes, i === 0 ? 'pa' : 'pb', nameOf);
      const { expr, operand } = this.exprFor(needed([input]), operandSpace(anchor, i), valueName, nameOf);
      return { ...operandPrologue(anchor, i, expr, operand(input)), ...(values.length > 0 ? { values } : {}) };
    });
    const { expr, index } = this.exprFor(epilogue, anchor.shape, new Map([[anchor, 'acc']]), nameOf);
    const kernel = this.gemm(anchor, buffers, nameOf, slot, epilogue.length > 0 ? { expr, step: index.get(out)! } : undefined, prologues);
    this.emitProduct(`fused.${kernel.name}+${members.length - 1}`, kernel, buffers, bindings, this.irOf(members), reads, operandReads.length, sizeOf(out.shape));
    this.views.set(out, rowMajorView(slot, out.dtype, out.shape));
  }

  /**
   * A const or iota operand of a matmul as a prologue of that one leaf, where the chosen kernel takes a
   * prologue on it (prologueLoads): computed as loaded, never stored, as every other kernel recomputes
   * generated leaves (PCA's constant start vector needs no dispatch of its own). rand stays stored: its hash
   * would run at every load.
   */
  private leafOperand(anchor: Node, i: number): OperandPrologue | undefined {
    const input = anchor.inputs[i];
    if (anchor.op !== 'matmul' || (input.op !== 'const' && input.op !== 'iota') || prologueLoads(anchor, i) === null) return undefined;
    return operandPrologue(anchor, i, { steps: [leafStep(input, operandSpace(anchor, i))] }, 0);
  }

  /**
   * The prologue values of an operand's prologue `nodes` (src/shaders/prologue-values.ts): its whole
   * reductions, and the one-element values computed from them, named `<prefix>v<i>`; `needed(roots)` is the
   * rest of the prologue the roots read (what an expression over their space computes), the values excluded.
   */
  private prologueValues(nodes: readonly Node[], prefix: string, nameOf: (slot: number) => string) {
    const isValue = new Set<Node>();
    for (const n of nodes) if (isReduction(n) || (sizeOf(n.shape) === 1 && n.inputs.some((x) => isValue.has(x)))) isValue.add(n);
    const computed = nodes.filter((n) => !isValue.has(n));
    const computedSet = new Set(computed);
    const needed = (roots: readonly Node[]) => reachedWithin(roots, computed, computedSet);
    const values: PrologueValue[] = [];
    const valueName = new Map<Node, string>();
    for (const n of nodes) {
      if (!isValue.has(n)) continue;
      const name = `${prefix}v${valueName.size}`;
      if (isReduction(n)) {
        const x = n.inputs[0];
        if (sizeOf(n.shape) !== 1 || (x.dtype !== 'float32' && x.dtype !== 'int32')) throw new Error(`internal: a prologue value must reduce a float32 or int32 tensor to one element, got ${this.line(n)}`);
        const { expr, operand } = this.exprFor(needed([x]), x.shape, valueName, nameOf);
        values.push({ kind: 'reduce', op: n.op as PrologueReduceOp, dtype: x.dtype, space: x.shape, expr, step: operand(x), name });
      } else {
        const { expr, index } = this.exprFor([...needed(n.inputs), n], n.shape, valueName, nameOf);
        values.push({ kind: 'value', expr, step: index.get(n)!, name, dtype: n.dtype, rank: n.shape.length });
      }
      valueName.set(n, name);
    }
    return { values, valueName, needed };
  }

  /**
   * A row program as a split row kernel (src/shaders/row-split.ts: partial reductions, then the map, over
   * several workgroups per row) when its rows are long and few; false when it stays one kernel (the rows
   * already fill the device, or a split dispatch would bind more than DEFAULT_MAX_BUFFERS buffers).
   */
  private splitRows(kernel: string, spec: RowSpec, bindings: readonly Binding[], reads: readonly View[], ir: IrText, written: number): boolean {
    const plan = planRowSplit(spec.inShape, spec.axes, this.options.rowSplit ?? rowSplitTuning(), rowFastAxis(spec));
    if (!plan || written === 0) return false;
    const vec4 = this.vec4Allowed(spec.buffers, bindings);
    const key = { spec, plan, vec4: spec.buffers.map((b) => vec4(b.name)) };
    const { dispatches, scratchSize } = this.kernels.get('row-split', key, (k) => generateRowSplit(k.spec, k.plan, { scratch: 'scratch', vec4 }));
    if (dispatches.some((d) => d.buffers.length > DEFAULT_MAX_BUFFERS)) return false;
    const scratch = this.newSlot('int32', [scratchSize], 'temp');
    for (const d of dispatches) {
      const bound: Binding[] = d.buffers.map(({ name, access }) => {
        if (name === 'scratch') return { slot: scratch, access };
        return { slot: bindings[spec.buffers.findIndex((b) => b.name === name)].slot, access };
      });
      const readViews = distinctViews(reads).filter((v) => bound.some((b) => b.slot === v.slot && b.access === 'read'));
      const isFinal = d.label === 'map' || d.label === 'finish';
      const isCombine = d.label.startsWith('combine');
      this.dispatches.push({
        kernel: `${kernel}.split.${d.label}${d.vec4 ? '.vec4' : ''}`,
        wgsl: d.wgsl,
        entryPoint: d.entryPoint,
        bindings: bound,
        workgroups: d.workgroups,
        // A getter: the IR is printed only when read (see irOf).
        get ir() {
          return `${isFinal ? '' : `// ${d.label}: ${isCombine ? 'row values from the partial results' : 'partial results'} over ${plan.chunks} chunks per row\n`}${ir()}`;
        },
        bytesRead: readViews.reduce((acc, v) => acc + sizeOf(v.shape) * DEVICE_BYTES[v.dtype], 0) + d.scratchRead * 4,
        bytesWritten: (isFinal ? written * 4 : 0) + d.scratchWritten * 4,
      });
    }
    return true;
  }

  /** Buffers for a dispatch: one binding per distinct slot read, then one per written slot. */
  private bind(reads: readonly View[], writes: readonly { slot: number; dtype: DType }[]): { buffers: KernelBuffer[]; bindings: Binding[]; nameOf: (slot: number) => string } {
    const order: number[] = [];
    for (const v of reads) if (!order.includes(v.slot)) order.push(v.slot);
    const buffers: KernelBuffer[] = order.map((slot, i) => ({ name: `in${i}`, dtype: this.slots[slot].dtype, access: 'read' }));
    const bindings: Binding[] = order.map((slot) => ({ slot, access: 'read' }));
    writes.forEach((w, k) => {
      buffers.push({ name: writes.length === 1 ? 'out' : `out${k}`, dtype: w.dtype, access: 'read_write' });
      bindings.push({ slot: w.slot, access: 'read_write' });
    });
    const nameOf = (slot: number) => {
      const k = writes.findIndex((w) => w.slot === slot);
      return k >= 0 ? (writes.length === 1 ? 'out' : `out${k}`) : `in${order.indexOf(slot)}`;
    };
    return { buffers, bindings, nameOf };
  }



  /** generateElementwise through the kernel cache (the vec4 predicate keyed as which buffers it allows). */
  private elementwiseKernel(spec: ElementwiseSpec): ElementwiseKernel {
    const key = { ...spec, vec4: spec.vec4 ? spec.buffers.map((b) => spec.vec4!(b.name)) : undefined };
    return this.kernels.get('elementwise', key, () => generateElementwise(spec));
  }

  /** Whether reductions may combine through subgroup operations (the device has the feature). */
  private get subgroups(): boolean {
    return this.options.features?.subgroups === true;
  }

  /** The device's smallest subgroup size where subgroups are used (segmented row kernels), else unknown. */
  private get subgroupMinSize(): number | undefined {
    return this.subgroups ? this.options.features?.subgroupMinSize : undefined;
  }

  /**
   * Which of a dispatch's buffers an elementwise kernel may bind as array<vec4<T>>. Temps and outputs are
   * pooled device buffers (size classes of whole 256 bytes). Inputs are the arguments' buffers: those come
   * from the same pool, but only an input whose element count is a multiple of 4 is allowed, so the rule
   * does not depend on how the backend allocated it (an exact-size buffer still holds whole 16-byte groups).
   */
  private vec4Allowed(buffers: readonly KernelBuffer[], bindings: readonly Binding[]): (buffer: string) => boolean {
    return (name) => {
      const k = buffers.findIndex((b) => b.name === name);
      if (k < 0) return false;
      const slot = this.slots[bindings[k].slot];
      return slot.role !== 'input' || slot.size % 4 === 0;
    };
  }

  private emit(kernel: string, generated: GeneratedKernel, bindings: readonly Binding[], ir: IrText, reads: readonly View[], writtenElems: number, space: number, inPlace?: InPlaceVariant): void {
    if (space === 0) return; // nothing to compute: the result is empty
    this.dispatches.push({
      kernel,
      wgsl: generated.wgsl,
      entryPoint: generated.entryPoint,
      bindings,
      workgroups: generated.workgroups,
      // A getter: the IR is printed only when read (see irOf).
      get ir() {
        return ir();
      },
      bytesRead: reads.reduce((acc, v) => acc + sizeOf(v.shape) * DEVICE_BYTES[v.dtype], 0),
      bytesWritten: writtenElems * 4,
      ...(inPlace ? { inPlace } : {}),
    });
  }

  /**
   * The in-place variant of an elementwise kernel (see InPlaceVariant), for the first result that an operand
   * can take: a non-input slot of the result's dtype and element count, every load of which reads the very
   * element the thread stores (flat over the space, as the store is). Then no thread reads an element another
   * thread has overwritten. Whether the operand really dies here is for assign-buffers to decide.
   */
  private inPlaceVariant(spec: ElementwiseSpec, bindings: readonly Binding[]): InPlaceVariant | undefined {
    const n = sizeOf(spec.space);
    const loads = spec.expr.steps.filter((st) => st.kind === 'load');
    for (const store of spec.stores) {
      if (!isFlatAccess(store.access, spec.space)) continue;
      const w = spec.buffers.findIndex((b) => b.name === store.buffer);
      for (let r = 0; r < spec.buffers.length; r++) {
        const operand = spec.buffers[r];
        const slot = this.slots[bindings[r].slot];
        if (operand.access !== 'read' || slot.role === 'input' || slot.dtype !== spec.buffers[w].dtype || slot.size !== n) continue;
        if (this.slots[bindings[w].slot].size !== n) continue;
        const mine = loads.filter((st) => st.buffer === operand.name);
        if (mine.length === 0 || !mine.every((st) => isFlatAccess(st.access, spec.space))) continue;
        const buffers = spec.buffers.map((b, k) => (k === r ? { ...b, access: 'read_write' as const } : b)).filter((_, k) => k !== w);
        const stores = spec.stores.map((st) => (st === store ? { ...st, buffer: operand.name } : st));
        const variant = this.elementwiseKernel({ ...spec, buffers, stores });
        return {
          operandSlot: bindings[r].slot,
          resultSlot: bindings[w].slot,
          wgsl: variant.wgsl,
          bindings: bindings.map((b, k) => (k === r ? { ...b, access: 'read_write' as const, result: bindings[w].slot } : b)).filter((_, k) => k !== w),
        };
      }
    }
    return undefined;
  }

  private elementwise(node: Node): View {
    const loaded = node.inputs.filter((i) => !GENERATED.has(i.op)).map((i) => this.viewOf(i));
    const slot = this.newSlot(node.dtype, node.shape, 'temp');
    const { buffers, bindings, nameOf } = this.bind(loaded, [{ slot, dtype: node.dtype }]);
    const steps: ExprStep[] = node.inputs.map((i) =>
      GENERATED.has(i.op) ? leafStep(i, node.shape) : { kind: 'load', buffer: nameOf(this.viewOf(i).slot), dtype: i.dtype, access: accessIn(this.viewOf(i), node.shape) },
    );
    const own: Access = { offset: 0, strides: stridesOf(node.shape) };
    steps.push(GENERATED.has(node.op) ? leafStep(node, node.shape) : { kind: 'op', op: node.op, args: node.inputs.map((_, i) => i), attrs: kernelAttrs(node.attrs), dtype: node.dtype });
    const spec: ElementwiseSpec = {
      space: node.shape,
      expr: { steps },
      buffers,
      stores: [{ step: steps.length - 1, buffer: 'out', access: own }],
      vec4: this.vec4Allowed(buffers, bindings),
    };
    const generated = this.elementwiseKernel(spec);
    this.emit(`elementwise.${node.op}.${node.dtype}${vec4Suffix(generated)}`, generated, bindings, this.irOf([node]), loaded, sizeOf(node.shape), sizeOf(node.shape), this.inPlaceVariant(spec, bindings));
    return rowMajorView(slot, node.dtype, node.shape);
  }

  /** A row-major copy of a view that its consumer cannot read in place. */
  private materialize(node: Node, v: View): View {
    const slot = this.newSlot(v.dtype, v.shape, 'temp');
    const { buffers, bindings } = this.bind([v], [{ slot, dtype: v.dtype }]);
    const own: Access = { offset: 0, strides: stridesOf(v.shape) };
    const generated = this.elementwiseKernel({
      space: v.shape,
      expr: { steps: [{ kind: 'load', buffer: 'in0', dtype: v.dtype, access: accessIn(v, v.shape) }] },
      buffers,
      stores: [{ step: 0, buffer: 'out', access: own }],
      vec4: this.vec4Allowed(buffers, bindings),
    });
    this.emit(`copy.${v.dtype}${vec4Suffix(generated)}`, generated, bindings, this.irOf([node], 'copy of '), [v], sizeOf(v.shape), sizeOf(v.shape));
    return rowMajorView(slot, v.dtype, v.shape);
  }

  private concat(node: Node): View {
    const slot = this.newSlot(node.dtype, node.shape, 'temp');
    const axis = node.attrs.axis as number;
    const outStrides = stridesOf(node.shape);
    let start = 0;
    for (const input of node.inputs) {
      const v = this.viewOf(input);
      const { buffers, bindings } = this.bind([v], [{ slot, dtype: node.dtype }]);
      const generated = this.elementwiseKernel({
        space: v.shape,
        expr: { steps: [{ kind: 'load', buffer: 'in0', dtype: v.dtype, access: accessIn(v, v.shape) }] },
        buffers,
        stores: [{ step: 0, buffer: 'out', access: { offset: start * outStrides[axis], strides: outStrides } }],
        vec4: this.vec4Allowed(buffers, bindings),
      });
      this.emit(`concat.part.${node.dtype}${vec4Suffix(generated)}`, generated, bindings, this.irOf([node]), [v], sizeOf(v.shape), sizeOf(v.shape));
      start += input.shape[axis];
    }
    return rowMajorView(slot, node.dtype, node.shape);
  }

  /**
   * A reduction with nothing fused into it: the row kernel of one reduce stage (the program a fused group
   * of one reduction would make), split over several workgroups per row where its rows are few and long.
   */
  private reduce(node: Node): View {
    const x = node.inputs[0];
    const v = this.viewOf(x);
    const slot = this.newSlot(node.dtype, node.shape, 'temp');
    const { buffers, bindings } = this.bind([v], [{ slot, dtype: node.dtype }]);
    const axes = reducedAxes(node);
    const load: Expr = { steps: [{ kind: 'load', buffer: 'in0', dtype: v.dtype, access: accessIn(v, x.shape) }] };
    const spec: RowSpec = {
      inShape: x.shape,
      axes,
      stages: [{ kind: 'reduce', op: node.op as RowReduceOp, dtype: x.dtype, expr: load, step: 0, name: 'row0' }],
      rowStores: [{ name: 'row0', dtype: node.dtype, buffer: 'out', access: { offset: 0, strides: stridesOf(x.shape.map((d, i) => (axes.includes(i) ? 1 : d))) } }],
      map: null,
      buffers,
    };
    this.rows(`reduce.${node.op}.${x.dtype}`, spec, bindings, [v], this.irOf([node]), sizeOf(node.shape));
    return rowMajorView(slot, node.dtype, node.shape);
  }

  /** matmul and syrk: a product kernel with its plain store. */
  private matmul(node: Node): View {
    const prologues = node.inputs.map((_, i) => this.leafOperand(node, i));
    const reads = node.inputs.flatMap((x, i) => (prologues[i] ? [] : [this.viewOf(x)]));
    const slot = this.newSlot(node.dtype, node.shape, 'temp');
    const { buffers, bindings, nameOf } = this.bind(reads, [{ slot, dtype: node.dtype }]);
    const kernel = this.gemm(node, buffers, nameOf, slot, undefined, prologues);
    this.emitProduct(kernel.name, kernel, buffers, bindings, this.irOf([node]), reads, reads.length, sizeOf(node.shape));
    return rowMajorView(slot, node.dtype, node.shape);
  }

  /**
   * The dispatches of a product (src/shaders/matmul.ts planMatmul, syrk.ts planSyrk): usually one, named
   * `name`. With split K, a temp slot of partial sums, the product dispatch writing it (named after the
   * kernel, `.splitK<S>`) and the combine that adds the sums, runs the epilogue and stores the result,
   * which keeps `name`. `reads` are the operands' views (the first `operands`), then the epilogue's.
   */
  private emitProduct(name: string, kernel: { name: string; program: GemmProgram }, buffers: readonly KernelBuffer[], bindings: readonly Binding[], ir: IrText, reads: readonly View[], operands: number, outElems: number): void {
    const { program } = kernel;
    const temps = new Map(program.temps.map((t) => [t.name, rowMajorView(this.newSlot(t.dtype, [t.size], 'temp'), t.dtype, [t.size])]));
    program.dispatches.forEach((d, i) => {
      const last = i === program.dispatches.length - 1;
      const own: Binding[] = d.buffers.map((b) => {
        const t = temps.get(b.name);
        return t ? { slot: t.slot, access: b.access } : bindings[buffers.findIndex((x) => x.name === b.name)];
      });
      const tempReads = d.buffers.flatMap((b) => (temps.has(b.name) && b.access === 'read' ? [temps.get(b.name)!] : []));
      const tempWrites = d.buffers.reduce((acc, b) => acc + (temps.has(b.name) && b.access === 'read_write' ? temps.get(b.name)!.shape[0] : 0), 0);
      if (last) this.emit(name, d.kernel, own, ir, [...(program.dispatches.length > 1 ? reads.slice(operands) : reads), ...tempReads], outElems, outElems);
      else this.emit(`${kernel.name}.${program.variant.split('.').pop()}`, d.kernel, own, ir, reads.slice(0, operands), tempWrites, outElems);
    });
  }

  /** The product kernel (GEMM, or SYRK for one symmetric operand) of `node` writing `slot`, with an optional epilogue. */
  private gemm(node: Node, buffers: KernelBuffer[], nameOf: (slot: number) => string, slot: number, epilogue?: { expr: Expr; step: number }, prologues: readonly (OperandPrologue | undefined)[] = []) {
    const batch = node.shape.slice(0, -2);
    const [m, n] = node.shape.slice(-2);
    const k = node.inputs[0].shape[node.inputs[0].shape.length - (node.attrs.transA ? 2 : 1)];
    const batchRank = batch.length;
    const operand = (v: View | OperandPrologue, trans: boolean): MatrixOperand => {
      if ('expr' in v) return { buffer: '', offset: 0, batchStrides: new Array<number>(batchRank).fill(0), rowStride: 0, colStride: 0, prologue: v };
      const r = v.shape.length;
      const [rowStride, colStride] = trans ? [v.strides[r - 1], v.strides[r - 2]] : [v.strides[r - 2], v.strides[r - 1]];
      const batchAccess = accessIn({ ...v, shape: v.shape.slice(0, -2), strides: v.strides.slice(0, -2) }, batch);
      return { buffer: nameOf(v.slot), offset: v.offset, batchStrides: batchAccess.strides, rowStride, colStride };
    };
    const store = { buffer: nameOf(slot), access: { offset: 0, strides: stridesOf(node.shape) } };
    const dtype = node.dtype as 'float32' | 'int32';
    if (node.op === 'syrk') {
      const x = prologues[0] ?? this.viewOf(node.inputs[0]);
      const program = this.kernels.get('syrk', { dtype, batch, n, k, x: operand(x, node.attrs.transA === true), epilogue, buffers, store }, (spec) => planSyrk(spec));
      return { name: `syrk.${node.dtype}${node.attrs.transA ? '.tA' : ''}`, program };
    }
    const [a, b] = node.inputs.map((i, k) => prologues[k] ?? this.viewOf(i));
    const program = this.kernels.get('matmul', {
      dtype: node.dtype as 'float32' | 'int32',
      batch,
      m,
      n,
      k,
      a: operand(a, node.attrs.transA === true),
      b: operand(b, node.attrs.transB === true),
      epilogue,
      buffers,
      store,
    }, (spec) => planMatmul(spec));
    const flags = `${node.attrs.transA ? '.tA' : ''}${node.attrs.transB ? '.tB' : ''}`;
    return { name: `matmul.${node.dtype}${flags}`, program };
  }

}

/**
 * A dispatch's IR text, made when first asked for: most plans run without anyone reading their IR, and
 * printing every member of every kernel was a tenth of compiling a 1,000-node program.
 */
type IrText = () => string;

/** Prints nodes as lines of `order`'s graph, numbering the graph only when the first line is asked for. */
function lineNamer(order: readonly Node[]): (node: Node) => string {
  let names: Map<Node, number> | undefined;
  return (node) => printNode(node, (names ??= numberValues(order)));
}

/** The views without repeats (one value read by several members of a kernel). */
function distinctViews(views: readonly View[]): View[] {
  const seen = new Set<string>();
  return views.filter((v) => {
    const key = `${v.slot}:${v.offset}:${v.shape.join(',')}:${v.strides.join(',')}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** `.vec4` for the vec4 variant of an elementwise kernel (src/shaders/elementwise.ts), else nothing. */
function vec4Suffix(kernel: { readonly vec4: boolean }): string {
  return kernel.vec4 ? '.vec4' : '';
}

/** Whether `node` reaches `ancestor` through operand edges that stay inside `group`. */
function dependsOn(node: Node, ancestor: Node, group: ReadonlySet<Node>): boolean {
  const stack = [...node.inputs];
  const seen = new Set<Node>();
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (n === ancestor) return true;
    if (seen.has(n) || !group.has(n)) continue;
    seen.add(n);
    stack.push(...n.inputs);
  }
  return false;
}

/** An expression over [..., rows, cols] re-expressed over [..., cols, rows]: every access's last two strides swapped. */
/** The nodes of `members` (in their order) that `roots` reach through members of `within` only. */
function reachedWithin(roots: readonly Node[], members: readonly Node[], within: ReadonlySet<Node>): Node[] {
  const want = new Set<Node>();
  const stack = [...roots];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (!within.has(n) || want.has(n)) continue;
    want.add(n);
    stack.push(...n.inputs);
  }
  return members.filter((n) => want.has(n));
}

/** The space a product's operand `i` is computed over: its own [...batch, rows, cols] with the product's batch. */
function operandSpace(product: Node, i: number): Shape {
  return [...product.shape.slice(0, -2), ...product.inputs[i].shape.slice(-2)];
}

/** An expression over operandSpace as a prologue over the operand's logical matrix (the last two strides swapped under a trans flag). */
function operandPrologue(product: Node, i: number, expr: Expr, step: number): OperandPrologue {
  return { expr: product.attrs[i === 0 ? 'transA' : 'transB'] === true ? transposedExpr(expr) : expr, step };
}

function transposedExpr(expr: Expr): Expr {
  const swap = (a: Access): Access => {
    const s = [...a.strides];
    const r = s.length;
    [s[r - 2], s[r - 1]] = [s[r - 1], s[r - 2]];
    return { offset: a.offset, strides: s };
  };
  return {
    steps: expr.steps.map((st) => {
      if (st.kind === 'load') return { ...st, access: swap(st.access) };
      if (st.kind === 'op' && st.leaf) return { ...st, leaf: { ...st.leaf, access: swap(st.leaf.access) } };
      return st;
    }),
  };
}

/** Leaves computed from their index alone: cheaper to recompute in each consumer than to store and load. */
const GENERATED = new Set(['const', 'iota', 'rand']);

/** A generated leaf as an expression step over the index space `space` it is broadcast into. */
function leafStep(leaf: Node, space: Shape): ExprStep {
  const access = accessIn(rowMajorView(-1, leaf.dtype, leaf.shape), space);
  return { kind: 'op', op: leaf.op, args: [], attrs: kernelAttrs(leaf.attrs), dtype: leaf.dtype, leaf: { shape: leaf.shape, access } };
}

function isReduction(n: Node): boolean {
  const kind = OPS[n.op].kind;
  return kind === 'reduce' || kind === 'argreduce';
}

/** The sorted, non-negative reduced axes of a reduction node. */
function reducedAxes(n: Node): number[] {
  const rank = n.inputs[0].shape.length;
  const raw = n.op === 'argmax' || n.op === 'argmin' ? [n.attrs.axis as number] : (n.attrs.axes as number[]);
  return raw.map((a) => normalize(a, rank)).sort((a, b) => a - b);
}

function normalize(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}
