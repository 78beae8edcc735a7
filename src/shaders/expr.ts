// Elementwise expressions evaluated at one point of an index space. This is the fusion core: the
// elementwise kernel evaluates an expression at each output coordinate, a reduction evaluates one at each
// input coordinate, a matmul epilogue at each output element. Loads and leaves (const, iota, rand) reach
// their data through an Access: an offset plus one stride per index-space axis (0 where they broadcast),
// so transposed, sliced and broadcast operands are read in place, never copied.
import type { DType } from '../ir/dtype.js';
import type { Attrs, OpName } from '../ir/ops.js';
import type { Shape } from '../ir/shape.js';
import { isRowMajorStrides, stridesOf } from '../ir/shape.js';
import { fromStorage, literal, literalHelpers, SPECIAL_FLOAT_HELPER, VALUE_TYPE } from './wgsl.js';

export interface Access {
  readonly offset: number;
  /** One stride per axis of the index space, in elements. */
  readonly strides: readonly number[];
}

export type ExprStep =
  | { readonly kind: 'load'; readonly buffer: string; readonly dtype: DType; readonly access: Access }
  /** A value the enclosing kernel computes (a matmul accumulator, a reduction result) entering the expression. */
  | { readonly kind: 'value'; readonly name: string; readonly dtype: DType }
  | {
      readonly kind: 'op';
      readonly op: OpName;
      readonly args: readonly number[];
      readonly attrs: Attrs;
      readonly dtype: DType;
      /** For leaves (iota, rand): their own shape, and how the index space maps to their row-major index. */
      readonly leaf?: { readonly shape: Shape; readonly access: Access };
    };

/** Steps in SSA order: each step's args refer to earlier steps. */
export interface Expr {
  readonly steps: readonly ExprStep[];
}

export interface EmittedExpr {
  /** WGSL statements (`let v3 = ...;`) to place where the coordinates are in scope. */
  readonly code: string[];
  /** Helper functions the statements call, to emit once at module scope. */
  readonly helpers: Set<string>;
  /** The WGSL name of step i's value. */
  value(i: number): string;
}

/** Where the kernel's index space is in scope: per-axis coordinates, and optionally the row-major flat index. */
export interface Coords {
  readonly names: readonly string[];
  /** The flat row-major index of the space, used when an access is exactly row-major (no div/mod needed). */
  readonly flat?: { readonly name: string; readonly shape: Shape };
}

/** The u32 index `offset + sum(coord[d] * stride[d])`, skipping zero strides; the flat index when row-major. */
export function indexOf(access: Access, coords: Coords): string {
  if (coords.flat && access.offset === 0 && isRowMajorStrides(coords.flat.shape, access.strides)) return coords.flat.name;
  return stridedIndex(access, coords.names);
}

/** True when `access` is the flat row-major index of `space` (what indexOf's fast path recognises). */
export function isFlatAccess(access: Access, space: Shape): boolean {
  return access.offset === 0 && isRowMajorStrides(space, access.strides);
}

function stridedIndex(access: Access, coords: readonly string[]): string {
  const terms = access.strides.flatMap((s, d) => (s === 0 ? [] : [s === 1 ? coords[d] : `${coords[d]} * ${s}u`]));
  if (access.offset !== 0 || terms.length === 0) terms.unshift(`${access.offset}u`);
  return terms.join(' + ');
}

export type LoadStep = Extract<ExprStep, { kind: 'load' }>;

export interface EmitOptions {
  /**
   * The value of load step `index` as a WGSL expression of its value type (bool as bool), or undefined for
   * the default `fromStorage(buffer[index])`. The vec4 elementwise kernel emits the expression once per lane
   * and supplies each lane's component of a vector loaded once (`q3.x`, `q3.y`, ...).
   */
  readonly loadValue?: (index: number, step: LoadStep) => string | undefined;
}

/** Emits the steps of `expr` with `coords[d]` the WGSL u32 coordinate of index-space axis d; prefix names the values. */
export function emitExpr(expr: Expr, coords: Coords, prefix = 'v', options: EmitOptions = {}): EmittedExpr {
  const helpers = new Set<string>();
  const code: string[] = [];
  const name = (i: number) => `${prefix}${i}`;
  expr.steps.forEach((step, i) => {
    const rhs =
      step.kind === 'load'
        ? (options.loadValue?.(i, step) ?? fromStorage(step.dtype, `${step.buffer}[${indexOf(step.access, coords)}]`))
        : step.kind === 'value'
          ? step.name
          : emitOp(step, expr, coords, name, helpers);
    code.push(`let ${name(i)}: ${VALUE_TYPE[step.dtype]} = ${rhs};`);
  });
  for (const h of literalHelpers([...code, ...helpers].join('\n'))) helpers.add(h);
  return { code, helpers, value: name };
}

/** A float const step holding +-0: emitted as a literal, which compilers fold algebraically. */
function isZeroLiteral(s: ExprStep): boolean {
  return s.kind === 'op' && s.op === 'const' && s.dtype === 'float32' && s.attrs.value === 0;
}

/** Whether steps i and j are one value to the shader compiler: the same step, or loads of one element (it may merge them). */
function sameValue(expr: Expr, i: number, j: number): boolean {
  if (i === j) return true;
  const s = expr.steps[i];
  const t = expr.steps[j];
  if (s.kind === 'value' && t.kind === 'value') return s.name === t.name;
  return s.kind === 'load' && t.kind === 'load' && s.buffer === t.buffer && s.access.offset === t.access.offset && s.access.strides.every((v, d) => v === t.access.strides[d]);
}

type OpStep = Extract<ExprStep, { kind: 'op' }>;

/**
 * SwiftShader folds `(a - b) + b`, `(a * b) / b` and `(a / b) * b` (operands in either order where they
 * commute) to `a`, as WGSL lets implementations reassociate; IEEE gives NaN where b is NaN or infinite (or 0,
 * for the last two), so a NaN in b was lost. The step of that b when `step` (an add, mul or div) cancels it.
 */
function cancelledOperand(expr: Expr, step: OpStep): number | undefined {
  const inner = ({ add: 'sub', mul: 'div', div: 'mul' } as Partial<Record<OpName, OpName>>)[step.op];
  if (inner === undefined) return undefined;
  for (let k = 0; k < (step.op === 'div' ? 1 : 2); k++) {
    const s = expr.steps[step.args[k]];
    if (s.kind !== 'op' || s.op !== inner || s.dtype !== 'float32') continue;
    const b = step.args[1 - k];
    // sub and div cancel their second operand, mul either one.
    if ((inner === 'mul' ? s.args : [s.args[1]]).some((c) => sameValue(expr, c, b))) return b;
  }
  return undefined;
}

function emitOp(step: OpStep, expr: Expr, coords: Coords, name: (i: number) => string, helpers: Set<string>): string {
  const a = step.args.map(name);
  const argType = (k: number): DType => expr.steps[step.args[k]].dtype;
  const isFloat = step.args.length > 0 && argType(0) === 'float32';
  const use = (h: keyof typeof HELPERS) => {
    for (const dep of HELPER_DEPS[h] ?? []) helpers.add(HELPERS[dep]);
    helpers.add(HELPERS[h]);
  };
  switch (step.op) {
    case 'const':
      return literal(step.attrs.value as number, step.dtype);
    case 'iota': {
      const leaf = step.leaf!;
      const axis = step.attrs.axis as number;
      const stride = stridesOf(leaf.shape)[axis];
      return `i32((${indexOf(leaf.access, coords)}) / ${stride}u % ${leaf.shape[axis]}u)`;
    }
    case 'rand': {
      const leaf = step.leaf!;
      const dist = step.attrs.dist === 'normal' ? 'wg_normal' : 'wg_uniform';
      use(dist);
      return `${dist}(${(step.attrs.seed as number) >>> 0}u, ${indexOf(leaf.access, coords)})`;
    }
    case 'neg':
      return `-(${a[0]})`;
    case 'abs':
      return `abs(${a[0]})`;
    case 'square':
      return `${a[0]} * ${a[0]}`;
    case 'sign':
      if (!isFloat) return `sign(${a[0]})`;
      use('wg_sign');
      return `wg_sign(${a[0]})`;
    case 'relu':
      if (!isFloat) return `max(${a[0]}, 0i)`;
      use('wg_relu');
      return `wg_relu(${a[0]})`;
    case 'floor':
    case 'ceil':
    case 'round':
      return isFloat ? `${step.op}(${a[0]})` : a[0];
    case 'exp':
    case 'log': {
      const h = step.op === 'exp' ? 'wg_exp' : 'wg_log';
      use(h);
      return `${h}(${a[0]})`;
    }
    case 'sqrt':
      use('wg_sqrt');
      return `wg_sqrt(${a[0]})`;
    case 'sin':
    case 'cos': {
      const h = step.op === 'sin' ? 'wg_sin' : 'wg_cos';
      use(h);
      return `${h}(${a[0]})`;
    }
    case 'rsqrt':
      use('wg_rsqrt');
      return `wg_rsqrt(${a[0]})`;
    case 'reciprocal':
      return `1.0 / ${a[0]}`;
    case 'tanh':
      use('wg_tanh');
      return `wg_tanh(${a[0]})`;
    case 'sigmoid':
      use('wg_exp');
      return `1.0 / (1.0 + wg_exp(-(${a[0]})))`;
    case 'gelu':
      use('wg_gelu');
      return `wg_gelu(${a[0]})`;
    case 'not':
      return `!(${a[0]})`;
    case 'cast':
      return emitCast(a[0], argType(0), step.dtype, use);
    case 'add': {
      const b = isFloat ? cancelledOperand(expr, step) : undefined;
      if (b === undefined) return `${a[0]} + ${a[1]}`;
      use('wg_nan_unless_finite');
      return `wg_nan_unless_finite(${a[0]} + ${a[1]}, ${name(b)})`;
    }
    case 'sub':
      return `${a[0]} - ${a[1]}`;
    case 'mul': {
      // SPIR-V optimizers fold x * 0.0 to 0.0 when the zero is a literal, losing NaN * 0 = inf * 0 = NaN.
      const zero = isFloat ? [0, 1].find((k) => isZeroLiteral(expr.steps[step.args[k]])) : undefined;
      if (zero !== undefined) {
        use('wg_mul_zero');
        return `wg_mul_zero(${a[1 - zero]}, ${a[zero]})`;
      }
      const b = isFloat ? cancelledOperand(expr, step) : undefined;
      if (b === undefined) return `${a[0]} * ${a[1]}`;
      use('wg_nan_unless_finite_nonzero');
      return `wg_nan_unless_finite_nonzero(${a[0]} * ${a[1]}, ${name(b)})`;
    }
    case 'div': {
      // Likewise 0.0 / x is folded to 0.0, losing 0 / 0 = 0 / NaN = NaN.
      if (isFloat && isZeroLiteral(expr.steps[step.args[0]])) {
        use('wg_zero_div');
        return `wg_zero_div(${a[0]}, ${a[1]})`;
      }
      const b = isFloat ? cancelledOperand(expr, step) : undefined;
      if (b === undefined) return `${a[0]} / ${a[1]}`;
      use('wg_nan_unless_finite_nonzero');
      return `wg_nan_unless_finite_nonzero(${a[0]} / ${a[1]}, ${name(b)})`;
    }
    case 'pow':
      use('wg_pow');
      return `wg_pow(${a[0]}, ${a[1]})`;
    case 'maximum':
    case 'minimum': {
      if (!isFloat) return `${step.op === 'maximum' ? 'max' : 'min'}(${a[0]}, ${a[1]})`;
      const h = step.op === 'maximum' ? 'wg_max' : 'wg_min';
      use(h);
      return `${h}(${a[0]}, ${a[1]})`;
    }
    case 'eq':
    case 'ne':
    case 'lt':
    case 'le':
    case 'gt':
    case 'ge': {
      const sym = { eq: '==', ne: '!=', lt: '<', le: '<=', gt: '>', ge: '>=' }[step.op];
      // WGSL has no ordering of bools: compare them as 0/1 (false < true), as the CPU reference does.
      if (argType(0) === 'bool' && step.op !== 'eq' && step.op !== 'ne') return `u32(${a[0]}) ${sym} u32(${a[1]})`;
      if (!isFloat) return `${a[0]} ${sym} ${a[1]}`;
      // Compilers may fold x == x to true; with NaN spelled out from the bits the IEEE answers hold.
      use('wg_isnan');
      const nan = `wg_isnan(${a[0]}) || wg_isnan(${a[1]})`;
      return step.op === 'ne' ? `(${nan}) || ${a[0]} != ${a[1]}` : `!(${nan}) && ${a[0]} ${sym} ${a[1]}`;
    }
    case 'and':
      return `${a[0]} && ${a[1]}`;
    case 'or':
      return `${a[0]} || ${a[1]}`;
    case 'where':
      return `select(${a[2]}, ${a[1]}, ${a[0]})`;
    default:
      throw new Error(`internal: ${step.op} is not an elementwise op`);
  }
}

function emitCast(x: string, from: DType, to: DType, use: (h: keyof typeof HELPERS) => void): string {
  if (from === to) return x;
  if (to === 'bool' && from === 'float32') {
    use('wg_isnan');
    return `wg_isnan(${x}) || ${x} != 0.0`; // NaN is true, as NumPy
  }
  if (to === 'bool') return `${x} != 0i`;
  if (from === 'bool') return to === 'float32' ? `select(0.0, 1.0, ${x})` : `select(0i, 1i, ${x})`;
  if (to === 'float32') return `f32(${x})`;
  use('wg_f32_to_i32');
  return `wg_f32_to_i32(${x})`;
}

// WGSL leaves NaN behaviour of max/min/sign/clamp to the implementation and lets compilers assume x == x,
// so NaN is detected from the bits and the reference semantics (docs/semantics.md) are spelled out here.
/** NaN from the bits: WGSL compilers may assume x == x. Every generator uses this one text, so helper sets dedupe. */
export const WGSL_ISNAN = 'fn wg_isnan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }';

/**
 * max or min of two f32 with NaN propagated (needs wg_isnan). The NaN operand itself is returned: a NaN made
 * by arithmetic on the operands (`a + b`) can be rewritten away, as WGSL lets implementations reassociate
 * and assume no NaN; SwiftShader turned `(m - x) + x` into `m`, so `maximum(m - x, x)` lost a NaN in x.
 */
export function wgslNanExtreme(name: string, fn: 'max' | 'min'): string {
  return `fn ${name}(a: f32, b: f32) -> f32 { return select(select(${fn}(a, b), b, wg_isnan(b)), a, wg_isnan(a)); }`;
}

const HELPERS = {
  wg_f32_bits: SPECIAL_FLOAT_HELPER,
  wg_isnan: WGSL_ISNAN,
  wg_max: wgslNanExtreme('wg_max', 'max'),
  wg_min: wgslNanExtreme('wg_min', 'min'),
  wg_sign: `fn wg_sign(x: f32) -> f32 { return select(sign(x), x, wg_isnan(x)); }`,
  wg_relu: `fn wg_relu(x: f32) -> f32 { return select(max(x, 0.0), x, wg_isnan(x)); }`,
  // NaN where b is NaN or infinite (or 0): v is (a - b) + b, (a * b) / b or (a / b) * b, which compilers may
  // fold to a (see cancelledOperand).
  wg_nan_unless_finite: `fn wg_nan_unless_finite(v: f32, b: f32) -> f32 { return select(v, wg_f32_bits(0x7fc00000u), (bitcast<u32>(b) & 0x7f800000u) == 0x7f800000u); }`,
  wg_nan_unless_finite_nonzero: `fn wg_nan_unless_finite_nonzero(v: f32, b: f32) -> f32 { return select(v, wg_f32_bits(0x7fc00000u), (bitcast<u32>(b) & 0x7f800000u) == 0x7f800000u || b == 0.0); }`,
  // tanh saturates to +-1 in f32 beyond |x| = 9; clamping keeps exp() inside implementations from overflowing.
  // SwiftShader gives exp(NaN) = +inf and log(NaN) = 89.13 (WGSL leaves NaN inputs to builtins to the
  // implementation): NaN is passed through, as the CPU reference does.
  wg_mul_zero: `fn wg_mul_zero(x: f32, z: f32) -> f32 { return select(x * z, wg_f32_bits(0x7fc00000u), (bitcast<u32>(x) & 0x7f800000u) == 0x7f800000u); }`,
  wg_zero_div: `fn wg_zero_div(z: f32, x: f32) -> f32 { return select(z / x, wg_f32_bits(0x7fc00000u), wg_isnan(x) || x == 0.0); }`,
  wg_exp: `fn wg_exp(x: f32) -> f32 { return select(exp(x), x, wg_isnan(x)); }`,
  // WGSL leaves log outside (0, +inf) to the implementation (SwiftShader: log(-3) = log(3), log(0) = -88),
  // and sqrt and inverseSqrt below 0: Math's answers, from the bits (compilers may assume no NaN or inf).
  wg_log: `fn wg_log(x: f32) -> f32 {
  let b = bitcast<u32>(x);
  if ((b & 0x7fffffffu) == 0u) { return wg_f32_bits(0xff800000u); }
  if (b >= 0x7f800000u) { return select(wg_f32_bits(0x7fc00000u), x, b == 0x7f800000u || wg_isnan(x)); }
  return log(x);
}`,
  wg_sqrt: `fn wg_sqrt(x: f32) -> f32 { return select(sqrt(x), select(wg_f32_bits(0x7fc00000u), x, (bitcast<u32>(x) & 0x7fffffffu) == 0u || wg_isnan(x)), bitcast<u32>(x) >= 0x80000000u || wg_isnan(x)); }`,
  wg_rsqrt: `fn wg_rsqrt(x: f32) -> f32 {
  let b = bitcast<u32>(x);
  if ((b & 0x7fffffffu) == 0u) { return select(wg_f32_bits(0x7f800000u), wg_f32_bits(0xff800000u), b != 0u); }
  if (b >= 0x7f800000u) { return select(wg_f32_bits(0x7fc00000u), select(0.0, x, wg_isnan(x)), b == 0x7f800000u || wg_isnan(x)); }
  return inverseSqrt(x);
}`,
  wg_tanh: `fn wg_tanh(x: f32) -> f32 { return select(tanh(clamp(x, -10.0, 10.0)), x, wg_isnan(x)); }`,
  // WGSL bounds sin/cos error (2^-11 absolute) only on [-pi, pi]: reduce the argument there first.
  wg_sin: `fn wg_sin(x: f32) -> f32 { return sin(x - 6.283185307179586 * round(x * 0.15915494309189535)); }`,
  wg_cos: `fn wg_cos(x: f32) -> f32 { return cos(x - 6.283185307179586 * round(x * 0.15915494309189535)); }`,
  // 0.5 x (1 + tanh(u)) = x sigmoid(2u): one exp and one division, and no cancellation in 1 + tanh(u) for
  // x < -3 (where the tanh form lost every digit in f32). x = -inf gives NaN, as the reference does.
  wg_gelu: `fn wg_gelu(x: f32) -> f32 { return x / (1.0 + exp(-1.5957691216057308 * (x + 0.044715 * x * x * x))); }`,
  // WGSL's pow is undefined for x < 0; Math.pow's rules: integral exponents keep the sign of odd powers.
  wg_pow: `fn wg_pow(x: f32, y: f32) -> f32 {
  if (y == 0.0) { return 1.0; }
  // The NaN operand itself, not x + y: a driver may rewrite arithmetic on it (see wgslNanExtreme).
  if (wg_isnan(x)) { return x; }
  if (wg_isnan(y)) { return y; }
  if (x == 0.0) {
    // +-0 to an odd integral power keeps the sign of the zero: pow(-0, -1) = -inf, pow(-0, 3) = -0.
    let r = select(wg_f32_bits(0x7f800000u), 0.0, y > 0.0);
    let odd = abs(y) < 16777216.0 && floor(y) == y && (i32(abs(y)) & 1i) == 1i;
    return select(r, -r, odd && (bitcast<u32>(x) & 0x80000000u) != 0u);
  }
  let e = y * log2(abs(x));
  let m = select(exp2(e), e, wg_isnan(e)); // (+-1)^(+-inf): exp2(NaN) is +inf on SwiftShader, NaN in Math.pow
  if (x > 0.0) { return m; }
  if (floor(y) != y) {
    // A negative base to a fractional power is NaN, except -infinity: +infinity or +0 by the sign of y.
    if ((bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u) { return select(0.0, wg_f32_bits(0x7f800000u), y > 0.0); }
    return wg_f32_bits(0x7fc00000u);
  }
  return select(m, -m, abs(y) < 16777216.0 && (i32(abs(y)) & 1i) == 1i);
}`,
  // Truncation toward zero, saturating at the i32 range, NaN -> 0 (2^31 itself does not fit in i32).
  wg_f32_to_i32: `fn wg_f32_to_i32(x: f32) -> i32 {
  if (wg_isnan(x)) { return 0i; }
  if (x >= 2147483648.0) { return 2147483647i; }
  return i32(max(x, -2147483648.0));
}`,
  wg_hash: `fn wg_hash(v: u32) -> u32 {
  var x = v;
  x = x ^ (x >> 16u);
  x = x * 0x7feb352du;
  x = x ^ (x >> 15u);
  x = x * 0x846ca68bu;
  return x ^ (x >> 16u);
}
fn wg_bits(seed: u32, i: u32) -> u32 {
  let key = wg_hash(seed);
  return wg_hash(wg_hash(i ^ key) + key);
}`,
  wg_uniform: `fn wg_uniform(seed: u32, i: u32) -> f32 { return f32(wg_bits(seed, i) >> 8u) * 5.9604644775390625e-8; }`,
  wg_normal: `fn wg_normal(seed: u32, i: u32) -> f32 {
  let u1 = (f32(wg_bits(seed, 2u * i) >> 8u) + 1.0) * 5.9604644775390625e-8;
  let u2 = f32(wg_bits(seed, 2u * i + 1u) >> 8u) * 5.9604644775390625e-8;
  return sqrt(-2.0 * log(u1)) * wg_cos(6.283185307179586 * u2);
}`,
} as const;

const HELPER_DEPS: Partial<Record<keyof typeof HELPERS, (keyof typeof HELPERS)[]>> = {
  wg_max: ['wg_isnan'],
  wg_min: ['wg_isnan'],
  wg_sign: ['wg_isnan'],
  wg_relu: ['wg_isnan'],
  wg_mul_zero: ['wg_f32_bits'],
  wg_zero_div: ['wg_isnan', 'wg_f32_bits'],
  wg_nan_unless_finite: ['wg_f32_bits'],
  wg_nan_unless_finite_nonzero: ['wg_f32_bits'],
  wg_exp: ['wg_isnan'],
  wg_log: ['wg_isnan', 'wg_f32_bits'],
  wg_sqrt: ['wg_isnan', 'wg_f32_bits'],
  wg_rsqrt: ['wg_isnan', 'wg_f32_bits'],
  wg_tanh: ['wg_isnan'],
  wg_pow: ['wg_isnan', 'wg_f32_bits'],
  wg_f32_to_i32: ['wg_isnan'],
  wg_uniform: ['wg_hash'],
  wg_normal: ['wg_hash', 'wg_cos'],
};
