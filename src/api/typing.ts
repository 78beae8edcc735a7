// How the API turns user operands (tensors, JS numbers, booleans) into IR nodes of one dtype.
// The IR is strictly typed, so promotion happens here: bool < int32 < float32 as in NumPy, a JS number is
// int32 when it is an integer and float32 otherwise (a boolean is bool), and casts are inserted explicitly.
import { coerce, promote, type DType } from '../ir/dtype.js';
import { ArgumentError, DTypeError, ShapeError } from '../ir/errors.js';
import { makeNode, type Node } from '../ir/node.js';
import { describe, fmtShape } from '../ir/shape.js';

/** Anything the API accepts where a tensor is expected; `node` is read from a Tensor. */
export type Operand = { readonly node: Node } | number | boolean;

export function operandDType(x: Operand, what: string): DType {
  // An integer beyond int32 would saturate: it is a float32 operand instead.
  if (typeof x === 'number') return Number.isInteger(x) && x >= -2147483648 && x <= 2147483647 ? 'int32' : 'float32';
  if (typeof x === 'boolean') return 'bool';
  if (x && typeof x === 'object' && 'node' in x) return x.node.dtype;
  throw new ArgumentError(`${what}: expected a Tensor, a number or a boolean, got ${describe(x)}`);
}

export function commonDType(operands: readonly Operand[], what: string): DType {
  return operands.map((o) => operandDType(o, what)).reduce(promote);
}

/** The operand as a node of `dtype`: a scalar const for numbers, a cast when a tensor's dtype differs. */
export function asNode(x: Operand, dtype: DType): Node {
  if (typeof x === 'number' || typeof x === 'boolean') {
    return makeNode('const', [], { value: coerce(Number(x), dtype) }, { dtype, shape: [] });
  }
  return castNode(x.node, dtype);
}

export function castNode(node: Node, dtype: DType): Node {
  return node.dtype === dtype ? node : makeNode('cast', [node], { to: dtype });
}

export function describeOperand(x: Operand): string {
  if (typeof x === 'number' || typeof x === 'boolean') return String(x);
  return `${x.node.dtype}${fmtShape(x.node.shape)}`;
}

/**
 * Runs `build`, naming `what` (the op the user called) in shape and dtype errors raised by the primitives
 * it is built from: an error in clamp says clamp, not maximum.
 */
export function asCalled<T>(what: string, build: () => T): T {
  try {
    return build();
  } catch (err) {
    if ((err instanceof ShapeError || err instanceof DTypeError) && !err.message.startsWith(`${what}:`)) {
      const Ctor = err.constructor as new (message: string) => Error;
      throw new Ctor(`${what}: ${err.message}`);
    }
    throw err;
  }
}

/** Arithmetic is not defined on bool: say so at the call, with the operands. */
export function rejectBool(dtype: DType, what: string, operands: readonly Operand[]): void {
  if (dtype === 'bool') {
    throw new DTypeError(`${what}: not defined for bool operands (${operands.map(describeOperand).join(', ')}); cast to 'int32' or 'float32' first`);
  }
}
