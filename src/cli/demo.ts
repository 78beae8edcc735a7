// `wgfuse demo`: RunMat's workloads (a 4K-style image pipeline, Monte Carlo, PCA) and an MLP block, each
// run unfused (one dispatch per op) and fused, timed, and checked against the CPU reference executor.
// `--size large` uses the real sizes (for a GPU); the default is small enough for a software adapter.
import * as wg from '../index.js';
import { extractProgram } from '../api/program.js';
import type { Tensor } from '../api/tensor.js';
import type { TypedArray } from '../ir/dtype.js';
import { printGraph } from '../ir/printer.js';
import { compileGraph } from '../lowering/compile.js';
import { executeGraph } from '../runtime/cpu/executor.js';

type Log = (line: string) => void;

export interface DemoOptions {
  backend?: 'auto' | 'webgpu' | 'cpu';
  size?: 'small' | 'large';
  runs?: number;
  showIr?: boolean;
}

interface Workload {
  readonly name: string;
  /** Builds the program; called once per run, so every run evaluates a fresh lazy graph of one structure. */
  build(): Tensor;
  /** Relative tolerance of the check against the CPU reference. */
  readonly tolerance: number;
}

interface Measured {
  dispatches: number;
  ms: number;
  values: TypedArray;
}

export async function demoCommand(options: DemoOptions, log: Log = console.log): Promise<number> {
  const size = options.size ?? 'small';
  const runs = options.runs ?? 5;
  const workloads = makeWorkloads(size);
  const backendChoice = options.backend ?? 'auto';
  const info = await wg.init({ backend: backendChoice, quiet: true });
  log(`wgfuse demo (${size} sizes, median of ${runs} runs after a warm-up): backend ${info.name}${info.adapter ? ` (${info.adapter})` : ''}`);
  if (info.name === 'cpu') log('  no WebGPU device: both columns run on the CPU reference, so only the dispatch counts differ');

  const results: { unfused: Measured; fused: Measured }[] = [];
  for (const fusion of [false, true]) {
    await wg.init({ backend: backendChoice, fusion, quiet: true });
    for (const [i, w] of workloads.entries()) {
      log(`  [${fusion ? 'fused  ' : 'unfused'} ${i + 1}/${workloads.length}] ${w.name} ...`);
      const m = await measure(w, runs, fusion);
      (results[i] ??= {} as { unfused: Measured; fused: Measured })[fusion ? 'fused' : 'unfused'] = m;
    }
  }

  let failures = 0;
  log('');
  log(pad('workload', 58) + pad('dispatches', 14) + pad('unfused ms', 12) + pad('fused ms', 10) + pad('speedup', 9) + 'check vs CPU reference');
  for (const [i, w] of workloads.entries()) {
    log(`  checking ${w.name} on the CPU reference ...`);
    const { unfused, fused } = results[i];
    const reference = referenceOf(w.build());
    const err = Math.max(relError(unfused.values, reference), relError(fused.values, reference));
    const ok = err <= w.tolerance;
    if (!ok) failures++;
    log(
      pad(w.name, 58) +
        pad(`${unfused.dispatches} -> ${fused.dispatches}`, 14) +
        pad(unfused.ms.toFixed(2), 12) +
        pad(fused.ms.toFixed(2), 10) +
        pad(`${(unfused.ms / fused.ms).toFixed(2)}x`, 9) +
        `${ok ? 'OK' : 'MISMATCH'} (max rel. error ${err.toExponential(1)}, allowed ${w.tolerance})`,
    );
  }
  if (options.showIr) {
    const { graph } = extractProgram([workloads[0].build().node]);
    log(`\nIR of "${workloads[0].name}" after the passes (what \`wgfuse dump-ir\` prints):`);
    log(printGraph(compileGraph(graph).graph));
  }
  log(failures === 0 ? '\nall results match the CPU reference' : `\n${failures} workload(s) did not match the CPU reference`);
  return failures === 0 ? 0 : 1;
}

async function measure(w: Workload, runs: number, fusion: boolean): Promise<Measured> {
  const first = w.build();
  const { graph } = extractProgram([first.node]);
  const dispatches = compileGraph(graph, { fusion }).plan.dispatches.length;
  let values = await first.data(); // warm-up: compiles the plan and its pipelines
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t = w.build();
    const t0 = performance.now();
    values = await t.data();
    times.push(performance.now() - t0);
    t.dispose();
  }
  times.sort((a, b) => a - b);
  return { dispatches, ms: times[Math.floor(times.length / 2)], values };
}

function referenceOf(t: Tensor): TypedArray {
  const { graph, args } = extractProgram([t.node]);
  return executeGraph(
    graph,
    args.map((a) => a.host!),
  )[0];
}

/** max |got - want| / max(1, |want|). */
function relError(got: TypedArray, want: TypedArray): number {
  if (got.length !== want.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i])));
  return worst;
}

function pad(s: string, n: number): string {
  return s.length >= n ? `${s} ` : s + ' '.repeat(n - s.length);
}

/** Deterministic host data from a small LCG, independent of wgfuse's own generator. */
function hostRandom(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + ((s >>> 8) / 16777216) * (hi - lo);
  }
  return out;
}

function makeWorkloads(size: 'small' | 'large'): Workload[] {
  const large = size === 'large';
  // Data is made once per workload; each run wraps it in new tensors (new lazy graphs, same structure).
  const [b, h, w] = large ? [8, 2160, 3840] : [2, 216, 384];
  const image = hostRandom(b * h * w, 6, 0, 1);
  const [paths, steps] = large ? [1 << 20, 64] : [1 << 14, 32];
  const [n, d, iters] = large ? [80_000, 512, 20] : [2000, 64, 10];
  const pcaData = hostRandom(n * d, 9);
  const [batch, din, hidden, dout] = large ? [4096, 1024, 4096, 1024] : [256, 128, 256, 10];
  const X = hostRandom(batch * din, 1);
  const W1 = hostRandom(hidden * din, 2, -0.1, 0.1);
  const b1 = hostRandom(hidden, 3);
  const W2 = hostRandom(dout * hidden, 4, -0.1, 0.1);
  const b2 = hostRandom(dout, 5);
  return [
    {
      name: `image pipeline ${b}x${h}x${w}: per-image mean/std, normalise, gain, bias, clamp, gamma`,
      tolerance: 1e-4,
      build() {
        const x = wg.tensor(image, [b, h, w]);
        const mean = x.mean([1, 2], true);
        const std = x.variance([1, 2], true).sqrt();
        return x.sub(mean).div(std.add(1e-6)).mul(0.25).add(0.5).clamp(0, 1).pow(0.8);
      },
    },
    {
      name: `Monte Carlo GBM ${paths} paths x ${steps} steps: mean final price`,
      tolerance: 1e-4,
      build() {
        const [s0, mu, sigma, dt] = [100, 0.05, 0.2, 1 / steps];
        const z = wg.randn([steps, paths], 7);
        const logReturn = z.mul(sigma * Math.sqrt(dt)).add((mu - 0.5 * sigma * sigma) * dt).sum(0);
        return logReturn.exp().mul(s0).mean();
      },
    },
    {
      name: `PCA ${n}x${d}: centred Gram / (n-1), ${iters} power iterations`,
      tolerance: 1e-3,
      build() {
        const x = wg.tensor(pcaData, [n, d]);
        const c = x.sub(x.mean(0, true));
        const cov = c.T.matmul(c).div(n - 1);
        let v = wg.ones([d, 1]).div(Math.sqrt(d));
        for (let i = 0; i < iters; i++) {
          const u = cov.matmul(v);
          v = u.div(u.square().sum().sqrt());
        }
        // The Rayleigh quotient: the top eigenvalue estimate.
        return v.T.matmul(cov.matmul(v));
      },
    },
    {
      name: `MLP block ${batch}x${din} -> ${hidden} (gelu) -> ${dout} -> softmax`,
      tolerance: 1e-4,
      build() {
        const x = wg.tensor(X, [batch, din]);
        const h1 = x.matmul(wg.tensor(W1, [hidden, din]).T).add(wg.tensor(b1, [hidden])).gelu();
        return h1.matmul(wg.tensor(W2, [dout, hidden]).T).add(wg.tensor(b2, [dout])).softmax(-1);
      },
    },
  ];
}
