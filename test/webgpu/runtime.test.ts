// The WebGPU runtime: pooled buffers, zero-copy views with reference counts, telemetry, one submit per
// evaluation, the plan cache, and compile errors with context.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as wg from '../../src/index.js';
import { currentBackend } from '../../src/api/context.js';
import { storageOf } from '../../src/api/program.js';
import { BufferPool, sizeClass } from '../../src/runtime/webgpu/buffer-pool.js';
import { STAGED_UPLOAD_BYTES, WebGpuBackend } from '../../src/runtime/webgpu/backend.js';
import { PipelineCache } from '../../src/runtime/webgpu/pipelines.js';
import { emptyTelemetry } from '../../src/runtime/telemetry.js';
import { BufferUsage } from '../../src/runtime/webgpu/usage.js';
import { testGpu } from './gpu.js';

let gpu: WebGpuBackend;

beforeAll(async () => {
  const probe = await testGpu();
  if (!probe) throw new Error('no WebGPU adapter');
  probe.device.destroy();
  await wg.init({ backend: 'webgpu', quiet: true });
  gpu = currentBackend() as WebGpuBackend;
});
afterAll(async () => {
  await wg.init({ backend: 'cpu', quiet: true });
});

const STORAGE = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;

describe('buffer pool', () => {
  it('rounds sizes up to classes with at most 25% slack', () => {
    for (const n of [1, 255, 256, 257, 1000, 4096, 5000, 123457, 1 << 20, (1 << 20) + 1, 3e8]) {
      const c = sizeClass(n);
      expect(c).toBeGreaterThanOrEqual(n);
      expect(c % 256).toBe(0);
      if (n > 256) expect(c / n).toBeLessThanOrEqual(1.25 + 256 / n);
    }
  });
  it('reuses a freed buffer of the same class and trims past its cap, counting all of it', () => {
    const pool = new BufferPool(gpu.device, 10_000);
    const a = pool.acquire(1000, STORAGE);
    pool.release(a);
    const b = pool.acquire(1010, STORAGE); // same class as 1000
    expect(b.buffer).toBe(a.buffer);
    expect(pool.stats).toMatchObject({ hits: 1, misses: 1, buffersInUse: 1, buffersPooled: 0 });
    // Three of the 8192-byte class: past the cap once the largest idle one (which does not count) is set
    // aside, so the longest idle goes.
    const big = [pool.acquire(8000, STORAGE), pool.acquire(8000, STORAGE), pool.acquire(8000, STORAGE)];
    big.forEach((x) => pool.release(x));
    pool.release(b);
    expect(pool.stats).toMatchObject({ trimmed: 1, buffersPooled: 3, bytesPooled: 2 * 8192 + 1024 });
    expect(pool.acquire(8000, STORAGE).buffer).not.toBe(big[0].buffer);
    pool.trim(0);
    expect(pool.stats).toMatchObject({ bytesPooled: 0, bytesAllocated: 8192, buffersPooled: 0, buffersInUse: 1 });
  });
  it('keeps its largest idle buffer past the cap: a buffer as large as the cap is reused, not remade', () => {
    const pool = new BufferPool(gpu.device, 4096);
    const small = pool.acquire(1024, STORAGE);
    let large = pool.acquire(8192, STORAGE);
    pool.release(small);
    for (let run = 0; run < 3; run++) {
      pool.release(large);
      const again = pool.acquire(8192, STORAGE);
      expect(again.buffer).toBe(large.buffer);
      large = again;
    }
    expect(pool.stats).toMatchObject({ misses: 2, hits: 3, trimmed: 0 });
    // The largest changes: with 6144 bytes idle besides the small one, 8192 then: the longest idle go
    // (the small one, then the 6144) until the others than the largest fit the cap; the largest stays.
    const other = pool.acquire(6000, STORAGE);
    pool.release(other);
    expect(pool.stats).toMatchObject({ trimmed: 0, buffersPooled: 2 });
    pool.release(large);
    expect(pool.stats).toMatchObject({ trimmed: 2, buffersPooled: 1, bytesPooled: 8192 });
    expect(pool.acquire(8192, STORAGE).buffer).toBe(large.buffer);
  });
  it('hands out the preferred buffer when it is free and of the class asked for, else the most recently freed', () => {
    const pool = new BufferPool(gpu.device);
    const [a, b, c] = [pool.acquire(1000, STORAGE), pool.acquire(1000, STORAGE), pool.acquire(5000, STORAGE)];
    pool.release(a);
    pool.release(b);
    pool.release(c);
    expect(pool.acquire(1000, STORAGE, undefined, a)).toBe(a); // b was freed last, a is asked for
    expect(pool.acquire(1000, STORAGE, undefined, a)).toBe(b); // a is in use: the class's most recent free one
    expect(pool.acquire(1000, STORAGE, undefined, c)).not.toBe(c); // another class: not handed out
    expect(pool.stats).toMatchObject({ hits: 2, misses: 4, buffersInUse: 3, buffersPooled: 1 });
    expect(pool.acquire(5000, STORAGE, undefined, c)).toBe(c);
    expect(pool.destroyedCount).toBe(0);
    pool.discard(a);
    expect(pool.destroyedCount).toBe(1);
    pool.release(b);
    pool.trim(0);
    expect(pool.destroyedCount).toBe(2);
  });
  it('refuses a buffer over maxBufferSize, naming the limit', () => {
    const pool = new BufferPool(gpu.device);
    const max = gpu.device.limits.maxBufferSize;
    expect(() => pool.acquire(max + 4, STORAGE)).toThrow(new RegExp(`maxBufferSize \\(${max} bytes\\)`));
  });
});

describe('evaluation', () => {
  it('records one submit per evaluation, counts dispatches, and reuses plans and pipelines for new data', async () => {
    const program = (x: wg.Tensor) => x.mul(2).add(1).exp();
    await program(wg.tensor([1, 2, 3])).data();
    wg.resetTelemetry();
    const y = program(wg.tensor([4, 5, 6]));
    await wg.evaluate(y);
    const t = wg.telemetry();
    expect(t.evaluations).toBe(1);
    expect(t.submits).toBe(1);
    expect(t.dispatches).toBe(wg.compile(program(wg.tensor([0, 0, 0]))).dispatches.length);
    expect(t.planCacheHits).toBe(1);
    expect(t.pipelinesCompiled).toBe(0);
    expect(t.bytesUploaded).toBe(12);
    const values = await y.data();
    expect(wg.telemetry().bytesDownloaded).toBe(12);
    [4, 5, 6].forEach((v, i) => expect(values[i]).toBeCloseTo(Math.exp(2 * v + 1), -1));
  });
  it('uploads large host data through a pooled staging buffer, small data through writeBuffer, both exact', async () => {
    const queue = gpu.device.queue;
    const writes: number[] = [];
    const writeBuffer = queue.writeBuffer;
    queue.writeBuffer = ((...a: Parameters<GPUQueue['writeBuffer']>) => {
      writes.push(a[4] ?? 0);
      return writeBuffer.apply(queue, a);
    }) as GPUQueue['writeBuffer'];
    let stagingCreated = 0;
    const createBuffer = gpu.device.createBuffer;
    gpu.device.createBuffer = ((desc: GPUBufferDescriptor) => {
      if (desc.usage & BufferUsage.MAP_WRITE) stagingCreated++;
      return createBuffer.call(gpu.device, desc);
    }) as GPUDevice['createBuffer'];
    try {
      // Just over the threshold, an odd length; an int32 and a bool one in the same evaluation; one below.
      const n = STAGED_UPLOAD_BYTES / 4 + 3;
      const f = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 1000);
      const k = Int32Array.from({ length: n }, (_, i) => (i * 7919) % 100003 - 50000);
      const b = Uint8Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 1 : 0));
      const small = Float32Array.from({ length: 1000 }, (_, i) => i / 7);
      const run = async () => {
        const [x, y, z, w] = [wg.tensor(f), wg.tensor(k), wg.tensor(b, [n], 'bool'), wg.tensor(small)];
        const out = x.add(y.cast('float32')).mul(z.cast('float32')).sum();
        const tail = w.mul(2);
        wg.resetTelemetry();
        await wg.evaluate(out, tail);
        expect(wg.telemetry().bytesUploaded).toBe(3 * n * 4 + 1000 * 4);
        let want = 0;
        for (let i = 0; i < n; i++) want += Math.fround(Math.fround(f[i] + k[i]) * b[i]);
        expect((await out.data())[0]).toBeCloseTo(want, -2);
        expect(Array.from(await tail.data())).toEqual(Array.from(small, (v) => Math.fround(v * 2)));
        // The device copies themselves, exactly (mismatches counted: a diff of 2^18 elements takes minutes).
        const mismatches = (got: ArrayLike<number>, want: ArrayLike<number>) => Array.from(want).filter((v, i) => got[i] !== v).length + Math.abs(got.length - want.length);
        expect(mismatches(await y.add(0).data(), k)).toBe(0);
        expect(mismatches(await z.data(), b)).toBe(0);
        [x, y, z, w, out, tail].forEach((t) => t.dispose());
      };
      await run();
      // Only the small tensor went through writeBuffer.
      expect(writes).toEqual([1000 * 4]);
      expect(stagingCreated).toBe(3);
      // Again with new tensors of the same sizes: the staging buffers come from the pool.
      await run();
      expect(writes).toEqual([1000 * 4, 1000 * 4]);
      expect(stagingCreated).toBe(3);
      // A staging buffer the pool could not keep (over its cap) would not be reused: writeBuffer instead.
      const cap = gpu.pool.maxPooledBytes;
      gpu.pool.maxPooledBytes = STAGED_UPLOAD_BYTES;
      try {
        await run();
      } finally {
        gpu.pool.maxPooledBytes = cap;
      }
      expect(writes.slice(2).sort((p, q) => p - q)).toEqual([1000 * 4, n * 4, n * 4, n * 4]);
      expect(stagingCreated).toBe(3);
    } finally {
      queue.writeBuffer = writeBuffer;
      gpu.device.createBuffer = createBuffer;
    }
  });

  it('computes shared work once for several outputs', async () => {
    const x = wg.tensor([1, 2, 3, 4]);
    const shared = x.exp();
    const a = shared.add(1);
    const b = shared.mul(2);
    // One fused kernel computes exp once and stores both results (4 elements: the vec4 variant).
    expect(wg.compile(a, b).dispatches.map((d) => d.kernel)).toEqual(['fused.elementwise.3ops.vec4']);
    wg.resetTelemetry();
    await wg.evaluate(a, b);
    expect(wg.telemetry().dispatches).toBe(1);
    expect(wg.telemetry().submits).toBe(1);
  });
  it('times each dispatch with timestamp queries when asked', async () => {
    await wg.init({ backend: 'webgpu', quiet: true, timing: true });
    wg.resetTelemetry();
    await wg.rand([1000], 1).add(1).sqrt().data();
    const times = wg.telemetry().kernelTimes;
    await wg.init({ backend: 'webgpu', quiet: true });
    gpu = currentBackend() as WebGpuBackend;
    if (!gpu.context.features.includes('timestamp-query')) return expect(times).toEqual([]);
    // rand and the constant are recomputed inside one fused kernel (1000 elements: the vec4 variant).
    expect(times.map((k) => k.kernel)).toEqual(['fused.elementwise.2ops.vec4']);
    for (const k of times) expect(k.gpuNs).toBeGreaterThanOrEqual(0);
  });
  it('reuses the query set and buffers of a read timer in later timed evaluations of as many dispatches', async () => {
    await wg.init({ backend: 'webgpu', quiet: true, timing: true });
    const backend = currentBackend() as WebGpuBackend;
    try {
      if (!backend.context.features.includes('timestamp-query')) return;
      const add = () => wg.arange(1000).add(1);
      const product = () => wg.arange(12).reshape([3, 4]).matmul(wg.arange(8).reshape([4, 2]));
      const dispatches = [add, product].map((f) => wg.compile(f()).dispatches.length);
      const made = vi.spyOn(backend.device, 'createQuerySet');
      wg.resetTelemetry();
      // add, add again (its timer reused), the product (a timer of its dispatch count), add a third time.
      const sums = [await add().data(), await add().data()];
      const m = await product().data();
      sums.push(await add().data());
      expect(made).toHaveBeenCalledTimes(new Set(dispatches).size);
      expect(sums.every((v) => v[0] === 1 && v[999] === 1000)).toBe(true);
      expect(Array.from(m)).toEqual([28, 34, 76, 98, 124, 162]);
      const times = wg.telemetry().kernelTimes;
      expect(times.reduce((n, k) => n + k.count, 0)).toBe(3 * dispatches[0] + dispatches[1]);
      for (const k of times) expect(k.gpuNs).toBeGreaterThanOrEqual(0);
    } finally {
      await wg.init({ backend: 'webgpu', quiet: true });
      gpu = currentBackend() as WebGpuBackend;
    }
  });
  it('folds more than 65,535 workgroups into a 2-D grid', async () => {
    const n = 65536 * 256 + 7;
    const y = wg.arange(n).add(1);
    const plan = wg.compile(y);
    expect(plan.dispatches.some((d) => d.workgroups[1] > 1)).toBe(true);
    const v = await y.data();
    expect([v[0], v[n - 1], v[65535 * 256 + 3]]).toEqual([1, n, 65535 * 256 + 4]);
  });
});

describe('zero-copy views and reference counts', () => {
  it('reshape, transpose and slice of a computed tensor run no dispatch and share its buffer', async () => {
    const x = wg.arange(24).cast('float32').mul(1.5);
    await x.data();
    const views = [x.reshape([4, 6]), x.reshape([2, 3, 4]).transpose([2, 0, 1]), x.reshape([4, 6]).slice([1, 2], [2, 3])];
    for (const v of views) expect(wg.compile(v).dispatches).toEqual([]);
    const xBuffer = storageOf(x.node)!.device!.buffer;
    const acquired = () => gpu.pool.stats.hits + gpu.pool.stats.misses;
    const before = acquired();
    await wg.evaluate(...views);
    expect(acquired()).toBe(before);
    expect(views.map((v) => storageOf(v.node)!.root.device!.buffer)).toEqual([xBuffer, xBuffer, xBuffer]);
    const want = Array.from({ length: 24 }, (_, i) => i * 1.5);
    expect(Array.from(await views[2].data())).toEqual([8, 9, 10, 14, 15, 16].map((i) => want[i]));
    // The base lives while a view does, even after its own tensor is disposed.
    x.dispose();
    expect(Array.from(await views[1].data()).slice(0, 4)).toEqual([0, 4, 8, 12].map((i) => want[i]));
    // A view read by a later program is bound in place, strides and all.
    expect(Array.from(await views[1].add(0).data())).toEqual(Array.from(await views[1].data()));
    views.forEach((v) => v.dispose());
    // The last reference gone, x's buffer is back in the pool: the next request of its class gets it.
    const again = gpu.pool.acquire(24 * 4, STORAGE);
    expect(again.buffer).toBe(xBuffer);
    gpu.pool.release(again);
    expect(() => x.add(1)).toThrow(/disposed/);
  });

  it('a view reads back only the part of its base from its first element to its last', async () => {
    const [a, b, c] = [7, 9, 5];
    const x = wg.arange(a * b * c).cast('float32').mul(0.5).add(1).reshape([a, b, c]);
    await wg.evaluate(x);
    const all = Array.from(await x.data());
    const at = (i: number, j: number, k: number) => all[(i * b + j) * c + k];
    const cases: { view: wg.Tensor; want: number[]; span: number }[] = [
      // One element in the middle, one row, a column (stride c * b), a block, a transposed block, an empty slice.
      { view: x.slice([3, 4, 2], [1, 1, 1]), want: [at(3, 4, 2)], span: 1 },
      { view: x.slice([6, 2, 0], [1, 1, 5]), want: [0, 1, 2, 3, 4].map((k) => at(6, 2, k)), span: 5 },
      { view: x.slice([0, 8, 4], [7, 1, 1]), want: [0, 1, 2, 3, 4, 5, 6].map((i) => at(i, 8, 4)), span: 6 * b * c + 1 },
      { view: x.slice([2, 1, 1], [2, 3, 2]), want: [2, 3].flatMap((i) => [1, 2, 3].flatMap((j) => [1, 2].map((k) => at(i, j, k)))), span: b * c + 2 * c + 2 },
      { view: x.slice([2, 1, 1], [2, 3, 2]).transpose([2, 1, 0]), want: [1, 2].flatMap((k) => [1, 2, 3].flatMap((j) => [2, 3].map((i) => at(i, j, k)))), span: b * c + 2 * c + 2 },
      { view: x.slice([1, 0, 0], [0, 9, 5]), want: [], span: 0 },
    ];
    for (const { view, want, span } of cases) {
      wg.resetTelemetry();
      expect(Array.from(await view.data())).toEqual(want);
      expect(wg.telemetry().bytesDownloaded).toBe(span * 4);
    }
    [x, ...cases.map((k) => k.view)].forEach((t) => t.dispose());
  });
});

// A plan evaluated again reuses the bind groups of its last evaluation where every binding is the same buffer
// of the same size (the pool hands a plan back the buffers it had last time where they are free); never after
// a buffer changed, or after the pool destroyed any buffer.
describe('bind groups of a cached plan', () => {
  const groups = () => {
    const t = wg.telemetry();
    return { created: t.bindGroupsCreated, reused: t.bindGroupsReused };
  };
  // Two dispatches: the matmul (with its epilogue) and the row reduction.
  const program = (x: wg.Tensor, w: wg.Tensor) => x.matmul(w).add(1).sum(-1);
  const expected = (x: number[], w: number[]) =>
    [0, 1].map((r) => [0, 1, 2].reduce((acc, c) => acc + Math.fround(x[2 * r] * w[c] + x[2 * r + 1] * w[3 + c]) + 1, 0));
  const xs = [[1, 2, 3, 4], [5, 6, 7, 8], [-1, 0, 2, 9]];
  const w = [1, 0, 2, 0, 1, 3];

  it('are reused when a plan runs again on the same arguments, and the results stay right', async () => {
    const x = wg.tensor(xs[0], [2, 2]);
    const wt = wg.tensor(w, [2, 3]);
    const dispatches = wg.compile(program(x, wt)).dispatches.length;
    expect(dispatches).toBe(2);
    const first = program(x, wt);
    expect(Array.from(await first.data())).toEqual(expected(xs[0], w));
    first.dispose();
    wg.resetTelemetry();
    const misses = gpu.pool.stats.misses; // the pool's counters are not reset with the telemetry
    for (let i = 0; i < 3; i++) {
      const y = program(x, wt);
      expect(Array.from(await y.data())).toEqual(expected(xs[0], w));
      y.dispose();
    }
    expect(groups()).toEqual({ created: 0, reused: 3 * dispatches });
    expect(gpu.pool.stats.misses).toBe(misses);
  });

  it('are made anew for bindings whose buffer changed: another argument, or a result still held', async () => {
    const wt = wg.tensor(w, [2, 3]);
    const x0 = wg.tensor(xs[0], [2, 2]);
    const y0 = program(x0, wt);
    expect(Array.from(await y0.data())).toEqual(expected(xs[0], w));
    y0.dispose();
    wg.resetTelemetry();
    // Another argument: the matmul's group binds it, the reduction's does not.
    const x1 = wg.tensor(xs[1], [2, 2]);
    const y1 = program(x1, wt);
    expect(Array.from(await y1.data())).toEqual(expected(xs[1], w));
    expect(groups()).toEqual({ created: 1, reused: 1 });
    // y1 is still held: its result buffer is not free, so the next run writes another one (the reduction's
    // group is new), and y1's values must survive it.
    const y2 = program(x0, wt);
    expect(Array.from(await y2.data())).toEqual(expected(xs[0], w));
    expect(Array.from(await y1.data())).toEqual(expected(xs[1], w));
    expect(groups().created).toBe(3);
    const y3 = program(wg.tensor(xs[2], [2, 2]), wt);
    expect(Array.from(await y3.data())).toEqual(expected(xs[2], w));
    expect(Array.from(await y2.data())).toEqual(expected(xs[0], w));
    expect(Array.from(await y1.data())).toEqual(expected(xs[1], w));
    [y1, y2, y3].forEach((y) => y.dispose());
    // Disposed: the buffers of the last run are free again, and a run on its arguments reuses its groups.
    wg.resetTelemetry();
    const y4 = program(x0, wt);
    expect(Array.from(await y4.data())).toEqual(expected(xs[0], w));
    y4.dispose();
    expect(groups().created).toBe(1); // x0, not the argument of the last run: the matmul's group
    wg.resetTelemetry();
    const again = program(x0, wt);
    expect(Array.from(await again.data())).toEqual(expected(xs[0], w));
    again.dispose();
    expect(groups()).toEqual({ created: 0, reused: 2 });
  });

  it('are not reused once the pool destroyed a buffer, even where every binding is the same again', async () => {
    const x = wg.tensor(xs[2], [2, 2]);
    const wt = wg.tensor(w, [2, 3]);
    for (let i = 0; i < 2; i++) {
      const y = program(x, wt);
      expect(Array.from(await y.data())).toEqual(expected(xs[2], w));
      y.dispose();
    }
    // Destroying any buffer (here one of its own, unrelated to the plan) invalidates every cached group.
    gpu.pool.discard(gpu.pool.acquire(1 << 12, STORAGE));
    wg.resetTelemetry();
    const misses = gpu.pool.stats.misses;
    const y = program(x, wt);
    expect(Array.from(await y.data())).toEqual(expected(xs[2], w));
    y.dispose();
    expect(groups()).toEqual({ created: 2, reused: 0 });
    expect(gpu.pool.stats.misses).toBe(misses); // the same buffers as before
    // And once the pool trims its idle buffers (the plan's own among them), they are new buffers anyway.
    gpu.pool.trim(0);
    wg.resetTelemetry();
    const z = program(x, wt);
    expect(Array.from(await z.data())).toEqual(expected(xs[2], w));
    z.dispose();
    expect(groups()).toEqual({ created: 2, reused: 0 });
    expect(gpu.pool.stats.misses).toBeGreaterThan(misses);
  });
});

// The soak (thousands of mixed evaluations, with and without dispose) is test/webgpu/soak.test.ts.

describe('compile errors', () => {
  it('name the kernel and show the WGSL lines around the error', async () => {
    const cache = new PipelineCache(gpu.device, () => emptyTelemetry());
    const wgsl = ['@group(0) @binding(0) var<storage, read_write> out: array<f32>;', '@compute @workgroup_size(1)', 'fn main() {', '  out[0] = undefined_thing;', '}'].join('\n');
    await expect(cache.get('broken.kernel', wgsl, 'main', [{ slot: 0, access: 'read_write' }])).rejects.toThrow(/kernel broken\.kernel: WGSL did not compile cleanly:\nerror at 4:\d+: .*undefined_thing[\s\S]*4 \|   out\[0\] = undefined_thing;/);
  });
});
