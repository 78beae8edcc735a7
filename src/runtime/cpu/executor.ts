// The CPU reference executor: interprets every IR op on flat row-major typed arrays. It is the oracle for the
// GPU kernels and passes and the fallback backend, so it favours plain, exact code over speed.
//
// Semantics (the contract every backend matches):
// - Storage: float32 -> Float32Array, int32 -> Int32Array, bool -> Uint8Array holding 0/1; row-major, contiguous.
// - float32: each op computes in JS doubles and rounds to f32 on store. Reductions and matmul accumulate in
//   f64 and round once at the end.
// - int32: two's complement wrap-around: add/sub `(a+b)|0`, mul Math.imul, neg `(-a)|0`, abs wraps
//   (abs(-2^31) = -2^31), square = imul(a,a); sum/prod wrap at every step; matmul accumulates with imul and |0.
// - floor/ceil/round are the identity on int32; round on float is half-to-even (round(0.5)=0, round(-2.5)=-2).
// - sign is -1/0/1 with sign(-0) = +0 and sign(NaN) = NaN; relu = max(x,0) with relu(NaN) = NaN;
//   gelu = 0.5x(1+tanh(sqrt(2/pi)(x+0.044715x^3))), computed as x / (1 + exp(-2 sqrt(2/pi)(x+0.044715x^3))); sigmoid = 1/(1+exp(-x)); rsqrt = 1/sqrt(x);
//   reciprocal = 1/x; div and pow (Math.pow) are float-only.
// - maximum/minimum propagate NaN. Comparisons with NaN are false except ne. and/or/not act on bool 0/1.
// - cast: to float32 rounds to f32; to int32 truncates toward zero, saturates at [-2^31, 2^31-1], NaN -> 0;
//   to bool is x != 0 (NaN -> true); bool reads as 0/1.
// - Binary ops and where(cond, a, b) broadcast NumPy-style.
// - Reductions over a sorted set of axes (empty: a copy); keepdims keeps size-1 axes. sum of nothing is 0,
//   prod of nothing is 1. max/min on float propagate NaN and on bool are any/all.
// - argmax/argmin return the int32 index of the first max/min along the axis; the first NaN wins.
// - matmul: rank >= 2; transA/transB swap the last two axes of that operand; batch axes broadcast; output
//   [...batch, M, N]; K = 0 gives zeros.
// - syrk: x @ x^T (x^T @ x with transA) over the last two axes, batched; equals matmul(x, x) {transB}
//   ({transA}) bit for bit (same summation order).
// - Layout: reshape keeps row-major order; transpose out axis i = in axis perm[i]; expand = broadcast_to;
//   slice {begin, size} with stride 1; concat along one axis.
// - Leaves: const fills coerce(value, dtype); iota is the int32 index along `axis`; rand element i (flat
//   row-major) is uniformAt(seed, i) in [0,1) or normalAt(seed, i); input reads the bound argument.
// - Empty tensors work wherever the IR allows them.
import type { DType, TypedArray } from '../../ir/dtype.js';
import { ArgumentError, VerifyError } from '../../ir/errors.js';
import { orderOf, type Graph } from '../../ir/graph.js';
import type { Node } from '../../ir/node.js';
import { OPS } from '../../ir/ops.js';
import { describe, fmtShape, sizeOf } from '../../ir/shape.js';
import { evalBinary, evalUnary, evalWhere } from './elementwise.js';
import { evalLayout } from './layout.js';
import { evalLeaf } from './leaves.js';
import { evalMatmul } from './matmul.js';
import { evalArgReduce, evalReduce } from './reduce.js';
import { evalSyrk } from './syrk.js';

const ARRAY_NAME: Record<DType, string> = { float32: 'Float32Array', int32: 'Int32Array', bool: 'Uint8Array' };

/**
 * Runs `graph` on `args` (one per graph input, in order) and returns one freshly allocated array per output.
 * Intermediates are dropped after their last use, so memory stays bounded on long chains.
 */
export function executeGraph(graph: Graph, args: readonly TypedArray[]): TypedArray[] {
  checkArguments(graph, args);
  const bound = new Map<Node, TypedArray>(graph.inputs.map((n, i) => [n, args[i]]));
  const order = orderOf(graph);
  const usesLeft = new Map<Node, number>();
  for (const n of order) for (const i of n.inputs) usesLeft.set(i, (usesLeft.get(i) ?? 0) + 1);
  const pinned = new Set(graph.outputs);

  const values = new Map<Node, TypedArray>();
  for (const node of order) {
    const operands = node.inputs.map((i) => values.get(i)!);
    values.set(node, evaluate(node, operands, bound));
    for (const i of node.inputs) {
      const left = usesLeft.get(i)! - 1;
      usesLeft.set(i, left);
      if (left === 0 && !pinned.has(i)) values.delete(i);
    }
  }

  // A buffer may be an argument, or be shared by two outputs or by a reshape; hand each out only once.
  const handedOut = new Set<TypedArray>(args);
  return graph.outputs.map((n) => {
    const v = values.get(n)!;
    if (handedOut.has(v)) return v.slice();
    handedOut.add(v);
    return v;
  });
}

function evaluate(node: Node, operands: readonly TypedArray[], bound: ReadonlyMap<Node, TypedArray>): TypedArray {
  switch (OPS[node.op].kind) {
    case 'leaf':
      if (node.op !== 'input') return evalLeaf(node);
      if (!bound.has(node)) throw new VerifyError(`cpu: input #${node.id} is reachable but not among the graph's inputs`);
      return bound.get(node)!;
    case 'unary':
      return evalUnary(node, operands);
    case 'binary':
      return evalBinary(node, operands);
    case 'select':
      return evalWhere(node, operands);
    case 'layout':
      return evalLayout(node, operands);
    case 'reduce':
      return evalReduce(node, operands);
    case 'argreduce':
      return evalArgReduce(node, operands);
    case 'matmul':
      return node.op === 'syrk' ? evalSyrk(node, operands) : evalMatmul(node, operands);
  }
}

function checkArguments(graph: Graph, args: readonly TypedArray[]): void {
  if (args.length !== graph.inputs.length) {
    throw new ArgumentError(`executeGraph: the graph has ${graph.inputs.length} input(s), got ${args.length} argument(s)`);
  }
  graph.inputs.forEach((n, i) => {
    const what = `executeGraph: argument ${i}${nameOf(n)}: expected ${ARRAY_NAME[n.dtype]} for ${n.dtype}${fmtShape(n.shape)}`;
    const a: unknown = args[i];
    const ok =
      (n.dtype === 'float32' && a instanceof Float32Array) ||
      (n.dtype === 'int32' && a instanceof Int32Array) ||
      (n.dtype === 'bool' && a instanceof Uint8Array);
    if (!ok) throw new ArgumentError(`${what}, got ${describe(a)}`);
    const length = (a as TypedArray).length;
    if (length !== sizeOf(n.shape)) {
      throw new ArgumentError(`${what} (${sizeOf(n.shape)} elements), got ${length} elements`);
    }
  });
}

function nameOf(n: Node): string {
  return typeof n.attrs.name === 'string' ? ` ('${n.attrs.name}')` : '';
}
