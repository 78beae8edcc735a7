// The pass manager: runs passes in order, verifies every result, checks that the graph's inputs are
// untouched, records what each pass did, and can print the IR after any pass.
import { orderOf, type Graph } from '../ir/graph.js';
import { printGraph } from '../ir/printer.js';
import { verifyGraph } from '../ir/verify.js';
import { WgfuseError } from '../ir/errors.js';
import type { Pass } from './pass.js';

export interface PassLog {
  readonly pass: string;
  readonly nodesBefore: number;
  readonly nodesAfter: number;
  readonly changed: boolean;
  readonly fired: readonly string[];
  readonly ms: number;
}

export interface PipelineOptions {
  /** Pass names after which to print the IR, or 'all'. */
  readonly printAfter?: readonly string[] | 'all';
  /** Where printed IR goes (default: nowhere); gets the pass name and the IR text. */
  readonly onPrint?: (pass: string, ir: string) => void;
  /**
   * Verify every pass's result (default true). Tests, golden cases and dump-ir verify; the evaluation
   * path turns it off, since re-inferring every node after every pass costs more than the passes.
   */
  readonly verify?: boolean;
}

export interface PipelineResult {
  readonly graph: Graph;
  readonly log: readonly PassLog[];
}

export function runPasses(graph: Graph, passes: readonly Pass[], options: PipelineOptions = {}): PipelineResult {
  const log: PassLog[] = [];
  let current = graph;
  let count = orderOf(current).length;
  for (const pass of passes) {
    const t0 = performance.now();
    const before = count;
    const { graph: next, fired } = pass.run(current);
    const changed = next !== current;
    if (changed) {
      if (next.inputs.length !== graph.inputs.length || next.inputs.some((n, i) => n !== graph.inputs[i])) {
        throw new WgfuseError(`internal: pass ${pass.name} changed the graph's inputs`);
      }
      if (options.verify !== false) verifyGraph(next);
      count = orderOf(next).length;
    }
    log.push({ pass: pass.name, nodesBefore: before, nodesAfter: count, changed, fired, ms: performance.now() - t0 });
    current = next;
    const wanted = options.printAfter === 'all' || options.printAfter?.includes(pass.name);
    if (wanted) options.onPrint?.(pass.name, printGraph(current));
  }
  return { graph: current, log };
}
