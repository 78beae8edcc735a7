// Public functions that take several tensors: where, concat, layerNorm.
import { ArgumentError, DTypeError, ShapeError } from '../ir/errors.js';
import { makeNode } from '../ir/node.js';
import { describe, fmtShape, normalizeAxis } from '../ir/shape.js';
import { describeArg, Tensor, type TensorLike } from './tensor.js';
import { asCalled, asNode, castNode, commonDType, describeOperand, type Operand } from './typing.js';

/** Elementwise `cond ? a : b` with NumPy broadcasting of all three; `cond` must be bool. */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  if (!(cond instanceof Tensor)) throw new ArgumentError(`where: condition must be a bool Tensor, got ${describeArg(cond)}`);
  const c = cond.use('where', 'condition');
  if (c.dtype !== 'bool') {
    throw new DTypeError(`where: condition must be bool, got ${c.dtype}${fmtShape(c.shape)}; compare it first, e.g. x.ne(0)`);
  }
  for (const [x, role] of [[a, 'first branch'], [b, 'second branch']] as const) {
    if (!(x instanceof Tensor) && typeof x !== 'number' && typeof x !== 'boolean') {
      throw new ArgumentError(`where: branches must be Tensors, numbers or booleans, got ${describeArg(x)} as the ${role}`);
    }
    if (x instanceof Tensor) x.use('where', role);
  }
  const ops = [a, b] as Operand[];
  const dtype = commonDType(ops, 'where');
  return new Tensor(makeNode('where', [c, asNode(ops[0], dtype), asNode(ops[1], dtype)]));
}

/** Joins tensors along `axis`; dtypes promote as for arithmetic. */
export function concat(tensors: readonly Tensor[], axis = 0): Tensor {
  // An indexed loop over a copy: a hole in a sparse array is the undefined it reads as, not skipped.
  const list: unknown[] | null = Array.isArray(tensors) ? Array.from(tensors as readonly unknown[]) : null;
  if (list === null || list.length === 0) throw new ArgumentError(`concat: expected a non-empty array of Tensors, got ${describeArg(tensors)}`);
  for (let i = 0; i < list.length; i++) {
    const t = list[i];
    if (!(t instanceof Tensor)) throw new ArgumentError(`concat: element ${i} of the array is ${describeArg(t)}, not a Tensor`);
    t.use('concat', `tensor ${i}`);
  }
  tensors = list as Tensor[];
  const dtype = commonDType(tensors, 'concat');
  const rank = tensors[0].ndim;
  if (tensors.some((t) => t.ndim !== rank)) {
    throw new ShapeError(`concat: all tensors need the same rank, got ${tensors.map((t) => describeOperand(t)).join(', ')}`);
  }
  const a = normalizeAxis(axis, rank, 'concat', describeOperand(tensors[0]));
  return new Tensor(makeNode('concat', tensors.map((t) => castNode(t.node, dtype)), { axis: a }));
}

/**
 * Layer normalisation over the last axis: (x - mean) / sqrt(var + eps) * weight + bias, with the population
 * variance. weight and bias broadcast against x (usually shape [features]).
 */
export function layerNorm(x: Tensor, weight?: TensorLike | null, bias?: TensorLike | null, eps = 1e-5): Tensor {
  if (!(x instanceof Tensor)) throw new ArgumentError(`layerNorm: x must be a Tensor, got ${describeArg(x)}`);
  x.use('layerNorm', 'input x');
  if (x.ndim === 0) throw new ArgumentError(`layerNorm: x must have at least one axis, got the scalar ${x.dtype}[]`);
  for (const [v, role] of [[weight, 'weight'], [bias, 'bias']] as const) {
    if (v === undefined || v === null) continue;
    if (!(v instanceof Tensor) && typeof v !== 'number' && typeof v !== 'boolean') {
      throw new ArgumentError(`layerNorm: ${role} must be a Tensor, a number, null or undefined, got ${describeArg(v)}`);
    }
    if (v instanceof Tensor) v.use('layerNorm', role);
  }
  // A finite eps: eps = Infinity would turn every output into 0 (or NaN) without a word.
  if (typeof eps !== 'number' || !Number.isFinite(eps) || eps < 0) throw new ArgumentError(`layerNorm: eps must be a finite non-negative number, got ${describe(eps)}`);
  if (x.dtype === 'bool') throw new DTypeError(`layerNorm: not defined for bool${fmtShape(x.shape)}; cast to 'float32' first`);
  return asCalled('layerNorm', () => {
    const xf = x.cast('float32');
    const centered = xf.sub(xf.mean(-1, true));
    let out = centered.mul(centered.mul(centered).mean(-1, true).add(eps).rsqrt());
    if (weight !== undefined && weight !== null) out = out.mul(weight);
    if (bias !== undefined && bias !== null) out = out.add(bias);
    return out;
  });
}
