// Elementwise ops: unary maps (cast included), binary maps and `where`. Operands are first broadcast to the
// output shape (stride-0 reads, see strided.ts), then one flat loop applies the scalar function. Scalar
// functions compute in JS doubles; storing into the output typed array rounds (f32) or wraps (i32).
import { coerce, typedArrayFor, type DType, type TypedArray } from '../../ir/dtype.js';
import { VerifyError } from '../../ir/errors.js';
import type { Node } from '../../ir/node.js';
import { broadcastTo } from './strided.js';

type Scalar1 = (x: number) => number;
type Scalar2 = (a: number, b: number) => number;

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** Round half to even, as NumPy and WGSL round(): Math.round rounds halves up, so fix the odd results. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** -1, 0 or 1; sign(-0) is +0 and sign(NaN) is NaN. */
function sign(x: number): number {
  return x > 0 ? 1 : x < 0 ? -1 : x === 0 ? 0 : NaN;
}

const identity: Scalar1 = (x) => x;

const FLOAT_UNARY: Readonly<Record<string, Scalar1>> = {
  neg: (x) => -x,
  abs: Math.abs,
  square: (x) => x * x,
  sign,
  relu: (x) => Math.max(x, 0),
  floor: Math.floor,
  ceil: Math.ceil,
  round: roundHalfEven,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  rsqrt: (x) => 1 / Math.sqrt(x),
  reciprocal: (x) => 1 / x,
  sin: Math.sin,
  cos: Math.cos,
  tanh: Math.tanh,
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  // 0.5 x (1 + tanh(u)) written as x sigmoid(2u): the same function, without the cancellation of 1 + tanh(u)
  // for u < -18 (x < -5.3), where the tanh form returned 0 even in float64.
  gelu: (x) => x / (1 + Math.exp(-2 * SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))),
};

// Two's complement wrap-around: `|0` and Math.imul keep every result in i32.
const INT_UNARY: Readonly<Record<string, Scalar1>> = {
  neg: (x) => -x | 0,
  abs: (x) => Math.abs(x) | 0,
  square: (x) => Math.imul(x, x),
  sign,
  relu: (x) => Math.max(x, 0),
  floor: identity,
  ceil: identity,
  round: identity,
};

const BOOL_UNARY: Readonly<Record<string, Scalar1>> = {
  not: (x) => x ^ 1,
};

/** Casts rely on coerce's rules (f32 rounding, saturating truncation with NaN -> 0, x != 0). */
const CAST: Readonly<Record<DType, Scalar1>> = {
  float32: identity,
  int32: (x) => coerce(x, 'int32'),
  bool: (x) => (x !== 0 ? 1 : 0),
};

// Comparisons hold for every dtype; with NaN they are false except ne.
const COMPARE: Readonly<Record<string, Scalar2>> = {
  eq: (a, b) => (a === b ? 1 : 0),
  ne: (a, b) => (a !== b ? 1 : 0),
  lt: (a, b) => (a < b ? 1 : 0),
  le: (a, b) => (a <= b ? 1 : 0),
  gt: (a, b) => (a > b ? 1 : 0),
  ge: (a, b) => (a >= b ? 1 : 0),
};

// Math.max/min already propagate NaN.
const FLOAT_BINARY: Readonly<Record<string, Scalar2>> = {
  ...COMPARE,
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: Math.pow,
  maximum: Math.max,
  minimum: Math.min,
};

const INT_BINARY: Readonly<Record<string, Scalar2>> = {
  ...COMPARE,
  add: (a, b) => (a + b) | 0,
  sub: (a, b) => (a - b) | 0,
  mul: Math.imul,
  maximum: Math.max,
  minimum: Math.min,
};

const BOOL_BINARY: Readonly<Record<string, Scalar2>> = {
  ...COMPARE,
  and: (a, b) => a & b,
  or: (a, b) => a | b,
};

const UNARY: Readonly<Record<DType, Readonly<Record<string, Scalar1>>>> = { float32: FLOAT_UNARY, int32: INT_UNARY, bool: BOOL_UNARY };
const BINARY: Readonly<Record<DType, Readonly<Record<string, Scalar2>>>> = { float32: FLOAT_BINARY, int32: INT_BINARY, bool: BOOL_BINARY };

function lookup<F>(table: Readonly<Record<string, F>>, node: Node, dtype: DType): F {
  if (!Object.prototype.hasOwnProperty.call(table, node.op)) {
    throw new VerifyError(`cpu: no ${node.op} kernel for operand dtype ${dtype}`);
  }
  return table[node.op];
}

export function evalUnary(node: Node, [x]: readonly TypedArray[]): TypedArray {
  const inDType = node.inputs[0].dtype;
  const f = node.op === 'cast' ? CAST[node.dtype] : lookup(UNARY[inDType], node, inDType);
  const out = typedArrayFor(node.dtype, x.length);
  for (let i = 0; i < out.length; i++) out[i] = f(x[i]);
  return out;
}

export function evalBinary(node: Node, [a, b]: readonly TypedArray[]): TypedArray {
  const [na, nb] = node.inputs;
  const f = lookup(BINARY[na.dtype], node, na.dtype);
  const xa = broadcastTo(a, na.shape, node.shape);
  const xb = broadcastTo(b, nb.shape, node.shape);
  const out = typedArrayFor(node.dtype, xa.length);
  for (let i = 0; i < out.length; i++) out[i] = f(xa[i], xb[i]);
  return out;
}

export function evalWhere(node: Node, [c, a, b]: readonly TypedArray[]): TypedArray {
  const [nc, na, nb] = node.inputs;
  const xc = broadcastTo(c, nc.shape, node.shape);
  const xa = broadcastTo(a, na.shape, node.shape);
  const xb = broadcastTo(b, nb.shape, node.shape);
  const out = typedArrayFor(node.dtype, xc.length);
  for (let i = 0; i < out.length; i++) out[i] = xc[i] !== 0 ? xa[i] : xb[i];
  return out;
}
