// The row cache of the unsplit row kernel (src/shaders/row.ts, planRowCache): each thread keeps the values
// it reads of its row in registers, loaded once, 4 consecutive elements per step (vec4) where aligned. Row
// programs (softmax, logSoftmax, layerNorm with broadcast weights, variance with stored row values and
// centred rows, argmax/argmin with ties and NaN, int32 and bool rows, transposed and offset views, per-row
// operands) against the CPU reference, over row lengths around every threshold: one thread per row (1, 3,
// 63, 64), the scalar and vec4 layouts (65, 127, 128, 1023, 1024, 1025), the caps of the default tuning
// (4096 cached, 4097 and 4100 not) and of small tunings (threads * R = 256), the step loop instead of
// written-out steps, more than 65,535 workgroups, and rows with +-inf and NaN. Every plan is checked to
// have chosen the layout the case is meant to use, from the kernel's header.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.js';
import { extractProgram } from '../../src/api/program.js';
import type { Tensor } from '../../src/api/tensor.js';
import { compileGraph } from '../../src/lowering/compile.js';
import type { Plan } from '../../src/lowering/plan.js';
import { WebGpuBackend } from '../../src/runtime/webgpu/backend.js';
import { setRowTuning, type RowTuning } from '../../src/shaders/row.js';
import { setRowSplitTuning } from '../../src/shaders/row-split.js';
import { rng, type Tolerance } from './differential.js';
import { runOutputs, testGpu } from './gpu.js';
import { expectReference, f32, FLOAT, i32, restoreRowDefaults, size } from './row-inputs.js';

const ctx = await testGpu();
const gpuIt = it.skipIf(!ctx);
afterAll(() => ctx?.device.destroy());
afterEach(() => {
  setRowTuning(null);
  setRowSplitTuning(null);
});

/** Few distinct values (ties everywhere, -0 and +0 among them), with NaN at the given flat positions. */
function ties(shape: number[], seed: number, nans: number[] = []): Tensor {
  const rand = rng(seed);
  const data = Float32Array.from({ length: size(shape) }, () => [-2, -1, -0, 0, 1, 2][Math.floor(rand() * 6)]);
  for (const i of nans) data[i] = Number.NaN;
  return wg.tensor(data, shape);
}


/** How the row kernels of a plan hold their rows: not cached (or one thread per row), cached, cached with vec4 steps. */
type Mode = 'none' | 'scalar' | 'vec4';

interface Case {
  readonly name: string;
  readonly outputs: () => Tensor[];
  readonly mode: Mode;
  readonly tol?: Tolerance;
}

function planOf(outputs: Tensor[]): Plan {
  const { graph, args } = extractProgram(outputs.map((t) => t.node));
  return compileGraph(graph, { inputLayouts: args.map((a) => a.layout) }).plan;
}

/** The mode of a row kernel's WGSL, from its header. */
function modeOf(wgsl: string): Mode {
  const header = wgsl.split('\n').find((l) => l.startsWith('// row kernel:')) ?? '';
  if (!header.includes('row cached in registers')) return 'none';
  return header.includes(', vec4)') ? 'vec4' : 'scalar';
}

/**
 * Runs each case under the tuning (a fresh backend: plans are cached per backend), checking its mode first.
 * Rows are never split here (the transposed rows would be, in the column layout): this is the unsplit kernel.
 */
async function check(cases: readonly Case[], tuning: Partial<RowTuning> | null, label: string): Promise<void> {
  setRowTuning(tuning);
  setRowSplitTuning({ enabled: false });
  const backend = new WebGpuBackend(ctx!);
  try {
    for (const c of cases) {
      const outputs = c.outputs();
      const rows = planOf(outputs).dispatches.filter((d) => d.kernel.startsWith('fused.row.'));
      const what = `${c.name} (${label})`;
      expect(rows.length, `${what}: ${rows.map((d) => d.kernel).join(', ')}`).toBeGreaterThan(0);
      for (const d of rows) expect(modeOf(d.wgsl), `${what}: ${d.wgsl.split('\n').find((l) => l.startsWith('// row kernel'))}`).toBe(c.mode);
      await expectReference(backend, outputs, c.tol ?? FLOAT, what);
    }
  } finally {
    restoreRowDefaults(backend);
  }
}

/** Row programs over `rows` rows of n, every one expected in `mode`. */
function programs(rows: number, n: number, mode: Mode, seed = n): Case[] {
  const s = seed * 16;
  const sh = [rows, n];
  return [
    { name: `softmax and logSoftmax over [${rows}, ${n}] with inf and NaN rows`, mode, outputs: () => { const x = f32(sh, s, -4, 4, true); return [x.softmax(-1), x.logSoftmax(-1)]; } },
    { name: `layerNorm(x, w[${n}], b[${n}]).softmax over [${rows}, ${n}]`, mode, outputs: () => [wg.layerNorm(f32(sh, s + 1, -3, 5), f32([n], s + 2, 0.5, 1.5), f32([n], s + 3), 1e-5).softmax(-1)] },
    { name: `variance, mean and the stored centred rows over [${rows}, ${n}]`, mode, outputs: () => { const x = f32(sh, s + 4, 2, 3); const m = x.mean(-1, true); return [x.variance(-1), x.sub(m), m]; } },
    {
      // x + mean(y) keeps x's ties and NaN, and puts the arg reductions in the row kernel of the mean.
      name: `argmax/argmin/max/min of x + mean(y) with ties and NaN over [${rows}, ${n}]`,
      mode,
      outputs: () => { const d = ties(sh, s + 5, rows > 1 ? [n + n - 1, n + (n >> 1)] : []).add(f32(sh, s + 14).mean(-1, true)); return [d.argmax(-1), d.argmin(-1), d.max(-1), d.min(-1)]; },
    },
    { name: `int32 argmax, x - max, wrapping sum over [${rows}, ${n}]`, mode, outputs: () => { const x = i32(sh, s + 6); const d = x.sub(x.max(-1, true)); return [d.argmax(-1), d, d.sum(-1)]; } },
    {
      name: `bool argmax/any/all and where(b, x, 0).sum over [${rows}, ${n}]`,
      mode,
      outputs: () => { const x = f32(sh, s + 8); const b = x.gt(x.mean(-1, true).add(0.9)); return [b.argmax(-1), b.max(-1), b.min(-1), wg.where(b, x, 0).sum(-1)]; },
    },
    { name: `softmax of a transposed input, [${n}, ${rows}].T`, mode, outputs: () => [f32([n, rows], s + 9, -3, 3).T.softmax(-1)] },
    { name: `softmax of a column slice at offset 1 of [${rows}, ${n + 5}]`, mode, outputs: () => [f32([rows, n + 5], s + 10, -3, 3).slice([0, 1], [rows, n]).softmax(-1)] },
    { name: `softmax of a column slice at offset 4 of [${rows}, ${n + 8}]`, mode, outputs: () => [f32([rows, n + 8], s + 11, -3, 3).slice([0, 4], [rows, n]).softmax(-1)] },
    { name: `a per-row operand m[${rows}, 1]: softmax(x - m) and sum(exp(x - m)) over [${rows}, ${n}]`, mode, outputs: () => { const x = f32(sh, s + 12, -3, 3); const d = x.sub(f32([rows, 1], s + 13)); return [d.softmax(-1), d.exp().sum(-1)]; } },
  ];
}

describe('the row cache against the CPU reference', () => {
  const ROWS = 4;
  // Rows of at most SERIAL_ROW are one thread's: never cached.
  for (const n of [1, 3, 63, 64]) {
    gpuIt(`rows of ${n}: one thread per row, not cached`, async () => {
      await check(programs(ROWS, n, 'none'), null, 'default');
    });
  }
  // Odd lengths: scalar steps; multiples of 4: vec4 steps (the transposed view is read lane by lane, the
  // output still stored as vectors). The slice at offset 1 is never a vector load, but its output is.
  for (const [n, mode] of [[65, 'scalar'], [127, 'scalar'], [128, 'vec4'], [1023, 'scalar'], [1024, 'vec4'], [1025, 'scalar']] as [number, Mode][]) {
    gpuIt(`rows of ${n}: cached, ${mode}`, { timeout: 120_000 }, async () => {
      await check(programs(ROWS, n, mode), null, 'default');
    });
  }

  gpuIt('the default caps: 4096 is cached (256 threads x 16), 4097 and 4100 are not, nor 5 inputs of 4096', { timeout: 120_000 }, async () => {
    const few = (c: Case) => /softmax and|layerNorm|argmax\/argmin/.test(c.name);
    await check(programs(2, 4096, 'vec4').filter(few), null, 'default');
    await check(programs(2, 4097, 'none').filter(few), null, 'default');
    await check(programs(2, 4100, 'none').filter(few), null, 'default');
    const five: Case = {
      name: 'softmax of the sum of 5 inputs of [2, 4096] (80 cached values > 64)',
      mode: 'none',
      outputs: () => [[1, 2, 3, 4].reduce((acc, k) => acc.add(f32([2, 4096], 900 + k)), f32([2, 4096], 900)).softmax(-1)],
    };
    const four: Case = { ...five, name: 'softmax of the sum of 4 inputs of [2, 4096] (64 cached values)', mode: 'vec4', outputs: () => [[1, 2, 3].reduce((acc, k) => acc.add(f32([2, 4096], 900 + k)), f32([2, 4096], 900)).softmax(-1)] };
    await check([five, four], null, 'default');
  });

  gpuIt('rows over two axes: variance and centred values over [1, 2] of [3, 4, 50] (vec4) and [3, 5, 13] (scalar)', async () => {
    const over = (shape: number[], mode: Mode, seed: number): Case => ({
      name: `variance over [1, 2] of [${shape.join(', ')}]`,
      mode,
      outputs: () => { const x = f32(shape, seed, 2, 3); return [x.variance([1, 2]), x.sub(x.mean([1, 2], true))]; },
    });
    await check([over([3, 4, 50], 'vec4', 31), over([3, 5, 13], 'scalar', 32)], null, 'default');
  });

  // 64 threads x at most 4 values: threads * R = 256.
  const SMALL: Partial<RowTuning> = { minThreads: 64, maxThreads: 64, valuesPerThread: 4, maxValuesPerThread: 4 };
  gpuIt('a small cap: 255 (4 scalar steps, the last guarded) and 256 (one vec4 step) cached, 257 and 260 not', { timeout: 120_000 }, async () => {
    await check(programs(3, 255, 'scalar'), SMALL, 'small');
    await check(programs(3, 256, 'vec4'), SMALL, 'small');
    await check(programs(3, 257, 'none'), SMALL, 'small');
    await check(programs(3, 260, 'none'), SMALL, 'small');
  });

  gpuIt('steps as a loop (maxUnroll 0), scalar only (vec4 off), and the cache off', { timeout: 120_000 }, async () => {
    const some = (c: Case) => !/int32|bool/.test(c.name);
    await check(programs(3, 1024, 'vec4').filter(some), { maxUnroll: 0 }, 'loop');
    await check(programs(3, 1025, 'scalar').filter(some), { maxUnroll: 0 }, 'loop');
    await check(programs(3, 1024, 'scalar'), { vec4: false }, 'scalar');
    await check(programs(3, 1024, 'none').filter(some), { cache: false }, 'off');
  });

  gpuIt('more than 65,535 workgroups (a 2-D grid), rows of 68 and 69', { timeout: 300_000 }, async () => {
    const rows = 65_600;
    const tuning = { serialFactor: Number.POSITIVE_INFINITY };
    await check([{ name: `softmax over [${rows}, 68]`, mode: 'vec4', outputs: () => [f32([rows, 68], 7, -3, 3).softmax(-1)] }], tuning, 'no serial');
    await check([{ name: `argmax over [${rows}, 69] of ties`, mode: 'scalar', outputs: () => { const x = ties([rows, 69], 8); return [x.argmax(-1), x.sub(x.max(-1, true))]; } }], tuning, 'no serial');
  });

  gpuIt('no rows: [0, 100] gives empty results', async () => {
    const backend = new WebGpuBackend(ctx!);
    try {
      const x = f32([0, 100], 1);
      const got = await runOutputs(backend, [x.softmax(-1), x.argmax(-1)]);
      expect(got.map((g) => g.length)).toEqual([0, 0]);
    } finally {
      backend.pool.trim(0);
    }
  });
});

describe('one thread per row only where neighbouring threads read neighbouring elements', () => {
  const header = (outputs: Tensor[]) => planOf(outputs).dispatches.find((d) => d.kernel.startsWith('fused.row.'))!.wgsl.split('\n').find((l) => l.startsWith('// row kernel:'))!;

  gpuIt('many rows of 128 along the innermost axis take a workgroup each (softmax over [4096, 128], vec4)', async () => {
    setRowSplitTuning({ enabled: false });
    try {
      expect(header([f32([4096, 128], 7).softmax(-1)])).toContain('one workgroup of');
    } finally {
      setRowSplitTuning(null);
    }
    await check([{ name: 'softmax over [4096, 128]', mode: 'vec4', outputs: () => [f32([4096, 128], 7, -4, 4, true).softmax(-1)] }], null, 'default');
  });

  gpuIt('many columns reduced along an outer axis stay one thread each (softmax and variance over axis 0 of [100, 2048])', async () => {
    setRowSplitTuning({ enabled: false });
    try {
      expect(header([f32([100, 2048], 8).softmax(0)])).toContain('one thread per row');
    } finally {
      setRowSplitTuning(null);
    }
    await check([{ name: 'softmax and variance over axis 0 of [100, 2048]', mode: 'none', outputs: () => { const x = f32([100, 2048], 8, -4, 4, true); return [x.softmax(0), x.variance(0)]; } }], null, 'default');
  });
});

describe('the row cache in the generated WGSL', () => {
  const rowKernel = (outputs: Tensor[]) => planOf(outputs).dispatches.find((d) => d.kernel.startsWith('fused.row.'))!.wgsl;

  it('layerNorm + softmax over [8192, 1024]: one kernel, 128 threads, every input read once as vec4', () => {
    const x = wg.tensor(new Float32Array(8192 * 1024), [8192, 1024]);
    const w = wg.tensor(new Float32Array(1024), [1024]);
    const plan = planOf([wg.layerNorm(x, w, w, 1e-5).softmax(-1)]);
    expect(plan.dispatches).toHaveLength(1);
    const wgsl = plan.dispatches[0].wgsl;
    expect(wgsl.split('\n')[0]).toBe(
      '// row kernel: 8192 row(s) of 1024 over axes [1] of [8192, 1024], one workgroup of 128 threads per row, row cached in registers (2 input(s), 2 step(s) of 4 element(s) per thread, vec4)',
    );
    // Each buffer is read once per thread and step, in the stage that first needs it; the output stored as vectors.
    expect(wgsl.match(/= in0\[/g)).toHaveLength(2);
    expect(wgsl.match(/= in1\[/g)).toHaveLength(2);
    expect(wgsl).toContain('var<storage, read> in0: array<vec4<f32>>;');
    expect(wgsl).toContain('out[c0 * 256u + q] = vec4<f32>(');
    expect(wgsl).not.toContain('for (var r');
  });

  it('a row not read as vectors: scalar steps, each input read once; 2 threads per row of 4097 are not cached', () => {
    const x = wg.tensor(new Float32Array(8 * 1023), [8, 1023]);
    const wgsl = rowKernel([x.softmax(-1)]);
    expect(modeOf(wgsl)).toBe('scalar');
    expect(wgsl.match(/in0\[/g)).toHaveLength(1);
    expect(wgsl).toContain('for (var j = 0u; j < 8u; j += 1u) {');
    expect(modeOf(rowKernel([wg.tensor(new Float32Array(2 * 4097), [2, 4097]).softmax(-1)]))).toBe('none');
  });

  it('an input whose element count is not a multiple of 4 is read element by element, the output still as vectors', () => {
    // [3, 1028] sliced from [3, 1029]: the offset row stride is not a multiple of 4, so no vector loads.
    const x = wg.tensor(new Float32Array(3 * 1029), [3, 1029]).slice([0, 0], [3, 1028]);
    const wgsl = rowKernel([x.softmax(-1)]);
    expect(modeOf(wgsl)).toBe('vec4');
    expect(wgsl).toContain('var<storage, read> in0: array<f32>;');
    expect(wgsl).toContain('var<storage, read_write> out: array<vec4<f32>>;');
  });
});

describe('without the row cache, reductions that need no row value of a pass share one loop over the row', () => {
  // row-passes.ts: loops over the row in memory (`for (var r = ...`, `for (var q = ...` where 4 elements a
  // step), shared (the default) or one per reduction (sharePasses off), with one workgroup per row (rows of
  // 5000: too long for the cache; vec4 loops, row-loop.ts, where shared) and one
  // thread per row (over axis 0 of [20, 4096]: 4096 columns of 20, neighbouring threads on neighbouring columns).
  const loops = (outputs: Tensor[]) =>
    planOf(outputs)
      .dispatches.filter((d) => d.kernel.startsWith('fused.row.'))
      .map((d) => d.wgsl.match(/for \(var [rq] = /g)?.length ?? 0);
  const programs2 = (x: () => Tensor, axis: number): [string, () => Tensor[], number, number][] => [
    ['softmax', () => [x().softmax(axis)], 2, 3],
    ['logSoftmax', () => [x().logSoftmax(axis)], 2, 3],
    ['layerNorm-like standardising', () => { const v = x(); return [v.sub(v.mean(axis, true)).div(v.variance(axis, true).add(1e-5).sqrt())]; }, 2, 3],
    ['variance and mean', () => { const v = x(); return [v.variance(axis), v.mean(axis)]; }, 1, 3],
    ['sum, max and argmin', () => { const v = x(); return [v.sum(axis), v.max(axis), v.argmin(axis)]; }, 1, 3],
    ['sum of (x - max)^2 (not rebased)', () => { const v = x(); const d = v.sub(v.max(axis, true)); return [d.mul(d).sum(axis)]; }, 2, 2],
  ];

  it('loop counts: shared against one per reduction, a workgroup per row and a thread per row', () => {
    setRowSplitTuning({ enabled: false });
    try {
      const wide = () => wg.tensor(new Float32Array(4 * 5000), [4, 5000]);
      const tall = () => wg.tensor(new Float32Array(20 * 4096), [20, 4096]);
      for (const [x, axis, layout] of [[wide, -1, 'one workgroup of 256 threads per row, loops of 4 elements per step (vec4)'], [tall, 0, 'one thread per row']] as const) {
        for (const [name, outputs, shared, separate] of programs2(x, axis)) {
          const header = planOf(outputs()).dispatches.find((d) => d.kernel.startsWith('fused.row.'))!.wgsl.split('\n')[0];
          expect(header, name).toContain(layout);
          expect(loops(outputs()), `${name}, ${layout}, shared`).toEqual([shared]);
          setRowTuning({ sharePasses: false });
          expect(loops(outputs()), `${name}, ${layout}, one loop per reduction`).toEqual([separate]);
          setRowTuning(null);
        }
      }
    } finally {
      setRowTuning(null);
      setRowSplitTuning(null);
    }
  });

  gpuIt('numerics: +-Inf, NaN and -Inf rows, values near 1e4 with a spread of 1, both layouts', { timeout: 120_000 }, async () => {
    const offset = (shape: number[], seed: number) => {
      const rand = rng(seed);
      return wg.tensor(Float32Array.from({ length: size(shape) }, () => 1e4 + rand()), shape);
    };
    const cases: Case[] = [];
    for (const [shape, axis] of [[[5, 5000], -1], [[20, 1024], 0]] as const) {
      const sh = [...shape];
      const specials = () => (axis === 0 ? f32([sh[1], sh[0]], 41, -4, 4, true).T : f32(sh, 41, -4, 4, true));
      for (const [name, outputs] of programs2(specials, axis)) cases.push({ name: `${name} over axis ${axis} of [${sh}] with +-Inf and NaN`, mode: 'none', outputs });
      // A per-row value read from the rows' own buffer (their first element): scalar loads, not vectors.
      const first = (v: Tensor) => (axis === 0 ? v.slice([0, 0], [1, sh[1]]) : v.slice([0, 0], [sh[0], 1]));
      cases.push({ name: `x - (mean + first element) over axis ${axis} of [${sh}]`, mode: 'none', outputs: () => { const v = f32(sh, 43); return [v.sub(v.mean(axis, true).add(first(v)))]; } });
      // The variance within 1e-3 (its moments are shifted by the row's first value: unshifted, Welford's
      // running mean near 1e4 put it 3e-3 off); the standardised values within 5e-2: a float32 sum of
      // values near 1e4 (ulp 1e-3, the partial sums' up to 2e-2) puts the mean up to 1e-2 off, 0.035 after
      // dividing by the std (0.29), which the reference (sums in float64) does not share.
      cases.push({ name: `variance near 1e4 over axis ${axis} of [${sh}]`, mode: 'none', outputs: () => [offset(sh, 42).variance(axis)], tol: { rel: 1e-3, abs: 0 } });
      cases.push({ name: `standardised rows near 1e4 over axis ${axis} of [${sh}]`, mode: 'none', outputs: () => { const v = offset(sh, 42); return [v.sub(v.mean(axis, true)).div(v.variance(axis, true).sqrt())]; }, tol: { rel: 0, abs: 5e-2 } });
    }
    await check(cases, null, 'default');
  });
});
