// Wall time against timestamp time, in the same runs and in runs queued back to back. The harness measures
// a row's wall time (untimed runs) and its GPU time (other runs, every dispatch timestamped) separately; on
// the H100 wall minus GPU came out at 3-20 us for the memory-bound rows and 50-90 us for the long GEMMs and
// the MLP (run 20). This probe tells apart what could make that difference, per workload, in blocks of
// each kind of run:
//   untimed   one jitted run, then onSubmittedWorkDone (the harness's wall time); a second block at the end
//   timed     one jitted run with timestamps: its wall time (including the timestamps' read-back) and the
//             sum of its kernel times
//   queued    Q jitted runs submitted back to back, one wait: wall / Q (the GPU's time per run when it never
//             idles, plus 1/Q of one wait)
// If queued ~ timestamps, the kernels take what the timestamps say and the excess is latency; if queued is
// longer by a share of the kernel time, the untimed runs are slower than the timed ones (clocks).
//   ../shared/tools/gpu-prep bench/wall-probe.ts=wall-probe.mjs
//   source .gpu/env.sh && node .gpu/wall-probe.mjs [--quick] [--rounds N]
import * as wg from '../src/index.js';
import { currentBackend } from '../src/api/context.js';
import { installNavigatorGpu } from '../src/cli/bench.js';
import type { Tensor } from '../src/api/tensor.js';
import { WebGpuBackend } from '../src/runtime/webgpu/backend.js';
import { median, uniformFloats } from './stats.js';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const ROUNDS = argv.includes('--rounds') ? Number(argv[argv.indexOf('--rounds') + 1]) : quick ? 3 : 30;
const Q = 5;

interface Probe {
  readonly name: string;
  readonly shapes: number[][];
  readonly fn: (...x: Tensor[]) => Tensor;
}

const d = quick ? 64 : 4096;
const h = quick ? 32 : 1024;
const PROBES: Probe[] = [
  { name: `gemm ${d}^3`, shapes: [[d, d], [d, d]], fn: (a, b) => a.matmul(b) },
  { name: `gemm ${d}x${d}x${h}`, shapes: [[d, h], [h, d]], fn: (a, b) => a.matmul(b) },
  { name: `mlp ${d}x${h}->${d}->${h}`, shapes: [[d, h], [d, h], [d], [h, d], [h]], fn: (x, w1, b1, w2, b2) => x.matmul(w1.T).add(b1).gelu().matmul(w2.T).add(b2) },
  { name: `elementwise8 ${quick ? '64K' : '64M'}`, shapes: [[quick ? 1 << 16 : 1 << 26]], fn: (x) => x.mul(0.9).add(0.1).tanh().mul(x).sigmoid().sub(0.5).exp().sqrt() },
  { name: `covariance ${quick ? '400x32' : '80000x512'}`, shapes: [quick ? [400, 32] : [80000, 512]], fn: (x) => { const c = x.sub(x.mean(0, true)); return c.T.matmul(c).div(x.shape[0] - 1); } },
];

async function main(): Promise<void> {
  // The harness's device: navigator.gpu from the `webgpu` package with exact timestamps.
  const { path } = await installNavigatorGpu();
  await wg.init({ backend: 'webgpu', quiet: true });
  const backend = currentBackend();
  if (!(backend instanceof WebGpuBackend)) throw new Error('wall-probe: no WebGPU backend');
  const device = backend.device;
  console.log(`wall-probe: ${backend.context.adapterName} (${path}); per workload, blocks of ${ROUNDS} untimed runs, ${Math.ceil(ROUNDS / 3)} x ${Q} queued, ${Math.ceil(ROUNDS / 3)} timed, ${ROUNDS} untimed again; medians in ms; excess = wall - timestamps (the timed runs' kernel sum); pool misses per block`);
  console.log(`${'workload'.padEnd(28)}${'timestamps'.padStart(11)}${'untimed'.padStart(10)}${'timed'.padStart(10)}${'queued/run'.padStart(11)}${'untimed2'.padStart(10)}${'untimed-ts us'.padStart(15)}${'timed-ts us'.padStart(13)}${'queued-ts us'.padStart(14)}${'u2-ts us'.padStart(10)}${'pool misses'.padStart(12)}`);
  for (const p of PROBES) {
    const inputs = p.shapes.map((s, i) => wg.tensor(uniformFloats(s.reduce((a, b) => a * b, 1), 11 + i, -1, 1), s));
    const jitted = wg.jit(p.fn);
    const untimedRun = async () => {
      const t0 = performance.now();
      const t = await jitted(...inputs);
      await device.queue.onSubmittedWorkDone();
      const ms = performance.now() - t0;
      t.dispose();
      return ms;
    };
    const timedRun = async () => {
      backend.timing = true;
      try {
        wg.resetTelemetry();
        const t0 = performance.now();
        const t = await jitted(...inputs);
        await device.queue.onSubmittedWorkDone();
        const ms = performance.now() - t0;
        t.dispose();
        return { ms, gpu: wg.telemetry().kernelTimes.reduce((acc, k) => acc + k.gpuNs, 0) / 1e6 };
      } finally {
        backend.timing = false;
      }
    };
    const queuedRun = async () => {
      const t0 = performance.now();
      const ts: Tensor[] = [];
      for (let i = 0; i < Q; i++) ts.push(await jitted(...inputs));
      await device.queue.onSubmittedWorkDone();
      const ms = (performance.now() - t0) / Q;
      ts.forEach((t) => t.dispose());
      return ms;
    };
    // Compile, then about 400 ms of work to raise the clocks. Then each kind of run in a block of its own (as
    // the harness times them: alternating kinds churned the pool and idled the GPU between runs), the pool's
    // misses counted per block.
    await untimedRun();
    const warmEnd = performance.now() + (quick ? 0 : 400);
    while (performance.now() < warmEnd) await untimedRun();
    const misses = () => backend.pool.stats.misses;
    const block = async <T>(f: () => Promise<T>, n: number) => {
      const before = misses();
      const out: T[] = [];
      for (let r = 0; r < n; r++) out.push(await f());
      return { out, misses: misses() - before };
    };
    const untimed = await block(untimedRun, ROUNDS);
    const queued = await block(queuedRun, Math.ceil(ROUNDS / 3));
    const timed = await block(timedRun, Math.ceil(ROUNDS / 3));
    const untimedAgain = await block(untimedRun, ROUNDS);
    const g = median(timed.out.map((x) => x.gpu));
    const [u, t, q, u2] = [median(untimed.out), median(timed.out.map((x) => x.ms)), median(queued.out), median(untimedAgain.out)];
    const us = (x: number) => ((x - g) * 1000).toFixed(0);
    const pool = [untimed, queued, timed, untimedAgain].map((b) => b.misses).join('/');
    console.log(`${p.name.padEnd(28)}${g.toFixed(4).padStart(11)}${u.toFixed(4).padStart(10)}${t.toFixed(4).padStart(10)}${q.toFixed(4).padStart(11)}${u2.toFixed(4).padStart(10)}${us(u).padStart(15)}${us(t).padStart(13)}${us(q).padStart(14)}${us(u2).padStart(10)}${pool.padStart(12)}`);
    jitted.clear();
    inputs.forEach((x) => x.dispose());
  }
}

await main();
process.exit(0);
