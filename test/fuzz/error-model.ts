// The error model of the random-program tests (test/fusion/random-graphs.test.ts and the differential fuzzer
// in this folder): every tensor a program builds, intermediates included, is recorded with a rule giving its
// absolute error bound E from its operands' bounds, their magnitudes M (max |value|, NaN ignored) and, where
// a rule needs them, their values, all measured on the CPU reference. float32 arithmetic adds u*M
// (u = 2^-23); transcendental functions add TRANS_REL*M + TRANS_ABS (the bounds test/webgpu/ops.test.ts
// holds SwiftShader to); sums of K terms add K*(K+1)*u*max|term| for the f32 accumulation order of GPU
// kernels; Lipschitz constants carry the operands' errors (layerNorm uses each row's measured variance).
// Results are compared with |got - want| <= SAFETY * E + 4u|want|; an output whose bound exceeds
// MAX_RELATIVE_BOUND of its magnitude says nothing and is not compared.
import type { Tensor, TypedArray } from '../../src/index.js';
import { reference } from '../webgpu/differential.js';

export const U = 2 ** -23;
export const TRANS_REL = 2e-5;
export const TRANS_ABS = 2e-6;
export const SAFETY = 4;
export const MAX_RELATIVE_BOUND = 0.02;

export { mulberry32 } from '../seeded.js';

/** What an error rule may ask about a recorded tensor (after the CPU reference has run). */
export interface ErrCtx {
  M(t: Tensor): number;
  E(t: Tensor): number;
  values(t: Tensor): TypedArray;
}
export type Rule = (ctx: ErrCtx, self: Tensor) => number;

/** Largest |value|, NaN ignored (NaN elements are compared as NaN, not within a bound); Infinity if any is infinite. */
export function maxAbs(values: TypedArray): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) {
    const v = Math.abs(values[i]);
    if (v > m) m = v;
  }
  return m;
}

/** Records tensors with their rules; the primitive rules below are shared by both random-program tests. */
export class Recorder {
  readonly records: { t: Tensor; rule: Rule }[] = [];

  rec(t: Tensor, rule: Rule): Tensor {
    this.records.push({ t, rule });
    return t;
  }
  /** Every recorded tensor (to dispose them when the program is done). */
  get tensors(): Tensor[] {
    return this.records.map((r) => r.t);
  }

  /** The operands' errors plus one float32 rounding of the result (add, sub, max, min). */
  arith(t: Tensor, ...ops: Tensor[]): Tensor {
    return this.rec(t, (c, s) => ops.reduce((acc, o) => acc + c.E(o), 0) + U * c.M(s));
  }
  mul(t: Tensor, a: Tensor, b: Tensor): Tensor {
    return this.rec(t, (c, s) => c.E(a) * c.M(b) + c.E(b) * c.M(a) + c.E(a) * c.E(b) + U * c.M(s));
  }
  /** A transcendental function of `a` with this Lipschitz constant. */
  trans(t: Tensor, a: Tensor, lipschitz: (c: ErrCtx) => number): Tensor {
    return this.rec(t, (c, s) => lipschitz(c) * c.E(a) + TRANS_REL * c.M(s) + TRANS_ABS);
  }
  /** No rounding: the result's elements are some of the operand's (layout, neg, abs, relu, max, min). */
  exact(t: Tensor, a: Tensor): Tensor {
    return this.rec(t, (c) => c.E(a));
  }
}

/** A sum of K terms of `a`, times `scale` (1/K for a mean), accumulated in f32 in any order. */
export function sumRule(K: number, a: Tensor, scale: number): Rule {
  return (c, s) => scale * (K * c.E(a) + K * (K + 1) * U * c.M(a)) + 2 * U * c.M(s);
}

/** a @ b with inner dimension K. */
export function matmulRule(K: number, a: Tensor, b: Tensor): Rule {
  return (c, s) => K * (c.E(a) * c.M(b) + c.E(b) * c.M(a) + c.E(a) * c.E(b)) + K * (K + 1) * U * c.M(a) * c.M(b) + U * c.M(s);
}

/** softmax over an axis of extent K. */
export function softmaxRule(K: number, a: Tensor): Rule {
  return (c) => 2 * c.E(a) + 2 * TRANS_REL + 2 * TRANS_ABS + (K + 4) * U;
}

export function logSoftmaxRule(K: number, a: Tensor): Rule {
  return (c, t) => 2 * c.E(a) + 2 * TRANS_REL + 2 * TRANS_ABS + (K + 4) * U * (1 + c.M(t));
}

/** Population variance over K terms: var = mean(c^2), c = x - mean(x), |c| <= 2M, E_c <= 2E + mean's accumulation. */
export function varianceRule(K: number, a: Tensor): Rule {
  return (c) => {
    const Mc = 2 * c.M(a);
    const Ec = 2 * c.E(a) + (K + 3) * U * c.M(a);
    return 2 * Mc * Ec + Ec * Ec + (K + 3) * U * Mc * Mc;
  };
}

/**
 * layerNorm over the last axis (no weight or bias): out = c * rsqrt(var + eps), c = x - mean. Per row, with
 * its own measured spread: |d out| <= r |dc| + |c| r^3 |dvar| / 2, r = 1 / sqrt(var + eps). Rows holding a
 * NaN are NaN on every backend and are skipped.
 */
export function layerNormRule(a: Tensor): Rule {
  return (c, t) => {
    const x = c.values(a);
    const n = a.shape[a.ndim - 1];
    const Ec = 2 * c.E(a) + (n + 3) * U * c.M(a);
    let worst = 0;
    for (let row = 0; row < x.length / n; row++) {
      let mean = 0;
      for (let j = 0; j < n; j++) mean += x[row * n + j] / n;
      if (Number.isNaN(mean)) continue;
      let variance = 0;
      let Mc = 0;
      for (let j = 0; j < n; j++) {
        const d = x[row * n + j] - mean;
        variance += (d * d) / n;
        Mc = Math.max(Mc, Math.abs(d));
      }
      const r = 1 / Math.sqrt(variance + 1e-5);
      const Ev = 2 * Mc * Ec + Ec * Ec + (n + 3) * U * Mc * Mc;
      worst = Math.max(worst, r * Ec + 0.5 * Mc * r ** 3 * Ev);
    }
    return worst + (n + 8) * U * c.M(t) + TRANS_REL * c.M(t);
  };
}

export interface Measured {
  /** The CPU reference values of every recorded tensor. */
  values(t: Tensor): TypedArray;
  M(t: Tensor): number;
  /** The error bound; a NaN bound (a rule met infinities) is Infinity: nothing can be said. */
  E(t: Tensor): number;
}

/** Runs the CPU reference of every recorded tensor (one program), then every rule in recording order. */
export function measure(records: readonly { t: Tensor; rule: Rule }[]): Measured {
  const tensors = records.map((r) => r.t);
  const values = reference(...tensors);
  const index = new Map(tensors.map((t, i) => [t, i]));
  const M = new Map<Tensor, number>();
  const E = new Map<Tensor, number>();
  const valuesOf = (t: Tensor) => {
    const i = index.get(t);
    if (i === undefined) throw new Error('internal (test): an error rule read a tensor that was not recorded');
    return values[i];
  };
  const ctx: ErrCtx = {
    M: (t) => {
      const m = M.get(t);
      if (m === undefined) throw new Error('internal (test): an error rule read a tensor that was not recorded');
      return m;
    },
    E: (t) => {
      const e = E.get(t);
      if (e === undefined) throw new Error('internal (test): an error rule read a tensor recorded after it');
      return e;
    },
    values: valuesOf,
  };
  records.forEach((r, i) => M.set(r.t, maxAbs(values[i])));
  for (const r of records) {
    const e = r.rule(ctx, r.t);
    E.set(r.t, Number.isNaN(e) || e < 0 ? Infinity : e);
  }
  return { values: valuesOf, M: ctx.M, E: ctx.E };
}
