// Kernel variants on the GPU machine: GPU time (timestamp queries, median of runs) of wgfuse programs under
// different generator tunings, to choose the defaults of src/shaders/elementwise.ts (vectors per thread,
// workgroup size), src/shaders/row-split.ts (when and how finely long rows split) and src/shaders/row.ts
// (the unsplit row kernel: segmented rows and their threads per row, the row cache's threads per row, vec4
// steps, unrolling, one thread per row). Bundled like the harness (bench/README.md):
//   ../shared/tools/gpu-prep bench/main.ts=bench.mjs bench/kernels.ts=kernels.mjs
//   source .gpu/env.sh && node .gpu/kernels.mjs [--quick] [--only REGEX] [--out FILE.json]
// Prints one line per (program, variant): GPU ms, GB/s over the program's minimum bytes, per-kernel ms; for
// row programs a second line with the row kernels' layouts (from their headers).
// Timing: each program's plan (as the backend compiles it under the variant's tuning) is replayed on buffers
// of its own, 50 runs per submit, every dispatch in a timestamped pass (replayPlan); a sample is the mean
// per run of one submit, the result the median of 15 samples after 500 ms of warm-up. Evaluating one run at
// a time instead (wait, read back, evaluate again) left the H100 idle enough that its clock fell to 345 MHz
// within seconds, and most of such a sweep measured that clock (kernels-low-clock-2026-11-24/).
import { writeFileSync } from 'node:fs';
import * as wg from '../src/index.js';
import { extractProgram } from '../src/api/program.js';
import type { Tensor } from '../src/api/tensor.js';
import type { Plan } from '../src/lowering/plan.js';
import { selectNodeGpu } from '../src/runtime/node-gpu.js';
import { acquireDevice } from '../src/runtime/webgpu/device.js';
import { WebGpuBackend } from '../src/runtime/webgpu/backend.js';
import { setElementwiseTuning, type ElementwiseTuning } from '../src/shaders/elementwise.js';
import { setRowSplitTuning, type RowSplitTuning } from '../src/shaders/row-split.js';
import { setRowTuning, type RowTuning } from '../src/shaders/row.js';
import { median, uniformFloats } from './stats.js';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const only = argv.includes('--only') ? new RegExp(argv[argv.indexOf('--only') + 1]) : null;
const outFile = argv.includes('--out') ? argv[argv.indexOf('--out') + 1] : null;
const RUNS = quick ? 3 : 15;
/** Runs of a plan per submit (see replayPlan). */
const REPS = argv.includes('--reps') ? Number(argv[argv.indexOf('--reps') + 1]) : 50;

interface Program {
  readonly name: string;
  /** Bytes a perfect kernel moves (inputs once, outputs once). */
  readonly bytes: number;
  readonly build: () => Tensor[];
}

// --quick: tiny sizes, for a smoke run on SwiftShader.
const M = quick ? 1 << 10 : 1 << 20;
const [H, W] = quick ? [54, 96] : [2160, 3840];
const N = quick ? 800 : 80000;
const R = quick ? 64 : 8192;
const S = quick ? 256 : 65536;
const inputs = new Map<string, Tensor>();
function input(key: string, shape: number[], lo = 0, hi = 1): Tensor {
  let t = inputs.get(key);
  if (!t) {
    t = wg.tensor(uniformFloats(shape.reduce((a, b) => a * b, 1), inputs.size + 7, lo, hi), shape);
    inputs.set(key, t);
  }
  return t;
}

const chain = (x: Tensor) => x.mul(0.9).add(0.1).tanh().mul(x).sigmoid().sub(0.5).exp().sqrt();
const image = (b: number) => {
  const x = input(`img${b}`, [b, H, W]);
  const std = x.variance([1, 2], true).sqrt();
  return [x.sub(x.mean([1, 2], true)).div(std.add(1e-5)).mul(0.25).add(0.5).clamp(0).pow(0.8)];
};

const ELEMENTWISE: Program[] = [
  { name: 'add1-64M', bytes: 8 * 64 * M, build: () => [input('x64', [64 * M], -2, 2).add(0.5)] },
  { name: 'chain8-16M', bytes: 8 * 16 * M, build: () => [chain(input('x16', [16 * M], -2, 2))] },
  { name: 'chain8-64M', bytes: 8 * 64 * M, build: () => [chain(input('x64', [64 * M], -2, 2))] },
  { name: 'exp-64M', bytes: 8 * 64 * M, build: () => [input('x64', [64 * M], -2, 2).exp()] },
  { name: 'tanh-64M', bytes: 8 * 64 * M, build: () => [input('x64', [64 * M], -2, 2).tanh()] },
  { name: 'sigmoid-64M', bytes: 8 * 64 * M, build: () => [input('x64', [64 * M], -2, 2).sigmoid()] },
  { name: 'sqrt-64M', bytes: 8 * 64 * M, build: () => [input('x64', [64 * M], -2, 2).abs().sqrt()] },
  { name: 'pow-64M', bytes: 8 * 64 * M, build: () => [input('x64', [64 * M], -2, 2).pow(0.8)] },
  { name: 'bias-relu-16Kx4K', bytes: 8 * 64 * M, build: () => [input('m', [16 * M / 1024 * 4, 1024], -1, 1).add(input('b', [1024], -1, 1)).relu()] },
  // Floors (--only floor): one dispatch that does next to nothing, and 64 MiB written, read and copied, to
  // read the products and reductions of that size against (the small-K GEMM writes 64 MiB, GEMV reads it).
  // At large sizes (--only large, stop 22): a 1 GiB copy as the reference for the reductions of 1 GiB below.
  { name: 'large-copy-256M', bytes: 8 * 256 * M, build: () => [input('xl', [256 * M], -2, 2).add(0.5)] },
  { name: 'floor-tiny-1K', bytes: 8 * 1024, build: () => [input('t1k', [1024], -2, 2).add(0.5)] },
  { name: 'floor-copy-1M', bytes: 8 * M, build: () => [input('x1', [M], -2, 2).add(0.5)] },
  { name: 'floor-copy-16M', bytes: 8 * 16 * M, build: () => [input('x16', [16 * M], -2, 2).add(0.5)] },
  { name: 'floor-write-64MiB', bytes: 4 * 16 * M, build: () => [input('oc', [quick ? 128 : 4096, 1], -2, 2).add(input('or', [1, quick ? 128 : 4096], -2, 2))] },
  { name: 'floor-gemm-4096x4096x32', bytes: 4 * 16 * M, build: () => [input('ka', [quick ? 128 : 4096, 32], -1, 1).matmul(input('kb', [32, quick ? 128 : 4096], -1, 1))] },
  { name: 'floor-gemm-4096x4096x8', bytes: 4 * 16 * M, build: () => [input('ka8', [quick ? 128 : 4096, 8], -1, 1).matmul(input('kb8', [8, quick ? 128 : 4096], -1, 1))] },
  { name: 'floor-gemv-1x4096x4096', bytes: 4 * 16 * M, build: () => [input('va', [1, quick ? 128 : 4096], -1, 1).matmul(input('vb', [quick ? 128 : 4096, quick ? 128 : 4096], -1, 1))] },
];

// Variants measured in turns (A B C A B C): a drift of the GPU's clocks during the run then shows as a
// difference between the turns of one variant, not between variants. 'default' is the shipped tuning.
const TURNS = quick ? 1 : 2;
const EW_VARIANTS: [string, Partial<ElementwiseTuning>][] = [
  ['default', {}],
  ['v1x256', { vectorsPerThread: 1, workgroupSize: 256, minThreads: 1 }],
  ['v2x256', { vectorsPerThread: 2, workgroupSize: 256, minThreads: 1 }],
  ['v8x64', { vectorsPerThread: 8, workgroupSize: 64, minThreads: 1 }],
];

const ROWS: Program[] = [
  // Reductions of 1 GiB or more (--only large): where a finishing dispatch and a pass's start no longer count.
  { name: 'large-sum-256M', bytes: 4 * 256 * M, build: () => [input('xl', [256 * M], -2, 2).sum()] },
  { name: 'large-stats-8x32M', bytes: 4 * 256 * M, build: () => { const x = input('al', [8, 32 * M]); return [x.sum(-1), x.max(-1), x.argmin(-1)]; } },
  { name: 'large-softmax-4x64M', bytes: 8 * 256 * M, build: () => [input('sl', [4, 64 * M], -3, 3).softmax(-1)] },
  { name: 'large-colsum-640000x512', bytes: 4 * 8 * N * 512, build: () => [input('cl', [8 * N, 512]).sum(0)] },
  { name: 'large-variance-cols-640000x512', bytes: 4 * 8 * N * 512, build: () => [input('cl', [8 * N, 512]).variance(0)] },
  { name: 'large-long-variance-32768x8192', bytes: 4 * 32768 * 8192 / (quick ? 64 : 1), build: () => [input('lvl', [quick ? 512 : 32768, 8192], -3, 3).variance(-1)] },
  { name: 'large-image-32', bytes: 8 * 32 * H * W, build: () => image(32) },
  { name: 'image-4', bytes: 8 * 4 * H * W, build: () => image(4) },
  { name: 'image-16', bytes: 8 * 16 * H * W, build: () => image(16) },
  { name: 'sum-64M', bytes: 4 * 64 * M, build: () => [input('x64', [64 * M], -2, 2).sum()] },
  { name: 'floor-sum-16M', bytes: 4 * 16 * M, build: () => [input('x16r', [16 * M], -2, 2).sum()] },
  { name: 'colsum-80000x512', bytes: 4 * N * 512, build: () => [input('c', [N, 512]).sum(0)] },
  { name: 'centre-80000x512', bytes: 8 * N * 512, build: () => { const x = input('c', [N, 512]); return [x.sub(x.mean(0, true))]; } },
  // Passes shared by sibling reductions, and the variance (centred squares as moments) about the columns.
  { name: 'stats-8x2M', bytes: 4 * 16 * M, build: () => { const x = input('a', [8, 2 * M]); return [x.sum(-1), x.max(-1), x.argmin(-1)]; } },
  { name: 'variance-cols-80000x512', bytes: 4 * N * 512, build: () => [input('c', [N, 512]).variance(0)] },
  { name: 'standardise-cols-80000x512', bytes: 8 * N * 512, build: () => { const x = input('c', [N, 512]); return [x.sub(x.mean(0, true)).div(x.variance(0, true).sqrt())]; } },
  // Many rows too long for the row cache (the unsplit kernel reads them from memory in every loop): softmax
  // over a vocabulary of 32000, layerNorm and variance over rows of 8192.
  { name: 'long-softmax-2048x32000', bytes: 8 * 2048 * 32000 / (quick ? 64 : 1), build: () => [input('v', [quick ? 32 : 2048, 32000], -3, 3).softmax(-1)] },
  { name: 'long-layernorm-4096x8192', bytes: 8 * 4096 * 8192 / (quick ? 64 : 1), build: () => [wg.layerNorm(input('ln', [quick ? 64 : 4096, 8192], -3, 3))] },
  { name: 'long-variance-4096x8192', bytes: 4 * 4096 * 8192 / (quick ? 64 : 1), build: () => [input('ln', [quick ? 64 : 4096, 8192], -3, 3).variance(-1)] },
  { name: 'softmax-4x4M', bytes: 8 * 16 * M, build: () => [input('s', [4, 4 * M], -3, 3).softmax(-1)] },
  { name: 'argmax-8x2M', bytes: 4 * 16 * M, build: () => [input('a', [8, 2 * M]).argmax(-1)] },
  { name: 'layernorm-softmax-8192x1024', bytes: 8 * R * 1024, build: () => [wg.layerNorm(input('l', [R, 1024], -3, 3), input('lw', [1024], 0.5, 1.5), input('lb', [1024], -0.5, 0.5), 1e-5).softmax(-1)] },
  { name: 'softmax-65536x512', bytes: 8 * S * 512, build: () => [input('sm', [S, 512], -3, 3).softmax(-1)] },
  // Anatomy of the softmax row kernel (--only anat): the same rows with one piece of it added at a time.
  { name: 'anat-mul2-65536x512', bytes: 8 * S * 512, build: () => [input('sm', [S, 512], -3, 3).mul(2)] },
  { name: 'anat-max-65536x512', bytes: 4 * S * 512, build: () => [input('sm', [S, 512], -3, 3).max(-1)] },
  { name: 'anat-submax-65536x512', bytes: 8 * S * 512, build: () => { const x = input('sm', [S, 512], -3, 3); return [x.sub(x.max(-1, true))]; } },
  { name: 'anat-divsum-65536x512', bytes: 8 * S * 512, build: () => { const x = input('sm', [S, 512], -3, 3); return [x.div(x.sum(-1, true))]; } },
  { name: 'anat-expsum-65536x512', bytes: 8 * S * 512, build: () => { const e = input('sm', [S, 512], -3, 3).exp(); return [e.div(e.sum(-1, true))]; } },
  { name: 'anat-layernorm-8192x1024', bytes: 8 * R * 1024, build: () => [wg.layerNorm(input('l', [R, 1024], -3, 3), input('lw', [1024], 0.5, 1.5), input('lb', [1024], -0.5, 0.5), 1e-5)] },
  // A lone reduction (a row program of one reduce stage; until 2026-11-24 a kernel of its own, reduce.ts)
  // against the same one with an elementwise producer (x + 0.5: a fused row kernel), on short, long and
  // column rows.
  ...(
    [
      ['65536x512', [S, 512], -1],
      ['8192x1024', [R, 1024], -1],
      ['1Mx16', [M, 16], -1],
      ['2Mx8', [2 * M, 8], -1],
      ['512Kx32', [M / 2, 32], -1],
      ['256Kx64', [M / 4, 64], -1],
      ['256x131072', [256, 131072], -1],
      ['80000x512-cols', [N, 512], 0],
      ['4096x4096-cols', [4096, 4096], 0],
    ] as const
  ).flatMap(([label, shape, axis]): Program[] => {
    const key = `red${label}`;
    const bytes = 4 * shape[0] * shape[1];
    return [
      { name: `red-sum-${label}`, bytes, build: () => [input(key, [...shape], -3, 3).sum(axis)] },
      { name: `red-sum-fused-${label}`, bytes, build: () => [input(key, [...shape], -3, 3).add(0.5).sum(axis)] },
      { name: `red-max-${label}`, bytes, build: () => [input(key, [...shape], -3, 3).max(axis)] },
      { name: `red-argmax-${label}`, bytes, build: () => [input(key, [...shape], -3, 3).argmax(axis)] },
    ];
  }),
  {
    name: 'monte-carlo-1Mx256',
    bytes: 4,
    build: () => {
      const steps = 256;
      const z = wg.randn([steps, M], 7);
      const lr = z.mul(0.2 * Math.sqrt(1 / steps)).add((0.05 - 0.02) / steps).sum(0);
      return [lr.exp().mul(100).mean()];
    },
  },
];

// Column layouts: lanes per row in the combine and finish (1: one thread per row, as until 2026-11-24 night),
// more threads over the rows, more loads in flight per combining thread.
const ROW_VARIANTS: [string, Partial<RowSplitTuning>][] = [
  ['default', {}],
  ['lanes1', { combineLanes: 1 }],
  ['lanes8', { combineLanes: 8 }],
  ['col262k', { targetThreads: 262144 }],
  ['comb16', { combineLoads: 16 }],
];
// One partial pass per reduction, as before shared passes and moments (RowSplitTuning.sharePasses).
// And more workgroups per split program (RowSplitTuning.targetWorkgroups, default 1024: shorter chunks).
const PASS_VARIANTS: [string, Partial<RowSplitTuning>][] = [
  ['default', {}],
  ['separate-passes', { sharePasses: false }],
  ['wg2048', { targetWorkgroups: 2048 }],
  ['wg4096', { targetWorkgroups: 4096 }],
];
/** Which row variants run for a program (all for the column layouts). */
const rowVariants = (p: Program) =>
  /^large-/.test(p.name) ? PASS_VARIANTS.slice(0, 1) :
  /^(image|stats|softmax-4x4M|sum-64M|argmax-8x2M)/.test(p.name) ? PASS_VARIANTS : /colsum|centre|-cols/.test(p.name) ? ROW_VARIANTS : ROW_VARIANTS.slice(0, 1);

// The unsplit row kernel (src/shaders/row.ts). 'default' is segmented where the device allows
// (src/shaders/row-segments.ts: 32 threads per row, 8 rows per workgroup, with subgroups of at least 32
// lanes); 'no-seg' is the workgroup per row it replaces (rows of 1024: 128 threads x 2 vec4 steps, cached).
// The seg-t16/t8 variants raise the caps so that rows of 1024 (64 / 128 values per thread) stay segmented.
const NO_SEGMENTS: Partial<RowTuning> = { segmentThreads: 0 };
const SEGMENT_VARIANTS: [string, Partial<RowTuning>][] = [
  ['default', {}],
  ['no-seg', NO_SEGMENTS],
  ['seg-t32', { segmentThreads: 32 }],
  ['seg-t32-tree', { segmentThreads: 32, segmentShuffles: false }],
  ['seg-t32-loop', { segmentThreads: 32, segmentMaxUnroll: 0 }],
  ['seg-t16', { segmentThreads: 16, segmentMaxValuesPerThread: 64, segmentMaxCachedValues: 192 }],
  ['seg-t8', { segmentThreads: 8, segmentMaxValuesPerThread: 128, segmentMaxCachedValues: 384 }],
];
// The workgroup-per-row kernel's row cache (segmented rows off).
const ROW_CACHE_VARIANTS: [string, Partial<RowTuning>][] = [
  ['no-cache', { ...NO_SEGMENTS, cache: false }],
  ['cache-t64', { ...NO_SEGMENTS, valuesPerThread: 16 }],
  ['cache-t256', { ...NO_SEGMENTS, valuesPerThread: 4 }],
  ['cache-scalar', { ...NO_SEGMENTS, vec4: false }],
  ['cache-loop', { ...NO_SEGMENTS, maxUnroll: 0 }],
];
// softmax 65536x512: other workgroup-per-row kernels (serialFactor no longer matters: the innermost axis is reduced).
const SERIAL_VARIANTS: [string, Partial<RowTuning>][] = [
  ['wg-rows-t128', { ...NO_SEGMENTS, serialFactor: Number.POSITIVE_INFINITY, valuesPerThread: 4 }],
  ['wg-rows-no-cache', { ...NO_SEGMENTS, serialFactor: Number.POSITIVE_INFINITY, cache: false }],
];
// Short rows (at most serialRow = 64 elements: one thread per row by default) as segmented rows of T threads.
const SHORT_ROW_VARIANTS: [string, Partial<RowTuning>][] = [
  ['default', {}],
  ['seg-t2', { serialRow: 0, segmentThreads: 2, segmentMinRows: 1 }],
  ['seg-t4', { serialRow: 0, segmentThreads: 4, segmentMinRows: 1 }],
  ['seg-t8', { serialRow: 0, segmentThreads: 8, segmentMinRows: 1 }],
  ['seg-t16', { serialRow: 0, segmentThreads: 16, segmentMinRows: 1 }],
];
/** Which row-cache variants run for a program (none: only the row-split variants). */
// Rows too long for the row cache, one workgroup each: a loop over the row per pass (shared, row-passes.ts)
// of 4 elements per step (row-loop.ts), against scalar steps and one scalar loop per reduction (as before
// 2026-11-24 night).
const LOOP_VARIANTS: [string, Partial<RowTuning>][] = [
  ['default', {}],
  ['scalar-loops', { vec4: false }],
  ['separate-loops', { sharePasses: false }],
];
const rowCacheVariants = (p: Program) =>
  /^long-/.test(p.name) ? LOOP_VARIANTS :
  /^red-.*-(1Mx16|2Mx8|512Kx32|256Kx64)$/.test(p.name) ? SHORT_ROW_VARIANTS :
  /^anat-/.test(p.name) ? SEGMENT_VARIANTS.filter(([n]) => ['default', 'no-seg', 'seg-t16'].includes(n)) :
  /layernorm-softmax/.test(p.name) ? [...SEGMENT_VARIANTS, ...ROW_CACHE_VARIANTS] : /softmax-65536/.test(p.name) ? [...SEGMENT_VARIANTS, ...SERIAL_VARIANTS] : [];

interface Result {
  program: string;
  variant: string;
  gpuMs: number;
  spreadMs: [number, number];
  gbps: number;
  dispatches: number;
  kernels: { kernel: string; ms: number }[];
  /** The row kernels' headers past their shapes: which layout the variant ran. */
  rowLayouts: string[];
}

/**
 * A plan's dispatches on buffers of their own (one per slot, inputs filled with values in [-3, 3)), encoded
 * `reps` times per submit, each dispatch in its own timestamped compute pass. `run` submits once and
 * returns each kernel's mean time per run (summed over its dispatches).
 */
function replayPlan(device: GPUDevice, plan: Plan, reps: number) {
  const buffers = plan.slots.map((slot) => {
    const bytes = Math.max(16, Math.ceil((slot.size * 4) / 16) * 16);
    const buffer = device.createBuffer({ size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    if (slot.role === 'input') device.queue.writeBuffer(buffer, 0, uniformFloats(bytes / 4, slot.index + 3, -3, 3) as Float32Array<ArrayBuffer>);
    return buffer;
  });
  const steps = plan.dispatches.map((d) => {
    const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code: d.wgsl }), entryPoint: d.entryPoint } });
    const group = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: d.bindings.map((b, i) => ({ binding: i, resource: { buffer: buffers[b.slot] } })) });
    return { kernel: d.kernel, pipeline, group, workgroups: d.workgroups };
  });
  const count = steps.length * Math.max(1, Math.min(reps, Math.floor(2048 / steps.length)));
  const set = device.createQuerySet({ type: 'timestamp', count: 2 * count });
  const resolve = device.createBuffer({ size: 16 * count, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  const read = device.createBuffer({ size: 16 * count, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const runs = count / steps.length;
  return {
    async run(): Promise<{ kernel: string; count: number; gpuNs: number }[]> {
      const enc = device.createCommandEncoder();
      for (let q = 0; q < count; q++) {
        const st = steps[q % steps.length];
        const pass = enc.beginComputePass({ timestampWrites: { querySet: set, beginningOfPassWriteIndex: 2 * q, endOfPassWriteIndex: 2 * q + 1 } });
        pass.setPipeline(st.pipeline);
        pass.setBindGroup(0, st.group);
        pass.dispatchWorkgroups(...st.workgroups);
        pass.end();
      }
      enc.resolveQuerySet(set, 0, 2 * count, resolve, 0);
      enc.copyBufferToBuffer(resolve, 0, read, 0, 16 * count);
      device.queue.submit([enc.finish()]);
      await read.mapAsync(GPUMapMode.READ);
      const t = new BigUint64Array(read.getMappedRange().slice(0));
      read.unmap();
      const out = new Map<string, { kernel: string; count: number; gpuNs: number }>();
      for (let q = 0; q < count; q++) {
        const k = steps[q % steps.length].kernel;
        const e = out.get(k) ?? { kernel: k, count: 0, gpuNs: 0 };
        e.count += 1 / runs;
        e.gpuNs += Number(t[2 * q + 1] - t[2 * q]) / runs;
        out.set(k, e);
      }
      return [...out.values()];
    },
    destroy(): void {
      [...buffers, resolve, read].forEach((b) => b.destroy());
      set.destroy();
    },
  };
}

async function main(): Promise<void> {
  const webgpu = await import('webgpu');
  for (const [k, v] of Object.entries(webgpu.globals)) if (!(k in globalThis)) Object.defineProperty(globalThis, k, { value: v, configurable: true, writable: true });
  const selection = await selectNodeGpu({ software: 'fallback' });
  // Exact timestamps (Dawn otherwise rounds them to 65.5 us), as the harness does.
  const gpu = selection.path === 'hardware' ? (webgpu.create(['enable-dawn-features=disable_workgroup_init', 'disable-dawn-features=timestamp_quantization']) as GPU) : selection.gpu!;
  const ctx = await acquireDevice({ gpu, allowSoftware: selection.path === 'swiftshader' });
  if (!ctx) throw new Error(`no adapter (${selection.reason})`);
  console.log(`kernels: ${ctx.adapterName}; features ${ctx.features.join(',')}`);
  const results: Result[] = [];

  const measure = async (p: Program, variant: string): Promise<void> => {
    const backend = new WebGpuBackend(ctx, { timing: true });
    try {
      const outputs = p.build();
      const { graph, args } = extractProgram(outputs.map((t) => t.node));
      // The program's plan replayed REPS times per submit (replayPlan): the GPU never idles between runs, so
      // its clock stays up (evaluating one run at a time, the H100 dropped to 345 MHz within seconds on the
      // short kernels, whatever the batching of evaluations).
      const replay = replayPlan(ctx.device, backend.plan(graph, args), quick ? 2 : REPS);
      const once = () => replay.run();
      // Warm up for at least 500 ms of back-to-back submits, so the GPU is at its working clocks.
      const warm = performance.now();
      for (let i = 0; i < 3 || (!quick && performance.now() - warm < 500); i++) await once();
      const totals: number[] = [];
      const per = new Map<string, number[]>();
      for (let i = 0; i < RUNS; i++) {
        const times = await once();
        totals.push(times.reduce((a, k) => a + k.gpuNs, 0) / 1e6);
        for (const k of times) per.set(k.kernel, [...(per.get(k.kernel) ?? []), k.gpuNs / 1e6 / k.count]);
      }
      replay.destroy();
      const plan = backend.plan(graph, args);
      const ms = median(totals);
      const r: Result = {
        program: p.name,
        variant,
        gpuMs: ms,
        spreadMs: [Math.min(...totals), Math.max(...totals)],
        gbps: p.bytes / (ms * 1e6),
        dispatches: plan.dispatches.length,
        kernels: [...per].map(([kernel, xs]) => ({ kernel, ms: median(xs) })),
        rowLayouts: [...new Set(plan.dispatches.flatMap((d) => /^\/\/ row kernel: .*?\], (.*)$/m.exec(d.wgsl)?.[1] ?? []))],
      };
      results.push(r);
      console.log(
        `${p.name.padEnd(30)} ${variant.padEnd(14)} ${ms.toFixed(4).padStart(9)} ms  ${r.gbps.toFixed(0).padStart(5)} GB/s  [${r.spreadMs.map((x) => x.toFixed(4)).join(', ')}]  ${r.kernels.map((k) => `${k.kernel}=${k.ms.toFixed(4)}`).join(' ')}`,
      );
      for (const layout of r.rowLayouts) console.log(`${''.padEnd(46)}${layout}`);
    } catch (err) {
      console.log(`${p.name.padEnd(30)} ${variant.padEnd(14)} ERROR ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
    } finally {
      backend.pool.trim(0);
    }
  };

  const canary = async (when: string) => {
    setElementwiseTuning({ vectorsPerThread: 1, minThreads: 1 });
    await measure(ELEMENTWISE[0], `canary-${when}`);
    setElementwiseTuning(null);
  };
  await canary('start');
  for (const p of ELEMENTWISE) {
    if (only && !only.test(p.name)) continue;
    const variants = /chain8-64M|add1/.test(p.name) ? EW_VARIANTS : EW_VARIANTS.filter(([n]) => n === 'default' || n === 'v1x256');
    for (let turn = 0; turn < (/chain|add1|bias/.test(p.name) ? TURNS : 1); turn++) {
      for (const [name, t] of variants) {
        setElementwiseTuning(t);
        await measure(p, name);
      }
    }
    setElementwiseTuning(null);
  }
  await canary('middle');
  for (const p of ROWS) {
    if (only && !only.test(p.name)) continue;
    const cacheVariants = rowCacheVariants(p);
    if (cacheVariants.length > 0) {
      for (let turn = 0; turn < TURNS; turn++) {
        for (const [name, t] of cacheVariants) {
          setRowTuning(t);
          await measure(p, name);
        }
      }
      setRowTuning(null);
    } else {
      const variants = rowVariants(p);
      for (let turn = 0; turn < (variants.length > 1 ? TURNS : 1); turn++) {
        for (const [name, t] of variants) {
          setRowSplitTuning(t);
          await measure(p, name);
        }
      }
      setRowSplitTuning(null);
    }
    for (const t of inputs.keys()) if (!['x64'].includes(t)) inputs.delete(t);
  }
  await canary('end');
  if (outFile) writeFileSync(outFile, JSON.stringify({ adapter: ctx.adapterName, results }, null, 2));
  ctx.device.destroy();
}


main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
