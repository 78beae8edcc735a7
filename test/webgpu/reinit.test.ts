// Tensors across wg.init (issue 6, "tensors from a different device"). What a user expects: re-initialising
// (WebGPU -> CPU, CPU -> WebGPU, one WebGPU device -> another) keeps every live tensor usable with its value,
// because init copies values whose only copy is on the device it replaces to host memory before destroying it.
// A value that could not be copied (its device was already lost) fails at the call that uses it, naming the call
// and the tensor: never a read of another device's buffer (which gave zeros before), never an internal error.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.js';
import { testGpu } from './gpu.js';

const ctx = await testGpu();
const d = ctx ? describe : describe.skip;

/** Values computed on the current backend, kept lazy or device-only in every way a user can hold them. */
async function computeAll() {
  const x = wg.tensor([1, 2, 3, 4, 5, 6], [2, 3]);
  const sum = x.add(1); // a plain device-only result
  const view = x.mul(2).T; // a zero-copy view (transposed layout) of a device-only base
  const ints = x.cast('int32').mul(3);
  const mask = x.gt(3);
  const row = x.softmax(-1).slice([1, 0], [1, 3]); // a view with an offset
  await wg.evaluate(sum, view, ints, mask, row);
  const lazy = sum.mul(10); // built from a computed tensor, not yet evaluated
  const unused = x.neg();
  await unused.data();
  unused.dispose(); // disposed before the switch: nothing to copy, nothing to crash on
  return { x, sum, view, ints, mask, row, lazy };
}

async function expectValues(t: Awaited<ReturnType<typeof computeAll>>) {
  expect(await t.sum.array()).toEqual([
    [2, 3, 4],
    [5, 6, 7],
  ]);
  expect(await t.view.array()).toEqual([
    [2, 8],
    [4, 10],
    [6, 12],
  ]);
  expect(await t.ints.array()).toEqual([
    [3, 6, 9],
    [12, 15, 18],
  ]);
  expect(await t.mask.array()).toEqual([
    [false, false, false],
    [true, true, true],
  ]);
  const e = [4, 5, 6].map((v) => Math.exp(v - 6));
  const s = e.reduce((a, b) => a + b);
  (await t.row.data()).forEach((v, i) => expect(v).toBeCloseTo(e[i] / s, 5));
  expect(await t.lazy.array()).toEqual([
    [20, 30, 40],
    [50, 60, 70],
  ]);
  // And they are operands like any other.
  expect(Array.from(await t.sum.add(t.view.T).sum().data())).toEqual([27 + 42]);
}

d('tensors across wg.init', () => {
  beforeAll(async () => {
    await wg.init({ backend: 'webgpu', quiet: true });
  });
  afterAll(async () => {
    await wg.init({ backend: 'cpu', quiet: true });
  });

  it('WebGPU -> CPU: every live value is still there', async () => {
    await wg.init({ backend: 'webgpu', quiet: true });
    const t = await computeAll();
    await wg.init({ backend: 'cpu', quiet: true });
    await expectValues(t);
  });

  it('WebGPU -> another WebGPU device: values are read from host copies, not from a dead buffer', async () => {
    await wg.init({ backend: 'webgpu', quiet: true });
    const t = await computeAll();
    await wg.init({ backend: 'webgpu', quiet: true }); // a new device; the old one is destroyed
    await expectValues(t);
  });

  it('CPU -> WebGPU: host values upload on first use', async () => {
    await wg.init({ backend: 'cpu', quiet: true });
    const t = await computeAll();
    await wg.init({ backend: 'webgpu', quiet: true });
    await expectValues(t);
  });

  it('the same device given again (to change options) is not destroyed: its values stay on it', async () => {
    const own = await testGpu();
    await wg.init({ backend: 'webgpu', device: own!.device, quiet: true });
    const t = await computeAll();
    await wg.init({ backend: 'webgpu', device: own!.device, fusion: false, quiet: true });
    await expectValues(t);
    expect(Array.from(await wg.tensor([1, 2]).add(1).data())).toEqual([2, 3]);
    await wg.init({ backend: 'cpu', quiet: true });
    own!.device.destroy();
  });

  it('a value whose device was lost before the switch fails at the call that uses it, naming the call', async () => {
    const own = await testGpu();
    await wg.init({ backend: 'webgpu', device: own!.device, quiet: true });
    const host = wg.tensor([1, 2, 3, 4], [2, 2]);
    const y = host.mul(3);
    await y.data(); // y lives only on `own`
    own!.device.destroy();
    await wg.init({ backend: 'cpu', quiet: true });

    let err: unknown;
    try {
      y.add(1); // synchronous: at graph-building time
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(wg.DeviceLostError);
    expect((err as Error).message).toMatch(/^add: the tensor \(float32\[2,2\]\) lived only on a WebGPU device that (was lost|is no longer in use)/);
    expect(() => wg.concat([host, y])).toThrow(/^concat: the tensor 1 \(float32\[2,2\]\) lived only on a WebGPU device/);
    await expect(y.data()).rejects.toThrow(/^data: the tensor \(float32\[2,2\]\) lived only on a WebGPU device/);
    await expect(wg.evaluate(y)).rejects.toThrow(wg.DeviceLostError);
    // Host data is untouched and everything else works.
    expect(Array.from(await host.mul(3).data())).toEqual([3, 6, 9, 12]);
  });

  it('a lazy tensor built on a lost value fails at evaluation, naming the call and the value', async () => {
    const own = await testGpu();
    await wg.init({ backend: 'webgpu', device: own!.device, quiet: true });
    const y = wg.tensor([1, 2, 3]).exp();
    await y.data();
    const lazy = y.add(1);
    own!.device.destroy();
    await wg.init({ backend: 'cpu', quiet: true });
    await expect(lazy.data()).rejects.toThrow(/^data: a tensor this program reads \(float32\[3\]\) lived only on a WebGPU device/);
  });

  it('a device given with the CPU backend is a contradiction, rejected before anything changes', async () => {
    await wg.init({ backend: 'cpu', quiet: true });
    await expect(wg.init({ backend: 'cpu', device: ctx!.device })).rejects.toThrow(/^init: a device was given with backend 'cpu'/);
    expect(wg.backend().name).toBe('cpu');
  });
});

d('odd but valid input on WebGPU', () => {
  beforeAll(async () => {
    await wg.init({ backend: 'webgpu', quiet: true });
  });
  afterAll(async () => {
    await wg.init({ backend: 'cpu', quiet: true });
  });

  it('tensors of rank 200 (the nesting depth of wg.tensor data is not limited)', async () => {
    let data: unknown = [2, 3];
    for (let i = 0; i < 199; i++) data = [data];
    const x = wg.tensor(data as never);
    expect(x.ndim).toBe(200);
    expect(Array.from(await x.add(wg.ones([1])).exp().sum().data())[0]).toBeCloseTo(Math.exp(3) + Math.exp(4), 3);
    expect(Array.from(await x.T.mul(2).reshape([-1]).data())).toEqual([4, 6]);
  });
});
