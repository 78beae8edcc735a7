// In-place elementwise kernels on WebGPU: where assign-buffers writes a result over its dying operand through
// one read_write binding, the numbers must be those of the CPU reference, at sizes that take the scalar and
// the vec4 kernels (and their tails), broadcasts next to the overwritten operand, int32 and bool, and with a
// value that is read after the dispatch (which must not be overwritten).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.js';
import type { Tensor } from '../../src/index.js';
import { ARITH, expectMatchesReference, TRANSCENDENTAL } from './differential.js';
import { testGpu } from './gpu.js';

beforeAll(async () => {
  const probe = await testGpu();
  if (!probe) throw new Error('no WebGPU adapter');
  probe.device.destroy();
});
afterAll(async () => {
  await wg.init({ backend: 'cpu', quiet: true });
});

const data = (shape: number[], seed: number) => {
  const n = shape.reduce((a, b) => a * b, 1);
  return wg.tensor(Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.7 + seed) * 3), shape);
};

const inPlaceCount = (...ts: Tensor[]) => wg.compile(...ts).dispatches.filter((d) => d.kernel.endsWith('.inplace')).length;

describe.each([
  ['unfused', false],
  ['fused', true],
])('%s plans', (_, fusion) => {
  beforeAll(async () => {
    await wg.init({ backend: 'webgpu', fusion, quiet: true });
  });

  it.each([[[1]], [[5]], [[3, 7]], [[64, 64]], [[2, 3, 1023]]])('a chain over %j matches the reference', async (shape) => {
    const x = data(shape, 1);
    const bias = data([shape.at(-1)!], 2);
    // x.exp() is read twice, once after the chain: it must survive; the other temps may be overwritten.
    const e = x.neg().exp();
    const y = e.mul(2).add(bias).tanh().sub(e).abs().sqrt();
    const z = y.add(e.sum(-1, true));
    // Plans are inspected before evaluation: a realized tensor is a leaf of later programs.
    if (!fusion) expect(inPlaceCount(z)).toBeGreaterThan(0);
    await expectMatchesReference(z, TRANSCENDENTAL);
  });

  it('int32 and bool results over their operands', async () => {
    const a = wg.tensor(Int32Array.from({ length: 37 }, (_, i) => (i * 7919) % 101 - 50), [37]);
    // Built afresh for each check: evaluating a tensor makes it a device-only leaf of later programs.
    const k = () => a.mul(3).add(1).neg().abs();
    const mask = () => k().gt(20).eq(a.lt(10));
    await expectMatchesReference(k(), ARITH);
    await expectMatchesReference(mask(), ARITH);
    const picked = wg.where(mask(), k().sub(1), k().mul(2)).neg();
    if (!fusion) expect(inPlaceCount(picked)).toBeGreaterThan(0);
    await expectMatchesReference(picked, ARITH);
  });
});

it('unfused matmul, softmax and in-place kernels in one plan', async () => {
  await wg.init({ backend: 'webgpu', fusion: false, quiet: true });
  const x = data([17, 9], 3);
  const w = data([9, 9], 4);
  const h = x.matmul(w).relu().add(1).log();
  const out = h.softmax(-1).mul(h.exp().neg().exp());
  expect(inPlaceCount(out)).toBeGreaterThan(0);
  await expectMatchesReference(out, TRANSCENDENTAL);
});
