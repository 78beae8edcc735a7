// Evaluation: init/backend, one program for several outputs, shared work done once, no recomputation of
// realized tensors, the plan cache, dispose, and use-after-dispose errors.
import { describe, expect, it } from 'vitest';
import * as wg from '../../src/index.js';
import { activeBackend } from '../../src/api/context.js';
import type { Graph } from '../../src/ir/graph.js';
import type { Node } from '../../src/ir/node.js';
import type { CpuBackend } from '../../src/runtime/cpu-backend.js';
import { expectClose, expectReject, expectThrow, f32, randFloats, rng } from './helpers.js';

/** Every node reachable from the graph's outputs, by identity (a plain walk over `inputs`). */
function nodesOf(graph: Graph): Node[] {
  const seen = new Set<Node>();
  const stack = [...graph.outputs];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    stack.push(...n.inputs);
  }
  return [...seen];
}

/** The public counters (evaluations, plan cache hits / misses). */
const tel = () => wg.telemetry();

const countOp = (g: Graph, op: string) => nodesOf(g).filter((n) => n.op === op).length;

/** Records every graph the backend runs (wrapping its `run`). */
async function spy(): Promise<{ graphs: Graph[]; backend: CpuBackend }> {
  const backend = (await activeBackend()) as CpuBackend;
  const graphs: Graph[] = [];
  const orig = backend.run.bind(backend);
  const wrapped = Object.getPrototypeOf(backend).run === backend.run;
  if (wrapped) {
    backend.run = async (g, args) => {
      for (const r of recorders) r.push(g);
      return orig(g, args);
    };
  }
  recorders.add(graphs);
  return { graphs, backend };
}
const recorders = new Set<Graph[]>();

describe('init and backend', () => {
  // This runs first in this file (a fresh process): nothing has chosen a backend yet.
  it('backend() before init throws a clear error', () => {
    expectThrow(() => wg.backend(), wg.WgfuseError, 'init');
  });

  it('init rejects an unknown backend name with an ArgumentError', async () => {
    await expectReject(wg.init({ backend: 'cuda' as never, quiet: true }), wg.ArgumentError, 'cuda');
  });

  it("init({ backend: 'cpu' }) returns and records the CPU backend", async () => {
    const info = await wg.init({ backend: 'cpu', quiet: true });
    expect(info.name).toBe('cpu');
    expect(wg.backend().name).toBe('cpu');
    expect(wg.backend()).toEqual(info);
  });
});

describe('re-init', () => {
  it('tensors computed before a second init stay readable and usable', async () => {
    const x = wg.tensor([1, 2, 3]);
    const y = x.mul(2);
    await y.data();
    await wg.init({ backend: 'cpu', quiet: true });
    expect(wg.backend().name).toBe('cpu');
    expect(Array.from(await y.data())).toEqual([2, 4, 6]);
    expect(Array.from(await y.add(x).data())).toEqual([3, 6, 9]);
  });
});

describe('one program for several outputs', () => {
  it('evaluate(a, b) runs one program and realizes both', async () => {
    await spy();
    const x = wg.tensor([1, 2, 3]);
    const s = x.mul(2).exp();
    const a = s.add(1);
    const b = s.sub(1);
    const runs = tel().evaluations;
    const out = await wg.evaluate(a, b);
    expect(out).toEqual([a, b]);
    expect(tel().evaluations).toBe(runs + 1);
    expectClose(await a.data(), [1, 2, 3].map((v) => f32(f32(Math.exp(2 * v)) + 1)), 1e-6);
    expectClose(await b.data(), [1, 2, 3].map((v) => f32(f32(Math.exp(2 * v)) - 1)), 1e-6);
    // reading evaluated tensors does not run anything
    expect(tel().evaluations).toBe(runs + 1);
  });

  it('shared work appears once in the program', async () => {
    const { graphs } = await spy();
    const x = wg.tensor([0.5, 1.5]);
    const s = x.mul(3).exp().log();
    const a = s.add(1);
    const b = s.mul(s);
    const c = s.sum();
    graphs.length = 0;
    await wg.evaluate(a, b, c);
    expect(graphs.length).toBe(1);
    const g = graphs[0];
    expect(g.outputs.length).toBe(3);
    expect(countOp(g, 'exp')).toBe(1);
    expect(countOp(g, 'log')).toBe(1);
    expect(countOp(g, 'input')).toBe(1);
    expectClose(await a.data(), [2.5, 5.5], 1e-6);
    expectClose(await b.data(), [2.25, 20.25], 1e-6);
    expectClose([(await c.item()) as number], [6], 1e-6);
  });

  it('a tensor built on an evaluated one reads its result instead of recomputing it', async () => {
    const { graphs } = await spy();
    const x = wg.tensor([1, 2]);
    const s = x.exp().sqrt();
    await s.data();
    graphs.length = 0;
    const t = s.add(1);
    await t.data();
    expect(graphs.length).toBe(1);
    expect(countOp(graphs[0], 'exp')).toBe(0);
    expect(countOp(graphs[0], 'sqrt')).toBe(0);
    expectClose(await t.data(), [1, 2].map((v) => Math.sqrt(Math.exp(v)) + 1), 1e-6);
  });

  it('a lazy tensor built before its input was evaluated also reuses the result', async () => {
    const { graphs } = await spy();
    const x = wg.tensor([3]);
    const s = x.exp();
    const t = s.add(1); // built while s was still lazy
    await s.data();
    graphs.length = 0;
    await t.data();
    expect(graphs.length).toBe(1);
    expect(countOp(graphs[0], 'exp')).toBe(0);
    expectClose(await t.data(), [Math.exp(3) + 1], 1e-6);
  });

  it('evaluating or reading a realized tensor again runs nothing and gives the same values', async () => {
    await spy();
    const y = wg.tensor([1, 2, 3]).mul(wg.tensor([4, 5, 6]));
    const first = Array.from(await y.data());
    const runs = tel().evaluations;
    await wg.evaluate(y);
    await wg.evaluate(y, y);
    expect(Array.from(await y.data())).toEqual(first);
    expect(Array.from(await y.data())).toEqual([4, 10, 18]);
    expect(await y.array()).toEqual([4, 10, 18]);
    expect(tel().evaluations).toBe(runs);
  });

  it('data tensors need no run at all', async () => {
    await spy();
    const runs = tel().evaluations;
    const x = wg.tensor([1, 2]);
    await wg.evaluate(x);
    expect(Array.from(await x.data())).toEqual([1, 2]);
    expect(tel().evaluations).toBe(runs);
  });

  it('evaluate of the same tensor twice, and of a tensor with its own input, is one run', async () => {
    await spy();
    const x = wg.tensor([1, 2]);
    const a = x.add(1);
    const b = a.mul(2);
    const runs = tel().evaluations;
    await wg.evaluate(a, a, b);
    expect(tel().evaluations).toBe(runs + 1);
    expect(Array.from(await a.data())).toEqual([2, 3]);
    expect(Array.from(await b.data())).toEqual([4, 6]);
  });

  it('evaluate() with no tensors resolves to []', async () => {
    expect(await wg.evaluate()).toEqual([]);
  });

  it('evaluate of a non-tensor rejects with an ArgumentError', async () => {
    await expectReject(wg.evaluate(wg.tensor([1]), 3 as never), wg.ArgumentError, 'evaluate');
  });

  it('concurrent reads of one lazy tensor agree', async () => {
    const y = wg.tensor([1, 2, 3]).add(10);
    const [p, q, r] = await Promise.all([y.data(), y.data(), y.array()]);
    expect(Array.from(p)).toEqual([11, 12, 13]);
    expect(Array.from(q)).toEqual([11, 12, 13]);
    expect(r).toEqual([11, 12, 13]);
  });

  it('results do not depend on the order of evaluate arguments', async () => {
    const mk = () => {
      const x = wg.tensor([1, 2, 3]);
      const s = x.square();
      return [s.add(1), s.sum(), s.max()] as const;
    };
    const [a1, b1, c1] = mk();
    await wg.evaluate(a1, b1, c1);
    const [a2, b2, c2] = mk();
    await wg.evaluate(c2, a2, b2);
    expect(Array.from(await a1.data())).toEqual([2, 5, 10]);
    expect(Array.from(await a2.data())).toEqual([2, 5, 10]);
    expect(await b1.item()).toBe(14);
    expect(await b2.item()).toBe(14);
    expect(await c1.item()).toBe(9);
    expect(await c2.item()).toBe(9);
  });
});

describe('plan cache', () => {
  it('the same program on new data hits the cache; another shape compiles anew', async () => {
    await spy();
    const f = (x: wg.Tensor) => x.mul(2).add(1).relu().sum(0);
    const before = tel();
    const r1 = f(wg.tensor([[1, -2, 3], [4, 5, -6]]));
    expect(Array.from(await r1.data())).toEqual([12, 11, 7]);
    const afterFirst = tel();
    expect(afterFirst.evaluations).toBe(before.evaluations + 1);
    const r2 = f(wg.tensor([[-1, 2, -3], [0, 1, 2]]));
    expect(Array.from(await r2.data())).toEqual([1, 8, 5]);
    expect(tel().evaluations).toBe(afterFirst.evaluations + 1);
    expect(tel().planCacheMisses).toBe(afterFirst.planCacheMisses);
    expect(tel().planCacheHits).toBe(afterFirst.planCacheHits + 1);
    const r3 = f(wg.tensor([[1, 2]]));
    expect(Array.from(await r3.data())).toEqual([3, 5]);
    expect(tel().planCacheMisses).toBe(afterFirst.planCacheMisses + 1);
  });

  it('constants and dtypes are part of the program: a different constant is not a cache hit, and computes right', async () => {
    await spy();
    const x = wg.tensor([1, 2, 3]);
    expect(Array.from(await x.mul(7).add(0.5).data())).toEqual([7.5, 14.5, 21.5]);
    const s = tel();
    expect(Array.from(await x.mul(9).add(0.5).data())).toEqual([9.5, 18.5, 27.5]);
    expect(tel().planCacheMisses).toBe(s.planCacheMisses + 1);
    expect(tel().planCacheHits).toBe(s.planCacheHits);
    const xi = wg.tensor([1, 2, 3], undefined, 'int32');
    expect(Array.from(await xi.mul(9).add(1).data())).toEqual([10, 19, 28]);
    expect(tel().planCacheMisses).toBe(s.planCacheMisses + 2);
  });

  it('a cached plan still computes with the new data', async () => {
    const f = (x: wg.Tensor, y: wg.Tensor) => x.matmul(y).tanh();
    const next = rng(4);
    for (let k = 0; k < 3; k++) {
      const a = randFloats(6, next);
      const b = randFloats(6, next);
      const exp = [0, 1, 2, 3].map((i) => {
        const r = Math.floor(i / 2);
        const c = i % 2;
        return Math.tanh(a[r * 3] * b[c] + a[r * 3 + 1] * b[2 + c] + a[r * 3 + 2] * b[4 + c]);
      });
      expectClose(await f(wg.tensor(a, [2, 3]), wg.tensor(b, [3, 2])).data(), exp, 1e-5, 1e-6);
    }
  });
});

describe('dispose', () => {
  it('use after dispose throws a clear error at the call', async () => {
    const x = wg.tensor([[1, 2, 3]]);
    x.dispose();
    expect(x.disposed).toBe(true);
    const e = expectThrow(() => x.add(1), wg.WgfuseError, 'disposed');
    expect(e.message).toContain('[1,3]');
    expectThrow(() => x.sum(), wg.WgfuseError, 'disposed');
    expectThrow(() => x.reshape([3]), wg.WgfuseError, 'disposed');
    expectThrow(() => wg.concat([x, x]), wg.WgfuseError, 'disposed');
    expectThrow(() => wg.tensor([1]).add(x), wg.WgfuseError, 'disposed');
    await expectReject(x.data(), wg.WgfuseError, 'disposed');
    await expectReject(x.array(), wg.WgfuseError, 'disposed');
    await expectReject(x.item(), wg.WgfuseError);
    await expectReject(wg.evaluate(x), wg.WgfuseError, 'disposed');
  });

  it('dispose is idempotent and works on lazy and computed tensors', async () => {
    const x = wg.tensor([1, 2]);
    x.dispose();
    expect(() => x.dispose()).not.toThrow();
    const lazy = wg.tensor([1, 2]).add(1);
    lazy.dispose();
    expect(lazy.disposed).toBe(true);
    await expectReject(lazy.data(), wg.WgfuseError, 'disposed');
    const computed = wg.tensor([1, 2]).add(1);
    await computed.data();
    computed.dispose();
    expectThrow(() => computed.mul(2), wg.WgfuseError, 'disposed');
  });

  it('a lazy tensor built from a data tensor that was later disposed fails at evaluation, naming it', async () => {
    const x = wg.tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const y = x.add(1).sum(1); // fine to build
    x.dispose();
    const e = await expectReject(y.data(), wg.WgfuseError, 'disposed');
    expect(e.message).toContain('[2,3]');
  });

  it('a lazy tensor built from a computed tensor (after it was computed) that was later disposed fails clearly', async () => {
    const x = wg.tensor([1, 2, 3]).mul(2);
    await x.data();
    const y = x.add(1);
    x.dispose();
    const e = await expectReject(y.data(), wg.WgfuseError, 'disposed');
    expect(e.message).toContain('[3]');
  });

  it('a lazy tensor built before its input was computed and disposed gives right values or a clear error', async () => {
    const base = wg.tensor([1, 2, 3]);
    const x = base.mul(2);
    const y = x.add(1);
    await x.data();
    x.dispose();
    let values: number[] | null = null;
    let error: Error | null = null;
    try {
      values = Array.from(await y.data());
    } catch (e) {
      error = e as Error;
    }
    if (error) {
      expect(error).toBeInstanceOf(wg.WgfuseError);
      expect(error.message).toContain('disposed');
    } else {
      expect(values).toEqual([3, 5, 7]);
    }
  });

  it('tensors computed before the dispose keep working', async () => {
    const x = wg.tensor([1, 2, 3]);
    const y = x.mul(10);
    await y.data();
    x.dispose();
    expect(Array.from(await y.data())).toEqual([10, 20, 30]);
    expect(Array.from(await y.add(1).data())).toEqual([11, 21, 31]);
  });

  it('disposing one result of a shared evaluation leaves the others intact', async () => {
    const x = wg.tensor([1, 2]);
    const a = x.add(1);
    const b = x.add(2);
    await wg.evaluate(a, b);
    a.dispose();
    expect(Array.from(await b.data())).toEqual([3, 4]);
    expect(Array.from(await b.mul(x).data())).toEqual([3, 8]);
  });

  it('disposing a same-dtype cast of a tensor does not break the original', async () => {
    const x = wg.tensor([1, 2]);
    const y = x.cast('float32'); // a no-op cast
    expect(Array.from(await y.data())).toEqual([1, 2]);
    y.dispose();
    expect(x.disposed).toBe(false);
    expect(Array.from(await x.data())).toEqual([1, 2]);
    expect(Array.from(await x.add(1).data())).toEqual([2, 3]);
  });

  it('disposing the original leaves an evaluated same-dtype cast of it usable', async () => {
    const x = wg.tensor([4, 5], undefined, 'int32');
    const y = x.cast('int32');
    await y.data();
    x.dispose();
    expect(y.disposed).toBe(false);
    expect(Array.from(await y.data())).toEqual([4, 5]);
    expect(Array.from(await y.mul(2).data())).toEqual([8, 10]);
  });

  it('properties stay readable after dispose', () => {
    const x = wg.zeros([2, 5], 'int32');
    x.dispose();
    expect(x.shape).toEqual([2, 5]);
    expect(x.dtype).toBe('int32');
  });
});

describe('graph sizes', () => {
  it('a long lazy chain (20000 ops) evaluates without overflowing the stack', async () => {
    let y = wg.tensor([0], undefined, 'int32');
    for (let i = 0; i < 20000; i++) y = y.add(1);
    expect(await y.item()).toBe(20000);
  });

  it('a tensor used many times is read correctly by every user', async () => {
    const x = wg.tensor([1, 2, 3], undefined, 'int32');
    let acc = x;
    for (let i = 0; i < 200; i++) acc = acc.add(x);
    expect(Array.from(await acc.data())).toEqual([201, 402, 603]);
  });
});
