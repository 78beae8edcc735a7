// Runs one generated program three ways and compares: the CPU reference on the program as built (no passes),
// WebGPU unfused (a WebGpuBackend with fusion: false, on the same device: what `wg.init({ fusion: false })`
// makes), and WebGPU with every pass (the public API: `wg.evaluate`, then `data()`). A mismatch throws a
// Mismatch whose message holds the program in the IR text format, ready to become a golden test.
import fc from 'fast-check';
import * as wg from '../../src/index.js';
import type { Tensor, TypedArray } from '../../src/index.js';
import { currentBackend } from '../../src/api/context.js';
import { extractProgram } from '../../src/api/program.js';
import { printGraph } from '../../src/ir/printer.js';
import { SHORT_NAME } from '../../src/ir/dtype.js';
import { compileGraph } from '../../src/lowering/compile.js';
import { CpuBackend } from '../../src/runtime/cpu-backend.js';
import { WebGpuBackend } from '../../src/runtime/webgpu/backend.js';
import { Storage } from '../../src/runtime/storage.js';
import { MAX_RELATIVE_BOUND, measure, SAFETY, U, type Measured } from './error-model.js';
import { build, type Program } from './generator.js';

export class Mismatch extends Error {
  override name = 'Mismatch';
}

export interface Gpu {
  /** The backend the public API uses (default pipeline). */
  readonly fused: WebGpuBackend;
  /** fusion: false, sharing the fused backend's device (so argument buffers serve both). */
  readonly unfused: WebGpuBackend;
}

/** (Re)initialises WebGPU: a fresh device, so plan and pipeline caches do not grow over a long hunt. */
export async function initGpu(previous?: Gpu): Promise<Gpu> {
  previous?.unfused.pool.trim(0);
  await wg.init({ backend: 'webgpu', quiet: true });
  const fused = currentBackend();
  if (!(fused instanceof WebGpuBackend)) throw new Error('fuzz: wg.init did not give a WebGPU backend');
  return { fused, unfused: new WebGpuBackend(fused.context, { fusion: false }) };
}

export interface Outcome {
  /** Outputs compared (int32/bool exactly, float32 within their bound). */
  readonly compared: number;
  /** Outputs about which the error model can say nothing (unknown, or a bound above 2% of the magnitude). */
  readonly skipped: number;
  readonly exactFloat: number;
  readonly dtypes: string[];
  readonly ops: string[];
  readonly fusedDispatches: number;
  readonly unfusedDispatches: number;
  readonly fusedKernels: string[];
  /** Arguments that are strided views of earlier results. */
  readonly viewInputs: number;
}

interface Check {
  readonly index: number;
  readonly tensor: Tensor;
  readonly want: TypedArray;
  readonly abs: number;
  readonly rel: number;
}

/** The first element outside the tolerance, as a sentence; null when all agree (NaN must meet NaN). */
function firstDifference(got: TypedArray, want: TypedArray, abs: number, rel: number): string | null {
  if (got.constructor !== want.constructor) return `got a ${got.constructor.name}, want a ${want.constructor.name}`;
  if (got.length !== want.length) return `got ${got.length} elements, want ${want.length}`;
  for (let i = 0; i < want.length; i++) {
    const g = got[i];
    const w = want[i];
    if (Number.isNaN(w) ? Number.isNaN(g) : g === w) continue;
    const allowed = abs + rel * Math.abs(w);
    if (!(Math.abs(g - w) <= allowed)) return `element ${i}: got ${g}, want ${w} (error ${Math.abs(g - w)}, allowed ${allowed})`;
  }
  return null;
}

async function readAll(backend: WebGpuBackend, graphRun: Promise<Storage[]>): Promise<TypedArray[]> {
  const outs = await graphRun;
  try {
    return await Promise.all(outs.map((o) => backend.read(o)));
  } finally {
    outs.forEach((o) => o.release());
  }
}

/** The values through one of the public read paths: data(), array() (nested JS values) or item(). */
async function readBack(t: Tensor, k: number): Promise<TypedArray> {
  const how = k % 4;
  if (how === 0 && t.size === 1) {
    const v = await t.item();
    return typedLike(t, [Number(v)]);
  }
  if (how === 1) {
    const nested = await t.array();
    const flat = Array.isArray(nested) ? (nested as unknown[]).flat(Infinity) : [nested];
    return typedLike(t, flat.map(Number));
  }
  return t.data();
}

function typedLike(t: Tensor, values: number[]): TypedArray {
  return t.dtype === 'float32' ? Float32Array.from(values) : t.dtype === 'int32' ? Int32Array.from(values) : Uint8Array.from(values);
}

/** Compared within this tolerance, or null when the error model can say nothing about the value. */
function toleranceOf(t: Tensor, m: Measured): { abs: number; rel: number } | null {
  const E = m.E(t);
  if (t.dtype !== 'float32') return E === 0 ? { abs: 0, rel: 0 } : null;
  if (E === 0) return { abs: 0, rel: 0 };
  // Exact infinities (from the data) are compared as they are; the bound must be small against the rest.
  let magnitude = 0;
  for (const v of m.values(t)) if (Number.isFinite(v)) magnitude = Math.max(magnitude, Math.abs(v));
  if (!(SAFETY * E <= MAX_RELATIVE_BOUND * Math.max(magnitude, 1e-3))) return null;
  return { abs: SAFETY * E, rel: 4 * U };
}

/**
 * Checks a program, and for a quarter of them the same program again on fresh data: the same structure must
 * hit the fused backend's plan cache and still agree.
 */
export async function checkProgram(p: Program, gpu: Gpu): Promise<Outcome> {
  const first = await runOnce(p, gpu);
  // Nothing can be said about any output: fast-check draws another program.
  fc.pre(first !== null);
  if (p.dataSeed % 4 === 0) {
    const misses = gpu.fused.telemetry().planCacheMisses;
    await runOnce({ ...p, dataSeed: p.dataSeed + 1 }, gpu, misses);
  }
  return first;
}

async function runOnce(p: Program, gpu: Gpu, missesBefore?: number): Promise<Outcome | null> {
  const { outputs, recorder, realize, ops } = build(p);
  try {
    // The error model: the CPU reference of every recorded tensor, then each one's bound.
    const m = measure(recorder.records);
    const checks: Check[] = [];
    outputs.forEach((o, index) => {
      const tol = toleranceOf(o, m);
      if (tol) checks.push({ index, tensor: o, want: m.values(o), ...tol });
    });
    if (checks.length === 0) return null;
    const problems: string[] = [];
    const describe = (t: Tensor, tol: { abs: number; rel: number }) =>
      `${SHORT_NAME[t.dtype]}[${t.shape.join(',')}], ${tol.abs === 0 ? 'exact' : `bound ${tol.abs.toExponential(2)} + ${tol.rel.toExponential(1)}|want|`}`;

    // 0. Values evaluated first: the program then reads them as inputs (views where they are views).
    const early = realize.filter((t) => !t.realized);
    if (early.length > 0) {
      await wg.evaluate(...early);
      for (const t of early) {
        const tol = toleranceOf(t, m);
        const d = tol && firstDifference(await t.data(), m.values(t), tol.abs, tol.rel);
        if (d) problems.push(`WebGPU fused, a value evaluated before the outputs (${describe(t, tol)}) vs CPU reference: ${d}`);
      }
    }

    const { graph, args } = extractProgram(outputs.map((o) => o.node));
    const ir = printGraph(graph);
    const layouts = args.map((a) => a.layout);
    const onDevice = args.some((a) => !a.host);

    // An error while running (a kernel that does not compile, a device error) is reported with the program.
    const withProgram = async <T>(way: string, run: () => Promise<T> | T): Promise<T> => {
      try {
        return await run();
      } catch (err) {
        const e = err as Error;
        throw new Mismatch([`${way} failed: ${e.name}: ${e.message}`, '', 'program (IR text format; the .in.ir of a golden test):', ir.trimEnd(), `steps: ${ops.join(', ')}`].join('\n'));
      }
    };
    // 1. The CPU reference of the program as built (it verifies the graph first); values evaluated early
    //    enter with what WebGPU computed for them.
    const hostArgs = await Promise.all(args.map(async (a) => (a.host ? a : Storage.fromHost(a.dtype, a.shape, await gpu.fused.read(a)))));
    const cpu = await withProgram('CPU reference', async () => (await new CpuBackend().run(graph, hostArgs)).map((s) => s.host!));
    // 2. WebGPU, one dispatch per op.
    const unfusedPlan = await withProgram('unfused plan', () => gpu.unfused.plan(graph, args));
    const unfused = await withProgram('WebGPU unfused', () => readAll(gpu.unfused, gpu.unfused.run(graph, args)));
    // 3. WebGPU with every pass, through the public API; every pass's output must verify.
    const optimized = await withProgram('the default pipeline (verified after every pass)', () => compileGraph(graph, { verify: true, inputLayouts: layouts, features: gpu.fused.features }));
    const plan = await withProgram('wg.compile', () => wg.compile(...outputs));
    const fused = await withProgram('WebGPU fused', async () => {
      await wg.evaluate(...outputs);
      return Promise.all(outputs.map((o, i) => readBack(o, p.dataSeed + i)));
    });

    for (const c of checks) {
      const what = `output ${c.index} (${describe(c.tensor, c)})`;
      // Without early values the CPU reference of the program is exactly what the error model measured.
      const self = onDevice ? firstDifference(cpu[c.index], c.want, c.abs, c.rel) : firstDifference(cpu[c.index], c.want, 0, 0);
      if (self) problems.push(`CPU reference of the program vs of the recorded values, ${what}: ${self}`);
      for (const [way, values] of [
        ['WebGPU unfused', unfused],
        ['WebGPU fused', fused],
      ] as const) {
        const d = firstDifference(values[c.index], c.want, c.abs, c.rel);
        if (d) problems.push(`${way} vs CPU reference, ${what}: ${d}`);
      }
    }
    const memory = plan.memory;
    if (memory && !(memory.lowerBound <= memory.peakBytes && memory.peakBytes <= memory.bytesWithoutReuse)) {
      problems.push(`memory plan: peak ${memory.peakBytes} bytes outside [lower bound ${memory.lowerBound}, without reuse ${memory.bytesWithoutReuse}]`);
    }
    // Fills of generated leaves and materialising copies are left out; two known nits of canonicalize (not
    // bugs, see docs/reliability.md) make more of them than the unfused plan: expand(const) folded into a
    // second const when both are outputs, and reshape(reshape(strided x)) folded per user, one copy each.
    const work = (ds: readonly { kernel: string }[]) => ds.filter((d) => !/^(elementwise\.(const|iota|rand)|copy)\./.test(d.kernel)).length;
    if (work(plan.dispatches) > work(unfusedPlan.dispatches)) {
      problems.push(`fusion needs more dispatches (${plan.dispatches.length}) than the unfused plan (${unfusedPlan.dispatches.length})`);
    }
    if (missesBefore !== undefined && gpu.fused.telemetry().planCacheMisses !== missesBefore) {
      problems.push('the same program on fresh data missed the plan cache (its structural hash changed)');
    }
    if (problems.length > 0) {
      throw new Mismatch(
        [
          ...problems,
          ...(missesBefore !== undefined ? ['(on the second run of this program, with fresh data)'] : []),
          '',
          `program (IR text format; the .in.ir of a golden test)${onDevice ? ', inputs evaluated early are views/results of earlier evaluations' : ''}:`,
          ir.trimEnd(),
          '',
          'after the default pipeline:',
          printGraph(optimized.graph).trimEnd(),
          `kernels: ${plan.dispatches.map((d) => d.kernel).join(', ')}`,
          `steps: ${ops.join(', ')}`,
        ].join('\n'),
      );
    }
    return {
      compared: checks.length,
      skipped: outputs.length - checks.length,
      exactFloat: checks.filter((c) => c.tensor.dtype === 'float32' && c.abs === 0).length,
      dtypes: checks.map((c) => c.tensor.dtype),
      ops,
      fusedDispatches: plan.dispatches.length,
      unfusedDispatches: unfusedPlan.dispatches.length,
      fusedKernels: plan.dispatches.map((d) => d.kernel).filter((k) => k.startsWith('fused.')),
      viewInputs: args.filter((a) => a.layout !== null).length,
    };
  } finally {
    for (const t of recorder.tensors) t.dispose();
  }
}
