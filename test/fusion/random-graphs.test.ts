// Random well-typed programs through the public API, evaluated on WebGPU twice: once with the default
// pipeline (fusion) and once with `wg.init({ fusion: false })` (one dispatch per op). Both must match the
// CPU reference within a tolerance derived from the program's ops (see "error model" below), and fusion
// must never need more dispatches than the unfused plan of the same program.
//
// A program is a recipe (plain data, so fast-check can print and shrink it) over a pool of values whose
// shapes all broadcast to one base shape B (rank 2 or 3, extents 1..5):
//   inputs        x0: B, x1: B with random size-1 axes, x2: B's last axis only (a lower-rank operand)
//   unary         neg abs relu tanh sigmoid gelu square, exp(-|a|), log(a^2 + 1), sqrt(a^2 + 1), a * s + t
//   binary        add sub mul maximum minimum (broadcasting), a / (b^2 + 1), a + rand(B), a + arange(n)
//   where         where(input > 0, a, b)
//   transposed    (a^P op b^P)^(P^-1) for a random axis permutation P (elementwise work on strided views)
//   reduce        sum mean max min over random axes (none, some or all), keepdims or not; without keepdims
//                 the result is reshaped back to a broadcastable shape unless the reduced axes lead
//   row ops       softmax / logSoftmax over a random axis, layerNorm over the last axis, variance
//   matmul        a @ W, a @ W.T, a @ v (1-D), (a @ b^T) @ c, a @ (b^T @ c) (b == c gives a syrk)
//   dup           the same computation as an earlier step on the same operands (CSE must merge it)
// Operands are picked from the pool by index, so values are shared by several consumers and several
// outputs (the last value plus up to two others).
//
// Error model: test/fuzz/error-model.ts (shared with the differential fuzzer). Every tensor the recipe
// builds is recorded with a rule for its absolute error bound; a program whose bound would exceed 2% of
// its output's magnitude is discarded (fc.pre), so no check is vacuous.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as wg from '../../src/index.js';
import type { Plan, Tensor, TypedArray } from '../../src/index.js';
import { expectClose } from '../webgpu/differential.js';
import {
  layerNormRule,
  logSoftmaxRule,
  MAX_RELATIVE_BOUND,
  matmulRule,
  measure,
  mulberry32,
  Recorder,
  SAFETY,
  softmaxRule,
  sumRule,
  U,
  varianceRule,
} from '../fuzz/error-model.js';

// RANDOM_GRAPHS_SEED and RANDOM_GRAPHS_RUNS override these for a longer local hunt; CI uses the defaults.
// SHOW_RANDOM=1 prints every program with its error bounds and kernels (run vitest with --silent=false).
const SEED = Number(process.env.RANDOM_GRAPHS_SEED ?? 20250611);
const NUM_RUNS = Number(process.env.RANDOM_GRAPHS_RUNS ?? 40);

// ---------------------------------------------------------------------------------------------------------
// Recipes

type UnaryOp = 'neg' | 'abs' | 'relu' | 'tanh' | 'sigmoid' | 'gelu' | 'square' | 'expNegAbs' | 'logSq1' | 'sqrtSq1' | 'affine';
type BinaryOp = 'add' | 'sub' | 'mul' | 'maximum' | 'minimum' | 'divSafe' | 'addRand' | 'addArange';
type MatmulForm = 'W' | 'WT' | 'vec' | 'left' | 'right';

type Step =
  | { kind: 'unary'; op: UnaryOp; a: number }
  | { kind: 'binary'; op: BinaryOp; a: number; b: number }
  | { kind: 'where'; cond: number; a: number; b: number }
  | { kind: 'transposed'; op: 'add' | 'sub' | 'mul' | 'maximum'; perm: number; a: number; b: number }
  | { kind: 'reduce'; op: 'sum' | 'mean' | 'max' | 'min' | 'variance'; axes: boolean[]; keepdims: boolean; a: number }
  | { kind: 'row'; op: 'softmax' | 'logSoftmax' | 'layerNorm'; axis: number; a: number }
  | { kind: 'matmul'; form: MatmulForm; a: number; b: number; c: number }
  | { kind: 'dup'; of: number };

interface Program {
  readonly rank: number;
  readonly dims: number[];
  readonly ones: boolean[];
  readonly steps: Step[];
  readonly outputs: number[];
  readonly dataSeed: number;
}

const pick = fc.nat({ max: 1000 });
const axesMask = fc.array(fc.boolean(), { minLength: 3, maxLength: 3 });

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('unary' as const),
      op: fc.constantFrom<UnaryOp>('neg', 'abs', 'relu', 'tanh', 'sigmoid', 'gelu', 'square', 'expNegAbs', 'logSq1', 'sqrtSq1', 'affine'),
      a: pick,
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('binary' as const),
      op: fc.constantFrom<BinaryOp>('add', 'sub', 'mul', 'maximum', 'minimum', 'divSafe', 'addRand', 'addArange'),
      a: pick,
      b: pick,
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('where' as const), cond: pick, a: pick, b: pick }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('transposed' as const), op: fc.constantFrom('add' as const, 'sub' as const, 'mul' as const, 'maximum' as const), perm: pick, a: pick, b: pick }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('reduce' as const),
      op: fc.constantFrom('sum' as const, 'mean' as const, 'max' as const, 'min' as const, 'variance' as const),
      axes: axesMask,
      keepdims: fc.boolean(),
      a: pick,
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('row' as const), op: fc.constantFrom('softmax' as const, 'logSoftmax' as const, 'layerNorm' as const), axis: pick, a: pick }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('matmul' as const), form: fc.constantFrom<MatmulForm>('W', 'WT', 'vec', 'left', 'right'), a: pick, b: pick, c: pick }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('dup' as const), of: pick }) },
);

const extent = fc.oneof({ weight: 1, arbitrary: fc.constant(1) }, { weight: 4, arbitrary: fc.integer({ min: 2, max: 5 }) });

const programArb: fc.Arbitrary<Program> = fc.record({
  rank: fc.integer({ min: 2, max: 3 }),
  dims: fc.array(extent, { minLength: 3, maxLength: 3 }),
  ones: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
  steps: fc.array(stepArb, { minLength: 2, maxLength: 10 }),
  outputs: fc.array(pick, { maxLength: 2 }),
  dataSeed: fc.nat(),
});

// ---------------------------------------------------------------------------------------------------------
// Building a recipe into tensors, recording every tensor with its error rule

interface Built {
  readonly outputs: Tensor[];
  readonly recorder: Recorder;
}

function shapesEqual(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function permutations(n: number): number[][] {
  if (n === 0) return [[]];
  return permutations(n - 1).flatMap((p) => Array.from({ length: n }, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)]));
}

function build(p: Program): Built {
  const B = p.dims.slice(0, p.rank);
  const last = B[B.length - 1];
  const next = mulberry32(p.dataSeed);
  const recorder = new Recorder();
  const rec = recorder.rec.bind(recorder);
  const input = (shape: number[]): Tensor => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = Float32Array.from({ length: n }, () => {
      const v = Math.fround(next() * 4 - 2);
      return Math.abs(v) < 1e-3 ? 0.5 : v;
    });
    return rec(wg.tensor(data, shape), () => 0);
  };

  // Primitive error rules (E of the result given the operands), from the shared error model.
  const arith = recorder.arith.bind(recorder);
  const mul = recorder.mul.bind(recorder);
  const trans = recorder.trans.bind(recorder);
  const exact = recorder.exact.bind(recorder);

  const swapLast = (t: Tensor): Tensor => (t.ndim === 2 ? t.T : t.transpose([...Array.from({ length: t.ndim - 2 }, (_, i) => i), t.ndim - 1, t.ndim - 2]));

  const pool: Tensor[] = [input(B), input(B.map((d, i) => (p.ones[i] ? 1 : d))), input([last])];
  const full = () => pool.filter((t) => shapesEqual(t.shape, B));
  const fullRank = () => pool.filter((t) => t.ndim === B.length);
  const ranked = () => pool.filter((t) => t.ndim >= 1);
  const choose = (list: Tensor[], k: number) => list[k % list.length];
  /** The first operand: usually one of the two newest values (programs grow deep), else any. */
  const chooseA = (list: Tensor[], k: number) => (k % 4 < 3 ? list[Math.max(0, list.length - 1 - ((k >> 2) % 2))] : choose(list, k));

  /** Re-runnable step bodies: `dup` calls one again on the same operands. */
  const bodies: (() => Tensor)[] = [];

  const stepBody = (s: Step): (() => Tensor) | null => {
    switch (s.kind) {
      case 'unary': {
        const a = chooseA(pool, s.a);
        return () => {
          switch (s.op) {
            case 'neg':
              return exact(a.neg(), a);
            case 'abs':
              return exact(a.abs(), a);
            case 'relu':
              return exact(a.relu(), a);
            case 'tanh':
              return trans(a.tanh(), a, () => 1);
            case 'sigmoid':
              return trans(a.sigmoid(), a, () => 0.25);
            case 'gelu':
              return trans(a.gelu(), a, () => 1.13);
            case 'square':
              return mul(a.square(), a, a);
            case 'expNegAbs': {
              const n = exact(exact(a.abs(), a).neg(), a);
              return trans(n.exp(), n, () => 1);
            }
            case 'logSq1':
            case 'sqrtSq1': {
              const sq = mul(a.square(), a, a);
              const q = arith(sq.add(1), sq);
              // log and sqrt of values >= 1 are 1- and 0.5-Lipschitz.
              return s.op === 'logSq1' ? trans(q.log(), q, () => 1) : trans(q.sqrt(), q, () => 0.5);
            }
            case 'affine': {
              const m = rec(a.mul(0.75), (c, t) => 0.75 * c.E(a) + U * c.M(t));
              return arith(m.add(-0.125), m);
            }
          }
        };
      }
      case 'binary': {
        const a = chooseA(pool, s.a);
        const b = choose(pool, s.b);
        return () => {
          switch (s.op) {
            case 'add':
              return arith(a.add(b), a, b);
            case 'sub':
              return arith(a.sub(b), a, b);
            case 'maximum':
              return arith(a.maximum(b), a, b);
            case 'minimum':
              return arith(a.minimum(b), a, b);
            case 'mul':
              return mul(a.mul(b), a, b);
            case 'divSafe': {
              const sq = mul(b.square(), b, b);
              const d = arith(sq.add(1), sq);
              // a / d with d >= 1: |d(a/d)| <= |da| + |a| |dd|, plus the division's rounding.
              return rec(a.div(d), (c, t) => c.E(a) + c.M(a) * c.E(d) + 3 * U * c.M(t));
            }
            case 'addRand':
              return arith(a.add(wg.rand(B, s.b)), a);
            case 'addArange':
              // int32 arange, promoted to float32 by a cast node: exact.
              return arith(a.add(wg.arange(a.ndim === 0 ? 1 : a.shape[a.ndim - 1])), a);
          }
        };
      }
      case 'where': {
        const cond = choose(pool.slice(0, 3), s.cond).gt(0);
        const a = chooseA(pool, s.a);
        const b = choose(pool, s.b);
        return () => rec(wg.where(cond, a, b), (c) => Math.max(c.E(a), c.E(b)));
      }
      case 'transposed': {
        const list = fullRank();
        const a = chooseA(list, s.a);
        const b = choose(list, s.b);
        const perms = permutations(B.length);
        const perm = perms[s.perm % perms.length];
        const inverse = perm.map((_, i) => perm.indexOf(i));
        return () => {
          const ta = a.transpose(perm);
          const tb = b.transpose(perm);
          const r = s.op === 'mul' ? ta.mul(tb) : s.op === 'add' ? ta.add(tb) : s.op === 'sub' ? ta.sub(tb) : ta.maximum(tb);
          const e = s.op === 'mul' ? mul(r, a, b) : arith(r, a, b);
          return exact(e.transpose(inverse), e);
        };
      }
      case 'reduce': {
        const a = chooseA(pool, s.a);
        if (a.ndim === 0) return null;
        const axes = a.shape.map((_, i) => i).filter((i) => s.axes[i]);
        const K = axes.reduce((acc, i) => acc * a.shape[i], 1);
        const keepShape = a.shape.map((d, i) => (axes.includes(i) ? 1 : d));
        const leading = axes.every((x, i) => x === i);
        return () => {
          let r: Tensor;
          switch (s.op) {
            case 'sum':
              r = rec(a.sum(axes, s.keepdims), sumRule(K, a, 1));
              break;
            case 'mean':
              r = rec(a.mean(axes, s.keepdims), sumRule(K, a, 1 / K));
              break;
            case 'max':
              r = exact(a.max(axes, s.keepdims), a);
              break;
            case 'min':
              r = exact(a.min(axes, s.keepdims), a);
              break;
            case 'variance':
              r = rec(a.variance(axes, s.keepdims), varianceRule(K, a));
              break;
          }
          return s.keepdims || leading ? r : exact(r.reshape(keepShape), r);
        };
      }
      case 'row': {
        const a = chooseA(ranked(), s.a);
        if (!a) return null;
        const axis = s.axis % a.ndim;
        const K = a.shape[axis];
        return () => {
          if (s.op === 'softmax') return rec(a.softmax(axis), softmaxRule(K, a));
          if (s.op === 'logSoftmax') return rec(a.logSoftmax(axis), logSoftmaxRule(K, a));
          return rec(wg.layerNorm(a), layerNormRule(a));
        };
      }
      case 'matmul': {
        const list = full();
        const [a, b, c] = [chooseA(list, s.a), choose(list, s.b), choose(list, s.c)];
        const r = B[B.length - 2];
        return () => {
          switch (s.form) {
            case 'W':
            case 'WT': {
              const w = input([last, last]);
              return rec(a.matmul(s.form === 'W' ? w : w.T), matmulRule(last, a, w));
            }
            case 'vec': {
              const v = input([last]);
              const y = rec(a.matmul(v), matmulRule(last, a, v));
              return exact(y.reshape([...B.slice(0, -1), 1]), y);
            }
            case 'left': {
              const ab = rec(a.matmul(swapLast(b)), matmulRule(last, a, b));
              return rec(ab.matmul(c), matmulRule(r, ab, c));
            }
            case 'right': {
              const bc = rec(swapLast(b).matmul(c), matmulRule(r, b, c));
              return rec(a.matmul(bc), matmulRule(last, a, bc));
            }
          }
        };
      }
      case 'dup':
        return bodies.length === 0 ? null : bodies[s.of % bodies.length];
    }
  };

  for (const s of p.steps) {
    const body = stepBody(s);
    if (!body) continue;
    bodies.push(body);
    pool.push(body());
  }
  const outputs = [...new Set([pool[pool.length - 1], ...p.outputs.map((k) => pool[k % pool.length])])];
  return { outputs, recorder };
}

// ---------------------------------------------------------------------------------------------------------
// Checking one program on the active backend

interface Outcome {
  readonly plan: Plan;
}

async function checkProgram(p: Program, mode: string): Promise<Outcome> {
  const { outputs, recorder } = build(p);
  try {
    // The CPU reference of every recorded tensor (one program, computed before anything is evaluated).
    const { values, M, E } = measure(recorder.records);
    for (const o of outputs) {
      fc.pre(values(o).every((v) => Number.isFinite(v)));
      // A bound above 2% of the output's magnitude would make the comparison meaningless: skip the program.
      fc.pre(SAFETY * E(o) <= MAX_RELATIVE_BOUND * Math.max(M(o), 1e-3));
    }

    const plan = wg.compile(...outputs);
    expect(plan.memory!.peakBytes, `${mode}: peak bytes within [lowerBound, bytesWithoutReuse]`).toBeGreaterThanOrEqual(plan.memory!.lowerBound);
    expect(plan.memory!.peakBytes).toBeLessThanOrEqual(plan.memory!.bytesWithoutReuse);
    await wg.evaluate(...outputs);
    for (const [k, o] of outputs.entries()) {
      const got = await o.data();
      const want = values(o);
      const tol = { abs: SAFETY * E(o), rel: 4 * U };
      expectClose(got, want, tol, `${mode}: output ${k} (float32[${o.shape.join(',')}], error bound ${tol.abs.toExponential(2)}, magnitude ${M(o).toPrecision(3)})\nkernels: ${plan.dispatches.map((d) => d.kernel).join(', ')}`);
    }
    if (process.env.SHOW_RANDOM) {
      const bounds = outputs.map((o) => `${(SAFETY * E(o)).toExponential(1)}/${M(o).toPrecision(2)}`).join(' ');
      console.log(`${mode} B=[${p.dims.slice(0, p.rank)}] steps=${p.steps.map((s) => s.kind + ('op' in s ? ':' + s.op : 'form' in s ? ':' + s.form : '')).join(',')} bound/magnitude=${bounds} kernels=${plan.dispatches.map((d) => d.kernel).join(',')}`);
    }
    return { plan };
  } finally {
    for (const t of recorder.tensors) t.dispose();
  }
}

// ---------------------------------------------------------------------------------------------------------

const fusedDispatches = new Map<string, number>();
let fusedKernels = 0;
/** Set when the fused run passed: only then does the unfused run compare dispatch counts with it. */
let fusedPassed = false;

describe('random programs on WebGPU vs the CPU reference', () => {
  it(`fused (default pipeline): ${NUM_RUNS} programs`, { timeout: 120_000 }, async () => {
    await wg.init({ backend: 'webgpu', quiet: true, verify: true });
    await fc.assert(
      fc.asyncProperty(programArb, async (p) => {
        const { plan } = await checkProgram(p, 'fused');
        fusedDispatches.set(JSON.stringify(p), plan.dispatches.length);
        fusedKernels += plan.dispatches.filter((d) => d.kernel.startsWith('fused.')).length;
      }),
      { seed: SEED, numRuns: NUM_RUNS },
    );
    // The generator must actually produce fusible programs, or this test says nothing about fusion.
    expect(fusedKernels, 'fused kernels over all programs').toBeGreaterThan(NUM_RUNS / 2);
    fusedPassed = true;
  });

  it(`unfused (fusion: false): the same ${NUM_RUNS} programs, never fewer dispatches than fused`, { timeout: 120_000 }, async () => {
    await wg.init({ backend: 'webgpu', fusion: false, quiet: true });
    let compared = 0;
    let saved = 0;
    await fc.assert(
      fc.asyncProperty(programArb, async (p) => {
        const { plan } = await checkProgram(p, 'unfused');
        expect(plan.dispatches.filter((d) => d.kernel.startsWith('fused.')).map((d) => d.kernel), 'fusion: false must not fuse').toEqual([]);
        const fused = fusedDispatches.get(JSON.stringify(p));
        if (fused !== undefined) {
          compared++;
          saved += plan.dispatches.length - fused;
          expect(fused, `fused plan needs more dispatches than the unfused one for ${JSON.stringify(p)}`).toBeLessThanOrEqual(plan.dispatches.length);
        }
      }),
      { seed: SEED, numRuns: NUM_RUNS },
    );
    // Without a passing fused run there is nothing to compare with (its failure is reported on its own).
    if (fusedPassed) {
      expect(compared, 'programs seen by both runs (same seed, same programs)').toBe(NUM_RUNS);
      expect(saved, 'dispatches saved by fusion over all programs').toBeGreaterThan(0);
    }
  });
});
