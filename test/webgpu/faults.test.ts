// Memory and device faults (issue 6), each injected and checked for its error AND the recovery after it:
// device limits (a real device with WebGPU's default limits), out-of-memory (a wrapped device reporting it
// through error scopes, or a device of limited capacity), device loss (device.destroy()), and GPU promises
// that never settle (a hung device). See docs/reliability.md, "Memory and device faults".
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.js';
import { currentBackend } from '../../src/api/context.js';
import { extractProgram } from '../../src/api/program.js';
import { selectNodeGpu } from '../../src/runtime/node-gpu.js';
import { acquireDevice } from '../../src/runtime/webgpu/device.js';
import { checkPlanLimits, STAGED_UPLOAD_BYTES, WebGpuBackend } from '../../src/runtime/webgpu/backend.js';
import { faultyDevice, type Faults } from './fault-device.js';

/**
 * A new device, with the adapter's largest limits or with WebGPU's defaults. All come from one Dawn instance:
 * an instance per device would be closer to what wgfuse does on its own, but it multiplies native objects
 * created and dropped in one process for no benefit to what these tests check.
 */
let instance: GPU | null = null;
async function newDevice(limits: 'max' | 'default' = 'max'): Promise<GPUDevice> {
  if (!instance) {
    const selection = await selectNodeGpu({ software: 'fallback' });
    if (!selection.gpu) throw new Error(`no WebGPU adapter: ${selection.reason}`);
    instance = selection.gpu;
  }
  if (limits === 'max') return (await acquireDevice({ gpu: instance }))!.device;
  const adapter = await instance.requestAdapter();
  return adapter!.requestDevice();
}

function gpu(): WebGpuBackend {
  const b = currentBackend();
  if (!(b instanceof WebGpuBackend)) throw new Error('expected the WebGPU backend');
  return b;
}

const range = <T = number>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));

/** Rejects with `what` if `p` has not settled within `ms`: a hang fails the test instead of stalling it. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms))]);
}

afterAll(async () => {
  await wg.init({ backend: 'cpu', quiet: true });
});

describe('device limits', () => {
  let device: GPUDevice;
  let faults: Faults;
  beforeAll(async () => {
    // WebGPU's default limits (maxStorageBufferBindingSize 128 MiB, maxBufferSize 256 MiB): devices cannot
    // be requested with smaller ones, and these are what a browser page gets unless it asks for more.
    ({ device, faults } = faultyDevice(await newDevice('default')));
    await wg.init({ backend: 'webgpu', device, quiet: true });
  });

  it('a result over maxStorageBufferBindingSize fails before anything runs, naming the limit, the tensor and the op', async () => {
    const limit = device.limits.maxStorageBufferBindingSize;
    expect(limit).toBeLessThan(device.limits.maxBufferSize);
    const n = limit / 4 + 1;
    const y = wg.arange(n).cast('float32').mul(2);
    const before = gpu().telemetry();
    const err = await y.data().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(wg.DeviceLimitError);
    const message = (err as Error).message;
    expect(message).toContain(`the result float32[${n}] takes`);
    expect(message).toContain(`(${n * 4} bytes), more than this device's maxStorageBufferBindingSize of 128 MiB (${limit} bytes)`);
    expect(message).toMatch(/; kernel \S+ writes it, computing:\n( {4}.*\n)* {4}%\d+ = mul .*: f32\[33554433\]\nwgfuse does not split a tensor/);
    expect(err).toMatchObject({ limit: 'maxStorageBufferBindingSize', limitBytes: limit, bytes: n * 4 });
    // Nothing was allocated or submitted, and the driver saw nothing invalid.
    const after = gpu().telemetry();
    expect(after.pool.misses + after.pool.hits).toBe(before.pool.misses + before.pool.hits);
    expect(after.submits).toBe(before.submits);
    expect(faults.uncaptured).toEqual([]);
  });

  it('an intermediate over the binding limit and a result over maxBufferSize are named as such', async () => {
    // [6000,6000] float32 is 137 MB: a temporary between the matmul and the reduction.
    const a = wg.rand([6000, 1], 1);
    const b = wg.rand([1, 6000], 2);
    const err = await a.matmul(b).sum().data().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(wg.DeviceLimitError);
    expect((err as Error).message).toMatch(/an intermediate float32 value of 36000000 elements takes .* maxStorageBufferBindingSize .*; kernel matmul\S* writes it, computing:\n {4}%\d+ = matmul /s);
    // [9000,9000] is 324 MB: over maxBufferSize, so no buffer could even hold it.
    const big = await wg.rand([9000, 1], 1).matmul(wg.rand([1, 9000], 2)).data().catch((e: unknown) => e);
    expect(big).toMatchObject({ name: 'DeviceLimitError', limit: 'maxBufferSize', bytes: 9000 * 9000 * 4 });
    expect((big as Error).message).toContain('the result float32[9000,9000] takes 309.0 MiB (324000000 bytes)');
    expect(faults.uncaptured).toEqual([]);
  });

  it('a tensor of exactly the binding limit runs and reads back correctly, and smaller programs keep working', async () => {
    const n = device.limits.maxStorageBufferBindingSize / 4;
    const v = await wg.arange(n).add(1).data();
    expect(v.length).toBe(n);
    expect([v[0], v[12345], v[n - 1]]).toEqual([1, 12346, n]);
    expect(Array.from(await wg.tensor([1, 2, 3]).mul(2).data())).toEqual([2, 4, 6]);
    expect(faults.uncaptured).toEqual([]);
  }, 120_000);

  it('checkPlanLimits rejects uploads and bindings against injected limits, and passes at the limit', () => {
    const x = wg.tensor(range(300, (i) => i), [300]);
    const y = x.mul(2);
    const { graph, args } = extractProgram([y.node]);
    const plan = gpu().plan(graph, args);
    expect(() => checkPlanLimits(plan, args, { maxBufferSize: 1200, maxStorageBufferBindingSize: 1200 })).not.toThrow();
    expect(() => checkPlanLimits(plan, args, { maxBufferSize: 1196, maxStorageBufferBindingSize: 1196 })).toThrow(/the input float32\[300\] takes 1.2 KiB \(1200 bytes\), more than this device's maxBufferSize of 1.2 KiB \(1196 bytes\); it cannot be uploaded/);
    expect(() => checkPlanLimits(plan, args, { maxBufferSize: 4096, maxStorageBufferBindingSize: 1024 })).toThrow(/the input float32\[300\] .* maxStorageBufferBindingSize .*; kernel \S+ reads it/);
    // A view binds its whole base: a slice of 10 elements of the 300 still needs the 1200 bytes.
    const part = x.slice([0], [10]);
    const view = extractProgram([part.add(1).node]);
    expect(() => checkPlanLimits(gpu().plan(view.graph, view.args), view.args, { maxBufferSize: 4096, maxStorageBufferBindingSize: 1196 })).toThrow(/float32\[300\]/);
  });

  afterAll(() => device.destroy());
});

describe('out of memory', () => {
  let device: GPUDevice;
  let faults: Faults;
  beforeAll(async () => {
    ({ device, faults } = faultyDevice(await newDevice()));
    await wg.init({ backend: 'webgpu', device, quiet: true });
  });
  afterEach(() => {
    faults.failNextCreates = 0;
    faults.capacityBytes = Infinity;
    expect(faults.uncaptured).toEqual([]);
  });

  /** Fills the pool with idle buffers of odd sizes, so that there is something to trim. */
  async function fillPool(): Promise<void> {
    const ts = [3000, 5000, 7000].map((n) => wg.arange(n).cast('float32').exp());
    await wg.evaluate(...ts);
    ts.forEach((t) => t.dispose());
    expect(gpu().pool.stats.bytesPooled).toBeGreaterThan(0);
  }

  it('one out-of-memory allocation empties the pool and succeeds on the retry', async () => {
    await fillPool();
    wg.resetTelemetry();
    const trimmed = gpu().pool.stats.trimmed;
    faults.failNextCreates = 1;
    const y = wg.arange(1111).cast('float32').mul(3);
    const v = await y.data();
    expect(v[1110]).toBe(3330);
    const t = wg.telemetry();
    expect(faults.failNextCreates).toBe(0);
    expect(t.outOfMemoryRetries).toBe(1);
    expect(t.outOfMemoryErrors).toBe(0);
    expect(t.pool.trimmed).toBeGreaterThan(trimmed);
    expect(t.pool.discarded).toBeGreaterThan(0); // the invalid buffer was destroyed, never pooled
    y.dispose();
  });

  it('a device short of memory: idle pool buffers are freed and the allocation then fits', async () => {
    await fillPool();
    const pooled = gpu().pool.stats.bytesPooled;
    // The device has room for what is in use and what the pool keeps, and no more.
    faults.capacityBytes = faults.liveBytes;
    wg.resetTelemetry();
    const x = wg.tensor(range(2000, (i) => i), [2000]);
    const v = await x.add(0.5).data();
    expect(v[1999]).toBe(1999.5);
    expect(wg.telemetry().outOfMemoryRetries).toBe(1);
    expect(gpu().pool.stats.bytesPooled).toBeLessThan(pooled);
    expect(faults.liveBytes).toBeLessThanOrEqual(faults.capacityBytes);
  });

  it('persistent out-of-memory: a clear error, nothing leaked, the inputs stay valid, smaller programs work', async () => {
    const host = wg.tensor(range(4096, (i) => i % 7), [64, 64]); // not on the device yet
    const y = host.matmul(host).add(1);
    const inUse = gpu().pool.stats.buffersInUse;
    const allocated = gpu().pool.stats.bytesAllocated;
    wg.resetTelemetry();
    faults.failNextCreates = 1000;
    const err = await y.data().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(wg.OutOfMemoryError);
    const message = (err as Error).message;
    expect(message).toMatch(/^webgpu: out of device memory: an evaluation of 1 dispatches \(fused\.matmul\S*\) needs \d+ new buffers, [\d.]+ KiB in all \(the largest 16 KiB\); the buffer pool was emptied and the allocation retried once, and it failed again\. wgfuse holds .* Dispose tensors/);
    expect(message).toContain('injected: out of memory');
    expect(wg.telemetry()).toMatchObject({ outOfMemoryRetries: 1, outOfMemoryErrors: 1, evaluations: 0 });
    // Every buffer of both attempts was given back: none in use, none of the invalid ones allocated. (Tensors
    // of earlier tests may have been collected meanwhile, so the counts can only have gone down.)
    expect(gpu().pool.stats.buffersInUse).toBeLessThanOrEqual(inUse);
    expect(gpu().pool.stats.bytesAllocated).toBeLessThanOrEqual(allocated);
    // Recovery: with memory back, the same lazy tensor evaluates, from its host input (which was never
    // bound to an invalid buffer), and a smaller program works too.
    faults.failNextCreates = 0;
    const want = await wg.tensor(range(4096, (i) => i % 7), [64, 64]).matmul(wg.tensor(range(4096, (i) => i % 7), [64, 64])).add(1).data();
    expect(Array.from(await y.data())).toEqual(Array.from(want));
    const rowSums = range(64, (i) => range(64, (j) => (i * 64 + j) % 7).reduce((p, q) => p + q, 0));
    expect(Array.from(await host.sum(1).data())).toEqual(rowSums);
  });

  it('out-of-memory on the readback buffer: retried once, then a clear error naming the tensor; the value survives', async () => {
    const y = wg.arange(5000).cast('float32').sqrt();
    await wg.evaluate(y);
    gpu().pool.trim(0); // no idle staging buffer to reuse
    wg.resetTelemetry();
    faults.failNextCreates = 1;
    expect((await y.data())[2500]).toBeCloseTo(50, 5);
    expect(wg.telemetry().outOfMemoryRetries).toBe(1);
    gpu().pool.trim(0);
    faults.failNextCreates = 2;
    const err = await y.data().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(wg.OutOfMemoryError);
    expect((err as Error).message).toMatch(/^webgpu: out of device memory reading back a float32\[5000\] tensor \(19\.5 KiB of staging memory\); the buffer pool was emptied and the allocation retried once/);
    expect((await y.data())[4900]).toBeCloseTo(70, 5);
  });

  it('out-of-memory on a large upload\'s staging buffer: the upload goes through writeBuffer instead, exactly', async () => {
    const n = STAGED_UPLOAD_BYTES / 4 + 5;
    const host = Float32Array.from(range(n, (i) => (i % 1001) - 500.25));
    const x = wg.tensor(host);
    gpu().pool.trim(0); // no idle staging buffer to reuse
    const before = faults.outOfMemory;
    wg.resetTelemetry();
    faults.failNextCreates = 1; // the first buffer the evaluation creates is the staging buffer
    const v = await x.mul(2).data();
    expect(faults.outOfMemory).toBe(before + 1);
    expect(wg.telemetry()).toMatchObject({ outOfMemoryRetries: 0, outOfMemoryErrors: 0, bytesUploaded: n * 4 });
    expect(range(n, (i) => i).filter((i) => v[i] !== host[i] * 2).length).toBe(0);
    x.dispose();
  });

  afterAll(() => device.destroy());
});

describe('device loss', () => {
  it('wgfuse replaces a device it acquired: values only on the lost device say so, host data still works', async () => {
    await wg.init({ backend: 'webgpu', quiet: true });
    const lostBackend = gpu();
    const host = wg.tensor([1, 2, 3]);
    const computed = host.mul(2);
    await computed.data(); // lives only on the device
    const uploaded = host.add(10);
    await uploaded.data(); // host's device copy now exists too
    const lazy = host.sub(1);
    const fromHostLater = wg.tensor([[5, 6]]);

    lostBackend.device.destroy();
    // Right after destroy() (the lost promise has not even resolved yet), reading a device-only value fails clearly.
    const first = await within(computed.data(), 10_000, 'read after destroy').catch((e: unknown) => e);
    expect(first).toBeInstanceOf(wg.DeviceLostError);
    // Said by the backend if the read got to it before the loss was reported, else by the API layer.
    expect((first as Error).message).toMatch(/float32\[3\].*lost \(destroyed: /);
    expect(lostBackend.lostReason()).toMatch(/^destroyed/);

    // The next evaluation acquires a new device; host data is uploaded again.
    expect(Array.from(await within(lazy.data(), 30_000, 'evaluation after loss'))).toEqual([0, 1, 2]);
    expect(gpu()).not.toBe(lostBackend);
    expect(wg.telemetry().deviceLosses).toBe(1);
    expect(Array.from(await host.mul(host).data())).toEqual([1, 4, 9]);
    expect(Array.from(await fromHostLater.add(1).data())).toEqual([6, 7]);
    // A value whose only copy was on the lost device says so, by dtype and shape, read or used.
    for (const use of [() => computed.data(), () => computed.add(1).data(), () => uploaded.data()]) {
      // Building on it may already fail at the call; reading it fails at the read.
      const err = await (async () => use())().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(wg.DeviceLostError);
      expect((err as Error).message).toMatch(/float32\[3\].* lived only on a WebGPU device that was lost \(destroyed: /);
    }
    // Recomputing it from its host inputs works.
    expect(Array.from(await host.mul(2).data())).toEqual([2, 4, 6]);
  });

  it('evaluations and readbacks in flight when the device is lost all settle: lost, or correct', async () => {
    await wg.init({ backend: 'webgpu', quiet: true });
    const xs = range(12, (i) => wg.tensor(range(256, (j) => ((i + j) % 11) / 4), [16, 16]));
    const program = (x: wg.Tensor, i: number) => (i % 3 === 0 ? x.matmul(x) : i % 3 === 1 ? x.exp().sum(0) : x.softmax(-1));
    await wg.init({ backend: 'cpu', quiet: true });
    const want = await Promise.all(xs.map((x, i) => program(x, i).data()));
    await wg.init({ backend: 'webgpu', quiet: true });
    const pending = xs.map((x, i) => program(x, i).data());
    gpu().device.destroy();
    const outcomes = await within(Promise.allSettled(pending), 30_000, 'evaluations in flight');
    outcomes.forEach((o, i) => {
      if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(wg.DeviceLostError);
      else Array.from(o.value).forEach((v, j) => expect(v).toBeCloseTo(want[i][j], 4));
    });
    expect(outcomes.some((o) => o.status === 'rejected')).toBe(true);
    // The host inputs are intact: the same programs run on the device acquired next.
    const again = await Promise.all(xs.map((x, i) => program(x, i).data()));
    again.forEach((v, i) => Array.from(v).forEach((e, j) => expect(e).toBeCloseTo(want[i][j], 4)));
  });

  it("a device the caller gave is the caller's to replace; a hung readback fails when it is lost", async () => {
    const { device, faults } = faultyDevice(await newDevice());
    await wg.init({ backend: 'webgpu', device, quiet: true });
    const host = wg.tensor([1, 2, 3, 4]);
    const y = host.mul(3);
    await wg.evaluate(y);
    faults.hang.map = true;
    const read = y.data();
    await new Promise((r) => setTimeout(r, 50));
    expect(faults.hung).toBe(1);
    device.destroy();
    const err = await within(read, 10_000, 'hung readback after loss').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(wg.DeviceLostError);
    expect((err as Error).message).toContain('while reading back a float32[4] tensor');
    // The next evaluation says what to do; it does not pick a device on the caller's behalf.
    await expect(host.add(1).data()).rejects.toThrow(/the device given to wg\.init\(\) was lost \(destroyed.*\); pass a new one with wg\.init\(\{ device \}\)/);
    const replacement = await newDevice();
    await wg.init({ backend: 'webgpu', device: replacement, quiet: true });
    expect(Array.from(await host.add(1).data())).toEqual([2, 3, 4, 5]);
    await expect(y.data()).rejects.toThrow(/float32\[4\].* lived only on a WebGPU device that was lost/);
    replacement.destroy();
  });

  it('a pipeline compile in flight when the device is lost fails instead of hanging', async () => {
    const { device, faults } = faultyDevice(await newDevice());
    await wg.init({ backend: 'webgpu', device, quiet: true });
    faults.hang.pipeline = true;
    const read = wg.tensor([1, 2]).mul(wg.tensor([3, 4])).cos().data();
    await new Promise((r) => setTimeout(r, 50));
    expect(faults.hung).toBeGreaterThan(0);
    device.destroy();
    await expect(within(read, 10_000, 'hung pipeline after loss')).rejects.toThrow(wg.DeviceLostError);
  });
});

describe('deferred error checks', () => {
  let device: GPUDevice;
  let faults: Faults;
  beforeAll(async () => {
    ({ device, faults } = faultyDevice(await newDevice()));
    await wg.init({ backend: 'webgpu', device, quiet: true });
  });

  it('an error found after a plan that ran before returned: its results are never read, the next call says so once', async () => {
    const x = wg.tensor(range(32, (i) => i));
    const first = x.mul(3);
    expect(Array.from(await first.data())).toEqual(range(32, (i) => 3 * i)); // the plan is now trusted
    first.dispose(); // its buffer goes back to the pool: the next run allocates nothing
    const before = faults.outOfMemory;
    faults.validationError = 'injected: rejected';
    const y = x.mul(3);
    await wg.evaluate(y); // returns before the check settles
    await expect(y.data()).rejects.toThrow(/^webgpu: the device rejected an earlier evaluation, whose results are not valid: injected: rejected/);
    y.dispose(); // its buffer is free again: the next run binds exactly what the rejected one did
    // Reported once; the library goes on, and reuses no bind group made before the error.
    const created = wg.telemetry().bindGroupsCreated;
    const reused = wg.telemetry().bindGroupsReused;
    expect(Array.from(await x.mul(3).data())).toEqual(range(32, (i) => 3 * i));
    expect(wg.telemetry().bindGroupsCreated).toBe(created + 1);
    expect(wg.telemetry().bindGroupsReused).toBe(reused);
    expect(faults.outOfMemory).toBe(before);
  });

  it('the first run of a plan, or one that allocates, is checked before evaluate returns', async () => {
    const x = wg.tensor(range(16, (i) => i));
    faults.validationError = 'injected: first run';
    await expect(wg.evaluate(x.add(7).neg())).rejects.toThrow(/^webgpu: the device rejected the evaluation: injected: first run/);
    expect(Array.from(await x.add(7).neg().data())).toEqual(range(16, (i) => -(i + 7)));
  });

  afterAll(() => device.destroy());
});

describe('hung device', () => {
  let device: GPUDevice;
  let faults: Faults;
  beforeAll(async () => {
    ({ device, faults } = faultyDevice(await newDevice()));
    await wg.init({ backend: 'webgpu', device, quiet: true, timeoutMs: 300 });
  });
  afterEach(() => {
    faults.hang = { map: false, pipeline: false, scope: false };
  });

  it('a readback that never settles times out with a clear error; the value reads once the device answers', async () => {
    const y = wg.tensor([1, 2, 3]).mul(2);
    await wg.evaluate(y);
    faults.hang.map = true;
    const t0 = performance.now();
    const err = await within(y.data(), 10_000, 'hung readback').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(wg.GpuTimeoutError);
    expect((err as Error).message).toMatch(/^webgpu: reading back a float32\[3\] tensor did not finish within 300 ms; the device may be hung/);
    expect(performance.now() - t0).toBeLessThan(5000);
    faults.hang.map = false;
    expect(Array.from(await y.data())).toEqual([2, 4, 6]);
  });

  it('a kernel compile that never settles times out, and is not cached: the next evaluation compiles it', async () => {
    faults.hang.pipeline = true;
    const make = () => wg.tensor([0.5, 1]).mul(wg.tensor([2, 3])).tanh();
    await expect(within(make().data(), 10_000, 'hung compile')).rejects.toThrow(/^webgpu: creating the pipeline of kernel \S+ did not finish within 300 ms/);
    faults.hang.pipeline = false;
    const v = await make().data();
    expect(v[0]).toBeCloseTo(Math.tanh(1), 5);
  });

  it("an evaluation whose error check never settles times out; its buffers are not reused while the GPU may hold them", async () => {
    const x = wg.tensor(range(64, (i) => i));
    await x.add(1).data(); // uploaded
    const inUse = gpu().pool.stats.buffersInUse;
    faults.hang.scope = true;
    // A plan that has not run yet: its scopes are awaited before evaluate returns.
    await expect(within(x.add(2).data(), 10_000, 'hung scope')).rejects.toThrow(/^webgpu: submitting an evaluation did not finish within 300 ms/);
    faults.hang.scope = false;
    expect(gpu().pool.stats.buffersInUse).toBeLessThanOrEqual(inUse);
    expect(Array.from(await x.add(2).data())).toEqual(range(64, (i) => i + 2));
  });

  it('a plan that ran before is not waited for; a hung check fails the readback, then reads work again', async () => {
    const x = wg.tensor(range(64, (i) => i));
    const first = x.sub(5);
    expect(Array.from(await first.data())).toEqual(range(64, (i) => i - 5));
    first.dispose();
    faults.hang.scope = true;
    const y = x.sub(5);
    await within(wg.evaluate(y), 10_000, 'deferred check: evaluate returns without the scopes');
    await expect(within(y.data(), 10_000, 'hung deferred check')).rejects.toThrow(/^webgpu: checking earlier evaluations did not finish within 300 ms/);
    faults.hang.scope = false;
    expect(Array.from(await x.sub(5).data())).toEqual(range(64, (i) => i - 5));
  });

  afterAll(() => device.destroy());
});
