// The simplification passes: canonicalize, cse and dce. Each rewrite is checked on exact IR text (parsed,
// run through runPasses, which verifies the result and that graph.inputs are untouched, then printed), each
// refusal on an unchanged graph, and a property test runs random elementwise/layout graphs with consts
// through each pass and compares the CPU executor's results before and after bit for bit.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { DType, TypedArray } from '../../src/ir/dtype.js';
import { WgfuseError } from '../../src/ir/errors.js';
import { makeGraph, topoOrder, type Graph } from '../../src/ir/graph.js';
import { makeNode, type Node } from '../../src/ir/node.js';
import type { AttrValue } from '../../src/ir/ops.js';
import { parseGraph } from '../../src/ir/parser.js';
import { printAttrs, printGraph } from '../../src/ir/printer.js';
import { sizeOf } from '../../src/ir/shape.js';
import { canonicalize } from '../../src/passes/canonicalize.js';
import { cse } from '../../src/passes/cse.js';
import { dce } from '../../src/passes/dce.js';
import { runPasses } from '../../src/passes/manager.js';
import type { Pass } from '../../src/passes/pass.js';
import { executeGraph } from '../../src/runtime/cpu/executor.js';

const ir = (...lines: string[]) => lines.join('\n') + '\n';

/**
 * Parses `text`, runs `pass` through the pass manager (which verifies the result) and prints the result.
 * Inputs are written as printGraph prints them (comments aside), so the `%n` in notes match the text.
 */
function run(pass: Pass, text: string) {
  const before = parseGraph(text);
  expect(printGraph(before)).toBe(text.replace(/^#.*\n/gm, ''));
  const { graph, log } = runPasses(before, [pass]);
  return { before, graph, text: printGraph(graph), fired: log[0].fired, changed: log[0].changed };
}

/** Asserts that `pass` leaves `text` alone: the very same graph object, so the same text. */
function expectUnchanged(pass: Pass, text: string) {
  const r = run(pass, text);
  expect(r.text).toBe(printGraph(r.before));
  expect(r.graph).toBe(r.before);
  expect(r.changed).toBe(false);
  return r;
}

/** The raw bytes of a typed array, as hex per element, so a mismatch shows the element and the bits. */
function bits(a: TypedArray): string[] {
  const width = a.BYTES_PER_ELEMENT;
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const out: string[] = [];
  for (let i = 0; i < a.length; i++) {
    out.push([...bytes.subarray(i * width, (i + 1) * width)].map((b) => b.toString(16).padStart(2, '0')).join(''));
  }
  return out;
}

function expectSameBits(graphA: Graph, graphB: Graph, args: readonly TypedArray[]) {
  const a = executeGraph(graphA, args);
  const b = executeGraph(graphB, args);
  expect(b.length).toBe(a.length);
  a.forEach((x, i) => {
    expect(b[i].constructor).toBe(x.constructor);
    expect(bits(b[i])).toEqual(bits(x));
  });
}

describe('canonicalize', () => {
  test('transpose(transpose(x)) composing to the identity is x', () => {
    const r = run(
      canonicalize,
      ir(
        '%0 = input : f32[2,3,4]',
        '%1 = transpose %0 {perm=[2,0,1]} : f32[4,2,3]',
        '%2 = transpose %1 {perm=[1,2,0]} : f32[2,3,4]',
        '%3 = exp %2 : f32[2,3,4]',
        'return %3',
      ),
    );
    expect(r.text).toBe(ir('%0 = input : f32[2,3,4]', '%1 = exp %0 : f32[2,3,4]', 'return %1'));
    expect(r.fired).toEqual(['fold transpose(transpose(%0)) at %2 -> %0']);
  });

  test('transpose(transpose(x)) not composing to the identity is one transpose with the composed perm', () => {
    const r = run(
      canonicalize,
      ir(
        '%0 = input : f32[2,3,4]',
        '%1 = transpose %0 {perm=[1,0,2]} : f32[3,2,4]',
        '%2 = transpose %1 {perm=[0,2,1]} : f32[3,4,2]',
        'return %2',
      ),
    );
    expect(r.text).toBe(ir('%0 = input : f32[2,3,4]', '%1 = transpose %0 {perm=[1,2,0]} : f32[3,4,2]', 'return %1'));
    expect(r.fired).toEqual(['fold transpose(transpose(%0)) at %2 -> transpose %0 {perm=[1,2,0]} : f32[3,4,2]']);
  });

  // `group` is set by the fusion passes. The parser does not read it back (see the report), so the graphs
  // that carry it are built with makeNode.
  test('a transpose with the identity perm is x; the replaced node goes with its group, its user keeps its own', () => {
    const x = makeNode('input', [], {}, { dtype: 'float32', shape: [2, 3] });
    const t = makeNode('transpose', [x], { perm: [0, 1], group: 3 });
    const { graph, log } = runPasses(makeGraph([makeNode('relu', [t], { group: 3 })]), [canonicalize]);
    expect(printGraph(graph)).toBe(ir('%0 = input : f32[2,3]', '%1 = relu %0 {group=3} : f32[2,3]', 'return %1'));
    expect(log[0].fired).toEqual(['drop identity transpose at %1 -> %0']);
  });

  test('a composed transpose and a folded const are built without the group of the nodes they replace', () => {
    const x = makeNode('input', [], {}, { dtype: 'float32', shape: [2, 3, 4] });
    const t1 = makeNode('transpose', [x], { perm: [1, 0, 2], group: 1 });
    const t2 = makeNode('transpose', [t1], { perm: [0, 2, 1], group: 1 });
    const one = makeNode('const', [], { value: 1 }, { dtype: 'float32', shape: [] });
    const two = makeNode('add', [one, one], { group: 1 });
    const { graph } = runPasses(makeGraph([t2, two]), [canonicalize]);
    expect(printGraph(graph)).toBe(ir('%0 = input : f32[2,3,4]', '%1 = transpose %0 {perm=[1,2,0]} : f32[3,4,2]', '%2 = const {value=2} : f32[]', 'return %1, %2'));
  });

  test('reshape(reshape(x)) is one reshape, and a reshape back to x shape is x', () => {
    const r = run(
      canonicalize,
      ir(
        '%0 = input : f32[2,3,4]',
        '%1 = reshape %0 {shape=[6,4]} : f32[6,4]',
        '%2 = reshape %1 {shape=[24]} : f32[24]',
        '%3 = reshape %2 {shape=[4,6]} : f32[4,6]',
        '%4 = reshape %1 {shape=[2,3,4]} : f32[2,3,4]',
        'return %3, %4',
      ),
    );
    expect(r.text).toBe(ir('%0 = input : f32[2,3,4]', '%1 = reshape %0 {shape=[4,6]} : f32[4,6]', 'return %1, %0'));
    expect(r.fired).toEqual([
      'fold reshape(reshape(%0)) at %2 -> reshape %0 {shape=[24]} : f32[24]',
      'fold reshape(reshape(%0)) at %3 -> reshape %0 {shape=[4,6]} : f32[4,6]',
      'fold reshape(reshape(%0)) at %4 -> reshape %0 {shape=[2,3,4]} : f32[2,3,4]',
      'drop reshape to the same shape at %4 -> %0',
    ]);
  });

  test('expand, reshape and cast to the operand type are the operand', () => {
    const r = run(
      canonicalize,
      ir(
        '%0 = input : i32[2,3]',
        '%1 = expand %0 {shape=[2,3]} : i32[2,3]',
        '%2 = reshape %1 {shape=[2,3]} : i32[2,3]',
        '%3 = cast %2 {to="int32"} : i32[2,3]',
        'return %3',
      ),
    );
    expect(r.text).toBe(ir('%0 = input : i32[2,3]', 'return %0'));
    expect(r.fired).toEqual([
      'drop expand to the same shape at %1 -> %0',
      'drop reshape to the same shape at %2 -> %0',
      'drop cast to the same dtype at %3 -> %0',
    ]);
  });

  test('neg(neg(x)) is x', () => {
    const r = run(canonicalize, ir('%0 = input : i32[4]', '%1 = neg %0 : i32[4]', '%2 = neg %1 : i32[4]', '%3 = abs %2 : i32[4]', 'return %3'));
    expect(r.text).toBe(ir('%0 = input : i32[4]', '%1 = abs %0 : i32[4]', 'return %1'));
    expect(r.fired).toEqual(['fold neg(neg(%0)) at %2 -> %0']);
  });

  test('a chain of 10 double negations collapses to x, and one more neg leaves neg(x)', () => {
    const chain = (n: number) => {
      const lines = ['%0 = input : f32[3]'];
      for (let i = 1; i <= n; i++) lines.push(`%${i} = neg %${i - 1} : f32[3]`);
      return ir(...lines, `return %${n}`);
    };
    const even = run(canonicalize, chain(20));
    expect(even.text).toBe(ir('%0 = input : f32[3]', 'return %0'));
    expect(even.fired).toHaveLength(10);
    expect(even.fired.every((n) => n.startsWith('fold neg(neg(%0)) at %'))).toBe(true);
    const odd = run(canonicalize, chain(21));
    expect(odd.text).toBe(ir('%0 = input : f32[3]', '%1 = neg %0 : f32[3]', 'return %1'));
  });

  test('a mixed chain (transposes, reshapes, negations, x*1) collapses in one run and a second run changes nothing', () => {
    const text = ir(
      '%0 = input : f32[2,3]',
      '%1 = transpose %0 {perm=[1,0]} : f32[3,2]',
      '%2 = neg %1 : f32[3,2]',
      '%3 = neg %2 : f32[3,2]',
      '%4 = transpose %3 {perm=[1,0]} : f32[2,3]',
      '%5 = reshape %4 {shape=[6]} : f32[6]',
      '%6 = const {value=1} : f32[]',
      '%7 = mul %5, %6 : f32[6]',
      '%8 = reshape %7 {shape=[2,3]} : f32[2,3]',
      'return %8',
    );
    const r = run(canonicalize, text);
    expect(r.text).toBe(ir('%0 = input : f32[2,3]', 'return %0'));
    const again = runPasses(r.graph, [canonicalize]);
    expect(again.graph).toBe(r.graph);
    expect(again.log[0].fired).toEqual([]);
  });

  test('x*1, 1*x, x/1, x-0 and x+(-0) fold to x for float32; x+0, 0+x, x-0 and 1*x for int32', () => {
    const r = run(
      canonicalize,
      ir(
        '%0 = const {value=-0} : f32[1,3]',
        '%1 = const {value=1} : f32[]',
        '%2 = input : f32[2,3]',
        '%3 = mul %2, %1 : f32[2,3]',
        '%4 = mul %1, %3 : f32[2,3]',
        '%5 = div %4, %1 : f32[2,3]',
        '%6 = const {value=0} : f32[3]',
        '%7 = sub %5, %6 : f32[2,3]',
        '%8 = add %7, %0 : f32[2,3]',
        '%9 = add %0, %8 : f32[2,3]',
        '%10 = const {value=1} : i32[3]',
        '%11 = const {value=0} : i32[]',
        '%12 = input : i32[3]',
        '%13 = add %12, %11 : i32[3]',
        '%14 = add %11, %13 : i32[3]',
        '%15 = sub %14, %11 : i32[3]',
        '%16 = mul %10, %15 : i32[3]',
        'return %9, %16',
      ),
    );
    expect(r.text).toBe(ir('%0 = input : f32[2,3]', '%1 = input : i32[3]', 'return %0, %1'));
    expect(r.fired).toEqual([
      'fold mul %2, %1 (x * 1) at %3 -> %2',
      'fold mul %1, %2 (1 * x) at %4 -> %2',
      'fold div %2, %1 (x / 1) at %5 -> %2',
      'fold sub %2, %6 (x - 0) at %7 -> %2',
      'fold add %2, %0 (x + (-0)) at %8 -> %2',
      'fold add %0, %2 ((-0) + x) at %9 -> %2',
      'fold add %12, %11 (x + 0) at %13 -> %12',
      'fold add %11, %12 (0 + x) at %14 -> %12',
      'fold sub %12, %11 (x - 0) at %15 -> %12',
      'fold mul %10, %12 (1 * x) at %16 -> %12',
    ]);
  });

  test('the identity constant is compared as its fill stores it (f32 rounding, i32 truncation)', () => {
    const r = run(
      canonicalize,
      ir(
        '%0 = input : f32[2]',
        '%1 = const {value=1.00000001} : f32[]',
        '%2 = mul %0, %1 : f32[2]',
        '%3 = input : i32[2]',
        '%4 = const {value=0.75} : i32[]',
        '%5 = add %3, %4 : i32[2]',
        'return %2, %5',
      ),
    );
    expect(r.text).toBe(ir('%0 = input : f32[2]', '%1 = input : i32[2]', 'return %0, %1'));
  });

  test('float x + (+0) is not folded: -0 + 0 is +0, so it is not x', () => {
    const text = ir('%0 = const {value=0} : f32[]', '%1 = input : f32[2]', '%2 = add %1, %0 : f32[2]', '%3 = add %0, %2 : f32[2]', 'return %3');
    expectUnchanged(canonicalize, text);
    // The reason, on the executor: -0 + 0 gives +0, and 1 / that is +Infinity, not -Infinity.
    const g = parseGraph(ir('%0 = input : f32[1]', '%1 = const {value=0} : f32[]', '%2 = add %0, %1 : f32[1]', '%3 = reciprocal %2 : f32[1]', 'return %3'));
    expect(executeGraph(g, [new Float32Array([-0])])[0][0]).toBe(Infinity);
  });

  test('float x - (-0) is not folded: -0 - (-0) is +0', () => {
    expectUnchanged(canonicalize, ir('%0 = input : f32[2]', '%1 = const {value=-0} : f32[]', '%2 = sub %0, %1 : f32[2]', 'return %2'));
  });

  test('x*1 and x+(-0) where the const broadcasts x to a larger shape are not x', () => {
    expectUnchanged(
      canonicalize,
      ir(
        '%0 = input : f32[3]',
        '%1 = const {value=1} : f32[2,3]',
        '%2 = mul %0, %1 : f32[2,3]',
        '%3 = const {value=-0} : f32[2,1]',
        '%4 = add %3, %0 : f32[2,3]',
        '%5 = input : i32[1]',
        '%6 = const {value=0} : i32[4]',
        '%7 = add %5, %6 : i32[4]',
        'return %2, %4, %7',
      ),
    );
  });

  test('x*2, 0-x, 1/x and x*(-1) are not identities', () => {
    expectUnchanged(
      canonicalize,
      ir(
        '%0 = const {value=1} : f32[]',
        '%1 = const {value=0} : f32[]',
        '%2 = input : f32[3]',
        '%3 = const {value=2} : f32[]',
        '%4 = mul %2, %3 : f32[3]',
        '%5 = sub %1, %4 : f32[3]',
        '%6 = div %0, %5 : f32[3]',
        '%7 = const {value=-1} : f32[]',
        '%8 = mul %6, %7 : f32[3]',
        'return %8',
      ),
    );
  });

  test('reshape of a transpose, transpose of a reshape and a broadcasting expand are kept', () => {
    expectUnchanged(
      canonicalize,
      ir(
        '%0 = input : f32[2,3]',
        '%1 = transpose %0 {perm=[1,0]} : f32[3,2]',
        '%2 = reshape %1 {shape=[6]} : f32[6]',
        '%3 = reshape %0 {shape=[3,2]} : f32[3,2]',
        '%4 = transpose %3 {perm=[1,0]} : f32[2,3]',
        '%5 = expand %0 {shape=[4,2,3]} : f32[4,2,3]',
        'return %2, %4, %5',
      ),
    );
  });

  test('neg of a non-neg, abs(abs(x)) and a cast to another dtype are kept', () => {
    expectUnchanged(
      canonicalize,
      ir('%0 = input : f32[3]', '%1 = abs %0 : f32[3]', '%2 = neg %1 : f32[3]', '%3 = abs %2 : f32[3]', '%4 = abs %3 : f32[3]', '%5 = cast %4 {to="int32"} : i32[3]', 'return %5'),
    );
  });

  test('constant folding: binary, unary, cast, comparison and layout ops of consts become one const', () => {
    const r = run(
      canonicalize,
      ir(
        '%0 = const {value=0.1} : f32[]',
        '%1 = const {value=1} : f32[3]',
        '%2 = expand %1 {shape=[2,3]} : f32[2,3]',
        '%3 = lt %0, %2 : bool[2,3]',
        '%4 = input : f32[2,3]',
        '%5 = const {value=0.2} : f32[2,3]',
        '%6 = add %0, %5 : f32[2,3]',
        '%7 = mul %4, %6 : f32[2,3]',
        '%8 = where %3, %7, %2 : f32[2,3]',
        '%9 = const {value=2.7} : f32[]',
        '%10 = cast %9 {to="int32"} : i32[]',
        '%11 = neg %10 : i32[]',
        'return %8, %11',
      ),
    );
    expect(r.text).toBe(
      ir(
        '%0 = const {value=1} : bool[2,3]',
        '%1 = input : f32[2,3]',
        '%2 = const {value=0.30000001192092896} : f32[2,3]',
        '%3 = mul %1, %2 : f32[2,3]',
        '%4 = const {value=1} : f32[2,3]',
        '%5 = where %0, %3, %4 : f32[2,3]',
        '%6 = const {value=-2} : i32[]',
        'return %5, %6',
      ),
    );
    expect(r.fired).toEqual([
      'fold constant expand %1 at %2 -> const {value=1} : f32[2,3]',
      'fold constant lt %0, (const {value=1} : f32[2,3]) at %3 -> const {value=1} : bool[2,3]',
      'fold constant add %0, %5 at %6 -> const {value=0.30000001192092896} : f32[2,3]',
      'fold constant cast %9 at %10 -> const {value=2} : i32[]',
      'fold constant neg (const {value=2} : i32[]) at %11 -> const {value=-2} : i32[]',
    ]);
  });

  test('x * expand(const 1) folds in two steps: the layout of a const is a const, then x*1 is x', () => {
    const r = run(
      canonicalize,
      ir('%0 = input : f32[2,3]', '%1 = const {value=1} : f32[]', '%2 = expand %1 {shape=[2,3]} : f32[2,3]', '%3 = mul %0, %2 : f32[2,3]', 'return %3'),
    );
    expect(r.text).toBe(ir('%0 = input : f32[2,3]', 'return %0'));
  });

  test('concat of consts folds only when they fill one value', () => {
    const r = run(
      canonicalize,
      ir('%0 = const {value=2} : i32[2]', '%1 = const {value=2} : i32[3]', '%2 = concat %0, %1 {axis=0} : i32[5]', 'return %2'),
    );
    expect(r.text).toBe(ir('%0 = const {value=2} : i32[5]', 'return %0'));
    expectUnchanged(canonicalize, ir('%0 = const {value=2} : i32[2]', '%1 = const {value=3} : i32[3]', '%2 = concat %0, %1 {axis=0} : i32[5]', 'return %2'));
  });

  test('a fold whose result is NaN is refused and says why', () => {
    const r = expectUnchanged(canonicalize, ir('%0 = const {value=-1} : f32[]', '%1 = sqrt %0 : f32[]', '%2 = input : f32[2]', '%3 = mul %1, %2 : f32[2]', 'return %3'));
    expect(r.fired).toEqual(['keep sqrt %0 at %1: it folds to NaN, whose sign bit a const cannot carry']);
    // Why: a const NaN always fills the positive quiet NaN, while a computed NaN may carry the sign bit
    // (x86's sqrt(-1) is 0xffc00000), so folding would change bits.
    const folded = executeGraph(parseGraph(ir('%0 = const {value=NaN} : f32[]', 'return %0')), [])[0];
    expect(bits(folded)).toEqual(['0000c07f']);
  });

  test('constant folding is bit-identical to the executor for every op on special values', () => {
    const f32Values = [0, -0, 1, -1, 0.1, -2.5, 0.5, 1.5, 3.4e38, -3.4e38, 1e-45, Infinity, -Infinity, NaN, 2 ** 31, -(2 ** 31) - 1e9];
    const i32Values = [0, 1, -1, 7, -7, 2147483647, -2147483648];
    const unary = ['neg', 'abs', 'square', 'sign', 'relu', 'floor', 'ceil', 'round', 'exp', 'log', 'sqrt', 'rsqrt', 'reciprocal', 'sin', 'cos', 'tanh', 'sigmoid', 'gelu'];
    const intUnary = ['neg', 'abs', 'square', 'sign', 'relu', 'floor', 'ceil', 'round'];
    const binary = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'];
    const intBinary = ['add', 'sub', 'mul', 'maximum', 'minimum', 'eq', 'lt'];
    const cases: string[] = [];
    const c = (v: number, t: string) => `const {value=${Object.is(v, -0) ? '-0' : String(v)}} : ${t}[2]`;
    for (const v of f32Values) {
      for (const op of unary) cases.push(ir(`%0 = ${c(v, 'f32')}`, `%1 = ${op} %0 : f32[2]`, 'return %1'));
      for (const to of ['int32', 'bool', 'float32']) cases.push(ir(`%0 = ${c(v, 'f32')}`, `%1 = cast %0 {to="${to}"} : ${to === 'int32' ? 'i32' : to === 'bool' ? 'bool' : 'f32'}[2]`, 'return %1'));
      for (const w of [0, -0, 1, -1.5, Infinity, NaN]) {
        for (const op of binary) {
          const t = ['eq', 'ne', 'lt', 'le', 'gt', 'ge'].includes(op) ? 'bool' : 'f32';
          cases.push(ir(`%0 = ${c(v, 'f32')}`, `%1 = ${c(w, 'f32')}`, `%2 = ${op} %0, %1 : ${t}[2]`, 'return %2'));
        }
      }
    }
    for (const v of i32Values) {
      for (const op of intUnary) cases.push(ir(`%0 = ${c(v, 'i32')}`, `%1 = ${op} %0 : i32[2]`, 'return %1'));
      cases.push(ir(`%0 = ${c(v, 'i32')}`, '%1 = cast %0 {to="float32"} : f32[2]', 'return %1'));
      for (const w of i32Values) {
        for (const op of intBinary) cases.push(ir(`%0 = ${c(v, 'i32')}`, `%1 = ${c(w, 'i32')}`, `%2 = ${op} %0, %1 : ${op === 'eq' || op === 'lt' ? 'bool' : 'i32'}[2]`, 'return %2'));
      }
    }
    let folded = 0;
    for (const text of cases) {
      const r = run(canonicalize, text);
      expectSameBits(r.before, r.graph, []);
      if (r.graph.outputs[0].op === 'const') folded++;
      else expect(Number.isNaN(executeGraph(r.before, [])[0][0])).toBe(true); // the only refusal
    }
    // Everything but NaN results folds (cast to the same dtype is the const itself).
    expect(folded).toBeGreaterThan(cases.length * 0.8);
  });

  test('graph inputs are never dropped, even when an output becomes an input', () => {
    const r = run(canonicalize, ir('%0 = input : f32[2]', '%1 = input : f32[2]', '%2 = neg %1 : f32[2]', '%3 = neg %2 : f32[2]', '%4 = add %0, %3 : f32[2]', 'return %4, %3'));
    expect(r.graph.inputs).toEqual(r.before.inputs);
    expect(r.text).toBe(ir('%0 = input : f32[2]', '%1 = input : f32[2]', '%2 = add %0, %1 : f32[2]', 'return %2, %1'));
  });
});

describe('cse', () => {
  test('two adds of the same operands become one', () => {
    const r = run(
      cse,
      ir('%0 = input : f32[2,3]', '%1 = input : f32[3]', '%2 = add %0, %1 : f32[2,3]', '%3 = add %0, %1 : f32[2,3]', '%4 = mul %2, %3 : f32[2,3]', 'return %4'),
    );
    expect(r.text).toBe(ir('%0 = input : f32[2,3]', '%1 = input : f32[3]', '%2 = add %0, %1 : f32[2,3]', '%3 = mul %2, %2 : f32[2,3]', 'return %3'));
    expect(r.fired).toEqual(['merge %3 into %2 (add %0, %1)']);
  });

  test('operand order matters: add %0, %1 and add %1, %0 are not merged', () => {
    expectUnchanged(cse, ir('%0 = input : f32[3]', '%1 = input : f32[3]', '%2 = add %0, %1 : f32[3]', '%3 = add %1, %0 : f32[3]', '%4 = mul %2, %3 : f32[3]', 'return %4'));
  });

  test('duplicate subtrees collapse bottom-up and duplicate outputs become one node returned twice', () => {
    const r = run(
      cse,
      ir(
        '%0 = input : f32[4,8]',
        '%1 = transpose %0 {perm=[1,0]} : f32[8,4]',
        '%2 = exp %1 : f32[8,4]',
        '%3 = sum %2 {axes=[1], keepdims} : f32[8,1]',
        '%4 = transpose %0 {perm=[1,0]} : f32[8,4]',
        '%5 = exp %4 : f32[8,4]',
        '%6 = sum %5 {axes=[1], keepdims} : f32[8,1]',
        'return %3, %6',
      ),
    );
    expect(r.text).toBe(
      ir('%0 = input : f32[4,8]', '%1 = transpose %0 {perm=[1,0]} : f32[8,4]', '%2 = exp %1 : f32[8,4]', '%3 = sum %2 {axes=[1], keepdims} : f32[8,1]', 'return %3, %3'),
    );
    expect(r.fired).toEqual(['merge %4 into %1 (transpose %0 {perm=[1,0]})', 'merge %5 into %2 (exp %4)', 'merge %6 into %3 (sum %5 {axes=[1], keepdims})']);
  });

  test('equal consts merge, also when one is itself an output', () => {
    const r = run(
      cse,
      ir(
        '%0 = input : i32[3]',
        '%1 = const {value=7} : i32[3]',
        '%2 = mul %0, %1 : i32[3]',
        '%3 = const {value=7} : i32[3]',
        '%4 = mul %0, %3 : i32[3]',
        '%5 = sub %2, %4 : i32[3]',
        '%6 = const {value=7} : i32[3]',
        'return %5, %6',
      ),
    );
    expect(r.text).toBe(ir('%0 = input : i32[3]', '%1 = const {value=7} : i32[3]', '%2 = mul %0, %1 : i32[3]', '%3 = sub %2, %2 : i32[3]', 'return %3, %1'));
    expect(r.fired).toEqual([
      'merge %3 into %1 (const {value=7} : i32[3])',
      'merge %6 into %1 (const {value=7} : i32[3])',
      'merge %4 into %2 (mul %0, %3)',
    ]);
  });

  test('a graph whose only duplicates are output leaves still changes', () => {
    const r = run(cse, ir('%0 = const {value=1} : f32[]', '%1 = const {value=1} : f32[]', 'return %0, %1'));
    expect(r.text).toBe(ir('%0 = const {value=1} : f32[]', 'return %0, %0'));
  });

  test('iotas with equal attrs and type merge, rands with the same seed, dist and type merge', () => {
    const r = run(
      cse,
      ir(
        '%0 = iota {axis=1} : i32[2,5]',
        '%1 = iota {axis=1} : i32[2,5]',
        '%2 = add %0, %1 : i32[2,5]',
        '%3 = rand {dist="normal", seed=42} : f32[2,5]',
        '%4 = rand {dist="normal", seed=42} : f32[2,5]',
        '%5 = sub %3, %4 : f32[2,5]',
        'return %2, %5',
      ),
    );
    expect(r.text).toBe(ir('%0 = iota {axis=1} : i32[2,5]', '%1 = add %0, %0 : i32[2,5]', '%2 = rand {dist="normal", seed=42} : f32[2,5]', '%3 = sub %2, %2 : f32[2,5]', 'return %1, %3'));
  });

  test('the key ignores group; the survivor keeps its own', () => {
    const x = makeNode('input', [], {}, { dtype: 'float32', shape: [8] });
    const r1 = makeNode('relu', [x], { group: 1 });
    const r2 = makeNode('relu', [x], { group: 2 });
    const { graph, log } = runPasses(makeGraph([makeNode('add', [r1, r2], { group: 2 })]), [cse]);
    expect(printGraph(graph)).toBe(ir('%0 = input : f32[8]', '%1 = relu %0 {group=1} : f32[8]', '%2 = add %1, %1 {group=2} : f32[8]', 'return %2'));
    expect(log[0].fired).toEqual(['merge %2 into %1 (relu %0)']);
  });

  test('same op with different attributes is not merged', () => {
    expectUnchanged(
      cse,
      ir(
        '%0 = input : f32[2,3,4]',
        '%1 = sum %0 {axes=[0]} : f32[3,4]',
        '%2 = sum %0 {axes=[0], keepdims} : f32[1,3,4]',
        '%3 = sum %0 {axes=[1]} : f32[2,4]',
        '%4 = transpose %0 {perm=[1,0,2]} : f32[3,2,4]',
        '%5 = transpose %0 {perm=[2,1,0]} : f32[4,3,2]',
        '%6 = cast %0 {to="int32"} : i32[2,3,4]',
        '%7 = cast %0 {to="bool"} : bool[2,3,4]',
        'return %1, %2, %3, %4, %5, %6, %7',
      ),
    );
  });

  test('two inputs of the same type and name never merge, nor what reads them', () => {
    expectUnchanged(
      cse,
      ir('%0 = input {name="x"} : f32[3]', '%1 = exp %0 : f32[3]', '%2 = input {name="x"} : f32[3]', '%3 = exp %2 : f32[3]', '%4 = add %1, %3 : f32[3]', 'return %4, %0, %2'),
    );
  });

  test('rands with different seeds, dists or shapes and consts differing in the sign of zero, dtype or shape do not merge', () => {
    expectUnchanged(
      cse,
      ir(
        '%0 = rand {dist="uniform", seed=1} : f32[4]',
        '%1 = rand {dist="uniform", seed=2} : f32[4]',
        '%2 = add %0, %1 : f32[4]',
        '%3 = rand {dist="normal", seed=1} : f32[4]',
        '%4 = add %2, %3 : f32[4]',
        '%5 = rand {dist="uniform", seed=1} : f32[1,4]',
        '%6 = add %4, %5 : f32[1,4]',
        'return %6',
      ),
    );
    expectUnchanged(
      cse,
      ir('%0 = const {value=0} : f32[]', '%1 = const {value=-0} : f32[]', '%2 = const {value=0} : f32[3]', '%3 = const {value=0} : i32[]', 'return %0, %1, %2, %3'),
    );
  });

  test('NaN consts are equal to each other for merging', () => {
    const r = run(cse, ir('%0 = const {value=NaN} : f32[2]', '%1 = const {value=NaN} : f32[2]', '%2 = add %0, %1 : f32[2]', 'return %2'));
    expect(r.text).toBe(ir('%0 = const {value=NaN} : f32[2]', '%1 = add %0, %0 : f32[2]', 'return %1'));
  });

  test('a second run changes nothing', () => {
    const r = run(cse, ir('%0 = input : f32[3]', '%1 = exp %0 : f32[3]', '%2 = exp %0 : f32[3]', '%3 = add %1, %2 : f32[3]', '%4 = add %2, %1 : f32[3]', 'return %3, %4'));
    expect(r.text).toBe(ir('%0 = input : f32[3]', '%1 = exp %0 : f32[3]', '%2 = add %1, %1 : f32[3]', 'return %2, %2'));
    const again = runPasses(r.graph, [cse]);
    expect(again.graph).toBe(r.graph);
  });
});

describe('dce', () => {
  test('returns the very graph it was given and reports the reachable count', () => {
    const r = expectUnchanged(dce, ir('%0 = input : f32[4]', '%1 = exp %0 : f32[4]', '%2 = mul %1, %1 : f32[4]', '%3 = add %2, %1 : f32[4]', 'return %3, %3, %0'));
    expect(r.fired).toEqual(['dead code is dropped by construction: 4 nodes reachable from 3 output(s)']);
  });

  test('values a rewrite stopped referencing are gone before dce runs', () => {
    const before = parseGraph(ir('%0 = input : f32[3]', '%1 = neg %0 : f32[3]', '%2 = neg %1 : f32[3]', '%3 = exp %2 : f32[3]', 'return %3'));
    const { log } = runPasses(before, [canonicalize, dce]);
    expect(log.map((l) => [l.pass, l.nodesBefore, l.nodesAfter])).toEqual([
      ['canonicalize', 4, 2],
      ['dce', 2, 2],
    ]);
    expect(log[1].fired).toEqual(['dead code is dropped by construction: 2 nodes reachable from 1 output(s)']);
  });

  test('reports (and keeps) an input that graph.inputs names but no output reaches', () => {
    const x = makeNode('input', [], {}, { dtype: 'float32', shape: [2] });
    const y = makeNode('input', [], {}, { dtype: 'float32', shape: [2] });
    const g: Graph = { inputs: [x, y], outputs: [makeNode('exp', [x])] };
    const r = dce.run(g);
    expect(r.graph).toBe(g);
    expect(r.fired).toEqual([
      'dead code is dropped by construction: 2 nodes reachable from 1 output(s)',
      'kept 1 unreachable input(s) in graph.inputs: arguments bind to them by position',
    ]);
  });
});

// ---- golden cases: each .out.ir is what the pass prints for its .in.ir ----

const GOLDEN = fileURLToPath(new URL('../golden/', import.meta.url));

describe.each([
  ['canonicalize', canonicalize],
  ['cse', cse],
  ['dce', dce],
] as const)('golden cases of %s', (dir, pass) => {
  const names = readdirSync(GOLDEN + dir)
    .filter((f) => f.endsWith('.in.ir'))
    .map((f) => f.slice(0, -'.in.ir'.length))
    .sort();

  test('there are at least 6 cases, 2 of them negative, each saying why', () => {
    expect(names.length).toBeGreaterThanOrEqual(6);
    const negative = names.filter((n) => readFileSync(`${GOLDEN}${dir}/${n}.in.ir`, 'utf8').startsWith('# why: must not'));
    expect(negative.length).toBeGreaterThanOrEqual(2);
    for (const n of names) expect(readFileSync(`${GOLDEN}${dir}/${n}.in.ir`, 'utf8')).toMatch(/^# why: \S/);
  });

  test.each(names)('%s', (name) => {
    const input = readFileSync(`${GOLDEN}${dir}/${name}.in.ir`, 'utf8');
    const expected = readFileSync(`${GOLDEN}${dir}/${name}.out.ir`, 'utf8');
    const r = run(pass, input);
    expect(r.text).toBe(expected);
    // A negative case must leave the graph alone; a positive one must change it.
    expect(r.changed).toBe(!input.startsWith('# why: must not'));
  });
});

// ---- property: random elementwise/layout graphs with consts, before and after each pass, bit for bit ----

const F32_SPECIAL = [0, -0, 1, -1, 2, 0.5, 0.1, -3, 1e-45, 3.4e38, Infinity, -Infinity, NaN];
const I32_SPECIAL = [0, 1, -1, 2, 7, -2147483648, 2147483647];
/** Per op, a const that makes an identity, a near miss (x+(+0), x-(-0), x*2, x/-1) and a NaN. */
const IDENTITY_VALUES: Readonly<Record<string, readonly number[]>> = { add: [-0, 0, NaN], sub: [0, -0, NaN], mul: [1, 2, NaN], div: [1, -1, NaN] };

/**
 * Quiet NaNs with the sign bit set and with a payload: the passes must keep their bits too. Signalling NaNs
 * are out of scope: reading one from a Float32Array into a JS number quiets it, so even a copy changes it.
 */
const NEG_NAN = new Float32Array(new Uint32Array([0xffc00000]).buffer)[0];
const PAYLOAD_NAN = new Float32Array(new Uint32Array([0x7fc00123]).buffer)[0];

const UNARY = ['neg', 'abs', 'exp', 'sqrt', 'floor', 'relu', 'sign', 'reciprocal', 'tanh', 'not', 'cast'] as const;
const BINARY = ['add', 'sub', 'mul', 'div', 'maximum', 'minimum', 'lt', 'eq', 'and'] as const;
const LAYOUT = ['transpose', 'reshape', 'expand', 'slice'] as const;
const SHAPES: readonly (readonly number[])[] = [[], [3], [2, 3], [1, 3], [2, 1], [3, 2], [2, 1, 3]];
/** Shapes of each size a reshape may pick. */
const RESHAPES: Readonly<Record<number, readonly (readonly number[])[]>> = {
  1: [[], [1], [1, 1]],
  2: [[2], [1, 2], [2, 1]],
  3: [[3], [1, 3], [3, 1]],
  6: [[6], [2, 3], [3, 2], [1, 6], [6, 1], [2, 3, 1], [1, 2, 3], [2, 1, 3]],
  9: [[9], [3, 3], [1, 9], [3, 1, 3]],
  12: [[12], [2, 6], [4, 3], [2, 2, 3], [3, 4]],
};

type Step =
  | { kind: 'const'; dtype: DType; value: number; shape: number }
  | { kind: 'op'; op: string; a: number; b: number; c: number; choice: number }
  /** A binary op of a recent value and a const of its dtype: scalar, its own shape, or broadcasting it larger. */
  | { kind: 'withConst'; op: string; a: number; value: number; shape: number; swap: boolean; int: boolean }
  /** An op whose operands are all fresh consts: what constant folding must fold (or refuse, for NaN). */
  | { kind: 'constOp'; op: string; values: readonly number[]; shapes: readonly number[]; int: boolean }
  | { kind: 'repeat'; a: number }
  /** The same kind of op twice in a row on a recent value: transpose(transpose), reshape(reshape), neg(neg). */
  | { kind: 'twice'; op: 'transpose' | 'reshape' | 'neg'; a: number; first: number; second: number };

/** Operands are counted back from the newest value: small numbers make chains (neg(neg), transpose(transpose)). */
const recent = fc.oneof({ weight: 3, arbitrary: fc.nat(2) }, { weight: 1, arbitrary: fc.nat(30) });

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.oneof(
      fc.record({ kind: fc.constant('const' as const), dtype: fc.constant('float32' as DType), value: fc.constantFrom(...F32_SPECIAL), shape: fc.nat(SHAPES.length - 1) }),
      fc.record({ kind: fc.constant('const' as const), dtype: fc.constant('int32' as DType), value: fc.constantFrom(...I32_SPECIAL), shape: fc.nat(SHAPES.length - 1) }),
      fc.record({ kind: fc.constant('const' as const), dtype: fc.constant('bool' as DType), value: fc.constantFrom(0, 1), shape: fc.nat(SHAPES.length - 1) }),
    ),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('op' as const),
      op: fc.constantFrom<string>(...UNARY, ...BINARY, ...LAYOUT, 'where', 'neg', 'transpose', 'reshape', 'cast'),
      a: recent,
      b: fc.nat(30),
      c: fc.nat(30),
      choice: fc.nat(1000),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('withConst' as const),
      op: fc.constantFrom('add', 'sub', 'mul', 'div'),
      a: recent,
      value: fc.nat(2),
      shape: fc.nat(2),
      swap: fc.boolean(),
      int: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('constOp' as const),
      op: fc.constantFrom<string>(...UNARY, ...BINARY, 'where'),
      values: fc.array(fc.constantFrom(...F32_SPECIAL, ...I32_SPECIAL), { minLength: 3, maxLength: 3 }),
      shapes: fc.array(fc.nat(SHAPES.length - 1), { minLength: 3, maxLength: 3 }),
      int: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('repeat' as const), a: fc.nat(30) }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('twice' as const), op: fc.constantFrom('transpose' as const, 'reshape' as const, 'neg' as const), a: recent, first: fc.nat(1000), second: fc.nat(1000) }),
  },
);

function perms(n: number): number[][] {
  if (n === 0) return [[]];
  return perms(n - 1).flatMap((p) => Array.from({ length: n }, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)]));
}

/** Builds a graph from the steps; steps whose op does not type-check against the picked operands are skipped. */
function buildGraph(steps: readonly Step[], outputPicks: readonly number[]): Graph {
  const pool: Node[] = [
    makeNode('input', [], {}, { dtype: 'float32', shape: [2, 3] }),
    makeNode('input', [], {}, { dtype: 'float32', shape: [3] }),
    makeNode('input', [], {}, { dtype: 'int32', shape: [2, 3] }),
    makeNode('input', [], {}, { dtype: 'bool', shape: [2, 3] }),
    makeNode('input', [], {}, { dtype: 'float32', shape: [2, 1, 3] }),
    // Same types as others: distinct arguments that cse must not merge; square, so transposes keep the type.
    makeNode('input', [], {}, { dtype: 'float32', shape: [3, 3] }),
    makeNode('input', [], {}, { dtype: 'float32', shape: [3, 3] }),
  ];
  const pick = (k: number) => pool[pool.length - 1 - (k % pool.length)];
  for (const s of steps) {
    try {
      pool.push(buildStep(s, pick));
    } catch (e) {
      if (!(e instanceof WgfuseError || e instanceof Skip)) throw e;
    }
  }
  // Every value nothing else reads is an output (so most of the pool is live), plus a few picked ones.
  const read = new Set(pool.flatMap((n) => n.inputs));
  const sinks = pool.filter((n) => n.op !== 'input' && !read.has(n));
  return makeGraph([...sinks, ...outputPicks.map(pick)]);
}

class Skip extends Error {}

function buildStep(s: Step, pick: (k: number) => Node): Node {
  switch (s.kind) {
    case 'const':
      return makeNode('const', [], { value: s.value }, { dtype: s.dtype, shape: SHAPES[s.shape] });
    case 'repeat': {
      // A fresh copy of an earlier node: what cse must merge.
      const n = pick(s.a);
      if (n.op === 'input') throw new Skip();
      return makeNode(n.op, n.inputs, { ...n.attrs } as Record<string, AttrValue>, n.inputs.length === 0 ? { dtype: n.dtype, shape: n.shape } : undefined);
    }
    case 'withConst': {
      // `int` makes x an int32 value first (int32 identities differ from float32 ones).
      const x = s.int && pick(s.a).dtype !== 'int32' ? makeNode('cast', [pick(s.a)], { to: 'int32' }) : pick(s.a);
      const shape = [[], x.shape, [2, ...x.shape]][s.shape];
      const c = makeNode('const', [], { value: IDENTITY_VALUES[s.op][s.value] }, { dtype: x.dtype, shape });
      return makeNode(s.op as 'add', s.swap ? [c, x] : [x, c]);
    }
    case 'constOp': {
      const logical = s.op === 'and' || s.op === 'not';
      const dtype: DType = logical ? 'bool' : s.int ? 'int32' : 'float32';
      const c = (i: number, t: DType) => makeNode('const', [], { value: s.values[i] }, { dtype: t, shape: SHAPES[s.shapes[i]] });
      if (s.op === 'where') return makeNode('where', [c(0, 'bool'), c(1, dtype), c(2, dtype)]);
      if (s.op === 'cast') return makeNode('cast', [c(0, dtype)], { to: (['float32', 'int32', 'bool'] as const)[s.shapes[1] % 3] });
      return (UNARY as readonly string[]).includes(s.op) ? makeNode(s.op as 'neg', [c(0, dtype)]) : makeNode(s.op as 'add', [c(0, dtype), c(1, dtype)]);
    }
    case 'twice': {
      const once = buildStep({ kind: 'op', op: s.op, a: s.a, b: 0, c: 0, choice: s.first }, pick);
      return buildStep({ kind: 'op', op: s.op, a: 0, b: 0, c: 0, choice: s.second }, () => once);
    }
    case 'op':
      break;
  }
  const x = pick(s.a);
  const y = pick(s.b);
  const r = x.shape.length;
  switch (s.op) {
    case 'cast':
      return makeNode('cast', [x], { to: (['float32', 'int32', 'bool'] as const)[s.choice % 3] });
    case 'where':
      return makeNode('where', [pick(s.c), x, y]);
    case 'transpose': {
      const all = perms(r);
      return makeNode('transpose', [x], { perm: all[s.choice % all.length] });
    }
    case 'reshape': {
      const options = RESHAPES[sizeOf(x.shape)] ?? [[sizeOf(x.shape)]];
      return makeNode('reshape', [x], { shape: [...options[s.choice % options.length]] });
    }
    case 'expand': {
      if (r >= 3) throw new Skip();
      const shapes = [[...x.shape], [2, ...x.shape], x.shape.map((d) => (d === 1 ? 2 : d))];
      return makeNode('expand', [x], { shape: shapes[s.choice % 3] });
    }
    case 'slice': {
      // Drop the first or the last element of every axis longer than 1: slices of one type with different begins.
      const begin = x.shape.map((d, i) => (d > 1 && (s.choice >> i) % 2 === 1 ? 1 : 0));
      return makeNode('slice', [x], { begin, size: x.shape.map((d) => (d > 1 ? d - 1 : d)) });
    }
    default:
      return (UNARY as readonly string[]).includes(s.op) ? makeNode(s.op as 'neg', [x]) : makeNode(s.op as 'add', [x, y]);
  }
}

function argumentFor(n: Node, seed: number): TypedArray {
  const size = sizeOf(n.shape);
  const pickIndex = (i: number, m: number) => ((seed * 7919 + i * 104729) >>> 0) % m;
  if (n.dtype === 'float32') {
    const choices = [...F32_SPECIAL, NEG_NAN, PAYLOAD_NAN, -1.5, 1e-40];
    return Float32Array.from({ length: size }, (_, i) => choices[pickIndex(i, choices.length)]);
  }
  if (n.dtype === 'int32') return Int32Array.from({ length: size }, (_, i) => I32_SPECIAL[pickIndex(i, I32_SPECIAL.length)]);
  return Uint8Array.from({ length: size }, (_, i) => pickIndex(i, 2));
}

/** Each rule, by the note it writes: the generator must make every one of them fire somewhere. */
const RULES: Readonly<Record<string, readonly RegExp[]>> = {
  canonicalize: [
    /^fold transpose\(transpose\(.*\)\) at %\d+ -> transpose /,
    /^fold transpose\(transpose\(.*\)\) at %\d+ -> (%\d+|\(.*\))$/,
    /^drop identity transpose/,
    /^fold reshape\(reshape/,
    /^drop reshape to the same shape/,
    /^drop expand to the same shape/,
    /^drop cast to the same dtype/,
    /^fold neg\(neg/,
    /\(x \* 1\)/,
    /\(1 \* x\)/,
    /\(x \/ 1\)/,
    /\(x - 0\)/,
    /\(x \+ \(-0\)\)/,
    /\(\(-0\) \+ x\)/,
    /\(x \+ 0\)/,
    /\(0 \+ x\)/,
    /^fold constant (add|sub|mul|div|maximum|minimum) /,
    /^fold constant (neg|abs|exp|sqrt|floor|relu|sign|reciprocal|tanh|not) /,
    /^fold constant cast /,
    /^fold constant (lt|eq|and|where) /,
    /^fold constant (transpose|reshape|expand|slice) /,
    /^keep .* folds to NaN/,
  ],
  cse: [/^merge .* \(const /, /^merge .* \((add|sub|mul|div|maximum|minimum|lt|eq|and) /, /^merge .* \((neg|abs|exp|sqrt|floor|relu|sign|reciprocal|tanh|not|cast) /, /^merge .* \((transpose|reshape|expand|slice) /],
  dce: [/^dead code is dropped by construction/],
};

describe('property: passes keep the executor results bit for bit', () => {
  const graphArb = fc
    .tuple(fc.array(stepArb, { minLength: 1, maxLength: 25 }), fc.array(fc.nat(30), { maxLength: 2 }), fc.nat(1000))
    .map(([steps, outs, seed]) => ({ graph: buildGraph(steps, outs), seed }));

  const pipelines: readonly (readonly Pass[])[] = [[canonicalize], [cse], [dce], [canonicalize, cse], [cse, canonicalize, cse, dce]];
  test.each(pipelines.map((p) => [p.map((x) => x.name).join(','), p] as const))('%s', (_, passes) => {
    const notes: string[] = [];
    fc.assert(
      fc.property(graphArb, ({ graph, seed }) => {
        const before = printGraph(graph);
        const { graph: after, log } = runPasses(graph, passes); // verifies each result and that inputs are untouched
        expect(printGraph(graph)).toBe(before); // nodes are immutable: the input graph is unchanged
        expect(after.inputs).toEqual(graph.inputs);
        const args = graph.inputs.map((n, i) => argumentFor(n, seed + i));
        expectSameBits(graph, after, args);
        // No pass adds nodes, and the last one is idempotent: run again on its own result, it changes nothing.
        for (const l of log) expect(l.nodesAfter).toBeLessThanOrEqual(l.nodesBefore);
        expect(runPasses(after, [passes[passes.length - 1]]).graph).toBe(after);
        for (const l of log) notes.push(...l.fired);
      }),
      { numRuns: 400, seed: 7 },
    );
    // The generator must exercise every rule of every pass in the pipeline, not just unchanged graphs.
    for (const p of new Set(passes)) for (const rule of RULES[p.name]) expect(notes.some((n) => rule.test(n)), `${p.name}: ${rule}`).toBe(true);
  });

  test('after cse, no two nodes have the same op, operands and attributes', () => {
    fc.assert(
      fc.property(graphArb, ({ graph }) => {
        const { graph: after } = runPasses(graph, [cse]);
        const keys = topoOrder(after.outputs)
          .filter((n) => n.op !== 'input')
          .map((n) => {
            const attrs = Object.fromEntries(Object.entries(n.attrs).filter(([k]) => k !== 'group'));
            return `${n.op}(${n.inputs.map((i) => i.id).join(',')})${printAttrs(attrs)}:${n.dtype}[${n.shape.join(',')}]`;
          });
        expect(new Set(keys).size).toBe(keys.length);
      }),
      { numRuns: 200, seed: 11 },
    );
  });
});
