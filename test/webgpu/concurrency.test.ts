// Concurrency (issue 6): many evaluations awaited at once (Promise.all over data() and evaluate() of different
// and overlapping programs, the same tensor asked for several times, inputs disposed while their evaluations
// wait, new graphs built while others run), in shuffled orders, give what a sequential run gives, and leave
// no buffer behind.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.js';
import { currentBackend } from '../../src/api/context.js';
import { WebGpuBackend } from '../../src/runtime/webgpu/backend.js';
import { testGpu } from './gpu.js';

const values = (n: number, s: number) => Float32Array.from({ length: n }, (_, j) => (((j * 7 + s * 13) % 23) - 11) / 8);
const ints = (n: number, s: number) => Int32Array.from({ length: n }, (_, j) => ((j * 5 + s * 3) % 17) - 8);

/** A small deterministic generator, so that a failing order can be replayed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

function shuffle<T>(xs: T[], r: () => number): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** The same programs over the same data every time: overlapping (they share `shared` and the inputs). */
function build(seed: number) {
  const a = wg.tensor(values(64 * 32, seed), [64, 32]);
  const b = wg.tensor(values(32 * 48, seed + 1), [32, 48]);
  const c = wg.tensor(ints(64, seed), [64]);
  const shared = a.matmul(b);
  const outs: Record<string, wg.Tensor> = {
    shared,
    reluSum: shared.relu().sum(1),
    softmax: shared.softmax(-1),
    rowMax: shared.max(1),
    argmax: shared.argmax(0),
    transposed: a.T.add(0.5),
    ints: c.mul(3).sum(),
    mask: c.gt(0).cast('int32').sum(),
    layerNorm: wg.layerNorm(a),
    chain: a.exp().mul(2).sub(1).tanh(),
    concat: wg.concat([a, a.neg()], 0).mean(0),
    syrk: a.T.matmul(a),
    random: wg.rand([1000], seed).mul(2),
    where: wg.where(c.gt(0), c, c.neg()),
  };
  /** A program built while the others run (from the inputs, which are still there when it is built). */
  const later = () => a.add(b.matmul(b.T).mean(0, true)).sum(0);
  return { inputs: [a, b, c], outs, later };
}

function expectClose(name: string, got: ArrayLike<number>, want: ArrayLike<number>): void {
  expect(got.length, name).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    // Different orders realize shared work at different times, so a program may read a stored value or
    // recompute it in a fused kernel: the same math, rounded in a different order.
    if (!(Math.abs(got[i] - want[i]) <= 1e-5 + 1e-5 * Math.abs(want[i]))) expect(`${name}[${i}] = ${got[i]}`).toBe(`${name}[${i}] = ${want[i]}`);
  }
}

let gpu: WebGpuBackend;
const SEED = 3;
let reference: Map<string, Float32Array | Int32Array | Uint8Array>;

beforeAll(async () => {
  const probe = await testGpu();
  if (!probe) throw new Error('no WebGPU adapter');
  probe.device.destroy();
  await wg.init({ backend: 'webgpu', quiet: true });
  gpu = currentBackend() as WebGpuBackend;
  // The sequential run: one evaluation at a time, each awaited before the next starts.
  const { inputs, outs, later } = build(SEED);
  reference = new Map();
  for (const [name, t] of Object.entries(outs)) reference.set(name, (await t.data()).slice());
  reference.set('later', (await later().data()).slice());
  [...inputs, ...Object.values(outs)].forEach((t) => t.dispose());
});
afterAll(async () => {
  await wg.init({ backend: 'cpu', quiet: true });
});

describe('concurrent evaluations', () => {
  for (const round of [1, 2, 3, 4, 5, 6]) {
    it(`round ${round}: shuffled data() and evaluate() calls, duplicates, disposes and late graphs match the sequential run`, async () => {
      const r = rng(round * 7919);
      const inUse = gpu.pool.stats.buffersInUse;
      const { inputs, outs, later } = build(SEED);
      const names = Object.keys(outs);
      // Some tensors are asked for twice, one group through evaluate().
      const calls = shuffle([...names, ...shuffle(names, r).slice(0, 4)], r);
      const group = shuffle(names, r).slice(0, 3);
      const pending: { name: string; value: Promise<ArrayLike<number>> }[] = [];
      let groupDone: Promise<unknown> | null = null;
      const extra: wg.Tensor[] = [];
      for (const [k, name] of calls.entries()) {
        pending.push({ name, value: outs[name].data() });
        if (k === 5) groupDone = wg.evaluate(...group.map((n) => outs[n]));
        if (k === Math.floor(calls.length / 2)) {
          const t = later();
          extra.push(t);
          pending.push({ name: 'later', value: t.data() });
        }
        // Let some of the work started so far proceed before issuing more.
        const pause = r();
        if (pause < 0.2) await new Promise((res) => setTimeout(res, 1));
        else if (pause < 0.5) await Promise.resolve();
      }
      // Every program has been issued: its inputs are held by its evaluation, so they can go now.
      inputs.forEach((t) => t.dispose());
      await groupDone;
      // Await in another order than issued: half one by one in reverse, the rest together.
      const half = Math.floor(pending.length / 2);
      for (const p of pending.slice(half).reverse()) expectClose(p.name, await p.value, reference.get(p.name)!);
      const rest = await Promise.all(pending.slice(0, half).map((p) => p.value));
      rest.forEach((v, i) => expectClose(pending[i].name, v, reference.get(pending[i].name)!));
      // Results that lost the race to a duplicate were released: once every tensor is disposed, the
      // buffers in use are back where they were (or lower: earlier rounds' tensors may be collected).
      [...Object.values(outs), ...extra].forEach((t) => t.dispose());
      expect(gpu.pool.stats.buffersInUse).toBeLessThanOrEqual(inUse);
    });
  }

  it('inputs disposed right after their evaluations were asked for, and many reads of one tensor, all settle correctly', async () => {
    const x = wg.tensor(values(300, 9), [300]);
    const y = x.mul(2).add(1);
    await wg.evaluate(y);
    const reads = Array.from({ length: 20 }, () => y.data());
    const derived = Array.from({ length: 10 }, (_, i) => y.add(i).data());
    // Not computed yet, and x is disposed before this call's evaluation gets to run: it read x at the call.
    const fromX = x.mul(3).data();
    x.dispose();
    const want = Array.from(values(300, 9), (v) => v * 2 + 1);
    for (const v of await Promise.all(reads)) expectClose('y', v, want);
    (await Promise.all(derived)).forEach((v, i) => expectClose(`y+${i}`, v, want.map((w) => w + i)));
    expectClose('3x', await fromX, Array.from(values(300, 9), (v) => v * 3));
    expect(() => x.mul(3)).toThrow(/disposed/);
    y.dispose();
  });
});
