// Random well-typed programs over the whole public API, for the differential fuzzer (fuzz.test.ts).
//
// A program is a recipe: plain data that fast-check prints and shrinks. Its numbers are choices read modulo
// what is available when the step runs (an operand index modulo the values of a fitting shape and dtype, an
// op index modulo the ops defined for the operand's dtype), so every shrunk recipe still builds a well-typed
// program, and a smaller number is a simpler choice. Steps that cannot apply (no operand fits, a result
// would be too large) are skipped.
//
//   base shape B   rank 0..4, extents 1..5 (size-1 axes often, 0 rarely)
//   inputs         float32 (smooth, on a 1/4 grid with ties and zeros, or with NaN and +-inf), int32 (small, wide, or
//                  with +-2^31 and 2^24 + 1), bool; shapes are B with leading axes dropped and axes set to 1
//   unary          neg abs relu square sign floor ceil round exp log sqrt rsqrt reciprocal sin cos tanh
//                  sigmoid gelu (int32 operands stay int32 or are promoted, as the API does)
//   binary         add sub mul div pow maximum minimum eq ne lt le gt ge, against a broadcastable value of
//                  any dtype or a JS number/boolean
//   where, clamp, cast to each dtype
//   reduce         sum max min mean prod variance over random axes (all, some, none, negative), keepdims
//   argmax/argmin  along an axis or flattened
//   row ops        softmax, logSoftmax over an axis; layerNorm with or without weight and bias and eps
//   matmul         new or pooled right operands, transposed (.T / transpose) on either side, a @ a^T and
//                  a^T @ a (SYRK), 1-D on either side, rank-3 batches that broadcast, int32 and mixed dtypes
//   layout         reshape (flatten, merge, split, -1), transpose, .T, expand, slice (negative begin,
//                  size -1, empty), squeeze, unsqueeze, concat with another value or a slice of itself
//   creation       zeros ones full arange (int and float) eye rand randn, tensor() from nested arrays
//   dup            an earlier step again on the same operands (CSE must merge it)
//   wide, big      sometimes B's last extent is wide (7..257: workgroup-wide rows) and matmuls are large
//                  (16..65 around GEMM tiles, transposed operands, a bias epilogue)
//   realize        some values are evaluated before the outputs, so the program reads them as inputs
//                  (strided views of earlier results where they are layout results)
// Operands are picked from a pool that holds every value so far, usually one of the newest, so programs
// grow deep and values are shared by several consumers and outputs.
import fc from 'fast-check';
import * as wg from '../../src/index.js';
import type { DType, Tensor } from '../../src/index.js';
import { broadcastShapes, sizeOf } from '../../src/ir/shape.js';
import { layerNormRule, logSoftmaxRule, mulberry32, Recorder, softmaxRule, U, varianceRule, type Rule } from './error-model.js';
import * as R from './rules.js';

export interface InputSpec {
  readonly dtype: number;
  readonly drop: number;
  readonly ones: number;
  readonly kind: number;
}

export type Step =
  | { readonly kind: 'unary'; readonly op: number; readonly a: number }
  | { readonly kind: 'binary'; readonly op: number; readonly a: number; readonly b: number; readonly scalar: number }
  | { readonly kind: 'where'; readonly cond: number; readonly a: number; readonly b: number; readonly scalar: number }
  | { readonly kind: 'clamp'; readonly a: number; readonly lo: number; readonly hi: number }
  | { readonly kind: 'cast'; readonly to: number; readonly a: number }
  | { readonly kind: 'reduce'; readonly op: number; readonly axes: number; readonly keepdims: boolean; readonly a: number }
  | { readonly kind: 'arg'; readonly op: number; readonly axis: number; readonly keepdims: boolean; readonly a: number }
  | { readonly kind: 'row'; readonly op: number; readonly axis: number; readonly a: number; readonly w: number }
  | { readonly kind: 'matmul'; readonly form: number; readonly a: number; readonly b: number; readonly n: number }
  | { readonly kind: 'layout'; readonly op: number; readonly a: number; readonly p: number; readonly q: number }
  | { readonly kind: 'create'; readonly op: number; readonly p: number; readonly q: number }
  | { readonly kind: 'dup'; readonly of: number };

export interface Program {
  readonly rank: number;
  readonly dims: readonly number[];
  /** Sometimes replaces B's last extent by a wide one (WIDE), for workgroup-wide rows and tiled GEMM. */
  readonly wide: number;
  readonly inputs: readonly InputSpec[];
  readonly steps: readonly Step[];
  readonly outputs: readonly number[];
  /** Pool values evaluated before the outputs, so the program reads them as (possibly strided) inputs. */
  readonly realize: readonly number[];
  readonly dataSeed: number;
}

// ---------------------------------------------------------------------------------------------------------
// Arbitraries

const pick = fc.nat({ max: 1000 });
const bits = fc.nat({ max: 255 });

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('unary' as const), op: pick, a: pick }) },
  { weight: 7, arbitrary: fc.record({ kind: fc.constant('binary' as const), op: pick, a: pick, b: pick, scalar: bits }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('where' as const), cond: pick, a: pick, b: pick, scalar: bits }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('clamp' as const), a: pick, lo: bits, hi: bits }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('cast' as const), to: pick, a: pick }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('reduce' as const), op: pick, axes: bits, keepdims: fc.boolean(), a: pick }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('arg' as const), op: pick, axis: bits, keepdims: fc.boolean(), a: pick }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('row' as const), op: pick, axis: bits, a: pick, w: bits }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('matmul' as const), form: pick, a: pick, b: pick, n: bits }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('layout' as const), op: pick, a: pick, p: bits, q: bits }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('create' as const), op: pick, p: bits, q: bits }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('dup' as const), of: pick }) },
);

const extent = fc.oneof({ weight: 3, arbitrary: fc.constant(1) }, { weight: 12, arbitrary: fc.integer({ min: 2, max: 5 }) }, { weight: 1, arbitrary: fc.constant(0) });

export const programArb: fc.Arbitrary<Program> = fc.record({
  rank: fc.oneof({ weight: 1, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.constant(1) }, { weight: 8, arbitrary: fc.integer({ min: 2, max: 3 }) }, { weight: 2, arbitrary: fc.constant(4) }),
  dims: fc.array(extent, { minLength: 4, maxLength: 4 }),
  wide: bits,
  inputs: fc.array(fc.record({ dtype: pick, drop: bits, ones: bits, kind: pick }), { minLength: 1, maxLength: 4 }),
  steps: fc.array(stepArb, { minLength: 1, maxLength: 12 }),
  outputs: fc.array(pick, { maxLength: 2 }),
  realize: fc.oneof({ weight: 3, arbitrary: fc.constant([]) }, { weight: 2, arbitrary: fc.array(pick, { minLength: 1, maxLength: 2 }) }),
  dataSeed: fc.nat(),
});

// ---------------------------------------------------------------------------------------------------------
// Building a recipe into tensors, each recorded with its error rule

/** Thrown by a step whose result would be too large: the step is skipped. */
class Skip extends Error {}

/** Results above this many elements are skipped (SwiftShader time, and the error rules' loops). */
const MAX_ELEMENTS = 4096;

export interface Built {
  readonly outputs: Tensor[];
  readonly recorder: Recorder;
  /** Values to evaluate first (Program.realize), none of them an output's only path to data. */
  readonly realize: Tensor[];
  /** What each applied step did, e.g. `binary:add(f32,i32)`, for coverage counts. */
  readonly ops: string[];
}

const DTYPES: readonly DType[] = ['float32', 'int32', 'bool'];
const SHORT: Record<DType, string> = { float32: 'f32', int32: 'i32', bool: 'bool' };
const EXTREME_INTS = [2147483647, -2147483648, 16777217, -16777217, 46341, -65536];

const UNARY = ['neg', 'abs', 'relu', 'square', 'sign', 'floor', 'ceil', 'round', 'exp', 'log', 'sqrt', 'rsqrt', 'reciprocal', 'sin', 'cos', 'tanh', 'sigmoid', 'gelu'] as const;
const POSITIVE_DOMAIN = new Set(['log', 'sqrt', 'rsqrt', 'reciprocal']);
const BINARY = ['add', 'sub', 'mul', 'maximum', 'minimum', 'div', 'pow', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const;
const COMPARE = new Set(['eq', 'ne', 'lt', 'le', 'gt', 'ge']);
const SCALARS: readonly (number | boolean)[] = [2, -1, 0.5, 3, 0, -2.5, 1, true, false, 0.1];
const FULL_VALUES: readonly (number | boolean)[] = [0.1, -3, 7, true, 2.5, -0, 1e-3, false];
const MATMUL_N = [1, 2, 3, 4, 5, 8, 16, 17];
const WIDE = [7, 16, 33, 64, 65, 130, 257];
/** Extents of the large matmuls: around GEMM tile sizes. */
const BIG = [16, 17, 31, 32, 33, 64, 65];

function permutations(n: number): number[][] {
  if (n === 0) return [[]];
  return permutations(n - 1).flatMap((p) => Array.from({ length: n }, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)]));
}

function broadcastable(a: readonly number[], b: readonly number[]): boolean {
  try {
    broadcastShapes(a, b, 'test');
    return true;
  } catch {
    return false;
  }
}

function nested(flat: ArrayLike<number>, shape: readonly number[], asBool: boolean): unknown {
  if (shape.length === 0) return asBool ? flat[0] !== 0 : flat[0];
  const inner = sizeOf(shape.slice(1));
  return Array.from({ length: shape[0] }, (_, i) => nested(Array.prototype.slice.call(flat, i * inner, (i + 1) * inner), shape.slice(1), asBool));
}

export function build(p: Program): Built {
  const B = p.dims.slice(0, p.rank);
  if (B.length > 0 && p.wide % 8 === 0) {
    const w = WIDE[(p.wide >> 3) % WIDE.length];
    if (sizeOf(B.slice(0, -1)) * w <= MAX_ELEMENTS / 2) B[B.length - 1] = w;
  }
  const next = mulberry32(p.dataSeed);
  const recorder = new Recorder();
  const ops: string[] = [];
  const pool: Tensor[] = [];
  const views: Tensor[] = [];

  const rec = (t: Tensor, rule: Rule): Tensor => {
    if (t.size > MAX_ELEMENTS) throw new Skip();
    return recorder.rec(t, rule);
  };
  const exact = (t: Tensor, ...from: R.Operand[]) => rec(t, R.exactOf(...from));
  const ty = (x: R.Operand) => (typeof x === 'object' ? SHORT[x.dtype] : typeof x === 'boolean' ? 'bool' : Number.isInteger(x) ? 'int' : 'float');

  // ---- data ----
  const shapeFrom = (drop: number, ones: number) => B.slice(drop % (B.length + 1)).map((d, i) => ((ones >> i) & 1 ? 1 : d));
  const floatData = (n: number, kind: number) =>
    Float32Array.from({ length: n }, () => {
      if (kind === 0) {
        const v = Math.fround(next() * 4 - 2);
        return Math.abs(v) < 1e-3 ? 0.5 : v;
      }
      if (kind === 2) {
        const r = next();
        if (r < 0.1) return NaN;
        if (r < 0.15) return r < 0.125 ? Infinity : -Infinity;
      }
      return Math.round(next() * 16 - 8) / 4;
    });
  const intData = (n: number, kind: number) =>
    Int32Array.from({ length: n }, () => {
      if (kind === 1) return Math.floor(next() * 2001) - 1000;
      if (kind === 2 && next() < 0.25) return EXTREME_INTS[Math.floor(next() * EXTREME_INTS.length)];
      return Math.floor(next() * 11) - 5;
    });
  const input = (shape: number[], dtype: DType, kind: number): Tensor => {
    const n = sizeOf(shape);
    if (dtype === 'float32') return rec(wg.tensor(floatData(n, kind % 3), shape), () => 0);
    if (dtype === 'int32') return rec(wg.tensor(intData(n, kind % 3), shape), () => 0);
    return rec(wg.tensor(Uint8Array.from({ length: n }, () => (next() < 0.5 ? 1 : 0)), shape, 'bool'), () => 0);
  };

  // ---- operand choice ----
  /** Usually one of the two newest values (programs grow deep), else any. */
  const newest = (list: Tensor[], k: number): Tensor | undefined => (list.length === 0 ? undefined : k % 4 < 3 ? list[Math.max(0, list.length - 1 - ((k >> 2) % 2))] : list[k % list.length]);
  const any = (list: Tensor[], k: number): Tensor | undefined => (list.length === 0 ? undefined : list[k % list.length]);
  const compatible = (shape: readonly number[]) => pool.filter((t) => broadcastable(t.shape, shape));
  const scalarOf = (k: number) => SCALARS[(k >> 3) % SCALARS.length];

  // ---- recorded helpers for the pieces steps are made of ----
  const toFloat = (a: Tensor) => (a.dtype === 'float32' ? a : rec(a.cast('float32'), R.toFloatRule(a)));
  const toNumeric = (a: Tensor) => (a.dtype === 'bool' ? exact(a.cast('int32'), a) : a);
  /** |a| + 0.5 (or + 0.25): a value inside the positive domain of log, sqrt, pow's base, a divisor. */
  const positive = (a: Tensor, c: number) => {
    const m = exact(toNumeric(a).abs(), a);
    return rec(m.add(c), R.arithRule('add', m, c));
  };
  const swapLast = (t: Tensor, k: number): Tensor => {
    if (t.ndim === 2 && k % 2 === 0) return exact(t.T, t);
    const perm = t.shape.map((_, i) => i);
    [perm[t.ndim - 2], perm[t.ndim - 1]] = [perm[t.ndim - 1], perm[t.ndim - 2]];
    return exact(t.transpose(k % 4 === 1 ? perm.map((x) => x - t.ndim) : perm), t);
  };

  const unary = (op: (typeof UNARY)[number], a: Tensor): Tensor => {
    switch (op) {
      case 'neg':
      case 'abs':
      case 'relu':
        return exact(a[op](), a);
      case 'square':
        return rec(a.square(), R.arithRule('square', a, a));
      case 'sign':
      case 'floor':
      case 'ceil':
      case 'round':
        return rec(a[op](), a.dtype === 'float32' ? R.stepRule(op, a) : R.exactOf(a));
      default: {
        const x = POSITIVE_DOMAIN.has(op) ? positive(a, 0.25) : a;
        return rec(x[op](), R.floatUnaryRule(op, x));
      }
    }
  };

  const binary = (op: (typeof BINARY)[number], a: Tensor, b: R.Operand): Tensor => {
    if (COMPARE.has(op)) return rec(a[op as R.Compare](b), R.compareRule(a, b));
    // Arithmetic on two bools is an error in the API: count in int32 instead.
    if (a.dtype === 'bool' && (typeof b === 'boolean' || (typeof b === 'object' && b.dtype === 'bool'))) a = toNumeric(a);
    if (op === 'pow' && !(typeof b === 'number' && Number.isInteger(b))) a = positive(a, 0.5);
    if (op === 'pow' && typeof b === 'boolean') b = Number(b);
    return rec(a[op as R.Arith](b), R.arithRule(op as R.Arith, a, b));
  };

  // ---- steps: operands are chosen here, the returned body builds the result (dup runs it again) ----
  const bodies: (() => Tensor)[] = [];

  const stepBody = (s: Step): [string, () => Tensor] | null => {
    switch (s.kind) {
      case 'unary': {
        const a0 = newest(pool, s.a)!;
        const a = toNumeric(a0);
        const op = UNARY[s.op % UNARY.length];
        return [`unary:${op}(${ty(a0)})`, () => unary(op, a)];
      }
      case 'binary': {
        const a = newest(pool, s.a)!;
        const op = BINARY[s.op % BINARY.length];
        let b: R.Operand;
        if (s.scalar % 5 === 0) b = scalarOf(s.scalar);
        else {
          const t = any(compatible(a.shape), s.b)!;
          // A divisor is usually kept away from zero, else most divisions make infinities nothing is said about.
          b = op === 'div' && s.scalar % 3 !== 0 ? positive(t, 0.5) : t;
        }
        return [`binary:${op}(${ty(a)},${ty(b)})`, () => binary(op, a, b)];
      }
      case 'where': {
        const bools = pool.filter((t) => t.dtype === 'bool');
        let cond = any(bools, s.cond);
        if (!cond) {
          const x = newest(pool, s.cond)!;
          cond = rec(x.gt(0), R.compareRule(x, 0));
        }
        const a = any(compatible(cond.shape), s.a)!;
        const both = broadcastShapes(cond.shape, a.shape, 'test');
        const b = s.scalar % 4 === 0 ? scalarOf(s.scalar) : any(compatible(both), s.b)!;
        const c = cond;
        return [`where(${ty(a)},${ty(b)})`, () => rec(wg.where(c, a, b), R.whereRule(c, a, b))];
      }
      case 'clamp': {
        const a = toNumeric(newest(pool, s.a)!);
        const bound = (k: number) => (k % 4 === 0 ? null : k % 4 === 1 ? any(compatible(a.shape), k >> 2)! : SCALARS[(k >> 2) % 7]);
        let lo = bound(s.lo);
        // hi bounds maximum(a, lo), so it must broadcast against that shape.
        const loShape = typeof lo === 'object' && lo !== null ? broadcastShapes(a.shape, lo.shape, 'test') : a.shape;
        let hi = s.hi % 4 === 1 ? any(compatible(loShape), s.hi >> 2)! : bound(s.hi);
        if (lo === null && hi === null) lo = -1;
        if (typeof lo === 'object' && lo?.dtype === 'bool') lo = toNumeric(lo);
        if (typeof hi === 'object' && hi?.dtype === 'bool') hi = toNumeric(hi);
        const l = lo as R.Operand | null;
        const h = hi as R.Operand | null;
        return [`clamp(${ty(a)})`, () => rec(a.clamp(l, h), R.exactOf(a, ...[l, h].filter((x): x is R.Operand => x !== null)))];
      }
      case 'cast': {
        const a = newest(pool, s.a)!;
        const to = DTYPES[s.to % 3];
        const rule = to === 'float32' ? R.toFloatRule(a) : a.dtype !== 'float32' ? R.exactOf(a) : to === 'int32' ? R.stepRule('int32', a) : R.toBoolRule(a);
        return [`cast(${ty(a)}->${SHORT[to]})`, () => rec(a.cast(to), rule)];
      }
      case 'reduce': {
        const a0 = newest(pool, s.a)!;
        const op = (['sum', 'max', 'min', 'mean', 'prod', 'variance'] as const)[s.op % 6];
        const all = (s.axes & 0x30) === 0x30;
        let axes = a0.shape.map((_, i) => i).filter((i) => (s.axes >> i) & 1);
        if (all) axes = a0.shape.map((_, i) => i);
        if ((op === 'max' || op === 'min') && axes.some((i) => a0.shape[i] === 0)) return null;
        // The axis argument as a user writes it: omitted, one number, or a list; negative sometimes.
        const written = (s.axes >> 6) & 1 ? axes.map((i) => i - a0.ndim) : axes;
        const arg: number | number[] | undefined = all && (s.axes >> 7) & 1 ? undefined : written.length === 1 && (s.axes >> 7) & 1 ? written[0] : written;
        const K = sizeOf(axes.map((i) => a0.shape[i]));
        return [
          `reduce:${op}(${ty(a0)})`,
          () => {
            const a = op === 'mean' || op === 'variance' ? (a0.dtype === 'bool' ? toFloat(a0) : a0) : a0;
            switch (op) {
              case 'sum':
                return rec(a.sum(arg, s.keepdims), R.sumRule(a, axes, false));
              case 'mean':
                return rec(a.mean(arg, s.keepdims), R.sumRule(a, axes, true));
              case 'prod':
                return rec(a.prod(arg, s.keepdims), R.prodRule(a, axes));
              case 'max':
              case 'min':
                return exact(a[op](arg, s.keepdims), a);
              case 'variance': {
                const f = toFloat(a);
                return rec(f.variance(arg, s.keepdims), varianceRule(K, f));
              }
            }
          },
        ];
      }
      case 'arg': {
        const a = newest(pool, s.a)!;
        const isMax = s.op % 2 === 0;
        const flat = a.ndim === 0 || s.axis % 5 === 4;
        const axis = flat ? undefined : s.axis % a.ndim;
        if ((axis === undefined ? a.size : a.shape[axis]) === 0) return null;
        const written = axis !== undefined && (s.axis >> 4) & 1 ? axis - a.ndim : axis;
        return [`${isMax ? 'argmax' : 'argmin'}(${ty(a)}${flat ? ',flat' : ''})`, () => rec(isMax ? a.argmax(written, s.keepdims) : a.argmin(written, s.keepdims), R.argRule(a, axis, isMax))];
      }
      case 'row': {
        const a0 = newest(
          pool.filter((t) => t.ndim >= 1),
          s.a,
        );
        if (!a0) return null;
        const op = (['softmax', 'logSoftmax', 'layerNorm'] as const)[s.op % 3];
        const axis = s.axis % a0.ndim;
        const K = a0.shape[axis];
        if (op !== 'layerNorm' && K === 0) return null;
        const last = a0.shape[a0.ndim - 1];
        return [
          `row:${op}(${ty(a0)})`,
          () => {
            const a = toFloat(a0);
            if (op === 'softmax') return rec(a.softmax((s.axis >> 4) & 1 ? axis - a.ndim : axis), softmaxRule(K, a));
            if (op === 'logSoftmax') return rec(a.logSoftmax(axis), logSoftmaxRule(K, a));
            const eps = [1e-5, 1e-3, 0.1][(s.w >> 2) % 3];
            const plain = rec(wg.layerNorm(a, null, null, eps), layerNormRule(a));
            if (s.w % 4 === 0) return plain;
            // With weight and/or bias, as out = n * w + b with n the plain result above (recorded only for its bound).
            const w = s.w % 4 !== 2 ? (any(compatible(a0.shape).filter((t) => t.dtype !== 'bool' && t.ndim <= a0.ndim), s.w >> 4) ?? input([last], 'float32', 0)) : null;
            const b = s.w % 4 !== 1 ? input([last], 'float32', s.w >> 4) : null;
            const operands: R.Operand[] = [plain, w ?? 1, b ?? 0];
            return rec(
              wg.layerNorm(a, w, b, eps),
              R.pointwise(operands, ([n, x], [en, ex, eb], y) => Math.abs(x) * en + Math.abs(n) * ex + en * ex + eb + 2 * U * (Math.abs(n * x) + Math.abs(y))),
            );
          },
        ];
      }
      case 'matmul':
        return matmulStep(s);
      case 'layout':
        return layoutStep(s);
      case 'create':
        return createStep(s);
      case 'dup':
        return bodies.length === 0 ? null : ['dup', bodies[s.of % bodies.length]];
    }
  };

  const matmulStep = (s: Extract<Step, { kind: 'matmul' }>): [string, () => Tensor] | null => {
    let a = newest(
      pool.filter((t) => t.ndim >= 1),
      s.a,
    );
    if (!a) return null;
    if (a.dtype === 'bool') a = toNumeric(a);
    const A = a;
    const K = A.shape[A.ndim - 1];
    const N = MATMUL_N[s.n % MATMUL_N.length];
    const wType: DType = (s.n >> 3) % 3 === 2 ? 'int32' : 'float32';
    const mm = (x: Tensor, y: Tensor) => rec(x.matmul(y), R.matmulRule(x, y));
    const form = s.form % 9;
    switch (form) {
      case 0: // a @ W
        return [`matmul:W(${ty(A)},${SHORT[wType]})`, () => mm(A, input([K, N], wType, s.b))];
      case 1: // a @ W.T
        return [`matmul:WT(${ty(A)})`, () => mm(A, swapLast(input([N, K], wType, s.b), s.b))];
      case 2: {
        // a @ b for a pooled b of fitting shape (1-D, or [..., K, n] with broadcastable batch axes)
        const fits = pool.filter((t) => t.dtype !== 'bool' && (t.ndim === 1 ? t.shape[0] === K : t.ndim >= 2 && t.shape[t.ndim - 2] === K && (A.ndim < 2 || broadcastable(A.shape.slice(0, -2), t.shape.slice(0, -2)))));
        const b = any(fits, s.b);
        return b ? [`matmul:pool(${ty(A)},${ty(b)})`, () => mm(A, b)] : null;
      }
      case 3: {
        // a @ b^T (transB); b = a gives a @ a^T, a SYRK
        const fits = pool.filter((t) => t.dtype !== 'bool' && t.ndim >= 2 && t.shape[t.ndim - 1] === K && (A.ndim < 2 || broadcastable(A.shape.slice(0, -2), t.shape.slice(0, -2))));
        const b = s.b % 3 === 0 && A.ndim >= 2 ? A : any(fits, s.b);
        return b ? [`matmul:transB(${ty(A)},${ty(b)}${b === A ? ',syrk' : ''})`, () => mm(A, swapLast(b, s.b))] : null;
      }
      case 4: {
        // a^T @ W (transA), or a^T @ a (SYRK with transA)
        if (A.ndim < 2) return null;
        const rows = A.shape[A.ndim - 2];
        return [`matmul:transA(${ty(A)})`, () => mm(swapLast(A, s.b), s.b % 2 === 0 ? A : input([rows, N], wType, s.b))];
      }
      case 5: {
        // 1-D on the left (v @ a) or the right (a @ v)
        if (A.ndim >= 2 && s.b % 2 === 0) return [`matmul:vecLeft(${ty(A)})`, () => mm(input([A.shape[A.ndim - 2]], wType, s.b), A)];
        return [`matmul:vecRight(${ty(A)})`, () => mm(A, input([K], wType, s.b))];
      }
      case 6: {
        // a batch of right operands that broadcasts against a: [bt, K, N] (bt may be 1), and rank 3 x rank 3
        const bt = A.ndim >= 3 ? [1, A.shape[A.ndim - 3]][s.b % 2] : 1 + (s.b % 3);
        return [`matmul:batched(${ty(A)},${bt})`, () => mm(A, input([bt, K, N], wType, s.b))];
      }
      case 8: {
        // a large product around GEMM tile sizes, either operand transposed, with a bias (an epilogue)
        const [m, k, n] = [BIG[s.n % 7], BIG[(s.n >> 3) % 7], BIG[s.b % 7]];
        return [
          `matmul:big`,
          () => {
            const x = s.b & 8 ? swapLast(input([k, m], wType, s.b), s.b) : input([m, k], wType, s.b);
            const w = s.b & 16 ? swapLast(input([n, k], 'float32', s.n), s.n) : input([k, n], 'float32', s.n);
            const y = mm(x, w);
            if (s.b & 32) return y;
            const bias = input([n], 'float32', 0);
            return rec(y.add(bias), R.arithRule('add', y, bias));
          },
        ];
      }
      default: {
        // a batch on the left: [bt, M, K] @ a (a is [K, n] or batched)
        if (A.ndim < 2) return null;
        const bt = A.ndim >= 3 ? [1, A.shape[A.ndim - 3]][s.b % 2] : 1 + (s.b % 3);
        return [`matmul:batchedLeft(${ty(A)},${bt})`, () => mm(input([bt, N, A.shape[A.ndim - 2]], wType, s.b), A)];
      }
    }
  };

  const layoutStep = (s: Extract<Step, { kind: 'layout' }>): [string, () => Tensor] | null => {
    const a = newest(pool, s.a)!;
    const r = a.ndim;
    const op = s.op % 10;
    switch (op) {
      case 0: {
        // reshape: flatten, merge two neighbours, split one axis, or put a -1 somewhere
        let shape: number[];
        const v = s.p % 4;
        if (v === 0 || r === 0) shape = [-1];
        else if (v === 1 && r >= 2) {
          const i = s.q % (r - 1);
          shape = [...a.shape.slice(0, i), a.shape[i] * a.shape[i + 1], ...a.shape.slice(i + 2)];
        } else if (v === 2) {
          const i = s.q % r;
          const d = a.shape[i];
          const f = [2, 3, 5].find((x) => d % x === 0 && d > x) ?? 1;
          shape = [...a.shape.slice(0, i), f, d / f, ...a.shape.slice(i + 1)];
        } else {
          shape = [...a.shape];
          if (a.size > 0) shape[s.q % r] = -1;
        }
        return [`reshape`, () => exact(a.reshape(shape), a)];
      }
      case 1: {
        const perms = permutations(r);
        const perm = perms[s.q % perms.length];
        const written = s.p % 2 ? perm.map((x) => x - r) : perm;
        return [`transpose`, () => exact(a.transpose(written), a)];
      }
      case 2:
        return [`T`, () => exact(a.T, a)];
      case 3: {
        // expand: size-1 axes grow, and sometimes a new leading axis
        const shape = a.shape.map((d, i) => (d === 1 ? 1 + ((s.q >> i) % 4) : d));
        const lead = s.p % 3 === 0 ? [1 + ((s.p >> 2) % 3)] : [];
        return [`expand`, () => exact(a.expand([...lead, ...shape]), a)];
      }
      case 4: {
        if (r === 0) return null;
        const begin = a.shape.map((d, i) => (d === 0 ? 0 : (s.q >> (2 * i)) % d));
        const size = a.shape.map((d, i) => {
          const room = d - begin[i];
          const k = (s.p >> (2 * i)) % 4;
          return k === 0 ? -1 : k === 3 && s.p % 7 === 0 ? 0 : Math.min(room, Math.max(1, room - k + 1));
        });
        const written = begin.map((b, i) => ((s.p >> 7) & 1 && a.shape[i] > 0 ? b - a.shape[i] : b));
        return [`slice`, () => exact(a.slice(written, size), a)];
      }
      case 5: {
        const ones = a.shape.flatMap((d, i) => (d === 1 ? [i] : []));
        if (ones.length > 0 && s.q % 2 === 0) return [`squeeze(axis)`, () => exact(a.squeeze(ones[(s.q >> 1) % ones.length]), a)];
        return [`squeeze`, () => exact(a.squeeze(), a)];
      }
      case 6: {
        const axis = s.q % (r + 1);
        return [`unsqueeze`, () => exact(a.unsqueeze(s.p % 2 ? axis - r - 1 : axis), a)];
      }
      case 7: {
        // concat with a value that fits along the axis, or with a slice of itself
        if (r === 0) return null;
        const axis = s.q % r;
        const fits = pool.filter((t) => t !== a && t.ndim === r && t.shape.every((d, i) => i === axis || d === a.shape[i]));
        const other = any(fits, s.p);
        return [
          `concat`,
          () => {
            const b = other ?? exact(a.slice(a.shape.map(() => 0), a.shape.map((d, i) => (i === axis ? Math.min(d, 1 + (s.p % 3)) : d))), a);
            const parts = s.p % 5 === 0 ? [a, b, a] : [b, a];
            return rec(wg.concat(parts, s.p % 2 ? axis - r : axis), R.exactOf(...parts));
          },
        ];
      }
      case 8:
        // reshape to the same shape: canonicalize removes it
        return [`reshape:same`, () => exact(a.reshape(a.shape), a)];
      default: {
        // a view of a view: a slice, then flattened
        if (r === 0) return null;
        return [`slice+reshape`, () => exact(exact(a.slice(a.shape.map((d) => (d > 1 ? 1 : 0)), a.shape.map(() => -1)), a).reshape([-1]), a)];
      }
    }
  };

  const createStep = (s: Extract<Step, { kind: 'create' }>): [string, () => Tensor] | null => {
    const shape = shapeFrom(s.p, s.q);
    const dtype = DTYPES[s.q % 3];
    const op = s.op % 8;
    switch (op) {
      case 0:
        return [`zeros`, () => exact(wg.zeros(shape, dtype))];
      case 1:
        return [`ones`, () => exact(wg.ones(shape, dtype))];
      case 2: {
        const value = FULL_VALUES[s.p % FULL_VALUES.length];
        const dt = (s.q >> 2) % 2 ? dtype : undefined;
        return [`full`, () => exact(wg.full(shape, value, dt))];
      }
      case 3: {
        // arange along the last axis of B: int32 arange(n), or float arange(start, stop, step)
        const n = B.length > 0 ? B[B.length - 1] : 3;
        if (s.q % 2 === 0) return [`arange:int`, () => exact(wg.arange(n))];
        const [start, step] = [[0.5, 0.25], [2, -0.5], [-1, 0.1]][s.p % 3];
        return [
          `arange:float`,
          () =>
            rec(wg.arange(start, start + n * step, step), (c, t) => {
              const v = c.values(t);
              const exactAll = Array.from(v).every((x, i) => x === start + i * step);
              return exactAll ? 0 : 3 * U * (Math.abs(start) + v.length * Math.abs(step));
            }),
        ];
      }
      case 4: {
        const n = B.length >= 2 ? B[B.length - 2] : 3;
        const m = B.length >= 1 ? B[B.length - 1] : 3;
        return [`eye`, () => exact(s.q % 2 ? wg.eye(m) : wg.eye(n, m))];
      }
      case 5:
        return [`rand`, () => exact(wg.rand(shape, s.q))];
      case 6:
        // Box-Muller: |z| <= 5.8 and WGSL's cos is good to 2^-11, plus the log and sqrt.
        return [`randn`, () => rec(wg.randn(shape, s.q), () => 5.8 * 2 ** -11 + 2e-5)];
      default: {
        // wg.tensor from nested JS arrays (numbers default to float32; booleans give bool; a dtype converts)
        const n = sizeOf(shape);
        const kind = s.q % 3;
        if (kind === 2) return [`tensor:nested-bool`, () => exact(wg.tensor(nested(Uint8Array.from({ length: n }, () => (next() < 0.5 ? 1 : 0)), shape, true) as boolean[], shape))];
        const values = kind === 0 ? floatData(n, 1) : intData(n, 0);
        const dt: DType | undefined = kind === 0 ? undefined : 'int32';
        return [`tensor:nested-${kind === 0 ? 'f32' : 'i32'}`, () => exact(wg.tensor(nested(values, shape, false) as number[], shape, dt))];
      }
    }
  };

  // ---- the program ----
  p.inputs.forEach((spec, i) => {
    const shape = i === 0 ? [...B] : shapeFrom(spec.drop, spec.ones);
    const dtype = DTYPES[[0, 0, 0, 1, 1, 2][spec.dtype % 6]];
    pool.push(input(shape, dtype, spec.kind));
  });
  for (const s of p.steps) {
    try {
      const step = stepBody(s);
      if (!step) continue;
      const [what, body] = step;
      const t = body();
      bodies.push(body);
      pool.push(t);
      ops.push(what);
      if (/^(transpose|T|expand|slice)$/.test(what)) views.push(t);
    } catch (err) {
      if (!(err instanceof Skip)) throw err;
    }
  }
  const outputs = [...new Set([pool[pool.length - 1], ...p.outputs.map((k) => pool[k % pool.length])])];
  // Sometimes a strided view (transposed or sliced) is evaluated first and an extra output reads it.
  const k0 = p.realize[0] ?? 1;
  const base = newest(
    pool.filter((t) => t.ndim >= 2 && t.size > 0 && t.dtype !== 'bool'),
    k0 >> 2,
  );
  if (k0 % 4 === 0 && base) {
    try {
      const v = k0 & 4 ? swapLast(base, k0 >> 3) : exact(base.slice(base.shape.map((d) => (d > 1 ? 1 : 0)), base.shape.map(() => -1)), base);
      const y = k0 & 8 ? rec(v.sum(-1), R.sumRule(v, [v.ndim - 1], false)) : exact(v.neg(), v);
      views.push(v);
      outputs.push(y);
      ops.push('view-input');
    } catch (err) {
      if (!(err instanceof Skip)) throw err;
    }
  }
  // Most early values are strided layout results the outputs read: evaluated alone they are views, which the
  // program then reads as strided inputs.
  const reached = new Set(outputs.map((o) => o.node));
  for (const n of reached) n.inputs.forEach((i) => reached.add(i));
  const readViews = views.filter((v) => reached.has(v.node));
  const realize = [...new Set(p.realize.map((k) => (k % 4 !== 3 && readViews.length > 0 ? readViews[(k >> 2) % readViews.length] : pool[k % pool.length])))];
  return { outputs, recorder, realize, ops };
}
