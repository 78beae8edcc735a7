// How late Node sees a dispatch finish, measured within one run: each run is one busy kernel with timestamps
// at its pass's start and end (exact: Dawn's quantization off, as the harness), and the wall time from
// queue.submit to the resolution of queue.onSubmittedWorkDone; the timestamps are read afterwards, so the
// excess (wall - kernel) of a run is its own. wall-probe.ts found that untimed evaluations pay 77-148 us
// over their kernels while runs queued back to back pay 17-49, and an earlier probe that the excess grows
// with the kernel's length; this tells whether waiting itself costs (the `webgpu` package polls Dawn with
// setImmediate while a promise is pending) by waiting in three ways, alternating run by run:
//   await     onSubmittedWorkDone right after the submit
//   spin      the host busy (no event loop turn, so no polling) until 200 us before the kernel's expected
//             end, then onSubmittedWorkDone
//   late      the same, but until 200 us after the expected end (the wait then only sees a finished kernel)
//   ../shared/tools/gpu-prep bench/wait-latency.ts=wait-latency.mjs
//   source .gpu/env.sh && node .gpu/wait-latency.mjs [--quick]
import { globals } from 'webgpu';
import { busyPipeline, probeDevice } from './busy-kernel.js';

Object.assign(globalThis, globals);
const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 3 : 40;

const { adapter, device } = await probeDevice('wait-latency', 'required');
const pipeline = busyPipeline(device);
const N = quick ? 256 * 4 : 264 * 256 * 4;
const buf = device.createBuffer({ size: N * 4, usage: GPUBufferUsage.STORAGE });
const uni = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
const qs = device.createQuerySet({ type: 'timestamp', count: 2 });
const resolved = device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
const read = device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
const group = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: buf } }, { binding: 1, resource: { buffer: uni } }] });

function commands(): GPUCommandBuffer {
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass({ timestampWrites: { querySet: qs, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } });
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, group);
  pass.dispatchWorkgroups(N / 256);
  pass.end();
  enc.resolveQuerySet(qs, 0, 2, resolved, 0);
  enc.copyBufferToBuffer(resolved, 0, read, 0, 16);
  return enc.finish();
}

/** One run: wall ms from submit to the wait's resolution, and the kernel's ms from its timestamps. */
async function run(hold: number | null): Promise<{ wall: number; kernel: number }> {
  const cmd = commands();
  const t0 = performance.now();
  device.queue.submit([cmd]);
  if (hold !== null) while (performance.now() - t0 < hold);
  await device.queue.onSubmittedWorkDone();
  const wall = performance.now() - t0;
  await read.mapAsync(GPUMapMode.READ);
  const t = new BigUint64Array(read.getMappedRange().slice(0));
  read.unmap();
  return { wall, kernel: Number(t[1] - t[0]) / 1e6 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`wait-latency: ${adapter.info.vendor} ${adapter.info.architecture} ${adapter.info.description}; ${ROUNDS} rounds per length, modes alternating; us of wall time over the run's own kernel time, median (p10-p90)`);
for (const iters of quick ? [200, 800] : [2000, 8000, 16000, 30000, 60000]) {
  device.queue.writeBuffer(uni, 0, new Uint32Array([iters, 0, 0, 0]));
  // Warm up (about 300 ms), then the kernel's length for the holds.
  const until = performance.now() + (quick ? 0 : 300);
  let kernel = (await run(null)).kernel;
  while (performance.now() < until) kernel = (await run(null)).kernel;
  const modes: [string, number | null][] = [['await', null], ['spin', Math.max(0, kernel - 0.2)], ['late', kernel + 0.2]];
  const excess = new Map<string, number[]>(modes.map(([m]) => [m, []]));
  const kernels: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    for (const [m, hold] of modes) {
      const x = await run(hold);
      excess.get(m)!.push((x.wall - x.kernel) * 1000);
      kernels.push(x.kernel);
    }
  }
  const cell = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return `${median(s).toFixed(0)} (${s[Math.floor(s.length * 0.1)].toFixed(0)}-${s[Math.floor(s.length * 0.9)].toFixed(0)})`;
  };
  console.log(`kernel ${median(kernels).toFixed(3)} ms: ${modes.map(([m]) => `${m} +${cell(excess.get(m)!)}`).join('   ')}`);
}
device.destroy();
process.exit(0);
