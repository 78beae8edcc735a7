// Value-based error rules for the differential fuzzer, on top of the shared error model (error-model.ts).
// The shared rules bound a whole tensor from its operands' magnitudes; these look at the CPU reference's
// values element by element, which the fuzzer needs for three things:
//   - exactness: an op whose operands are exact (E = 0) and whose exact result is representable gives the
//     same bits on every backend (add, sub, mul, square, sums and dot products whose partial sums all fit in
//     24 bits), so comparisons, floor and argmax downstream of it can be checked exactly;
//   - discontinuous ops (comparisons, floor/ceil/round/sign, casts to int32 or bool, argmax/argmin): the
//     result is exact when no element's operand interval [x - E, x + E] crosses a jump, and unknown
//     (E = Infinity) otherwise, so outputs depending on it are not compared;
//   - NaN and infinities that come in with the data follow IEEE rules exactly, as docs/semantics.md
//     promises: an element that is NaN because an operand is NaN is compared as NaN, and an element with an
//     infinite or NaN operand, all operands exact, must be what the reference gives (a NaN made from data
//     infinities, inf - inf or 0 * inf, included: wgfuse guards the folds SwiftShader applies to them). A NaN
//     or infinity made from finite operands (0 / 0, overflow) is unknown (Infinity): WGSL does not promise to
//     preserve them (Vulkan drivers may assume there are none, and fold `x * 1e30 / 1e30` to x), and neither
//     can wgfuse. (Seed 401 once made a NaN from infinities unknown too, blaming the driver for
//     maximum(x - x, x) at x = -inf giving -inf; the fault was wg_max's, see docs/reliability.md.)
// int32 and bool tensors are either exact (E = 0) or unknown (E = Infinity).
import type { Tensor } from '../../src/index.js';
import { roundHalfEven } from '../../src/runtime/cpu/elementwise.js';
import { broadcastTo, permute } from '../../src/runtime/cpu/strided.js';
import { coerce } from '../../src/ir/dtype.js';
import { broadcastShapes, sizeOf } from '../../src/ir/shape.js';
import { TRANS_ABS, TRANS_REL, U, type ErrCtx, type Rule } from './error-model.js';

/** An operand of an API call: a tensor or a JS scalar (a const node, exact on every backend). */
export type Operand = Tensor | number | boolean;

const isTensor = (x: Operand): x is Tensor => typeof x === 'object';

/** The operand's error where the op computes in float32: an int32 beyond 2^24 rounds when it is cast. */
function effE(c: ErrCtx, x: Operand, float: boolean): number {
  if (!isTensor(x)) return 0;
  const e = c.E(x);
  return float && x.dtype === 'int32' && c.M(x) >= 2 ** 24 ? e + 2 * U * c.M(x) : e;
}

/** The operand's values broadcast to `shape` (a scalar fills it). */
function valuesAt(c: ErrCtx, x: Operand, shape: readonly number[]): ArrayLike<number> {
  if (!isTensor(x)) return new Float64Array(sizeOf(shape)).fill(Number(x));
  return broadcastTo(c.values(x), x.shape, shape);
}

/** Whether the op computes in float32 (any float operand, or an op whose result is always float). */
function computesInFloat(self: Tensor, operands: readonly Operand[]): boolean {
  return self.dtype === 'float32' || operands.some((x) => isTensor(x) && x.dtype === 'float32') || operands.some((x) => typeof x === 'number' && !Number.isInteger(x));
}

type Elem = (xs: readonly number[], es: readonly number[], y: number) => number;

/** Per-element bound, maximised; see the header for NaN and infinities. */
export function pointwise(operands: readonly Operand[], elem: Elem): Rule {
  return (c, self) => {
    const float = computesInFloat(self, operands);
    const es = operands.map((x) => effE(c, x, float));
    if (es.some((e) => e === Infinity)) return Infinity;
    const ys = c.values(self);
    const xs = operands.map((x) => valuesAt(c, x, self.shape));
    const at = new Array<number>(operands.length);
    let worst = 0;
    for (let i = 0; i < ys.length; i++) {
      for (let k = 0; k < xs.length; k++) at[k] = xs[k][i];
      const y = ys[i];
      if (!Number.isFinite(y) || at.some((v) => !Number.isFinite(v))) {
        const fromData = at.some((v) => !Number.isFinite(v));
        if ((Number.isNaN(y) && at.some(Number.isNaN)) || (fromData && es.every((e) => e === 0))) continue;
        return Infinity;
      }
      const b = elem(at, es, y);
      if (!(b <= Infinity)) return Infinity;
      if (b > worst) worst = b;
    }
    return worst;
  };
}

/** A discontinuous op: exact when no element can cross a jump within its operands' bounds, else Infinity. */
export function stable(operands: readonly Operand[], crosses: (xs: readonly number[], es: readonly number[]) => boolean): Rule {
  return (c, self) => {
    const float = computesInFloat(self, operands) || operands.some((x) => isTensor(x) && x.dtype === 'float32');
    const es = operands.map((x) => effE(c, x, float));
    if (es.some((e) => e === Infinity)) return Infinity;
    if (es.every((e) => e === 0)) return 0;
    const xs = operands.map((x) => valuesAt(c, x, self.shape));
    const at = new Array<number>(operands.length);
    const n = sizeOf(self.shape);
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < xs.length; k++) at[k] = xs[k][i];
      if (at.some(Number.isNaN)) continue; // NaN stays NaN whatever the other operands' errors
      if (crosses(at, es)) return Infinity;
    }
    return 0;
  };
}

/** The largest operand error: ops that pick one of their operands' values (layout, max, min, relu, concat). */
export function exactOf(...operands: Operand[]): Rule {
  return (c, self) => {
    const float = self.dtype === 'float32';
    return Math.max(0, ...operands.map((x) => effE(c, x, float)));
  };
}

/** One float32 rounding unless the operands are exact and the exact result is representable. */
function rounding(es: readonly number[], exact: number, y: number): number {
  return es.every((e) => e === 0) && Math.fround(exact) === exact ? 0 : U * Math.abs(y);
}

// ---- elementwise ----------------------------------------------------------------------------------------

export type FloatUnary = 'exp' | 'log' | 'sqrt' | 'rsqrt' | 'reciprocal' | 'sin' | 'cos' | 'tanh' | 'sigmoid' | 'gelu';

/** The largest |f'| on [x - e, x + e]; Infinity where the interval leaves the domain. */
const SLOPE: Record<FloatUnary, (x: number, e: number) => number> = {
  exp: (x, e) => Math.exp(x + e),
  log: (x, e) => (x - e > 0 ? 1 / (x - e) : Infinity),
  sqrt: (x, e) => (x - e > 0 ? 0.5 / Math.sqrt(x - e) : Infinity),
  rsqrt: (x, e) => (x - e > 0 ? 0.5 * (x - e) ** -1.5 : Infinity),
  reciprocal: (x, e) => (Math.abs(x) - e > 0 ? 1 / (Math.abs(x) - e) ** 2 : Infinity),
  sin: () => 1,
  cos: () => 1,
  tanh: () => 1,
  sigmoid: () => 0.25,
  gelu: () => 1.13,
};

/** A float unary function: the slope carries the operand's error; WGSL's accuracy adds the function's own. */
export function floatUnaryRule(op: FloatUnary, a: Operand): Rule {
  return pointwise([a], ([x], [e], y) => {
    const carried = e === 0 ? 0 : SLOPE[op](x, e) * e;
    // WGSL bounds sin/cos to 2^-11 absolute (after wgfuse's range reduction, whose own error grows with |x|);
    // exp to (3 + 2|x|) ULP.
    if (op === 'sin' || op === 'cos') return carried + 2 ** -11 + 8 * U * Math.abs(x);
    const own = op === 'exp' ? (4 + 2 * Math.abs(x)) * U * Math.abs(y) : 0;
    return carried + own + TRANS_REL * Math.abs(y) + TRANS_ABS;
  });
}

export type Arith = 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum' | 'square';

export function arithRule(op: Arith, a: Operand, b: Operand): Rule {
  return (c, self) => {
    if (self.dtype !== 'float32') return exactOf(a, b)(c, self); // int32 arithmetic wraps identically everywhere
    return pointwise([a, b], ([x, z], [ex, ez], y) => {
      switch (op) {
        case 'add':
          return ex + ez + rounding([ex, ez], x + z, y);
        case 'sub':
          return ex + ez + rounding([ex, ez], x - z, y);
        case 'mul':
        case 'square':
          return Math.abs(z) * ex + Math.abs(x) * ez + ex * ez + rounding([ex, ez], x * z, y);
        case 'div': {
          // WGSL division is accurate to 2.5 ULP, not correctly rounded: never exact.
          const d = Math.abs(z);
          if (d <= ez) return Infinity;
          return (ex * d + Math.abs(x) * ez) / (d * (d - ez)) + 3 * U * Math.abs(y);
        }
        case 'pow':
          return powBound(x, z, ex, ez, y);
        case 'maximum':
        case 'minimum':
          return Math.max(ex, ez);
      }
    })(c, self);
  };
}

/**
 * x^z as wgfuse computes it (exp2(z * log2|x|), the sign fixed for odd integral z). Perturbations: a
 * positive base moves the result by at most |z| P / x per unit of x and |P ln x| per unit of z, P the largest
 * |result| over the box; a non-positive base is exact only with exact operands (the sign and NaN cases jump).
 */
function powBound(x: number, z: number, ex: number, ez: number, y: number): number {
  const arg = Math.abs(z * Math.log2(Math.abs(x)));
  const own = Math.abs(y) * (TRANS_REL + (Math.abs(z) * 2 ** -21) + (6 + 5 * arg) * U) + TRANS_ABS;
  if (ex === 0 && ez === 0) return x === 0 ? 0 : own;
  if (x - ex <= 0) return Infinity;
  let P = 0;
  for (const xb of [x - ex, x + ex]) for (const zb of [z - ez, z + ez]) P = Math.max(P, Math.abs(Math.pow(xb, zb)));
  const lnMax = Math.max(Math.abs(Math.log(x - ex)), Math.abs(Math.log(x + ex)));
  return ((Math.abs(z) + ez) * P * ex) / (x - ex) + P * lnMax * ez + own;
}

export type Compare = 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge';

/** A comparison flips only where |a - b| <= Ea + Eb. */
export function compareRule(a: Operand, b: Operand): Rule {
  return stable([a, b], ([x, z], [ex, ez]) => Math.abs(x - z) <= ex + ez);
}

/** floor/ceil/round/sign and casts to int32: monotone step functions, stable where f(x - E) = f(x + E). */
export function stepRule(f: 'floor' | 'ceil' | 'round' | 'sign' | 'int32', a: Tensor): Rule {
  const fn = { floor: Math.floor, ceil: Math.ceil, round: roundHalfEven, sign: Math.sign, int32: (v: number) => coerce(v, 'int32') }[f];
  return stable([a], ([x], [e]) => fn(x - e) !== fn(x + e));
}

/** Cast to bool (x != 0) flips only where |x| <= E. */
export function toBoolRule(a: Tensor): Rule {
  return stable([a], ([x], [e]) => Math.abs(x) <= e);
}

/** int32 -> float32 rounds beyond 2^24 (to either neighbour in WGSL); bool -> anything is exact. */
export function toFloatRule(a: Tensor): Rule {
  if (a.dtype === 'float32') return exactOf(a);
  return pointwise([a], ([x], [e]) => e + (Math.fround(x) === x ? 0 : 2 * U * Math.abs(x)));
}

/** where(cond, a, b): an unknown condition makes the result unknown; otherwise the branches' errors. */
export function whereRule(cond: Tensor, a: Operand, b: Operand): Rule {
  return (c, self) => (c.E(cond) > 0 ? Infinity : exactOf(a, b)(c, self));
}

// ---- reductions -----------------------------------------------------------------------------------------

/** The rows `axes` reduce over: the data permuted so each output element reads one contiguous run. */
function rows(c: ErrCtx, a: Tensor, axes: readonly number[]): { data: ArrayLike<number>; K: number; count: number } {
  const shape = a.shape;
  const moved = [...axes].sort((x, y) => x - y);
  const kept = shape.map((_, i) => i).filter((i) => !moved.includes(i));
  const K = sizeOf(moved.map((i) => shape[i]));
  return { data: permute(c.values(a), shape, [...kept, ...moved]), K, count: K === 0 ? sizeOf(kept.map((i) => shape[i])) : sizeOf(shape) / K };
}

/** The lowest set bit of a finite non-zero float (every multiple of it on the f32 grid is exact). */
function lowBit(x: number): number {
  let g = 2 ** (Math.floor(Math.log2(Math.abs(x))) - 23);
  while (Number.isInteger(x / (2 * g))) g *= 2;
  while (!Number.isInteger(x / g)) g /= 2;
  return g;
}

/** True when every partial sum of these terms, in any order, is representable in f32 (so every order is exact). */
export function exactSum(terms: ArrayLike<number>): boolean {
  let g = Infinity;
  let total = 0;
  for (let j = 0; j < terms.length; j++) {
    const t = terms[j];
    if (t === 0) continue;
    if (!Number.isFinite(t) || Math.fround(t) !== t) return false;
    g = Math.min(g, lowBit(t));
    total += Math.abs(t);
  }
  return total === 0 || total / g < 2 ** 24;
}

/** sum (scale 1) or mean (scale 1/K, then one inexact division) over `axes`. */
export function sumRule(a: Tensor, axes: readonly number[], mean: boolean): Rule {
  return (c, self) => {
    if (self.dtype !== 'float32') return c.E(a);
    const e = effE(c, a, true);
    if (e === Infinity) return Infinity;
    const { data, K, count } = rows(c, a, axes);
    if (mean && K === 0) return count === 0 ? 0 : Infinity; // 0 / 0: a NaN made here
    let worst = 0;
    for (let r = 0; r < count; r++) {
      const row = Array.from({ length: K }, (_, j) => data[r * K + j]);
      if (row.some(Number.isNaN)) continue;
      // Exact infinities give the same infinity (or NaN, for +inf and -inf) in any order.
      if (row.some((v) => !Number.isFinite(v))) {
        if (e === 0) continue;
        return Infinity;
      }
      if (!Number.isFinite(c.values(self)[r])) return Infinity; // overflow of finite terms
      const abs = row.reduce((s, v) => s + Math.abs(v), 0);
      if (abs > 3e38) return Infinity; // a partial sum may overflow in some order
      let bound = K * e + (e === 0 && exactSum(row) ? 0 : (K + 1) * U * abs);
      if (mean) bound = bound / K + 3 * U * (abs / K);
      worst = Math.max(worst, bound);
    }
    return worst;
  };
}

/** The odd part of a finite non-zero float's significand (x = m * 2^k, m odd). */
function oddPart(x: number): number {
  return Math.abs(x) / lowBit(x);
}

/**
 * Whether multiplying `row` in some order (GPU kernels multiply in any order) leaves the f32 range on the way
 * although the product may not: the factors above 1 overflow to infinity (which a 0 then makes NaN: seed 403,
 * 496 factors, two of them 0, gave NaN, want 0), or those below 1 underflow to 0. Either is made from finite
 * values inside a kernel, which WGSL does not preserve: unknown.
 */
export function partialProductLeavesRange(row: readonly number[], e: number): boolean {
  let above = 1;
  let below = 1;
  for (const v of row) {
    const a = Math.abs(v);
    if (a + e > 1) above *= a + e;
    else if (a > 0) below *= a;
  }
  return above > 3e38 || (!row.includes(0) && below < 1e-30);
}

/** prod over `axes`: per row, the other factors' product carries each factor's error; f32 rounds each step. */
export function prodRule(a: Tensor, axes: readonly number[]): Rule {
  return (c, self) => {
    if (self.dtype !== 'float32') return c.E(a);
    const e = c.E(a);
    if (e === Infinity) return Infinity;
    const { data, K, count } = rows(c, a, axes);
    let worst = 0;
    for (let r = 0; r < count; r++) {
      const row = Array.from({ length: K }, (_, j) => data[r * K + j]);
      if (row.some(Number.isNaN) || (e === 0 && row.some((v) => !Number.isFinite(v)))) continue;
      const y = row.reduce((p, v) => p * v, 1);
      if (!Number.isFinite(y) || Math.abs(y) > 3e38 || (y !== 0 && Math.abs(y) < 1e-30)) return Infinity; // over- or underflow
      if (partialProductLeavesRange(row, e)) return Infinity;
      // Exact in any order: every odd part multiplies into fewer than 24 bits (or a factor is an exact zero).
      const exact = e === 0 && (row.includes(0) || row.reduce((p, v) => p * oddPart(v), 1) < 2 ** 24);
      let carried = 0;
      if (e > 0) {
        for (let j = 0; j < K; j++) carried += row.reduce((p, v, l) => (l === j ? p : p * (Math.abs(v) + e)), 1) * e;
      }
      const rounding = exact ? 0 : (K + 1) * U * row.reduce((p, v) => p * (Math.abs(v) + e), 1);
      worst = Math.max(worst, carried + rounding);
    }
    return worst;
  };
}

/** argmax/argmin along `axis` (over everything when undefined): stable when the winner leads by more than 2E. */
export function argRule(a: Tensor, axis: number | undefined, isMax: boolean): Rule {
  return (c) => {
    const e = c.E(a);
    if (e === 0) return 0;
    if (e === Infinity) return Infinity;
    const { data, K, count } = rows(c, a, axis === undefined ? a.shape.map((_, i) => i) : [axis]);
    for (let r = 0; r < count; r++) {
      const row = Array.from({ length: K }, (_, j) => data[r * K + j]);
      if (row.some(Number.isNaN)) continue; // the first NaN wins whatever the others' errors
      const best = isMax ? Math.max(...row) : Math.min(...row);
      if (row.filter((v) => Math.abs(v - best) <= 2 * e).length > 1) return Infinity;
    }
    return 0;
  };
}

// ---- matmul ---------------------------------------------------------------------------------------------

/**
 * a @ b with NumPy's rules (1-D operands promoted, batch axes broadcast). Per output element: the operands'
 * errors times the other operand's magnitudes, plus K + 1 roundings of the products' magnitudes unless the
 * operands are exact and every product and partial sum is representable.
 */
export function matmulRule(a: Tensor, b: Tensor): Rule {
  return (c, self) => {
    if (self.dtype !== 'float32') return Math.max(c.E(a), c.E(b));
    const ea = effE(c, a, true);
    const eb = effE(c, b, true);
    if (ea === Infinity || eb === Infinity) return Infinity;
    const sa = a.ndim === 1 ? [1, a.shape[0]] : a.shape;
    const sb = b.ndim === 1 ? [b.shape[0], 1] : b.shape;
    const [M, K] = sa.slice(-2);
    const N = sb[sb.length - 1];
    const batch = broadcastShapes(sa.slice(0, -2), sb.slice(0, -2), 'matmul (test)');
    const av = broadcastTo(c.values(a), sa, [...batch, M, K]);
    const bv = broadcastTo(c.values(b), sb, [...batch, K, N]);
    const ys = c.values(self);
    const products = new Float64Array(K);
    let worst = 0;
    for (let bi = 0, o = 0; bi < sizeOf(batch); bi++) {
      for (let i = 0; i < M; i++) {
        for (let j = 0; j < N; j++, o++) {
          let nan = false;
          let infinite = false;
          let carried = 0;
          let abs = 0;
          let representable = true;
          for (let k = 0; k < K; k++) {
            const x = av[(bi * M + i) * K + k];
            const z = bv[(bi * K + k) * N + j];
            if (Number.isNaN(x) || Number.isNaN(z)) nan = true;
            else if (!Number.isFinite(x) || !Number.isFinite(z)) infinite = true;
            products[k] = x * z;
            if (Math.fround(products[k]) !== products[k]) representable = false;
            abs += Math.abs(x * z);
            carried += Math.abs(z) * ea + Math.abs(x) * eb + ea * eb;
          }
          if (nan || (infinite && ea === 0 && eb === 0)) continue;
          if (!Number.isFinite(ys[o]) || !(abs <= 3e38)) return Infinity; // a partial sum may overflow in some order
          const exact = ea === 0 && eb === 0 && representable && exactSum(products);
          worst = Math.max(worst, carried + (exact ? 0 : (K + 1) * U * abs));
        }
      }
    }
    return worst;
  };
}
