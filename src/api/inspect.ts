// Looking inside: the plan wgfuse would run for some tensors, and what the backend has done so far.
import { ArgumentError } from '../ir/errors.js';
import { compileGraph } from '../lowering/compile.js';
import type { Plan } from '../lowering/plan.js';
import { emptyTelemetry, type Telemetry } from '../runtime/telemetry.js';
import { WebGpuBackend } from '../runtime/webgpu/backend.js';
import { currentBackend } from './context.js';
import { extractProgram } from './program.js';
import { describeArg, Tensor } from './tensor.js';

/**
 * The plan of WGSL dispatches that computes these tensors: `plan.dispatches` (kernel, wgsl, workgroups,
 * bindings, the IR each computes), the buffer slots and where each output lives. Nothing runs. With a
 * WebGPU backend active it is that backend's plan, built for its device features (subgroups in the
 * reductions where granted); without one, the plan uses no optional feature.
 */
export function compile(...tensors: Tensor[]): Plan {
  tensors.forEach((t, i) => {
    if (!(t instanceof Tensor)) throw new ArgumentError(`compile: argument ${i} is not a Tensor (${describeArg(t)})`);
    t.use('compile', tensors.length === 1 ? 'tensor' : `tensor ${i}`);
  });
  const { graph, args } = extractProgram(
    tensors.map((t) => t.node),
    'compile',
  );
  const backend = currentBackend();
  if (backend instanceof WebGpuBackend) return backend.plan(graph, args);
  return compileGraph(graph, { inputLayouts: args.map((a) => a.layout) }).plan;
}

/** Counters since the last reset: evaluations, dispatches, bytes moved, caches, pool, GPU times. */
export function telemetry(): Telemetry {
  return currentBackend()?.telemetry() ?? emptyTelemetry();
}

export function resetTelemetry(): void {
  currentBackend()?.resetTelemetry();
}
