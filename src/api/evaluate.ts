// Evaluation: the graph reachable from the requested tensors becomes one program, run once by the backend;
// shared work is computed once and every requested tensor adopts its result.
import { ArgumentError } from '../ir/errors.js';
import { describe } from '../ir/shape.js';
import { activeBackend } from './context.js';
import { extractProgram, storageOf } from './program.js';
import type { Tensor } from './tensor.js';

export async function evaluate(...tensors: Tensor[]): Promise<Tensor[]> {
  for (const [i, t] of tensors.entries()) {
    if (typeof t !== 'object' || t === null || typeof (t as Tensor).adopt !== 'function') {
      throw new ArgumentError(`evaluate: argument ${i} is not a Tensor (${describe(t)})`);
    }
    void t.node; // throws if disposed
  }
  const todo: Tensor[] = [];
  for (const t of new Set(tensors)) {
    if (t.realized) continue;
    // Another tensor already computed this very node (e.g. a cast to the same dtype): share its storage.
    const known = storageOf(t.node);
    if (known) t.adopt(known.retain());
    else todo.push(t);
  }
  if (todo.length === 0) return tensors;
  const backend = await activeBackend();
  const { graph, args } = extractProgram(todo.map((t) => t.node));
  const results = await backend.run(graph, args);
  todo.forEach((t, i) => {
    // Another evaluation may have finished this tensor while we ran; keep its result, drop ours.
    if (t.realized || t.disposed) results[i].release();
    else t.adopt(results[i]);
  });
  return tensors;
}
