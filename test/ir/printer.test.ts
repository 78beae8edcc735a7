import { describe, expect, test } from 'vitest';
import type { DType } from '../../src/ir/dtype.js';
import { makeGraph } from '../../src/ir/graph.js';
import { makeNode, type Node } from '../../src/ir/node.js';
import { describeNode, numberValues, printAttrs, printGraph, printNode } from '../../src/ir/printer.js';

const input = (shape: number[], dtype: DType = 'float32', name?: string) =>
  makeNode('input', [], name === undefined ? {} : { name }, { dtype, shape });
const scalar = (value: number) => makeNode('const', [], { value }, { dtype: 'float32', shape: [] });

function example(): Node {
  const x = input([128, 64]);
  const w = input([256, 64], 'float32', 'w');
  const wt = makeNode('transpose', [w], { perm: [1, 0] });
  const y = makeNode('matmul', [x, wt]);
  return makeNode('maximum', [y, scalar(0)]);
}

describe('printGraph', () => {
  test('numbers values in topological order and ends with return and a newline', () => {
    expect(printGraph(makeGraph([example()]))).toBe(
      [
        '%0 = input : f32[128,64]',
        '%1 = input {name="w"} : f32[256,64]',
        '%2 = transpose %1 {perm=[1,0]} : f32[64,256]',
        '%3 = matmul %0, %2 : f32[128,256]',
        '%4 = const {value=0} : f32[]',
        '%5 = maximum %3, %4 : f32[128,256]',
        'return %5',
        '',
      ].join('\n'),
    );
  });

  test('two separately built identical graphs print identically', () => {
    const a = example();
    const b = example();
    expect(a.id).not.toBe(b.id);
    expect(printGraph(makeGraph([b]))).toBe(printGraph(makeGraph([a])));
  });

  test('prints -0, NaN, the infinities and shortest round-trip numbers', () => {
    const values = [-0, 0, NaN, Infinity, -Infinity, 0.1, -1.5, 1e21, 5e-324, 2 ** 53];
    const text = printGraph(makeGraph(values.map(scalar)));
    const printed = text.split('\n').slice(0, -2).map((line) => /\{value=(.*)\}/.exec(line)![1]);
    expect(printed).toEqual(['-0', '0', 'NaN', 'Infinity', '-Infinity', '0.1', '-1.5', '1e+21', '5e-324', '9007199254740992']);
  });

  test('prints flags as bare keys in sorted order, drops false flags and quotes strings and dtypes', () => {
    const a = input([2, 3]);
    const b = input([3, 3]);
    const nodes = [
      makeNode('matmul', [a, b], { transB: true, transA: false }),
      makeNode('matmul', [b, a], { transB: true, transA: true }),
      makeNode('sum', [a], { keepdims: false, axes: [1] }),
      makeNode('max', [a], { keepdims: true, axes: [-1, 0] }),
      makeNode('rand', [], { seed: 7, dist: 'normal' }, { dtype: 'float32', shape: [2] }),
      makeNode('cast', [a], { to: 'int32' }),
      input([], 'bool', 'a"b\n#c // d'),
    ];
    const lines = printGraph(makeGraph(nodes)).split('\n');
    expect(lines.slice(2)).toEqual([
      '%2 = matmul %0, %1 {transB} : f32[2,3]',
      '%3 = matmul %1, %0 {transA, transB} : f32[3,2]',
      '%4 = sum %0 {axes=[1]} : f32[2]',
      '%5 = max %0 {axes=[-1,0], keepdims} : f32[1,1]',
      '%6 = rand {dist="normal", seed=7} : f32[2]',
      '%7 = cast %0 {to="int32"} : i32[2,3]',
      '%8 = input {name="a\\"b\\n#c // d"} : bool[]',
      'return %2, %3, %4, %5, %6, %7, %8',
      '',
    ]);
  });

  test('prints scalar, empty and every-dtype types', () => {
    const g = makeGraph([input([]), input([0, 3], 'int32'), makeNode('iota', [], { axis: 0 }, { dtype: 'int32', shape: [4] })]);
    expect(printGraph(g)).toBe('%0 = input : f32[]\n%1 = input : i32[0,3]\n%2 = iota {axis=0} : i32[4]\nreturn %0, %1, %2\n');
  });

  test('a shared operand, a repeated output and an input that is an output each print once', () => {
    const x = input([3]);
    const e = makeNode('exp', [x]);
    const sum = makeNode('add', [e, e]);
    expect(printGraph(makeGraph([sum, x, sum, e]))).toBe(
      '%0 = input : f32[3]\n%1 = exp %0 : f32[3]\n%2 = add %1, %1 : f32[3]\nreturn %2, %0, %2, %1\n',
    );
  });

  test('a graph without outputs is a bare return', () => {
    expect(printGraph(makeGraph([]))).toBe('return\n');
  });

  test('prints a 20k-node chain without overflowing the stack', () => {
    let node = input([2]);
    for (let i = 0; i < 20_000; i++) node = makeNode('neg', [node]);
    const lines = printGraph(makeGraph([node])).split('\n');
    expect(lines.length).toBe(20_003);
    expect(lines[20_000]).toBe('%20000 = neg %19999 : f32[2]');
    expect(lines[20_001]).toBe('return %20000');
  });
});

describe('node helpers', () => {
  const x = input([2, 3]);
  const y = input([3]);
  const z = makeNode('add', [x, y]);

  test('printNode numbers with the given map and marks unknown operands', () => {
    expect(printNode(z, numberValues([x, y, z]))).toBe('%2 = add %0, %1 : f32[2,3]');
    expect(printNode(z, new Map([[z, 5]]))).toBe('%5 = add %?, %? : f32[2,3]');
  });

  test('describeNode shows operands as their types', () => {
    expect(describeNode(z)).toBe('add f32[2,3], f32[3] : f32[2,3]');
    expect(describeNode(makeNode('transpose', [x], { perm: [1, 0] }))).toBe('transpose f32[2,3] {perm=[1,0]} : f32[3,2]');
  });

  test('printAttrs prints empty attributes as {}', () => {
    expect(printAttrs({})).toBe('{}');
    expect(printAttrs({ axes: [], keepdims: true })).toBe('{axes=[], keepdims}');
  });
});
