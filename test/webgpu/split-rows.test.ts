// Split row kernels (src/shaders/row-split.ts) on WebGPU against the CPU reference: row programs (softmax,
// logSoftmax, layerNorm, variance, the image pipeline, stored per-row values) and plain reductions (sum,
// prod, max, min, argmax, argmin over float32, int32 and bool), with rows split into a few, many or more
// chunks than a workgroup has threads (the tuning forces splits on sizes SwiftShader runs quickly), both
// layouts (reduced axes last: a workgroup per chunk, vec4 where aligned; reduced axes first: a thread per
// chunk), mixed axes, keepdims or not, broadcast operands, NaN and ties placed in later chunks, and odd
// extents (1, 3, 1023, 4097, 100003) over 1, 2 and 7 rows. Every plan is checked to have split (or not).
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.js';
import { extractProgram } from '../../src/api/program.js';
import type { Tensor } from '../../src/api/tensor.js';
import { compileGraph } from '../../src/lowering/compile.js';
import type { Plan } from '../../src/lowering/plan.js';
import { WebGpuBackend } from '../../src/runtime/webgpu/backend.js';
import { DEFAULT_ROW_SPLIT, planRowSplit, setRowSplitTuning, type RowSplitTuning } from '../../src/shaders/row-split.js';
import { EXACT, expectClose, reference, rng, type Tolerance } from './differential.js';
import { runOutputs, testGpu } from './gpu.js';

const ctx = await testGpu();
const gpuIt = it.skipIf(!ctx);
afterAll(() => ctx?.device.destroy());
afterEach(() => setRowSplitTuning(null));

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
function f32(shape: number[], seed: number, lo = -1, hi = 1): Tensor {
  const rand = rng(seed);
  return wg.tensor(Float32Array.from({ length: size(shape) }, () => lo + (hi - lo) * rand()), shape);
}
function i32(shape: number[], seed: number): Tensor {
  const rand = rng(seed);
  return wg.tensor(Int32Array.from({ length: size(shape) }, () => (rand() * 4294967296) | 0), shape, 'int32');
}
function bool(shape: number[], seed: number, p: number): Tensor {
  const rand = rng(seed);
  return wg.tensor(Uint8Array.from({ length: size(shape) }, () => (rand() < p ? 1 : 0)), shape, 'bool');
}
/** Few distinct values (ties everywhere), with NaN at the given flat positions. */
function ties(shape: number[], seed: number, nans: number[] = []): Tensor {
  const rand = rng(seed);
  const data = Float32Array.from({ length: size(shape) }, () => [-2, -1, -0, 0, 1, 2][Math.floor(rand() * 6)]);
  for (const i of nans) data[i] = Number.NaN;
  return wg.tensor(data, shape);
}

/** Splits everything that has at least two chunks: `chunks` chunks per row, chunks as short as `min`. */
const FORCE = (chunks: number, min = 1): Partial<RowSplitTuning> => ({ targetWorkgroups: 1 << 30, targetThreads: 1 << 30, minRowChunk: min, minColumnChunk: min, maxChunks: chunks });
/** Rows x extent combinations: SwiftShader runs a workgroup slowly, so the finest split gets the smallest. */
const ALL: [number, number][] = [[1, 100003], [2, 4097], [7, 1023]];
const TUNINGS: [string, Partial<RowSplitTuning>, [number, number][]][] = [
  ['3 chunks per row', FORCE(3), ALL],
  // Column combines on 4 lanes per row taking 5 partials per step: lanes 0-3 two whole steps (chunks 0-39),
  // lanes 0-2 one more chunk each. The default elsewhere: 2 lanes for 3 chunks, 32 for 300.
  ['43 chunks of at least 8, 4 lanes of 5 loads per combine step', { ...FORCE(43, 8), combineLoads: 5, combineLanes: 4 }, [[1, 100003], [7, 4097]]],
  ['300 chunks (more than a workgroup has threads)', FORCE(300, 4), [[1, 4097]]],
  ['300 chunks, column combines on one thread per row', { ...FORCE(300, 4), combineLanes: 1 }, [[1, 4097]]],
];

const FLOAT: Tolerance = { rel: 1e-4, abs: 1e-5 };
const PROD: Tolerance = { rel: 1e-3, abs: 1e-6 };

const run = runOutputs;

function planOf(outputs: Tensor[]): Plan {
  const { graph, args } = extractProgram(outputs.map((t) => t.node));
  return compileGraph(graph, { inputLayouts: args.map((a) => a.layout) }).plan;
}

const kernels = (p: Plan) => p.dispatches.map((d) => d.kernel).join(', ');

interface Case {
  readonly name: string;
  readonly outputs: () => Tensor[];
  readonly tol?: Tolerance;
  /** Whether a forced tuning splits it (false where no row has two chunks). */
  readonly splits?: boolean;
}

/** Runs each case with the tuning set (on a fresh backend: plans are cached per backend) and unsplit. */
async function check(cases: readonly Case[], tuning: Partial<RowSplitTuning>, label: string): Promise<void> {
  setRowSplitTuning(tuning);
  const backend = new WebGpuBackend(ctx!);
  try {
    for (const c of cases) {
      const outputs = c.outputs();
      const plan = planOf(outputs);
      const split = plan.dispatches.some((d) => d.kernel.includes('.split.'));
      expect(split, `${c.name} (${label}): ${kernels(plan)}`).toBe(c.splits ?? true);
      const want = reference(...outputs);
      const got = await run(backend, outputs);
      got.forEach((g, k) => expectClose(g, want[k], want[k] instanceof Float32Array ? (c.tol ?? FLOAT) : EXACT, `${c.name} (${label}), output ${k}`));
    }
  } finally {
    backend.pool.trim(0);
    setRowSplitTuning(null);
  }
}

// ---------------------------------------------------------------------------------------------------------

function reductionCases(shapes: [number, number][], extra = true): Case[] {
  const cases: Case[] = [];
  let seed = 1;
  for (const [rows, n] of shapes) {
    {
      const s = seed++;
      cases.push(
        { name: `float32 sum/max/min over [${rows}, ${n}] axis 1`, outputs: () => { const x = f32([rows, n], s, 0, 1); return [x.sum(-1), x.max(-1, true), x.min(-1)]; } },
        { name: `prod over [${rows}, ${n}]`, outputs: () => [f32([rows, n], s + 100, 1 - 1e-4, 1 + 1e-4).prod(-1)], tol: PROD },
        { name: `argmax/argmin with ties and NaN late in the row, [${rows}, ${n}]`, outputs: () => { const x = ties([rows, n], s + 200, [n - 2, ...(rows > 1 ? [n + Math.floor(n / 2)] : [])]); return [x.argmax(-1), x.argmin(-1), x.max(-1), x.min(-1)]; } },
        { name: `argmax/argmin with ties, no NaN, [${rows}, ${n}]`, outputs: () => { const x = ties([rows, n], s + 300); return [x.argmax(-1), x.argmin(-1, true)]; } },
        { name: `int32 sum (wrapping), max, min, argmax over [${rows}, ${n}]`, outputs: () => { const x = i32([rows, n], s + 400); return [x.sum(-1), x.max(-1), x.min(-1), x.argmin(-1)]; } },
        { name: `bool any/all/argmax over [${rows}, ${n}]`, outputs: () => { const b = bool([rows, n], s + 500, 3 / n); return [b.max(-1), b.min(-1), b.argmax(-1)]; } },
        // The column layout: reduced axis first, consecutive threads own consecutive rows.
        { name: `column layout: sum/max/argmax over axis 0 of [${n}, ${rows}]`, outputs: () => { const x = f32([n, rows], s + 600, 0, 1); return [x.sum(0), x.max(0, true), x.argmax(0)]; } },
      );
    }
  }
  if (extra) cases.push(
    { name: 'mixed axes: sum over [0, 2] of [5, 3, 2001] (row layout, no vec4)', outputs: () => [f32([5, 3, 2001], 40, 0, 1).sum([0, 2])] },
    { name: 'mixed axes: max over [0, 1] of [300, 40, 3] keepdims (column layout)', outputs: () => [f32([300, 40, 3], 41).max([0, 1], true)] },
    { name: 'everything: sum of [3, 5, 4000]', outputs: () => [f32([3, 5, 4000], 42, 0, 1).sum()] },
    { name: 'a transposed input: sum over the last axis of x.T', outputs: () => [f32([3000, 5], 43, 0, 1).T.sum(-1)] },
    { name: 'a broadcast product: sum(a * b) over axis 1, a [7, 1], b [5000]', outputs: () => [f32([7, 1], 44).mul(f32([5000], 45)).sum(-1)] },
    { name: 'extent 1 never splits', outputs: () => [f32([7, 1], 46).sum(-1)], splits: false },
  );
  return cases;
}

function rowProgramCases(shapes: [number, number][], extra = true): Case[] {
  const cases: Case[] = [];
  let seed = 100;
  for (const [rows, n] of shapes) {
    {
      const s = (seed += 10);
      cases.push(
        { name: `softmax and logSoftmax over [${rows}, ${n}]`, outputs: () => { const x = f32([rows, n], s, -4, 4); return [x.softmax(-1), x.logSoftmax(-1)]; } },
        { name: `layerNorm(x, w, b) over [${rows}, ${n}]`, outputs: () => [wg.layerNorm(f32([rows, n], s + 1, -3, 5), f32([n], s + 2), f32([n], s + 3))] },
        { name: `variance and the stored centred x over [${rows}, ${n}]`, outputs: () => { const x = f32([rows, n], s + 4, 2, 3); const c = x.sub(x.mean(-1, true)); return [x.variance(-1), c, c.square().sum(-1).sqrt()]; } },
        // The running max and sum (row-rebase.ts): NaN late in a row, +Inf (NaN rows, as exp(inf - inf)),
        // a row of -Inf (NaN), the first half of a row -Inf (whole chunks of it add 0), a -Inf among values.
        {
          name: `softmax and logSoftmax with NaN, +-Inf and -Inf chunks, [${Math.max(rows, 6)}, ${n}]`,
          outputs: () => {
            const r = Math.max(rows, 6);
            const rand = rng(s + 6);
            const data = Float32Array.from({ length: r * n }, () => -4 + 8 * rand());
            data[n - 1] = Number.NaN;
            data[n + Math.floor(n / 2)] = Number.POSITIVE_INFINITY;
            data.fill(Number.NEGATIVE_INFINITY, 2 * n, 3 * n);
            data.fill(Number.NEGATIVE_INFINITY, 3 * n, 3 * n + Math.ceil(n / 2));
            data[4 * n + n - 1] = Number.NEGATIVE_INFINITY;
            const x = wg.tensor(data, [r, n]);
            return [x.softmax(-1), x.logSoftmax(-1), wg.tensor(data, [r, n]).T.softmax(0)];
          },
        },
        // Centred squares from moments (row-rebase.ts): NaN, +-Inf late in a row make the mean and the
        // variance NaN, as the two-pass reference; a constant row; values near 1e4 with a spread of 1 (a
        // sum of squares minus the squared sum would lose every digit there). Also over axis 0 (columns).
        {
          name: `variance with NaN, +-Inf, a constant row and an offset of 1e4, [${Math.max(rows, 5)}, ${n}] and its transpose`,
          outputs: () => {
            const r = Math.max(rows, 5);
            const rand = rng(s + 5);
            const data = Float32Array.from({ length: r * n }, (_, i) => (Math.floor(i / n) === 3 ? 0.75 : Math.floor(i / n) === 4 ? 1e4 + rand() : rand()));
            data[n - 1] = Number.NaN;
            data[n + n - 2] = Number.POSITIVE_INFINITY;
            data[2 * n + Math.floor(n / 2)] = Number.NEGATIVE_INFINITY;
            data[2 * n + n - 1] = Number.POSITIVE_INFINITY;
            const x = wg.tensor(data, [r, n]);
            const t = wg.tensor(data, [r, n]).T;
            return [x.variance(-1), x.mean(-1), t.variance(0, true)];
          },
          tol: { rel: 1e-3, abs: 1e-5 },
        },
      );
    }
  }
  if (extra) cases.push(
    {
      name: 'the image pipeline over [2, 30, 41] (extent 1230: vec4 loads), per-image gain and bias',
      outputs: () => {
        const x = f32([2, 30, 41], 200, 0, 1);
        const std = x.variance([1, 2], true).sqrt();
        return [x.sub(x.mean([1, 2], true)).div(std.add(1e-5)).mul(f32([2, 1, 1], 201, 0.2, 0.3)).add(f32([2, 1, 1], 202, 0.4, 0.6)).clamp(0, 1).pow(0.8)];
      },
      tol: { rel: 1e-4, abs: 1e-5 },
    },
    {
      name: 'the image pipeline over [7, 13, 17] (extent 221: scalar), stats stored as well, no keepdims',
      outputs: () => {
        const x = f32([7, 13, 17], 203, 0, 1);
        const mean = x.mean([1, 2]);
        const std = x.variance([1, 2]).sqrt();
        return [x.sub(mean.reshape([7, 1, 1])).div(std.reshape([7, 1, 1])).mul(0.25).add(0.5).clamp(0, 1).pow(0.8), mean, std];
      },
    },
    { name: 'softmax over axis 0 of [3001, 3] (column layout)', outputs: () => [f32([3001, 3], 204, -3, 3).softmax(0)] },
    // A per-row value read from the rows' own buffer (their first column): the loop must not bind it as
    // vectors, the value stage reads it element by element.
    { name: 'x - (mean + x[:, 0]) over [3, 4096]: a value stage reads the buffer the loop reads', outputs: () => { const x = f32([3, 4096], 206); return [x.sub(x.mean(-1, true).add(x.slice([0, 0], [3, 1])))]; } },
    { name: 'layerNorm without weights over [1, 3] never splits in the row layout', outputs: () => [wg.layerNorm(f32([1, 3], 205))], splits: false },
  );
  return cases;
}

describe('split row kernels against the CPU reference', () => {
  // The finest split runs a few cases only (one workgroup per chunk is slow on SwiftShader).
  const few = (c: Case) => /sum\/max\/min|NaN|column|softmax and|layerNorm/.test(c.name);
  // The serial column combine: the cases with a column layout.
  const columns = (c: Case) => /column|transpose|NaN/.test(c.name);
  const pick = (i: number) => (c: Case) => i < 2 || (i === 2 ? few(c) : columns(c));
  TUNINGS.forEach(([label, tuning, shapes], i) => {
    gpuIt(`plain reductions, ${label}`, { timeout: 300_000 }, async () => {
      await check(reductionCases(shapes, i === 0).filter(pick(i)), tuning, label);
    });
    gpuIt(`row programs, ${label}`, { timeout: 300_000 }, async () => {
      await check(rowProgramCases(shapes, i === 0).filter(pick(i)), tuning, label);
    });
  });

  gpuIt('the same programs unsplit (tuning disabled) agree with the reference too', { timeout: 300_000 }, async () => {
    const off = { enabled: false };
    await check([...reductionCases(ALL), ...rowProgramCases(ALL)].map((c) => ({ ...c, splits: false })), off, 'unsplit');
  });
});

describe('when the lowering splits', () => {
  it('planRowSplit: defaults keep rows that fill the device or are short, and split few long rows', () => {
    // layerNorm/softmax-like rows: never split, whatever the row count.
    expect(planRowSplit([8192, 1024], [1])).toBeNull();
    expect(planRowSplit([2, 1024], [1])).toBeNull();
    // The image pipeline: 4 or 16 rows of 8.3M elements.
    const img = planRowSplit([4, 2160, 3840], [1, 2])!;
    expect(img.layout).toBe('row');
    expect(img.rows * img.chunks).toBeGreaterThanOrEqual(1000);
    expect(img.chunk % 4).toBe(0);
    expect(planRowSplit([16, 2160, 3840], [1, 2])!.chunks).toBe(64);
    // x.sum() of 64M elements, and column sums of [80000, 512].
    expect(planRowSplit([1 << 26], [0])!.chunks).toBe(DEFAULT_ROW_SPLIT.maxChunks);
    const col = planRowSplit([80000, 512], [0])!;
    expect(col.layout).toBe('column');
    // About targetThreads: 510 chunks of 157 rows each cover the 80000.
    expect(col.rows * col.chunks).toBeGreaterThanOrEqual(0.95 * DEFAULT_ROW_SPLIT.targetThreads);
    // Many rows already fill the device; the Monte Carlo sum over 256 steps of 1M paths stays serial.
    expect(planRowSplit([1 << 20, 256], [1])).toBeNull();
    expect(planRowSplit([256, 1 << 20], [0])).toBeNull();
    // Every chunk holds an element.
    for (const [shape, axes] of [[[3, 100003], [1]], [[100003, 3], [0]], [[5, 8193], [1]]] as const) {
      const p = planRowSplit(shape as unknown as number[], axes as unknown as number[], { ...DEFAULT_ROW_SPLIT, ...FORCE(600, 4) })!;
      expect((p.chunks - 1) * p.chunk).toBeLessThan(p.extent);
      expect(p.chunks * p.chunk).toBeGreaterThanOrEqual(p.extent);
    }
  });

  it('the image pipeline at 4 x 2160 x 3840 is two dispatches: one partial pass (sum and moments) and the map', () => {
    const x = wg.tensor(new Float32Array(4 * 2160 * 3840), [4, 2160, 3840]);
    const std = x.variance([1, 2], true).sqrt();
    const plan = planOf([x.sub(x.mean([1, 2], true)).div(std.add(1e-5)).mul(0.25).add(0.5).clamp(0).pow(0.8)]);
    expect(plan.dispatches.map((d) => d.kernel)).toEqual(['fused.row.sum+sum+11.split.partial0.vec4', 'fused.row.sum+sum+11.split.map.vec4']);
    // One pass of reads per dispatch, one of writes in the map; the partials are 4 words per chunk.
    const image = 4 * 2160 * 3840 * 4;
    expect(plan.dispatches.map((d) => Math.round(d.bytesRead / image))).toEqual([1, 1]);
    const partials = 4 * 4 * planRowSplit([4, 2160, 3840], [1, 2])!.chunks;
    expect(plan.dispatches[0].bytesWritten).toBe(partials * 4);
    expect(plan.dispatches[1].bytesWritten).toBe(image);
  });

  it('a partial pass takes every reduction whose values need no row value of its own pass', () => {
    const passes = (outputs: Tensor[]) => planOf(outputs).dispatches.map((d) => d.kernel.replace(/^.*\.split\./, '').replace(/\.vec4$/, ''));
    const x = f32([4, 1 << 16], 1);
    const mean = x.mean(-1, true);
    const c = x.sub(mean);
    const r = mean.sub(x);
    // Centred squares about the row mean, written each way: one pass (the sum and the moments) and the rest.
    expect(passes([x.variance(-1)])).toEqual(['partial0', 'finish']);
    expect(passes([c.square().sum(-1)])).toEqual(['partial0', 'finish']);
    expect(passes([r.mul(r).sum(-1)])).toEqual(['partial0', 'finish']);
    expect(passes([wg.layerNorm(x)])).toEqual(['partial0', 'map']);
    // Sibling reductions of one value (fuse-reduction joins them) and the mean beside the variance.
    expect(passes([x.sum(-1), x.max(-1), x.argmin(-1)])).toEqual(['partial0', 'finish']);
    expect(passes([x.mean(-1), x.variance(-1)])).toEqual(['partial0', 'finish']);
    // Not about the mean: the sum of (x - max)^2 or (x - sum / 7)^2, the squares about the mean of 2x,
    // and softmax's sum of exp(x - max), need the earlier row value in their pass.
    const m = x.sub(x.max(-1, true));
    const s7 = x.sub(x.sum(-1, true).div(7));
    const y = x.sub(x.mul(2).mean(-1, true));
    expect(passes([m.mul(m).sum(-1)])).toEqual(['partial0', 'partial1', 'finish']);
    expect(passes([s7.mul(s7).sum(-1)])).toEqual(['partial0', 'partial1', 'finish']);
    expect(passes([y.mul(y).sum(-1)])).toEqual(['partial0', 'partial1', 'finish']);
    // softmax's sum of exp(x - max) as a running max and sum: one pass with the max (logSoftmax too).
    expect(passes([x.softmax(-1)])).toEqual(['partial0', 'map']);
    expect(passes([x.logSoftmax(-1)])).toEqual(['partial0', 'map']);
    const e2 = x.sub(x.max(-1, true)).exp().mul(2);
    expect(passes([e2.sum(-1)])).toEqual(['partial0', 'partial1', 'finish']);
    // Without shared passes (RowSplitTuning.sharePasses off): a pass per reduction.
    setRowSplitTuning({ sharePasses: false });
    expect(passes([x.variance(-1)])).toEqual(['partial0', 'partial1', 'finish']);
    expect(passes([x.softmax(-1)])).toEqual(['partial0', 'partial1', 'map']);
    expect(passes([x.sum(-1), x.max(-1)])).toEqual(['partial0', 'partial1', 'finish']);
    setRowSplitTuning(null);
    // The column layout: the variance over axis 0 in one pass; normalising columns adds the combine.
    const t = f32([1 << 16, 4], 2);
    expect(passes([t.variance(0)])).toEqual(['partial0', 'finish']);
    expect(passes([t.sub(t.mean(0, true)).div(t.variance(0, true).sqrt())])).toEqual(['partial0', 'combine0', 'map']);
  });

  it('the issue-4 shapes keep their dispatch counts: layerNorm, softmax and the image pipeline are one row kernel', () => {
    const p = (t: Tensor) => planOf([t]).dispatches.map((d) => d.kernel);
    expect(p(wg.layerNorm(f32([6, 300], 1), f32([300], 2), f32([300], 3)))).toHaveLength(1);
    expect(p(f32([3, 500], 4).softmax(-1))).toHaveLength(1);
    expect(p(f32([8192, 1024], 5).softmax(-1))).toHaveLength(1);
    const x = f32([3, 20, 30], 6);
    expect(p(x.sub(x.mean([1, 2], true)).div(x.variance([1, 2], true).sqrt()).clamp(0, 1).pow(0.8))).toHaveLength(1);
  });

  it('a split dispatch that would bind more than 8 buffers keeps the one-kernel row program', () => {
    setRowSplitTuning(FORCE(4));
    // Seven inputs and one output: the row kernel binds 8; the map would add the scratch buffer.
    const xs = Array.from({ length: 7 }, (_, i) => f32([2, 4096], 300 + i));
    const sum = xs.slice(1).reduce((a, b) => a.add(b), xs[0]);
    const plan = planOf([sum.softmax(-1)]);
    expect(kernels(plan)).not.toMatch(/split/);
  });
});

describe('numerics over 8M-element rows', () => {
  gpuIt('mean and variance of 2^23 values near 1000 stay within 1e-6 and 1e-4 of float64', { timeout: 300_000 }, async () => {
    const n = 1 << 23;
    const rand = rng(7);
    const data = Float32Array.from({ length: n }, () => 1000 + rand() * 2 - 1);
    const x = wg.tensor(data, [1, n]);
    let mean = 0;
    for (const v of data) mean += v;
    mean /= n;
    let m2 = 0;
    for (const v of data) m2 += (v - mean) * (v - mean);
    const variance = m2 / n;
    const backend = new WebGpuBackend(ctx!);
    try {
      const plan = planOf([x.mean(-1), x.variance(-1)]);
      expect(kernels(plan)).toMatch(/split/);
      const [gotMean, gotVar] = await run(backend, [x.mean(-1), x.variance(-1)]);
      expect(Math.abs(gotMean[0] - mean) / mean).toBeLessThan(1e-6);
      expect(Math.abs(gotVar[0] - variance) / variance).toBeLessThan(1e-4);
    } finally {
      backend.pool.trim(0);
    }
  });
});
