// Segmented rows: a layout of the unsplit row kernel (row.ts) for many short rows along the innermost axes,
// the "warp per row" design of PyTorch's and OneFlow's softmax and layer norm. A workgroup of 256 threads
// holds 256 / T rows, T threads per row (a power of two up to 32): thread lid works on row slot lid / T as
// lane lid % T, keeping its share of the row in registers (the row cache, with T threads per row). Each
// reduction is a butterfly over the row's lanes: subgroupShuffleXor with masks T/2 .. 1 leaves the row value
// in every lane, with no workgroup memory and no barrier.
// - The butterfly needs a row's lanes to be lanes of one subgroup in the order of the local index: every
//   subgroup an aligned block of consecutive local indices (subgroupCheck), subgroup_invocation_id equal to
//   lid % sg_size, and sg_size >= T. Implementations lay subgroups out so, WGSL does not promise it: a
//   workgroup where the check fails combines each row in a tree in workgroup memory (segmentTree). The
//   choice asks for T <= the device's smallest subgroup size (GPUAdapterInfo.subgroupMinSize), so the tree
//   is the exception.
// - Exact semantics as the other layouts: max/min of floats through the NaN-propagating row_max/row_min
//   (never subgroupMax, which leaves NaN to the implementation), argmax/argmin through the same first-index
//   comparison. A butterfly gives every lane the same bits: sums and products are commutative, the pairs
//   of arg reductions are totally ordered, and float max/min take (lower lane, upper lane) in that order
//   (max(-0, +0) may depend on it).
// - Row slots past the last row (the last workgroup of a row count that is not a multiple of 256 / T) read
//   the last row (in bounds), take part in every shuffle and barrier, and store nothing.
import type { DType } from '../ir/dtype.js';
import { workgroupTree, type Accumulator, type RowReduceOp, type RowSpec, type RowTuning } from './row.js';
import { indent } from './wgsl.js';

/** Threads per workgroup of a segmented row kernel. */
export const SEGMENT_WORKGROUP = 256;

/** The entry point parameter the butterfly's check reads. */
export const SUBGROUP_ID_BUILTIN = '@builtin(subgroup_invocation_id) sg_id: u32';

export interface SegmentOptions {
  /** The device has 'subgroups' (the butterfly's shuffles). */
  readonly subgroups?: boolean;
  /** GPUAdapterInfo.subgroupMinSize; undefined (unknown) turns segmented rows off. */
  readonly subgroupMinSize?: number;
}

/**
 * Threads per row of a segmented row kernel, or 0 for another layout. T is the tuning's segmentThreads, and
 * for short rows (at most serialRow elements, otherwise one thread's) extent / shortRowValues rounded down
 * to a power of two, at most segmentThreads, where that is 2 or more. Segmented when T is on and at most the
 * device's smallest subgroup size, the reduced axes are the innermost (each row is one run of the input
 * space), rows are many (segmentMinRows) and short (at most T * segmentMaxValuesPerThread).
 */
export function rowSegmentThreads(spec: RowSpec, rows: number, extent: number, t: RowTuning, options: SegmentOptions): number {
  if (t.segmentThreads === 0) return 0;
  if (!Number.isInteger(t.segmentThreads) || t.segmentThreads < 2 || t.segmentThreads > 32 || (t.segmentThreads & (t.segmentThreads - 1)) !== 0) {
    throw new Error(`row tuning: segmentThreads ${t.segmentThreads} must be 0 or a power of two from 2 to 32`);
  }
  const short = extent <= t.serialRow;
  const lanes = !short ? t.segmentThreads : t.shortRowValues > 0 ? Math.min(t.segmentThreads, 2 ** Math.floor(Math.log2(Math.max(1, extent / t.shortRowValues)))) : 0;
  if (lanes < 2) return 0;
  if (options.subgroups !== true || options.subgroupMinSize === undefined || lanes > options.subgroupMinSize) return 0;
  const { inShape, axes } = spec;
  const innermost = axes.every((a, k) => a === inShape.length - axes.length + k);
  if (!innermost || rows === 0 || rows < t.segmentMinRows || extent > lanes * t.segmentMaxValuesPerThread) return 0;
  return lanes;
}

/** The names the segmented kernel declares: this thread's lane in its row, and whether its row slot holds a row. */
export const SEGMENT_LANE = 'seg_lane';
export const SEGMENT_LIVE = 'seg_live';

/**
 * The kernel's prologue (in uniform control flow, after the check): `seg_lane`, `o` (this thread's row, the
 * last one for idle slots) and, where the last workgroup has idle slots, `seg_live`. `first` is the
 * workgroup's first row.
 */
export function segmentPrologue(lanes: number, rows: number, first: string): string[] {
  const slot = `${first} + lid / ${lanes}u`;
  return [
    `let ${SEGMENT_LANE} = lid % ${lanes}u;`,
    ...(rows % (SEGMENT_WORKGROUP / lanes) === 0
      ? [`let o = ${slot};`]
      : [`let seg_slot = ${slot};`, `let ${SEGMENT_LIVE} = seg_slot < ${rows}u;`, `let o = min(seg_slot, ${rows - 1}u);`]),
  ];
}

export interface SegmentCombineSpec {
  readonly op: RowReduceOp;
  readonly dtype: DType;
  readonly acc: Accumulator;
  readonly lanes: number;
  /** This thread's partial result (a var; `${value}_i` its index for arg*), overwritten by the butterfly. */
  readonly value: string;
  /** The row value's var (and `${result}_i`), declared here. */
  readonly result: string;
  /** Butterflies where the subgroups allow (the check's `sg_mapped`); false: the tree only. */
  readonly shuffles: boolean;
}

/**
 * Declares `result` and leaves the row's value in it in every lane: the butterfly where `sg_mapped`, else the
 * tree in workgroup memory (arrays declared in `shared`).
 */
export function segmentCombine(shared: Map<string, string>, spec: SegmentCombineSpec): string[] {
  const { acc, result } = spec;
  const isArg = spec.op === 'argmax' || spec.op === 'argmin';
  const declare = [`var ${result}: ${acc.type};`, ...(isArg ? [`var ${result}_i: u32;`] : [])];
  const tree = segmentTree(shared, spec);
  if (!spec.shuffles) return [...declare, ...tree];
  return [...declare, 'if (sg_mapped) {', ...indent([...butterfly(spec), `${result} = ${spec.value};`, ...(isArg ? [`${result}_i = ${spec.value}_i;`] : [])]), '} else {', ...indent(tree), '}'];
}

/** The butterfly over the row's lanes, masks lanes/2 .. 1, combining into `value` in place. */
function butterfly({ op, dtype, acc, lanes, value }: SegmentCombineSpec): string[] {
  const out: string[] = [];
  for (let mask = lanes >> 1; mask >= 1; mask >>= 1) {
    const other = `subgroupShuffleXor(${value}, ${mask}u)`;
    if (op === 'argmax' || op === 'argmin') {
      out.push(
        '{',
        `  let seg_v = ${other};`,
        `  let seg_i = subgroupShuffleXor(${value}_i, ${mask}u);`,
        `  if (${acc.better}(seg_v, seg_i, ${value}, ${value}_i)) {`,
        `    ${value} = seg_v;`,
        `    ${value}_i = seg_i;`,
        '  }',
        '}',
      );
    } else if (dtype === 'float32' && (op === 'max' || op === 'min')) {
      // (lower lane, upper lane) in every lane of the pair: the same bits even for max(-0, +0).
      out.push(
        '{',
        `  let seg_v = ${other};`,
        `  let seg_up = (${SEGMENT_LANE} & ${mask}u) != 0u;`,
        `  ${value} = ${acc.combine(`select(${value}, seg_v, seg_up)`, `select(seg_v, ${value}, seg_up)`)};`,
        '}',
      );
    } else out.push(`${value} = ${acc.combine(value, other)};`);
  }
  return out;
}

/**
 * Each row's tree in workgroup memory: the row's lanes are entries lid - seg_lane .. + lanes - 1 of the
 * arrays; halving strides from lanes / 2, barriers in uniform control flow (every thread, idle slots too).
 */
function segmentTree(shared: Map<string, string>, { op, acc, lanes, value, result }: SegmentCombineSpec): string[] {
  const isArg = op === 'argmax' || op === 'argmin';
  const { vals, tree } = workgroupTree(shared, acc, isArg, SEGMENT_WORKGROUP, value, SEGMENT_LANE, lanes);
  return [
    ...tree,
    `${result} = ${vals}[lid - ${SEGMENT_LANE}];`,
    ...(isArg ? [`${result}_i = wg_idx[lid - ${SEGMENT_LANE}];`] : []),
    // Every thread has read its row's value before the next reduction reuses the arrays.
    'workgroupBarrier();',
  ];
}

