// Public functions that take several tensors: where, concat, layerNorm.
import { ArgumentError, DTypeError, ShapeError } from '../ir/errors.js';
import { makeNode } from '../ir/node.js';
import { describe, fmtShape, normalizeAxis } from '../ir/shape.js';
import { Tensor, type TensorLike } from './tensor.js';
import { asCalled, asNode, castNode, commonDType, describeOperand, type Operand } from './typing.js';

/** Elementwise `cond ? a : b` with NumPy broadcasting of all three; `cond` must be bool. */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  if (!(cond instanceof Tensor)) throw new ArgumentError(`where: condition must be a bool Tensor, got ${describe(cond)}`);
  if (cond.dtype !== 'bool') {
    throw new DTypeError(`where: condition must be bool, got ${cond.dtype}${fmtShape(cond.shape)}; compare it first, e.g. x.ne(0)`);
  }
  for (const x of [a, b]) {
    if (!(x instanceof Tensor) && typeof x !== 'number' && typeof x !== 'boolean') {
      throw new ArgumentError(`where: branches must be Tensors, numbers or booleans, got ${describe(x)}`);
    }
  }
  const ops = [a, b] as Operand[];
  const dtype = commonDType(ops, 'where');
  return new Tensor(makeNode('where', [cond.node, asNode(ops[0], dtype), asNode(ops[1], dtype)]));
}

/** Joins tensors along `axis`; dtypes promote as for arithmetic. */
export function concat(tensors: readonly Tensor[], axis = 0): Tensor {
  if (!Array.isArray(tensors) || tensors.length === 0 || tensors.some((t) => !(t instanceof Tensor))) {
    throw new ArgumentError(`concat: expected a non-empty array of Tensors, got ${describe(tensors)}`);
  }
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
  if (!(x instanceof Tensor)) throw new ArgumentError(`layerNorm: x must be a Tensor, got ${describe(x)}`);
  if (x.ndim === 0) throw new ArgumentError('layerNorm: x must have at least one axis, got a scalar');
  if (typeof eps !== 'number' || !(eps >= 0)) throw new ArgumentError(`layerNorm: eps must be a non-negative number, got ${describe(eps)}`);
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
