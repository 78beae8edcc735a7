// Evaluation: the graph reachable from the requested tensors becomes one program, run once by the backend;
// shared work is computed once and every requested tensor adopts its result.
import { ArgumentError } from '../ir/errors.js';
import { activeBackend } from './context.js';
import { extractProgram, storageOf } from './program.js';
import { describeArg, Tensor } from './tensor.js';

export async function evaluate(...tensors: Tensor[]): Promise<Tensor[]> {
  return evaluateFor('evaluate', tensors);
}

/** `evaluate`, with `what` (the call the user made: evaluate, data, array, item) named in errors. */
export async function evaluateFor(what: string, tensors: readonly Tensor[]): Promise<Tensor[]> {
  for (const [i, t] of tensors.entries()) {
    if (!(t instanceof Tensor)) throw new ArgumentError(`${what}: argument ${i} is not a Tensor (${describeArg(t)})`);
    t.use(what, tensors.length === 1 ? 'tensor' : `tensor ${i}`);
  }
  const todo: Tensor[] = [];
  for (const t of new Set(tensors)) {
    if (t.realized) continue;
    // Another tensor already computed this very node (e.g. a cast to the same dtype): share its storage.
    const known = storageOf(t.node);
    if (known) t.adopt(known.retain());
    else todo.push(t);
  }
  if (todo.length === 0) return [...tensors];
  // The program and its inputs are fixed here, at the call: disposing an input while this evaluation waits
  // (for the backend, for its kernels) does not change what it computes.
  const { graph, args } = extractProgram(
    todo.map((t) => t.node),
    what,
  );
  const held = args.map((a) => a.retain());
  let results;
  try {
    const backend = await activeBackend();
    results = await backend.run(graph, args);
  } finally {
    held.forEach((a) => a.release());
  }
  todo.forEach((t, i) => {
    // Another evaluation may have finished this tensor while we ran; keep its result, drop ours.
    if (t.realized || t.disposed) results[i].release();
    else {
      // Two tensors of one node (e.g. a cast to the dtype it has) share the result the first one adopted.
      const known = storageOf(t.node);
      if (known) {
        results[i].release();
        t.adopt(known.retain());
      } else t.adopt(results[i]);
    }
  });
  return [...tensors];
}
