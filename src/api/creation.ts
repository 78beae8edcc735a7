// Tensor constructors. Data given by the user becomes a realized leaf; generated tensors (zeros, arange,
// eye, rand) are lazy IR leaves, so they cost no upload and fuse into their consumers.
import { coerce, isDType, type DType } from '../ir/dtype.js';
import { ArgumentError, DTypeError, ShapeError } from '../ir/errors.js';
import { makeNode } from '../ir/node.js';
import { checkShape, describe, MAX_ELEMENTS } from '../ir/shape.js';
import { Storage } from '../runtime/storage.js';
import { hostValue, INT32_RULE, int32Holds, type TensorData } from './host-data.js';
import { Tensor } from './tensor.js';

/** A tensor holding `data`; shape and dtype are inferred from it unless given (numbers default to float32). */
export function tensor(data: TensorData, shape?: readonly number[], dtype?: DType): Tensor {
  const v = hostValue(data, shape, dtype);
  const t = new Tensor(makeNode('input', [], {}, { dtype: v.dtype, shape: v.shape }));
  t.adopt(Storage.fromHost(v.dtype, v.shape, v.data));
  return t;
}

export function zeros(shape: readonly number[], dtype: DType = 'float32'): Tensor {
  return filled(shape, 0, dtype, 'zeros');
}

export function ones(shape: readonly number[], dtype: DType = 'float32'): Tensor {
  return filled(shape, 1, dtype, 'ones');
}

/**
 * A tensor of `shape` filled with `value`; the dtype defaults to bool for booleans, else float32. An int32 fill
 * must be a finite number in the int32 range (fractions truncate toward zero).
 */
export function full(shape: readonly number[], value: number | boolean, dtype?: DType): Tensor {
  return filled(shape, value, dtype, 'full');
}

function filled(shape: readonly number[], value: number | boolean, dtype: DType | undefined, what: string): Tensor {
  const s = checkShape(shape, what);
  if (typeof value !== 'number' && typeof value !== 'boolean') throw new ArgumentError(`${what}: value must be a number or a boolean, got ${describe(value)}`);
  // Only a missing dtype takes the default: null is a mistake, not a request for float32.
  const dt = checkDType(dtype === undefined ? (typeof value === 'boolean' ? 'bool' : 'float32') : dtype, what);
  if (dt === 'int32' && !int32Holds(Number(value))) throw new DTypeError(`${what}: value ${value} does not fit int32 ${INT32_RULE}`);
  return new Tensor(makeNode('const', [], { value: coerce(Number(value), dt) }, { dtype: dt, shape: s }));
}

/**
 * NumPy's arange: [0, start) with one argument, else start, start+step, ... below stop (above, for a
 * negative step). int32 when every argument is an integer and every value fits int32, float32 otherwise
 * (as a JS number operand beyond the int32 range is float32: int32 would wrap around).
 */
export function arange(start: number, stop?: number, step = 1): Tensor {
  for (const [name, v] of [['start', start], ['stop', stop], ['step', step]] as const) {
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v))) {
      throw new ArgumentError(`arange: ${name} must be a finite number, got ${describe(v)}`);
    }
  }
  if (stop === undefined) [start, stop] = [0, start];
  if (step === 0) throw new ArgumentError('arange: step must not be 0');
  const n = Math.max(0, Math.ceil((stop - start) / step));
  if (n > MAX_ELEMENTS) {
    throw new ShapeError(`arange: start ${start}, stop ${stop}, step ${step} give ${n} elements, more than the ${MAX_ELEMENTS} (2^31 - 1) that u32 indexing allows`);
  }
  const last = start + Math.max(0, n - 1) * step;
  const integral = [start, stop, step].every(Number.isInteger) && int32Holds(start) && int32Holds(last) && int32Holds(step);
  const dtype: DType = integral ? 'int32' : 'float32';
  let t = new Tensor(makeNode('iota', [], { axis: 0 }, { dtype: 'int32', shape: [n] }));
  if (dtype === 'float32') t = t.cast('float32');
  if (step !== 1) t = t.mul(step);
  return start !== 0 ? t.add(start) : t;
}

/** The n x m identity (m defaults to n), float32. */
export function eye(n: number, m: number = n): Tensor {
  for (const [name, v] of [['n', n], ['m', m]] as const) {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new ShapeError(`eye: ${name} must be a non-negative integer, got ${describe(v)}`);
  }
  const shape = checkShape([n, m], 'eye');
  const rows = new Tensor(makeNode('iota', [], { axis: 0 }, { dtype: 'int32', shape }));
  const cols = new Tensor(makeNode('iota', [], { axis: 1 }, { dtype: 'int32', shape }));
  return rows.eq(cols).cast('float32');
}

let nextSeed = 0x5eed;

/** Uniform in [0, 1). The same seed gives the same values on every backend; without one, each call differs. */
export function rand(shape: readonly number[], seed?: number): Tensor {
  return random(shape, seed, 'uniform', 'rand');
}

/** Standard normal (mean 0, std 1); seeded like `rand`. */
export function randn(shape: readonly number[], seed?: number): Tensor {
  return random(shape, seed, 'normal', 'randn');
}

function random(shape: readonly number[], seed: number | undefined, dist: 'uniform' | 'normal', what: string): Tensor {
  const s = checkShape(shape, what);
  // The seed is 32 bits: beyond them two seeds would silently give the same numbers.
  if (seed !== undefined && (typeof seed !== 'number' || !Number.isInteger(seed) || seed < -(2 ** 31) || seed >= 2 ** 32)) {
    throw new ArgumentError(`${what}: seed must be an integer in [-2^31, 2^32) (32 bits), got ${describe(seed)}`);
  }
  const sd = seed === undefined ? nextSeed++ : seed;
  return new Tensor(makeNode('rand', [], { seed: sd | 0, dist }, { dtype: 'float32', shape: s }));
}

function checkDType(dtype: unknown, what: string): DType {
  if (!isDType(dtype)) throw new DTypeError(`${what}: dtype must be 'float32', 'int32' or 'bool', got ${describe(dtype)}`);
  return dtype;
}
