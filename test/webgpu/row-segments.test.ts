// Segmented row kernels (src/shaders/row-segments.ts): 256 / T rows per workgroup, T threads per row, each
// reduction a butterfly of subgroupShuffleXor, the workgroup-memory tree where the subgroups are not laid out
// for it. SwiftShader's subgroups have 4 lanes (subgroupMinSize 4), so T = 4 and T = 2 run the butterfly for
// real; the tree runs through the tuning (segmentShuffles: false) and, as generated inside the kernel, with
// the check's result forced false. Row programs (softmax, logSoftmax, layerNorm, layerNorm + softmax, mean
// and variance, sum/max/min/argmax/argmin with NaN, infinities and ties, int32 and bool rows, 3-D inputs)
// against the CPU reference, over odd extents (1, 3, 5, 7, 33, 130) and multiples of 4 (vec4 steps), rows
// not a multiple of the rows per workgroup, a single row, the cache off and the steps as a loop. Every plan
// is checked to run segmented kernels, from their headers. The choice of the layout and its defaults are
// checked on the generated WGSL.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.js';
import { extractProgram } from '../../src/api/program.js';
import type { Tensor } from '../../src/api/tensor.js';
import { compileGraph } from '../../src/lowering/compile.js';
import type { LowerOptions } from '../../src/lowering/lower.js';
import type { Plan } from '../../src/lowering/plan.js';
import { WebGpuBackend } from '../../src/runtime/webgpu/backend.js';
import { setRowTuning, type RowTuning } from '../../src/shaders/row.js';
import { SEGMENT_WORKGROUP, SUBGROUP_ID_BUILTIN } from '../../src/shaders/row-segments.js';
import { setRowSplitTuning } from '../../src/shaders/row-split.js';
import { rng, type Tolerance } from './differential.js';
import { testGpu } from './gpu.js';
import { expectReference, f32, FLOAT, i32, restoreRowDefaults, size } from './row-inputs.js';
import { runSubgroupCheck } from './kernel-harness.js';

const ctx = await testGpu();
const minSize = ctx?.device.adapterInfo?.subgroupMinSize;
const hasSubgroups = ctx?.features.includes('subgroups') ?? false;
// The butterfly needs the feature and T <= the smallest subgroup size (SwiftShader: 4).
const segIt = (lanes: number) => it.skipIf(!ctx || !hasSubgroups || minSize === undefined || minSize < lanes);
afterAll(() => ctx?.device.destroy());
afterEach(() => {
  setRowTuning(null);
  setRowSplitTuning(null);
});

/**
 * Few distinct values (ties everywhere, -0 and +0 among them) with NaN in some rows: the first element of
 * row 0, the last of row 1, two in the middle of row 2, all of row 3; row 4 is all +inf, row 5 all -inf.
 */
function ties(shape: [number, number], seed: number): Tensor {
  const rand = rng(seed);
  const [rows, n] = shape;
  const data = Float32Array.from({ length: rows * n }, () => [-2, -1, -0, 0, 1, 2][Math.floor(rand() * 6)]);
  const fill = (r: number, v: number) => r < rows && data.fill(v, r * n, (r + 1) * n);
  data[0] = Number.NaN;
  if (rows > 1) data[2 * n - 1] = Number.NaN;
  if (rows > 2) data[2 * n + (n >> 1)] = data[2 * n + (n >> 2)] = Number.NaN;
  fill(3, Number.NaN);
  fill(4, Number.POSITIVE_INFINITY);
  fill(5, Number.NEGATIVE_INFINITY);
  return wg.tensor(data, shape);
}


interface Case {
  readonly name: string;
  readonly outputs: () => Tensor[];
  readonly tol?: Tolerance;
}

/** Row programs over `rows` rows of n (every reduction in a row kernel). */
function programs(rows: number, n: number, seed = n): Case[] {
  const s = seed * 16 + rows;
  const sh: [number, number] = [rows, n];
  return [
    { name: `softmax and logSoftmax over [${rows}, ${n}] with inf and NaN rows`, outputs: () => { const x = f32(sh, s, -4, 4, true); return [x.softmax(-1), x.logSoftmax(-1)]; } },
    { name: `layerNorm(x, w[${n}], b[${n}]) over [${rows}, ${n}]`, outputs: () => [wg.layerNorm(f32(sh, s + 1, -3, 5), f32([n], s + 2, 0.5, 1.5), f32([n], s + 3), 1e-5)] },
    { name: `layerNorm(x, w[${n}], b[${n}]).softmax over [${rows}, ${n}]`, outputs: () => [wg.layerNorm(f32(sh, s + 4, -3, 5), f32([n], s + 5, 0.5, 1.5), f32([n], s + 6), 1e-5).softmax(-1)] },
    { name: `mean, variance and the centred rows over [${rows}, ${n}]`, outputs: () => { const x = f32(sh, s + 7, 2, 3); const m = x.mean(-1, true); return [x.variance(-1), x.sub(m), m]; } },
    {
      // x + mean(y) keeps x's ties, NaN and infinities, and puts the plain reductions in the row kernel of the mean.
      name: `sum/max/min/argmax/argmin of x + mean(y) with ties, NaN and infinities over [${rows}, ${n}]`,
      outputs: () => { const d = ties(sh, s + 8).add(f32(sh, s + 9).mean(-1, true)); return [d.sum(-1), d.max(-1), d.min(-1), d.argmax(-1), d.argmin(-1)]; },
    },
    { name: `int32 argmax, argmin, x - max, wrapping sum over [${rows}, ${n}]`, outputs: () => { const x = i32(sh, s + 10); const d = x.sub(x.max(-1, true)); return [d.argmax(-1), d.argmin(-1), d, d.sum(-1)]; } },
    {
      name: `bool argmax/any/all and where(b, x, 0).sum over [${rows}, ${n}]`,
      outputs: () => { const x = f32(sh, s + 11); const b = x.gt(x.mean(-1, true).add(0.5)); return [b.argmax(-1), b.max(-1), b.min(-1), wg.where(b, x, 0).sum(-1)]; },
    },
    { name: `softmax of a transposed input, [${n}, ${rows}].T`, outputs: () => [f32([n, rows], s + 12, -3, 3).T.softmax(-1)] },
  ];
}

/** 3-D inputs: softmax and the statistics over the last axis, and the variance over the last two. */
function threeD(a: number, b: number, n: number, seed: number): Case[] {
  return [
    { name: `softmax, argmax(x + mean) over the last axis of [${a}, ${b}, ${n}]`, outputs: () => { const x = f32([a, b, n], seed, -3, 3); return [x.softmax(-1), x.add(x.mean(-1, true)).argmax(-1)]; } },
    { name: `variance and centred values over axes [1, 2] of [${a}, ${b}, ${n}]`, outputs: () => { const x = f32([a, b, n], seed + 1, 2, 3); return [x.variance([1, 2]), x.sub(x.mean([1, 2], true))]; } },
  ];
}

/** The tuning that reaches segmented kernels on small shapes: T lanes, any row count, rows of up to 128 T. */
const segmented = (lanes: number, more: Partial<RowTuning> = {}): Partial<RowTuning> => ({
  segmentThreads: lanes,
  segmentMinRows: 1,
  serialRow: 0,
  segmentMaxValuesPerThread: 128,
  segmentMaxCachedValues: 1024,
  ...more,
});

/** Which combine the kernels must use: the butterfly (as generated), the tree by tuning, the tree inside the generated kernel. */
type Path = 'butterfly' | 'tree' | 'forced-tree';

const headers = (plan: Plan) => plan.dispatches.filter((d) => d.kernel.startsWith('fused.row.')).map((d) => d.wgsl.split('\n').find((l) => l.startsWith('// row kernel:')) ?? '');

/**
 * Runs each case under the tuning on a fresh backend (plans are cached per backend), after checking that
 * every row kernel of its plan is segmented with `lanes` threads per row and combines as `path` says.
 */
async function check(cases: readonly Case[], lanes: number, path: Path, more: Partial<RowTuning> = {}, subgroupMinSize?: number): Promise<void> {
  setRowTuning(segmented(lanes, { ...more, segmentShuffles: path !== 'tree' }));
  setRowSplitTuning({ enabled: false });
  const backend = new WebGpuBackend(ctx!);
  // A backend told a larger smallest subgroup size than the adapter's: its kernels' check fails at run time.
  if (subgroupMinSize !== undefined) (backend as { features: WebGpuBackend['features'] }).features = { ...backend.features, subgroupMinSize };
  try {
    for (const c of cases) {
      const outputs = c.outputs();
      const what = `${c.name} (T = ${lanes}, ${path}${Object.keys(more).length > 0 ? `, ${JSON.stringify(more)}` : ''})`;
      const { graph, args } = extractProgram(outputs.map((t) => t.node));
      const plan = backend.plan(graph, args);
      const rows = headers(plan);
      expect(rows.length, `${what}: ${plan.dispatches.map((d) => d.kernel).join(', ')}`).toBeGreaterThan(0);
      for (const h of rows) {
        expect(h, what).toContain(`segmented: ${lanes} threads per row`);
        expect(h, what).toContain(path === 'tree' ? 'reduced in workgroup memory' : 'reduced by subgroupShuffleXor butterflies');
      }
      if (path === 'forced-tree') {
        // The cached plan's kernels with the check's result replaced, before their first run: the fallback
        // exactly as the generated kernel holds it.
        for (const d of plan.dispatches) {
          if (!d.kernel.startsWith('fused.row.')) continue;
          expect(d.wgsl).toContain('if (sg_mapped) {');
          (d as { wgsl: string }).wgsl = d.wgsl.replaceAll('if (sg_mapped) {', 'if (false) {');
        }
      }
      await expectReference(backend, outputs, c.tol ?? FLOAT, what);
    }
  } finally {
    restoreRowDefaults(backend);
  }
}

describe('segmented row kernels against the CPU reference', () => {
  it('the backend takes the smallest subgroup size from the adapter', () => {
    if (!ctx) return;
    expect(new WebGpuBackend(ctx).features.subgroupMinSize).toBe(minSize);
    if (process.env.CI === 'true') expect(minSize, 'SwiftShader in CI has subgroups of 4').toBe(4);
  });

  segIt(4)('the adapter passes the segment check for T = 2 and 4 (the butterflies below run), not for T = 8 > its subgroups', async () => {
    for (const lanes of [2, 4, 8]) {
      const out = await runSubgroupCheck(ctx!.device, SEGMENT_WORKGROUP, 'select(0u, 1u, sg_mapped)', { lanes, builtins: [SUBGROUP_ID_BUILTIN] });
      const maxSize = ctx!.device.adapterInfo.subgroupMaxSize ?? 128;
      if (lanes <= minSize! || lanes > maxSize) expect(out, `sg_mapped with T = ${lanes}`).toEqual(new Array(SEGMENT_WORKGROUP).fill(lanes <= minSize! ? 1 : 0));
    }
  });

  // 64 rows per workgroup at T = 4: 67 rows leave 61 idle slots in the second workgroup, 64 none.
  for (const n of [1, 3, 5, 7, 33, 130]) {
    segIt(4)(`T = 4, odd rows of ${n}: 67 rows (an idle tail), 64 rows and a single row`, { timeout: 120_000 }, async () => {
      await check(programs(67, n), 4, 'butterfly');
      await check(programs(64, n).slice(0, 3), 4, 'butterfly');
      await check(programs(1, n), 4, 'butterfly');
    });
  }
  segIt(4)('T = 4, rows of 4, 8, 128 and 132 (vec4 steps; 128: 32 values per thread)', { timeout: 120_000 }, async () => {
    for (const n of [4, 8, 128, 132]) await check(programs(70, n), 4, 'butterfly');
  });
  segIt(2)('T = 2: 128 rows per workgroup, 130 and 3 rows, odd and vec4 extents', { timeout: 120_000 }, async () => {
    for (const n of [1, 5, 33, 68]) await check(programs(130, n), 2, 'butterfly');
    await check(programs(3, 130), 2, 'butterfly');
  });
  segIt(4)('3-D inputs: the last axis of [3, 5, 33] and [2, 70, 12], the last two of [6, 3, 5] and [130, 2, 8]', { timeout: 120_000 }, async () => {
    await check([...threeD(3, 5, 33, 1), ...threeD(2, 70, 12, 3)].filter((c) => c.name.startsWith('softmax')), 4, 'butterfly');
    await check([...threeD(6, 3, 5, 5), ...threeD(130, 2, 8, 7)].filter((c) => c.name.startsWith('variance')), 4, 'butterfly');
  });

  segIt(4)('the workgroup-memory tree by tuning (segmentShuffles: false), T = 4 and 2', { timeout: 120_000 }, async () => {
    for (const n of [3, 33, 128]) await check(programs(67, n), 4, 'tree');
    await check(programs(131, 7), 2, 'tree');
    await check(programs(1, 130), 2, 'tree');
  });
  segIt(4)('the fallback inside the generated kernel (sg_mapped forced false), T = 4 and 2', { timeout: 120_000 }, async () => {
    for (const n of [3, 33, 128]) await check(programs(67, n), 4, 'forced-tree');
    await check(programs(131, 7), 2, 'forced-tree');
    await check(threeD(3, 5, 33, 9), 4, 'forced-tree');
  });
  segIt(4)('T = 8, 16 and 32 where the subgroups have fewer lanes (a backend told 32): the check fails, the tree runs', { timeout: 120_000 }, async () => {
    if (minSize! >= 8) return;
    await check(programs(67, 33), 8, 'butterfly', {}, 32);
    await check(programs(67, 130), 16, 'butterfly', {}, 32);
    await check([...programs(67, 130), ...programs(1, 7)], 32, 'butterfly', {}, 32);
    await check(threeD(3, 5, 33, 11), 32, 'butterfly', {}, 32);
  });
  segIt(4)('the cache off (every stage re-reads the row) and the steps as a loop', { timeout: 120_000 }, async () => {
    await check(programs(67, 33), 4, 'butterfly', { cache: false });
    await check(programs(67, 132), 4, 'butterfly', { cache: false });
    await check(programs(67, 33), 4, 'butterfly', { segmentMaxUnroll: 0 });
    await check(programs(67, 132), 4, 'butterfly', { segmentMaxUnroll: 0 });
  });
});

describe('segmented row kernels: the choice and the WGSL', () => {
  /** The row kernels' WGSL of a program lowered for the given features (no split rows), fused or lone reductions. */
  function rowKernels(outputs: Tensor[], features: LowerOptions['features'], tuning: Partial<RowTuning> | null = null): string[] {
    setRowTuning(tuning);
    setRowSplitTuning({ enabled: false });
    try {
      const { graph, args } = extractProgram(outputs.map((t) => t.node));
      const plan = compileGraph(graph, { inputLayouts: args.map((a) => a.layout), features }).plan;
      return plan.dispatches.filter((d) => /^(fused\.row|reduce)\./.test(d.kernel)).map((d) => d.wgsl);
    } finally {
      setRowTuning(null);
      setRowSplitTuning(null);
    }
  }
  const header = (wgsl: string) => wgsl.split('\n').find((l) => l.startsWith('// row kernel:'))!;
  const zeros = (shape: number[]) => wg.tensor(new Float32Array(size(shape)), shape);
  const H100 = { subgroups: true, subgroupMinSize: 32 };
  const layerNormSoftmax = (rows: number, n: number) => {
    const w = zeros([n]);
    return [wg.layerNorm(zeros([rows, n]), w, zeros([n]), 1e-5).softmax(-1)];
  };

  it('by default: layerNorm + softmax over [8192, 512] and softmax over [65536, 512], 32 threads per row; rows of 1024 keep a workgroup', () => {
    const [ln] = rowKernels(layerNormSoftmax(8192, 512), H100);
    expect(header(ln)).toBe(
      '// row kernel: 8192 row(s) of 512 over axes [1] of [8192, 512], segmented: 32 threads per row, 8 rows per workgroup of 256, row cached in registers (3 input(s), 4 step(s) of 4 element(s) per thread, vec4), reduced by subgroupShuffleXor butterflies',
    );
    // Each reduction a butterfly over masks 16 .. 1; no workgroup memory outside the fallback.
    for (const k of [0, 2, 6, 7]) for (const m of [16, 8, 4, 2, 1]) expect(ln).toContain(`subgroupShuffleXor(p${k}, ${m}u)`);
    expect(ln).toContain('@builtin(subgroup_invocation_id) sg_id: u32');
    expect(ln).toContain('|| sg_id != lid % sg_size || sg_size < 32u) { sg_split = 1u; }');
    expect(ln).not.toContain('seg_live'); // 8192 rows fill every workgroup
    expect(ln).not.toContain('for (var j');
    expect(ln.match(/= in0\[/g)).toHaveLength(4);
    const [sm] = rowKernels([zeros([65536, 512]).softmax(-1)], H100);
    expect(header(sm)).toContain('65536 row(s) of 512 over axes [1] of [65536, 512], segmented: 32 threads per row');
    // 32 values per thread and input for rows of 1024: over the cap (on the H100 the workgroup per row was
    // faster there), unless the tuning raises it.
    const [wide] = rowKernels(layerNormSoftmax(8192, 1024), H100);
    expect(header(wide)).toContain('[8192, 1024], one workgroup of 128 threads per row');
    const [raised] = rowKernels(layerNormSoftmax(8192, 1024), H100, { segmentMaxValuesPerThread: 32 });
    expect(header(raised)).toContain('[8192, 1024], segmented: 32 threads per row');
  });

  it('not without the feature, with a smaller or unknown subgroup size, few or long rows, or rows along an outer axis', () => {
    const not = (wgsl: string[]) => wgsl.map(header).forEach((h) => expect(h).not.toContain('segmented'));
    not(rowKernels(layerNormSoftmax(8192, 1024), { subgroups: false, subgroupMinSize: 32 }));
    not(rowKernels(layerNormSoftmax(8192, 1024), { subgroups: true, subgroupMinSize: 16 }));
    not(rowKernels(layerNormSoftmax(8192, 1024), { subgroups: true }));
    not(rowKernels(layerNormSoftmax(8192, 1024), undefined));
    not(rowKernels(layerNormSoftmax(4000, 1024), H100));
    not(rowKernels(layerNormSoftmax(8192, 2048), H100));
    not(rowKernels([zeros([1024, 8192]).softmax(0)], H100));
    not(rowKernels([zeros([64, 8192, 256]).softmax(1)], H100));
    not(rowKernels(layerNormSoftmax(8192, 1024), H100, { segmentThreads: 0 }));
    // Rows of at most 64 (serialRow): segmented with extent / 8 threads (shortRowValues) where that is 2 or
    // more and the rows are many; otherwise one thread's.
    expect(header(rowKernels([zeros([65536, 64]).softmax(-1)], H100)[0])).toContain('segmented: 8 threads per row');
    expect(header(rowKernels([zeros([65536, 35]).argmax(-1)], H100)[0])).toContain('segmented: 4 threads per row');
    expect(header(rowKernels([zeros([65536, 16]).sum(-1)], H100)[0])).toContain('segmented: 2 threads per row');
    not(rowKernels([zeros([65536, 15]).softmax(-1)], H100));
    not(rowKernels([zeros([65536, 64]).softmax(-1)], H100, { shortRowValues: 0 }));
    not(rowKernels([zeros([1000, 64]).softmax(-1)], H100));
    not(rowKernels([zeros([64, 65536]).sum(0)], H100));
    expect(() => rowKernels(layerNormSoftmax(8192, 1024), H100, { segmentThreads: 3 })).toThrow(/segmentThreads 3/);
  });

  it('the same WGSL as before wherever it is off: SwiftShader subgroups (4 lanes) against T = 32', () => {
    const programsOf = () => [layerNormSoftmax(8192, 1024), [zeros([65536, 512]).softmax(-1)], [zeros([5000, 130]).argmax(-1), zeros([5000, 130]).logSoftmax(-1)]];
    for (const outputs of programsOf()) {
      expect(rowKernels(outputs, { subgroups: true, subgroupMinSize: 4 })).toEqual(rowKernels(outputs, { subgroups: true }));
    }
  });

  it('an idle tail: idle row slots read the last row and store nothing; the rows in registers are those of T lanes', () => {
    const x = zeros([67, 130]);
    const [k] = rowKernels([x.softmax(-1)], { subgroups: true, subgroupMinSize: 4 }, segmented(4));
    expect(header(k)).toContain('67 row(s) of 130 over axes [1] of [67, 130], segmented: 4 threads per row, 64 rows per workgroup of 256, row cached in registers (1 input(s), 33 step(s) of 1 element(s) per thread)');
    expect(k).toContain('let seg_live = seg_slot < 67u;');
    expect(k).toContain('let o = min(seg_slot, 66u);');
    expect(k).toContain('if (seg_live) {');
    const m = x.mean(-1, true);
    const [stats] = rowKernels([x.sub(m), m], { subgroups: true, subgroupMinSize: 4 }, segmented(4));
    expect(stats).toContain('if (seg_lane == 0u && seg_live) {');
    // Float max takes (lower lane, upper lane) in every lane of a pair.
    expect(k).toContain('let seg_up = (seg_lane & 2u) != 0u;');
    const [tree] = rowKernels([zeros([67, 130]).softmax(-1)], { subgroups: true, subgroupMinSize: 4 }, segmented(4, { segmentShuffles: false }));
    expect(header(tree)).toContain('reduced in workgroup memory');
    expect(tree).not.toMatch(/subgroup|sg_/);
  });
});
