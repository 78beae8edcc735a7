// `wgfuse demo`: runs RunMat's workloads and an MLP block at a size this machine runs in a second, checks
// each result against an independent plain-JS computation, and shows the program as IR.
import * as wg from '../index.js';
import { extractProgram } from '../api/program.js';
import { printGraph } from '../ir/printer.js';
import type { Tensor } from '../api/tensor.js';

type Log = (line: string) => void;

interface Workload {
  name: string;
  build(): { out: Tensor; check(values: Float32Array): { ok: boolean; detail: string } };
}

export async function demoCommand(options: { backend?: 'auto' | 'webgpu' | 'cpu'; showIr?: boolean }, log: Log = console.log): Promise<number> {
  const info = await wg.init({ backend: options.backend ?? 'auto', quiet: true });
  log(`wgfuse demo: backend ${info.name}${info.adapter ? ` (${info.adapter})` : ''}`);
  let failures = 0;
  for (const [i, w] of WORKLOADS.entries()) {
    log(`\n[${i + 1}/${WORKLOADS.length}] ${w.name}`);
    const { out, check } = w.build();
    const nodes = printGraph(extractProgram([out.node]).graph).split('\n').length - 2;
    const t0 = performance.now();
    const values = (await out.data()) as Float32Array;
    const ms = performance.now() - t0;
    const { ok, detail } = check(values);
    if (!ok) failures++;
    log(`  ${nodes} IR nodes, ${ms.toFixed(1)} ms, ${detail}: ${ok ? 'OK' : 'MISMATCH'}`);
    log(`  first values: ${Array.from(values.slice(0, 4), (v) => v.toFixed(5)).join(', ')}`);
  }
  if (options.showIr) {
    const { out } = WORKLOADS[0].build();
    log('\nIR of the MLP block (what `wgfuse dump-ir` prints):');
    log(printGraph(extractProgram([out.node]).graph));
  }
  log(failures === 0 ? '\nall results match the plain-JS reference' : `\n${failures} workload(s) did not match`);
  return failures === 0 ? 0 : 1;
}

/** Deterministic pseudo-random host data, independent of wgfuse's own generator. */
function hostRandom(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + ((s >>> 8) / 16777216) * (hi - lo);
  }
  return out;
}

/** Compares with a plain-JS float64 computation: max |got - want| / max(1, |want|) within 1e-4. */
function compare(got: Float32Array, want: ArrayLike<number>): { ok: boolean; detail: string } {
  let worst = got.length === want.length ? 0 : Infinity;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i])));
  return { ok: worst <= 1e-4, detail: `max relative error vs plain JS ${worst.toExponential(2)}` };
}

const gelu = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));

const WORKLOADS: Workload[] = [
  {
    name: 'MLP block: softmax(gelu(x @ W1 + b1) @ W2 + b2), x[64,32], W1[32,48], W2[48,10]',
    build() {
      const [n, d, h, k] = [64, 32, 48, 10];
      const X = hostRandom(n * d, 1), W1 = hostRandom(d * h, 2, -0.3, 0.3), b1 = hostRandom(h, 3), W2 = hostRandom(h * k, 4, -0.3, 0.3), b2 = hostRandom(k, 5);
      const out = wg
        .tensor(X, [n, d])
        .matmul(wg.tensor(W1, [d, h]))
        .add(wg.tensor(b1, [h]))
        .gelu()
        .matmul(wg.tensor(W2, [h, k]))
        .add(wg.tensor(b2, [k]))
        .softmax(-1);
      const check = (got: Float32Array) => {
        const want: number[] = [];
        for (let r = 0; r < n; r++) {
          const hid = Array.from({ length: h }, (_, j) => {
            let s = b1[j];
            for (let c = 0; c < d; c++) s += X[r * d + c] * W1[c * h + j];
            return gelu(s);
          });
          const logits = Array.from({ length: k }, (_, j) => hid.reduce((s, v, c) => s + v * W2[c * k + j], b2[j]));
          const m = Math.max(...logits);
          const e = logits.map((v) => Math.exp(v - m));
          const z = e.reduce((a, b) => a + b, 0);
          want.push(...e.map((v) => v / z));
        }
        return compare(got, want);
      };
      return { out, check };
    },
  },
  {
    name: 'image pipeline: clamp((x - mean) / std * gain + bias, 0, 1) ** gamma per image, 2 images of 48x64',
    build() {
      const [b, hgt, wid] = [2, 48, 64];
      const X = hostRandom(b * hgt * wid, 6, 0, 1);
      const [gain, bias, gamma] = [0.25, 0.5, 0.8];
      const x = wg.tensor(X, [b, hgt, wid]);
      const mean = x.mean([1, 2], true);
      const std = x.variance([1, 2], true).sqrt();
      const out = x.sub(mean).div(std).mul(gain).add(bias).clamp(0, 1).pow(gamma);
      const check = (got: Float32Array) => {
        const want: number[] = [];
        const per = hgt * wid;
        for (let i = 0; i < b; i++) {
          const img = Array.from(X.subarray(i * per, (i + 1) * per));
          const m = img.reduce((s, v) => s + v, 0) / per;
          const sd = Math.sqrt(img.reduce((s, v) => s + (v - m) ** 2, 0) / per);
          want.push(...img.map((v) => Math.min(1, Math.max(0, ((v - m) / sd) * gain + bias)) ** gamma));
        }
        return compare(got, want);
      };
      return { out, check };
    },
  },
  {
    name: 'Monte Carlo: geometric Brownian motion, 4096 paths x 16 steps, mean final price',
    build() {
      const [paths, steps, s0, mu, sigma, dt] = [4096, 16, 100, 0.05, 0.2, 1 / 16];
      const Z = wg.randn([steps, paths], 7);
      const drift = (mu - 0.5 * sigma * sigma) * dt;
      const logReturn = Z.mul(sigma * Math.sqrt(dt)).add(drift).sum(0);
      const out = logReturn.exp().mul(s0).mean();
      const check = (got: Float32Array) => {
        // Independent check: E[S_T] = S0 exp(mu T); the sample mean over 4096 paths is within a few
        // standard errors of it (relative std of S_T is ~0.2 here, so 4 SE ~ 1.3%).
        const expected = s0 * Math.exp(mu * steps * dt);
        const rel = Math.abs(got[0] - expected) / expected;
        return { ok: rel < 0.013, detail: `${(rel * 100).toFixed(2)}% from the analytic mean ${expected.toFixed(3)} (allowed 1.3%, ~4 standard errors)` };
      };
      return { out, check };
    },
  },
];
