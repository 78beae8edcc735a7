// What an operand prologue costs against storing the operand: products whose operand is an elementwise
// expression, compiled with the default pipeline (the expression runs in the product's tile loads:
// fuse-prologue), with fuse-prologue allowed up to 8 loads per element (upto8), and without fuse-prologue (a
// kernel stores the operand, the product reads it). GPU time from
// timestamp queries, the compilations alternating round by round; median of the rounds. Before each
// product's rounds, WARM_MS of both compilations untimed, so that the GPU runs at its clock (an H100 left idle
// drops to 345 MHz), and no result is read back during the timing.
//
//   ../shared/tools/gpu-prep bench/prologue-cost.ts=prologue-cost.mjs
//   source .gpu/env.sh && node .gpu/prologue-cost.mjs [--rounds N] [--smoke] [--only REGEX]
import * as wg from '../src/index.js';
import type { Tensor } from '../src/index.js';
import { extractProgram } from '../src/api/program.js';
import { fusePrologue, fusePrologues } from '../src/passes/fuse-prologue.js';
import { runPasses } from '../src/passes/manager.js';
import { DEFAULT_PIPELINE } from '../src/passes/pipeline.js';
import { selectNodeGpu } from '../src/runtime/node-gpu.js';
import { acquireDevice } from '../src/runtime/webgpu/device.js';
import { WebGpuBackend } from '../src/runtime/webgpu/backend.js';

const argv = process.argv.slice(2);
const SMOKE = argv.includes('--smoke');
const WARM_MS = SMOKE ? 0 : 1500;
const ROUNDS = argv.includes('--rounds') ? Number(argv[argv.indexOf('--rounds') + 1]) : SMOKE ? 2 : 15;
/** `--only REGEX`: the cases whose name matches. */
const ONLY = argv.includes('--only') ? new RegExp(argv[argv.indexOf('--only') + 1]) : null;

interface Case {
  name: string;
  /** The product on random inputs (seeded), built through the public API. */
  build(rand: (shape: number[], seed: number) => Tensor): Tensor;
}

const s = (n: number) => (SMOKE ? Math.max(8, n / 32) : n);
const g = (n: number) => (SMOKE ? 512 : n);
const CASES: Case[] = [
  ...(['sub', 'relu', 'tanh', 'gelu'] as const).map((op) => ({
    name: `gemm ${s(4096)}^3, A = ${op === 'sub' ? 'x - mu' : `${op}(x)`}`,
    build: (rand: (shape: number[], seed: number) => Tensor) => {
      const x = rand([s(4096), s(4096)], 1);
      const a = op === 'sub' ? x.sub(rand([s(4096)], 2)) : x[op]();
      return a.matmul(rand([s(4096), s(4096)], 3));
    },
  })),
  { name: `gemm ${s(4096)}x${s(4096)}x${s(1024)}, A = tanh(x)`, build: (rand) => rand([s(4096), s(1024)], 4).tanh().matmul(rand([s(1024), s(4096)], 5)) },
  { name: `gemm ${s(4096)}x${s(1024)}x${s(4096)} x @ w.T, B = gelu(w)`, build: (rand) => rand([s(4096), s(4096)], 6).matmul(rand([s(1024), s(4096)], 7).gelu().T) },
  { name: `gemm ${s(1024)}^3, A = tanh(x)`, build: (rand) => rand([s(1024), s(1024)], 8).tanh().matmul(rand([s(1024), s(1024)], 9)) },
  { name: `gemm ${s(65536)}x256x256, A = x - mu`, build: (rand) => rand([s(65536), 256], 10).sub(rand([256], 11)).matmul(rand([256, 256], 12)) },
  ...([20000, 80000] as const).map((n) => ({
    name: `syrk 512x${s(n)} (covariance), X = x - mean`,
    build: (rand: (shape: number[], seed: number) => Tensor) => {
      const x = rand([s(n), 512], 13);
      const c = x.sub(x.mean(0, true));
      return c.T.matmul(c);
    },
  })),
  { name: `syrk 512x${s(20000)}, X = tanh(x)`, build: (rand) => { const c = rand([s(20000), 512], 14).tanh(); return c.T.matmul(c); } },
  // Stop 20: the narrow 64x64 tile for SYRKs of up to 512 features loads X 4 times at 256 features, 8 at 512;
  // and a GEMM whose A is loaded 8 times (1024 columns of 128-wide tiles).
  ...([256, 384] as const).map((d) => ({
    name: `syrk ${d}x${s(20000)} (covariance), X = x - mean`,
    build: (rand: (shape: number[], seed: number) => Tensor) => {
      const x = rand([s(20000), d], 15);
      const c = x.sub(x.mean(0, true));
      return c.T.matmul(c);
    },
  })),
  { name: `gemm ${s(4096)}x${s(1024)}x${s(4096)}, A = x - mu`, build: (rand) => rand([s(4096), s(4096)], 16).sub(rand([s(4096)], 17)).matmul(rand([s(4096), s(1024)], 18)) },
  // Stop 22: gemv's short operand computed as loaded (any elementwise op), and prologue values (PCA's norm
  // computed by the next product's workgroups): a power iteration of 20 steps is then 21 dispatches, not 40.
  // (The smoke sizes stay at 512, where these products still take gemv.)
  ...([512, 4096] as const).map((d) => ({
    name: `power iteration ${g(d)}, 20 steps`,
    build: (rand: (shape: number[], seed: number) => Tensor) => {
      const c = rand([g(d), g(d)], 19);
      let v = wg.ones([g(d), 1]).div(Math.sqrt(g(d)));
      for (let i = 0; i < 20; i++) {
        const u = c.matmul(v);
        v = u.div(u.square().sum().sqrt());
      }
      return v;
    },
  })),
  { name: `gemv ${g(4096)}x${g(4096)} @ v / ||v||`, build: (rand) => { const v = rand([g(4096), 1], 20); return rand([g(4096), g(4096)], 21).matmul(v.div(v.square().sum().sqrt())); } },
  { name: `gemv ${g(4096)}x${g(4096)} @ tanh(v)`, build: (rand) => rand([g(4096), g(4096)], 22).matmul(rand([g(4096), 1], 23).tanh()) },
  { name: `gemv tanh(x) @ ${g(4096)}x${g(4096)} (n layout)`, build: (rand) => rand([1, g(4096)], 24).tanh().matmul(rand([g(4096), g(4096)], 25)) },
  { name: `gemv 8x${g(4096)} gelu(x) @ w.T ${g(4096)}x${g(4096)}`, build: (rand) => rand([8, g(4096)], 26).gelu().matmul(rand([g(4096), g(4096)], 27).T) },
];

/** The compilations compared: the default pipeline, the prologue allowed up to 8 loads per element, none. */
const PIPELINES = [
  { name: 'prologue', passes: DEFAULT_PIPELINE },
  { name: 'upto8', passes: DEFAULT_PIPELINE.map((p) => (p === fusePrologue ? { ...p, run: (g: Parameters<typeof p.run>[0]) => fusePrologues(g, undefined, 8) } : p)) },
  { name: 'stored', passes: DEFAULT_PIPELINE.filter((p) => p !== fusePrologue) },
];

function random(shape: number[], seed: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let st = seed >>> 0;
  for (let i = 0; i < n; i++) {
    st = (Math.imul(st, 1664525) + 1013904223) >>> 0;
    data[i] = st / 2 ** 31 - 1;
  }
  return wg.tensor(data, shape);
}

async function main() {
  const selection = await selectNodeGpu({ software: 'fallback' });
  if (!selection.gpu) throw new Error(`no WebGPU adapter: ${selection.reason}`);
  const ctx = await acquireDevice({ gpu: selection.gpu, allowSoftware: true });
  if (!ctx) throw new Error('no device');
  // Graphs go in already compiled by the passes chosen here: the backend lowers them as they are.
  const backend = new WebGpuBackend(ctx, { fusion: false });
  if (!backend.context.features.includes('timestamp-query')) throw new Error('the adapter has no timestamp-query');
  console.log(`prologue-cost: ${ctx.adapterName}; ${ROUNDS} rounds, GPU ms (median), the compilations alternating (upto8: the prologue allowed up to 8 loads per element)`);
  console.log(`${'product'.padEnd(52)} ${PIPELINES.map((p) => p.name.padStart(9)).join(' ')}  ratio  dispatches`);
  for (const c of CASES.filter((x) => !ONLY || ONLY.test(x.name))) {
    const out = c.build(random);
    const { graph, args } = extractProgram([out.node]);
    const variants = PIPELINES.map((p) => runPasses(graph, p.passes).graph);
    const times: number[][] = variants.map(() => []);
    const dispatches: number[] = [];
    const once = async (v: number): Promise<number> => {
      backend.resetTelemetry();
      backend.timing = true;
      // With timing on, run resolves once the timestamps are read.
      const [res] = await backend.run(variants[v], args);
      res.release();
      backend.timing = false;
      const t = backend.telemetry();
      dispatches[v] = t.kernelTimes.reduce((a, k) => a + k.count, 0);
      return t.kernelTimes.reduce((a, k) => a + k.gpuNs, 0) / 1e6;
    };
    const all = variants.map((_, v) => v);
    for (const v of all) await once(v); // compiles
    const warmStart = performance.now();
    while (performance.now() - warmStart < WARM_MS) {
      for (const v of all) (await backend.run(variants[v], args)).forEach((r) => r.release());
      await backend.device.queue.onSubmittedWorkDone();
    }
    for (let r = 0; r < ROUNDS; r++) for (const v of r % 2 ? [...all].reverse() : all) times[v].push(await once(v));
    const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
    const ms = times.map(med);
    console.log(`${c.name.padEnd(52)} ${ms.map((m) => m.toFixed(4).padStart(9)).join(' ')}  ${(ms[0] / ms[ms.length - 1]).toFixed(3)}  ${dispatches.join(' / ')}`);
    out.dispose();
  }
  backend.destroy();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
