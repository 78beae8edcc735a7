// Reductions (sum prod max min over a set of axes) and arg-reductions (argmax argmin over one axis).
// The reduced axes are permuted to the end, so each output element reduces one contiguous row. keepdims only
// inserts size-1 axes, which changes no row-major data, so it plays no part here.
import { typedArrayFor, type TypedArray } from '../../ir/dtype.js';
import { VerifyError } from '../../ir/errors.js';
import type { Node } from '../../ir/node.js';
import { normalizeAxes, normalizeAxis, sizeOf } from '../../ir/shape.js';
import { permute } from './strided.js';

interface Reducer {
  readonly init: number;
  readonly step: (acc: number, x: number) => number;
}

// Floats accumulate in f64 and round once on store; i32 wraps at every step. Math.max/min propagate NaN, and
// on bool 0/1 they are any/all.
const FLOAT_REDUCERS: Readonly<Record<string, Reducer>> = {
  sum: { init: 0, step: (acc, x) => acc + x },
  prod: { init: 1, step: (acc, x) => acc * x },
  max: { init: -Infinity, step: Math.max },
  min: { init: Infinity, step: Math.min },
};

const INT_REDUCERS: Readonly<Record<string, Reducer>> = {
  sum: { init: 0, step: (acc, x) => (acc + x) | 0 },
  prod: { init: 1, step: Math.imul },
  max: FLOAT_REDUCERS.max,
  min: FLOAT_REDUCERS.min,
};

/** `x` permuted so `moved` (sorted) are the last axes; returns the data and the length of one row. */
function rowsOver(node: Node, x: TypedArray, moved: readonly number[]): { data: TypedArray; rowLength: number } {
  const shape = node.inputs[0].shape;
  const kept = shape.map((_, i) => i).filter((i) => !moved.includes(i));
  return { data: permute(x, shape, [...kept, ...moved]), rowLength: sizeOf(moved.map((a) => shape[a])) };
}

export function evalReduce(node: Node, [x]: readonly TypedArray[]): TypedArray {
  const reducer = (node.dtype === 'float32' ? FLOAT_REDUCERS : INT_REDUCERS)[node.op];
  if (reducer === undefined) throw new VerifyError(`cpu: ${node.op} is not a reduction`);
  const axes = normalizeAxes(node.attrs.axes as readonly number[], node.inputs[0].shape.length, node.op);
  const { data, rowLength } = rowsOver(node, x, axes);
  const out = typedArrayFor(node.dtype, sizeOf(node.shape));
  const { init, step } = reducer;
  for (let r = 0, base = 0; r < out.length; r++, base += rowLength) {
    let acc = init;
    for (let j = 0; j < rowLength; j++) acc = step(acc, data[base + j]);
    out[r] = acc;
  }
  return out;
}

/** Index of the first max (argmax) or min (argmin) along `axis`; the first NaN wins, as in NumPy. */
export function evalArgReduce(node: Node, [x]: readonly TypedArray[]): TypedArray {
  const isMax = node.op === 'argmax';
  const axis = normalizeAxis(node.attrs.axis, node.inputs[0].shape.length, node.op);
  const { data, rowLength } = rowsOver(node, x, [axis]);
  const out = new Int32Array(sizeOf(node.shape));
  for (let r = 0, base = 0; r < out.length; r++, base += rowLength) {
    let best = data[base];
    let bestIndex = 0;
    for (let j = 1; j < rowLength && best === best; j++) {
      const v = data[base + j];
      if (v !== v || (isMax ? v > best : v < best)) {
        best = v;
        bestIndex = j;
      }
    }
    out[r] = bestIndex;
  }
  return out;
}
