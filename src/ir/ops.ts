// The op set of the IR: what each op is, which dtypes it takes, and how its result type is inferred.
// The IR is strictly typed: binary ops take operands of one dtype and the API inserts the casts, so every
// backend kernel sees exactly one dtype per operand and never has to guess a promotion.
import type { DType } from './dtype.js';
import { DTypeError, ShapeError, VerifyError } from './errors.js';
import { broadcastShapes, checkShape, fmtShape, normalizeAxes, normalizeAxis, sizeOf, type Shape } from './shape.js';

export type AttrValue = number | boolean | string | readonly number[];
export type Attrs = Readonly<Record<string, AttrValue>>;

export interface TypeInfo {
  readonly dtype: DType;
  readonly shape: Shape;
}

export type OpKind = 'leaf' | 'unary' | 'binary' | 'select' | 'layout' | 'reduce' | 'argreduce' | 'matmul';

/** How an attribute is typed: `flag` is a boolean stored only when true; a trailing `?` marks it optional. */
export type AttrType = 'int' | 'number' | 'ints' | 'flag' | 'string' | 'dtype';

export interface OpSpec {
  readonly kind: OpKind;
  /** The attributes the op takes; anything else is rejected by makeNode. */
  readonly attrs?: Readonly<Record<string, AttrType | `${AttrType}?`>>;
  /** Number of inputs; -1 for variadic (concat). */
  readonly arity: number;
  /** Result type from operand types and attributes; throws ShapeError/DTypeError naming the op. */
  infer(inputs: readonly TypeInfo[], attrs: Attrs): TypeInfo;
}

const NUMERIC: readonly DType[] = ['float32', 'int32'];
const FLOAT: readonly DType[] = ['float32'];
const ANY: readonly DType[] = ['float32', 'int32', 'bool'];

function requireDType(op: string, t: TypeInfo, allowed: readonly DType[], which = 'operand'): void {
  if (!allowed.includes(t.dtype)) {
    throw new DTypeError(`${op}: ${which} has dtype ${t.dtype}${fmtShape(t.shape)}; ${op} accepts ${allowed.join(' or ')}`);
  }
}

function sameDType(op: string, ts: readonly TypeInfo[]): void {
  for (const t of ts) {
    if (t.dtype !== ts[0].dtype) {
      throw new DTypeError(`${op}: operands must share a dtype, got ${ts.map((x) => x.dtype + fmtShape(x.shape)).join(' and ')}`);
    }
  }
}

function leaf(attrs: OpSpec['attrs']): OpSpec {
  return {
    kind: 'leaf',
    attrs,
    arity: 0,
    infer() {
      throw new VerifyError('leaf ops take their type explicitly');
    },
  };
}

/** Elementwise unary op that keeps its operand's dtype. */
function unary(op: string, allowed: readonly DType[]): OpSpec {
  return {
    kind: 'unary',
    arity: 1,
    infer([x]) {
      requireDType(op, x, allowed);
      return { dtype: x.dtype, shape: x.shape };
    },
  };
}

function binary(op: string, allowed: readonly DType[], result?: DType): OpSpec {
  return {
    kind: 'binary',
    arity: 2,
    infer([a, b]) {
      sameDType(op, [a, b]);
      requireDType(op, a, allowed);
      return { dtype: result ?? a.dtype, shape: broadcastShapes(a.shape, b.shape, op) };
    },
  };
}

function reduce(op: string, allowed: readonly DType[]): OpSpec {
  return {
    kind: 'reduce',
    arity: 1,
    attrs: { axes: 'ints', keepdims: 'flag' },
    infer([x], attrs) {
      requireDType(op, x, allowed);
      const axes = normalizeAxes(attrs.axes as readonly number[], x.shape.length, op);
      const keep = attrs.keepdims === true;
      const shape: number[] = [];
      x.shape.forEach((d, i) => {
        if (!axes.includes(i)) shape.push(d);
        else if (keep) shape.push(1);
      });
      if ((op === 'max' || op === 'min') && axes.some((a) => x.shape[a] === 0)) {
        throw new ShapeError(`${op}: cannot reduce over an empty axis of ${x.dtype}${fmtShape(x.shape)} (no identity)`);
      }
      return { dtype: x.dtype, shape };
    },
  };
}

function argreduce(op: string): OpSpec {
  return {
    kind: 'argreduce',
    arity: 1,
    attrs: { axis: 'int', keepdims: 'flag' },
    infer([x], attrs) {
      const axis = normalizeAxis(attrs.axis, x.shape.length, op);
      if (x.shape[axis] === 0) throw new ShapeError(`${op}: cannot reduce over the empty axis ${axis} of ${x.dtype}${fmtShape(x.shape)}`);
      const shape = x.shape.flatMap((d, i) => (i === axis ? (attrs.keepdims === true ? [1] : []) : [d]));
      return { dtype: 'int32', shape };
    },
  };
}

const floatUnary = (op: string) => unary(op, FLOAT);
const numericUnary = (op: string) => unary(op, NUMERIC);

const OP_TABLE = {
  // Leaves: realized or host data (`input`), a filled constant, an index ramp, counter-based random numbers.
  input: leaf({ name: 'string?' }),
  const: leaf({ value: 'number' }),
  iota: leaf({ axis: 'int' }),
  rand: leaf({ seed: 'int', dist: 'string' }),

  neg: numericUnary('neg'),
  abs: numericUnary('abs'),
  square: numericUnary('square'),
  sign: numericUnary('sign'),
  relu: numericUnary('relu'),
  floor: numericUnary('floor'),
  ceil: numericUnary('ceil'),
  round: numericUnary('round'),
  exp: floatUnary('exp'),
  log: floatUnary('log'),
  sqrt: floatUnary('sqrt'),
  rsqrt: floatUnary('rsqrt'),
  reciprocal: floatUnary('reciprocal'),
  sin: floatUnary('sin'),
  cos: floatUnary('cos'),
  tanh: floatUnary('tanh'),
  sigmoid: floatUnary('sigmoid'),
  gelu: floatUnary('gelu'),
  not: unary('not', ['bool']),
  cast: {
    kind: 'unary',
    arity: 1,
    attrs: { to: 'dtype' },
    infer([x], attrs) {
      const to = attrs.to;
      if (to !== 'float32' && to !== 'int32' && to !== 'bool') throw new DTypeError(`cast: unknown target dtype ${String(to)}`);
      return { dtype: to, shape: x.shape };
    },
  } satisfies OpSpec,

  add: binary('add', NUMERIC),
  sub: binary('sub', NUMERIC),
  mul: binary('mul', NUMERIC),
  div: binary('div', FLOAT),
  pow: binary('pow', FLOAT),
  maximum: binary('maximum', NUMERIC),
  minimum: binary('minimum', NUMERIC),
  eq: binary('eq', ANY, 'bool'),
  ne: binary('ne', ANY, 'bool'),
  lt: binary('lt', ANY, 'bool'),
  le: binary('le', ANY, 'bool'),
  gt: binary('gt', ANY, 'bool'),
  ge: binary('ge', ANY, 'bool'),
  and: binary('and', ['bool']),
  or: binary('or', ['bool']),

  where: {
    kind: 'select',
    arity: 3,
    infer([c, a, b]) {
      requireDType('where', c, ['bool'], 'condition');
      sameDType('where', [a, b]);
      return { dtype: a.dtype, shape: broadcastShapes(broadcastShapes(c.shape, a.shape, 'where'), b.shape, 'where') };
    },
  } satisfies OpSpec,

  reshape: {
    kind: 'layout',
    arity: 1,
    attrs: { shape: 'ints' },
    infer([x], attrs) {
      const shape = checkShape(attrs.shape, 'reshape');
      if (sizeOf(shape) !== sizeOf(x.shape)) {
        throw new ShapeError(`reshape: cannot reshape ${x.dtype}${fmtShape(x.shape)} (${sizeOf(x.shape)} elements) to ${fmtShape(shape)} (${sizeOf(shape)} elements)`);
      }
      return { dtype: x.dtype, shape: [...shape] };
    },
  } satisfies OpSpec,
  transpose: {
    kind: 'layout',
    arity: 1,
    attrs: { perm: 'ints' },
    infer([x], attrs) {
      const perm = attrs.perm as readonly number[];
      const r = x.shape.length;
      const ok = perm.length === r && [...perm].sort((a, b) => a - b).every((p, i) => p === i);
      if (!ok) throw new ShapeError(`transpose: perm ${fmtShape(perm)} is not a permutation of the ${r} axes of ${x.dtype}${fmtShape(x.shape)}`);
      return { dtype: x.dtype, shape: perm.map((p) => x.shape[p]) };
    },
  } satisfies OpSpec,
  expand: {
    kind: 'layout',
    arity: 1,
    attrs: { shape: 'ints' },
    infer([x], attrs) {
      const shape = checkShape(attrs.shape, 'expand');
      const off = shape.length - x.shape.length;
      const ok = off >= 0 && x.shape.every((d, i) => d === 1 || d === shape[off + i]);
      if (!ok) throw new ShapeError(`expand: cannot broadcast ${x.dtype}${fmtShape(x.shape)} to ${fmtShape(shape)}`);
      return { dtype: x.dtype, shape: [...shape] };
    },
  } satisfies OpSpec,
  slice: {
    kind: 'layout',
    arity: 1,
    attrs: { begin: 'ints', size: 'ints' },
    infer([x], attrs) {
      const begin = attrs.begin as readonly number[];
      const size = attrs.size as readonly number[];
      const r = x.shape.length;
      const ok = begin.length === r && size.length === r && begin.every((b, i) => b >= 0 && size[i] >= 0 && b + size[i] <= x.shape[i]);
      if (!ok) throw new ShapeError(`slice: begin ${fmtShape(begin)} with size ${fmtShape(size)} does not fit in ${x.dtype}${fmtShape(x.shape)}`);
      return { dtype: x.dtype, shape: [...size] };
    },
  } satisfies OpSpec,
  concat: {
    kind: 'layout',
    arity: -1,
    attrs: { axis: 'int' },
    infer(inputs, attrs) {
      if (inputs.length === 0) throw new ShapeError('concat: needs at least one tensor');
      sameDType('concat', inputs);
      const first = inputs[0].shape;
      const axis = normalizeAxis(attrs.axis, first.length, 'concat');
      let total = 0;
      for (const t of inputs) {
        const ok = t.shape.length === first.length && t.shape.every((d, i) => i === axis || d === first[i]);
        if (!ok) throw new ShapeError(`concat: shapes ${inputs.map((u) => fmtShape(u.shape)).join(', ')} differ outside axis ${axis}`);
        total += t.shape[axis];
      }
      return { dtype: inputs[0].dtype, shape: first.map((d, i) => (i === axis ? total : d)) };
    },
  } satisfies OpSpec,

  sum: reduce('sum', NUMERIC),
  prod: reduce('prod', NUMERIC),
  max: reduce('max', ANY),
  min: reduce('min', ANY),
  argmax: argreduce('argmax'),
  argmin: argreduce('argmin'),

  matmul: {
    kind: 'matmul',
    arity: 2,
    attrs: { transA: 'flag', transB: 'flag' },
    infer([a, b], attrs) {
      sameDType('matmul', [a, b]);
      requireDType('matmul', a, NUMERIC);
      if (a.shape.length < 2 || b.shape.length < 2) {
        throw new ShapeError(`matmul: IR operands must have rank >= 2, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
      }
      const [m, ka] = matrixDims(a.shape, attrs.transA === true);
      const [kb, n] = matrixDims(b.shape, attrs.transB === true);
      if (ka !== kb) {
        throw new ShapeError(
          `matmul: inner dimensions differ: ${a.dtype}${fmtShape(a.shape)}${attrs.transA ? '^T' : ''} @ ${b.dtype}${fmtShape(b.shape)}${attrs.transB ? '^T' : ''} (${ka} vs ${kb})`,
        );
      }
      let batch: Shape;
      try {
        batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2), 'matmul');
      } catch {
        throw new ShapeError(
          `matmul: batch dimensions of ${a.dtype}${fmtShape(a.shape)} and ${b.dtype}${fmtShape(b.shape)} cannot be broadcast together (${fmtShape(a.shape.slice(0, -2))} vs ${fmtShape(b.shape.slice(0, -2))})`,
        );
      }
      return { dtype: a.dtype, shape: [...batch, m, n] };
    },
  } satisfies OpSpec,
  // syrk(x) = x @ x^T over the last two axes (x^T @ x with transA), batched over the leading axes: the
  // symmetric product detect-syrk finds, which its kernel computes on and below the diagonal only.
  syrk: {
    kind: 'matmul',
    arity: 1,
    attrs: { transA: 'flag' },
    infer([x], attrs) {
      requireDType('syrk', x, NUMERIC);
      if (x.shape.length < 2) throw new ShapeError(`syrk: IR operand must have rank >= 2, got ${x.dtype}${fmtShape(x.shape)}`);
      const n = matrixDims(x.shape, attrs.transA === true)[0];
      return { dtype: x.dtype, shape: [...x.shape.slice(0, -2), n, n] };
    },
  } satisfies OpSpec,
} satisfies Record<string, OpSpec>;

export type OpName = keyof typeof OP_TABLE;
export const OPS: Readonly<Record<OpName, OpSpec>> = OP_TABLE;
export const OP_NAMES = Object.keys(OP_TABLE) as OpName[];

export function isOpName(x: string): x is OpName {
  return Object.prototype.hasOwnProperty.call(OPS, x);
}

/** (rows, cols) of the last two axes, after an optional logical transpose. */
export function matrixDims(shape: Shape, transposed: boolean): [number, number] {
  const r = shape[shape.length - 2];
  const c = shape[shape.length - 1];
  return transposed ? [c, r] : [r, c];
}

/** Ops that are elementwise maps over broadcast operands (the fusible core of the IR). */
export function isElementwise(op: OpName): boolean {
  const k = OPS[op].kind;
  return k === 'unary' || k === 'binary' || k === 'select';
}

/**
 * The attributes `op` takes: its own, plus `group` on every computing op (the kernel the fusion passes put
 * it in; see docs/passes.md).
 */
export function attrSchema(op: OpName): Readonly<Record<string, AttrType | `${AttrType}?`>> {
  return SCHEMAS[op];
}

const SCHEMAS = Object.fromEntries(
  OP_NAMES.map((op) => {
    const spec = OPS[op];
    return [op, Object.freeze(spec.kind === 'leaf' ? (spec.attrs ?? {}) : { ...spec.attrs, group: 'int?' })];
  }),
) as Record<OpName, Readonly<Record<string, AttrType | `${AttrType}?`>>>;
