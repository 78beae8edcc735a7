import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { DTYPES, type DType } from '../../src/ir/dtype.js';
import { ParseError, WgfuseError } from '../../src/ir/errors.js';
import { makeGraph, type Graph } from '../../src/ir/graph.js';
import { makeNode, type Node } from '../../src/ir/node.js';
import { OP_NAMES, OPS, type AttrValue, type OpName } from '../../src/ir/ops.js';
import { parseGraph } from '../../src/ir/parser.js';
import { printGraph } from '../../src/ir/printer.js';
import { verifyGraph } from '../../src/ir/verify.js';

const input = (shape: number[], dtype: DType = 'float32') => makeNode('input', [], {}, { dtype, shape });
const f32 = (...shape: number[]) => input(shape);
const i32 = (...shape: number[]) => input(shape, 'int32');
const bool = (...shape: number[]) => input(shape, 'bool');
const un = (op: OpName, x = f32(2, 3)) => () => makeNode(op, [x]);
const bin = (op: OpName, a = f32(2, 3), b = f32(3)) => () => makeNode(op, [a, b]);

/** One sample node per op; the Record type makes the compiler demand a sample for every op added to OPS. */
const SAMPLES: Record<OpName, () => Node> = {
  input: () => makeNode('input', [], { name: 'x "quoted" # not a comment' }, { dtype: 'float32', shape: [2, 3] }),
  const: () => makeNode('const', [], { value: -0 }, { dtype: 'int32', shape: [0, 3] }),
  iota: () => makeNode('iota', [], { axis: 1 }, { dtype: 'int32', shape: [2, 5] }),
  rand: () => makeNode('rand', [], { seed: 3, dist: 'uniform' }, { dtype: 'float32', shape: [4] }),
  neg: un('neg', i32(4)),
  abs: un('abs'),
  square: un('square'),
  sign: un('sign', i32()),
  relu: un('relu'),
  floor: un('floor'),
  ceil: un('ceil'),
  round: un('round'),
  exp: un('exp'),
  log: un('log'),
  sqrt: un('sqrt'),
  rsqrt: un('rsqrt'),
  reciprocal: un('reciprocal'),
  sin: un('sin'),
  cos: un('cos'),
  tanh: un('tanh'),
  sigmoid: un('sigmoid'),
  gelu: un('gelu'),
  not: un('not', bool(2)),
  cast: () => makeNode('cast', [f32(2)], { to: 'bool' }),
  add: bin('add'),
  sub: bin('sub', i32(1, 4), i32(3, 1)),
  mul: bin('mul'),
  div: bin('div'),
  pow: bin('pow'),
  maximum: bin('maximum'),
  minimum: bin('minimum'),
  eq: bin('eq', bool(2), bool(2)),
  ne: bin('ne'),
  lt: bin('lt', i32(2), i32()),
  le: bin('le'),
  gt: bin('gt'),
  ge: bin('ge'),
  and: bin('and', bool(2), bool(2)),
  or: bin('or', bool(), bool(3)),
  where: () => makeNode('where', [bool(2, 1), f32(3), f32()]),
  reshape: () => makeNode('reshape', [f32(2, 3)], { shape: [3, 1, 2] }),
  transpose: () => makeNode('transpose', [f32(2, 3, 4)], { perm: [2, 0, 1] }),
  expand: () => makeNode('expand', [f32(3, 1)], { shape: [2, 3, 4] }),
  slice: () => makeNode('slice', [f32(5, 6)], { begin: [1, 0], size: [3, 6] }),
  concat: () => makeNode('concat', [f32(2, 3), f32(2, 0), f32(2, 1)], { axis: -1 }),
  sum: () => makeNode('sum', [i32(2, 3)], { axes: [0, 1] }),
  prod: () => makeNode('prod', [f32(2, 3)], { axes: [1], keepdims: true }),
  max: () => makeNode('max', [bool(2, 3)], { axes: [] }),
  min: () => makeNode('min', [f32(2, 0)], { axes: [0] }),
  argmax: () => makeNode('argmax', [f32(2, 3)], { axis: 1 }),
  argmin: () => makeNode('argmin', [i32(2, 3)], { axis: 0, keepdims: true }),
  matmul: () => makeNode('matmul', [f32(5, 3, 2), f32(4, 3)], { transA: true, transB: true }),
  syrk: () => makeNode('syrk', [f32(2, 5, 3)], { transA: true }),
};

function roundTrips(graph: Graph): string {
  const text = printGraph(graph);
  expect(printGraph(parseGraph(text))).toBe(text);
  return text;
}

function parseError(text: string): ParseError {
  try {
    parseGraph(text);
  } catch (e) {
    if (e instanceof ParseError) return e;
    throw e;
  }
  throw new Error(`expected a ParseError for:\n${text}`);
}

describe('round trip: parse(print(g)) prints as g', () => {
  test.each(OP_NAMES)('%s', (op) => {
    const node = SAMPLES[op]();
    expect(node.op).toBe(op);
    const text = roundTrips(makeGraph([node]));
    expect(text).toContain(` = ${op}`);
  });

  test('all ops in one graph, with shared operands', () => {
    const nodes = OP_NAMES.map((op) => SAMPLES[op]());
    const x = f32(2, 3);
    const y = makeNode('exp', [x]);
    roundTrips(makeGraph([...nodes, makeNode('mul', [y, y]), y]));
  });

  test('several outputs, a repeated output and an input that is an output', () => {
    const x = f32(3);
    const y = makeNode('neg', [x]);
    expect(roundTrips(makeGraph([y, x, y, y]))).toMatch(/return %1, %0, %1, %1\n$/);
  });

  test('a graph without outputs', () => {
    expect(roundTrips(makeGraph([]))).toBe('return\n');
  });

  test('special const values and odd input names', () => {
    const values = [NaN, Infinity, -Infinity, -0, 0, 5e-324, -1.7976931348623157e308, 1e21, 0.1 + 0.2];
    const consts = values.map((value) => makeNode('const', [], { value }, { dtype: 'float32', shape: [] }));
    const names = ['', 'a,b}', '\n\t"\\', '\u2028 é 😀 \ud800', '%0 = input : f32[]', 'x // y # z'];
    const inputs = names.map((name) => makeNode('input', [], { name }, { dtype: 'bool', shape: [0, 3] }));
    const parsed = parseGraph(roundTrips(makeGraph([...consts, ...inputs])));
    expect(parsed.outputs.map((n) => n.attrs.value).slice(0, values.length)).toEqual(values);
    expect(Object.is(parsed.outputs[3].attrs.value, -0)).toBe(true);
    expect(parsed.outputs.slice(values.length).map((n) => n.attrs.name)).toEqual(names);
  });

  test('20k-node chains parse without overflowing the stack', () => {
    let deep = f32(2);
    for (let i = 0; i < 20_000; i++) deep = makeNode(i % 2 ? 'neg' : 'exp', [deep]);
    let wide = f32(2);
    for (let i = 0; i < 20_000; i++) wide = makeNode('add', [wide, f32(2)]);
    roundTrips(makeGraph([deep]));
    const parsed = parseGraph(roundTrips(makeGraph([wide])));
    expect(parsed.inputs.length).toBe(20_001);
  });

  // A guard against accidental quadratic work, not a benchmark: the bound is loose so a loaded machine passes.
  test('a 1000-node graph prints and parses in linear time', () => {
    let x = f32(64, 32);
    const w = f32(32, 32);
    for (let i = 0; i < 250; i++) {
      const y = makeNode('matmul', [x, w], { transB: i % 2 === 1 });
      const b = makeNode('const', [], { value: i / 7 }, { dtype: 'float32', shape: [32] });
      x = makeNode('tanh', [makeNode('add', [y, b])]);
    }
    const g = makeGraph([x]);
    roundTrips(g); // warm up the JIT
    const start = performance.now();
    const text = printGraph(g);
    parseGraph(text);
    const ms = performance.now() - start;
    expect(text.split('\n').length).toBeGreaterThan(1000);
    expect(ms).toBeLessThan(500);
  });
});

describe('parsing hand-written text', () => {
  test('skips blank and comment lines, accepts any value names and renumbers them', () => {
    const text = [
      '# a model',
      '// weights first',
      '',
      '  %w = input {name="w"} : f32[3,2]   # trailing comment',
      '%x=input:f32[4,3]// no spaces',
      '\t%x.t = transpose %x { perm = [ 1 , 0 ] } : f32[3,4]',
      '%12 = matmul %x.t, %w {transA} : f32[4,2]',
      '%neg_1 = const {value=-1.5e0} : f32[]',
      '%y = mul %12, %neg_1 : f32[4,2]',
      'return %y, %w  # two outputs',
      '# done',
    ].join('\r\n');
    expect(printGraph(parseGraph(text))).toBe(
      [
        '%0 = input : f32[4,3]',
        '%1 = transpose %0 {perm=[1,0]} : f32[3,4]',
        '%2 = input {name="w"} : f32[3,2]',
        '%3 = matmul %1, %2 {transA} : f32[4,2]',
        '%4 = const {value=-1.5} : f32[]',
        '%5 = mul %3, %4 : f32[4,2]',
        'return %5, %2',
        '',
      ].join('\n'),
    );
  });

  test('graph.inputs are the input leaves in topological order, not text order', () => {
    const g = parseGraph('%b = input {name="b"} : f32[]\n%a = input {name="a"} : f32[]\n%s = sub %a, %b : f32[]\nreturn %s');
    expect(g.inputs.map((n) => n.attrs.name)).toEqual(['a', 'b']);
  });

  test('explicit attribute values: flags as true/false, -Infinity, NaN and empty lists', () => {
    const text = [
      '%0 = input : f32[2,3]',
      '%1 = input : f32[4,3]',
      '%2 = matmul %0, %1 {transA=false, transB=true} : f32[2,4]',
      '%3 = const {value=-Infinity} : f32[2,4]',
      '%4 = const {value=NaN} : f32[]',
      '%5 = max %2 {axes=[], keepdims=false} : f32[2,4]',
      '%6 = add %5, %3 {} : f32[2,4]',
      'return %6, %4',
    ].join('\n');
    const printed = printGraph(parseGraph(text)).split('\n');
    expect(printed.slice(2, 6)).toEqual([
      '%2 = matmul %0, %1 {transB} : f32[2,4]',
      '%3 = max %2 {axes=[]} : f32[2,4]',
      '%4 = const {value=-Infinity} : f32[2,4]',
      '%5 = add %3, %4 : f32[2,4]',
    ]);
  });
});

describe('parse errors point at the offending token', () => {
  const def0 = '%0 = input : f32[2]\n';
  const cases: [string, string, number, number, string][] = [
    ['empty text', '', 1, 1, "expected a 'return' line"],
    ['missing return', def0, 2, 1, "expected a 'return' line"],
    ['unknown op', `${def0}%1 = frob %0 : f32[2]\nreturn %1`, 2, 6, "unknown op 'frob'"],
    ['undefined value', `${def0}%1 = neg %x : f32[2]\nreturn %1`, 2, 10, '%x is not defined'],
    ['use before definition', `${def0}%1 = add %0, %2 : f32[2]\n%2 = neg %0 : f32[2]\nreturn %1`, 2, 14, '%2 is not defined'],
    ['duplicate definition', `${def0}%0 = neg %0 : f32[2]\nreturn %0`, 2, 1, '%0 is already defined on line 1'],
    ['wrong annotated shape', `${def0}%1 = neg %0 : f32[3]\nreturn %1`, 2, 15, 'neg: annotated type f32[3] differs from the inferred f32[2]'],
    ['wrong annotated dtype', `${def0}%1 = lt %0, %0 : f32[2]\nreturn %1`, 2, 18, 'differs from the inferred bool[2]'],
    ['unknown attribute', `${def0}%1 = neg %0 {axis=1} : f32[2]\nreturn %1`, 2, 14, "neg has no attribute 'axis' (it takes group)"],
    ['inherited property as attribute', `${def0}%1 = sum %0 {constructor} : f32[]\nreturn %1`, 2, 14, "sum has no attribute 'constructor' (it takes axes, keepdims, group)"],
    ['duplicate attribute', `${def0}%1 = sum %0 {axes=[0], axes=[0]} : f32[]\nreturn %1`, 2, 24, "duplicate attribute 'axes'"],
    ['bad attribute value', `${def0}%1 = sum %0 {axes=all} : f32[]\nreturn %1`, 2, 19, "expected an attribute value (a number, a string, true, false or [1,2]), got 'all'"],
    ['missing attribute (from makeNode)', '%0 = const : f32[]\nreturn %0', 1, 6, "const: missing attribute 'value'"],
    ['wrong attribute type (from makeNode)', `${def0}%1 = cast %0 {to="f64"} : f32[2]\nreturn %1`, 2, 6, "cast: attribute 'to' must be dtype"],
    ['shape error (from makeNode)', `${def0}%1 = input : f32[3]\n%2 = add %0, %1 : f32[2]\nreturn %2`, 3, 6, 'add: shapes [2] and [3] cannot be broadcast'],
    ['dtype error (from makeNode)', '%0 = input : i32[2]\n%1 = exp %0 : i32[2]\nreturn %1', 2, 6, 'exp: operand has dtype int32[2]'],
    ['wrong arity (from makeNode)', `${def0}%1 = add %0 : f32[2]\nreturn %1`, 2, 6, 'add: expects 2 operand(s), got 1'],
    ['missing comma between operands', `${def0}%1 = add %0 %0 : f32[2]\nreturn %1`, 2, 13, "expected ':' and the result type, got '%0'"],
    ['missing colon', '%0 = input f32[2]\nreturn %0', 1, 12, "expected ':' and the result type, got 'f32'"],
    ['unknown dtype', '%0 = input : f64[2]\nreturn %0', 1, 14, "expected a result type such as f32[2,3] (f32, i32 or bool), got 'f64'"],
    ['negative dimension', '%0 = input : f32[2,-1]\nreturn %0', 1, 20, "expected a non-negative integer dimension, got '-1'"],
    ['fractional dimension', '%0 = input : f32[2.5]\nreturn %0', 1, 18, "expected a non-negative integer dimension, got '2.5'"],
    ['unclosed shape', '%0 = input : f32[2,3\nreturn %0', 1, 21, "expected ',' or ']', got the end of the line"],
    ['trailing garbage', `${def0}return %0 %0`, 2, 11, "expected the end of the line, got '%0'"],
    ['unexpected character', '%0 = input : f32[2] ?\nreturn %0', 1, 21, 'unexpected character "?"'],
    ['tab counts as one column', '\t%0 = input : f32[2] $\nreturn %0', 1, 22, 'unexpected character "$"'],
    ['bare %', '%0 = input : f32[2]\n%1 = neg % : f32[2]\nreturn %1', 2, 10, "expected a value name after '%'"],
    ['unterminated string', '%0 = input {name="abc} : f32[2]\nreturn %0', 1, 18, 'malformed or unterminated string literal'],
    ['raw control character in a string', '%0 = input {name="a\u0001"} : f32[2]\nreturn %0', 1, 18, 'malformed or unterminated string literal'],
    ['line without a definition', `${def0}neg %0 : f32[2]\nreturn %0`, 2, 1, "expected a definition '%name = op ...' or 'return', got 'neg'"],
    ['missing =', '%0 input : f32[2]\nreturn %0', 1, 4, "expected '=' after %0, got 'input'"],
    ['duplicate return', `${def0}return %0\n\nreturn %0`, 4, 1, "duplicate 'return' (the first is on line 2)"],
    ['statement after return', `${def0}return %0\n%1 = neg %0 : f32[2]`, 3, 1, "expected nothing after 'return' on line 2"],
    ['undefined output', `${def0}return %0, %1`, 2, 12, '%1 is not defined'],
    ['unused value', `${def0}%1 = input : f32[2]\nreturn %1`, 1, 1, "%0 is never used: every value must reach 'return'"],
  ];

  test.each(cases)('%s', (_name, text, line, column, message) => {
    const e = parseError(text);
    expect(e.message).toContain(message);
    expect([e.line, e.column]).toEqual([line, column]);
    expect(e.message.startsWith(`${line}:${column}: `)).toBe(true);
  });

  test('malformed text never escapes as anything but a ParseError', () => {
    const good = printGraph(makeGraph(OP_NAMES.map((op) => SAMPLES[op]())));
    const edit = fc.record({ at: fc.nat(), del: fc.nat({ max: 3 }), ins: fc.string({ unit: fc.constantFrom(...'%=,{}[]:"#/\\-. 0123456789aefNIrx\n'), maxLength: 4 }) });
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 3 }), (edits) => {
        let text = good;
        for (const { at, del, ins } of edits) {
          const i = at % (text.length + 1);
          text = text.slice(0, i) + ins + text.slice(i + del);
        }
        try {
          parseGraph(text);
        } catch (e) {
          expect(e).toBeInstanceOf(ParseError);
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('property: random graphs round-trip and verify', () => {
  // A random program is a few typed inputs and a list of steps; a step that makeNode rejects is skipped, so
  // every generated graph is well typed while ops still meet odd shapes and dtypes.
  const RANDOM_OPS: OpName[] = [
    'neg', 'abs', 'exp', 'log', 'relu', 'tanh', 'not', 'cast', 'add', 'sub', 'mul', 'div', 'maximum', 'eq', 'lt', 'and',
    'where', 'sum', 'prod', 'max', 'min', 'argmax', 'argmin', 'reshape', 'transpose', 'expand', 'slice', 'concat', 'const',
  ];
  const leafArb = fc.record({
    dtype: fc.constantFrom(...DTYPES),
    shape: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }),
    name: fc.option(fc.string({ unit: 'binary', maxLength: 6 }), { nil: undefined }),
  });
  const stepArb = fc.record({ op: fc.constantFrom(...RANDOM_OPS), a: fc.nat(), b: fc.nat(), c: fc.nat(), seed: fc.nat(), value: fc.double() });
  const programArb = fc.record({
    leaves: fc.array(leafArb, { minLength: 1, maxLength: 3 }),
    steps: fc.array(stepArb, { maxLength: 30 }),
    outputs: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
  });

  function stepAttrs(op: OpName, x: Node, seed: number): Record<string, AttrValue> {
    const rank = x.shape.length;
    const bit = (i: number) => ((seed >> i) & 1) === 1;
    switch (op) {
      case 'sum': case 'prod': case 'max': case 'min':
        return { axes: x.shape.map((_, i) => i).filter((i) => bit(i)), keepdims: bit(8) };
      case 'argmax': case 'argmin':
        return { axis: rank ? (seed % (2 * rank)) - rank : 0, keepdims: bit(8) };
      case 'cast':
        return { to: DTYPES[seed % 3] };
      case 'reshape':
        return { shape: bit(0) ? [...x.shape].reverse() : [x.shape.reduce((p, d) => p * d, 1)] };
      case 'transpose':
        return { perm: x.shape.map((_, i) => (i + seed) % rank) };
      case 'expand':
        return { shape: [1 + (seed % 3), ...x.shape.map((d) => (d === 1 && bit(1) ? 3 : d))] };
      case 'slice': {
        const begin = x.shape.map((d) => seed % (d + 1));
        return { begin, size: x.shape.map((d, i) => (d - begin[i]) >> (bit(2) ? 1 : 0)) };
      }
      case 'concat':
        return { axis: rank ? seed % rank : 0 };
      default:
        return {};
    }
  }

  type Program = typeof programArb extends fc.Arbitrary<infer T> ? T : never;

  function build(p: Program, seen: Set<OpName>): Graph {
    const pool: Node[] = p.leaves.map((l) => makeNode('input', [], l.name === undefined ? {} : { name: l.name }, { dtype: l.dtype, shape: l.shape }));
    for (const s of p.steps) {
      const [x, y, z] = [s.a, s.b, s.c].map((k) => pool[k % pool.length]);
      try {
        if (s.op === 'const') {
          pool.push(makeNode('const', [], { value: s.value }, { dtype: DTYPES[s.seed % 3], shape: x.shape }));
          seen.add('const');
          continue;
        }
        const arity = OPS[s.op].arity === -1 ? 1 + (s.seed % 3) : OPS[s.op].arity;
        pool.push(makeNode(s.op, [x, y, z].slice(0, arity), stepAttrs(s.op, x, s.seed)));
        seen.add(s.op);
      } catch (e) {
        if (!(e instanceof WgfuseError)) throw e;
      }
    }
    return makeGraph(p.outputs.map((k) => pool[k % pool.length]));
  }

  test('parse(print(g)) prints as g, and verify accepts both', () => {
    const seen = new Set<OpName>();
    fc.assert(
      fc.property(programArb, (p) => {
        const g = build(p, seen);
        verifyGraph(g);
        const text = printGraph(g);
        const parsed = parseGraph(text);
        verifyGraph(parsed);
        expect(printGraph(parsed)).toBe(text);
      }),
      { numRuns: 500 },
    );
    // The generator must really exercise the ops, not skip every step as ill-typed.
    expect([...seen].sort()).toEqual([...RANDOM_OPS].sort());
  });
});
