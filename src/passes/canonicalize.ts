// canonicalize: local simplifications that make one value have one spelling, so the pattern passes after it
// (fold-transposes, detect-syrk, fusion) see a single canonical form. Every rule below is exact: the
// rewritten graph computes the same bits as the original under the CPU reference semantics, -0 and the sign
// and payload of quiet NaNs included. (Signalling NaN inputs are out of reach: reading one from a
// Float32Array into a JS number quiets it, so even an executor copy changes its bits.)
//
// Rules (node -> replacement), applied bottom-up and repeated until nothing fires:
//   constant folding  an elementwise op (unary, cast, binary, where) whose operands are all `const` becomes a
//                     `const` of its result type. Consts are fills (one value), so the result is one value too;
//                     it is computed by the CPU executor itself on a one-element copy of the op, so it is the
//                     very value the executor would store; that value (already an f32, i32 or 0/1) becomes
//                     the new const's `value`. A layout op of consts that all fill the same value (reshape,
//                     transpose, expand, slice, concat) becomes a `const` of its result type.
//                     Refused when the result is NaN: a NaN's sign bit depends on how it was produced
//                     (sqrt(-1) gives -NaN on x86), and a `const` prints and fills only the one `NaN`.
//   transpose         transpose(transpose(x)) -> one transpose with the composed perm, or x when the
//                     composition is the identity; a transpose with the identity perm -> x.
//   reshape           reshape(reshape(x)) -> one reshape (row-major order makes the inner one irrelevant);
//                     a reshape to x's own shape -> x.
//   expand            an expand to x's own shape -> x.
//   cast              a cast to x's own dtype -> x.
//   neg               neg(neg(x)) -> x (exact for int32 too: -(-(-2^31)) wraps back to -2^31).
//   identities        x*1, 1*x, x/1, x-(+0), x+(-0), (-0)+x -> x, and for int32 x+0, 0+x, x-0 with either zero,
//                     ONLY when the op's result type equals x's type: `x[3] + const0[2,3]` broadcasts, it is
//                     not x. The constant is compared after coercion to its dtype (what the fill stores).
//
// Float x + 0: IEEE gives -0 + +0 = +0, so x + (+0) is not x when x is -0 (and reciprocal(x + 0) turns -Inf
// into +Inf). XLA's algebraic simplifier folds A + 0 -> A anyway; we do not, because a pass here must not
// change any bit the CPU reference computes. We fold x + (-0) instead, which is exact for every x
// (-0 + -0 = -0, +0 + -0 = +0), and x - (+0), which is exact for the same reason; x - (-0) is not folded.
//
// A replaced node's `group` (fusion's kernel annotation) is dropped with it; a node that only gets new
// operands keeps its attributes, `group` included. Inputs are never dropped: every rule keeps the x it
// returns, and only removes consts and layout/neg nodes above it, so graph.inputs stays valid.
//
// Notes name values as the input graph prints them: `fold transpose(transpose(%1)) at %3 -> %1`; a node
// this pass built itself is shown as its definition in parentheses.
import { coerce } from '../ir/dtype.js';
import { makeGraph, orderOf, type Graph } from '../ir/graph.js';
import { makeNode, type Node } from '../ir/node.js';
import { isElementwise, OPS, type AttrValue } from '../ir/ops.js';
import { numberValues, printAttrs, printType } from '../ir/printer.js';
import { shapesEqual } from '../ir/shape.js';
import { executeGraph } from '../runtime/cpu/executor.js';
import type { Pass, PassResult } from './pass.js';
import { rewrite, withInputs } from './rewrite.js';

/** A rule's decision: the replacement (the node itself for a refusal) and its note, given where it fired. */
interface Fold {
  readonly to: Node;
  readonly note: (at: string) => string;
}

type Namer = (n: Node) => string;

/** Bottom-up rewriting reaches the fixed point in one round; more rounds only guard that claim. */
const MAX_ROUNDS = 8;

export const canonicalize: Pass = {
  name: 'canonicalize',
  description: 'fold constants, transpose/reshape chains, identity layout ops and casts, neg(neg(x)), x*1, x+(-0) and friends',
  run(graph: Graph): PassResult {
    const fired: string[] = [];
    let current = graph;
    for (let round = 1; round <= MAX_ROUNDS; round++) {
      const notes: string[] = [];
      const next = canonicalizeOnce(current, notes, round === 1);
      fired.push(...(round === 1 ? notes : notes.map((n) => `(round ${round}) ${n}`)));
      if (next === current) break;
      current = next;
    }
    return { graph: current, fired };
  },
};

/** One bottom-up round; refusals are noted only when `noteRefusals` (later rounds would repeat them). */
function canonicalizeOnce(graph: Graph, notes: string[], noteRefusals: boolean): Graph {
  // The graph is numbered for notes only when a rule fires.
  let names: Map<Node, number> | undefined;
  const name = namer(() => (names ??= numberValues(orderOf(graph))));
  return rewrite(graph, (node, inputs) => {
    let cur = node;
    let ins = inputs;
    // Operands arrive canonical, so a replacement taken from them is final; one built here (one transpose
    // from two, say) may simplify further (to x, when its perm is the identity): repeat to a local fixed point.
    for (;;) {
      const fold = simplify(cur, ins, name);
      if (!fold) break;
      const refused = fold.to === cur;
      if (!refused || noteRefusals) notes.push(fold.note(`at ${name(node)}`));
      if (refused) break;
      cur = fold.to;
      ins = cur.inputs;
    }
    return cur === node ? withInputs(node, ins) : cur;
  });
}

/** `%n` for a node of the input graph; a node built by this pass is shown as its definition. */
function namer(names: () => ReadonlyMap<Node, number>): Namer {
  const name = (n: Node, depth = 0): string => {
    const k = names().get(n);
    if (k !== undefined) return `%${k}`;
    if (depth >= 2) return `(${n.op} ...)`;
    return `(${define(n, (i) => name(i, depth + 1))})`;
  };
  return (n) => name(n);
}

/** `transpose %1 {perm=[1,0]} : f32[3,2]`: a definition line without the left-hand side. */
function define(n: Node, name: Namer): string {
  const operands = n.inputs.map(name).join(', ');
  const attrs = Object.keys(n.attrs).length === 0 ? '' : ' ' + printAttrs(n.attrs);
  return `${n.op}${operands && ' ' + operands}${attrs} : ${printType(n)}`;
}

/** The first rule that applies to `node` with its (already canonical) operands `ins`. */
function simplify(node: Node, ins: readonly Node[], name: Namer): Fold | undefined {
  const kind = OPS[node.op].kind;
  if (kind === 'leaf') return undefined;
  const x = ins[0];
  const allConst = ins.length > 0 && ins.every((i) => i.op === 'const');

  if (allConst && isElementwise(node.op)) return foldElementwise(node, ins, name);
  if (allConst && kind === 'layout') {
    const values = ins.map(fillValue);
    if (values.every((v) => Object.is(v, values[0]))) {
      const to = makeConst(ins[0].attrs.value as number, node);
      return { to, note: (at) => `fold constant ${node.op} ${ins.map(name).join(', ')} ${at} -> ${define(to, name)}` };
    }
    return undefined;
  }

  switch (node.op) {
    case 'transpose': {
      const perm = node.attrs.perm as readonly number[];
      if (isIdentity(perm)) return { to: x, note: (at) => `drop identity transpose ${at} -> ${name(x)}` };
      if (x.op !== 'transpose') return undefined;
      // Output axis j of the outer transpose is axis perm[j] of the inner one, which is axis inner[perm[j]] of x.
      const inner = x.attrs.perm as readonly number[];
      const composed = perm.map((p) => inner[p]);
      const src = x.inputs[0];
      const what = `fold transpose(transpose(${name(src)}))`;
      if (isIdentity(composed)) return { to: src, note: (at) => `${what} ${at} -> ${name(src)}` };
      const to = makeNode('transpose', [src], { perm: composed });
      return { to, note: (at) => `${what} ${at} -> ${define(to, name)}` };
    }
    case 'reshape': {
      if (sameType(node, x)) return { to: x, note: (at) => `drop reshape to the same shape ${at} -> ${name(x)}` };
      if (x.op !== 'reshape') return undefined;
      const src = x.inputs[0];
      const to = makeNode('reshape', [src], { shape: [...node.shape] });
      return { to, note: (at) => `fold reshape(reshape(${name(src)})) ${at} -> ${define(to, name)}` };
    }
    case 'expand':
      return sameType(node, x) ? { to: x, note: (at) => `drop expand to the same shape ${at} -> ${name(x)}` } : undefined;
    case 'cast':
      return sameType(node, x) ? { to: x, note: (at) => `drop cast to the same dtype ${at} -> ${name(x)}` } : undefined;
    case 'neg':
      return x.op === 'neg' ? { to: x.inputs[0], note: (at) => `fold neg(neg(${name(x.inputs[0])})) ${at} -> ${name(x.inputs[0])}` } : undefined;
    case 'add':
    case 'sub':
    case 'mul':
    case 'div':
      return foldIdentity(node, ins, name);
    default:
      return undefined;
  }
}

/** x*1, 1*x, x/1, x-(+0), x+(-0), (-0)+x, and int32 x+0, 0+x, x-0: only where the result type is x's type. */
function foldIdentity(node: Node, [a, b]: readonly Node[], name: Namer): Fold | undefined {
  const int = node.dtype === 'int32';
  const isOne = (c: Node) => c.op === 'const' && fillValue(c) === 1;
  // Which zero leaves x unchanged: under IEEE x + (-0) = x for every x, but -0 + (+0) = +0.
  const isAddZero = (c: Node) => c.op === 'const' && (int ? fillValue(c) === 0 : Object.is(fillValue(c), -0));
  const isSubZero = (c: Node) => c.op === 'const' && (int ? fillValue(c) === 0 : Object.is(fillValue(c), 0));
  let x: Node | undefined;
  let what = '';
  if (node.op === 'mul' && isOne(b)) [x, what] = [a, 'x * 1'];
  else if (node.op === 'mul' && isOne(a)) [x, what] = [b, '1 * x'];
  else if (node.op === 'div' && isOne(b)) [x, what] = [a, 'x / 1'];
  else if (node.op === 'sub' && isSubZero(b)) [x, what] = [a, 'x - 0'];
  else if (node.op === 'add' && isAddZero(b)) [x, what] = [a, int ? 'x + 0' : 'x + (-0)'];
  else if (node.op === 'add' && isAddZero(a)) [x, what] = [b, int ? '0 + x' : '(-0) + x'];
  const to = x;
  if (to === undefined || !sameType(node, to)) return undefined;
  return { to, note: (at) => `fold ${node.op} ${name(a)}, ${name(b)} (${what}) ${at} -> ${name(to)}` };
}

/**
 * Evaluates the op on one-element copies of its const operands with the CPU executor, so the folded value
 * is exactly what the executor stores for every element of the original.
 */
function foldElementwise(node: Node, ins: readonly Node[], name: Namer): Fold {
  const scalars = ins.map((c) => makeNode('const', [], { value: c.attrs.value as number }, { dtype: c.dtype, shape: [] }));
  const one = makeNode(node.op, scalars, withoutGroup(node));
  const value = executeGraph(makeGraph([one]), [])[0][0];
  const operands = ins.map(name).join(', ');
  if (Number.isNaN(value)) {
    return { to: node, note: (at) => `keep ${node.op} ${operands} ${at}: it folds to NaN, whose sign bit a const cannot carry` };
  }
  const to = makeConst(value, node);
  return { to, note: (at) => `fold constant ${node.op} ${operands} ${at} -> ${define(to, name)}` };
}

function makeConst(value: number, like: Node): Node {
  return makeNode('const', [], { value }, { dtype: like.dtype, shape: like.shape });
}

/** What a const's fill stores: its value coerced to its dtype (f32 rounding, i32 truncation, bool 0/1). */
function fillValue(c: Node): number {
  return coerce(c.attrs.value as number, c.dtype);
}

function withoutGroup(node: Node): Record<string, AttrValue> {
  const attrs: Record<string, AttrValue> = {};
  for (const [k, v] of Object.entries(node.attrs)) if (k !== 'group') attrs[k] = v;
  return attrs;
}

function isIdentity(perm: readonly number[]): boolean {
  return perm.every((p, i) => p === i);
}

function sameType(a: Node, b: Node): boolean {
  return a.dtype === b.dtype && shapesEqual(a.shape, b.shape);
}
