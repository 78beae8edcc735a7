// Lowering: a graph becomes a plan of WGSL dispatches. Each compute node is one dispatch here; layout ops
// become views (no dispatch) wherever strides can express them; the fusion passes hand this code larger
// groups through the same kernel generators (an Expr per kernel), so nothing here is unfused-only.
import type { DType } from '../ir/dtype.js';
import type { Graph } from '../ir/graph.js';
import { topoOrder } from '../ir/graph.js';
import { structuralHash } from '../ir/hash.js';
import type { Node } from '../ir/node.js';
import { isElementwise, OPS } from '../ir/ops.js';
import { printNode, numberValues } from '../ir/printer.js';
import { sizeOf, stridesOf, type Shape } from '../ir/shape.js';
import { generateElementwise, type GeneratedKernel, type KernelBuffer } from '../shaders/elementwise.js';
import type { Access, ExprStep } from '../shaders/expr.js';
import { generateMatmul } from '../shaders/matmul.js';
import { generateReduce } from '../shaders/reduce.js';
import { DEVICE_BYTES } from '../shaders/wgsl.js';
import type { Binding, Dispatch, Plan, Slot } from './plan.js';
import { accessIn, layoutView, rowMajorView, type View } from './view.js';

/** How an argument lies in its buffer, when it is a view rather than a plain row-major tensor. */
export interface InputLayout {
  readonly offset: number;
  readonly strides: readonly number[];
}

export interface LowerOptions {
  /** Per graph input: its layout in the bound buffer (null or absent: row-major from offset 0). */
  readonly inputLayouts?: readonly (InputLayout | null)[];
}

export function lowerGraph(graph: Graph, options: LowerOptions = {}): Plan {
  return new Lowering(graph, options).run();
}

/** The part of a plan's cache key that depends on how arguments are laid out (empty when all are plain). */
export function layoutKey(layouts: readonly (InputLayout | null)[]): string {
  if (layouts.every((l) => !l)) return '';
  return layouts.map((l) => (l ? `${l.offset}:${l.strides.join(',')}` : '-')).join('|');
}

class Lowering {
  private readonly slots: Slot[] = [];
  private readonly dispatches: Dispatch[] = [];
  private readonly views = new Map<Node, View>();
  private readonly names: Map<Node, number>;

  constructor(
    private readonly graph: Graph,
    private readonly options: LowerOptions,
  ) {
    this.names = numberValues(topoOrder(graph.outputs));
  }

  run(): Plan {
    const inputSlots = this.graph.inputs.map((node, i) => {
      const slot = this.newSlot(node.dtype, node.shape, 'input');
      const layout = this.options.inputLayouts?.[i];
      this.views.set(node, layout ? { slot, dtype: node.dtype, shape: node.shape, offset: layout.offset, strides: layout.strides } : rowMajorView(slot, node.dtype, node.shape));
      return slot;
    });
    for (const node of topoOrder(this.graph.outputs)) {
      if (!this.views.has(node)) this.views.set(node, this.lowerNode(node));
    }
    const outputs = this.graph.outputs.map((node) => {
      const v = this.views.get(node)!;
      const slot = this.slots[v.slot];
      if (slot.role === 'temp') this.slots[v.slot] = { ...slot, role: 'output' };
      return { slot: v.slot, shape: v.shape, offset: v.offset, strides: v.strides };
    });
    return { key: structuralHash(this.graph), slots: this.slots, inputSlots, outputs, dispatches: this.dispatches };
  }

  private newSlot(dtype: DType, shape: Shape, role: Slot['role'], size = sizeOf(shape)): number {
    this.slots.push({ index: this.slots.length, dtype, size, role });
    return this.slots.length - 1;
  }

  private lowerNode(node: Node): View {
    const kind = OPS[node.op].kind;
    if (kind === 'leaf' || isElementwise(node.op)) return this.elementwise(node);
    if (kind === 'layout') {
      if (node.op === 'concat') return this.concat(node);
      const operand = this.views.get(node.inputs[0])!;
      return layoutView(node, operand) ?? layoutView(node, this.materialize(node.inputs[0], operand))!;
    }
    if (kind === 'reduce' || kind === 'argreduce') return this.reduce(node);
    if (kind === 'matmul') return this.matmul(node);
    throw new Error(`internal: no lowering for ${node.op}`);
  }

  private line(node: Node): string {
    return printNode(node, this.names);
  }

  /** Buffers for a dispatch: one binding per distinct slot read, then the written slot. */
  private buffers(reads: readonly View[], written: { slot: number; dtype: DType }): { buffers: KernelBuffer[]; bindings: Binding[]; nameOf: (slot: number) => string } {
    const order: number[] = [];
    for (const v of reads) if (!order.includes(v.slot)) order.push(v.slot);
    const buffers: KernelBuffer[] = order.map((slot, i) => ({ name: `in${i}`, dtype: this.slots[slot].dtype, access: 'read' }));
    const bindings: Binding[] = order.map((slot) => ({ slot, access: 'read' }));
    buffers.push({ name: 'out', dtype: written.dtype, access: 'read_write' });
    bindings.push({ slot: written.slot, access: 'read_write' });
    const nameOf = (slot: number) => (slot === written.slot ? 'out' : `in${order.indexOf(slot)}`);
    return { buffers, bindings, nameOf };
  }

  private emit(kernel: string, generated: GeneratedKernel, bindings: Binding[], ir: string, reads: readonly View[], writtenElems: number, space: number): void {
    if (space === 0) return; // nothing to compute: the result is empty
    this.dispatches.push({
      kernel,
      wgsl: generated.wgsl,
      entryPoint: generated.entryPoint,
      bindings,
      workgroups: generated.workgroups,
      ir,
      bytesRead: reads.reduce((acc, v) => acc + sizeOf(v.shape) * DEVICE_BYTES[v.dtype], 0),
      bytesWritten: writtenElems * 4,
    });
  }

  private elementwise(node: Node): View {
    const operands = node.inputs.map((i) => this.views.get(i)!);
    const slot = this.newSlot(node.dtype, node.shape, 'temp');
    const { buffers, bindings, nameOf } = this.buffers(operands, { slot, dtype: node.dtype });
    const steps: ExprStep[] = operands.map((v) => ({ kind: 'load', buffer: nameOf(v.slot), dtype: v.dtype, access: accessIn(v, node.shape) }));
    const own: Access = { offset: 0, strides: stridesOf(node.shape) };
    steps.push({
      kind: 'op',
      op: node.op,
      args: operands.map((_, i) => i),
      attrs: node.attrs,
      dtype: node.dtype,
      ...(node.op === 'iota' || node.op === 'rand' ? { leaf: { shape: node.shape, access: own } } : {}),
    });
    const generated = generateElementwise({ space: node.shape, expr: { steps }, buffers, stores: [{ step: steps.length - 1, buffer: 'out', access: own }] });
    this.emit(`elementwise.${node.op}.${node.dtype}`, generated, bindings, this.line(node), operands, sizeOf(node.shape), sizeOf(node.shape));
    return rowMajorView(slot, node.dtype, node.shape);
  }

  /** A row-major copy of a view that its consumer cannot read in place. */
  private materialize(node: Node, v: View): View {
    const slot = this.newSlot(v.dtype, v.shape, 'temp');
    const { buffers, bindings } = this.buffers([v], { slot, dtype: v.dtype });
    const own: Access = { offset: 0, strides: stridesOf(v.shape) };
    const generated = generateElementwise({
      space: v.shape,
      expr: { steps: [{ kind: 'load', buffer: 'in0', dtype: v.dtype, access: accessIn(v, v.shape) }] },
      buffers,
      stores: [{ step: 0, buffer: 'out', access: own }],
    });
    this.emit(`copy.${v.dtype}`, generated, bindings, `copy of ${this.line(node)}`, [v], sizeOf(v.shape), sizeOf(v.shape));
    return rowMajorView(slot, v.dtype, v.shape);
  }

  private concat(node: Node): View {
    const slot = this.newSlot(node.dtype, node.shape, 'temp');
    const axis = node.attrs.axis as number;
    const outStrides = stridesOf(node.shape);
    let start = 0;
    for (const input of node.inputs) {
      const v = this.views.get(input)!;
      const { buffers, bindings } = this.buffers([v], { slot, dtype: node.dtype });
      const generated = generateElementwise({
        space: v.shape,
        expr: { steps: [{ kind: 'load', buffer: 'in0', dtype: v.dtype, access: accessIn(v, v.shape) }] },
        buffers,
        stores: [{ step: 0, buffer: 'out', access: { offset: start * outStrides[axis], strides: outStrides } }],
      });
      this.emit(`concat.part.${node.dtype}`, generated, bindings, this.line(node), [v], sizeOf(v.shape), sizeOf(v.shape));
      start += input.shape[axis];
    }
    return rowMajorView(slot, node.dtype, node.shape);
  }

  private reduce(node: Node): View {
    const x = node.inputs[0];
    const v = this.views.get(x)!;
    const slot = this.newSlot(node.dtype, node.shape, 'temp');
    const { buffers, bindings } = this.buffers([v], { slot, dtype: node.dtype });
    const rank = x.shape.length;
    const axes = node.op === 'argmax' || node.op === 'argmin' ? [normalize(node.attrs.axis as number, rank)] : (node.attrs.axes as number[]).map((a) => normalize(a, rank)).sort((a, b) => a - b);
    const kept = x.shape.filter((_, i) => !axes.includes(i));
    const generated = generateReduce({
      op: node.op as 'sum' | 'prod' | 'max' | 'min' | 'argmax' | 'argmin',
      inShape: x.shape,
      axes,
      input: { steps: [{ kind: 'load', buffer: 'in0', dtype: v.dtype, access: accessIn(v, x.shape) }] },
      inputStep: 0,
      buffers,
      store: { buffer: 'out', access: { offset: 0, strides: stridesOf(kept) } },
    });
    this.emit(`reduce.${node.op}.${x.dtype}`, generated, bindings, this.line(node), [v], sizeOf(node.shape), sizeOf(node.shape));
    return rowMajorView(slot, node.dtype, node.shape);
  }

  private matmul(node: Node): View {
    const [a, b] = node.inputs.map((i) => this.views.get(i)!);
    const slot = this.newSlot(node.dtype, node.shape, 'temp');
    const { buffers, bindings, nameOf } = this.buffers([a, b], { slot, dtype: node.dtype });
    const batch = node.shape.slice(0, -2);
    const [m, n] = node.shape.slice(-2);
    const k = node.inputs[0].shape[node.inputs[0].shape.length - (node.attrs.transA ? 2 : 1)];
    const operand = (v: View, trans: boolean) => {
      const r = v.shape.length;
      const [rowStride, colStride] = trans ? [v.strides[r - 1], v.strides[r - 2]] : [v.strides[r - 2], v.strides[r - 1]];
      const batchAccess = accessIn({ ...v, shape: v.shape.slice(0, -2), strides: v.strides.slice(0, -2) }, batch);
      return { buffer: nameOf(v.slot), offset: v.offset, batchStrides: batchAccess.strides, rowStride, colStride };
    };
    const generated = generateMatmul({
      dtype: node.dtype as 'float32' | 'int32',
      batch,
      m,
      n,
      k,
      a: operand(a, node.attrs.transA === true),
      b: operand(b, node.attrs.transB === true),
      buffers,
      store: { buffer: 'out', access: { offset: 0, strides: stridesOf(node.shape) } },
    });
    const flags = `${node.attrs.transA ? '.tA' : ''}${node.attrs.transB ? '.tB' : ''}`;
    this.emit(`matmul.${node.dtype}${flags}`, generated, bindings, this.line(node), [a, b], sizeOf(node.shape), sizeOf(node.shape));
    return rowMajorView(slot, node.dtype, node.shape);
  }
}

function normalize(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}
