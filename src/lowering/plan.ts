// A plan is data: the ordered dispatches that compute a graph, with buffers named by plan-level slots.
// The runtime only executes plans; `wg.compile` returns them for inspection and dump-ir prints them.
import type { DType } from '../ir/dtype.js';
import type { Shape } from '../ir/shape.js';

export interface Slot {
  readonly index: number;
  readonly dtype: DType;
  /** Elements; the device buffer holds at least this many (4 bytes each, bool included). */
  readonly size: number;
  /** input: bound to an argument; output: handed to the caller; temp: lives within one evaluation. */
  readonly role: 'input' | 'output' | 'temp';
}

export interface Binding {
  readonly slot: number;
  readonly access: 'read' | 'read_write';
  /**
   * In place (see InPlaceVariant): the dispatch also writes this slot's value through the binding, over
   * `slot`'s; the two slots share one buffer.
   */
  readonly result?: number;
}

export interface Dispatch {
  /** A readable name: kernel family and specialisation, e.g. `elementwise.add.f32` or `matmul.64x64.tB`. */
  readonly kernel: string;
  readonly wgsl: string;
  readonly entryPoint: string;
  /** `@group(0) @binding(i)` is `bindings[i]`. */
  readonly bindings: readonly Binding[];
  readonly workgroups: readonly [number, number, number];
  /** The IR this dispatch computes, in the text format (one line per node). */
  readonly ir: string;
  readonly bytesRead: number;
  readonly bytesWritten: number;
  /**
   * The same computation storing its result through an operand's binding, where assign-buffers may run it
   * in place: set only where each thread reads that operand at exactly the element it writes.
   */
  readonly inPlace?: InPlaceVariant;
}

/**
 * An elementwise kernel that writes one result over one of its operands. WebGPU forbids binding a buffer
 * twice in a dispatch when one binding is writable, so the variant loads and stores through ONE read_write
 * binding: `bindings` is the dispatch's list with the operand's binding made read_write (naming the result
 * slot) and the result's binding removed. assign-buffers picks it when the operand's slot dies at this dispatch and is a temp of the
 * result's dtype and size; the result's slot then shares the operand's buffer.
 */
export interface InPlaceVariant {
  /** Slots of the operand overwritten and of the result written over it. */
  readonly operandSlot: number;
  readonly resultSlot: number;
  readonly wgsl: string;
  readonly bindings: readonly Binding[];
}

/** How an output or a view reads its slot: offset and strides in elements, as the tensor's shape. */
export interface SlotView {
  readonly slot: number;
  readonly shape: Shape;
  readonly offset: number;
  readonly strides: readonly number[];
}

/** Which device buffer each slot uses: slots whose lifetimes do not overlap share one (assign-buffers). */
export interface MemoryPlan {
  /** Bytes of each buffer the evaluation allocates (temps and outputs; inputs are the arguments). */
  readonly buffers: readonly number[];
  /** Per slot: its index in `buffers`, or -1 for input slots. */
  readonly slotBuffer: readonly number[];
  /** Sum of `buffers`: device memory the evaluation holds at its peak. */
  readonly peakBytes: number;
  /** What one buffer per temp and output slot would take. */
  readonly bytesWithoutReuse: number;
  /** The most bytes of temp and output slots live at one dispatch: no assignment can use less. */
  readonly lowerBound: number;
}

export interface Plan {
  readonly slots: readonly Slot[];
  /** The slot bound to each graph input, in order. */
  readonly inputSlots: readonly number[];
  /** Where each graph output lives: a contiguous output slot, or a view of an input slot (zero-copy). */
  readonly outputs: readonly SlotView[];
  readonly dispatches: readonly Dispatch[];
  /** Set by assign-buffers; without it every temp and output slot gets its own buffer. */
  readonly memory?: MemoryPlan;
}
