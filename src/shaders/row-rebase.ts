// Rebased reductions: a reduction that needs an earlier row value, taken in the pass that takes that value.
//
// A split row program (row-split.ts) spends one pass over its data per reduction that needs an earlier
// reduction's row value c. Two such reductions can keep, per chunk, partials relative to the chunk's own
// estimate of c, which need no c, and rebase them when c is known:
// - **centred squares**, sum((e - c)^2) with c = sum(e) / extent, the row mean (the variance): each chunk
//   keeps the moments of its values, count n_k, mean m_k and M2_k (the sum of squared deviations from m_k:
//   Welford's update per element, Chan et al.'s merge across threads and chunks), and
//     sum_i (e_i - c)^2 = M2 + n (m - c)^2   over the merged moments (the cross terms sum to zero).
//   The moments are of e - K, K the row's first value of e (every thread and chunk of a row loads the same
//   one): Welford's running mean then stays near 0, where float32 keeps its digits (values near 1e4 with a
//   spread of 1 lost 3 of them otherwise), and the row needs m - c = m' - (c - K);
// - **exp-sums**, sum(exp(e - c)) with c = max(e) (softmax, logSoftmax): each chunk keeps its running
//   maximum m_k and s_k = sum(exp(e_i - m_k)), rescaled by exp(m_old - m_new) when the maximum grows, and
//     sum_i exp(e_i - c) = s exp(m - c)   over the merged pair.
// Recognised only where c is the row mean (row max) of the same e, so that the special values come out as
// the two-pass reference's: an infinity or NaN in e makes c and the variance NaN; softmax's sum is NaN
// where the max is infinite or NaN (exp(inf - inf)), and -Inf elements add 0 below a finite max.
import type { Expr, ExprStep } from './expr.js';
import type { Accumulator, RowSpec, RowStage } from './row.js';
import { literal } from './wgsl.js';

export type RebasedKind = 'moments' | 'expsum';

export interface Rebased {
  readonly kind: RebasedKind;
  /** The reduce stage whose expression is e (the sum or max of e); the partials are taken of its values. */
  readonly of: number;
  /** WGSL name of the row value c the stage's values are taken relative to (the mean; the max). */
  readonly centre: string;
}

type ReduceStage = Extract<RowStage, { kind: 'reduce' }>;

/** The reduce stages of `spec` that can be rebased, by stage index. */
export function rebasedStages(spec: RowSpec): Map<number, Rebased> {
  const found = new Map<number, Rebased>();
  const extent = spec.axes.reduce((a, d) => a * spec.inShape[d], 1);
  const stageNamed = new Map(spec.stages.map((st, k) => [st.name, k]));
  spec.stages.forEach((st, k) => {
    if (st.kind !== 'reduce' || st.op !== 'sum' || st.dtype !== 'float32') return;
    const { steps } = st.expr;
    const top = steps[st.step];
    if (top.kind !== 'op') return;
    // sum(exp(e - max(e)))
    if (top.op === 'exp') {
      const dev = steps[top.args[0]];
      if (dev.kind !== 'op' || dev.op !== 'sub') return;
      const centre = steps[dev.args[1]];
      if (centre.kind !== 'value') return;
      const of = stageNamed.get(centre.name);
      const max = of === undefined ? undefined : spec.stages[of];
      if (max?.kind === 'reduce' && max.op === 'max' && max.dtype === 'float32' && sameValue(st.expr, dev.args[0], max.expr, max.step)) {
        found.set(k, { kind: 'expsum', of: of!, centre: centre.name });
      }
      return;
    }
    // sum((e - mean(e))^2), as mul(d, d) or square(d), d = e - c or c - e
    if (!((top.op === 'mul' && top.args[0] === top.args[1]) || top.op === 'square')) return;
    const dev = steps[top.args[0]];
    if (dev.kind !== 'op' || dev.op !== 'sub') return;
    for (const [e, c] of [dev.args, [...dev.args].reverse()]) {
      const centre = steps[c];
      if (centre.kind !== 'value') continue;
      const of = meanOf(spec, stageNamed, stageNamed.get(centre.name), extent);
      if (of === undefined) continue;
      const sum = spec.stages[of] as ReduceStage;
      if (sameValue(st.expr, e, sum.expr, sum.step)) {
        found.set(k, { kind: 'moments', of, centre: centre.name });
        return;
      }
    }
  });
  return found;
}

/** The float sum stage that value stage `k` divides by `extent` (the mean), or undefined. */
function meanOf(spec: RowSpec, stageNamed: ReadonlyMap<string, number>, k: number | undefined, extent: number): number | undefined {
  if (k === undefined) return undefined;
  const st = spec.stages[k];
  if (st.kind !== 'value' || st.dtype !== 'float32') return undefined;
  const div = st.expr.steps[st.step];
  if (div.kind !== 'op' || div.op !== 'div') return undefined;
  const [num, den] = div.args.map((a) => st.expr.steps[a]);
  if (num.kind !== 'value' || den.kind !== 'op' || den.op !== 'const' || den.attrs.value !== extent) return undefined;
  const s = stageNamed.get(num.name);
  const sum = s === undefined ? undefined : spec.stages[s];
  return sum?.kind === 'reduce' && sum.op === 'sum' && sum.dtype === 'float32' ? s : undefined;
}

/** Whether step i of `a` and step j of `b` compute the same value (the same loads, leaves, row values and ops). */
export function sameValue(a: Expr, i: number, b: Expr, j: number, memo = new Map<string, boolean>()): boolean {
  const key = `${i},${j}`;
  const known = memo.get(key);
  if (known !== undefined) return known;
  const s: ExprStep = a.steps[i];
  const t: ExprStep = b.steps[j];
  let same = s.kind === t.kind && s.dtype === t.dtype;
  if (same && s.kind === 'load' && t.kind === 'load') same = s.buffer === t.buffer && JSON.stringify(s.access) === JSON.stringify(t.access);
  else if (same && s.kind === 'value' && t.kind === 'value') same = s.name === t.name;
  else if (same && s.kind === 'op' && t.kind === 'op') {
    same =
      s.op === t.op &&
      s.args.length === t.args.length &&
      JSON.stringify(s.attrs) === JSON.stringify(t.attrs) &&
      JSON.stringify(s.leaf ?? null) === JSON.stringify(t.leaf ?? null) &&
      s.args.every((x, n) => sameValue(a, x, b, t.args[n], memo));
  }
  memo.set(key, same);
  return same;
}

/** A rebased reduction's partials: a float vector accumulator of `words` components. */
export interface RebasedForm {
  readonly acc: Accumulator;
  /** Components (x, y, z), each a scratch word. */
  readonly words: number;
  /** Whether values enter relative to a shift K per row (the row's first value), named by the caller. */
  readonly shifted: boolean;
  /** The accumulator `acc` after taking the element `value` (f32), with the row's `shift` where shifted. */
  add(acc: string, value: string, shift: string): string;
  /** The row value from the merged partials `acc`, the centre c and the row's `shift` where shifted. */
  final(acc: string, centre: string, shift: string): string;
}

const MOMENTS: RebasedForm = {
  // (count, mean, M2): identity (0, 0, 0); with one side empty the merge returns the other, NaN kept.
  acc: {
    type: 'vec3<f32>',
    identity: 'vec3<f32>(0.0)',
    combine: (a, b) => `row_moments(${a}, ${b})`,
    better: '',
    helpers: [
      [
        'fn row_moments(a: vec3<f32>, b: vec3<f32>) -> vec3<f32> {',
        '  let n = a.x + b.x;',
        '  let f = select(b.x / n, 0.0, n == 0.0);',
        '  let d = b.y - a.y;',
        '  return vec3<f32>(n, a.y + d * f, a.z + b.z + d * d * a.x * f);',
        '}',
      ].join('\n'),
    ],
  },
  words: 3,
  shifted: true,
  add: (acc, value, k) => `row_moments(${acc}, vec3<f32>(1.0, ${value} - ${k}, 0.0))`,
  final: (m, c, k) => `${m}.z + ${m}.x * (${m}.y - (${c} - ${k})) * (${m}.y - (${c} - ${k}))`,
};

// exp(x - m), 1 where x == m: a chunk of -Inf (or +Inf) values counts them instead of exp(inf - inf) = NaN.
const REBASE = 'fn row_rebase(x: f32, m: f32) -> f32 { return select(exp(x - m), 1.0, x == m); }';

const EXPSUM: RebasedForm = {
  // (running max, sum of exp(e - max)): identity (-Inf, 0).
  acc: {
    type: 'vec2<f32>',
    identity: `vec2<f32>(${literal(-Infinity, 'float32')}, 0.0)`,
    combine: (a, b) => `row_expsum(${a}, ${b})`,
    better: '',
    helpers: [
      REBASE,
      [
        'fn row_expsum(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {',
        '  let m = max(a.x, b.x);',
        '  return vec2<f32>(m, a.y * row_rebase(a.x, m) + b.y * row_rebase(b.x, m));',
        '}',
      ].join('\n'),
      [
        '// One exp per element: a larger value rescales the sum, any other adds its exp.',
        'fn row_expsum_add(a: vec2<f32>, v: f32) -> vec2<f32> {',
        '  if (v > a.x) { return vec2<f32>(v, a.y * exp(a.x - v) + 1.0); }',
        '  return vec2<f32>(a.x, a.y + row_rebase(v, a.x));',
        '}',
      ].join('\n'),
    ],
  },
  words: 2,
  shifted: false,
  add: (acc, value) => `row_expsum_add(${acc}, ${value})`,
  // NaN where the max is infinite or NaN, as sum(exp(e - c)) is there.
  final: (p, c) => `select(${p}.y * row_rebase(${p}.x, ${c}), ${literal(NaN, 'float32')}, (bitcast<u32>(${c}) & 0x7fffffffu) >= 0x7f800000u)`,
};

export const REBASED: Record<RebasedKind, RebasedForm> = { moments: MOMENTS, expsum: EXPSUM };
