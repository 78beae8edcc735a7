// The soak (issue 6): many evaluations of mixed programs (elementwise with and without vec4, broadcasting,
// matmul with epilogue, SYRK, softmax, layerNorm, int32 reductions, bool masks, views, concat, arg-reductions,
// two outputs at once), half with dispose() and half dropping every tensor to the garbage collector. Every
// result is checked against the CPU reference; device memory, live buffers, pool and caches are sampled
// through wg.telemetry() and must stay bounded.
//
// CI runs SOAK_EVALS (default 3000) evaluations; the full run is `SOAK_EVALS=100000 SOAK_GC_EVERY=0 npx vitest
// run test/webgpu/soak.test.ts` (npm run soak), with SOAK_REPORT=file.json to keep the figures.
import { writeFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.js';
import { currentBackend } from '../../src/api/context.js';
import { WebGpuBackend } from '../../src/runtime/webgpu/backend.js';
import { testGpu } from './gpu.js';

const EVALS = Number(process.env.SOAK_EVALS ?? 3000);
const REPORT = process.env.SOAK_REPORT;
const SEEDS = 16;
/**
 * Without dispose(), buffers come back when V8 collects the tensors, which it does on its own schedule (JS
 * objects are small, so a heap can hold many of them). CI forces a collection every SOAK_GC_EVERY
 * evaluations, which gives a deterministic bound; 0 leaves it to V8 (the full run reports what it does).
 */
const GC_EVERY = Number(process.env.SOAK_GC_EVERY ?? 500);

// The collector on demand (the flag can be set at run time; `gc` then exists in new contexts).
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const values = (n: number, s: number) => Float32Array.from({ length: n }, (_, j) => (((j * 7 + s * 13) % 23) - 11) / 8);
const ints = (n: number, s: number) => Int32Array.from({ length: n }, (_, j) => ((j * 5 + s * 3) % 17) - 8);

/** Tensors made from host data by the current evaluation's program, for dispose(). */
const made: wg.Tensor[] = [];
function input(data: Float32Array | Int32Array, shape?: number[]): wg.Tensor {
  const t = wg.tensor(data, shape);
  made.push(t);
  return t;
}

/** Each program builds its inputs from seed s and returns the tensors to evaluate in one program. */
const PROGRAMS: ((s: number) => wg.Tensor[])[] = [
  (s) => [input(values(37, s)).mul(1.5).add(s).tanh()],
  (s) => [input(values(512, s), [16, 32]).add(input(values(32, s + 1))).relu().sqrt()],
  (s) => {
    const a = input(values(128, s), [8, 16]);
    const w = input(values(192, s + 2), [12, 16]);
    return [a.matmul(w.T).add(0.25).relu().sum(1)];
  },
  (s) => [input(values(500, s), [10, 50]).softmax(-1)],
  (s) => {
    const x = input(ints(336, s), [6, 7, 8]);
    return [x.sum([0, 2]), x.max(1)];
  },
  (s) => [input(values(24, s), [4, 6]).T.add(1).slice([1, 0], [4, 3])],
  (s) => {
    const x = input(values(200, s), [10, 20]);
    return [wg.where(x.gt(0), x, x.neg().mul(0.5)).mean(-1)];
  },
  (s) => [wg.layerNorm(wg.rand([32, 64], s).mul(4), input(values(64, s)), 0.5)],
  (s) => [wg.concat([input(values(12, s), [3, 4]), input(values(6, s + 5), [3, 2])], 1).argmax(1)],
  (s) => {
    const x = input(values(160, s), [20, 8]);
    return [x.T.matmul(x)];
  },
];

interface Sample {
  evaluations: number;
  bytesAllocated: number;
  buffersInUse: number;
  bytesPooled: number;
  buffersPooled: number;
  plansCached: number;
  pipelinesCached: number;
  heapMB: number;
}

let gpu: WebGpuBackend;
let expected: Float64Array[][][]; // [program][seed][output]

beforeAll(async () => {
  const probe = await testGpu();
  if (!probe) throw new Error('no WebGPU adapter');
  probe.device.destroy();
  await wg.init({ backend: 'cpu', quiet: true });
  expected = await Promise.all(PROGRAMS.map((p) => Promise.all(Array.from({ length: SEEDS }, (_, s) => Promise.all(p(s).map(async (t) => Float64Array.from(await t.data())))))));
  made.length = 0;
  await wg.init({ backend: 'webgpu', quiet: true });
  gpu = currentBackend() as WebGpuBackend;
});
afterAll(async () => {
  await wg.init({ backend: 'cpu', quiet: true });
});

function check(i: number, got: ArrayLike<number>[], want: Float64Array[]): void {
  for (let k = 0; k < want.length; k++) {
    const g = got[k];
    const w = want[k];
    if (g.length !== w.length) throw new Error(`evaluation ${i}: output ${k} has ${g.length} elements, expected ${w.length}`);
    for (let j = 0; j < w.length; j++) {
      if (!(Math.abs(g[j] - w[j]) <= 1e-4 + 1e-4 * Math.abs(w[j]))) throw new Error(`evaluation ${i} (program ${i % PROGRAMS.length}): output ${k}[${j}] = ${g[j]}, expected ${w[j]}`);
    }
  }
}

function sample(): Sample {
  const t = wg.telemetry();
  return {
    evaluations: t.evaluations,
    bytesAllocated: t.pool.bytesAllocated,
    buffersInUse: t.pool.buffersInUse,
    bytesPooled: t.pool.bytesPooled,
    buffersPooled: t.pool.buffersPooled,
    plansCached: t.plansCached,
    pipelinesCached: t.pipelinesCached,
    heapMB: Math.round(process.memoryUsage().heapUsed / 2 ** 20),
  };
}

/** Waits until the finalizers of collected tensors have run. */
async function collect(): Promise<void> {
  for (let k = 0; k < 3; k++) {
    gc();
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** One evaluation (its own function: a suspended async function keeps its dead locals alive). */
async function step(i: number, dispose: boolean): Promise<void> {
  const p = i % PROGRAMS.length;
  const s = (i * 7) % SEEDS;
  const outs = PROGRAMS[p](s);
  await wg.evaluate(...outs);
  const got = await Promise.all(outs.map((t) => t.data()));
  check(i, got, expected[p][s]);
  if (dispose) [...outs, ...made].forEach((t) => t.dispose());
  made.length = 0;
}

async function soak(evals: number, dispose: boolean) {
  await collect();
  wg.resetTelemetry();
  const start = sample();
  const samples: Sample[] = [start];
  const every = Math.max(1, Math.floor(evals / 100));
  const t0 = performance.now();
  for (let i = 0; i < evals; i++) {
    await step(i, dispose);
    if ((i + 1) % every === 0) samples.push(sample());
    if (!dispose && GC_EVERY > 0 && (i + 1) % GC_EVERY === 0) await collect();
  }
  const seconds = (performance.now() - t0) / 1000;
  const end = sample();
  await collect();
  const collected = sample();
  const t = wg.telemetry();
  return { evals, dispose, gcEvery: dispose ? 0 : GC_EVERY, seconds, start, end, collected, samples, telemetry: t };
}

const max = (xs: number[]) => xs.reduce((a, b) => Math.max(a, b), 0);

/** After the first half (warm-up: plans, pipelines and pool size classes are created), nothing grows. */
function expectBounded(r: Awaited<ReturnType<typeof soak>>): void {
  const half = Math.floor(r.samples.length / 2);
  const first = r.samples.slice(1, half);
  const second = r.samples.slice(half);
  if (r.dispose) {
    expect(max(second.map((x) => x.bytesAllocated))).toBeLessThanOrEqual(max(first.map((x) => x.bytesAllocated)));
    expect(max(second.map((x) => x.buffersInUse))).toBeLessThanOrEqual(max(first.map((x) => x.buffersInUse)));
  }
  // Same programs over and over: the caches stop growing once every program was seen.
  expect(r.end.plansCached).toBe(r.samples[half].plansCached);
  expect(r.end.pipelinesCached).toBe(r.samples[half].pipelinesCached);
  // Nothing leaks: once the tensors are collected, the live buffers are back where they started.
  expect(r.collected.buffersInUse).toBeLessThanOrEqual(r.start.buffersInUse);
  expect(r.telemetry.evaluations).toBe(r.evals);
  expect(r.telemetry.outOfMemoryErrors).toBe(0);
  // Nor does the JS heap grow with the number of evaluations (nothing is kept per evaluation).
  expect(r.collected.heapMB).toBeLessThanOrEqual(r.start.heapMB + 64);
}

const results: Awaited<ReturnType<typeof soak>>[] = [];

describe(`soak: ${EVALS} evaluations of ${PROGRAMS.length} mixed programs`, () => {
  const timeout = Math.max(120_000, EVALS * 60);

  it('with dispose(): live buffers return to the start after every evaluation; memory stays flat', async () => {
    const r = await soak(Math.ceil(EVALS / 2), true);
    results.push(r);
    expectBounded(r);
    // Every tensor was disposed: nothing of the soak is left in use, even before collection.
    expect(r.end.buffersInUse).toBeLessThanOrEqual(r.start.buffersInUse);
    expect(max(r.samples.map((x) => x.buffersInUse))).toBeLessThanOrEqual(r.start.buffersInUse);
  }, timeout);

  it('without dispose(): the garbage collector returns the buffers; live buffers and memory stay bounded', async () => {
    const r = await soak(Math.floor(EVALS / 2), false);
    results.push(r);
    expectBounded(r);
    // At most GC_EVERY evaluations' inputs and results (3 buffers each, at most 8 KiB each) wait for the
    // collector at any time, however many evaluations run.
    if (GC_EVERY > 0) {
      expect(r.telemetry.pool.peakBuffersInUse).toBeLessThanOrEqual(r.start.buffersInUse + 3 * GC_EVERY);
      expect(r.telemetry.pool.peakBytesAllocated).toBeLessThanOrEqual((r.start.buffersInUse + 3 * GC_EVERY) * 8192);
    }
  }, timeout);

  afterAll(() => {
    const lines = results.map(
      (r) =>
        `${r.dispose ? 'dispose' : `no dispose (${r.gcEvery ? `gc() every ${r.gcEvery}` : 'V8 collects when it likes'})`}: ${r.evals} evaluations in ${r.seconds.toFixed(1)} s; ` +
        `peak ${r.telemetry.pool.peakBytesAllocated} bytes allocated, ${r.telemetry.pool.peakBuffersInUse} buffers in use; ` +
        `in use at start/end/after gc ${r.start.buffersInUse}/${r.end.buffersInUse}/${r.collected.buffersInUse}; ` +
        `pool hits ${r.telemetry.pool.hits}, misses ${r.telemetry.pool.misses}, trimmed ${r.telemetry.pool.trimmed}; ` +
        `plans ${r.end.plansCached}, pipelines ${r.end.pipelinesCached}; heap ${r.start.heapMB} -> ${r.end.heapMB} MB, ${r.collected.heapMB} MB after gc`,
    );
    console.info(`soak (${gpu.info.adapter}):\n${lines.join('\n')}`);
    if (REPORT) writeFileSync(REPORT, JSON.stringify({ adapter: gpu.info.adapter, date: new Date().toISOString(), results }, null, 1));
  });
});
