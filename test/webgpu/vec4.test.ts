// The vec4 variant of elementwise kernels (src/shaders/elementwise.ts): chosen exactly when the space has a
// positive multiple of 4 elements and either its last axis has a multiple of 4 elements (any access: vector,
// shared along the last axis, or one element per lane) or every load is flat row-major or a broadcast scalar
// and every store is flat (the plan's kernel name then ends in `.vec4`); results equal the CPU reference for every
// elementwise op and dtype, fused multi-output kernels, generated leaves (each lane's own index), special
// values, and the shapes and views that keep the scalar kernel. Programs run on WebGpuBackend with and
// without fusion, plus IR graphs for the ops the API does not expose (not, and, or).
import { afterAll, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.js';
import { extractProgram } from '../../src/api/program.js';
import type { Tensor } from '../../src/api/tensor.js';
import type { DType, TypedArray } from '../../src/ir/dtype.js';
import { makeGraph, type Graph } from '../../src/ir/graph.js';
import { makeNode, type Node } from '../../src/ir/node.js';
import { stridesOf, type Shape } from '../../src/ir/shape.js';
import { lowerGraph } from '../../src/lowering/lower.js';
import type { Dispatch, Plan } from '../../src/lowering/plan.js';
import { executeGraph } from '../../src/runtime/cpu/executor.js';
import { Storage } from '../../src/runtime/storage.js';
import { WebGpuBackend } from '../../src/runtime/webgpu/backend.js';
import { generateElementwise, type ElementwiseSpec } from '../../src/shaders/elementwise.js';
import { ARITH, EXACT, expectClose, reference, seeded, seededTensors, TRANSCENDENTAL, type Tolerance, UNARY_FLOAT_OPS } from './differential.js';
import { runOutputs, testGpu } from './gpu.js';
import { runKernel } from './kernel-harness.js';

const ctx = await testGpu();
const gpuIt = it.skipIf(!ctx);
const fused = ctx ? new WebGpuBackend(ctx) : null;
const unfused = ctx ? new WebGpuBackend(ctx, { fusion: false }) : null;
afterAll(() => {
  fused?.pool.trim(0);
  unfused?.pool.trim(0);
  ctx?.device.destroy();
});

// ---------------------------------------------------------------------------------------------------------
// Data

const { next, randomF, randomI, randomB } = seededTensors(4242);
/** Floats with NaN, infinities, signed zeros and huge values mixed in (a multiple of 4 long when n is). */
function specialF(n: number): Tensor {
  // (No subnormals: WGSL lets implementations flush them, and SwiftShader's max/min do, in any kernel.)
  const specials = [NaN, Infinity, -Infinity, 0, -0, 1, -1, 3e38, -3e38, 1.5e-38, 0.5, -2.5];
  return wg.tensor(Float32Array.from({ length: n }, (_, i) => (i % 3 === 0 ? specials[(i / 3) % specials.length] : -5 + 10 * next())), [n]);
}

// ---------------------------------------------------------------------------------------------------------
// Plans and runs

const ELEMENTWISE = /^(elementwise|fused\.elementwise|copy|concat\.part)\./;

function planOf(backend: WebGpuBackend, outputs: readonly Tensor[]): Plan {
  const { graph, args } = extractProgram(outputs.map((t) => t.node));
  return backend.plan(graph, args);
}

/** The elementwise dispatches of a plan, and whether each is the vec4 variant. */
function elementwiseKernels(plan: Plan): Dispatch[] {
  return plan.dispatches.filter((d) => ELEMENTWISE.test(d.kernel));
}

function expectVec4(plan: Plan, vec4: boolean, what: string): void {
  const kernels = elementwiseKernels(plan);
  expect(kernels.length, `${what}: elementwise dispatches in ${plan.dispatches.map((d) => d.kernel).join(', ')}`).toBeGreaterThan(0);
  for (const d of kernels) {
    expect(d.kernel.replace(/\.inplace$/, '').endsWith('.vec4'), `${what}: ${d.kernel}`).toBe(vec4);
    // The name and the WGSL agree: a vec4 kernel binds vectors and steps 4 elements per thread.
    expect(/array<vec4<(f32|i32|u32)>>/.test(d.wgsl), `${what}: ${d.kernel} binds vectors`).toBe(vec4);
    expect(/let j = .*\n\s*if \(j >= \d+u\) \{ return; \}|let base = .*\n\s*if \(base \+ \d+u < \d+u\) \{/.test(d.wgsl), `${what}: ${d.kernel} steps over groups of 4`).toBe(vec4);
  }
}


/**
 * Computes `outputs` on both backends (fused and unfused) and compares with the CPU reference; `vec4`, when
 * given, is whether every elementwise dispatch of both plans (or of the one named) must be the vec4 variant.
 */
async function check(outputs: Tensor | readonly Tensor[], tol: Tolerance, what: string, vec4?: boolean | { fused?: boolean; unfused?: boolean }): Promise<void> {
  const list = Array.isArray(outputs) ? (outputs as Tensor[]) : [outputs as Tensor];
  const want = reference(...list);
  for (const [label, backend] of [
    ['fused', fused!],
    ['unfused', unfused!],
  ] as const) {
    const want4 = typeof vec4 === 'object' ? vec4[label] : vec4;
    if (want4 !== undefined) expectVec4(planOf(backend, list), want4, `${what} (${label})`);
    const got = await runOutputs(backend, list);
    got.forEach((g, k) => expectClose(g, want[k], list[k].dtype === 'float32' ? tol : EXACT, `${what} (${label}), output ${k}`));
  }
}

/** An IR graph on both backends against executeGraph (for ops the API does not expose). */
async function checkGraph(graph: Graph, args: readonly TypedArray[], what: string, vec4: boolean): Promise<void> {
  const want = executeGraph(graph, args);
  expectVec4(lowerGraph(graph), vec4, what);
  for (const backend of [fused!, unfused!]) {
    const storages = graph.inputs.map((n, i) => Storage.fromHost(n.dtype, n.shape, args[i]));
    const results = await backend.run(graph, storages);
    const got = await Promise.all(results.map((r) => backend.read(r)));
    results.forEach((r) => r.release());
    storages.forEach((s) => s.release());
    got.forEach((g, k) => expectClose(g, want[k], EXACT, `${what}, output ${k}`));
  }
}

const SIZES = [4, 8, 4096, 4100];
const SCALAR_SIZES = [1, 2, 3, 6, 4097, 4099, 4102];

// ---------------------------------------------------------------------------------------------------------

describe('vec4: chosen exactly when the conditions hold', () => {
  gpuIt('sizes that are multiples of 4 vectorize, other sizes keep the scalar kernel', async () => {
    for (const n of [...SIZES, ...SCALAR_SIZES]) {
      const vec4 = n % 4 === 0;
      const a = randomF([n]);
      const b = randomF([n]);
      expectVec4(planOf(fused!, [a.add(b)]), vec4, `add [${n}]`);
      expect(planOf(unfused!, [a.add(b)]).dispatches.map((d) => d.kernel), `[${n}]`).toEqual([`elementwise.add.float32${vec4 ? '.vec4' : ''}`]);
      expect(planOf(fused!, [a.mul(b).add(1).exp()]).dispatches.map((d) => d.kernel)).toEqual([`fused.elementwise.3ops${vec4 ? '.vec4' : ''}`]);
      // Rank does not matter, only the element count and flat accesses.
      expectVec4(planOf(fused!, [randomF([n, 3]).sub(randomF([n, 3]))]), vec4, `sub [${n}, 3]`);
    }
    expectVec4(planOf(fused!, [randomF([2, 3, 2]).mul(randomF([2, 3, 2]))]), true, '[2, 3, 2]');
    expectVec4(planOf(fused!, [randomF([5, 1, 4]).mul(randomF([5, 1, 4]))]), true, '[5, 1, 4]');
  });

  gpuIt('with a last axis of a multiple of 4, strided loads vectorize too (vector, shared or per lane); otherwise they keep the scalar kernel', async () => {
    const x = randomF([8, 4]);
    const cases: [string, Tensor][] = [
      ['transposed', x.T.add(randomF([4, 8]))],
      ['row broadcast', x.add(randomF([4]))],
      ['column broadcast', x.add(randomF([8, 1]))],
      ['slice with an offset', randomF([12]).slice([4], [8]).add(1)],
      ['slice of rows', randomF([8, 6]).slice([0, 0], [8, 4]).mul(x)],
      ['transposed bool', randomB([4, 8]).T.cast('float32')],
      ['per-image statistics over [3, 5, 8]', randomF([3, 5, 8]).sub(randomF([3, 1, 1])).mul(randomF([3, 5, 1])).add(randomF([8]))],
    ];
    for (const [what, t] of cases) await check(t, ARITH, what, { fused: true });
    const wgsl = (t: Tensor) => planOf(fused!, [t]).dispatches[0].wgsl;
    // A row bias is a vector at the row's coordinate, a column broadcast one shared element, a transposed
    // operand one element per lane at lane 0's index plus the stride.
    expect(wgsl(x.add(randomF([4])))).toMatch(/let q\d+ = in1\[\(c1\) \/ 4u\];/);
    expect(wgsl(x.add(randomF([8, 1])))).toMatch(/let b\d+ = in1\[c0\];/);
    expect(wgsl(x.T.add(randomF([4, 8])))).toMatch(/in0\[c0 \+ c1 \* 4u \+ 12u\]/);
    const scalar: [string, Tensor][] = [
      ['row broadcast, last axis 6', randomF([4, 6]).add(randomF([6]))],
      ['transposed, last axis 6', randomF([6, 4]).T.add(randomF([4, 6]))],
      ['slice of rows, last axis 3', randomF([8, 6]).slice([0, 0], [8, 3]).mul(randomF([8, 3]))],
    ];
    for (const [what, t] of scalar) await check(t, ARITH, what, false);
  });

  gpuIt('broadcast scalars (a one-element tensor, a number, an expanded scalar) keep vec4 and are loaded once', async () => {
    const x = randomF([16, 4]);
    const one = randomF([1]);
    await check(x.add(one), ARITH, '[16, 4] + [1]', true);
    await check(x.mul(2.5).sub(randomF([1, 1])), ARITH, 'numbers and [1, 1]', true);
    await check(randomI([4, 4]).add(randomI([1]).expand([4, 4])), EXACT, 'expanded int scalar', true);
    const plan = planOf(fused!, [x.add(one)]);
    // The scalar is one load before the lanes, from its own (scalar) binding.
    expect(plan.dispatches[0].wgsl).toMatch(/let b\d+ = in\d+\[0u\];/);
  });

  gpuIt('an argument whose element count is not a multiple of 4 is read per lane; the rest stays vectorized', async () => {
    const x = randomF([10]);
    const y = randomF([8]);
    const t = x.slice([0], [8]).add(y);
    await check(t, ARITH, 'slice of [10] + [8]', true);
    const wgsl = planOf(fused!, [t]).dispatches[0].wgsl;
    expect(wgsl).toMatch(/var<storage, read> in0: array<f32>;/);
    expect(wgsl).toMatch(/var<storage, read> in1: array<vec4<f32>>;/);
    expect(wgsl).toMatch(/var<storage, read_write> out: array<vec4<f32>>;/);
    expect(wgsl).toContain('in0[i3]');
  });

  gpuIt('fused multi-output kernels store one vector per result', async () => {
    const x = randomF([4096]);
    const shared = x.exp();
    const a = shared.add(1);
    const b = shared.mul(2);
    const plan = planOf(fused!, [a, b]);
    expect(plan.dispatches.map((d) => d.kernel)).toEqual(['fused.elementwise.3ops.vec4']);
    expect(plan.dispatches[0].wgsl.match(/out\d\[j\] = vec4<f32>\(/g)?.length).toBe(2);
    expect(plan.dispatches[0].wgsl.match(/in0\[j\]/g)?.length, 'one vector load').toBe(1);
    await check([a, b], TRANSCENDENTAL, 'exp shared by two outputs', true);
    const i = randomI([4, 8]);
    const f = randomF([4, 8]);
    await check([i.add(3), i.cast('float32').mul(f), f.gt(0), f.lt(i.cast('float32'))], ARITH, 'int, float and bool outputs of one kernel', true);
  });

  gpuIt('the generator decides: no vec4 without permission, and none where a condition fails', () => {
    const space = [8];
    const flat = { offset: 0, strides: stridesOf(space) };
    const base: ElementwiseSpec = {
      space,
      expr: { steps: [{ kind: 'load', buffer: 'a', dtype: 'float32', access: flat }, { kind: 'op', op: 'exp', args: [0], attrs: {}, dtype: 'float32' }] },
      buffers: [
        { name: 'a', dtype: 'float32', access: 'read' },
        { name: 'out', dtype: 'float32', access: 'read_write' },
      ],
      stores: [{ step: 1, buffer: 'out', access: flat }],
    };
    expect(generateElementwise(base).vec4).toBe(false);
    expect(generateElementwise({ ...base, vec4: () => true }).vec4).toBe(true);
    expect(generateElementwise({ ...base, vec4: () => false }).vec4).toBe(false);
    expect(generateElementwise({ ...base, vec4: (b) => b === 'out' }).wgsl).toContain('a[i2]');
    expect(generateElementwise({ ...base, space: [6], vec4: () => true }).vec4).toBe(false);
    expect(generateElementwise({ ...base, space: [0], vec4: () => true }).vec4).toBe(false);
    // A store at an aligned offset is a vector; at an unaligned one, one element per lane (out bound as scalars).
    expect(generateElementwise({ ...base, stores: [{ step: 1, buffer: 'out', access: { offset: 4, strides: [1] } }], vec4: () => true }).wgsl).toContain('out[(4u + c0) / 4u] = vec4<f32>(');
    const unaligned = generateElementwise({ ...base, stores: [{ step: 1, buffer: 'out', access: { offset: 2, strides: [1] } }], vec4: () => true });
    expect(unaligned.vec4).toBe(true);
    expect(unaligned.wgsl).toContain('var<storage, read_write> out: array<f32>;');
    // A strided load in a space whose last axis is a multiple of 4: one element per lane.
    const strided = generateElementwise({ ...base, vec4: () => true, expr: { steps: [{ kind: 'load', buffer: 'a', dtype: 'float32', access: { offset: 0, strides: [2] } }, base.expr.steps[1]] } });
    expect(strided.wgsl).toContain('a[c0 * 2u + 6u]');
    // Nothing left to vectorize: the scalar kernel.
    expect(generateElementwise({ ...base, vec4: (b) => b === 'a', stores: [{ step: 1, buffer: 'out', access: { offset: 2, strides: [1] } }], expr: { steps: [{ kind: 'load', buffer: 'a', dtype: 'float32', access: { offset: 0, strides: [2] } }, base.expr.steps[1]] } }).vec4).toBe(false);
    // Several vectors per thread: a straight-line path for full workgroups and a guarded loop for the tail.
    const v4 = generateElementwise({ ...base, space: [4096], vec4: () => true }, { vectorsPerThread: 4, workgroupSize: 64, minThreads: 1 });
    // The default keeps one vector per thread where fewer than 128k threads would be left.
    expect(generateElementwise({ ...base, space: [4096], vec4: () => true }).wgsl).not.toContain('let base');
    expect(generateElementwise({ ...base, space: [1 << 22], vec4: () => true }).wgsl).toContain('let j = base + 768u;');
    expect(v4.workgroups).toEqual([4, 1, 1]);
    expect(v4.wgsl).toContain('let j = base + 192u;');
  });

  gpuIt('several vectors per thread: full workgroups, a partial last workgroup, a broadcast and a strided operand', async () => {
    for (const [n, v, size] of [[4096, 2, 64], [4100, 4, 64], [4 * 1000, 3, 32], [12, 4, 256]] as const) {
      const space = [n / 4, 4];
      const flat = { offset: 0, strides: stridesOf(space) };
      const spec: ElementwiseSpec = {
        space,
        expr: {
          steps: [
            { kind: 'load', buffer: 'a', dtype: 'float32', access: flat },
            { kind: 'load', buffer: 'b', dtype: 'float32', access: { offset: 0, strides: [1, 0] } },
            { kind: 'op', op: 'sub', args: [0, 1], attrs: {}, dtype: 'float32' },
            { kind: 'op', op: 'exp', args: [2], attrs: {}, dtype: 'float32' },
          ],
        },
        buffers: [
          { name: 'a', dtype: 'float32', access: 'read' },
          { name: 'b', dtype: 'float32', access: 'read' },
          { name: 'out', dtype: 'float32', access: 'read_write' },
        ],
        stores: [{ step: 3, buffer: 'out', access: flat }],
        vec4: () => true,
      };
      const kernel = generateElementwise(spec, { vectorsPerThread: v, workgroupSize: size, minThreads: 1 });
      expect(kernel.vec4).toBe(true);
      expect(kernel.workgroups[0]).toBe(Math.ceil(n / 4 / (v * size)));
      const a = Float32Array.from({ length: n }, () => next() * 4 - 2);
      const b = Float32Array.from({ length: n / 4 }, () => next() * 2 - 1);
      const out = new Float32Array(n).fill(Number.NaN);
      const got = await runKernel(ctx!.device, kernel, spec.buffers, { a, b, out });
      const want = Float32Array.from(a, (x, i) => Math.exp(x - b[Math.floor(i / 4)]));
      expectClose(got.out as Float32Array, want, TRANSCENDENTAL, `n=${n}, ${v} vectors per thread, workgroups of ${size}`);
    }
  });

  gpuIt('several vectors per thread by default on 2^21 elements: fused, unfused and in place', async () => {
    const x = randomF([1 << 21]);
    const b = randomF([1 << 9]);
    // Positive terms only: no cancellation before the sqrt.
    const y = x.neg().exp().mul(2).add(x.reshape([1 << 12, 1 << 9]).add(b).reshape([1 << 21]).abs()).sqrt().neg();
    const unfusedPlan = planOf(unfused!, [y]);
    expect(unfusedPlan.dispatches.some((d) => d.kernel.endsWith('.vec4.inplace') && d.wgsl.includes('let base'))).toBe(true);
    expect(planOf(fused!, [y]).dispatches.every((d) => d.wgsl.includes('let j = base + 768u;'))).toBe(true);
    await check(y, TRANSCENDENTAL, 'a chain over 2^21 elements', true);
  });

  gpuIt('empty and zero-rank spaces', async () => {
    expect(planOf(fused!, [randomF([0, 4]).add(1)]).dispatches).toEqual([]);
    await check(randomF([]).add(randomF([])), ARITH, 'zero-rank', false);
  });
});

describe('vec4: results equal the CPU reference', () => {
  const unary = UNARY_FLOAT_OPS;
  gpuIt('every unary float32 op, at 4, 8, 4096 and 4100 elements', async () => {
    for (const [name, f, tol, lo, hi] of unary) {
      for (const n of SIZES) await check(f(randomF([n], lo, hi)), tol, `${name} [${n}]`, true);
      await check(f(randomF([2, 3, 4], lo, hi)), tol, `${name} [2, 3, 4]`, true);
    }
  });

  gpuIt('every binary op in float32 and int32 (wrapping), with and without broadcast scalars', async () => {
    const float = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const;
    for (const op of float) {
      const tol = op === 'pow' || op === 'div' ? TRANSCENDENTAL : ARITH;
      for (const n of [8, 4100]) {
        const a = op === 'pow' ? randomF([n], 0.1, 3) : randomF([n]);
        const b = op === 'pow' ? randomF([n], -2, 2) : randomF([n]);
        await check(a[op](b), tol, `${op} float32 [${n}]`, true);
        await check(b[op](randomF([1], 0.5, 1.5)), tol, `${op} float32 [${n}] with [1]`, true);
      }
    }
    for (const op of ['add', 'sub', 'mul', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const) {
      await check(randomI([4, 16])[op](randomI([4, 16])), EXACT, `${op} int32`, true);
      await check(randomI([12])[op](7), EXACT, `${op} int32 with a number`, true);
    }
    const big = wg.tensor(Int32Array.from([2147483647, -2147483648, 123456789, -5, 65536, -65536, 46341, 7]), [8], 'int32');
    await check(big.add(1), EXACT, 'int32 add wraps', true);
    await check(big.mul(big), EXACT, 'int32 mul wraps', true);
    await check(big.neg().abs(), EXACT, 'int32 neg/abs', true);
  });

  gpuIt('NaN, infinities and signed zeros follow the reference', async () => {
    for (const n of [12, 4096]) {
      const x = specialF(n);
      await check(x.maximum(0), EXACT, 'maximum', true);
      await check(x.minimum(randomF([n])), EXACT, 'minimum', true);
      await check(x.relu(), EXACT, 'relu', true);
      await check(x.sign(), EXACT, 'sign', true);
      await check(x.eq(x), EXACT, 'eq', true);
      await check(x.ne(x), EXACT, 'ne', true);
      await check(x.lt(0.5), EXACT, 'lt', true);
      await check(x.cast('int32'), EXACT, 'cast to int32', true);
      await check(x.cast('bool'), EXACT, 'cast to bool', true);
      await check(x.tanh(), TRANSCENDENTAL, 'tanh', true);
      // (Not -inf as a base: wg_pow gives NaN for (-inf) ** -1.5 in the scalar kernel too; the reference gives 0.)
      await check(x.abs().pow(randomF([n], -2, 2)), TRANSCENDENTAL, 'pow', true);
      await check(x.reciprocal(), TRANSCENDENTAL, 'reciprocal', true);
    }
  });

  gpuIt('unary int32 ops, casts between every pair of dtypes, clamp and where', async () => {
    for (const f of [(t: Tensor) => t.neg(), (t: Tensor) => t.abs(), (t: Tensor) => t.square(), (t: Tensor) => t.sign(), (t: Tensor) => t.relu(), (t: Tensor) => t.round()]) {
      await check(f(randomI([3, 8])), EXACT, 'unary int32', true);
    }
    await check(randomI([16], 0, 20).sqrt(), TRANSCENDENTAL, 'int32 sqrt', true);
    const f = wg.tensor(Float32Array.from([-2.7, -0.5, 0, 0.5, 2.5, 1e10, -1e10, 2147483648]), [8]);
    // A cast to the same dtype is the operand itself: no dispatch.
    for (const t of [f, randomI([8]), randomB([8])]) for (const d of ['float32', 'int32', 'bool'] as const) await check(t.cast(d), EXACT, `${t.dtype} -> ${d}`, t.dtype === d ? undefined : true);
    await check(randomF([4, 9]).clamp(-1, 1), EXACT, 'clamp', true);
    await check(randomI([4, 9]).clamp(-3, 4), EXACT, 'int clamp', true);
    await check(wg.where(randomB([24]), randomF([24]), randomF([24])), EXACT, 'where', true);
    await check(wg.where(randomB([6, 4]), randomI([6, 4]), 7), EXACT, 'where with a number', true);
    await check(wg.where(randomF([2, 8]).gt(0), 1, 0), EXACT, 'where of a comparison', true);
  });

  gpuIt('bool ops (not, and, or, eq, where) through IR graphs: stored as vec4<u32>', async () => {
    for (const n of [4, 8, 4100]) {
      const rand = seeded(n);
      const bits = () => Uint8Array.from({ length: n }, () => (rand() < 0.5 ? 1 : 0));
      const input = (dtype: DType, shape: Shape): Node => makeNode('input', [], {}, { dtype, shape });
      const a = input('bool', [n]);
      const b = input('bool', [n]);
      const x = input('float32', [n]);
      const outputs = [
        makeNode('not', [a]),
        makeNode('and', [a, b]),
        makeNode('or', [makeNode('not', [a]), b]),
        makeNode('eq', [a, b]),
        makeNode('where', [makeNode('and', [a, b]), x, makeNode('neg', [x])]),
        makeNode('or', [a, makeNode('gt', [x, makeNode('const', [], { value: 0 }, { dtype: 'float32', shape: [n] })])]),
      ];
      const graph = makeGraph(outputs);
      const xs = Float32Array.from({ length: n }, () => rand() * 2 - 1);
      await checkGraph(graph, [bits(), bits(), xs], `bool ops [${n}]`, true);
      expect(lowerGraph(graph).dispatches.some((d) => d.wgsl.includes('array<vec4<u32>>'))).toBe(true);
    }
  });

  gpuIt('generated leaves use each lane’s own index: arange, rand, randn, eye, full, broadcast iota', async () => {
    await check(wg.arange(4096), EXACT, 'arange alone', true);
    await check(wg.arange(8).add(1), EXACT, 'arange + 1', true);
    await check(wg.arange(-3, 9, 1.5), ARITH, 'float arange', true);
    await check(wg.rand([1000], 42), EXACT, 'rand', true);
    await check(wg.rand([3, 332], 7).mul(2), EXACT, 'rand * 2', true);
    await check(wg.randn([2048], 3), { rel: 1e-4, abs: 5.8 * 2 ** -11 }, 'randn', true);
    await check(wg.eye(4), EXACT, 'eye', true);
    await check(wg.eye(3, 8), EXACT, 'eye 3x8', true);
    await check(wg.full([2, 6], 3, 'int32'), EXACT, 'full', true);
    await check(wg.full([5, 4], 3, 'int32').mul(randomI([5, 4])), EXACT, 'full * x', true);
    // Leaves broadcast into a larger space: the lane's coordinates, not its flat index, index the leaf. Only
    // when fused: unfused, the leaf is a dispatch of its own and the add reads it broadcast (scalar kernel).
    const broadcast = { fused: true };
    await check(randomF([3, 8]).add(wg.arange(8)), EXACT, 'row of arange', broadcast);
    await check(randomF([8, 8]).add(wg.eye(8)), EXACT, 'x + eye', broadcast);
    await check(randomF([6, 4]).mul(wg.rand([4], 9)), EXACT, 'broadcast rand', broadcast);
    await check(randomF([3, 5]).add(wg.arange(5)), EXACT, 'row of arange, [3, 5]: scalar', false);
  });

  gpuIt('scalar-kernel shapes and views still match', async () => {
    for (const n of SCALAR_SIZES) {
      await check(randomF([n]).mul(randomF([n])).add(1).exp(), TRANSCENDENTAL, `[${n}]`, false);
      await check(randomI([n]).add(randomI([n])), EXACT, `int32 [${n}]`, false);
    }
    const x = randomF([6, 8]);
    await check(x.T.add(x.slice([0, 0], [6, 6]).T.sum(0, true).expand([8, 6])), ARITH, 'transposed and broadcast views', undefined);
    await check(wg.concat([randomF([4, 4]), randomF([4, 4])], 0), EXACT, 'concat', undefined);
    await check(randomF([4, 8]).T.reshape([32]), EXACT, 'a copy', undefined);
  });
});
