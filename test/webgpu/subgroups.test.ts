// Subgroup combines in reductions (src/shaders/reduce.ts subgroupCombine, used by the row kernel's workgroup
// per row, src/shaders/row.ts) against the CPU reference executor, with subgroups on and off:
// every reduction op and dtype, NaN placement, ties (-0/+0 included), infinities, int32 extremes, extents
// shorter than the workgroup, long rows, every workgroup size. The generated kernel takes the subgroup path
// only where the workgroup's subgroups are aligned blocks (sg_mapped) and the tree otherwise, so each path
// is also run on its own (the branch forced in the WGSL), and the adapter is checked to take the subgroup
// path. Whole programs go through lowerGraph / WebGpuBackend with the feature set explicitly.
import { afterAll, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.js';
import { extractProgram } from '../../src/api/program.js';
import type { Tensor } from '../../src/api/tensor.js';
import type { DType, TypedArray } from '../../src/ir/dtype.js';
import { makeGraph } from '../../src/ir/graph.js';
import { makeNode } from '../../src/ir/node.js';
import { sizeOf, stridesOf, type Shape } from '../../src/ir/shape.js';
import { compileGraph } from '../../src/lowering/compile.js';
import { lowerGraph } from '../../src/lowering/lower.js';
import type { Plan } from '../../src/lowering/plan.js';
import { executeGraph } from '../../src/runtime/cpu/executor.js';
import { WebGpuBackend } from '../../src/runtime/webgpu/backend.js';
import type { GeneratedKernel } from '../../src/shaders/elementwise.js';
import { SUBGROUP_ENABLE } from '../../src/shaders/subgroups.js';
import { generateRow, rowTuning, type RowReduceOp as ReduceOp, type RowSpec, type RowTuning } from '../../src/shaders/row.js';
import { expectClose, hostArray, reference as cpuReference, rng, type Tolerance } from './differential.js';
import { runOutputs, testGpu } from './gpu.js';
import { reducedExtent } from './row-inputs.js';
import { runKernel, runSubgroupCheck, type DeviceArray } from './kernel-harness.js';

const ctx = await testGpu();
const hasSubgroups = ctx?.features.includes('subgroups') ?? false;
// Without an adapter outside CI the GPU tests skip; in CI testGpu() has already failed. The subgroup half
// needs the feature (SwiftShader has it; a device without it is told apart below).
const gpuIt = it.skipIf(!ctx);
const sgIt = it.skipIf(!ctx || !hasSubgroups);
afterAll(() => ctx?.device.destroy());

// ---------------------------------------------------------------------------------------------------------
// Data

type Gen = (rand: () => number, i: number) => number;

const GEN = {
  signed: ((rand) => rand() * 2 - 1) as Gen,
  factors: ((rand) => (rand() < 0.5 ? -1 : 1) * (0.5 + rand() * 1.5)) as Gen,
  nearOne: ((rand) => 1 + (rand() * 2 - 1) * 0.01) as Gen,
  int32: ((rand) => (rand() * 4294967296) | 0) as Gen,
  oddInt32: ((rand) => ((rand() * 4294967296) | 0) | 1) as Gen,
  /** Few distinct values: many ties for max/min/argmax/argmin. */
  ties: ((rand) => [-2, -1, 0, 1, 2][Math.floor(rand() * 5)]) as Gen,
  /** -0 and +0 are equal: the first index of either wins. */
  zeroTies: ((rand) => [-1, -0, 0, 0.5][Math.floor(rand() * 4)]) as Gen,
  bool: ((rand) => (rand() < 0.5 ? 1 : 0)) as Gen,
};

function generate(dtype: DType, n: number, gen: Gen, seed: number): TypedArray {
  const rand = rng(seed);
  return hostArray(dtype, Array.from({ length: n }, (_, i) => gen(rand, i)));
}

function toDevice(a: TypedArray): DeviceArray {
  return a instanceof Uint8Array ? Uint32Array.from(a) : a;
}

// ---------------------------------------------------------------------------------------------------------
// One reduction kernel on the GPU against the CPU reference

interface Case {
  readonly op: ReduceOp;
  readonly dtype: DType;
  readonly shape: Shape;
  readonly axes: readonly number[];
  readonly data: TypedArray;
}

const isArg = (op: ReduceOp) => op === 'argmax' || op === 'argmin';

/** The row program lower.ts makes of a lone reduction: one reduce stage, its row value stored. */
function spec(c: Case): RowSpec {
  const keep = c.shape.map((d, i) => (c.axes.includes(i) ? 1 : d));
  return {
    inShape: c.shape,
    axes: c.axes,
    stages: [{ kind: 'reduce', op: c.op, dtype: c.dtype, expr: { steps: [{ kind: 'load', buffer: 'a', dtype: c.dtype, access: { offset: 0, strides: stridesOf(c.shape) } }] }, step: 0, name: 'row0' }],
    rowStores: [{ name: 'row0', dtype: isArg(c.op) ? 'int32' : c.dtype, buffer: 'out', access: { offset: 0, strides: stridesOf(keep) } }],
    map: null,
    buffers: [
      { name: 'a', dtype: c.dtype, access: 'read' },
      { name: 'out', dtype: isArg(c.op) ? 'int32' : c.dtype, access: 'read_write' },
    ],
  };
}

/** How the row kernel is generated here: a workgroup of `threads` per row (default: the tuning's choice), subgroups on or off. */
interface Options {
  readonly subgroups: boolean;
  readonly threads?: number;
}

/**
 * A workgroup per row: not one thread per row, not segmented; with `threads`, exactly that many (the row
 * cache with its caps lifted, so that the row's values fit whatever the count).
 */
function tuningFor(threads?: number): RowTuning {
  const workgroup = { ...rowTuning(), serialRow: 0, serialFactor: Number.POSITIVE_INFINITY, segmentThreads: 0 };
  return threads === undefined ? workgroup : { ...workgroup, minThreads: threads, maxThreads: threads, maxValuesPerThread: 1 << 20, maxCachedValues: 1 << 20, maxUnroll: 0 };
}

function generate1(c: Case, options: Options): GeneratedKernel {
  return generateRow(spec(c), { subgroups: options.subgroups, subgroupMinSize: 4, tuning: tuningFor(options.threads) });
}

function expected(c: Case): TypedArray {
  const x = makeNode('input', [], {}, { dtype: c.dtype, shape: c.shape });
  const node = isArg(c.op) ? makeNode(c.op, [x], { axis: c.axes[0] }) : makeNode(c.op, [x], { axes: c.axes });
  return executeGraph(makeGraph([node]), [c.data])[0];
}

/**
 * Which path of the subgroup kernel runs: as generated (sg_mapped decides: the subgroup path on this
 * adapter, as 'the adapter' checks), or the tree fallback forced (what an adapter whose subgroups are not
 * aligned blocks runs).
 */
type Path = 'generated' | 'tree-only';

function force(kernel: GeneratedKernel, path: Path): GeneratedKernel {
  if (path === 'generated') return kernel;
  const branch = 'if (sg_mapped) {';
  expect(kernel.wgsl, 'the subgroup kernel branches on sg_mapped').toContain(branch);
  return { ...kernel, wgsl: kernel.wgsl.replaceAll(branch, 'if (false) {') };
}

function label(c: Case, options: Options, path: Path): string {
  return `${c.op} ${c.dtype}[${c.shape.join(',')}] axes [${c.axes.join(',')}] workgroup@${options.threads ?? 'default'} subgroups ${options.subgroups ? 'on' : 'off'} ${path}`;
}

/** Float sum/prod within an f32 accumulation bound; everything else exactly (NaN equals NaN, -0 equals +0). */
function compare(what: string, c: Case, got: ArrayLike<number>, want: ArrayLike<number>): void {
  expect(got.length, what).toBe(want.length);
  const extent = reducedExtent(c.shape, c.axes);
  const approximate = c.dtype === 'float32' && (c.op === 'sum' || c.op === 'prod');
  // Error scale of a sum: the sum of magnitudes along the row (not the possibly cancelled result).
  const magnitude = approximate && c.op === 'sum' ? expected({ ...c, data: Float32Array.from(c.data as Float32Array, Math.abs) }) : null;
  const bad: string[] = [];
  for (let i = 0; i < want.length; i++) {
    const g = got[i];
    const w = want[i];
    let ok: boolean;
    if (Number.isNaN(w)) ok = Number.isNaN(g);
    else if (!approximate || !Number.isFinite(w)) ok = g === w;
    else {
      const r = Math.sqrt(Math.max(extent, 1));
      const tol = c.op === 'sum' ? 4e-6 * (r * Math.abs(w) + magnitude![i]) : 4e-6 * r * Math.abs(w) + 1e-30;
      ok = Math.abs(g - w) <= tol;
    }
    if (!ok && bad.length < 10) bad.push(`[${i}] got ${g}, expected ${w}`);
  }
  expect(bad, what).toEqual([]);
}

async function run(c: Case, options: Options, path: Path = 'generated'): Promise<GeneratedKernel> {
  const s = spec(c);
  const want = expected(c);
  const kernel = force(generate1(c, options), path);
  expect(kernel.wgsl, label(c, options, path)).toMatch(/row kernel: .*one workgroup of/);
  const out = await runKernel(ctx!.device, kernel, s.buffers, { a: toDevice(c.data), out: want.length });
  compare(label(c, options, path), c, out.out, want);
  return kernel;
}

/** Subgroups off, on, and on with the fallback forced: a workgroup per row of the given size. */
async function checkAllPaths(c: Case, threads?: number): Promise<void> {
  await run(c, { threads, subgroups: false });
  if (!hasSubgroups) return;
  for (const path of ['generated', 'tree-only'] as const) await run(c, { threads, subgroups: true }, path);
}

const MATRIX: readonly { op: ReduceOp; dtypes: readonly DType[] }[] = [
  { op: 'sum', dtypes: ['float32', 'int32'] },
  { op: 'prod', dtypes: ['float32', 'int32'] },
  { op: 'max', dtypes: ['float32', 'int32', 'bool'] },
  { op: 'min', dtypes: ['float32', 'int32', 'bool'] },
  { op: 'argmax', dtypes: ['float32', 'int32', 'bool'] },
  { op: 'argmin', dtypes: ['float32', 'int32', 'bool'] },
];

function defaultGen(op: ReduceOp, dtype: DType, extent: number): Gen {
  if (dtype === 'bool') {
    // any/all are only interesting when rows differ: about half the rows hold a true (false for min).
    const rare = 1 - Math.pow(0.5, 1 / Math.max(extent, 1));
    const p = op === 'min' || op === 'argmin' ? 1 - rare : rare;
    return (rand) => (rand() < p ? 1 : 0);
  }
  if (dtype === 'int32') return op === 'prod' ? GEN.oddInt32 : isArg(op) || op === 'max' || op === 'min' ? GEN.ties : GEN.int32;
  if (op === 'prod') return extent > 100 ? GEN.nearOne : GEN.factors;
  return isArg(op) ? GEN.ties : GEN.signed;
}

/** Shapes for a workgroup per row: short and long rows, extents below, at and above the workgroup size. */
const SHAPES: readonly { shape: Shape; axes: number[]; threads?: number }[] = [
  { shape: [1], axes: [0] },
  { shape: [3], axes: [0] },
  { shape: [5, 63], axes: [1] },
  { shape: [4, 64], axes: [1] },
  { shape: [3, 65], axes: [1] },
  { shape: [2, 1000], axes: [1] },
  { shape: [4097], axes: [0] }, // 256 threads
  { shape: [2, 10007], axes: [1] },
  { shape: [300, 3], axes: [0] }, // reduced axis first
  { shape: [3, 40, 7], axes: [0, 2] },
  { shape: [2, 100], axes: [1], threads: 1 },
  { shape: [2, 100], axes: [1], threads: 2 },
  { shape: [2, 100], axes: [1], threads: 4 },
  { shape: [2, 100], axes: [1], threads: 8 },
  { shape: [2, 100], axes: [1], threads: 16 },
  { shape: [2, 300], axes: [1], threads: 32 },
  { shape: [2, 300], axes: [1], threads: 128 },
  { shape: [2, 3000], axes: [1], threads: 256 },
  { shape: [3, 20], axes: [1], threads: 64 }, // extent < threads: idle threads hold the identity
];

describe('the adapter', () => {
  it('is told apart: with the subgroups feature the subgroup half runs, else it is skipped', () => {
    if (!ctx) return;
    expect(typeof hasSubgroups).toBe('boolean');
    if (process.env.CI === 'true') expect(hasSubgroups, 'SwiftShader in CI has subgroups').toBe(true);
  });
  sgIt('lays subgroups out as aligned blocks, so the generated kernels take the subgroup path (sg_mapped)', async () => {
    for (const threads of [1, 4, 32, 64, 256]) {
      const values = await runSubgroupCheck(ctx!.device, threads, 'select(0u, 1u, sg_mapped) + 2u * sg_size');
      expect(values.map((v) => v & 1), `sg_mapped with ${threads} threads`).toEqual(new Array(threads).fill(1));
      const size = values[0] >> 1;
      expect(Number.isInteger(Math.log2(size)) && size >= 4 && size <= 128, `subgroup size ${size}`).toBe(true);
    }
  });
});

describe('the row kernel of a reduction: the WGSL', () => {
  const c = (op: ReduceOp, dtype: DType, shape: Shape): Case => ({ op, dtype, shape, axes: [shape.length - 1], data: generate(dtype, sizeOf(shape), GEN.ties, 1) });
  it('enables subgroups exactly when asked, in a workgroup per row', () => {
    for (const { op, dtypes } of MATRIX) {
      for (const dtype of dtypes) {
        const k = c(op, dtype, [3, 1000]);
        const on = generate1(k, { subgroups: true }).wgsl;
        const off = generate1(k, { subgroups: false }).wgsl;
        expect(on.startsWith(`${SUBGROUP_ENABLE}\n`), `${op} ${dtype}`).toBe(true);
        expect(on).toContain('@builtin(subgroup_size) sg_size: u32');
        expect(on).toMatch(/subgroup(Add|Mul|Max|Min)\(/);
        // The tree stays as the fallback.
        expect(on).toContain('for (var s = ');
        expect(off).not.toContain('enable subgroups');
        expect(off).not.toMatch(/subgroup[A-Z]|sg_size/);
        // One thread per row has no workgroup combine: subgroups change nothing.
        const serial = { ...rowTuning(), serialRow: Number.POSITIVE_INFINITY, shortRowValues: 0 };
        expect(generateRow(spec(k), { subgroups: true, subgroupMinSize: 4, tuning: serial }).wgsl).toBe(generateRow(spec(k), { subgroups: false, tuning: serial }).wgsl);
      }
    }
  });
  it('uses the subgroup operation of each op', () => {
    const ops: [ReduceOp, DType, RegExp][] = [
      ['sum', 'float32', /subgroupAdd\(sg_x\)/],
      ['prod', 'int32', /subgroupMul\(sg_x\)/],
      ['max', 'int32', /subgroupMax\(sg_x\)/],
      ['min', 'bool', /subgroupMin\(sg_x\)/],
      ['max', 'float32', /subgroupAny\(wg_isnan\(sg_x\)\)/],
      ['argmin', 'float32', /subgroupMin\(sg_v\)/],
      ['argmax', 'int32', /subgroupMax\(sg_x\)/],
    ];
    for (const [op, dtype, pattern] of ops) expect(generate1(c(op, dtype, [2, 1000]), { subgroups: true }).wgsl, `${op} ${dtype}`).toMatch(pattern);
  });
});

describe('the row kernel of a reduction: every op and dtype, subgroups on and off', () => {
  for (const { op, dtypes } of MATRIX) {
    for (const dtype of dtypes) {
      gpuIt(`${op} ${dtype}`, async () => {
        for (const [k, s] of SHAPES.entries()) {
          if (isArg(op) && s.axes.length !== 1) continue;
          const extent = reducedExtent(s.shape, s.axes);
          const data = generate(dtype, sizeOf(s.shape), defaultGen(op, dtype, extent), 100 + k);
          await checkAllPaths({ op, dtype, shape: s.shape, axes: s.axes, data }, s.threads);
        }
      });
    }
  }
});

describe('the row kernel of a reduction with subgroups: NaN, infinities, ties, extremes', () => {
  const NaN32 = Number.NaN;
  /** Rows of `extent` floats (seeded ties), with the given positions of each row overwritten. */
  function rows(extent: number, patches: readonly (readonly [number, number][])[], gen: Gen = GEN.ties, seed = 7): Case['data'] {
    const data = generate('float32', extent * patches.length, gen, seed) as Float32Array;
    patches.forEach((patch, r) => patch.forEach(([at, v]) => (data[r * extent + at] = v)));
    return data;
  }
  for (const op of ['max', 'min', 'argmax', 'argmin'] as const) {
    gpuIt(`${op} float32: NaN first, last, in the middle, several, everywhere; infinities`, async () => {
      for (const extent of [70, 1000, 4100]) {
        const patches: [number, number][][] = [
          [[0, NaN32]],
          [[extent - 1, NaN32]],
          [[Math.floor(extent / 2), NaN32]],
          [
            [extent - 3, NaN32],
            [5, NaN32],
            [300 % extent, NaN32],
          ],
          Array.from({ length: extent }, (_, i) => [i, NaN32] as [number, number]),
          [],
          [
            [1, Infinity],
            [extent - 2, -Infinity],
          ],
          Array.from({ length: extent }, (_, i) => [i, op === 'max' || op === 'argmax' ? -Infinity : Infinity] as [number, number]),
          // The same extreme at positions that different threads and subgroups own.
          [
            [extent - 1, op.endsWith('max') ? 9 : -9],
            [65, op.endsWith('max') ? 9 : -9],
            [3, op.endsWith('max') ? 9 : -9],
          ],
        ];
        const data = rows(extent, patches);
        await checkAllPaths({ op, dtype: 'float32', shape: [patches.length, extent], axes: [1], data });
        // The same data with the reduced axis first: the row is strided.
        const t = new Float32Array(data.length);
        for (let r = 0; r < patches.length; r++) for (let i = 0; i < extent; i++) t[i * patches.length + r] = data[r * extent + i];
        await checkAllPaths({ op, dtype: 'float32', shape: [extent, patches.length], axes: [0], data: t });
      }
    });
  }
  for (const op of ['argmax', 'argmin'] as const) {
    gpuIt(`${op}: ties (the first index wins, -0 equals +0), int32 extremes, bools`, async () => {
      await checkAllPaths({ op, dtype: 'float32', shape: [4, 3000], axes: [1], data: generate('float32', 12000, GEN.zeroTies, 3) });
      await checkAllPaths({ op, dtype: 'float32', shape: [4, 3000], axes: [1], data: new Float32Array(12000).fill(1.5) });
      const ext = op === 'argmax' ? -2147483648 : 2147483647;
      await checkAllPaths({ op, dtype: 'int32', shape: [3, 700], axes: [1], data: new Int32Array(2100).fill(ext) });
      const spread = new Int32Array(2100).fill(0);
      for (const at of [699, 333, 130, 64]) spread[at] = spread[700 + at] = op === 'argmax' ? 2147483647 : -2147483648;
      await checkAllPaths({ op, dtype: 'int32', shape: [3, 700], axes: [1], data: spread });
      await checkAllPaths({ op, dtype: 'bool', shape: [3, 700], axes: [1], data: new Uint8Array(2100).fill(op === 'argmax' ? 0 : 1) });
      const late = new Uint8Array(2100).fill(op === 'argmax' ? 0 : 1);
      late[699] = late[1400 + 650] = late[1400 + 651] = op === 'argmax' ? 1 : 0;
      await checkAllPaths({ op, dtype: 'bool', shape: [3, 700], axes: [1], data: late });
    });
  }
  gpuIt('int32 sums wrap and int32 max/min reach the extremes', async () => {
    const big = Int32Array.from({ length: 3 * 3000 }, (_, i) => 2 ** 30 + i);
    await checkAllPaths({ op: 'sum', dtype: 'int32', shape: [3, 3000], axes: [1], data: big });
    const ext = Int32Array.from({ length: 2 * 500 }, (_, i) => (i % 97 === 5 ? -2147483648 : i % 89 === 7 ? 2147483647 : i));
    await checkAllPaths({ op: 'max', dtype: 'int32', shape: [2, 500], axes: [1], data: ext });
    await checkAllPaths({ op: 'min', dtype: 'int32', shape: [2, 500], axes: [1], data: ext });
  });
  gpuIt('float sums with infinities and NaN, and exact sums of small integers', async () => {
    const data = generate('float32', 4 * 2000, GEN.signed, 9) as Float32Array;
    data[5] = Infinity;
    data[2000 + 1999] = NaN32;
    data[4000 + 7] = Infinity;
    data[4000 + 1500] = -Infinity;
    await checkAllPaths({ op: 'sum', dtype: 'float32', shape: [4, 2000], axes: [1], data });
    const ints = Float32Array.from({ length: 3 * 5000 }, (_, i) => (i * 7919) % 17 - 8);
    await checkAllPaths({ op: 'sum', dtype: 'float32', shape: [3, 5000], axes: [1], data: ints });
  });
});

// ---------------------------------------------------------------------------------------------------------
// Whole programs: row kernels and reductions through lowerGraph and WebGpuBackend

function randomF(shape: number[], seed: number, lo = -3, hi = 3): Tensor {
  const rand = rng(seed);
  return wg.tensor(Float32Array.from({ length: sizeOf(shape) }, () => lo + (hi - lo) * rand()), shape);
}
function randomI(shape: number[], seed: number): Tensor {
  const rand = rng(seed);
  return wg.tensor(Int32Array.from({ length: sizeOf(shape) }, () => Math.floor(rand() * 11) - 5), shape, 'int32');
}
function randomB(shape: number[], seed: number, p = 0.5): Tensor {
  const rand = rng(seed);
  return wg.tensor(Uint8Array.from({ length: sizeOf(shape) }, () => (rand() < p ? 1 : 0)), shape, 'bool');
}


function planOf(backend: WebGpuBackend, tensors: Tensor[]): Plan {
  const { graph, args } = extractProgram(tensors.map((t) => t.node));
  return backend.plan(graph, args);
}

const FLOAT: Tolerance = { rel: 1e-4, abs: 1e-5 };

/** Programs with reductions and row kernels long enough for the workgroup strategy. */
function programs(): { name: string; outputs: Tensor[] }[] {
  const x = randomF([6, 3000], 1);
  const nanRows = (() => {
    const rand = rng(3);
    const data = Float32Array.from({ length: 5 * 900 }, () => rand() * 2 - 1);
    data[0 * 900 + 0] = Number.NaN;
    data[1 * 900 + 899] = Number.NaN;
    data[2 * 900 + 450] = Number.NaN;
    data[2 * 900 + 451] = Number.NaN;
    return wg.tensor(data, [5, 900]);
  })();
  const ties = (() => {
    const rand = rng(4);
    return wg.tensor(Float32Array.from({ length: 4 * 2000 }, () => [-1, -0, 0, 1][Math.floor(rand() * 4)]), [4, 2000]);
  })();
  const i = randomI([4, 5000], 5);
  const b = randomB([3, 800], 6, 0.002);
  return [
    { name: 'softmax rows', outputs: [x.softmax(-1)] },
    { name: 'logSoftmax and layerNorm-style statistics', outputs: [x.logSoftmax(-1), x.sub(x.mean(-1, true)).square().mean(-1)] },
    { name: 'sum, max, min, argmax, argmin over long rows', outputs: [x.sum(-1), x.max(-1), x.min(-1), x.argmax(-1), x.argmin(-1)] },
    // (No exp of NaN here: SwiftShader's exp(NaN) is not NaN, which WGSL allows.)
    { name: 'NaN rows: max, min, argmax, argmin, and a row kernel that uses the max', outputs: [nanRows.max(-1), nanRows.min(-1), nanRows.argmax(-1), nanRows.argmin(-1), nanRows.sub(nanRows.max(-1, true)).sum(-1)] },
    { name: 'ties', outputs: [ties.argmax(-1), ties.argmin(-1), ties.max(-1), ties.min(-1)] },
    { name: 'int32 and bool', outputs: [i.sum(-1), i.max(-1), i.min(-1), i.argmax(-1), i.argmin(-1), b.max(-1), b.min(-1), b.argmax(-1)] },
    { name: 'prod and a reduction over the first axis', outputs: [randomF([3, 700], 7, 0.99, 1.01).prod(-1), x.sum(0), x.max(0)] },
  ];
}

describe('programs through lowerGraph and WebGpuBackend, subgroups on and off', () => {
  const on = ctx && hasSubgroups ? new WebGpuBackend(ctx, { subgroups: true }) : null;
  const off = ctx ? new WebGpuBackend(ctx, { subgroups: false }) : null;
  const unfusedOn = ctx && hasSubgroups ? new WebGpuBackend(ctx, { subgroups: true, fusion: false }) : null;

  it('the backend takes the feature from the device unless told otherwise', () => {
    if (!ctx) return;
    expect(new WebGpuBackend(ctx).features.subgroups).toBe(hasSubgroups);
    expect(off!.features.subgroups).toBe(false);
    if (on) expect(on.features.subgroups).toBe(true);
  });

  gpuIt('match the CPU reference', async () => {
    for (const { name, outputs } of programs()) {
      const want = cpuReference(...outputs);
      for (const [label, backend] of [
        ['off', off],
        ['on', on],
        ['on, unfused', unfusedOn],
      ] as const) {
        if (!backend) continue;
        const got = await runOutputs(backend, outputs);
        got.forEach((g, k) => expectClose(g, want[k], FLOAT, `${name}, output ${k}, subgroups ${label}`));
      }
    }
  });

  gpuIt('plans enable subgroups exactly in row kernels with a workgroup per row when on', async () => {
    const x = randomF([4, 3000], 11);
    const short = randomF([4, 10], 12);
    // argmax of another tensor: of x it would join softmax's row kernel (a reduction of the same rows).
    const outputs = [x.softmax(-1), randomF([4, 3000], 17).argmax(-1), short.sum(-1), x.exp()];
    const { graph, args } = extractProgram(outputs.map((t) => t.node));
    const layouts = args.map((a) => a.layout);
    const withFeature = compileGraph(graph, { inputLayouts: layouts, features: { subgroups: true } }).plan;
    const without = compileGraph(graph, { inputLayouts: layouts }).plan;
    const enabled = (p: Plan) => p.dispatches.filter((d) => d.wgsl.includes(SUBGROUP_ENABLE)).map((d) => d.kernel);
    expect(without.dispatches.map((d) => d.kernel)).toEqual(withFeature.dispatches.map((d) => d.kernel));
    expect(enabled(without)).toEqual([]);
    // softmax is a row kernel over rows of 3000 (one workgroup per row), argmax a workgroup reduction;
    // the short sum is serial and exp is elementwise.
    expect(enabled(withFeature).length, withFeature.dispatches.map((d) => d.kernel).join(', ')).toBe(2);
    expect(enabled(withFeature).some((k) => k.startsWith('fused.row'))).toBe(true);
    for (const d of withFeature.dispatches) if (!enabled(withFeature).includes(d.kernel)) expect(d.wgsl).not.toMatch(/subgroup/);

    // lowerGraph directly, unfused: the reduce kernels.
    const plain = lowerGraph(graph, { inputLayouts: layouts, features: { subgroups: true } });
    expect(plain.dispatches.filter((d) => d.kernel.startsWith('reduce.argmax')).every((d) => d.wgsl.startsWith(SUBGROUP_ENABLE))).toBe(true);
    expect(lowerGraph(graph, { inputLayouts: layouts }).dispatches.some((d) => d.wgsl.includes('subgroup'))).toBe(false);

    if (on && off) {
      expect(planOf(on, outputs).dispatches.map((d) => d.wgsl)).toEqual(withFeature.dispatches.map((d) => d.wgsl));
      expect(planOf(off, outputs).dispatches.map((d) => d.wgsl)).toEqual(without.dispatches.map((d) => d.wgsl));
    }
  });

  gpuIt('wg.compile uses the active backend’s features, and none without a WebGPU backend', async () => {
    const x = randomF([2, 5000], 13);
    await wg.init({ backend: 'cpu', quiet: true });
    expect(wg.compile(x.max(-1)).dispatches.some((d) => d.wgsl.includes(SUBGROUP_ENABLE))).toBe(false);
    await wg.init({ backend: 'webgpu', quiet: true });
    try {
      expect(wg.compile(x.max(-1)).dispatches.some((d) => d.wgsl.includes(SUBGROUP_ENABLE))).toBe(hasSubgroups);
      const [want] = cpuReference(x.max(-1));
      expectClose(await x.max(-1).data(), want, FLOAT, 'max through wg');
    } finally {
      await wg.init({ backend: 'cpu', quiet: true });
    }
  });

  gpuIt('the pipeline cache keeps one pipeline per kernel text', async () => {
    if (!on) return;
    const outputs = [randomF([3, 4000], 14).softmax(-1), randomF([3, 4000], 18).argmin(-1)];
    await runOutputs(on, outputs);
    const before = on.telemetry().pipelinesCompiled;
    await runOutputs(on, outputs);
    await runOutputs(on, [randomF([3, 4000], 15).softmax(-1), randomF([3, 4000], 16).argmin(-1)]);
    expect(on.telemetry().pipelinesCompiled).toBe(before);
  });

  afterAll(() => {
    // The backends share the test's device (destroyed above); only their pools are dropped here.
    for (const b of [on, off, unfusedOn]) b?.pool.trim(0);
  });
});
