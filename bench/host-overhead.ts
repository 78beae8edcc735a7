// Host-overhead benchmark: the JS (and Dawn-call) time one evaluation of a cached plan costs, split into its
// parts. SwiftShader's GPU time is irrelevant here; what is measured is the work on the host thread.
//
// Run (from the repository root; see bench/compile-time.ts for why it is built this way):
//
//   npx tsc -p tsconfig.json --outDir /tmp/wghost; \
//     ln -sfn "$PWD/node_modules" /tmp/wghost/node_modules; \
//     echo '{"type":"module"}' > /tmp/wghost/package.json; \
//     node /tmp/wghost/bench/host-overhead.js [--runs N] [--only NAME] [--floor] [--gap FLOATS] [--large] [--readback N] [--upload MIB]
//
// (add `--cpu-prof --cpu-prof-dir /tmp/prof` to node for a profile.)
//
// Workloads: layerNorm + softmax, a 2-layer MLP, GEMV and a batched GEMM, on small shapes (SwiftShader runs
// their kernels quickly); with --large, the harness's layerNorm + softmax, elementwise chain, covariance and
// MLP at full size (on a real GPU: where the wall time of the harness's small rows goes). --floor first
// measures what any evaluation costs at least: submit and wait with no work, one tiny dispatch, a read-back. After an evaluation that compiles, each is measured in three loops of N rounds; the
// wall times are per round (performance.now()), reported as median (10th percentile) in microseconds. On a
// shared machine a round is now and then preempted: per-round medians are robust to that, totals are not.
// Compare two builds by alternating their runs.
//   1. Phases, waiting for the GPU only every 32 rounds (outside the timed parts):
//        build     building the lazy expression through the public API
//        extract   extractProgram on it (the data-free graph and its arguments)
//        key       planKey on that (the plan-cache key)
//        evaluate  `wg.evaluate` of the tensor, then its dispose: the host's cost of one evaluation after
//                  the build (extract and key were separate calls; evaluate does them again inside)
//        submit    the part of evaluate before its queue.submit returns (a hook on submit stamps the time)
//      build + evaluate is what one evaluation costs the host thread.
//   2. cpu: the main thread's CPU time per round of build + evaluate + dispose, over one window of N rounds
//      that never wait for the GPU (Linux: /proc/thread-self/schedstat, read before and after; it advances at
//      the scheduler's tick, so only a long window is precise; '-' elsewhere). Unlike wall time it leaves out
//      time the thread waited for a CPU on a busy machine.
//   3. As the benchmark harness runs (src/cli/bench.ts): build, `wg.evaluate`, then
//      `device.queue.onSubmittedWorkDone()` every round: total is the round's wall time, wait the last part
//      (here mostly SwiftShader running the kernels, plus Dawn's event polling).
//   4. jit: the same expression as a `wg.jit` function, called on the same tensors (traced once before):
//      the call and the dispose of its result; jit total adds the wait, as in 3; no ahead is jit total with
//      the backend's encoding ahead off (blocks of 25 calls alternate between the two). The jit total rounds
//      split into: pre (the call until queue.submit is entered), queue (queue.submit itself), post (from its
//      return until the call's promise resolves) and jit wait (onSubmittedWorkDone).
import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as wg from '../src/index.js';
import type { Tensor } from '../src/index.js';
import { currentBackend } from '../src/api/context.js';
import { extractProgram } from '../src/api/program.js';
import { planKey, WebGpuBackend } from '../src/runtime/webgpu/backend.js';
import { BufferUsage, MapMode } from '../src/runtime/webgpu/usage.js';
import { selectNodeGpu } from '../src/runtime/node-gpu.js';

const argv = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : fallback;
};
const RUNS = Number(option('--runs', '2000'));
const ONLY = option('--only', '');
/** --large: the harness's shapes (src/cli/bench.ts), where the wait is the GPU's work plus the latency. */
const LARGE = argv.includes('--large');

interface Workload {
  name: string;
  inputs: number[][];
  build(x: Tensor[]): Tensor;
}

const WORKLOADS: Workload[] = [
  {
    name: 'layernorm-softmax 8x64',
    inputs: [[8, 64], [64], [64]],
    build: (x) => wg.layerNorm(x[0], x[1], x[2], 1e-5).softmax(-1),
  },
  {
    name: 'mlp 8x32->64->32',
    inputs: [[8, 32], [64, 32], [64], [32, 64], [32]],
    build: (x) => x[0].matmul(x[1].T).add(x[2]).gelu().matmul(x[3].T).add(x[4]),
  },
  { name: 'gemv 1x64x64', inputs: [[1, 64], [64, 64]], build: (x) => x[0].matmul(x[1]) },
  { name: 'bgemm 4x16^3', inputs: [[4, 16, 16], [4, 16, 16]], build: (x) => x[0].matmul(x[1]) },
];

const LARGE_WORKLOADS: Workload[] = [
  {
    name: 'elementwise8 1M',
    inputs: [[1024 * 1024]],
    build: (x) => x[0].mul(0.9).add(0.1).tanh().mul(x[0]).sigmoid().sub(0.5).exp().sqrt(),
  },
  { name: 'gemm 4096x4096x32', inputs: [[4096, 32], [32, 4096]], build: (x) => x[0].matmul(x[1]) },
  {
    name: 'layernorm-softmax 8192x1024',
    inputs: [[8192, 1024], [1024], [1024]],
    build: (x) => wg.layerNorm(x[0], x[1], x[2], 1e-5).softmax(-1),
  },
  {
    name: 'elementwise8 64M',
    inputs: [[64 * 1024 * 1024]],
    build: (x) => x[0].mul(0.9).add(0.1).tanh().mul(x[0]).sigmoid().sub(0.5).exp().sqrt(),
  },
  {
    name: 'elementwise8 256M',
    inputs: [[256 * 1024 * 1024]],
    build: (x) => x[0].mul(0.9).add(0.1).tanh().mul(x[0]).sigmoid().sub(0.5).exp().sqrt(),
  },
  {
    name: 'covariance 20000x512',
    inputs: [[20000, 512]],
    build: (x) => {
      const c = x[0].sub(x[0].mean(0, true));
      return c.T.matmul(c).div(19999);
    },
  },
  {
    name: 'mlp 4096x1024x4096',
    inputs: [[4096, 1024], [4096, 1024], [4096], [1024, 4096], [1024]],
    build: (x) => x[0].matmul(x[1].T).add(x[2]).gelu().matmul(x[3].T).add(x[4]),
  },
];

/**
 * The floor under any evaluation: submit-and-wait with no work, with one 1-workgroup dispatch, and the
 * same followed by a 4-byte mapAsync read-back (median and p10 of `runs` rounds, us).
 */
async function floor(device: GPUDevice, runs: number): Promise<void> {
  const module = device.createShaderModule({ code: '@group(0) @binding(0) var<storage, read_write> b: array<u32>;\n@compute @workgroup_size(1) fn main() { b[0] = b[0] + 1u; }' });
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const buffer = device.createBuffer({ size: 256, usage: BufferUsage.STORAGE | BufferUsage.COPY_SRC });
  const staging = device.createBuffer({ size: 256, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
  const group = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer } }] });
  const dispatch = (copy: boolean) => {
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(1);
    pass.end();
    if (copy) encoder.copyBufferToBuffer(buffer, 0, staging, 0, 4);
    device.queue.submit([encoder.finish()]);
  };
  const cases: [string, () => Promise<void>][] = [
    ['empty submit + onSubmittedWorkDone', async () => { device.queue.submit([]); await device.queue.onSubmittedWorkDone(); }],
    ['1 dispatch: encode + submit', async () => dispatch(false)],
    ['1 dispatch + onSubmittedWorkDone', async () => { dispatch(false); await device.queue.onSubmittedWorkDone(); }],
    ['1 dispatch + copy + mapAsync 4 B', async () => { dispatch(true); await staging.mapAsync(MapMode.READ, 0, 4); staging.unmap(); }],
    ['setImmediate round trip', () => new Promise<void>((r) => setImmediate(r))],
  ];
  for (const [name, run] of cases) {
    const t: number[] = [];
    for (let i = 0; i < runs + 50; i++) {
      const t0 = performance.now();
      await run();
      const t1 = performance.now();
      if (i >= 50) t.push(t1 - t0);
    }
    await device.queue.onSubmittedWorkDone();
    console.log(`${name.padEnd(40)}${us(quantile(t, 0.5)).padStart(10)} (${us(quantile(t, 0.1))})`);
  }
  [buffer, staging].forEach((b) => b.destroy());
}

/**
 * Wall time against GPU time for one large memory-bound dispatch outside wgfuse (a vec4 y = x * a + b over
 * `floats` elements): submit and wait with the commands encoded inside or before the timed part, and the GPU
 * time from timestamps at the pass's start and end (read back after each run, outside the timing). What the
 * wall time adds to the GPU time here is the platform's (Dawn, driver, event polling), not wgfuse's.
 */
async function copyGap(device: GPUDevice, floats: number, runs: number): Promise<void> {
  const vec4s = Math.ceil(floats / 4);
  const groups = Math.ceil(vec4s / 256);
  const [gx, gy] = [Math.min(groups, 32768), Math.ceil(groups / 32768)];
  const module = device.createShaderModule({
    code: `@group(0) @binding(0) var<storage, read> x: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> y: array<vec4f>;
@compute @workgroup_size(256) fn main(@builtin(workgroup_id) w: vec3u, @builtin(local_invocation_index) l: u32) {
  let i = (w.y * ${gx}u + w.x) * 256u + l;
  if (i < ${vec4s}u) { y[i] = x[i] * 0.999 + 0.5; }
}`,
  });
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const x = device.createBuffer({ size: vec4s * 16, usage: BufferUsage.STORAGE });
  const y = device.createBuffer({ size: vec4s * 16, usage: BufferUsage.STORAGE });
  const group = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: x } }, { binding: 1, resource: { buffer: y } }] });
  const set = device.createQuerySet({ type: 'timestamp', count: 2 });
  const resolve = device.createBuffer({ size: 16, usage: BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC });
  const staging = device.createBuffer({ size: 16, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
  const encode = (timed: boolean) => {
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass(timed ? { timestampWrites: { querySet: set, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } } : {});
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(gx, gy);
    pass.end();
    if (timed) {
      encoder.resolveQuerySet(set, 0, 2, resolve, 0);
      encoder.copyBufferToBuffer(resolve, 0, staging, 0, 16);
    }
    return encoder.finish();
  };
  const t: Record<string, number[]> = { wall: [], 'wall, encoded before': [], 'wall, timed': [], gpu: [] };
  for (let i = 0; i < runs + 20; i++) {
    // One of each per round, so that clock changes touch all alike.
    let t0 = performance.now();
    device.queue.submit([encode(false)]);
    await device.queue.onSubmittedWorkDone();
    const wall = performance.now() - t0;
    const commands = encode(false);
    t0 = performance.now();
    device.queue.submit([commands]);
    await device.queue.onSubmittedWorkDone();
    const before = performance.now() - t0;
    t0 = performance.now();
    device.queue.submit([encode(true)]);
    await device.queue.onSubmittedWorkDone();
    const timed = performance.now() - t0;
    await staging.mapAsync(MapMode.READ);
    const stamps = new BigUint64Array(staging.getMappedRange().slice(0));
    staging.unmap();
    if (i < 20) continue;
    t.wall.push(wall);
    t['wall, encoded before'].push(before);
    t['wall, timed'].push(timed);
    t.gpu.push(Number(stamps[1] - stamps[0]) / 1e6);
  }
  console.log(`one dispatch of y = x * a + b over ${floats} floats (${((vec4s * 32) / 2 ** 30).toFixed(2)} GiB moved): us, median (p10) of ${runs} rounds`);
  for (const [name, xs] of Object.entries(t)) console.log(`${name.padEnd(40)}${us(quantile(xs, 0.5)).padStart(10)} (${us(quantile(xs, 0.1))})`);
  [x, y, resolve, staging].forEach((b) => b.destroy());
  set.destroy();
}

/**
 * The latency of a readback after GPU work of growing length: `calls` jitted GEMMs of n x n x n are submitted,
 * then one value of the last product is read back (`await t.data()`): its sum (a reduction in the same
 * program), or its corner (a [1, 1] view of the product: the backend reads the view's span of the base, not
 * the n x n base). The wall time from the first call to the data, less the kernels' GPU time (timestamps,
 * measured separately), is what the evaluations and the readback add. Rounds alternate between the two.
 */
async function readbackLatency(backend: WebGpuBackend, n: number, rounds: number): Promise<void> {
  const x = wg.randn([n, n], 1).mul(1 / Math.sqrt(n));
  const w = wg.randn([n, n], 2);
  await wg.evaluate(x, w);
  const programs = {
    sum: wg.jit((a: Tensor, b: Tensor) => a.matmul(b).sum()),
    corner: wg.jit((a: Tensor, b: Tensor) => a.matmul(b).slice([0, 0], [1, 1])),
  };
  const gpuMs: Record<string, number> = {};
  for (const [name, f] of Object.entries(programs)) {
    (await f(x, w)).dispose();
    backend.timing = true;
    const gpu: number[] = [];
    for (let i = 0; i < 5; i++) {
      wg.resetTelemetry();
      (await f(x, w)).dispose();
      gpu.push(wg.telemetry().kernelTimes.reduce((acc, k) => acc + k.gpuNs, 0) / 1e6);
    }
    backend.timing = false;
    gpuMs[name] = quantile(gpu, 0.5);
  }
  console.log(`readback after GPU work (${n}^3 GEMMs of ${(gpuMs.corner * 1000).toFixed(0)} us GPU each): wall - GPU, us, median (p10) of ${rounds} rounds`);
  console.log(`${'calls'.padStart(6)}${'GPU us'.padStart(10)}${'sum'.padStart(22)}${'corner (a view)'.padStart(22)}`);
  for (const calls of [1, 2, 4, 8, 16]) {
    const t = await alternating(['sum', 'corner'] as const, rounds, 2, async (name) => {
      const t0 = performance.now();
      let last: Tensor | null = null;
      for (let c = 0; c < calls; c++) {
        last?.dispose();
        last = await programs[name](x, w);
      }
      await last!.data();
      const wall = performance.now() - t0;
      last!.dispose();
      return wall - calls * gpuMs[name];
    });
    const cell = (xs: number[]) => `${us(quantile(xs, 0.5))} (${us(quantile(xs, 0.1))})`.padStart(22);
    console.log(`${String(calls).padStart(6)}${us(calls * gpuMs.corner).padStart(10)}${cell(t.sum)}${cell(t.corner)}`);
  }
  [x, w].forEach((v) => v.dispose());
}

/**
 * Uploads of fresh host data: each round makes a new tensor of `mib` MiB from the same Float32Array (wgfuse
 * copies it), evaluates `x.add(1)` and waits for the GPU; the time from the tensor's creation to the end. Rounds
 * alternate between a pooled staging buffer (the backend's default for data of 1 MiB and more) and
 * `queue.writeBuffer` (stagedUploadBytes = Infinity).
 */
async function uploadRate(backend: WebGpuBackend, mib: number, rounds: number): Promise<void> {
  const data = Float32Array.from({ length: (mib << 20) / 4 }, (_, i) => i % 1013);
  const saved = backend.stagedUploadBytes;
  const t = await alternating(['staged', 'writeBuffer'] as const, rounds, 1, async (mode) => {
    backend.stagedUploadBytes = mode === 'staged' ? saved : Infinity;
    const t0 = performance.now();
    const x = wg.tensor(data);
    const y = x.add(1);
    await wg.evaluate(y);
    await backend.device.queue.onSubmittedWorkDone();
    const ms = performance.now() - t0;
    [x, y].forEach((v) => v.dispose());
    return ms;
  });
  backend.stagedUploadBytes = saved;
  const cell = (xs: number[]) => `${quantile(xs, 0.5).toFixed(1)} ms (${((mib * 1.048576) / quantile(xs, 0.5)).toFixed(2)} GB/s)`;
  console.log(`upload of ${mib} MiB of fresh data (wg.tensor, then x.add(1) evaluated and waited for), median of ${rounds}: staged ${cell(t.staged)}, writeBuffer ${cell(t.writeBuffer)}`);
}

/**
 * `rounds` values of `round(mode)` per mode, the modes taking turns round by round (so that clock changes touch
 * all alike), after `warm` untimed turns of each.
 */
async function alternating<M extends string>(modes: readonly M[], rounds: number, warm: number, round: (mode: M) => Promise<number>): Promise<Record<M, number[]>> {
  const out = Object.fromEntries(modes.map((m) => [m, [] as number[]])) as Record<M, number[]>;
  for (let i = 0; i < (rounds + warm) * modes.length; i++) {
    const mode = modes[i % modes.length];
    const value = await round(mode);
    if (i >= warm * modes.length) out[mode].push(value);
  }
  return out;
}

/** CPU time of the calling (main) thread in ms; null where /proc has no schedstat. */
function threadCpuMs(): number | null {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return null;
  }
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length * q)];
}

const us = (ms: number) => (ms * 1000).toFixed(1);

async function main(): Promise<void> {
  // navigator.gpu, as the harness does: wgfuse's own dynamic import of the Node GPU module cannot be followed
  // by a bundle (this file travels to the GPU machine as one).
  const selection = await selectNodeGpu({ software: 'fallback' });
  if (!selection.gpu) throw new Error(`no WebGPU adapter: ${selection.reason}`);
  Object.defineProperty(globalThis, 'navigator', { value: { gpu: selection.gpu }, configurable: true });
  await wg.init({ backend: 'webgpu', quiet: true });
  const backend = currentBackend();
  if (!(backend instanceof WebGpuBackend)) throw new Error('no WebGPU backend');
  const device = backend.device;
  let submitCalledAt = 0;
  let submittedAt = 0;
  const queue = device.queue;
  const submit = queue.submit.bind(queue);
  queue.submit = (buffers: Iterable<GPUCommandBuffer>) => {
    submitCalledAt = performance.now();
    submit(buffers);
    submittedAt = performance.now();
  };
  const load = os.loadavg().map((l) => l.toFixed(2)).join(' ');
  console.log(`host cost per evaluation of a cached plan, us, median (p10) of ${RUNS} rounds; ${os.cpus().length} x ${os.cpus()[0].model}; load ${load}`);
  if (argv.includes('--floor')) {
    console.log(`floor: us, median (p10) of ${RUNS} rounds`);
    await floor(device, RUNS);
  }
  // --gap FLOATS: wall against GPU time of one large dispatch outside wgfuse (see copyGap).
  if (argv.includes('--gap')) await copyGap(device, Number(option('--gap', '0')), Math.min(RUNS, 200));
  // --upload MIB: host-to-device upload of fresh data, staged or through writeBuffer (see uploadRate).
  if (argv.includes('--upload')) {
    await uploadRate(backend, Number(option('--upload', '256')), Math.min(RUNS, 15));
    return;
  }
  // --readback N: the latency of `await t.data()` after GPU work of growing length (see readbackLatency).
  if (argv.includes('--readback')) {
    await readbackLatency(backend, Number(option('--readback', '512')), Math.min(RUNS, 40));
    return;
  }
  const columns = ['build', 'extract', 'key', 'evaluate', 'submit', 'cpu', 'total', 'wait', 'jit', 'jit total', 'no ahead', 'pre', 'queue', 'post', 'jit wait'];
  console.log(`${'workload'.padEnd(24)}${columns.map((c) => c.padStart(15)).join('')}`);
  for (const w of LARGE ? LARGE_WORKLOADS : WORKLOADS) {
    if (ONLY && !w.name.includes(ONLY)) continue;
    const inputs = w.inputs.map((shape, i) => wg.randn(shape, i + 1));
    await wg.evaluate(...inputs);
    const first = w.build(inputs);
    await wg.evaluate(first);
    await device.queue.onSubmittedWorkDone();
    first.dispose();
    const t: Record<string, number[]> = Object.fromEntries(columns.map((c) => [c, []]));
    for (let i = 0; i < RUNS + 50; i++) {
      const t0 = performance.now();
      const y = w.build(inputs);
      const t1 = performance.now();
      const p = extractProgram([y.node]);
      const t2 = performance.now();
      planKey(p.graph, p.args);
      const t3 = performance.now();
      await wg.evaluate(y);
      y.dispose();
      const t4 = performance.now();
      if (i % 32 === 31) await device.queue.onSubmittedWorkDone();
      if (i < 50) continue;
      t.build.push(t1 - t0);
      t.extract.push(t2 - t1);
      t.key.push(t3 - t2);
      t.evaluate.push(t4 - t3);
      t.submit.push(submittedAt - t3);
    }
    await device.queue.onSubmittedWorkDone();
    const c0 = threadCpuMs();
    for (let i = 0; i < RUNS; i++) {
      const y = w.build(inputs);
      await wg.evaluate(y);
      y.dispose();
    }
    const c1 = threadCpuMs();
    await device.queue.onSubmittedWorkDone();
    if (c0 !== null && c1 !== null) t.cpu.push((c1 - c0) / RUNS);
    for (let i = 0; i < RUNS + 50; i++) {
      const t0 = performance.now();
      const y = w.build(inputs);
      await wg.evaluate(y);
      const t1 = performance.now();
      await device.queue.onSubmittedWorkDone();
      const t2 = performance.now();
      y.dispose();
      if (i < 50) continue;
      t.total.push(t2 - t0);
      t.wait.push(t2 - t1);
    }
    // 4. The same function through wg.jit: the call (trace once, then bind the arguments and run the cached
    //    plan) and dispose, alone and followed by the wait.
    const f = wg.jit((...x: Tensor[]) => w.build(x));
    (await f(...inputs)).dispose();
    for (let i = 0; i < RUNS + 50; i++) {
      const t0 = performance.now();
      const y = await f(...inputs);
      y.dispose();
      const t1 = performance.now();
      if (i % 32 === 31) await device.queue.onSubmittedWorkDone();
      if (i >= 50) t.jit.push(t1 - t0);
    }
    // Blocks of 25 calls with the backend's encoding ahead on, then off (the next call's commands encoded
    // while the GPU runs this one; docs/runtime.md, "Host overhead"), alternating; the first 50 are warm-up.
    for (let i = 0; i < 2 * RUNS + 50; i++) {
      const ahead = i < 50 || Math.floor(i / 25) % 2 === 0;
      backend.encodeAhead = ahead;
      const t0 = performance.now();
      const y = await f(...inputs);
      const resolved = performance.now();
      await device.queue.onSubmittedWorkDone();
      const t1 = performance.now();
      y.dispose();
      if (i < 50) continue;
      t[ahead ? 'jit total' : 'no ahead'].push(t1 - t0);
      if (ahead) {
        t.pre.push(submitCalledAt - t0);
        t.queue.push(submittedAt - submitCalledAt);
        t.post.push(resolved - submittedAt);
        t['jit wait'].push(t1 - resolved);
      }
    }
    backend.encodeAhead = true;
    const cell = (xs: number[]) => (xs.length === 0 ? '-' : xs.length === 1 ? us(xs[0]) : `${us(quantile(xs, 0.5))} (${us(quantile(xs, 0.1))})`).padStart(15);
    console.log(`${w.name.padEnd(24)}${columns.map((c) => cell(t[c])).join('')}`);
    inputs.forEach((x) => x.dispose());
  }
  const tel = wg.telemetry() as ReturnType<typeof wg.telemetry> & { bindGroupsCreated?: number; bindGroupsReused?: number };
  const groups = tel.bindGroupsCreated === undefined ? '' : `; bind groups: ${tel.bindGroupsCreated} created, ${tel.bindGroupsReused} reused`;
  console.log(`plan cache: ${tel.planCacheHits} hits, ${tel.planCacheMisses} misses; pool: ${tel.pool.hits} hits, ${tel.pool.misses} misses${groups}`);
  console.log(`load after: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

await main();
process.exit(0);
