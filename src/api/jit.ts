// wg.jit: a function of tensors traced once per argument signature, then replayed. A lazy evaluation
// rebuilds the expression, walks it into a program and keys the plan cache on every call; for a function
// called again and again on same-shaped tensors (a model's forward pass, a step of a simulation) that host
// work costs as much as a small workload's kernels. A jitted function does it once: the trace keeps the
// data-free program, and a later call binds the new arguments to it and runs the backend's cached plan.
//
// Semantics (docs/runtime.md, "Calling a computation again"): the function runs only when a signature is first seen, so it must build
// its result from its arguments with wgfuse calls alone (side effects happen once, as in jax.jit). Tensors it
// reads without taking them as arguments are captured: the trace keeps their values alive. Numbers and
// booleans among the arguments are static: each distinct value traces anew.
import { ArgumentError, WgfuseError } from '../ir/errors.js';
import type { Graph } from '../ir/graph.js';
import { makeNode } from '../ir/node.js';
import { stridesOf } from '../ir/shape.js';
import { Storage } from '../runtime/storage.js';
import { activeBackend } from './context.js';
import { evaluateFor } from './evaluate.js';
import { extractProgram, storageOf } from './program.js';
import { describeArg, Tensor } from './tensor.js';

export type JitArg = Tensor | number | boolean;
export type JitResult = Tensor | Tensor[];

export interface Jitted<A extends JitArg[], R extends JitResult> {
  /** Runs the function's program on these arguments: resolves once its work is submitted, like wg.evaluate. */
  (...args: A): Promise<R>;
  /** Signatures traced so far (kept: at most `maxTraces`). */
  readonly traces: number;
  /** Drops every trace and the captured values they keep alive. */
  clear(): void;
}

export interface JitOptions {
  /** Traces kept per function; the least recently used goes first (default 64). */
  readonly maxTraces?: number;
}

/** Where one result of the function comes from on a replay. */
type Source =
  | { readonly kind: 'program'; readonly index: number }
  | { readonly kind: 'argument'; readonly index: number }
  | { readonly kind: 'captured'; readonly storage: Storage };

interface Trace {
  /** The data-free program of the function's lazy results (null when every result is an argument or captured). */
  readonly graph: Graph | null;
  /** Per program input: the argument it binds, or -1 for a captured value (then `captured[k]`). */
  readonly argumentOf: readonly number[];
  readonly captured: readonly (Storage | null)[];
  readonly results: readonly Source[];
  /** Whether the function returned an array (else one tensor). */
  readonly many: boolean;
}

export function jit<A extends JitArg[], R extends JitResult>(fn: (...args: A) => R, options: JitOptions = {}): Jitted<A, R> {
  if (typeof fn !== 'function') throw new ArgumentError(`jit: expected a function of tensors, got ${describeArg(fn)}`);
  const maxTraces = options.maxTraces ?? 64;
  if (!Number.isInteger(maxTraces) || maxTraces < 1) throw new ArgumentError(`jit: maxTraces must be a positive integer, got ${describeArg(maxTraces)}`);
  const traces = new Map<string, Trace>();

  const drop = (t: Trace) => t.captured.forEach((s) => s?.release());

  const call = async (...args: A): Promise<R> => {
    const tensors = checkArguments(args);
    // Arguments still lazy are computed first (one evaluation): the program binds storages.
    const lazy = tensors.filter((t): t is Tensor => t !== null && !t.realized);
    if (lazy.length > 0) await evaluateFor('jit', lazy);
    const storages = tensors.map((t, i) => {
      if (t === null) return null;
      const s = storageOf(t.use('jit', `argument ${i}`));
      if (!s) throw new WgfuseError(`internal: jit argument ${i} has no storage after its evaluation`);
      return s;
    });
    const key = signature(args, storages);
    let trace = traces.get(key);
    if (trace) {
      // Most recently used last: the first entry is the one evicted.
      traces.delete(key);
      traces.set(key, trace);
    } else {
      trace = traceOf(fn, args, storages);
      traces.set(key, trace);
      if (traces.size > maxTraces) {
        const [oldest, evicted] = traces.entries().next().value as [string, Trace];
        traces.delete(oldest);
        drop(evicted);
      }
    }
    return replay(trace, storages) as Promise<R>;
  };
  return Object.defineProperties(call, {
    traces: { get: () => traces.size },
    clear: {
      value: () => {
        traces.forEach(drop);
        traces.clear();
      },
    },
  }) as Jitted<A, R>;
}

/** The tensors among the arguments (null for static numbers and booleans), checked. */
function checkArguments(args: readonly unknown[]): (Tensor | null)[] {
  return args.map((a, i) => {
    if (a instanceof Tensor) {
      a.use('jit', `argument ${i}`);
      return a;
    }
    if (typeof a === 'number' || typeof a === 'boolean') return null;
    throw new ArgumentError(`jit: argument ${i} must be a Tensor, a number or a boolean, got ${describeArg(a)}`);
  });
}

/**
 * The trace key: per argument its dtype, shape and layout (a view's offset and strides), or a static value,
 * and which earlier argument it is the same value as (a function traced on f(x, x) reads one input where
 * f(x, y) reads two).
 */
function signature(args: readonly unknown[], storages: readonly (Storage | null)[]): string {
  let key = '';
  for (let i = 0; i < args.length; i++) {
    const s = storages[i];
    if (!s) {
      const v = args[i] as number | boolean;
      key += Object.is(v, -0) ? 'n-0;' : `${typeof v === 'number' ? 'n' : 'b'}${String(v)};`;
      continue;
    }
    const same = storages.indexOf(s);
    const layout = s.layout;
    key += `${s.dtype}[${s.shape.join(',')}]${layout ? `@${layout.offset}:${layout.strides.join(',')}` : ''}${same < i ? `=${same}` : ''};`;
  }
  return key;
}

function traceOf<A extends JitArg[]>(fn: (...args: A) => JitResult, args: A, storages: readonly (Storage | null)[]): Trace {
  // Each tensor argument enters the trace as a leaf of its own storage object (a plain view of the same
  // memory): the program then has one input per argument even when a captured tensor holds the same value,
  // and its inputs are told apart by storage.
  const params = new Map<Storage, number>();
  const standIns: Tensor[] = [];
  const traced: JitArg[] = [];
  for (let i = 0; i < args.length; i++) {
    const s = storages[i];
    const first = s ? storages.indexOf(s) : i;
    if (!s || first < i) {
      traced.push(s ? traced[first] : args[i]);
      continue;
    }
    const view = s.view ? Storage.viewOf(s.view.base, s.shape, s.view.offset, s.view.strides) : Storage.viewOf(s, s.shape, 0, stridesOf(s.shape));
    const t = new Tensor(makeNode('input', [], {}, { dtype: s.dtype, shape: s.shape }));
    t.adopt(view);
    params.set(view, i);
    standIns.push(t);
    traced.push(t);
  }
  try {
    const out = fn(...(traced as A));
    if (out instanceof Promise) throw new ArgumentError('jit: the function returned a Promise; it must build its result synchronously from wgfuse calls (nothing is computed while it runs)');
    const many = Array.isArray(out);
    const list: unknown[] = many ? out : [out];
    list.forEach((t, i) => {
      if (!(t instanceof Tensor)) throw new ArgumentError(`jit: the function must return a Tensor or an array of Tensors, got ${many ? `${describeArg(t)} at index ${i}` : describeArg(t)}`);
      t.use('jit', many ? `result ${i}` : 'result');
    });
    const results: Source[] = [];
    const lazy: Tensor[] = [];
    for (const t of list as Tensor[]) {
      const s = storageOf(t.node);
      if (s && params.has(s)) results.push({ kind: 'argument', index: params.get(s)! });
      else if (s) results.push({ kind: 'captured', storage: s.retain() });
      else {
        let index = lazy.indexOf(t);
        if (index < 0) index = lazy.push(t) - 1;
        results.push({ kind: 'program', index });
      }
    }
    if (lazy.length === 0) return { graph: null, argumentOf: [], captured: [], results, many };
    const { graph, args: inputs } = extractProgram(
      lazy.map((t) => t.node),
      'jit',
    );
    const argumentOf = inputs.map((s) => params.get(s) ?? -1);
    const captured = inputs.map((s, k) => (argumentOf[k] < 0 ? s.retain() : null));
    return { graph, argumentOf, captured, results, many };
  } finally {
    standIns.forEach((t) => t.dispose());
  }
}

async function replay(trace: Trace, storages: readonly (Storage | null)[]): Promise<JitResult> {
  let computed: Storage[] = [];
  if (trace.graph) {
    const inputs = trace.argumentOf.map((a, k) => (a >= 0 ? storages[a]! : trace.captured[k]!));
    const held = inputs.map((s) => s.retain());
    try {
      const backend = await activeBackend();
      computed = await backend.run(trace.graph, inputs);
    } finally {
      held.forEach((s) => s.release());
    }
  }
  // A program output read by two results is one storage with two owners.
  const used = computed.map(() => false);
  const tensors = trace.results.map((r) => {
    let storage: Storage;
    if (r.kind === 'program') {
      storage = used[r.index] ? computed[r.index].retain() : computed[r.index];
      used[r.index] = true;
    } else storage = (r.kind === 'argument' ? storages[r.index]! : r.storage).retain();
    const t = new Tensor(makeNode('input', [], {}, { dtype: storage.dtype, shape: storage.shape }));
    t.adopt(storage);
    return t;
  });
  return trace.many ? tensors : tensors[0];
}
