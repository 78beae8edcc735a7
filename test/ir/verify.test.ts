import { describe, expect, test } from 'vitest';
import type { DType } from '../../src/ir/dtype.js';
import { VerifyError } from '../../src/ir/errors.js';
import { makeGraph, type Graph } from '../../src/ir/graph.js';
import { makeNode, type Node } from '../../src/ir/node.js';
import { OP_NAMES, type Attrs } from '../../src/ir/ops.js';
import { parseGraph } from '../../src/ir/parser.js';
import { printGraph } from '../../src/ir/printer.js';
import { MAX_ELEMENTS, verifyGraph } from '../../src/ir/verify.js';

// Every op once, over shared operands; the return line lists every value so none is dead.
const EVERY_OP = `
%x = input {name="x"} : f32[2,3]
%y = input : f32[3]
%i = input : i32[2,3]
%b = input : bool[2,3]
%c = const {value=NaN} : f32[]
%io = iota {axis=1} : i32[2,3]
%r = rand {dist="normal", seed=1} : f32[2,3]
%neg = neg %i : i32[2,3]
%abs = abs %x : f32[2,3]
%square = square %abs : f32[2,3]
%sign = sign %neg : i32[2,3]
%relu = relu %x : f32[2,3]
%floor = floor %relu : f32[2,3]
%ceil = ceil %floor : f32[2,3]
%round = round %ceil : f32[2,3]
%exp = exp %round : f32[2,3]
%log = log %exp : f32[2,3]
%sqrt = sqrt %log : f32[2,3]
%rsqrt = rsqrt %sqrt : f32[2,3]
%reciprocal = reciprocal %rsqrt : f32[2,3]
%sin = sin %reciprocal : f32[2,3]
%cos = cos %sin : f32[2,3]
%tanh = tanh %cos : f32[2,3]
%sigmoid = sigmoid %tanh : f32[2,3]
%gelu = gelu %sigmoid : f32[2,3]
%not = not %b : bool[2,3]
%cast = cast %x {to="int32"} : i32[2,3]
%add = add %x, %y : f32[2,3]
%sub = sub %i, %io : i32[2,3]
%mul = mul %add, %c : f32[2,3]
%div = div %mul, %y : f32[2,3]
%pow = pow %div, %c : f32[2,3]
%maximum = maximum %cast, %sub : i32[2,3]
%minimum = minimum %r, %gelu : f32[2,3]
%eq = eq %i, %io : bool[2,3]
%ne = ne %b, %not : bool[2,3]
%lt = lt %x, %y : bool[2,3]
%le = le %c, %y : bool[3]
%gt = gt %i, %sign : bool[2,3]
%ge = ge %square, %pow : bool[2,3]
%and = and %eq, %ne : bool[2,3]
%or = or %and, %le : bool[2,3]
%where = where %or, %minimum, %c : f32[2,3]
%reshape = reshape %where {shape=[3,1,2]} : f32[3,1,2]
%transpose = transpose %reshape {perm=[2,0,1]} : f32[2,3,1]
%expand = expand %transpose {shape=[4,2,3,5]} : f32[4,2,3,5]
%slice = slice %x {begin=[1,0], size=[1,3]} : f32[1,3]
%concat = concat %x, %slice, %x {axis=-2} : f32[5,3]
%sum = sum %expand {axes=[0,3]} : f32[2,3]
%prod = prod %maximum {axes=[1], keepdims} : i32[2,1]
%max = max %gt {axes=[]} : bool[2,3]
%min = min %lt {axes=[0,1]} : bool[]
%argmax = argmax %sum {axis=-1} : i32[2]
%argmin = argmin %concat {axis=0, keepdims} : i32[1,3]
%matmul = matmul %concat, %x {transB} : f32[5,2]
%syrk = syrk %concat {transA} : f32[3,3]
`;
const EVERY_OP_TEXT = `${EVERY_OP}return ${[...EVERY_OP.matchAll(/^(%\w+) =/gm)].map((m) => m[1]).join(', ')}\n`;

const input = (shape: number[], dtype: DType = 'float32') => makeNode('input', [], {}, { dtype, shape });

let fakeId = 1_000_000_000;

/** A node object as a hand-written pass might build it, bypassing makeNode's checks. */
function fake(op: string, inputs: readonly Node[], type: { dtype: string; shape: number[] }, attrs: Attrs = {}): Node {
  return Object.freeze({ id: fakeId++, op, inputs: Object.freeze([...inputs]), dtype: type.dtype, shape: Object.freeze(type.shape), attrs: Object.freeze(attrs) }) as unknown as Node;
}

function verifyError(graph: Graph): VerifyError {
  try {
    verifyGraph(graph);
  } catch (e) {
    if (e instanceof VerifyError) return e;
    throw e;
  }
  throw new Error('expected a VerifyError');
}

describe('verifyGraph accepts well-formed graphs', () => {
  test('every op', () => {
    const g = parseGraph(EVERY_OP_TEXT);
    expect(new Set([...EVERY_OP.matchAll(/= (\w+)/g)].map((m) => m[1]))).toEqual(new Set(OP_NAMES));
    expect(() => verifyGraph(g)).not.toThrow();
  });

  test('shared operands, repeated outputs, an input as output and no outputs', () => {
    const x = input([3]);
    const e = makeNode('exp', [x]);
    expect(() => verifyGraph(makeGraph([makeNode('add', [e, e]), x, e, e]))).not.toThrow();
    expect(() => verifyGraph(makeGraph([]))).not.toThrow();
  });

  test('a tensor of exactly 2^31-1 elements', () => {
    expect(MAX_ELEMENTS).toBe(2147483647);
    expect(() => verifyGraph(makeGraph([input([MAX_ELEMENTS], 'bool')]))).not.toThrow();
  });

  test('a 20k-node chain, without overflowing the stack', () => {
    let node = input([2]);
    for (let i = 0; i < 20_000; i++) node = makeNode('neg', [node]);
    expect(() => verifyGraph(makeGraph([node]))).not.toThrow();
  });
});

describe('verifyGraph rejects', () => {
  const x = input([2]);

  test.each<[string, () => Node, string, string]>([
    ['a stored shape that differs from inference', () => fake('neg', [x], { dtype: 'float32', shape: [3] }), 'neg: stored type f32[3] differs from f32[2] inferred from the operands', '%1 = neg %0 : f32[3]'],
    ['a stored dtype that differs from inference', () => fake('add', [x, x], { dtype: 'int32', shape: [2] }), 'add: stored type i32[2] differs from f32[2] inferred', '%1 = add %0, %0 : i32[2]'],
    ['wrong arity', () => fake('add', [x], { dtype: 'float32', shape: [2] }), 'add: expects 2 operand(s), got 1', '%1 = add %0 : f32[2]'],
    ['operands that do not type-check', () => fake('exp', [input([2], 'int32')], { dtype: 'int32', shape: [2] }), 'exp: operand has dtype int32[2]', '%1 = exp %0 : i32[2]'],
    ['unsorted attribute keys', () => fake('matmul', [input([2, 2]), input([2, 2])], { dtype: 'float32', shape: [2, 2] }, { transB: true, transA: true }), 'attributes {transB, transA} are not canonical (keys sorted, false flags dropped): expected {transA, transB}', '%2 = matmul %0, %1 {transB, transA} : f32[2,2]'],
    ['a stored false flag', () => fake('sum', [x], { dtype: 'float32', shape: [] }, { axes: [0], keepdims: false }), 'expected {axes=[0]}', '%1 = sum %0 {axes=[0], keepdims=false} : f32[]'],
    ['an unknown attribute', () => fake('neg', [x], { dtype: 'float32', shape: [2] }, { axis: 0 }), "neg: unknown attribute 'axis'", '%1 = neg %0 {axis=0} : f32[2]'],
    ['a missing attribute', () => fake('transpose', [x], { dtype: 'float32', shape: [2] }), "transpose: missing attribute 'perm'", '%1 = transpose %0 : f32[2]'],
    ['an ill-typed attribute', () => fake('cast', [x], { dtype: 'float32', shape: [2] }, { to: 'float64' }), "cast: attribute 'to' must be dtype", '%1 = cast %0 {to="float64"} : f32[2]'],
    ['a leaf of the wrong dtype', () => fake('iota', [], { dtype: 'float32', shape: [2] }, { axis: 0 }), 'iota: produces int32, not float32', '%0 = iota {axis=0} : f32[2]'],
    ['a leaf with operands', () => fake('const', [x], { dtype: 'float32', shape: [2] }, { value: 1 }), 'const: expects 0 operand(s), got 1', '%1 = const %0 {value=1} : f32[2]'],
    ['an unknown op', () => fake('frob', [x], { dtype: 'float32', shape: [2] }), "unknown op 'frob'", '%1 = frob %0 : f32[2]'],
    ['an unknown dtype', () => fake('input', [], { dtype: 'float64', shape: [2] }), "unknown dtype 'float64'", '%0 = input : float64[2]'],
    ['a negative extent', () => fake('input', [], { dtype: 'float32', shape: [2, -1] }), 'shape [2,-1] has an extent that is not a non-negative integer', '%0 = input : f32[2,-1]'],
    // makeNode refuses these (see below); a hand-built node still reaches the verifier.
    ['an input over 2^31-1 elements', () => fake('input', [], { dtype: 'float32', shape: [65536, 32768] }), '[65536,32768] has 2147483648 elements', '%0 = input : f32[65536,32768]'],
    ['a computed tensor over 2^31-1 elements', () => fake('expand', [input([1, 1], 'int32')], { dtype: 'int32', shape: [3, 1 << 30, 1] }, { shape: [3, 1 << 30, 1] }), 'has 3221225472 elements', '%1 = expand %0 {shape=[3,1073741824,1]} : i32[3,1073741824,1]'],
  ])('%s', (_what, build, message, line) => {
    const node = build();
    const graph = { inputs: node.op === 'input' ? [node] : node.inputs.filter((n) => n.op === 'input'), outputs: [node] };
    const e = verifyError(graph);
    expect(e.message).toContain(message);
    expect(e.message).toContain(`\n  at ${line}`);
  });

  test('makeNode itself refuses a tensor over 2^31-1 elements, naming the op and the limit', () => {
    expect(() => input([65536, 32768])).toThrow(/input: shape \[65536,32768\] has 2147483648 elements, more than the 2147483647/);
    expect(() => makeNode('expand', [input([1, 1], 'int32')], { shape: [3, 1 << 30, 1] })).toThrow(/expand: shape \[3,1073741824,1\] has 3221225472 elements/);
  });

  test('the offending node is numbered as printGraph numbers it', () => {
    const a = input([2, 3]);
    const b = input([3]);
    const bad = fake('add', [makeNode('exp', [a]), b], { dtype: 'float32', shape: [3] });
    const graph = makeGraph([makeNode('neg', [b]), bad]);
    const line = '%4 = add %3, %0 : f32[3]';
    expect(printGraph(graph).split('\n')).toContain(line);
    expect(verifyError(graph).message).toBe(`add: stored type f32[3] differs from f32[2,3] inferred from the operands\n  at ${line}`);
  });

  describe('cycles, which topoOrder would never finish', () => {
    /** Nodes whose inputs are filled in after creation, which makeNode's immutability normally forbids. */
    function cycle(length: number): Node[] {
      const inputLists: Node[][] = Array.from({ length }, () => []);
      const nodes = inputLists.map((inputs) => Object.freeze({ id: fakeId++, op: 'neg', inputs, dtype: 'float32', shape: Object.freeze([2]), attrs: {} }) as Node);
      nodes.forEach((_, k) => inputLists[k].push(nodes[(k + 1) % length]));
      return nodes;
    }

    test('a node that reads itself', () => {
      const [n] = cycle(1);
      expect(verifyError({ inputs: [], outputs: [n] }).message).toBe(
        `the graph has a cycle of 1 node(s), each reading the next and the last the first:\n  neg f32[2] : f32[2]  (node id ${n.id})`,
      );
    });

    test('a cycle below well-formed nodes lists only the cycle', () => {
      const [p, q, r] = cycle(3);
      const top = makeNode('add', [input([2]), makeNode('exp', [q])]);
      const message = verifyError({ inputs: [], outputs: [top] }).message;
      expect(message.split('\n')).toEqual([
        'the graph has a cycle of 3 node(s), each reading the next and the last the first:',
        `  neg f32[2] : f32[2]  (node id ${q.id})`,
        `  neg f32[2] : f32[2]  (node id ${r.id})`,
        `  neg f32[2] : f32[2]  (node id ${p.id})`,
      ]);
    });
  });

  describe('graph.inputs that are not the input leaves in topological order', () => {
    const a = input([2]);
    const b = input([2]);
    const sum = makeNode('add', [a, b]);
    const printed = '\n  %0 = input : f32[2]\n  %1 = input : f32[2]';

    test.each<[string, Node[], string]>([
      ['swapped', [b, a], 'graph.inputs [%1, %0] must be the input leaves in topological order, [%0, %1]'],
      ['missing', [a], 'graph.inputs [%0] must be'],
      ['unreachable', [a, b, input([2])], 'graph.inputs [%0, %1, %?] must be'],
      ['repeated', [a, a, b], 'graph.inputs [%0, %0, %1] must be'],
    ])('%s', (_what, inputs, message) => {
      const e = verifyError({ inputs, outputs: [sum] });
      expect(e.message).toContain(message);
      expect(e.message.endsWith(printed)).toBe(true);
    });
  });
});
