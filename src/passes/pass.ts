// A pass is a pure function from graph to graph. It never mutates nodes (they are frozen); it builds new
// ones where something changes and reuses the rest, and it says what it did in `fired`, one line per
// decision, in IR terms, so dumps show why the plan looks the way it does.
import type { Graph } from '../ir/graph.js';

export interface PassResult {
  readonly graph: Graph;
  /** What the pass did (and, for fusion, what it refused and why), e.g. `fold %3 into %5 as transB`. */
  readonly fired: readonly string[];
}

export interface Pass {
  readonly name: string;
  readonly description: string;
  run(graph: Graph): PassResult;
}
