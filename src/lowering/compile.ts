// The compiler: graph passes, lowering to a plan, then buffer assignment. Backends and `wg.compile` call
// this one function, so what dump-ir prints is what runs.
import { orderOf, type Graph } from '../ir/graph.js';
import { assignBuffers } from '../passes/assign-buffers.js';
import { runPasses, type PassLog } from '../passes/manager.js';
import type { Pass } from '../passes/pass.js';
import { DEFAULT_PIPELINE } from '../passes/pipeline.js';
import { rewrite, withGroup } from '../passes/rewrite.js';
import { lowerGraph, type InputLayout, type LowerOptions } from './lower.js';
import type { Plan } from './plan.js';

export interface CompileOptions {
  /** Run the graph passes (simplification and fusion); false lowers every node to its own dispatch. */
  readonly fusion?: boolean;
  /** The passes to run instead of the default pipeline. */
  readonly passes?: readonly Pass[];
  readonly inputLayouts?: readonly (InputLayout | null)[];
  /** Device features the kernels may use (see LowerOptions); none when absent. */
  readonly features?: LowerOptions['features'];
  /**
   * Verify the graph after every pass (see PipelineOptions.verify); off by default here, since re-inferring
   * every node after every pass costs more than the passes. Tests, golden cases, dump-ir and
   * `wg.init({ verify: true })` turn it on.
   */
  readonly verify?: boolean;
}

export interface Compiled {
  /** The graph after the passes (what was lowered). */
  readonly graph: Graph;
  readonly plan: Plan;
  readonly log: readonly PassLog[];
}

export function compileGraph(graph: Graph, options: CompileOptions = {}): Compiled {
  const passes = options.fusion === false ? [] : (options.passes ?? DEFAULT_PIPELINE);
  // Fusion is decided afresh on the simplified graph: groups from an earlier run would not survive the
  // rewrites before the fusion passes (a CSE merge across two groups breaks their convexity).
  const { graph: optimized, log } = runPasses(passes.length > 0 ? ungrouped(graph) : graph, passes, { verify: options.verify === true });
  const plan = assignBuffers(lowerGraph(optimized, { inputLayouts: options.inputLayouts, features: options.features }));
  return { graph: optimized, plan, log };
}

/** The graph without `group` attributes (the same graph when it has none). */
export function ungrouped(graph: Graph): Graph {
  // Graphs from the API carry no groups: a scan is much cheaper than rebuilding the map of a rewrite.
  if (!orderOf(graph).some((n) => n.attrs.group !== undefined)) return graph;
  return rewrite(graph, (node, inputs) => {
    if (node.attrs.group === undefined && inputs.every((x, i) => x === node.inputs[i])) return node;
    return withGroup(node, inputs, undefined);
  });
}
