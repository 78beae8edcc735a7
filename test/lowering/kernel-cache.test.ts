// The lowering's kernel cache (src/lowering/kernel-cache.ts): equal specs share one generated kernel, and a
// plan lowered with the cache is the plan lowered without it, dispatch for dispatch and byte for byte. The
// second property is checked on every golden input, on a program of repeated blocks and on programs from
// the fuzzer's generator: a field missing from the key would hand some dispatch another spec's WGSL.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as wg from '../../src/index.js';
import type { Tensor } from '../../src/index.js';
import { extractProgram } from '../../src/api/program.js';
import type { Graph } from '../../src/ir/graph.js';
import { parseGraph } from '../../src/ir/parser.js';
import { KernelCache, kernelAttrs } from '../../src/lowering/kernel-cache.js';
import { lowerGraph, type InputLayout } from '../../src/lowering/lower.js';
import type { Plan } from '../../src/lowering/plan.js';
import { runPasses } from '../../src/passes/manager.js';
import { DEFAULT_PIPELINE } from '../../src/passes/pipeline.js';
import { build, programArb } from '../fuzz/generator.js';

const GOLDEN_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'golden');

describe('kernel keys', () => {
  /** How many kernels a cache generates for these specs. */
  const generatedFor = (specs: unknown[]) => {
    const cache = new KernelCache();
    let calls = 0;
    for (const spec of specs) cache.get('op', spec, () => ++calls);
    return calls;
  };
  it('tell apart attribute values that JSON alone would merge (-0 and 0, NaN and the infinities)', () => {
    const values = [0, -0, NaN, Infinity, -Infinity, 1, [0, 1], [-0, 1], [NaN], [Infinity], 'NaN', '-0'];
    const specs = values.map((value) => ({ steps: [{ kind: 'op', op: 'const', attrs: kernelAttrs({ value } as never) }] }));
    expect(generatedFor(specs)).toBe(values.length);
    // And equal values share.
    expect(generatedFor([...specs, ...values.map((value) => ({ steps: [{ kind: 'op', op: 'const', attrs: kernelAttrs({ value } as never) }] }))])).toBe(values.length);
  });
  it('ignore the fusion group of an attribute set, and nothing else', () => {
    const a = kernelAttrs({ axes: [1], keepdims: true, group: 3 } as never);
    const b = kernelAttrs({ axes: [1], keepdims: true, group: 7 } as never);
    const c = kernelAttrs({ axes: [0], keepdims: true, group: 3 } as never);
    expect(generatedFor([{ attrs: a }, { attrs: b }])).toBe(1);
    expect(generatedFor([{ attrs: a }, { attrs: c }])).toBe(2);
    expect(Object.keys(a)).toEqual(['axes', 'keepdims']);
    expect(a.axes).toEqual([1]);
  });
  it('tell apart specs that differ in any nested field', () => {
    const base = () => ({ space: [2, 3], expr: { steps: [{ kind: 'load', buffer: 'in0', access: { offset: 0, strides: [3, 1] } }] }, vec4: [true, false] });
    const variants = [base(), { ...base(), space: [3, 2] }, { ...base(), vec4: [false, false] }, { ...base(), expr: { steps: [{ kind: 'load', buffer: 'in1', access: { offset: 0, strides: [3, 1] } }] } }, { ...base(), expr: { steps: [{ kind: 'load', buffer: 'in0', access: { offset: 1, strides: [3, 1] } }] } }];
    expect(generatedFor(variants)).toBe(variants.length);
    expect(generatedFor([base(), base()])).toBe(1);
  });
});

describe('KernelCache', () => {
  it('generates once per distinct spec and kind', () => {
    const cache = new KernelCache();
    let calls = 0;
    const generate = (spec: { n: number }) => ({ n: spec.n, call: ++calls });
    const a = cache.get('row', { n: 1 }, generate);
    const b = cache.get('row', { n: 1 }, generate);
    const c = cache.get('row', { n: 2 }, generate);
    const d = cache.get('reduce', { n: 1 }, generate);
    expect(b).toBe(a);
    expect(c).not.toBe(a);
    expect(d).not.toBe(a);
    expect(calls).toBe(3);
    expect(cache.hits).toBe(1);
  });
  it('generates every time when disabled', () => {
    const cache = new KernelCache(false);
    let calls = 0;
    cache.get('row', { n: 1 }, () => ++calls);
    cache.get('row', { n: 1 }, () => ++calls);
    expect(calls).toBe(2);
  });
});

/** Everything a dispatch carries that the backend or dump-ir reads. */
function describePlan(plan: Plan): unknown {
  return {
    slots: plan.slots,
    inputSlots: plan.inputSlots,
    outputs: plan.outputs,
    dispatches: plan.dispatches.map((d) => ({
      kernel: d.kernel,
      wgsl: d.wgsl,
      entryPoint: d.entryPoint,
      bindings: d.bindings,
      workgroups: [...d.workgroups],
      ir: d.ir,
      bytesRead: d.bytesRead,
      bytesWritten: d.bytesWritten,
      inPlace: d.inPlace && { ...d.inPlace, wgsl: d.inPlace.wgsl },
    })),
  };
}

function expectSamePlans(graph: Graph, inputLayouts?: readonly (InputLayout | null)[]): Plan {
  const optimized = runPasses(graph, DEFAULT_PIPELINE, { verify: false }).graph;
  const reused = lowerGraph(optimized, { inputLayouts });
  const fresh = lowerGraph(optimized, { inputLayouts, reuseKernels: false });
  expect(describePlan(reused)).toEqual(describePlan(fresh));
  return reused;
}

describe('a plan lowered with kernel reuse equals the plan lowered without', () => {
  it('for every golden input', () => {
    let cases = 0;
    for (const folder of readdirSync(GOLDEN_DIR, { withFileTypes: true }).filter((d) => d.isDirectory())) {
      for (const file of readdirSync(join(GOLDEN_DIR, folder.name)).filter((f) => f.endsWith('.in.ir'))) {
        expectSamePlans(parseGraph(readFileSync(join(GOLDEN_DIR, folder.name, file), 'utf8')));
        cases++;
      }
    }
    expect(cases).toBeGreaterThan(50);
  });

  it('for a program of repeated blocks, where the blocks share their kernels', () => {
    let seed = 1;
    const data = (shape: number[]): Tensor => {
      const n = shape.reduce((a, b) => a * b, 1);
      const s = seed++;
      return wg.tensor(Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + s * 78.233)), shape);
    };
    let x = data([16, 32]);
    const sides: Tensor[] = [];
    for (let b = 0; b < 4; b++) {
      const a = wg.layerNorm(x, data([32]), data([32])).matmul(data([48, 32]).T).add(data([48])).gelu();
      const y = x.add(a.softmax(-1).matmul(data([48, 32])).mul(0.5)).mul(x.variance(-1, true).add(1).rsqrt()).tanh();
      sides.push(y.T.matmul(y).div(16).sum(0).max().add(a.mean(0).min()));
      x = y;
    }
    const { graph, args } = extractProgram([x, sides.reduce((p, q) => p.add(q))].map((t) => t.node));
    const plan = expectSamePlans(graph, args.map((a) => a.layout));
    // A shared kernel is one generated object: its workgroup triple is one array.
    const generated = new Set(plan.dispatches.map((d) => d.workgroups));
    const distinctWgsl = new Set(plan.dispatches.map((d) => d.wgsl));
    expect(generated.size).toBe(distinctWgsl.size);
    expect(plan.dispatches.length).toBeGreaterThanOrEqual(3 * generated.size);
  });

  it('for programs of the differential fuzzer', () => {
    let compared = 0;
    for (const p of fc.sample(programArb, { numRuns: 120, seed: 20261124 })) {
      let outputs: Tensor[];
      try {
        outputs = build(p).outputs;
      } catch {
        continue; // a recipe the generator skips as a whole (too large)
      }
      if (outputs.length === 0) continue;
      const { graph, args } = extractProgram(outputs.map((t) => t.node));
      expectSamePlans(graph, args.map((a) => a.layout));
      compared++;
    }
    expect(compared).toBeGreaterThan(80);
  });
});
