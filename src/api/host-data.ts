// Conversions between user data (numbers, booleans, nested arrays, typed arrays) and flat typed arrays.
import { coerce, dtypeOfTypedArray, isDType, typedArrayFor, type DType, type TypedArray } from '../ir/dtype.js';
import { ArgumentError, DTypeError, ShapeError } from '../ir/errors.js';
import { checkShape, describe, fmtShape, sizeOf, type Shape } from '../ir/shape.js';

export type NestedArray = number | boolean | readonly NestedArray[];
export type TensorData = NestedArray | TypedArray;

export interface HostValue {
  readonly data: TypedArray;
  readonly shape: Shape;
  readonly dtype: DType;
}

/** Parses user data for `wg.tensor`, checking raggedness, element types, length and dtype. */
export function hostValue(data: TensorData, shape?: readonly number[], dtype?: DType): HostValue {
  if (dtype !== undefined && !isDType(dtype)) {
    throw new DTypeError(`tensor: dtype must be 'float32', 'int32' or 'bool', got ${describe(dtype)}`);
  }
  let flat: ArrayLike<number>;
  let inferredShape: Shape;
  let inferredDType: DType;
  if (ArrayBuffer.isView(data)) {
    if (!(data instanceof Float32Array || data instanceof Int32Array || data instanceof Uint8Array)) {
      throw new ArgumentError(`tensor: typed array data must be Float32Array, Int32Array or Uint8Array, got ${(data as ArrayBufferView).constructor.name}`);
    }
    flat = data;
    inferredShape = [data.length];
    inferredDType = dtypeOfTypedArray(data);
  } else if (typeof data === 'number' || typeof data === 'boolean') {
    flat = [Number(data)];
    inferredShape = [];
    inferredDType = typeof data === 'boolean' ? 'bool' : 'float32';
  } else if (Array.isArray(data)) {
    const nested = flattenNested(data);
    flat = nested.values;
    inferredShape = nested.shape;
    inferredDType = nested.allBool && nested.values.length > 0 ? 'bool' : 'float32';
  } else {
    throw new ArgumentError(`tensor: data must be a number, a boolean, a nested array or a typed array, got ${describe(data)}`);
  }
  let finalShape = inferredShape;
  if (shape !== undefined) {
    finalShape = checkShape(shape, 'tensor');
    if (sizeOf(finalShape) !== flat.length) {
      throw new ShapeError(`tensor: data has ${flat.length} element(s) but shape ${fmtShape(finalShape)} needs ${sizeOf(finalShape)}`);
    }
  }
  const finalDType = dtype ?? inferredDType;
  return { data: toTypedArray(flat, finalDType, finalShape), shape: [...finalShape], dtype: finalDType };
}

function toTypedArray(values: ArrayLike<number>, dtype: DType, shape: Shape): TypedArray {
  const out = typedArrayFor(dtype, values.length);
  if (dtype === 'int32' && !(values instanceof Int32Array)) {
    for (let i = 0; i < values.length; i++) {
      if (!int32Holds(values[i])) {
        throw new DTypeError(`tensor: element ${i}${shape.length > 1 ? ` (data${unravel(i, shape)})` : ''} is ${values[i]}, which int32 cannot hold ${INT32_RULE}`);
      }
    }
  }
  // Storing into a Float32Array rounds as Math.fround, and into an Int32Array truncates toward zero as
  // coerce does for the values checked above: one bulk copy (a per-element loop took 0.35 s for 164 MB).
  // Bool needs coerce's `!== 0`.
  if (dtype !== 'bool') out.set(values);
  else for (let i = 0; i < values.length; i++) out[i] = coerce(values[i], dtype);
  return out;
}

/** What int32 data may be, for messages: the values that `int32Holds` accepts. */
export const INT32_RULE = '(a finite number in [-2147483648, 2147483647]; fractions are truncated toward zero, as NumPy and PyTorch do)';

/**
 * True when `v` stores in int32 without saturating or turning into 0: finite, and within the int32 range once
 * truncated toward zero. NaN, infinities and out-of-range values are rejected rather than silently clamped.
 */
export function int32Holds(v: number): boolean {
  return Number.isFinite(v) && Math.trunc(v) >= -2147483648 && Math.trunc(v) <= 2147483647;
}

function unravel(flat: number, shape: Shape): string {
  const idx: number[] = [];
  for (let a = shape.length - 1; a >= 0; a--) {
    idx.unshift(flat % shape[a]);
    flat = Math.floor(flat / shape[a]);
  }
  return idx.map((i) => `[${i}]`).join('');
}

/**
 * Flattens nested arrays row-major, checking that every level has the length of the first (no ragged or sparse
 * arrays: a hole reads as undefined and is rejected) and that every element is a number or a boolean. Iterative,
 * so absurdly deep nesting is an error message, not a stack overflow.
 */
function flattenNested(data: readonly NestedArray[]): { values: number[]; shape: number[]; allBool: boolean } {
  const shape: number[] = [];
  for (let level: unknown = data; Array.isArray(level); level = (level as readonly unknown[])[0]) {
    shape.push(level.length);
    if (level.length === 0) break;
  }
  const rank = shape.length;
  const values: number[] = [];
  let allBool = true;
  // frames[d] is the array at depth d being walked; `next` is the index of its next element.
  const frames: { arr: readonly unknown[]; next: number }[] = [{ arr: data, next: 0 }];
  const path = () => `data${frames.map((f) => `[${f.next - 1}]`).join('')}`;
  while (frames.length > 0) {
    const top = frames[frames.length - 1];
    if (top.next === top.arr.length) {
      frames.pop();
      continue;
    }
    const x = top.arr[top.next++];
    const depth = frames.length;
    if (depth === rank) {
      if (typeof x === 'boolean') values.push(x ? 1 : 0);
      else if (typeof x === 'number') {
        allBool = false;
        values.push(x);
      } else if (Array.isArray(x)) {
        throw new ShapeError(`tensor: ragged nested array: element ${path()} is an array where a number was expected (shape so far ${fmtShape(shape)})`);
      } else {
        throw new ArgumentError(`tensor: element ${path()} is ${describe(x)}; elements must be numbers or booleans`);
      }
      continue;
    }
    if (!Array.isArray(x)) {
      if (typeof x !== 'number' && typeof x !== 'boolean') {
        throw new ArgumentError(`tensor: element ${path()} is ${describe(x)}; elements must be numbers or booleans`);
      }
      throw new ShapeError(`tensor: ragged nested array: element ${path()} is ${describe(x)} where an array of length ${shape[depth]} was expected`);
    }
    if (x.length !== shape[depth]) {
      throw new ShapeError(`tensor: ragged nested array: element ${path()} has length ${x.length}, expected ${shape[depth]}`);
    }
    frames.push({ arr: x, next: 0 });
  }
  return { values, shape, allBool };
}

/** Nested JS arrays of a row-major typed array; bool elements become booleans. */
export function toNested(data: TypedArray, shape: Shape, dtype: DType): NestedArray {
  const conv = (v: number): number | boolean => (dtype === 'bool' ? v !== 0 : v);
  if (shape.length === 0) return conv(data[0]);
  const build = (offset: number, depth: number): NestedArray[] => {
    const n = shape[depth];
    const stride = sizeOf(shape.slice(depth + 1));
    const out: NestedArray[] = [];
    for (let i = 0; i < n; i++) {
      out.push(depth === shape.length - 1 ? conv(data[offset + i]) : build(offset + i * stride, depth + 1));
    }
    return out;
  };
  return build(0, 0);
}
