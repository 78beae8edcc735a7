// wg.jit on both backends: a jitted function gives what the same expression evaluated lazily gives (bit for
// bit: the same plan runs), traces once per signature (shapes, dtypes, layouts, static values, which
// arguments are the same tensor), binds each call's own arguments, keeps captured values, returns results
// that own their storage, and rejects bad use at the call.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.js';
import { activeBackend } from '../../src/api/context.js';
import { extractProgram, storageOf } from '../../src/api/program.js';
import type { Graph } from '../../src/ir/graph.js';
import type { Backend } from '../../src/runtime/backend.js';
import { WebGpuBackend } from '../../src/runtime/webgpu/backend.js';
import { initWebGpu } from '../webgpu/gpu.js';
import { expectReject, expectThrow, randFloats, rng } from './helpers.js';

const rand = (shape: number[], seed: number, lo = -2, hi = 2) => {
  const next = rng(seed);
  return wg.tensor(randFloats(shape.reduce((a, b) => a * b, 1), next, lo, hi), shape);
};

const data = async (t: wg.Tensor) => Array.from(await t.data());

/** Records the graphs a backend runs, restoring `run` afterwards. */
async function recordRuns<T>(body: () => Promise<T>): Promise<{ result: T; graphs: Graph[] }> {
  const backend: Backend = await activeBackend();
  const graphs: Graph[] = [];
  const run = backend.run;
  backend.run = (g, args) => {
    graphs.push(g);
    return run.call(backend, g, args);
  };
  try {
    return { result: await body(), graphs };
  } finally {
    backend.run = run;
  }
}

for (const name of ['cpu', 'webgpu'] as const) {
  describe(`wg.jit on the ${name} backend`, () => {
    beforeAll(async () => {
      if (name === 'webgpu') await initWebGpu();
      else await wg.init({ backend: name, quiet: true });
    });
    afterAll(async () => {
      await wg.init({ backend: 'cpu', quiet: true });
    });

    it('gives bit for bit what the lazy expression gives, on each call its own arguments', async () => {
      const block = (x: wg.Tensor, w: wg.Tensor, b: wg.Tensor) => wg.layerNorm(x, w, b, 1e-5).softmax(-1);
      const mlp = (x: wg.Tensor, w1: wg.Tensor, b1: wg.Tensor, w2: wg.Tensor) => x.matmul(w1.T).add(b1).gelu().matmul(w2);
      const fBlock = wg.jit(block);
      const fMlp = wg.jit(mlp);
      for (const [rows, cols, seed] of [
        [7, 13, 1],
        [7, 13, 2],
        [1, 1, 3],
        [5, 64, 4],
        [5, 64, 5],
      ] as const) {
        const x = rand([rows, cols], seed);
        const w = rand([cols], seed + 10);
        const b = rand([cols], seed + 20);
        expect(await data(await fBlock(x, w, b))).toEqual(await data(block(x, w, b)));
        const w1 = rand([9, cols], seed + 30);
        const b1 = rand([9], seed + 40);
        const w2 = rand([9, 3], seed + 50);
        expect(await data(await fMlp(x, w1, b1, w2))).toEqual(await data(mlp(x, w1, b1, w2)));
      }
      expect(fBlock.traces).toBe(3);
      expect(fMlp.traces).toBe(3);
    });

    it('runs the function once per signature and replays the same program', async () => {
      let calls = 0;
      const f = wg.jit((x: wg.Tensor, s: number) => {
        calls++;
        return x.mul(s).add(1);
      });
      const a = rand([4, 3], 1);
      const b = rand([4, 3], 2);
      const { result, graphs } = await recordRuns(async () => {
        const r = [await f(a, 2), await f(b, 2), await f(a, 2)];
        return Promise.all(r.map(data));
      });
      expect(calls).toBe(1);
      // One program, run three times on different arguments.
      expect(graphs.length).toBe(3);
      expect(new Set(graphs).size).toBe(1);
      expect(result[0]).toEqual(result[2]);
      expect(result[1]).toEqual(await data(b.mul(2).add(1)));
      expect(result[1]).not.toEqual(result[0]);
      // Another shape, dtype or static value traces again; a signature seen before does not.
      await f(rand([3, 4], 3), 2);
      await f(wg.tensor([1, 2, 3], [3], 'int32'), 2);
      await f(a, 3);
      await f(a, -0);
      await f(a, 0);
      expect(calls).toBe(6);
      expect(f.traces).toBe(6);
      expect(await data(await f(wg.tensor([1, 2, 3], [3], 'int32'), 2))).toEqual([3, 5, 7]);
      expect(calls).toBe(6);
    });

    it('tells apart arguments that are the same tensor from ones that are not', async () => {
      let calls = 0;
      const f = wg.jit((x: wg.Tensor, y: wg.Tensor) => {
        calls++;
        return x.sub(y);
      });
      const a = rand([5], 1);
      const b = rand([5], 2);
      expect(await data(await f(a, a))).toEqual([0, 0, 0, 0, 0]);
      expect(await data(await f(a, b))).toEqual(await data(a.sub(b)));
      expect(await data(await f(b, b))).toEqual([0, 0, 0, 0, 0]);
      expect(await data(await f(b, a))).toEqual(await data(b.sub(a)));
      expect(calls).toBe(2);
    });

    it('keeps captured tensors alive and apart from arguments holding the same value', async () => {
      const w = rand([6], 7);
      const wValues = await data(w);
      const f = wg.jit((x: wg.Tensor) => x.mul(w));
      // Traced with the captured tensor itself as the argument: x and w must stay two inputs.
      expect(await data(await f(w))).toEqual(await data(w.mul(w)));
      const v = rand([6], 8);
      const expected = await data(v.mul(w));
      w.dispose();
      expect(await data(await f(v))).toEqual(expected);
      expect(wValues.length).toBe(6);
      f.clear();
      expect(f.traces).toBe(0);
      // After clear() the function traces again and reads w, which is gone.
      await expectReject(f(v), wg.ArgumentError, 'disposed');
    });

    it('binds lazy arguments and strided views, tracing a view apart from a plain tensor', async () => {
      let calls = 0;
      const f = wg.jit((x: wg.Tensor) => {
        calls++;
        return x.sum(1);
      });
      const m = rand([3, 5], 4);
      const t = m.T; // [5, 3]
      await wg.evaluate(t);
      const plain = rand([5, 3], 5);
      expect(await data(await f(t))).toEqual(await data(m.T.sum(1)));
      expect(await data(await f(plain))).toEqual(await data(plain.sum(1)));
      expect(await data(await f(plain.add(1)))).toEqual(await data(plain.add(1).sum(1)));
      // On WebGPU the transpose of a computed tensor is a strided view of it: the view and the plain tensor
      // are two signatures (the CPU backend copies). The lazy argument, once computed, is plain.
      const strided = storageOf(t.node)?.layout !== null;
      expect(strided).toBe(name === 'webgpu');
      expect(calls).toBe(strided ? 2 : 1);
      expect(f.traces).toBe(calls);
    });

    it('returns results that own their storage: arguments, captured values, repeats and constants', async () => {
      const c = rand([2, 2], 9);
      const f = wg.jit((x: wg.Tensor) => {
        const y = x.add(1);
        return [y, x, c, y, wg.zeros([3])];
      });
      const x = rand([2, 2], 10);
      const xv = await data(x);
      const cv = await data(c);
      const [y, x2, c2, y2, z] = await f(x);
      expect(await data(y)).toEqual(xv.map((v) => Math.fround(v + 1)));
      expect(await data(x2)).toEqual(xv);
      expect(await data(c2)).toEqual(cv);
      expect(await data(y2)).toEqual(await data(y));
      expect(await data(z)).toEqual([0, 0, 0]);
      // Disposing results leaves the arguments, the captured value and the other results as they were.
      y.dispose();
      x2.dispose();
      c2.dispose();
      expect(await data(y2)).toEqual(xv.map((v) => Math.fround(v + 1)));
      expect(await data(x)).toEqual(xv);
      expect(await data(c)).toEqual(cv);
      // A single result comes back as a tensor, an array as an array.
      expect(await wg.jit((a: wg.Tensor) => a)(x)).toBeInstanceOf(wg.Tensor);
      expect(Array.isArray(await wg.jit((a: wg.Tensor) => [a])(x))).toBe(true);
    });

    it('keeps at most maxTraces signatures, dropping the least recently used', async () => {
      let calls = 0;
      const f = wg.jit(
        (x: wg.Tensor) => {
          calls++;
          return x.neg();
        },
        { maxTraces: 2 },
      );
      const s1 = rand([1], 1);
      const s2 = rand([2], 2);
      const s3 = rand([3], 3);
      await f(s1);
      await f(s2);
      await f(s1); // s1 is now the most recent
      await f(s3); // evicts s2
      expect(f.traces).toBe(2);
      expect(calls).toBe(3);
      await f(s1);
      expect(calls).toBe(3);
      expect(await data(await f(s2))).toEqual((await data(s2)).map((v) => -v));
      expect(calls).toBe(4);
    });

    it('rejects bad use at the call, naming it', async () => {
      expectThrow(() => wg.jit(42 as never), wg.ArgumentError, 'jit', 'function');
      expectThrow(() => wg.jit((x: wg.Tensor) => x, { maxTraces: 0 }), wg.ArgumentError, 'maxTraces');
      const id = wg.jit((x: wg.Tensor) => x.add(1));
      await expectReject(id('x' as never), wg.ArgumentError, 'jit: argument 0', '"x"');
      const gone = rand([2], 1);
      gone.dispose();
      await expectReject(id(gone), wg.ArgumentError, 'jit', 'argument 0', 'disposed');
      await expectReject(wg.jit(() => 3 as never)(), wg.ArgumentError, 'must return a Tensor');
      await expectReject(wg.jit((x: wg.Tensor) => [x, 'y'] as never)(rand([1], 2)), wg.ArgumentError, 'index 1');
      await expectReject(wg.jit((async (x: wg.Tensor) => x) as never)(rand([1], 2)), wg.ArgumentError, 'Promise');
      // Errors of the function's own calls reach the caller as they are.
      await expectReject(wg.jit((x: wg.Tensor) => x.matmul(x))(rand([2, 3], 3)), wg.ShapeError, 'matmul');
    });
  });
}

describe('the WebGPU plan of a graph run again', () => {
  let gpu: WebGpuBackend;
  beforeAll(async () => {
    gpu = await initWebGpu();
  });
  afterAll(async () => {
    await wg.init({ backend: 'cpu', quiet: true });
  });

  it('is found again without recompiling, and not reused for arguments laid out differently', async () => {
    const f = wg.jit((x: wg.Tensor) => x.mul(2).sum(0));
    const m = rand([4, 6], 1);
    const plain = rand([6, 4], 2);
    const view = m.T;
    await wg.evaluate(view);
    const { graphs } = await recordRuns(async () => {
      await f(plain);
      wg.resetTelemetry();
      await f(plain);
      await f(plain);
    });
    expect(wg.telemetry().planCacheHits).toBe(2);
    expect(wg.telemetry().planCacheMisses).toBe(0);
    // The same graph object with a strided argument in place of a plain one gets its own plan.
    const graph = graphs[0];
    const { args: plainArgs } = extractProgram([plain.node]);
    const { args: viewArgs } = extractProgram([view.node]);
    if (viewArgs[0].layout === null) throw new Error('the transposed view was expected to be strided');
    const p1 = gpu.plan(graph, plainArgs);
    const p2 = gpu.plan(graph, viewArgs);
    expect(p2).not.toBe(p1);
    expect(gpu.plan(graph, plainArgs)).toBe(p1);
    expect(gpu.plan(graph, viewArgs)).toBe(p2);
    expect(await data(await f(view))).toEqual(await data(m.T.mul(2).sum(0)));
  });
});
