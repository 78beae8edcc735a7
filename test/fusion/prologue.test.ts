// Operand prologues end to end: the default pipeline fuses an operand's elementwise producers into the
// product's tile loads (fuse-prologue), and the fused plan computes what the unfused graph computes on the
// CPU reference, on WebGPU: aligned operands (vector lanes) and unaligned ones (scalar), transposed and
// batch-broadcast operands, split K, int32, several buffers per prologue, with and without an epilogue. The
// products that are not fused (not the tiled kernel, or an operand with another use) still compute right.
import { describe, expect, it } from 'vitest';
import * as wg from '../../src/index.js';
import type { Tensor } from '../../src/api/tensor.js';
import { extractProgram } from '../../src/api/program.js';
import { lowerGraph } from '../../src/lowering/lower.js';
import { runPasses } from '../../src/passes/manager.js';
import { DEFAULT_PIPELINE } from '../../src/passes/pipeline.js';
import { fusePrologues, MAX_PROLOGUE_LOADS, MAX_SYRK_PROLOGUE_LOADS } from '../../src/passes/fuse-prologue.js';
import { printGraph } from '../../src/ir/printer.js';
import { parseGraph } from '../../src/ir/parser.js';
import { executeGraph } from '../../src/runtime/cpu/executor.js';
import { reference, seededTensors } from '../webgpu/differential.js';
import { graphBackend } from '../webgpu/gpu.js';

// The graphs given to it are already fused: it lowers them as they are.
const backend = graphBackend();

const U = 2 ** -24;

/**
 * Runs `out` fused on WebGPU and compares it with the CPU reference of the unfused graph. `bound` is the
 * same product over |operands| (float32: element i may be off by (2k u + extra) bound[i], k the product's
 * length, extra the relative error of the prologue's ops); int32 must be exact. Returns the plan.
 */
async function check(what: string, out: Tensor, opts: { prologue: boolean; k: number; bound?: Tensor; extra?: number; dispatches?: number }) {
  const { graph, args } = extractProgram([out.node]);
  const { graph: after, log } = runPasses(graph, DEFAULT_PIPELINE);
  const plan = lowerGraph(after);
  const explain = `${what}\n${printGraph(after)}\n${log.flatMap((l) => l.fired).join('\n')}`;
  expect(plan.dispatches.some((d) => d.wgsl.includes('fn wg_load_')), explain).toBe(opts.prologue);
  if (opts.dispatches !== undefined) expect(plan.dispatches.length, explain).toBe(opts.dispatches);
  const [want] = executeGraph(graph, args.map((a) => a.host!));
  const [res] = await backend().run(after, args);
  const got = await backend().read(res);
  res.release();
  expect(got.length, what).toBe(want.length);
  const bound = opts.bound ? reference(opts.bound)[0] : null;
  const bad: string[] = [];
  for (let i = 0; i < want.length; i++) {
    const tol = bound ? (2 * opts.k * U + (opts.extra ?? 0)) * bound[i] + 1e-30 : 0;
    const ok = Number.isNaN(want[i]) ? Number.isNaN(got[i]) : Math.abs(got[i] - want[i]) <= tol;
    if (!ok && bad.length < 5) bad.push(`[${i}] got ${got[i]}, want ${want[i]} (tolerance ${tol})`);
  }
  expect(bad, explain).toEqual([]);
  return plan;
}

describe('operand prologues', () => {
  it('covariance: the centring runs in the SYRK loads (unaligned, scalar lanes)', async () => {
    const { randomF } = seededTensors(1);
    const x = randomF([300, 37], 0, 2);
    const c = x.sub(x.mean(0, true));
    // sum + mean (one row kernel), then the SYRK with the centring and the division: no kernel writes c.
    const plan = await check('covariance 300x37', c.T.matmul(c).div(299), { prologue: true, k: 300, bound: c.abs().T.matmul(c.abs()).div(299) });
    expect(plan.dispatches.some((d) => d.kernel.startsWith('fused.syrk')), plan.dispatches.map((d) => d.kernel).join(', ')).toBe(true);
  });

  it('covariance, aligned with split K (vector lanes, partial sums)', async () => {
    const { randomF } = seededTensors(2);
    const x = randomF([1000, 64], -1, 3);
    const c = x.sub(x.mean(0, true));
    const plan = await check('covariance 1000x64', c.T.matmul(c), { prologue: true, k: 1000, bound: c.abs().T.matmul(c.abs()) });
    expect(plan.dispatches.some((d) => /splitK\d+/.test(d.kernel)), plan.dispatches.map((d) => d.kernel).join(', ')).toBe(true);
    expect(plan.dispatches.find((d) => d.wgsl.includes('fn wg_load_'))!.wgsl).toContain('vec4 along m through wg_load_x');
  });

  it('x @ x^T of a scaled x (SYRK without trans flag, lanes along k)', async () => {
    const { randomF } = seededTensors(3);
    const x = randomF([40, 24]).mul(0.5).add(1);
    await check('syrk x x^T', x.matmul(x.T), { prologue: true, k: 24, bound: x.abs().matmul(x.abs().T) });
  });

  it('(x - mu) @ w: A computed, mu broadcast over rows, unaligned', async () => {
    const { randomF } = seededTensors(4);
    const [x, mu, w] = [randomF([45, 70]), randomF([70]), randomF([70, 33])];
    const a = x.sub(mu);
    await check('(x - mu) @ w', a.matmul(w), { prologue: true, k: 70, bound: a.abs().matmul(w.abs()), dispatches: 1 });
  });

  it('relu(x) @ w.T + b: prologue, transposed B and epilogue in one kernel', async () => {
    const { randomF } = seededTensors(5);
    const [x, w, b] = [randomF([64, 128]), randomF([96, 128]), randomF([96])];
    const plan = await check('relu(x) @ w.T + b', x.relu().matmul(w.T).add(b).tanh(), {
      prologue: true,
      k: 128,
      bound: x.relu().abs().matmul(w.abs().T),
      extra: 4e-6,
      dispatches: 1,
    });
    expect(plan.dispatches[0].kernel).toMatch(/^fused\.matmul\.float32\.tB\+3$/);
  });

  it('x @ (w * s).T and (x^T)-shaped A: B computed under a trans flag, A transposed', async () => {
    const { randomF } = seededTensors(6);
    const [xt, w, s] = [randomF([36, 52]), randomF([44, 36]), randomF([44, 1])];
    const bop = w.mul(s);
    await check('x.T @ (w * s).T', xt.T.matmul(bop.T), { prologue: true, k: 36, bound: xt.abs().T.matmul(bop.abs().T), dispatches: 1 });
  });

  it('batch-broadcast operands, both computed', async () => {
    const { randomF } = seededTensors(7);
    const [x, y, w] = [randomF([2, 3, 36, 24]), randomF([3, 1, 24]), randomF([3, 24, 40])];
    const a = x.mul(y).add(0.5);
    const b = w.abs().add(0.25);
    await check('batched', a.matmul(b), { prologue: true, k: 24, bound: a.abs().matmul(b), extra: 2e-6, dispatches: 1 });
  });

  it('a prologue of two full-size inputs, with a long K split', async () => {
    const { randomF } = seededTensors(8);
    const [x, y, w] = [randomF([48, 2048], -1, 1), randomF([48, 2048], -1, 1), randomF([2048, 40], -1, 1)];
    const a = x.add(y).maximum(-0.5).mul(y);
    const plan = await check('max(x + y, -0.5) * y @ w, K 2048', a.matmul(w), { prologue: true, k: 2048, bound: a.abs().matmul(w.abs()), extra: 2e-6 });
    expect(plan.dispatches.some((d) => /splitK\d+/.test(d.kernel)), plan.dispatches.map((d) => d.kernel).join(', ')).toBe(true);
  });

  it('p @ p with one computed value as both operands', async () => {
    const { randomF } = seededTensors(9);
    const p = randomF([40, 40]).mul(0.25);
    await check('p @ p', p.matmul(p), { prologue: true, k: 40, bound: p.abs().matmul(p.abs()), dispatches: 1 });
  });

  it('int32 is exact', async () => {
    const { randomI } = seededTensors(10);
    const [x, w] = [randomI([36, 50], -20, 20), randomI([50, 44], -20, 20)];
    await check('int32 (x - 3) * 2 @ w', x.sub(3).mul(2).matmul(w), { prologue: true, k: 50, dispatches: 1 });
  });

  it('other dtypes inside the prologue: a cast from int32 and a select on a bool mask', async () => {
    const { randomF, randomI, randomB } = seededTensors(13);
    const [xi, w, mask, x] = [randomI([40, 64], -9, 9), randomF([64, 48]), randomB([40, 64]), randomF([40, 64])];
    const a = wg.where(mask, x, xi.cast('float32'));
    await check('where(mask, x, cast(xi)) @ w', a.matmul(w), { prologue: true, k: 64, bound: a.abs().matmul(w.abs()), dispatches: 1 });
  });

  it('empty K: the prologue is never loaded, the product is zeros', async () => {
    const { randomF } = seededTensors(11);
    const [x, mu, w] = [randomF([40, 0]), randomF([0]), randomF([0, 48])];
    await check('empty K', x.sub(mu).matmul(w), { prologue: true, k: 0, bound: x.matmul(w) });
  });

  it('not fused: a transcendental op, a product that would compute the operand 11 times per element', async () => {
    const { randomF } = seededTensors(14);
    const [x, w, v] = [randomF([48, 64]), randomF([64, 40]), randomF([64, 700])];
    const t = x.tanh();
    await check('tanh(x) @ w', t.matmul(w), { prologue: false, k: 64, bound: t.abs().matmul(w.abs()), extra: 4e-6, dispatches: 2 });
    const a = x.mul(2);
    await check('(x * 2) @ v, 700 columns', a.matmul(v), { prologue: false, k: 64, bound: a.abs().matmul(v.abs()), dispatches: 2 });
    // exp(x) + y: the add joins, the exp is stored by its own kernel.
    const e = x.exp().add(x);
    await check('(exp(x) + x) @ w', e.matmul(w), { prologue: true, k: 64, bound: e.abs().matmul(w.abs()), extra: 4e-6, dispatches: 2 });
  });

  it('the load limits: 4 per element for a matmul operand, 8 for a SYRK; a measurement may set its own', () => {
    const { randomF } = seededTensors(15);
    // The passes before fuse-prologue (detect-syrk makes x^T x a syrk), then fuse-prologue with the limit.
    const before = DEFAULT_PIPELINE.slice(0, DEFAULT_PIPELINE.findIndex((p) => p.name === 'fuse-prologue'));
    const fired = (t: Tensor, maxLoads?: number) => fusePrologues(runPasses(extractProgram([t.node]).graph, before).graph, undefined, maxLoads).fired.join('\n');
    expect([MAX_PROLOGUE_LOADS, MAX_SYRK_PROLOGUE_LOADS]).toEqual([4, 8]);
    // (x * 2) @ v: A loaded once per column tile (64 wide here): 10 times for 600 columns, 4 for 256.
    const x = randomF([64, 64]);
    const [wide, narrow] = [randomF([64, 600]), randomF([64, 256])];
    expect(fired(x.mul(2).matmul(wide))).toMatch(/would compute it 10 times per element \(at most 4\)/);
    expect(fired(x.mul(2).matmul(narrow))).toMatch(/^prologue of /m);
    expect(fired(x.mul(2).matmul(wide), 10)).toMatch(/^prologue of /m);
    expect(fired(x.mul(2).matmul(wide), 9)).toMatch(/\(at most 9\)/);
    // A centred SYRK of 512 features over 600 samples: the 64x64 tile, 8 loads; of 1056: 128-wide, 9 loads.
    const centred = (d: number) => {
      const v = randomF([600, d]);
      const c = v.sub(v.mean(0, true));
      return c.T.matmul(c);
    };
    expect(fired(centred(512))).toMatch(/^prologue of /m);
    expect(fired(centred(512), 4)).toMatch(/would compute it 8 times per element \(at most 4\)/);
    expect(fired(centred(1056))).toMatch(/would compute it 9 times per element \(at most 8\)/);
  });

  it("not fused: gemv's long operand, and an operand with another use", async () => {
    const { randomF } = seededTensors(12);
    const [x, w] = [randomF([1, 300]), randomF([300, 64])];
    const b = w.mul(2);
    await check('gemv, long operand computed', x.matmul(b), { prologue: false, k: 300, bound: x.abs().matmul(b.abs()), dispatches: 2 });
    const [y, v] = [randomF([50, 60]), randomF([60, 50])];
    const c = y.add(1);
    const both = c.matmul(v).add(c.sum(1, true));
    await check('two uses', both, { prologue: false, k: 60, bound: c.abs().matmul(v.abs()).add(c.abs().sum(1, true)) });
  });
});

describe("gemv's short operand: prologues and prologue values", () => {
  it('(x * 2) @ w: a row vector computed as loaded (n layout, scalar lanes)', async () => {
    const { randomF } = seededTensors(21);
    const [x, w] = [randomF([1, 300]), randomF([300, 64])];
    const a = x.mul(2);
    const plan = await check('gemv prologue', a.matmul(w), { prologue: true, k: 300, bound: a.abs().matmul(w.abs()), dispatches: 1 });
    expect(plan.dispatches[0].wgsl).toContain('gemv: n layout');
  });

  it('W @ (v * 2 - 1): cheap ops and vector lanes along k (k layout); a transcendental op is stored there', async () => {
    const { randomF } = seededTensors(22);
    const [w, v] = [randomF([300, 256]), randomF([256, 1])];
    const t = v.mul(2).sub(1);
    const plan = await check('W @ (v * 2 - 1)', w.matmul(t), { prologue: true, k: 256, bound: w.abs().matmul(t.abs()), dispatches: 1 });
    expect(plan.dispatches[0].wgsl).toContain('gemv (transposed: C^T = B^T A^T): k layout');
    expect(plan.dispatches[0].wgsl).toContain('fn wg_load_a(bz: u32, gx: u32, gk: u32) -> vec4<f32>');
    // Evaluated once per multiply-add in the k layout: tanh(v) is stored by its own kernel.
    const h = v.tanh();
    await check('W @ tanh(v)', w.matmul(h), { prologue: false, k: 256, bound: w.abs().matmul(h.abs()), extra: 4e-6, dispatches: 2 });
  });

  it('tanh(x) @ W: any elementwise op in the n layout', async () => {
    const { randomF } = seededTensors(29);
    const [x, w] = [randomF([3, 256]), randomF([256, 400])];
    const h = x.tanh().add(x);
    const plan = await check('tanh(x) + x @ W', h.matmul(w), { prologue: true, k: 256, bound: h.abs().matmul(w.abs()), extra: 4e-6, dispatches: 1 });
    expect(plan.dispatches[0].wgsl).toContain('gemv: n layout');
  });

  it("power iteration: each product computes the previous one's norm in its workgroups, one dispatch an iteration", async () => {
    const { randomF } = seededTensors(23);
    const d = 300;
    const x = randomF([d, d], -1, 1);
    const c = x.matmul(x.T).div(d); // symmetric, positive semidefinite
    let v = wg.ones([d, 1]).div(Math.sqrt(d));
    const iters = 4;
    for (let i = 0; i < iters; i++) {
      const u = c.matmul(v);
      v = u.div(u.square().sum().sqrt());
    }
    // C v: its scale is the last norm's, so a wrong norm shows (the direction alone would not tell).
    const cv = c.matmul(v);
    // The Gram matrix, the constant start, its first product, then each product with the norm of the one before.
    const plan = await check('power iteration', cv, { prologue: true, k: d, bound: c.abs().matmul(v.abs()) });
    const fused = plan.dispatches.filter((p) => p.wgsl.includes('prologue values per workgroup'));
    expect(fused.length, plan.dispatches.map((p) => p.kernel).join(', ')).toBe(iters);
    expect(plan.dispatches.filter((p) => p.kernel.startsWith('fused.row')).length).toBe(0);
  });

  it('values of several reductions: (u - max(u)) / (sum(u) + min(u)), unaligned k (scalar lanes), and a value read by the reduction after it', async () => {
    const { randomF } = seededTensors(24);
    const [w, u] = [randomF([1200, 37], -1, 1), randomF([37, 1], 1, 2)];
    const a = u.sub(u.max()).div(u.sum().add(u.min()));
    await check('several values', w.matmul(a), { prologue: true, k: 37, bound: w.abs().matmul(a.abs()), extra: 4e-6, dispatches: 1 });
    // The variance about the mean: the sum of squares reads the mean, a value of the same prologue.
    const centred = u.sub(u.mean());
    const b = centred.div(centred.square().sum().sqrt());
    await check('normalised about the mean', w.matmul(b), { prologue: true, k: 37, bound: w.abs().matmul(b.abs()), extra: 1e-5, dispatches: 1 });
  });

  it('split K (few workgroups): every workgroup computes the values over the whole operand', async () => {
    const { randomF } = seededTensors(25);
    const [w, u] = [randomF([16, 8192], -1, 1), randomF([8192, 1], -1, 1)];
    const v = u.div(u.abs().sum());
    const plan = await check('split gemv', w.matmul(v), { prologue: true, k: 8192, bound: w.abs().matmul(v.abs()), extra: 2e-6, dispatches: 2 });
    expect(plan.dispatches[0].wgsl).toMatch(/split K \d+ x \d+ \(partial sums\); 1 prologue values per workgroup/);
  });

  it('several short rows or columns: (x / sum(|x|)) @ W over 4 rows (n layout), W @ (V - max(V)) over 3 columns (k layout)', async () => {
    const { randomF } = seededTensors(30);
    const [x, w] = [randomF([4, 300], -1, 1), randomF([300, 520], -1, 1)];
    const a = x.div(x.abs().sum());
    await check('4 rows', a.matmul(w), { prologue: true, k: 300, bound: a.abs().matmul(w.abs()), extra: 2e-6, dispatches: 1 });
    const [c, v] = [randomF([700, 256], -1, 1), randomF([256, 3], -1, 1)];
    const b = v.sub(v.max());
    await check('3 columns', c.matmul(b), { prologue: true, k: 256, bound: c.abs().matmul(b.abs()), extra: 2e-6, dispatches: 1 });
  });

  it('a NaN in the reduced values reaches every output (max propagates it, as the row kernels do)', async () => {
    const { randomF } = seededTensors(34);
    const [w, u] = [randomF([700, 256], -1, 1), randomF([256, 1], -1, 1)];
    const l = u.log(); // NaN where u < 0
    const v = u.div(l.max());
    const plan = await check('u / max(log(u))', w.matmul(v), { prologue: true, k: 256, bound: w.abs().matmul(v.abs()), dispatches: 1 });
    expect(plan.dispatches[0].wgsl).toContain('row_max');
  });

  it('int32: exact, with an integer sum as the value', async () => {
    const { randomI } = seededTensors(26);
    const [x, w] = [randomI([1, 96], -9, 9), randomI([96, 1100], -9, 9)];
    await check('int32 (x - sum(x)) @ w', x.sub(x.sum()).matmul(w), { prologue: true, k: 96, dispatches: 1 });
    await check('int32 (x * min(x) + max(x)) @ w', x.mul(x.min()).add(x.max()).matmul(w), { prologue: true, k: 96, dispatches: 1 });
  });

  it('batched: a value over the whole stack broadcasts to every batch; per-batch norms stay a row kernel, read by the prologue', async () => {
    const { randomF } = seededTensors(27);
    const [x, w] = [randomF([3, 1, 64], -1, 1), randomF([3, 64, 400], -1, 1)];
    const whole = x.div(x.square().sum().sqrt());
    await check('batched, whole', whole.matmul(w), { prologue: true, k: 64, bound: whole.abs().matmul(w.abs()), extra: 2e-6, dispatches: 1 });
    const each = x.div(x.square().sum(-1, true).sqrt());
    // The division still runs in the loads, reading the norms the row kernel stores.
    const plan = await check('batched, per batch', each.matmul(w), { prologue: true, k: 64, bound: each.abs().matmul(w.abs()), extra: 2e-6, dispatches: 2 });
    expect(plan.dispatches.some((p) => p.wgsl.includes('prologue values per workgroup'))).toBe(false);
  });

  it('not values: a reduction over more elements than the operand, or one kept as an output', async () => {
    const { randomF } = seededTensors(28);
    const [w, u, big] = [randomF([300, 64], -1, 1), randomF([64, 1], -1, 1), randomF([128, 1], -1, 1)];
    const a = u.div(big.abs().sum());
    await check('larger reduction', w.matmul(a), { prologue: true, k: 64, bound: w.abs().matmul(a.abs()), extra: 2e-6, dispatches: 2 });
    const s = u.square().sum();
    const b = u.div(s);
    const { graph } = extractProgram([w.matmul(b).node, s.node]);
    const after = runPasses(graph, DEFAULT_PIPELINE).graph;
    const plan = lowerGraph(after);
    expect(plan.dispatches.length, printGraph(after)).toBe(2);
    expect(plan.dispatches.some((p) => p.wgsl.includes('prologue values per workgroup'))).toBe(false);
  });
});

describe("the direct kernel's operands: any op, and prologue values", () => {
  it("the demo's power iteration over 64 features: direct products, each with the previous norm as prologue values", async () => {
    const { randomF } = seededTensors(31);
    const d = 64;
    const x = randomF([d, d], -1, 1);
    const c = x.matmul(x.T).div(d);
    let v = wg.ones([d, 1]).div(Math.sqrt(d));
    for (let i = 0; i < 3; i++) {
      const u = c.matmul(v);
      v = u.div(u.square().sum().sqrt());
    }
    const cv = c.matmul(v);
    const plan = await check('power iteration, 64', cv, { prologue: true, k: d, bound: c.abs().matmul(v.abs()) });
    const fused = plan.dispatches.filter((p) => p.wgsl.includes('direct: one thread per output; 2 prologue values per workgroup'));
    expect(fused.length, plan.dispatches.map((p) => p.kernel).join(', ')).toBe(3);
  });

  it('transcendental prologues on both operands, several workgroups, a batch, an operand used twice', async () => {
    const { randomF } = seededTensors(32);
    const [x, y] = [randomF([2, 20, 30], -1, 1), randomF([2, 30, 24], -1, 1)];
    const a = x.tanh();
    const b = y.exp().div(y.exp().sum());
    // 960 outputs in 4 workgroups of 256, the last one partly past the end (its threads still compute the values).
    const plan = await check('tanh(x) @ (exp(y) / sum(exp(y)))', a.matmul(b), { prologue: true, k: 30, bound: a.abs().matmul(b.abs()), extra: 1e-5, dispatches: 1 });
    expect(plan.dispatches[0].wgsl).toContain('fn wg_load_a');
    expect(plan.dispatches[0].wgsl).toContain('fn wg_load_b');
    const p = randomF([24, 24], -1, 1).exp();
    await check('exp(p) @ exp(p)', p.matmul(p), { prologue: true, k: 24, bound: p.abs().matmul(p.abs()), extra: 2e-6, dispatches: 1 });
  });

  it('an empty output with prologue values: fused, and nothing to dispatch', async () => {
    const { randomF } = seededTensors(33);
    const [w, u] = [randomF([0, 5]), randomF([5, 1])];
    const { graph } = extractProgram([w.matmul(u.div(u.sum())).node]);
    expect(runPasses(graph, DEFAULT_PIPELINE).log.flatMap((l) => l.fired)).toContain('prologue of %4: %2 sum, %3 div');
    await check('empty', w.matmul(u.div(u.sum())), { prologue: false, k: 5, bound: w.matmul(u), dispatches: 0 });
  });
});

describe('constant operands: computed as loaded where the kernel takes a prologue, never stored', () => {
  it('a constant start vector (gemv), a constant matrix (tiled, transposed), a small product (direct)', async () => {
    const { randomF } = seededTensors(35);
    const [c, x, y] = [randomF([700, 256], -1, 1), randomF([200, 64], -1, 1), randomF([3, 4], -1, 1)];
    const v = wg.full([256, 1], 0.25);
    await check('C @ 0.25', c.matmul(v), { prologue: true, k: 256, bound: c.abs().matmul(v), dispatches: 1 });
    const w = wg.full([300, 64], -1.5);
    await check('x @ const.T', x.matmul(w.T), { prologue: true, k: 64, bound: x.abs().matmul(w.abs().T), dispatches: 1 });
    const z = wg.ones([4, 5]);
    await check('y @ ones', y.matmul(z), { prologue: true, k: 4, bound: y.abs().matmul(z), dispatches: 1 });
  });

  it('an iota operand (from IR: the API reaches one only through a reshape, a view that is stored), both layouts', async () => {
    const { randomI } = seededTensors(37);
    const x = randomI([300, 64], -9, 9);
    for (const text of [
      '%x = input : i32[300,64]\n%i = iota {axis=1} : i32[64,5]\n%p = matmul %x, %i : i32[300,5]\nreturn %p',
      '%x = input : i32[300,64]\n%i = iota {axis=0} : i32[5,64]\n%t = transpose %i {perm=[1,0]} : i32[64,5]\n%p = matmul %x, %t : i32[300,5]\nreturn %p',
    ]) {
      const graph = runPasses(parseGraph(text), DEFAULT_PIPELINE).graph;
      const plan = lowerGraph(graph);
      expect(plan.dispatches.length, printGraph(graph)).toBe(1);
      expect(plan.dispatches[0].wgsl).toContain('computed as loaded (prologue, no buffer)');
      const { args } = extractProgram([x.node]);
      const [want] = executeGraph(parseGraph(text), [args[0].host!]);
      const [res] = await backend().run(graph, args);
      const got = await backend().read(res);
      res.release();
      expect(Array.from(got), text).toEqual(Array.from(want));
    }
  });

  it("stored: gemv's long operand, and a random operand (its hash would run at every load)", async () => {
    const { randomF } = seededTensors(36);
    const x = randomF([1, 300], -1, 1);
    const w = wg.full([300, 64], 2);
    await check('x @ const (gemv long side)', x.matmul(w), { prologue: false, k: 300, bound: x.abs().matmul(w), dispatches: 2 });
    const c = randomF([700, 256], -1, 1);
    const r = wg.rand([256, 1]);
    await check('C @ rand (gemv short side)', c.matmul(r), { prologue: false, k: 256, bound: c.abs().matmul(r), dispatches: 2 });
  });
});
