// Where the time of a wait goes between a finished submission and the resolution of its promise, on the
// `webgpu` package's path (it polls Dawn, instance.ProcessEvents, once per turn of the event loop while one of
// its promises is pending). Three measurements, each kind of run alternating with the others:
//   poll      event-loop turns per ms of a setImmediate loop, with no wait pending and with one pending on a
//             long kernel: the difference is what one poll of Dawn costs the host thread
//   now       wall us from queue.submit to the resolution of onSubmittedWorkDone called right after it
//   late      the host busy for 1 ms after the submit (the work has finished), then onSubmittedWorkDone:
//             the call itself, the time to the next turn of the event loop, and that turn to the resolution
// for command buffers of: nothing, 1 dispatch of a tiny kernel, 20 dispatches in one pass, 20 passes of one,
// 1 dispatch with timestamps resolved and copied; and the 1-dispatch run with 0 to 5,000 other live buffers.
//   ../shared/tools/gpu-prep bench/tick-probe.ts=tick-probe.mjs
//   source .gpu/env.sh && node .gpu/tick-probe.mjs [--quick]
import { globals } from 'webgpu';
import { busyPipeline, probeDevice } from './busy-kernel.js';

Object.assign(globalThis, globals);
const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 5 : 60;
const { adapter, device } = await probeDevice('tick-probe', 'optional');
const pipeline = busyPipeline(device);
/** A kernel of `n` threads and `iters` steps, with its bind group. */
function kernel(n: number, iters: number): GPUBindGroup {
  const buf = device.createBuffer({ size: n * 4, usage: GPUBufferUsage.STORAGE });
  const uni = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(uni, 0, new Uint32Array([iters, 0, 0, 0]));
  return device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: buf } }, { binding: 1, resource: { buffer: uni } }] });
}
const tiny = kernel(256, 1);
const long = kernel(quick ? 1024 : 264 * 1024, quick ? 20000 : 400000);
const canTime = device.features.has('timestamp-query');
const qs = canTime ? device.createQuerySet({ type: 'timestamp', count: 2 }) : null;
const resolved = device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
const read = device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });

function commands(dispatches: number, passes: number, group: GPUBindGroup, timed = false): GPUCommandBuffer {
  const enc = device.createCommandEncoder();
  for (let p = 0; p < passes; p++) {
    const pass = enc.beginComputePass(timed && qs ? { timestampWrites: { querySet: qs, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } } : {});
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    for (let d = 0; d < dispatches / passes; d++) pass.dispatchWorkgroups(1);
    pass.end();
  }
  if (timed && qs) {
    enc.resolveQuerySet(qs, 0, 2, resolved, 0);
    enc.copyBufferToBuffer(resolved, 0, read, 0, 16);
  }
  return enc.finish();
}
const kinds: [string, () => GPUCommandBuffer[]][] = [
  ['empty submit', () => []],
  ['1 dispatch', () => [commands(1, 1, tiny)]],
  ['20 dispatches, 1 pass', () => [commands(20, 1, tiny)]],
  ['20 passes of 1', () => [commands(20, 20, tiny)]],
  ...(canTime ? [['1 dispatch + timestamps', () => [commands(1, 1, tiny, true)]] as [string, () => GPUCommandBuffer[]]] : []),
];

let stamp = 0;
/** Counts event-loop turns until stopped, stamping each. */
function turns(): { stop(): number } {
  let n = 0;
  let on = true;
  const step = () => {
    n++;
    stamp = performance.now();
    if (on) setImmediate(step);
  };
  setImmediate(step);
  return { stop: () => ((on = false), n) };
}
/** Event-loop turns per ms for `ms`. */
function turnsPerMs(ms: number): Promise<number> {
  return new Promise((resolve) => {
    let n = 0;
    const t0 = performance.now();
    const step = () => {
      n++;
      const dt = performance.now() - t0;
      if (dt >= ms) resolve(n / dt);
      else setImmediate(step);
    };
    setImmediate(step);
  });
}
const spin = (ms: number) => {
  const t = performance.now();
  while (performance.now() - t < ms);
};

async function now(make: () => GPUCommandBuffer[]): Promise<number> {
  const cmd = make();
  const t0 = performance.now();
  device.queue.submit(cmd);
  await device.queue.onSubmittedWorkDone();
  return (performance.now() - t0) * 1000;
}
async function late(make: () => GPUCommandBuffer[]): Promise<number[]> {
  const cmd = make();
  device.queue.submit(cmd);
  spin(1);
  const counter = turns();
  const t0 = performance.now();
  const wait = device.queue.onSubmittedWorkDone();
  const t1 = performance.now();
  stamp = 0;
  await wait;
  const t2 = performance.now();
  const n = counter.stop();
  return [(t1 - t0) * 1000, (stamp - t1) * 1000, (t2 - stamp) * 1000, n];
}

const pct = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * q))];
const cell = (xs: number[]) => `${pct(xs, 0.5).toFixed(1)} (${pct(xs, 0.1).toFixed(1)}-${pct(xs, 0.9).toFixed(1)})`;
console.log(`tick-probe: ${adapter.info.vendor} ${adapter.info.architecture} ${adapter.info.description}; ${ROUNDS} rounds; us, median (p10-p90)`);

// Warm up: a few hundred ms of the long kernel (clocks up), every kind once.
for (let t = performance.now(); performance.now() - t < (quick ? 10 : 400); ) await now(() => [commands(1, 1, long)]);
for (const [, make] of kinds) await now(make);

const live: GPUBuffer[] = [];
for (const count of [0, 1000, 5000]) {
  while (live.length < count) live.push(device.createBuffer({ size: 1024, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST }));
  await device.queue.onSubmittedWorkDone();
  const idle: number[] = [];
  const pending: number[] = [];
  for (let r = 0; r < Math.min(ROUNDS, 15); r++) {
    idle.push(await turnsPerMs(2));
    device.queue.submit([commands(1, 1, long)]);
    const done = device.queue.onSubmittedWorkDone();
    pending.push(await turnsPerMs(2));
    await done;
  }
  const rows = count === 0 ? kinds : kinds.filter(([k]) => k === '1 dispatch');
  const nowUs = new Map<string, number[]>(rows.map(([k]) => [k, []]));
  const lateUs = new Map<string, number[][]>(rows.map(([k]) => [k, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const [k, make] of rows) {
      nowUs.get(k)!.push(await now(make));
      lateUs.get(k)!.push(await late(make));
    }
  }
  const ti = pct(idle, 0.5), tp = pct(pending, 0.5);
  console.log(`\n${count} other live buffers: a turn of the event loop ${(1000 / ti).toFixed(2)} us idle, ${(1000 / tp).toFixed(2)} us with a wait pending (a poll of Dawn: ${(1000 / tp - 1000 / ti).toFixed(2)} us)`);
  for (const [k] of rows) {
    const l = lateUs.get(k)!;
    console.log(`  ${k.padEnd(26)} now ${cell(nowUs.get(k)!)}   late: call ${cell(l.map((x) => x[0]))}, to the next turn ${cell(l.map((x) => x[1]))}, that turn to resolved ${cell(l.map((x) => x[2]))}, turns ${pct(l.map((x) => x[3]), 0.5)}`);
  }
}
// Clock rates: two passes with a timestamp each, submitted `gap` ms apart (host time at each submit), the
// GPU's interval over the host's. A ratio below 1 means kernel times from timestamps read short of the host's
// wall time in proportion to their length.
if (qs) {
  const span = device.createQuerySet({ type: 'timestamp', count: 4 });
  const out = device.createBuffer({ size: 32, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  const back = device.createBuffer({ size: 32, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const stampAt = (index: number, finish: boolean) => {
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass({ timestampWrites: { querySet: span, beginningOfPassWriteIndex: index, endOfPassWriteIndex: index + 1 } });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, tiny);
    pass.dispatchWorkgroups(1);
    pass.end();
    if (finish) {
      enc.resolveQuerySet(span, 0, 4, out, 0);
      enc.copyBufferToBuffer(out, 0, back, 0, 32);
    }
    const t = performance.now();
    device.queue.submit([enc.finish()]);
    return t;
  };
  const lines: string[] = [];
  for (const gap of quick ? [20] : [10, 100, 1000]) {
    const ratios: number[] = [];
    for (let r = 0; r < (quick ? 2 : 5); r++) {
      const h0 = stampAt(0, false);
      await device.queue.onSubmittedWorkDone();
      await new Promise((res) => setTimeout(res, gap));
      const h1 = stampAt(2, true);
      await device.queue.onSubmittedWorkDone();
      await back.mapAsync(GPUMapMode.READ);
      const t = new BigUint64Array(back.getMappedRange().slice(0));
      back.unmap();
      ratios.push(Number(t[2] - t[0]) / 1e6 / (h1 - h0));
    }
    lines.push(`${gap} ms apart: GPU interval / host interval ${ratios.map((x) => x.toFixed(5)).join(' ')}`);
  }
  console.log(`\nclock rates (timestamps against performance.now()):\n  ${lines.join('\n  ')}`);
}
device.destroy();
process.exit(0);
