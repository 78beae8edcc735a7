// What an operand prologue costs against storing the operand: products whose operand is an elementwise
// expression, compiled with the default pipeline (the expression runs in the product's tile loads:
// fuse-prologue) and without fuse-prologue (a kernel stores the operand, the product reads it). GPU time from
// timestamp queries, the two compilations alternating round by round; median of the rounds. Before each
// product's rounds, WARM_MS of both compilations untimed, so that the GPU runs at its clock (an H100 left idle
// drops to 345 MHz), and no result is read back during the timing.
//
//   ../shared/tools/gpu-prep bench/prologue-cost.ts=prologue-cost.mjs
//   source .gpu/env.sh && node .gpu/prologue-cost.mjs [--rounds N] [--smoke]
import * as wg from '../src/index.js';
import type { Tensor } from '../src/index.js';
import { extractProgram } from '../src/api/program.js';
import { runPasses } from '../src/passes/manager.js';
import { DEFAULT_PIPELINE } from '../src/passes/pipeline.js';
import { selectNodeGpu } from '../src/runtime/node-gpu.js';
import { acquireDevice } from '../src/runtime/webgpu/device.js';
import { WebGpuBackend } from '../src/runtime/webgpu/backend.js';

const argv = process.argv.slice(2);
const SMOKE = argv.includes('--smoke');
const WARM_MS = SMOKE ? 0 : 1500;
const ROUNDS = argv.includes('--rounds') ? Number(argv[argv.indexOf('--rounds') + 1]) : SMOKE ? 2 : 15;

interface Case {
  name: string;
  /** The product on random inputs (seeded), built through the public API. */
  build(rand: (shape: number[], seed: number) => Tensor): Tensor;
}

const s = (n: number) => (SMOKE ? Math.max(8, n / 32) : n);
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
  const without = DEFAULT_PIPELINE.filter((p) => p.name !== 'fuse-prologue');
  console.log(`prologue-cost: ${ctx.adapterName}; ${ROUNDS} rounds, GPU ms (median), the two compilations alternating`);
  console.log(`${'product'.padEnd(52)} ${'prologue'.padStart(9)} ${'stored'.padStart(9)}  ratio  dispatches`);
  for (const c of CASES) {
    const out = c.build(random);
    const { graph, args } = extractProgram([out.node]);
    const variants = [runPasses(graph, DEFAULT_PIPELINE).graph, runPasses(graph, without).graph];
    const times: number[][] = [[], []];
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
    for (const v of [0, 1]) await once(v); // compiles
    const warmStart = performance.now();
    while (performance.now() - warmStart < WARM_MS) {
      for (const v of [0, 1]) (await backend.run(variants[v], args)).forEach((r) => r.release());
      await backend.device.queue.onSubmittedWorkDone();
    }
    for (let r = 0; r < ROUNDS; r++) for (const v of r % 2 ? [1, 0] : [0, 1]) times[v].push(await once(v));
    const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
    const [p, m] = times.map(med);
    console.log(`${c.name.padEnd(52)} ${p.toFixed(4).padStart(9)} ${m.toFixed(4).padStart(9)}  ${(p / m).toFixed(3)}  ${dispatches[0]} / ${dispatches[1]}`);
    out.dispose();
  }
  backend.destroy();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
