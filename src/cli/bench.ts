// `wgfuse bench`: the benchmark harness. Every workload runs on every engine that can run it (wgfuse fused,
// wgfuse unfused, TensorFlow.js's WebGPU backend, jax-js's WebGPU backend), timed after a warm-up as the
// median of N runs that wait for the GPU, with GPU time from timestamp queries where the engine exposes it,
// and every result is checked (smoke sizes: against the CPU reference executor; full sizes: sampled elements
// recomputed in float64 on the host, or a statistical bound for Monte Carlo). A mismatch fails the run.
// Reports go to <out>/<device-slug>/: results.json, results.md and chart.svg. `--merge-torch FILE` folds the
// PyTorch peer's JSON (bench/peers/torch_peer.py) into an existing report. bench/README.md has the details.
//
// The peers are devDependencies, loaded with import() of literal package names, so an esbuild bundle of
// bench/main.ts carries them (the GPU machine gets production node_modules only) and a production install
// of wgfuse simply reports them as not installed.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import { join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import * as wg from '../index.js';
import { currentBackend } from '../api/context.js';
import { extractProgram } from '../api/program.js';
import type { Tensor } from '../api/tensor.js';
import { WgfuseError } from '../ir/errors.js';
import { executeGraph } from '../runtime/cpu/executor.js';
import { selectNodeGpu, SWIFTSHADER_ICD } from '../runtime/node-gpu.js';
import { adapterName } from '../runtime/webgpu/device.js';
import { WebGpuBackend } from '../runtime/webgpu/backend.js';
import { BufferUsage } from '../runtime/webgpu/usage.js';
import { GcControl, type GcPauses } from './bench-gc.js';
import { makeGpuBurner, type GpuBurner } from './gpu-burn.js';

type Log = (line: string) => void;

// ---------------------------------------------------------------------------------------------------------
// Options and the command line
// ---------------------------------------------------------------------------------------------------------

export const ENGINE_NAMES = ['wgfuse', 'wgfuse-unfused', 'tfjs', 'jax-js'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

export interface BenchOptions {
  /** Tiny sizes that a software adapter (SwiftShader) runs in seconds. */
  smoke?: boolean;
  /** Timed runs per workload and engine (median reported); default 10, or 3 with smoke. */
  runs?: number;
  /** Warm-up runs after the first (compiling) run; default 2, or 0 with smoke. With any, they go on for at least WARMUP_MS (2 s) at full sizes. */
  warmup?: number;
  /** Saturating GPU work before each engine's timed runs on a hardware adapter, ms (default BURN_MS; 0: none). */
  burnMs?: number;
  /** Runs of the workload itself between the burn and the timed runs, for at least this many ms (default SETTLE_MS). */
  settleMs?: number;
  /** A major garbage collection before each block of timed runs (default true; bench-gc.ts). */
  collect?: boolean;
  /** After that collection, runs of the workload for at least this many ms (default AFTER_GC_MS). */
  afterGcMs?: number;
  /** Engines to run; default all. */
  engines?: readonly string[];
  /** Engines not to run (with engines or all of them). */
  exceptEngines?: readonly string[];
  /** Only workloads whose id matches this regular expression. */
  only?: string;
  /** Root folder of the reports; they go to <out>/<device-slug>/. Default bench/results. */
  out?: string;
  /** Time GPU work with timestamp queries in separate runs (default true). */
  gpuTiming?: boolean;
  /** Start no new measurement after this many seconds (the rest is recorded as skipped). */
  maxSeconds?: number;
  /** Merge this PyTorch peer JSON into the report under `out` instead of running anything. */
  mergeTorch?: string;
  /**
   * Merge the engines of another run's results.json (same device and sizes; e.g. `--engines jax-js` in a
   * second call, where one call cannot hold every engine) into the report under `out`, then exit.
   */
  mergeResults?: string;
  /** With mergeTorch or mergeResults: the report folder (holding results.json); default: the one folder under `out`. */
  report?: string;
  /** Print the workloads (id, kind, sizes) and exit. */
  list?: boolean;
}

/** The `bench` command for commander (the same pattern as dump-ir): `program.addCommand(benchCli(...))`. */
export function benchCli(onExit: (code: number) => void, log: Log = console.log): Command {
  return new Command('bench')
    .description('benchmark wgfuse (fused and unfused) against TensorFlow.js and jax-js on WebGPU, with checked results')
    .option('--smoke', 'tiny sizes: runs on a software adapter in seconds (what the tests run)')
    .option('--runs <n>', 'timed runs per workload and engine; the median is reported (default 10, smoke 3)')
    .option('--warmup <n>', 'warm-up runs after the first, compiling one; with any, at least 2 s of them at full sizes (default 2, smoke 0)')
    .option('--engines <list>', `comma-separated engines (default all: ${ENGINE_NAMES.join(',')})`)
    .option('--except <list>', 'comma-separated engines not to run')
    .option('--only <regex>', 'only workloads whose id matches')
    .option('--out <dir>', 'root folder of the reports, written to <dir>/<device-slug>/', 'bench/results')
    .option('--no-gpu-timing', 'skip the runs timed with timestamp queries')
    .option('--burn-ms <ms>', 'saturating GPU work before each engine\'s timed runs on a hardware adapter (default 0: none)')
    .option('--settle-ms <ms>', 'runs of the workload between the burn and the timed runs, at least this long (default 300)')
    .option('--no-collect', 'no garbage collection of the JS engine before each block of timed runs')
    .option('--after-gc-ms <ms>', `runs of the workload between that collection and the timed runs, at least this long (default ${AFTER_GC_MS})`)
    .option('--max-seconds <s>', 'start no new measurement after this many seconds; the rest is recorded as skipped')
    .option('--merge-torch <file>', 'merge the JSON of bench/peers/torch_peer.py into the report, then exit')
    .option('--merge-results <file>', "merge another run's results.json (its engines replace the report's) into the report, then exit")
    .option('--report <dir>', 'with --merge-torch or --merge-results: the report folder holding results.json (default: the one under --out)')
    .option('--list', 'print the workloads (id, kind, sizes) as JSON and exit')
    .exitOverride()
    .action(async (opts: Record<string, string | boolean | undefined>) => {
      onExit(await benchCommand(parseCliOptions(opts), log));
    });
}

function parseCliOptions(o: Record<string, string | boolean | undefined>): BenchOptions {
  const list = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);
  const num = (name: string): number | undefined => {
    const v = o[name];
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new WgfuseError(`bench: --${name} must be a non-negative number, got ${String(v)}`);
    return n;
  };
  return {
    smoke: o.smoke === true,
    runs: num('runs'),
    warmup: num('warmup'),
    burnMs: num('burnMs'),
    settleMs: num('settleMs'),
    collect: o.collect !== false,
    afterGcMs: num('afterGcMs'),
    engines: typeof o.engines === 'string' ? list(o.engines) : undefined,
    exceptEngines: typeof o.except === 'string' ? list(o.except) : undefined,
    only: typeof o.only === 'string' ? o.only : undefined,
    out: typeof o.out === 'string' ? o.out : undefined,
    gpuTiming: o.gpuTiming !== false,
    maxSeconds: num('maxSeconds'),
    mergeTorch: typeof o.mergeTorch === 'string' ? o.mergeTorch : undefined,
    mergeResults: typeof o.mergeResults === 'string' ? o.mergeResults : undefined,
    report: typeof o.report === 'string' ? o.report : undefined,
    list: o.list === true,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Workloads
// ---------------------------------------------------------------------------------------------------------

export type WorkloadKind =
  | 'gemm'
  | 'gemm-bias-gelu'
  | 'image'
  | 'monte-carlo'
  | 'elementwise'
  | 'covariance'
  | 'pca'
  | 'mlp'
  | 'layernorm-softmax';

/** Plain data: what the report and the PyTorch peer need to run the same workload. */
export interface WorkloadSpec {
  id: string;
  kind: WorkloadKind;
  title: string;
  params: Record<string, number | boolean>;
  /** Nominal floating-point operations of one run. */
  flops: number;
  /** Fewest bytes one run must move through device memory: each input read once, each output written once. */
  minBytes: number;
  /** Which rate the report shows: TFLOP/s for 'compute', GB/s (of minBytes) for 'memory'. */
  bound: 'compute' | 'memory';
  outputShape: number[];
  /** Inputs: uniform random in [lo, hi) (the harness's generator; the PyTorch peer draws its own). */
  inputs: InputSpec[];
}

export interface InputSpec {
  name: string;
  shape: number[];
  lo: number;
  hi: number;
  seed: number;
}

type Workload = WorkloadSpec;

// Monte Carlo GBM constants (shared with the PyTorch peer through the spec's params).
const GBM = { s0: 100, mu: 0.05, sigma: 0.2, seed: 7 };
const IMAGE = { gain: 0.25, bias: 0.5, gamma: 0.8, eps: 1e-6 };
const LN_EPS = 1e-5;

function gemmSpec(batch: number, m: number, n: number, k: number, tB: boolean, title: string): Workload {
  const b = Math.max(1, batch);
  const lead = batch ? [batch] : [];
  const shape = batch ? `${batch}x${m}x${n}x${k}` : `${m}x${n}x${k}`;
  return {
    id: `${batch ? 'bgemm' : 'gemm'}-${shape}${tB ? '-tB' : ''}`,
    kind: 'gemm',
    title: `${title} ${shape} (${tB ? 'x @ w.T' : 'x @ w'})`,
    params: { batch, m, n, k, tB },
    flops: 2 * b * m * n * k,
    minBytes: 4 * b * (m * k + k * n + m * n),
    bound: 'compute',
    outputShape: [...lead, m, n],
    inputs: [
      { name: 'x', shape: [...lead, m, k], lo: -1, hi: 1, seed: 11 },
      { name: 'w', shape: tB ? [...lead, n, k] : [...lead, k, n], lo: -1, hi: 1, seed: 12 },
    ],
  };
}

export function makeWorkloads(smoke: boolean): Workload[] {
  const list: Workload[] = [];
  const gemm = (batch: number, m: number, n: number, k: number, title: string) => {
    for (const tB of [false, true]) list.push(gemmSpec(batch, m, n, k, tB, title));
  };
  for (const s of smoke ? [64] : [1024, 2048, 4096, 8192]) gemm(0, s, s, s, 'GEMM square');
  if (smoke) {
    gemm(0, 96, 80, 48, 'GEMM wide');
    gemm(0, 1024, 32, 32, 'GEMM tall-skinny');
    gemm(0, 128, 128, 8, 'GEMM small-K');
    gemm(0, 1, 128, 96, 'GEMV');
    gemm(4, 32, 24, 40, 'batched GEMM');
  } else {
    gemm(0, 4096, 4096, 1024, 'GEMM wide');
    gemm(0, 65536, 256, 256, 'GEMM tall-skinny');
    gemm(0, 4096, 4096, 32, 'GEMM small-K');
    gemm(0, 1, 4096, 4096, 'GEMV');
    gemm(64, 256, 256, 256, 'batched GEMM');
  }

  const g = smoke ? 64 : 4096;
  list.push({
    id: `gemm-bias-gelu-${g}`,
    kind: 'gemm-bias-gelu',
    title: `GEMM + bias + gelu ${g}^3`,
    params: { m: g, n: g, k: g },
    flops: 2 * g * g * g + 10 * g * g,
    minBytes: 4 * (3 * g * g + g),
    bound: 'compute',
    outputShape: [g, g],
    inputs: [
      { name: 'x', shape: [g, g], lo: -1, hi: 1, seed: 21 },
      { name: 'w', shape: [g, g], lo: -0.05, hi: 0.05, seed: 22 },
      { name: 'bias', shape: [g], lo: -1, hi: 1, seed: 23 },
    ],
  });

  const [h, w] = smoke ? [36, 64] : [2160, 3840];
  for (const b of smoke ? [1, 2] : [4, 16, 32]) {
    const n = b * h * w;
    list.push({
      id: `image-${b}x${h}x${w}`,
      kind: 'image',
      title: `image pipeline ${b}x${h}x${w}: per-image mean/std, normalise, gain, bias, clamp at 0, gamma`,
      params: { b, h, w, ...IMAGE },
      flops: 12 * n,
      minBytes: 8 * n,
      bound: 'memory',
      outputShape: [b, h, w],
      inputs: [{ name: 'image', shape: [b, h, w], lo: 0, hi: 1, seed: 31 }],
    });
  }

  const [paths, steps] = smoke ? [1024, 16] : [1 << 20, 256];
  list.push({
    id: `monte-carlo-${paths}x${steps}`,
    kind: 'monte-carlo',
    title: `Monte Carlo GBM ${paths} paths x ${steps} steps: mean final price`,
    params: { paths, steps, ...GBM },
    // Nominal: a normal sample (Box-Muller, ~20 flops) and a multiply-add per path and step.
    flops: 22 * paths * steps,
    minBytes: 4,
    bound: 'compute',
    outputShape: [],
    inputs: [],
  });

  for (const n of smoke ? [4096, 16384] : [1 << 20, 1 << 24, 1 << 26, 1 << 28]) {
    list.push({
      id: `elementwise8-${n}`,
      kind: 'elementwise',
      title: `elementwise chain of 8 ops on ${n >= 1 << 20 ? `${n >> 20}M` : n} elements`,
      params: { n },
      flops: 8 * n,
      minBytes: 8 * n,
      bound: 'memory',
      outputShape: [n],
      inputs: [{ name: 'x', shape: [n], lo: -2, hi: 2, seed: 41 }],
    });
  }

  const d = smoke ? 32 : 512;
  for (const n of smoke ? [200, 400] : [20000, 80000]) {
    list.push({
      id: `covariance-${n}x${d}`,
      kind: 'covariance',
      title: `covariance ${n}x${d}: centred Gram / (n-1)`,
      params: { n, d },
      flops: 2 * n * d * d + 2 * n * d,
      minBytes: 4 * (n * d + d * d),
      bound: 'compute',
      outputShape: [d, d],
      inputs: [{ name: 'x', shape: [n, d], lo: 0, hi: 2, seed: 51 }],
    });
  }

  // PCA's top component: the covariance above, then power iterations v <- C v / ||C v|| from v = 1 / sqrt(d)
  // (RunMat's PCA, as the demo's). Twenty products of 1 MiB each: few flops, many small dependent steps.
  const iters = smoke ? 5 : 20;
  for (const n of smoke ? [300] : [10000, 80000]) {
    list.push({
      id: `pca-${n}x${d}x${iters}`,
      kind: 'pca',
      title: `PCA ${n}x${d}: centred covariance, ${iters} power iterations (top component)`,
      params: { n, d, iters },
      flops: 2 * n * d * d + 2 * n * d + iters * (2 * d * d + 3 * d),
      minBytes: 4 * (n * d + d),
      bound: 'compute',
      outputShape: [d, 1],
      inputs: [{ name: 'x', shape: [n, d], lo: 0, hi: 2, seed: 81 }],
    });
  }

  const [batch, din, hidden, dout] = smoke ? [64, 32, 64, 32] : [4096, 1024, 4096, 1024];
  list.push({
    id: `mlp-${batch}x${din}x${hidden}x${dout}`,
    kind: 'mlp',
    title: `MLP block ${batch}x${din} -> ${hidden} (gelu) -> ${dout}`,
    params: { batch, din, hidden, dout },
    flops: 2 * batch * (din * hidden + hidden * dout) + 12 * batch * hidden,
    minBytes: 4 * (batch * din + hidden * din + hidden + dout * hidden + dout + batch * dout),
    bound: 'compute',
    outputShape: [batch, dout],
    inputs: [
      { name: 'x', shape: [batch, din], lo: -1, hi: 1, seed: 61 },
      { name: 'w1', shape: [hidden, din], lo: -0.1, hi: 0.1, seed: 62 },
      { name: 'b1', shape: [hidden], lo: -0.5, hi: 0.5, seed: 63 },
      { name: 'w2', shape: [dout, hidden], lo: -0.05, hi: 0.05, seed: 64 },
      { name: 'b2', shape: [dout], lo: -0.5, hi: 0.5, seed: 65 },
    ],
  });

  const [rows, cols] = smoke ? [64, 128] : [8192, 1024];
  list.push({
    id: `layernorm-softmax-${rows}x${cols}`,
    kind: 'layernorm-softmax',
    title: `layerNorm + softmax ${rows}x${cols}`,
    params: { rows, cols, eps: LN_EPS },
    flops: 14 * rows * cols,
    minBytes: 4 * (2 * rows * cols + 2 * cols),
    bound: 'memory',
    outputShape: [rows, cols],
    inputs: [
      { name: 'x', shape: [rows, cols], lo: -3, hi: 3, seed: 71 },
      { name: 'weight', shape: [cols], lo: 0.5, hi: 1.5, seed: 72 },
      { name: 'bias', shape: [cols], lo: -0.5, hi: 0.5, seed: 73 },
    ],
  });
  return list;
}

function specOf(w: Workload): WorkloadSpec {
  return structuredClone(w);
}

const sizeOfShape = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Deterministic host data from a small LCG (independent of wgfuse's generator), as the demo uses. */
function hostRandom(n: number, seed: number, lo: number, hi: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  const scale = (hi - lo) / 16777216;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + (s >>> 8) * scale;
  }
  return out;
}

/** Standard normals by Box-Muller over a xorshift generator (for engines without a GPU generator). */
function hostNormals(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return ((s >>> 8) + 1) / 16777217; // in (0, 1)
  };
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(next()));
    const t = 2 * Math.PI * next();
    out[i] = r * Math.cos(t);
    if (i + 1 < n) out[i + 1] = r * Math.sin(t);
  }
  return out;
}

/** The inputs of each workload, made once and shared by the engines. */
class HostData {
  private readonly cache = new Map<string, Float32Array[]>();
  private normals: Float32Array | null = null;
  get(w: Workload): Float32Array[] {
    let data = this.cache.get(w.id);
    if (!data) {
      data = w.inputs.map((i) => hostRandom(sizeOfShape(i.shape), i.seed, i.lo, i.hi));
      this.cache.set(w.id, data);
    }
    return data;
  }
  /** Monte Carlo normals for engines that cannot draw them on the GPU. */
  mcNormals(w: Workload): Float32Array {
    const n = (w.params.paths as number) * (w.params.steps as number);
    if (!this.normals || this.normals.length !== n) this.normals = hostNormals(n, GBM.seed);
    return this.normals;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Float64 references and checks
// ---------------------------------------------------------------------------------------------------------

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const gelu64 = (x: number): number => 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));

/** Deterministic sampler: mulberry32. */
function sampler(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Which output elements the float64 check recomputes: all of a small output, else a spread sample. */
function sampleIndices(w: Workload): number[] {
  const size = sizeOfShape(w.outputShape);
  if (size <= 4096) return Array.from({ length: size }, (_, i) => i);
  const rnd = sampler(size ^ 0x5eed);
  const rowsOf = (rows: number, cols: number, count: number): number[] => {
    const picked = new Set<number>([0, rows - 1]);
    while (picked.size < Math.min(rows, count)) picked.add(Math.floor(rnd() * rows));
    return [...picked].flatMap((r) => Array.from({ length: cols }, (_, c) => r * cols + c));
  };
  // Whole rows where a row costs a lot to recompute and is then cheap per element.
  if (w.kind === 'mlp') return rowsOf(w.params.batch as number, w.params.dout as number, 6);
  if (w.kind === 'layernorm-softmax') return rowsOf(w.params.rows as number, w.params.cols as number, 12);
  const picked = new Set<number>([0, size - 1]);
  while (picked.size < 512) picked.add(Math.floor(rnd() * size));
  return [...picked].sort((a, b) => a - b);
}

/** Float64 values of the output elements at `indices`, computed on the host from the float32 inputs. */
function reference64(w: Workload, x: Float32Array[], indices: readonly number[]): Float64Array {
  const out = new Float64Array(indices.length);
  const p = w.params as Record<string, number>;
  switch (w.kind) {
    case 'gemm':
    case 'gemm-bias-gelu': {
      const { m, n, k } = p;
      const tB = w.params.tB === true;
      const [a, b] = x;
      indices.forEach((idx, o) => {
        const bi = Math.floor(idx / (m * n));
        const r = idx % (m * n);
        const i = Math.floor(r / n);
        const j = r % n;
        let s = 0;
        const aBase = bi * m * k + i * k;
        if (tB) {
          const bBase = bi * n * k + j * k;
          for (let q = 0; q < k; q++) s += a[aBase + q] * b[bBase + q];
        } else {
          const bBase = bi * k * n + j;
          for (let q = 0; q < k; q++) s += a[aBase + q] * b[bBase + q * n];
        }
        out[o] = w.kind === 'gemm' ? s : gelu64(s + x[2][j]);
      });
      return out;
    }
    case 'image': {
      const { b, h, w: width, gain, bias, gamma, eps } = p;
      const plane = h * width;
      const stats = Array.from({ length: b }, (_, bi) => {
        let sum = 0;
        for (let i = bi * plane; i < (bi + 1) * plane; i++) sum += x[0][i];
        const mean = sum / plane;
        let ss = 0;
        for (let i = bi * plane; i < (bi + 1) * plane; i++) ss += (x[0][i] - mean) ** 2;
        return { mean, std: Math.sqrt(ss / plane) };
      });
      indices.forEach((idx, o) => {
        const { mean, std } = stats[Math.floor(idx / plane)];
        out[o] = Math.max(((x[0][idx] - mean) / (std + eps)) * gain + bias, 0) ** gamma;
      });
      return out;
    }
    case 'elementwise':
      indices.forEach((idx, o) => {
        const v = x[0][idx];
        const t = Math.tanh(v * 0.9 + 0.1) * v;
        out[o] = Math.sqrt(Math.exp(1 / (1 + Math.exp(-t)) - 0.5));
      });
      return out;
    case 'covariance': {
      const { n, d } = p;
      const mean = new Float64Array(d);
      for (let r = 0; r < n; r++) for (let c = 0; c < d; c++) mean[c] += x[0][r * d + c];
      for (let c = 0; c < d; c++) mean[c] /= n;
      indices.forEach((idx, o) => {
        const i = Math.floor(idx / d);
        const j = idx % d;
        let s = 0;
        for (let r = 0; r < n; r++) s += (x[0][r * d + i] - mean[i]) * (x[0][r * d + j] - mean[j]);
        out[o] = s / (n - 1);
      });
      return out;
    }
    case 'pca': {
      // The same iteration in float64, with C v as X_c^T (X_c v) / (n - 1): O(n d) per step, no d x d matrix.
      const { n, d, iters } = p;
      const mean = new Float64Array(d);
      for (let r = 0; r < n; r++) for (let c = 0; c < d; c++) mean[c] += x[0][r * d + c];
      for (let c = 0; c < d; c++) mean[c] /= n;
      let v = new Float64Array(d).fill(1 / Math.sqrt(d));
      const t = new Float64Array(n);
      for (let it = 0; it < iters; it++) {
        for (let r = 0; r < n; r++) {
          let s = 0;
          for (let c = 0; c < d; c++) s += (x[0][r * d + c] - mean[c]) * v[c];
          t[r] = s;
        }
        const u = new Float64Array(d);
        for (let r = 0; r < n; r++) for (let c = 0; c < d; c++) u[c] += (x[0][r * d + c] - mean[c]) * t[r];
        let norm = 0;
        for (let c = 0; c < d; c++) norm += (u[c] /= n - 1) ** 2;
        norm = Math.sqrt(norm);
        v = u.map((e) => e / norm);
      }
      indices.forEach((idx, o) => (out[o] = v[idx]));
      return out;
    }
    case 'mlp': {
      const { din, hidden, dout } = p;
      const [xs, w1, b1, w2, b2] = x;
      const rows = new Map<number, Float64Array>();
      const hiddenRow = (r: number): Float64Array => {
        let hr = rows.get(r);
        if (hr) return hr;
        hr = new Float64Array(hidden);
        for (let q = 0; q < hidden; q++) {
          let s = b1[q];
          for (let c = 0; c < din; c++) s += xs[r * din + c] * w1[q * din + c];
          hr[q] = gelu64(s);
        }
        rows.set(r, hr);
        return hr;
      };
      indices.forEach((idx, o) => {
        const r = Math.floor(idx / dout);
        const j = idx % dout;
        const hr = hiddenRow(r);
        let s = b2[j];
        for (let q = 0; q < hidden; q++) s += hr[q] * w2[j * hidden + q];
        out[o] = s;
      });
      return out;
    }
    case 'layernorm-softmax': {
      const { cols, eps } = p;
      const [xs, weight, bias] = x;
      const rows = new Map<number, Float64Array>();
      const row = (r: number): Float64Array => {
        let y = rows.get(r);
        if (y) return y;
        y = new Float64Array(cols);
        let mean = 0;
        for (let c = 0; c < cols; c++) mean += xs[r * cols + c];
        mean /= cols;
        let v = 0;
        for (let c = 0; c < cols; c++) v += (xs[r * cols + c] - mean) ** 2;
        const inv = 1 / Math.sqrt(v / cols + eps);
        let max = -Infinity;
        for (let c = 0; c < cols; c++) {
          y[c] = (xs[r * cols + c] - mean) * inv * weight[c] + bias[c];
          max = Math.max(max, y[c]);
        }
        let sum = 0;
        for (let c = 0; c < cols; c++) sum += y[c] = Math.exp(y[c] - max);
        for (let c = 0; c < cols; c++) y[c] /= sum;
        rows.set(r, y);
        return y;
      };
      indices.forEach((idx, o) => (out[o] = row(Math.floor(idx / cols))[idx % cols]));
      return out;
    }
    case 'monte-carlo':
      throw new WgfuseError('internal: Monte Carlo has a statistical check, not a float64 recomputation');
  }
}

/** ||got - want|| / ||want|| over the given positions; NaN or a length mismatch never passes. */
function relL2(got: ArrayLike<number>, want: ArrayLike<number>, indices?: readonly number[]): number {
  let num = 0;
  let den = 0;
  const n = indices ? indices.length : want.length;
  if (!indices && got.length !== want.length) return Infinity;
  for (let o = 0; o < n; o++) {
    const g = indices ? got[indices[o]] : got[o];
    const r = want[o];
    if (!Number.isFinite(g)) return Infinity;
    num += (g - r) ** 2;
    den += r * r;
  }
  const e = Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
  return Number.isNaN(e) ? Infinity : e;
}

export interface CheckResult {
  kind: 'cpu-reference' | 'float64-samples' | 'float64-full' | 'statistical' | 'none';
  ok: boolean;
  /** Relative L2 error (cpu-reference, float64-samples) or |mean - E| / E (statistical). */
  error: number;
  tolerance: number;
  detail: string;
}

const TOLERANCE: Record<WorkloadKind, number> = {
  gemm: 1e-4,
  'gemm-bias-gelu': 1e-4,
  image: 1e-4,
  'monte-carlo': 0, // statistical, computed per run
  elementwise: 1e-5,
  covariance: 2e-4,
  pca: 2e-4,
  mlp: 1e-4,
  'layernorm-softmax': 1e-4,
};

/** Mean final price of GBM: E = s0 exp(mu T), T = 1; the bound is 6 standard errors plus float slack. */
function statisticalCheck(w: Workload, value: number): CheckResult {
  const { paths, s0, mu, sigma } = w.params as Record<string, number>;
  const expect = s0 * Math.exp(mu);
  const stderr = (expect * Math.sqrt(Math.exp(sigma * sigma) - 1)) / Math.sqrt(paths);
  const tolerance = (6 * stderr) / expect + 1e-4;
  const error = Math.abs(value - expect) / expect;
  const ok = Number.isFinite(value) && error <= tolerance;
  return { kind: 'statistical', ok, error: Number.isFinite(error) ? error : Infinity, tolerance, detail: `mean ${value.toFixed(4)}, expected ${expect.toFixed(4)} +- ${stderr.toFixed(4)} (1 s.e.)` };
}

/** The CPU reference executor's result for the wgfuse program of this workload (smoke sizes only). */
function cpuReference(w: Workload, data: Float32Array[]): Float32Array {
  const inputs = w.inputs.map((spec, i) => wg.tensor(data[i], spec.shape));
  const t = buildWgfuse(w, inputs);
  const { graph, args } = extractProgram([t.node]);
  const out = executeGraph(
    graph,
    args.map((a) => a.host!),
  )[0];
  inputs.forEach((x) => x.dispose());
  return Float32Array.from(out);
}

class Checker {
  private readonly cpu = new Map<string, Float32Array>();
  private readonly f64 = new Map<string, { indices: number[]; values: Float64Array }>();
  constructor(
    private readonly host: HostData,
    private readonly smoke: boolean,
  ) {}

  check(w: Workload, engine: EngineName, got: Float32Array): CheckResult {
    let nonFinite = 0;
    for (let i = 0; i < got.length; i++) if (!Number.isFinite(got[i])) nonFinite++;
    const size = sizeOfShape(w.outputShape);
    if (got.length !== size) return { kind: 'none', ok: false, error: Infinity, tolerance: 0, detail: `output has ${got.length} elements, expected ${size}` };
    if (nonFinite > 0) return { kind: 'none', ok: false, error: Infinity, tolerance: 0, detail: `${nonFinite} of ${size} output elements are NaN or infinite` };
    const sameRng = engine === 'wgfuse' || engine === 'wgfuse-unfused';
    if (w.kind === 'monte-carlo') {
      // Every engine draws its own normals; wgfuse's are counter-based, so at smoke sizes the CPU reference
      // reproduces them exactly.
      if (this.smoke && sameRng) return this.cpuCheck(w, got, 1e-5);
      return statisticalCheck(w, got[0]);
    }
    const tolerance = TOLERANCE[w.kind];
    let ref = this.f64.get(w.id);
    if (!ref) {
      const indices = sampleIndices(w);
      ref = { indices, values: reference64(w, this.host.get(w), indices) };
      this.f64.set(w.id, ref);
    }
    const error = relL2(got, ref.values, ref.indices);
    const sampled: CheckResult = {
      kind: 'float64-samples',
      ok: error <= tolerance,
      error,
      tolerance,
      detail: `${ref.indices.length} of ${size} elements recomputed in float64`,
    };
    if (!this.smoke || !sampled.ok) return sampled;
    const full = this.cpuCheck(w, got, tolerance);
    return full.ok ? { ...full, detail: `${full.detail}; ${sampled.detail}: error ${sampled.error.toExponential(1)}` } : full;
  }

  private cpuCheck(w: Workload, got: Float32Array, tolerance: number): CheckResult {
    let ref = this.cpu.get(w.id);
    if (!ref) {
      ref = cpuReference(w, this.host.get(w));
      this.cpu.set(w.id, ref);
    }
    const error = relL2(got, ref);
    return { kind: 'cpu-reference', ok: error <= tolerance, error, tolerance, detail: `all ${ref.length} elements against the CPU reference executor` };
  }
}

// ---------------------------------------------------------------------------------------------------------
// Engines
// ---------------------------------------------------------------------------------------------------------

interface Prepared {
  /** One execution, from building the computation to the GPU having finished it. */
  run(): Promise<void>;
  /** wgfuse: `run` without wg.jit (the expression rebuilt, walked and looked up in the plan cache each time). */
  runLazy?(): Promise<void>;
  /** One execution timed with timestamp queries: GPU milliseconds, or null where the engine has none. */
  gpuMs(): Promise<number | null>;
  /** Dispatches, bytes its kernels move, peak memory of one run, where the engine tells. */
  stats(): Promise<RunStats>;
  /** One execution read back to the host. */
  output(): Promise<Float32Array>;
  dispose(): void;
  /** A remark for the report (e.g. how the engine's inputs differ). */
  note?: string;
  /** Counters over the timed runs (wgfuse: plan-cache misses, pipelines compiled, pool misses...). */
  diagnostics?: { reset(): void; read(): Record<string, number> };
}

interface RunStats {
  dispatches: number | null;
  bytesMoved: number | null;
  peakBytes: number | null;
}

interface Engine {
  readonly name: EngineName;
  /** Null when ready, else why the engine cannot run here. */
  start(): Promise<string | null>;
  version(): string | null;
  /** A Prepared run, or a string saying why this workload is skipped. */
  prepare(w: Workload, host: HostData): Promise<Prepared | string>;
  stop(): Promise<void>;
}

/** An error as one line (WGSL compiler messages span several), at most 500 characters. */
const errorText = (err: unknown): string =>
  (err instanceof Error ? err.message : String(err))
    .replace(/\s*\n\s*/g, ' ')
    .trim()
    .slice(0, 500);

// ---- wgfuse ----

function buildWgfuse(w: Workload, x: Tensor[]): Tensor {
  const p = w.params as Record<string, number>;
  switch (w.kind) {
    case 'gemm': {
      const b = w.params.tB ? (p.batch ? x[1].transpose([0, 2, 1]) : x[1].T) : x[1];
      return x[0].matmul(b);
    }
    case 'gemm-bias-gelu':
      return x[0].matmul(x[1]).add(x[2]).gelu();
    case 'image': {
      const img = x[0];
      const mean = img.mean([1, 2], true);
      const std = img.variance([1, 2], true).sqrt();
      return img.sub(mean).div(std.add(p.eps)).mul(p.gain).add(p.bias).clamp(0).pow(p.gamma);
    }
    case 'monte-carlo': {
      const dt = 1 / p.steps;
      const z = wg.randn([p.steps, p.paths], p.seed);
      const logReturn = z.mul(p.sigma * Math.sqrt(dt)).add((p.mu - 0.5 * p.sigma * p.sigma) * dt).sum(0);
      return logReturn.exp().mul(p.s0).mean();
    }
    case 'elementwise':
      return x[0].mul(0.9).add(0.1).tanh().mul(x[0]).sigmoid().sub(0.5).exp().sqrt();
    case 'covariance': {
      const c = x[0].sub(x[0].mean(0, true));
      return c.T.matmul(c).div(p.n - 1);
    }
    case 'pca': {
      const c = x[0].sub(x[0].mean(0, true));
      const cov = c.T.matmul(c).div(p.n - 1);
      let v = wg.ones([p.d, 1]).div(Math.sqrt(p.d));
      for (let i = 0; i < p.iters; i++) {
        const u = cov.matmul(v);
        v = u.div(u.square().sum().sqrt());
      }
      return v;
    }
    case 'mlp':
      return x[0].matmul(x[1].T).add(x[2]).gelu().matmul(x[3].T).add(x[4]);
    case 'layernorm-softmax':
      return wg.layerNorm(x[0], x[1], x[2], p.eps).softmax(-1);
  }
}

class WgfuseEngine implements Engine {
  private backend: WebGpuBackend | null = null;
  constructor(readonly name: 'wgfuse' | 'wgfuse-unfused') {}

  async start(): Promise<string | null> {
    await wg.init({ backend: 'webgpu', fusion: this.name === 'wgfuse', quiet: true });
    const b = currentBackend();
    if (!(b instanceof WebGpuBackend)) return 'wg.init did not give a WebGPU backend';
    this.backend = b;
    return null;
  }

  version(): string | null {
    return null;
  }

  async prepare(w: Workload, host: HostData): Promise<Prepared> {
    const backend = this.backend!;
    const device = backend.device;
    const inputs = w.inputs.map((spec, i) => wg.tensor(host.get(w)[i], spec.shape));
    const build = () => buildWgfuse(w, inputs);
    // What a program calling the same computation again and again writes: a jitted function (traced on the
    // first run, then replayed on the same tensors), as jax-js runs through its jit.
    const jitted = wg.jit((...x: Tensor[]) => buildWgfuse(w, x));
    const canTime = backend.context.features.includes('timestamp-query');
    let poolAtReset = { ...backend.pool.stats };
    return {
      async run() {
        const t = await jitted(...inputs);
        await device.queue.onSubmittedWorkDone();
        t.dispose();
      },
      async runLazy() {
        const t = build();
        await wg.evaluate(t);
        await device.queue.onSubmittedWorkDone();
        t.dispose();
      },
      async gpuMs() {
        if (!canTime) return null;
        // The backend's timing switch is read per evaluation: this run records per-dispatch timestamps.
        backend.timing = true;
        try {
          wg.resetTelemetry();
          const t = await jitted(...inputs);
          t.dispose();
          const times = wg.telemetry().kernelTimes;
          return times.reduce((acc, k) => acc + k.gpuNs, 0) / 1e6;
        } finally {
          backend.timing = false;
        }
      },
      async stats() {
        const plan = wg.compile(build());
        wg.resetTelemetry();
        const t = await jitted(...inputs);
        await device.queue.onSubmittedWorkDone();
        const dispatches = wg.telemetry().dispatches;
        t.dispose();
        return {
          dispatches,
          bytesMoved: plan.dispatches.reduce((acc, d) => acc + d.bytesRead + d.bytesWritten, 0),
          peakBytes: plan.memory ? plan.memory.peakBytes : null,
        };
      },
      async output() {
        const t = await jitted(...inputs);
        const data = await t.data();
        t.dispose();
        return Float32Array.from(data);
      },
      dispose() {
        jitted.clear();
        inputs.forEach((t) => t.dispose());
      },
      diagnostics: {
        reset() {
          wg.resetTelemetry();
          poolAtReset = { ...backend.pool.stats };
        },
        read() {
          const t = wg.telemetry();
          return {
            evaluations: t.evaluations,
            dispatches: t.dispatches,
            submits: t.submits,
            planCacheMisses: t.planCacheMisses,
            pipelinesCompiled: t.pipelinesCompiled,
            compileMs: Number(t.compileMs.toFixed(3)),
            bytesUploaded: t.bytesUploaded,
            poolMisses: t.pool.misses - poolAtReset.misses,
            poolTrimmed: t.pool.trimmed - poolAtReset.trimmed,
            poolBytesAllocated: t.pool.bytesAllocated,
          };
        },
      },
    };
  }

  async stop(): Promise<void> {
    this.backend = null;
  }
}

// ---- TensorFlow.js (WebGPU backend) ----

type TF = typeof import('@tensorflow/tfjs-core');
type TFTensor = import('@tensorflow/tfjs-core').Tensor;

/** The parts of tfjs-backend-webgpu's WebGPUBackend the harness uses to wait for the GPU. */
interface TfWebGpuBackend {
  device: GPUDevice;
  commandEncoder: GPUCommandEncoder | null;
  endComputePassEncoder(): void;
  submitQueue(): void;
}

function tfGelu(tf: TF, x: TFTensor): TFTensor {
  const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), SQRT_2_OVER_PI);
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
}

function buildTfjs(tf: TF, w: Workload, x: TFTensor[]): TFTensor {
  const p = w.params as Record<string, number>;
  switch (w.kind) {
    case 'gemm':
      return tf.matMul(x[0], x[1], false, w.params.tB === true);
    case 'gemm-bias-gelu':
      return tfGelu(tf, tf.add(tf.matMul(x[0], x[1]), x[2]));
    case 'image': {
      const { mean, variance } = tf.moments(x[0], [1, 2], true);
      const norm = tf.div(tf.sub(x[0], mean), tf.add(tf.sqrt(variance), p.eps));
      return tf.pow(tf.relu(tf.add(tf.mul(norm, p.gain), p.bias)), p.gamma);
    }
    case 'monte-carlo': {
      // x[0]: normals drawn on the host (tfjs draws random numbers on the CPU).
      const dt = 1 / p.steps;
      const logReturn = tf.sum(tf.add(tf.mul(x[0], p.sigma * Math.sqrt(dt)), (p.mu - 0.5 * p.sigma * p.sigma) * dt), 0);
      return tf.mean(tf.mul(tf.exp(logReturn), p.s0));
    }
    case 'elementwise': {
      const t = tf.mul(tf.tanh(tf.add(tf.mul(x[0], 0.9), 0.1)), x[0]);
      return tf.sqrt(tf.exp(tf.sub(tf.sigmoid(t), 0.5)));
    }
    case 'covariance': {
      const c = tf.sub(x[0], tf.mean(x[0], 0, true));
      return tf.div(tf.matMul(c, c, true, false), p.n - 1);
    }
    case 'pca': {
      const c = tf.sub(x[0], tf.mean(x[0], 0, true));
      const cov = tf.div(tf.matMul(c, c, true, false), p.n - 1);
      let v: TFTensor = tf.fill([p.d, 1], 1 / Math.sqrt(p.d));
      for (let i = 0; i < p.iters; i++) {
        const u = tf.matMul(cov, v);
        v = tf.div(u, tf.norm(u));
      }
      return v;
    }
    case 'mlp': {
      const h = tfGelu(tf, tf.add(tf.matMul(x[0], x[1], false, true), x[2]));
      return tf.add(tf.matMul(h, x[3], false, true), x[4]);
    }
    case 'layernorm-softmax': {
      const { mean, variance } = tf.moments(x[0], -1, true);
      const y = tf.add(tf.mul(tf.mul(tf.sub(x[0], mean), tf.rsqrt(tf.add(variance, p.eps))), x[1]), x[2]);
      return tf.softmax(y, -1);
    }
  }
}

class TfjsEngine implements Engine {
  readonly name = 'tfjs' as const;
  private tf: TF | null = null;

  async start(): Promise<string | null> {
    let tf: TF;
    try {
      tf = (await import('@tensorflow/tfjs-core')) as TF;
      await import('@tensorflow/tfjs-backend-webgpu');
    } catch (err) {
      return `not installed (npm install -D @tensorflow/tfjs-core@4.22.0 @tensorflow/tfjs-backend-webgpu@4.22.0): ${errorText(err)}`;
    }
    // The CommonJS build of tfjs-core is what Node loads; its default export holds the namespace.
    const ns = ((tf as unknown as { default?: TF }).default ?? tf) as TF;
    try {
      if (!(await ns.setBackend('webgpu'))) return 'tf.setBackend("webgpu") failed (no adapter for tfjs?)';
      await ns.ready();
    } catch (err) {
      return `the webgpu backend did not start: ${errorText(err)}`;
    }
    this.tf = ns;
    return null;
  }

  version(): string | null {
    return this.tf?.version_core ?? null;
  }

  private backend(): TfWebGpuBackend {
    return this.tf!.backend() as unknown as TfWebGpuBackend;
  }

  /** tfjs records dispatches into a command encoder it submits every few dispatches: flush, then wait. */
  private async finish(): Promise<void> {
    const b = this.backend();
    if (b.commandEncoder) {
      b.endComputePassEncoder();
      b.submitQueue();
    }
    await b.device.queue.onSubmittedWorkDone();
  }

  async prepare(w: Workload, host: HostData): Promise<Prepared> {
    const tf = this.tf!;
    let note: string | undefined;
    let inputs: TFTensor[];
    if (w.kind === 'monte-carlo') {
      inputs = [tf.tensor(host.mcNormals(w), [w.params.steps as number, w.params.paths as number])];
      note = 'normals drawn on the host and read from device memory (tfjs has no GPU random generator); drawing them is not timed';
    } else {
      inputs = w.inputs.map((spec, i) => tf.tensor(host.get(w)[i], spec.shape));
    }
    const build = () => tf.tidy(() => buildTfjs(tf, w, inputs));
    return {
      note,
      run: async () => {
        const y = build();
        await this.finish();
        y.dispose();
      },
      gpuMs: async () => {
        let y: TFTensor | null = null;
        const info = await tf.time(() => {
          y = build();
        });
        (y as TFTensor | null)?.dispose();
        return typeof info.kernelMs === 'number' && info.kernelMs > 0 ? info.kernelMs : null;
      },
      stats: async () => {
        let y: TFTensor | null = null;
        const info = await tf.profile(() => (y = build()));
        await this.finish();
        (y as TFTensor | null)?.dispose();
        return { dispatches: info.kernels.length, bytesMoved: null, peakBytes: info.peakBytes };
      },
      output: async () => {
        const y = build();
        const data = await y.data();
        y.dispose();
        return Float32Array.from(data as Float32Array);
      },
      dispose: () => inputs.forEach((t) => t.dispose()),
    };
  }

  async stop(): Promise<void> {
    if (!this.tf) return;
    try {
      this.tf.disposeVariables();
      this.tf.removeBackend('webgpu'); // disposes its buffers and pipelines
    } catch {
      // a backend that failed to stop cleanly does not affect the results
    }
    this.tf = null;
  }
}

// ---- jax-js (WebGPU device) ----

type JAX = typeof import('@jax-js/jax');
type JaxArray = import('@jax-js/jax').Array;

/** Builds the jit-able function of a workload. jax-js moves arrays into calls: `.ref` keeps one alive. */
function jaxFunction(jx: JAX, w: Workload): (...args: JaxArray[]) => JaxArray {
  const np = jx.numpy;
  const nn = jx.nn;
  const p = w.params as Record<string, number>;
  switch (w.kind) {
    case 'gemm':
      return (a, b) => np.matmul(a, w.params.tB ? b.transpose(p.batch ? [0, 2, 1] : [1, 0]) : b);
    case 'gemm-bias-gelu':
      return (a, b, bias) => nn.gelu(np.matmul(a, b).add(bias));
    case 'image':
      return (img) => {
        const mean = np.mean(img.ref, [1, 2], { keepdims: true });
        const std = np.sqrt(np.var_(img.ref, [1, 2], { keepdims: true }));
        const y = img.sub(mean).div(std.add(p.eps)).mul(p.gain).add(p.bias);
        return np.power(np.maximum(y, 0), p.gamma);
      };
    case 'monte-carlo':
      return (key) => {
        const dt = 1 / p.steps;
        const z = jx.random.normal(key, [p.steps, p.paths]);
        const logReturn = z.mul(p.sigma * Math.sqrt(dt)).add((p.mu - 0.5 * p.sigma * p.sigma) * dt).sum(0);
        return np.exp(logReturn).mul(p.s0).mean();
      };
    case 'elementwise':
      return (x) => {
        const t = np.tanh(x.ref.mul(0.9).add(0.1)).mul(x);
        return np.sqrt(np.exp(nn.sigmoid(t).sub(0.5)));
      };
    case 'covariance':
      return (x) => {
        const c = x.ref.sub(np.mean(x, 0, { keepdims: true }));
        return np.matmul(c.ref.transpose([1, 0]), c).div(p.n - 1);
      };
    case 'pca':
      return (x) => {
        const c = x.ref.sub(np.mean(x, 0, { keepdims: true }));
        const cov = np.matmul(c.ref.transpose([1, 0]), c).div(p.n - 1);
        let v = np.ones([p.d, 1]).div(Math.sqrt(p.d));
        // Arrays move into calls: every product but the last takes a new reference to cov.
        for (let i = 0; i < p.iters; i++) {
          const u = np.matmul(i + 1 < p.iters ? cov.ref : cov, v);
          v = u.ref.div(np.sqrt(np.square(u).sum()));
        }
        return v;
      };
    case 'mlp':
      return (x, w1, b1, w2, b2) => {
        const h = nn.gelu(np.matmul(x, w1.transpose([1, 0])).add(b1));
        return np.matmul(h, w2.transpose([1, 0])).add(b2);
      };
    case 'layernorm-softmax':
      return (x, weight, bias) => {
        const c = x.ref.sub(np.mean(x, -1, { keepdims: true }));
        const v = np.mean(np.square(c.ref), -1, { keepdims: true });
        const y = c.div(np.sqrt(v.add(p.eps))).mul(weight).add(bias);
        return nn.softmax(y, -1);
      };
  }
}

class JaxEngine implements Engine {
  readonly name = 'jax-js' as const;
  private jx: JAX | null = null;

  async start(): Promise<string | null> {
    let jx: JAX;
    try {
      jx = (await import('@jax-js/jax')) as JAX;
    } catch (err) {
      return `not installed (npm install -D @jax-js/jax): ${errorText(err)}`;
    }
    try {
      const devices = await jx.init('webgpu');
      if (!devices.includes('webgpu')) return `jax-js found no WebGPU device (it has ${devices.join(', ')})`;
      jx.defaultDevice('webgpu');
    } catch (err) {
      return `jax-js's webgpu device did not start: ${errorText(err)}`;
    }
    this.jx = jx;
    return null;
  }

  version(): string | null {
    return null;
  }

  async prepare(w: Workload, host: HostData): Promise<Prepared> {
    const jx = this.jx!;
    const np = jx.numpy;
    const args: JaxArray[] =
      w.kind === 'monte-carlo' ? [jx.random.key(GBM.seed)] : w.inputs.map((spec, i) => np.array(host.get(w)[i]).reshape(spec.shape));
    const fn = jx.jit(jaxFunction(jx, w));
    const call = () => fn(...args.map((a) => a.ref)) as JaxArray;
    return {
      note: w.kind === 'monte-carlo' ? 'normals from jax.random (threefry) on the GPU' : undefined,
      async run() {
        const y = call();
        await y.blockUntilReady();
        y.dispose();
      },
      gpuMs: async () => null,
      stats: async () => ({ dispatches: null, bytesMoved: null, peakBytes: null }),
      async output() {
        const data = await call().data(); // data() consumes the array
        return Float32Array.from(data as Float32Array);
      },
      dispose() {
        args.forEach((a) => a.dispose());
        fn.dispose();
      },
    };
  }

  async stop(): Promise<void> {
    this.jx = null;
  }
}

function makeEngine(name: EngineName): Engine {
  switch (name) {
    case 'wgfuse':
    case 'wgfuse-unfused':
      return new WgfuseEngine(name);
    case 'tfjs':
      return new TfjsEngine();
    case 'jax-js':
      return new JaxEngine();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Device, the copy limit, measurement
// ---------------------------------------------------------------------------------------------------------

export interface DeviceInfo {
  adapter: string;
  slug: string;
  vendor: string;
  architecture: string;
  software: boolean;
  path: string;
  features: string[];
  maxBufferSize: number;
  /** False where Dawn rounds timestamps to 65,536 ns (the bench could not open its own instance). */
  exactTimestamps: boolean;
}

/**
 * Dawn flags of the bench's own WebGPU instance: wgfuse's (src/runtime/node-gpu.ts: no zero-fill of
 * workgroup memory) plus exact timestamps. Dawn rounds timestamps to multiples of 65,536 ns unless its
 * `timestamp_quantization` toggle is off, which would make every short kernel read 0 or 65.5 us.
 */
const BENCH_DAWN_FLAGS = ['enable-dawn-features=disable_workgroup_init', 'disable-dawn-features=timestamp_quantization'];

/**
 * Makes one GPU object from the `webgpu` package (or a browser's) the `navigator.gpu` of this process, with
 * WebGPU's global constants: wgfuse, tfjs and jax-js all find their adapter there (Node 20 has no navigator).
 * wgfuse itself would reach Node's GPU by a dynamic import that a bundle cannot follow; navigator.gpu works
 * in both. wgfuse's driver probe picks the adapter; the bench then opens its own instance on the same driver
 * with exact timestamps, and keeps the probe's instance if that instance does not yield the same adapter.
 */
export async function installNavigatorGpu(): Promise<{ gpu: GPU; path: string; exactTimestamps: boolean }> {
  const g = globalThis as { navigator?: { gpu?: GPU } };
  if (g.navigator?.gpu) return { gpu: g.navigator.gpu, path: 'navigator.gpu (already installed)', exactTimestamps: false };
  const selection = await selectNodeGpu({ software: 'fallback' });
  if (!selection.gpu) throw new WgfuseError(`bench: no WebGPU adapter: ${selection.reason}`);
  const webgpu = await import('webgpu');
  let gpu = selection.gpu;
  let exactTimestamps = false;
  try {
    const probed = await selection.gpu.requestAdapter({ powerPreference: 'high-performance' });
    const userDriver = Boolean(process.env.VK_DRIVER_FILES || process.env.VK_ICD_FILENAMES);
    // The probe reached SwiftShader through VK_ICD_FILENAMES, set only while its instance found adapters.
    const swiftshader = selection.path === 'swiftshader' && !userDriver;
    if (swiftshader) process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    let own: GPU;
    let adapter: GPUAdapter | null;
    try {
      own = webgpu.create(BENCH_DAWN_FLAGS);
      adapter = await own.requestAdapter({ powerPreference: 'high-performance' });
    } finally {
      if (swiftshader) delete process.env.VK_ICD_FILENAMES;
    }
    if (probed && adapter && adapterName(adapter.info) === adapterName(probed.info)) {
      gpu = own;
      exactTimestamps = true;
    }
  } catch {
    // keep the probe's instance
  }
  for (const [k, v] of Object.entries(webgpu.globals)) if (!(k in globalThis)) Object.defineProperty(globalThis, k, { value: v, configurable: true, writable: true });
  if (g.navigator) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  else {
    const navigator = { gpu, userAgent: `Node.js/${process.version}`, hardwareConcurrency: os.cpus().length, language: 'en-US' };
    Object.defineProperty(globalThis, 'navigator', { value: navigator, configurable: true, writable: true });
  }
  return { gpu, path: `${selection.path}: ${selection.reason}`, exactTimestamps };
}

export function slugify(s: string): string {
  return (
    s
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 60) || 'unknown-device'
  );
}

async function describeDevice(gpu: GPU, path: string, exactTimestamps: boolean): Promise<DeviceInfo> {
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new WgfuseError('bench: the GPU offers no adapter');
  const info = adapter.info;
  // Dawn puts the product name (e.g. "NVIDIA H100 80GB HBM3") in `device` and the driver in `description`.
  const name = /[a-z]{3}/i.test(info.device ?? '') ? info.device : info.description || info.device || 'unknown device';
  const software = info.isFallbackAdapter || /swiftshader|llvmpipe|lavapipe/i.test(`${info.vendor} ${info.architecture} ${info.description}`);
  return {
    adapter: [name, info.description && info.description !== name ? `(${info.description})` : ''].filter(Boolean).join(' '),
    slug: slugify(name),
    vendor: info.vendor,
    architecture: info.architecture,
    software,
    path,
    features: [...adapter.features].sort(),
    maxBufferSize: adapter.limits.maxBufferSize,
    exactTimestamps,
  };
}

export interface CopyLimit {
  bytes: number;
  ms: number;
  /** Bytes read plus bytes written per second, in GB/s (1e9). */
  gbps: number;
  method: string;
}

/** A WGSL copy, one vec4 per thread over a 2-D grid: what a bandwidth-bound kernel can reach. */
function copyShader(vec4s: number, columns: number): string {
  return `@group(0) @binding(0) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<f32>>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let i = g.x + g.y * ${columns * 256}u;
  if (i < ${vec4s}u) { dst[i] = src[i]; }
}`;
}

/**
 * The bandwidth limits seen through WebGPU: copyBufferToBuffer of one large buffer and a WGSL vec4 copy
 * kernel, several per submit, median wall time per copy (bytes read plus written).
 */
async function measureCopies(gpu: GPU, smoke: boolean): Promise<{ copy: CopyLimit; shaderCopy: CopyLimit | null }> {
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new WgfuseError('bench: no adapter for the copy measurement');
  const limits = adapter.limits;
  const device = await adapter.requestDevice({
    requiredLimits: { maxBufferSize: limits.maxBufferSize, maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize, maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension },
  });
  try {
    const want = smoke ? 4 << 20 : 1 << 30;
    const bytes = Math.min(want, Math.floor(Math.min(limits.maxBufferSize, limits.maxStorageBufferBindingSize) / 16) * 16);
    const usage = BufferUsage.COPY_SRC | BufferUsage.COPY_DST | BufferUsage.STORAGE;
    const src = device.createBuffer({ size: bytes, usage });
    const dst = device.createBuffer({ size: bytes, usage });
    // Random contents (never time on zeros): one random chunk written over the whole buffer.
    const chunk = hostRandom(Math.min(bytes, 16 << 20) / 4, 99, -1, 1);
    for (let off = 0; off < bytes; off += chunk.byteLength) {
      device.queue.writeBuffer(src, off, chunk.buffer, 0, Math.min(chunk.byteLength, bytes - off));
    }
    const reps = smoke ? 4 : 20;
    const trials = smoke ? 3 : 7;
    const time = async (encode: (enc: GPUCommandEncoder) => void): Promise<number> => {
      const once = async () => {
        const enc = device.createCommandEncoder();
        encode(enc);
        const t0 = performance.now();
        device.queue.submit([enc.finish()]);
        await device.queue.onSubmittedWorkDone();
        return (performance.now() - t0) / reps;
      };
      await device.queue.onSubmittedWorkDone();
      await once();
      const times: number[] = [];
      for (let t = 0; t < trials; t++) times.push(await once());
      return median(times);
    };
    const limit = (ms: number, method: string): CopyLimit => ({ bytes, ms, gbps: (2 * bytes) / (ms * 1e6), method });
    const ms = await time((enc) => {
      for (let r = 0; r < reps; r++) enc.copyBufferToBuffer(src, 0, dst, 0, bytes);
    });
    const copy = limit(ms, `WebGPU copyBufferToBuffer of ${formatBytes(bytes)}, ${reps} per submit, median of ${trials}`);
    let shaderCopy: CopyLimit | null = null;
    try {
      const vec4s = bytes / 16;
      const columns = Math.min(4096, Math.ceil(vec4s / 256));
      const rows = Math.ceil(vec4s / 256 / columns);
      device.pushErrorScope('validation');
      const module = device.createShaderModule({ code: copyShader(vec4s, columns) });
      const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
      const bindGroup = device.createBindGroup({
        layout: pipeline.getBindGroupLayout(0),
        entries: [
          { binding: 0, resource: { buffer: src } },
          { binding: 1, resource: { buffer: dst } },
        ],
      });
      const sms = await time((enc) => {
        const pass = enc.beginComputePass();
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, bindGroup);
        for (let r = 0; r < reps; r++) pass.dispatchWorkgroups(columns, rows);
        pass.end();
      });
      const err = await device.popErrorScope();
      if (err) throw new Error(err.message);
      shaderCopy = limit(sms, `WGSL vec4 copy kernel over ${formatBytes(bytes)}, ${reps} per submit, median of ${trials}`);
    } catch {
      shaderCopy = null;
    }
    src.destroy();
    dst.destroy();
    return { copy, shaderCopy };
  } finally {
    device.destroy();
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export type ResultStatus = 'ok' | 'mismatch' | 'error' | 'skipped' | 'unavailable';

export interface EngineResult {
  engine: string;
  status: ResultStatus;
  /** Why an engine was skipped, unavailable or failed; remarks on how it ran. */
  note?: string;
  /** Median wall-clock ms of a run: building the computation, submitting it and waiting for the GPU. */
  wallMs?: number;
  wallMsAll?: number[];
  /** wgfuse: the median wall ms of a run through the lazy API without wg.jit (runs as many as the timed ones). */
  lazyWallMs?: number;
  /** The first (compiling) run. */
  firstMs?: number;
  /** Median GPU ms from timestamp queries (kernels only), where the engine exposes them. */
  gpuMs?: number | null;
  dispatches?: number | null;
  bytesMoved?: number | null;
  peakBytes?: number | null;
  check?: CheckResult;
  /** Engine counters over the timed runs (wgfuse's telemetry): where wall time beyond GPU time went. */
  diagnostics?: Record<string, number>;
  /** When the timed runs started (ISO 8601). */
  timedAt?: string;
  /** Garbage collections of the JS engine that overlapped the timed runs, where any did (bench-gc.ts). */
  gc?: GcPauses;
}

/**
 * Least warm-up time per measurement when warm-up runs are asked for (full sizes). An H100 left idle while
 * the host checks a result (seconds, for the float64 recomputations) drops to 345 MHz and takes 1-2 s of
 * work to climb back to 1980 MHz (bench/run-gpu.sh's clocks.csv, 2026-11-24): with 300 ms, rows measured
 * right after such a pause ran at 600-1200 MHz, 1.5-3.5x slow.
 */
const WARMUP_MS = 2000;

/**
 * Saturating GPU work before each engine's timed runs (--burn-ms, gpu-burn.ts), off by default. Tried on the
 * H100 on 2026-11-24 to hold the clock up for the small rows: it did (1980 MHz throughout), but the runs
 * right after it were slow on the host side (layerNorm + softmax 8192x1024: 0.082 and 0.109 ms wall without
 * a burn in two calls, 0.178 with one, 0.132 with 300 ms of the workload's own runs after it; the GPU time
 * 0.037-0.038 ms in all). (The warm-up then stopped after 1,000 runs, 0.1-0.3 s for small rows; it now
 * lasts its 2 s.)
 */
const BURN_MS = 0;

/**
 * After the major collection that precedes the timed runs (bench-gc.ts), the workload's own runs for this
 * long: the GPU idled through the pause. Short enough that the old generation has not filled again by the
 * timed runs (a loop of small evaluations brought on a mark-compact every 0.1-1 s on the H100's host). On
 * the H100 (gc-ab-2026-11-25-stop19/, two rounds each) neither 20 nor 200 ms let a major collection into
 * the timed runs of seven rows, and with 200 the small rows were as fast or faster (layerNorm + softmax
 * 0.068 / 0.082 ms against 0.101 / 0.128; the 1M chain 0.069 / 0.059 against 0.099 / 0.105); without the
 * collection, image-32's timed runs held one in both rounds.
 */
const AFTER_GC_MS = 200;
const SETTLE_MS = 300;

async function measure(
  engine: Engine,
  w: Workload,
  host: HostData,
  checker: Checker,
  // afterGcMs: runs after a major collection before the timed runs, ms; null: no collection.
  o: Required<Pick<BenchOptions, 'runs' | 'warmup' | 'gpuTiming' | 'burnMs' | 'settleMs'>> & { afterGcMs: number | null },
  burner: GpuBurner | null,
  gc: GcControl,
): Promise<EngineResult> {
  let prepared: Prepared | string;
  try {
    prepared = await engine.prepare(w, host);
  } catch (err) {
    return { engine: engine.name, status: 'error', note: `prepare: ${errorText(err)}` };
  }
  if (typeof prepared === 'string') return { engine: engine.name, status: 'skipped', note: prepared };
  const p = prepared;
  const result: EngineResult = { engine: engine.name, status: 'ok', note: p.note };
  let stage = 'first run';
  try {
    let t0 = performance.now();
    await p.run();
    result.firstMs = performance.now() - t0;
    stage = 'warm-up';
    // At least `warmup` runs and, at full sizes, at least WARMUP_MS of them: a GPU that idled while the host
    // checked the previous result runs at low clocks for a while (seen on an H100: the first runs 3x slower).
    const warmStart = performance.now();
    // Bounded by time alone: a count cap (1,000 runs until 2026-11-24) cut the warm-up of the small rows to
    // 0.1-0.3 s, and they were timed while the clock was still climbing (run 8: bgemm at 630-825 MHz).
    for (let i = 0; i < o.warmup || (o.warmup > 0 && performance.now() - warmStart < WARMUP_MS); i++) await p.run();
    if (burner && o.burnMs > 0) {
      stage = 'clock burn';
      await burner.burn(o.burnMs);
      // The workload itself again before the timing: right after the burn (another device's work) the
      // first runs are slow (0.57 ms, then 0.20, 0.14 ... 0.095 for layerNorm + softmax on 2026-11-24).
      stage = 'settling';
      const settleStart = performance.now();
      do await p.run();
      while (performance.now() - settleStart < o.settleMs);
    }
    if (o.afterGcMs !== null) {
      stage = 'collecting garbage';
      gc.collectNow();
      const after = performance.now();
      do await p.run();
      while (performance.now() - after < o.afterGcMs);
    }
    stage = 'timed runs';
    // When, to the millisecond, so that the row can be read against a clock log (bench/run-gpu.sh).
    result.timedAt = new Date().toISOString();
    const times: number[] = [];
    p.diagnostics?.reset();
    const timedFrom = performance.now();
    for (let i = 0; i < o.runs; i++) {
      t0 = performance.now();
      await p.run();
      times.push(performance.now() - t0);
    }
    const pauses = await gc.pausesIn(timedFrom, performance.now());
    if (pauses.count > 0) result.gc = { ...pauses, ms: Number(pauses.ms.toFixed(3)) };
    if (p.diagnostics) result.diagnostics = p.diagnostics.read();
    result.wallMs = median(times);
    result.wallMsAll = times.map((t) => Number(t.toFixed(4)));
    if (p.runLazy) {
      stage = 'lazy runs';
      // Right after the timed runs, the GPU still at its clock: two warm-up runs, then as many timed.
      for (let i = 0; i < Math.min(2, o.warmup); i++) await p.runLazy();
      const lazy: number[] = [];
      for (let i = 0; i < o.runs; i++) {
        t0 = performance.now();
        await p.runLazy();
        lazy.push(performance.now() - t0);
      }
      result.lazyWallMs = median(lazy);
    }
    stage = 'GPU-timed runs';
    if (o.gpuTiming) {
      const gpu: number[] = [];
      for (let i = 0; i < o.runs; i++) {
        const ms = await p.gpuMs();
        if (ms === null) break;
        gpu.push(ms);
      }
      result.gpuMs = gpu.length ? median(gpu) : null;
    }
    stage = 'stats';
    Object.assign(result, await p.stats());
    stage = 'read-back';
    const out = await p.output();
    stage = 'check';
    result.check = checker.check(w, engine.name, out);
    if (!result.check.ok) result.status = 'mismatch';
  } catch (err) {
    result.status = 'error';
    result.note = `${stage}: ${errorText(err)}`;
  } finally {
    try {
      p.dispose();
    } catch {
      // disposal errors do not change the measurement
    }
  }
  return result;
}

// ---------------------------------------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------------------------------------

export interface WorkloadReport extends WorkloadSpec {
  results: EngineResult[];
}

export interface BenchReport {
  schema: 'wgfuse-bench/1';
  created: string;
  mode: 'smoke' | 'full';
  runs: number;
  warmup: number;
  device: DeviceInfo;
  host: { node: string; platform: string; cpus: number; cpuModel: string };
  engines: { name: string; status: 'ok' | 'unavailable'; version: string | null; note?: string }[];
  limits: {
    copy: CopyLimit | null;
    shaderCopy?: CopyLimit | null;
    /** Filled in by --merge-torch. */
    torch?: TorchLimits;
  };
  workloads: WorkloadReport[];
  /** Milliseconds of saturating GPU work before each engine's timed runs (0: none; see gpu-burn.ts). */
  clockBurnMs?: number;
  /** Milliseconds of the workload's own runs between the burn and the timed runs. */
  settleMs?: number;
  /** Milliseconds of the workload's own runs between a major garbage collection and the timed runs; null: no collection. */
  afterGcMs?: number | null;
  /** Results that failed a check or, for wgfuse, failed to run. */
  failures: string[];
  torch?: { device: string; torch: string; cuda: string | null; file: string };
  /** Engines measured by another run of the harness and merged in (--merge-results). */
  merged?: { file: string; created: string; engines: string[] }[];
}

export interface TorchLimits {
  /** Device-to-device copy, bytes read plus written per second (GB/s). */
  copyGBps?: number;
  /** cuBLAS float32 GEMM with TF32 off: TFLOP/s at the size named in gemmShape. */
  gemmTflops?: number;
  gemmShape?: string;
}

export async function benchCommand(options: BenchOptions = {}, log: Log = console.log): Promise<number> {
  if (options.mergeTorch) return mergeTorch(options, log);
  if (options.mergeResults) return mergeResults(options, log);
  const smoke = options.smoke ?? false;
  let workloads = makeWorkloads(smoke);
  if (options.only) {
    const re = new RegExp(options.only);
    workloads = workloads.filter((w) => re.test(w.id));
    if (workloads.length === 0) throw new WgfuseError(`bench: --only ${options.only} matches no workload`);
  }
  if (options.list) {
    log(JSON.stringify(workloads.map(specOf), null, 2));
    return 0;
  }
  for (const n of [...(options.engines ?? []), ...(options.exceptEngines ?? [])]) {
    if (!(ENGINE_NAMES as readonly string[]).includes(n)) throw new WgfuseError(`bench: unknown engine ${n} (known: ${ENGINE_NAMES.join(', ')})`);
  }
  const names = ((options.engines ?? ENGINE_NAMES) as string[]).filter((n) => !options.exceptEngines?.includes(n));
  if (names.length === 0) throw new WgfuseError('bench: --except leaves no engine to run');
  const o = {
    runs: options.runs ?? (smoke ? 3 : 10),
    warmup: options.warmup ?? (smoke ? 0 : 2),
    gpuTiming: options.gpuTiming ?? true,
    burnMs: options.burnMs ?? BURN_MS,
    settleMs: options.settleMs ?? SETTLE_MS,
    collect: options.collect ?? true,
    afterGcMs: options.afterGcMs ?? AFTER_GC_MS,
  };
  if (o.runs < 1) throw new WgfuseError('bench: --runs must be at least 1');
  const started = performance.now();
  const overBudget = () => options.maxSeconds !== undefined && (performance.now() - started) / 1000 > options.maxSeconds;

  const { gpu, path, exactTimestamps } = await installNavigatorGpu();
  const device = await describeDevice(gpu, path, exactTimestamps);
  const dir = resolve(options.out ?? 'bench/results', device.slug);
  mkdirSync(dir, { recursive: true });
  log(`wgfuse bench (${smoke ? 'smoke' : 'full'} sizes, median of ${o.runs} runs after ${o.warmup + 1} warm-up): ${device.adapter}${device.software ? ' [software adapter: timings mean nothing]' : ''}`);

  const report: BenchReport = {
    schema: 'wgfuse-bench/1',
    created: new Date().toISOString(),
    mode: smoke ? 'smoke' : 'full',
    runs: o.runs,
    warmup: o.warmup,
    device,
    host: { node: process.version, platform: `${process.platform}-${process.arch}`, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? '' },
    engines: [],
    limits: { copy: null },
    workloads: workloads.map((w) => ({ ...specOf(w), results: [] })),
    failures: [],
  };
  const save = () => writeReport(dir, report);
  save();

  try {
    const { copy, shaderCopy } = await measureCopies(gpu, smoke);
    report.limits.copy = copy;
    report.limits.shaderCopy = shaderCopy;
    log(`  copy limit: ${copy.gbps.toFixed(1)} GB/s (${copy.method})`);
    log(`  copy limit: ${shaderCopy ? `${shaderCopy.gbps.toFixed(1)} GB/s (${shaderCopy.method})` : 'the WGSL copy kernel failed'}`);
  } catch (err) {
    log(`  copy limit: failed: ${errorText(err)}`);
  }

  const burner = smoke || device.software || o.burnMs <= 0 ? null : await makeGpuBurner(gpu);
  const gc = GcControl.create();
  if (o.collect && !gc.available) log('  garbage collection: cannot be started by the harness here; the timed runs may include its pauses');
  report.clockBurnMs = burner ? o.burnMs : 0;
  report.settleMs = burner ? o.settleMs : 0;
  const afterGcMs = o.collect && o.warmup > 0 && gc.available ? o.afterGcMs : null;
  report.afterGcMs = afterGcMs;
  const host = new HostData();
  const checker = new Checker(host, smoke);
  for (const name of names as EngineName[]) {
    const engine = makeEngine(name);
    let unavailable: string | null;
    try {
      unavailable = await engine.start();
    } catch (err) {
      unavailable = errorText(err);
    }
    report.engines.push({ name, status: unavailable ? 'unavailable' : 'ok', version: unavailable ? null : engine.version(), note: unavailable ?? undefined });
    if (unavailable) {
      log(`  ${name}: unavailable: ${unavailable}`);
      report.workloads.forEach((r) => r.results.push({ engine: name, status: 'unavailable', note: unavailable! }));
      if (name === 'wgfuse' || name === 'wgfuse-unfused') report.failures.push(`${name}: unavailable: ${unavailable}`);
      save();
      continue;
    }
    for (const [i, w] of workloads.entries()) {
      const wr = report.workloads[i];
      if (overBudget()) {
        wr.results.push({ engine: name, status: 'skipped', note: `time budget (--max-seconds ${options.maxSeconds}) spent` });
        continue;
      }
      const r = await measure(engine, w, host, checker, { ...o, afterGcMs }, burner, gc);
      wr.results.push(r);
      const failed = r.status === 'mismatch' || (r.status === 'error' && name.startsWith('wgfuse'));
      if (failed) report.failures.push(`${name} ${w.id}: ${r.status}${r.note ? `: ${r.note}` : ''}${r.check && !r.check.ok ? `: ${r.check.detail}, error ${r.check.error}` : ''}`);
      log(`  ${name.padEnd(15)} ${w.id.padEnd(32)} ${describeResult(r)}`);
    }
    await engine.stop();
    save();
  }
  burner?.destroy();
  gc.stop();
  save();
  log('');
  summaryTable(report).forEach((l) => log(l));
  log('');
  log(`report: ${join(dir, 'results.md')} (and results.json, chart.svg)`);
  if (report.failures.length) {
    log(`${report.failures.length} failure(s):`);
    report.failures.forEach((f) => log(`  ${f}`));
    return 1;
  }
  log('all checks passed');
  return 0;
}

function describeResult(r: EngineResult): string {
  if (r.status === 'skipped' || r.status === 'unavailable') return `${r.status}: ${r.note}`;
  if (r.status === 'error') return `ERROR: ${r.note}`;
  const gpu = r.gpuMs != null ? `, gpu ${fmtMs(r.gpuMs)} ms` : '';
  const d = r.dispatches != null ? `, ${r.dispatches} dispatches` : '';
  const check = r.check ? `${r.check.ok ? 'OK' : 'MISMATCH'} (${r.check.kind} ${r.check.error.toExponential(1)} <= ${r.check.tolerance.toExponential(0)})` : '';
  return `${fmtMs(r.wallMs!)} ms${gpu}${d}  ${check}`;
}

// ---- merging the PyTorch peer ----

interface TorchFile {
  schema: string;
  device: string;
  torch: string;
  cuda: string | null;
  limits?: TorchLimits;
  workloads: { id: string; results: EngineResult[] }[];
}

function findReport(options: BenchOptions): string {
  if (options.report) return resolve(options.report, 'results.json');
  const root = resolve(options.out ?? 'bench/results');
  if (existsSync(join(root, 'results.json'))) return join(root, 'results.json');
  const dirs = existsSync(root) ? readdirSync(root).filter((d) => existsSync(join(root, d, 'results.json'))) : [];
  if (dirs.length !== 1) throw new WgfuseError(`bench: merging needs --report DIR: ${root} holds ${dirs.length} reports (${dirs.join(', ') || 'none'})`);
  return join(root, dirs[0], 'results.json');
}

async function mergeTorch(options: BenchOptions, log: Log): Promise<number> {
  const file = resolve(options.mergeTorch!);
  const torch = JSON.parse(readFileSync(file, 'utf8')) as TorchFile;
  if (!String(torch.schema).startsWith('wgfuse-bench-torch/')) throw new WgfuseError(`bench: ${file} is not a torch_peer.py result (schema ${torch.schema})`);
  const path = findReport(options);
  const report = JSON.parse(readFileSync(path, 'utf8')) as BenchReport;
  const torchEngines = new Set<string>();
  const isTorch = (engine: string) => engine.startsWith('torch');
  report.failures = report.failures.filter((f) => !failureOf(f, isTorch));
  let merged = 0;
  for (const tw of torch.workloads) {
    const wr = report.workloads.find((w) => w.id === tw.id);
    if (!wr) continue;
    wr.results = wr.results.filter((r) => !isTorch(r.engine) && r.engine !== 'cublas');
    for (const r of tw.results) {
      wr.results.push(r);
      torchEngines.add(r.engine);
      merged++;
      if (r.status === 'mismatch') report.failures.push(`${r.engine} ${tw.id}: mismatch: ${r.check?.detail ?? ''}`);
    }
  }
  report.limits.torch = torch.limits ?? {};
  report.torch = { device: torch.device, torch: torch.torch, cuda: torch.cuda, file };
  const added = [...torchEngines].sort((a, b) => engineRank(a) - engineRank(b)).map((name) => ({ name, status: 'ok' as const, version: torch.torch }));
  report.engines = report.engines.filter((e) => !isTorch(e.name)).concat(added);
  return writeMerged(path, report, log, `${merged} PyTorch results (${[...torchEngines].join(', ')}) from ${file}`, isTorch);
}

/** Whether a failure line (`ENGINE WORKLOAD: ...` or `ENGINE: ...`) is of an engine that `isMerged` names. */
const failureOf = (f: string, isMerged: (engine: string) => boolean) => isMerged(f.split(/[ :]/, 1)[0]);

/** Writes a report after a merge, prints its summary and the merged engines' failures; 1 if there are any. */
function writeMerged(path: string, report: BenchReport, log: Log, what: string, isMerged: (engine: string) => boolean): number {
  const dir = resolve(path, '..');
  writeReport(dir, report);
  summaryTable(report).forEach((l) => log(l));
  log(`merged ${what} into ${join(dir, 'results.md')}`);
  const failures = report.failures.filter((f) => failureOf(f, isMerged));
  failures.forEach((f) => log(`  ${f}`));
  return failures.length ? 1 : 0;
}

// ---- merging another run of the harness ----

/**
 * The engines of another run of the harness (same device, same sizes) into the report: each of its results
 * replaces the report's result of that engine and workload. One device call cannot always hold every engine
 * (bench/run-gpu.sh runs jax-js in the call that runs PyTorch); the report records where each part came from.
 */
async function mergeResults(options: BenchOptions, log: Log): Promise<number> {
  const file = resolve(options.mergeResults!);
  const other = JSON.parse(readFileSync(file, 'utf8')) as BenchReport;
  if (other.schema !== 'wgfuse-bench/1') throw new WgfuseError(`bench: ${file} is not a wgfuse bench report (schema ${String(other.schema)})`);
  const path = findReport(options);
  const report = JSON.parse(readFileSync(path, 'utf8')) as BenchReport;
  // The report's header states one device, one size mode and one method (runs, warm-up, collection) for all.
  const how = (r: BenchReport) => `${r.device.slug}, ${r.mode} sizes, ${r.runs} runs after ${r.warmup} warm-up, ${r.afterGcMs == null ? 'no collection' : `${r.afterGcMs} ms after a collection`}`;
  if (how(other) !== how(report)) throw new WgfuseError(`bench: cannot merge ${file} (${how(other)}) into ${path} (${how(report)})`);
  const engines = new Set(other.engines.map((e) => e.name).filter((n) => !n.startsWith('torch')));
  let merged = 0;
  for (const ow of other.workloads) {
    const wr = report.workloads.find((w) => w.id === ow.id);
    if (!wr) throw new WgfuseError(`bench: ${file} has workload ${ow.id}, which ${path} does not`);
    for (const r of ow.results.filter((x) => engines.has(x.engine))) {
      wr.results = wr.results.filter((x) => x.engine !== r.engine).concat(r);
      merged++;
    }
  }
  report.engines = report.engines.filter((e) => !engines.has(e.name)).concat(other.engines.filter((e) => engines.has(e.name)));
  report.engines.sort((a, b) => engineRank(a.name) - engineRank(b.name));
  const isMerged = (engine: string) => engines.has(engine);
  report.failures = report.failures.filter((f) => !failureOf(f, isMerged)).concat(other.failures.filter((f) => failureOf(f, isMerged)));
  report.merged = [...(report.merged ?? []), { file, created: other.created, engines: [...engines] }];
  return writeMerged(path, report, log, `${merged} results (${[...engines].join(', ')}) from ${file}`, isMerged);
}

// ---- writing results.json, results.md, chart.svg ----

function writeReport(dir: string, report: BenchReport): void {
  writeFileSync(join(dir, 'results.json'), JSON.stringify(report, null, 1) + '\n');
  writeFileSync(join(dir, 'results.md'), renderMarkdown(report));
  writeFileSync(join(dir, 'chart.svg'), renderChart(report));
}

function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  return ms >= 100 ? ms.toFixed(1) : ms >= 1 ? ms.toFixed(3) : ms.toPrecision(3);
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(n >= 100 ? 0 : 1)} ${units[i]}`;
}

const ENGINE_ORDER = ['wgfuse', 'wgfuse-unfused', 'tfjs', 'jax-js', 'torch', 'torch.compile'];
const engineRank = (e: string) => {
  const i = ENGINE_ORDER.indexOf(e);
  return i < 0 ? ENGINE_ORDER.length : i;
};

/** The time the hardware allows: the cuBLAS time of this very GEMM, else the roofline floor of the measured ceilings. */
export function limitOf(report: BenchReport, w: WorkloadReport): { ms: number; how: string } | null {
  if (w.kind === 'monte-carlo') return null; // nominal flops of a random generator make no honest floor
  if (w.kind === 'gemm') {
    const cublas = w.results.find((r) => r.engine === 'torch' && r.status === 'ok' && r.wallMs);
    if (cublas) return { ms: cublas.gpuMs ?? cublas.wallMs!, how: 'cuBLAS' };
  }
  const webgpu = Math.max(report.limits.copy?.gbps ?? 0, report.limits.shaderCopy?.gbps ?? 0);
  const bw = report.limits.torch?.copyGBps ?? (webgpu || undefined);
  const tf = report.limits.torch?.gemmTflops;
  const terms: number[] = [];
  if (bw) terms.push(w.minBytes / (bw * 1e6));
  if (tf) terms.push(w.flops / (tf * 1e9));
  if (terms.length === 0) return null;
  return { ms: Math.max(...terms), how: tf ? 'roofline' : 'bandwidth' };
}

function rateOf(w: WorkloadSpec, ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) return '-';
  if (w.kind === 'monte-carlo') return `${(((w.params.paths as number) * (w.params.steps as number)) / (ms * 1e6)).toPrecision(3)} Gsample/s`;
  if (w.bound === 'compute') {
    const gflops = w.flops / (ms * 1e6);
    return gflops >= 1000 ? `${(gflops / 1000).toFixed(2)} TFLOP/s` : `${gflops.toPrecision(3)} GFLOP/s`;
  }
  return `${(w.minBytes / (ms * 1e6)).toPrecision(3)} GB/s`;
}

/** A fraction as a percentage with sensible digits. */
function pct(f: number): string {
  const p = 100 * f;
  if (!Number.isFinite(p)) return '-';
  return `${p >= 10 ? p.toFixed(0) : p >= 1 ? p.toFixed(1) : p.toPrecision(2)}%`;
}

/** A Markdown table row; cells lose characters that would break it. */
function row(cells: readonly string[]): string {
  return `| ${cells.map((c) => c.replace(/\|/g, '/').replace(/\s*\n\s*/g, ' ')).join(' | ')} |`;
}

/** The summary table: wgfuse's wall time, its speedup over every other engine, and the share of the limit. */
function summaryTable(report: BenchReport): string[] {
  const L: string[] = [];
  const peers = [...new Set(report.workloads.flatMap((w) => w.results.filter((r) => r.engine !== 'wgfuse' && r.status === 'ok').map((r) => r.engine)))].sort((a, b) => engineRank(a) - engineRank(b));
  L.push(row(['workload', 'wgfuse ms', 'GPU ms', ...peers.map((p) => `x ${p}`), 'of limit']));
  L.push(row(['---', '---:', '---:', ...peers.map(() => '---:'), '---:']));
  for (const w of report.workloads) {
    const me = w.results.find((r) => r.engine === 'wgfuse');
    const ok = me?.status === 'ok' && me.wallMs;
    const lim = limitOf(report, w);
    const cells = peers.map((p) => {
      const r = w.results.find((x) => x.engine === p);
      return ok && r?.status === 'ok' && r.wallMs ? `${(r.wallMs / me!.wallMs!).toFixed(2)}` : '-';
    });
    L.push(row([w.id, ok ? fmtMs(me!.wallMs!) : (me?.status ?? '-'), ok && me!.gpuMs != null ? fmtMs(me!.gpuMs) : '-', ...cells, ok && lim ? pct(lim.ms / me!.wallMs!) : '-']));
  }
  return L;
}

function renderMarkdown(report: BenchReport): string {
  const L: string[] = [];
  const d = report.device;
  L.push(`# wgfuse bench: ${d.adapter}`);
  L.push('');
  L.push(`${report.mode === 'smoke' ? '**Smoke sizes** (tiny: these numbers only show the harness works). ' : ''}${report.created}, median of ${report.runs} runs after a first (compiling) run${report.warmup ? ` and ${report.warmup} warm-up runs (at least ${WARMUP_MS} ms of them)` : ''}${report.clockBurnMs ? `, then ${report.clockBurnMs} ms of saturating GPU arithmetic and ${report.settleMs ?? 0} ms more runs of the workload right before the timed runs (every engine, PyTorch too), so that each runs them at full clock` : ''}${report.afterGcMs != null ? `; before each engine's timed runs, a major garbage collection of the JS engine and ${report.afterGcMs} ms more runs of the workload` : ''}. Node ${report.host.node}, ${report.host.cpuModel} (${report.host.cpus} CPUs).${d.software ? ' **Software adapter: timings mean nothing.**' : ''}`);
  L.push('');
  L.push(
    `- **wall ms**: one run: building the computation (wgfuse: calling a \`wg.jit\` function, traced in the first run; jax-js: its jit; the others eagerly), submitting it and waiting for the GPU to finish (no read-back). wgfuse without jit is in the notes under each table. **GPU ms**: sum of kernel times from timestamp queries (wgfuse, tfjs${d.exactTimestamps ? '' : '; Dawn rounded each to a multiple of 65.5 us'}); PyTorch rows: CUDA events.`,
  );
  L.push('- **x ENGINE**: that engine\'s wall time / this row\'s (above 1: this row is faster). **of limit**: limit / wall time.');
  const c = report.limits.copy;
  const t = report.limits.torch;
  const sc = report.limits.shaderCopy;
  L.push(`- **limits**: copy ${c ? `${c.gbps.toFixed(0)} GB/s (${c.method})` : 'not measured'}${sc ? `; ${sc.gbps.toFixed(0)} GB/s (${sc.method})` : ''}${t?.copyGBps ? `; CUDA device-to-device copy ${t.copyGBps.toFixed(0)} GB/s` : ''}${t?.gemmTflops ? `; cuBLAS float32 GEMM (TF32 off) ${t.gemmTflops.toFixed(1)} TFLOP/s at ${t.gemmShape}` : ''}. A GEMM's limit is cuBLAS on that shape; elsewhere the roofline max(flops / GEMM rate, min bytes / copy bandwidth)${t ? '' : ' (without the PyTorch peer: bandwidth only)'}.`);
  if (report.torch) L.push(`- **PyTorch**: ${report.torch.torch} (CUDA ${report.torch.cuda ?? '-'}) on ${report.torch.device}; \`torch\` is eager (for GEMMs: cuBLAS, TF32 off), \`torch.compile\` is Inductor.`);
  for (const m of report.merged ?? []) L.push(`- **${m.engines.join(', ')}**: measured in another run of the harness on this device (started ${m.created}) and merged in.`);
  L.push(`- **engines**: ${report.engines.map((e) => `${e.name}${e.version ? ` ${e.version}` : ''}${e.status !== 'ok' ? ` (unavailable: ${e.note})` : ''}`).join('; ')}`);
  L.push('');
  L.push(report.failures.length ? `**${report.failures.length} failure(s):**\n\n${report.failures.map((f) => `- ${f}`).join('\n')}` : '**All checks passed.**');
  L.push('');

  L.push('## Summary: wgfuse speedup over each engine');
  L.push('');
  L.push(...summaryTable(report));
  L.push('');
  L.push('![speedups](chart.svg)');
  L.push('');

  for (const w of report.workloads) {
    const lim = limitOf(report, w);
    L.push(`## ${w.title}`);
    L.push('');
    L.push(`\`${w.id}\`: ${(w.flops / 1e9).toFixed(2)} GFLOP nominal, ${formatBytes(w.minBytes)} at least moved${lim ? `; limit ${fmtMs(lim.ms)} ms (${lim.how})` : '; no limit'}.`);
    L.push('');
    const rows = [...w.results].sort((a, b) => engineRank(a.engine) - engineRank(b.engine));
    const others = rows.filter((r) => r.status === 'ok' && r.wallMs).map((r) => r.engine);
    L.push(row(['engine', 'wall ms', 'GPU ms', 'rate', 'of limit', ...others.map((e) => `x ${e}`), 'dispatches', 'bytes moved', 'peak memory', 'first run ms', 'check']));
    L.push(row(['---', '---:', '---:', '---:', '---:', ...others.map(() => '---:'), '---:', '---:', '---:', '---:', '---']));
    for (const r of rows) {
      if (r.status !== 'ok' && r.status !== 'mismatch') {
        L.push(row([r.engine, r.status, r.note ?? '']));
        continue;
      }
      const ms = r.wallMs ?? NaN;
      const ratios = others.map((e) => {
        const o = w.results.find((x) => x.engine === e)!;
        return e === r.engine ? '1' : (o.wallMs! / ms).toFixed(2);
      });
      const check = r.check ? `${r.check.ok ? 'ok' : '**MISMATCH**'} ${r.check.kind} ${r.check.error.toExponential(1)}` : '-';
      L.push(
        row([
          r.engine,
          fmtMs(ms),
          r.gpuMs != null ? fmtMs(r.gpuMs) : '-',
          rateOf(w, ms),
          lim ? pct(lim.ms / ms) : '-',
          ...ratios,
          String(r.dispatches ?? '-'),
          r.bytesMoved != null ? formatBytes(r.bytesMoved) : '-',
          r.peakBytes != null ? formatBytes(r.peakBytes) : '-',
          r.firstMs != null ? fmtMs(r.firstMs) : '-',
          check,
        ]),
      );
    }
    const notes = rows.filter((r) => r.note && (r.status === 'ok' || r.status === 'mismatch')).map((r) => `- ${r.engine}: ${r.note}`);
    for (const r of rows) {
      if (r.lazyWallMs !== undefined && r.wallMs) notes.push(`- ${r.engine} without \`wg.jit\` (the expression rebuilt and looked up on each run): ${fmtMs(r.lazyWallMs)} ms wall, ${(r.lazyWallMs / r.wallMs).toFixed(2)}x the jitted run`);
      if (r.gc) notes.push(`- ${r.engine}: the JS engine's garbage collection took ${fmtMs(r.gc.ms)} ms of the timed runs (${r.gc.count} pause${r.gc.count > 1 ? 's' : ''}, ${r.gc.major} major; the harness collects before them)`);
    }
    for (const r of rows) {
      const d = r.diagnostics;
      if (!d || !(d.planCacheMisses || d.pipelinesCompiled || d.poolMisses || d.poolTrimmed)) continue;
      notes.push(
        `- ${r.engine}, over the ${d.evaluations} timed runs: ${d.planCacheMisses} plan-cache misses, ${d.pipelinesCompiled} pipelines compiled (${d.compileMs} ms), ${d.poolMisses} buffers created by the pool, ${d.poolTrimmed} destroyed by its cap`,
      );
    }
    if (notes.length) {
      L.push('');
      L.push(...notes);
    }
    L.push('');
  }
  L.push('Peak memory: wgfuse: the buffers one evaluation allocates (temporaries and outputs, inputs excluded); tfjs: `tf.profile` peak bytes; PyTorch: `max_memory_allocated` during one run. Bytes moved: the sum over wgfuse\'s dispatches of bytes read and written.');
  L.push('');
  return L.join('\n');
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Horizontal bars, one group per workload: wgfuse's speedup over each other engine, log2 axis. */
function renderChart(report: BenchReport): string {
  const peers = [...new Set(report.workloads.flatMap((w) => w.results.filter((r) => r.engine !== 'wgfuse' && r.status === 'ok').map((r) => r.engine)))].sort((a, b) => engineRank(a) - engineRank(b));
  const colors = ['#4c78a8', '#f58518', '#54a24b', '#e45756', '#b279a2', '#9d755d', '#72b7b2'];
  const rows = report.workloads
    .map((w) => {
      const me = w.results.find((r) => r.engine === 'wgfuse' && r.status === 'ok' && r.wallMs);
      const bars = peers.map((p) => {
        const r = w.results.find((x) => x.engine === p && x.status === 'ok' && x.wallMs);
        return me && r ? r.wallMs! / me.wallMs! : null;
      });
      return { id: w.id, bars };
    })
    .filter((r) => r.bars.some((b) => b !== null));
  const values = rows.flatMap((r) => r.bars.filter((b): b is number => b !== null));
  const maxLog = Math.max(1, Math.ceil(Math.log2(Math.max(...values, 2))));
  const minLog = Math.min(-1, Math.floor(Math.log2(Math.min(...values, 0.5))));
  const labelW = 250;
  const plotW = 560;
  const barH = 7;
  const groupH = Math.max(1, peers.length) * barH + 8;
  const top = 62;
  const height = top + rows.length * groupH + 40;
  const width = labelW + plotW + 30;
  const x = (v: number) => labelW + ((Math.log2(v) - minLog) / (maxLog - minLog)) * plotW;
  const S: string[] = [];
  S.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`);
  S.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  S.push(`<text x="10" y="16" font-size="13" font-weight="bold">${esc(`wgfuse speedup (wall time) over each engine${report.mode === 'smoke' ? ' (smoke sizes)' : ''}`)}</text>`);
  S.push(`<text x="10" y="31">${esc(report.device.adapter)}</text>`);
  peers.forEach((p, i) => {
    S.push(`<rect x="${10 + i * 130}" y="40" width="10" height="10" fill="${colors[i % colors.length]}"/><text x="${24 + i * 130}" y="49">${esc(`vs ${p}`)}</text>`);
  });
  for (let e = minLog; e <= maxLog; e++) {
    const gx = x(2 ** e);
    S.push(`<line x1="${gx}" y1="${top - 4}" x2="${gx}" y2="${height - 30}" stroke="${e === 0 ? '#000' : '#ddd'}" stroke-width="${e === 0 ? 1.5 : 1}"/>`);
    S.push(`<text x="${gx}" y="${height - 16}" text-anchor="middle">${2 ** e >= 1 ? `${2 ** e}x` : `1/${2 ** -e}x`}</text>`);
  }
  rows.forEach((r, gi) => {
    const y0 = top + gi * groupH;
    S.push(`<text x="${labelW - 6}" y="${y0 + groupH / 2 + 3}" text-anchor="end">${esc(r.id)}</text>`);
    r.bars.forEach((v, i) => {
      if (v === null) return;
      const x1 = x(Math.min(v, 1));
      const x2 = x(Math.max(v, 1));
      S.push(`<rect x="${x1.toFixed(1)}" y="${y0 + i * barH + 2}" width="${Math.max(1, x2 - x1).toFixed(1)}" height="${barH - 1}" fill="${colors[i % colors.length]}"><title>${esc(`${r.id}: ${v.toFixed(2)}x vs ${peers[i]}`)}</title></rect>`);
    });
  });
  S.push(`<text x="${labelW}" y="${height - 3}">right of the black line: wgfuse is faster</text>`);
  S.push('</svg>');
  return S.join('\n') + '\n';
}
