import { describe, expect, it } from 'vitest';
import type { TypedArray } from '../../src/ir/dtype.js';
import { ArgumentError } from '../../src/ir/errors.js';
import { makeGraph } from '../../src/ir/graph.js';
import { makeNode } from '../../src/ir/node.js';
import { executeGraph } from '../../src/runtime/cpu/executor.js';
import { expectValues, f32, i32, input, op, run, u8 } from './helpers.js';

describe('argument checking', () => {
  const x = input('float32', [2, 3], 'x');
  const k = input('int32', [2]);
  const b = input('bool', []);
  const g = makeGraph([op('neg', [x]), op('neg', [k]), op('not', [b])]);
  const good = [f32([1, 2, 3, 4, 5, 6]), i32([1, 2]), u8([1])];

  it('accepts arguments of the right types and lengths', () => {
    const [y, z, w] = executeGraph(g, good);
    expectValues(y, [-1, -2, -3, -4, -5, -6]);
    expectValues(z, [-1, -2]);
    expectValues(w, [0]);
  });

  it('rejects a wrong argument count', () => {
    expect(() => executeGraph(g, good.slice(0, 2))).toThrow(ArgumentError);
    expect(() => executeGraph(g, good.slice(0, 2))).toThrow(/3 input\(s\), got 2/);
    expect(() => executeGraph(g, [...good, f32([])])).toThrow(/got 4/);
  });

  it('rejects a wrong array type, naming the index and the expected type', () => {
    const withArg = (i: number, a: unknown) => good.map((g, j) => (j === i ? (a as TypedArray) : g));
    expect(() => executeGraph(g, withArg(0, i32([1, 2, 3, 4, 5, 6])))).toThrow(ArgumentError);
    expect(() => executeGraph(g, withArg(0, i32([1, 2, 3, 4, 5, 6])))).toThrow(/argument 0 \('x'\).*Float32Array for float32\[2,3\].*Int32Array/);
    expect(() => executeGraph(g, withArg(1, f32([1, 2])))).toThrow(/argument 1: expected Int32Array for int32\[2\], got Float32Array/);
    expect(() => executeGraph(g, withArg(2, new Uint8ClampedArray([1])))).toThrow(/argument 2.*Uint8Array for bool\[\]/);
    expect(() => executeGraph(g, withArg(2, [1]))).toThrow(ArgumentError);
  });

  it('rejects a wrong length', () => {
    expect(() => executeGraph(g, [f32([1, 2, 3]), good[1], good[2]])).toThrow(ArgumentError);
    expect(() => executeGraph(g, [f32([1, 2, 3]), good[1], good[2]])).toThrow(/argument 0.*6 elements.*got 3/);
    expect(() => executeGraph(g, [good[0], good[1], u8([])])).toThrow(/argument 2/);
  });
});

describe('outputs', () => {
  it('are fresh arrays, even for an input, a repeated node or a reshape of either', () => {
    const x = input('float32', [2, 2]);
    const y = op('neg', [x]);
    const arg = f32([1, 2, 3, 4]);
    const outs = run([x, y, y, op('reshape', [x], { shape: [4] }), op('reshape', [y], { shape: [4] })], [arg]);
    expect(new Set<TypedArray>([arg, ...outs]).size).toBe(6);
    expectValues(outs[0], [1, 2, 3, 4]);
    outs[1][0] = 100;
    expectValues(outs[2], [-1, -2, -3, -4]);
    expectValues(outs[4], [-1, -2, -3, -4]);
    outs[0][0] = 100;
    expectValues(arg, [1, 2, 3, 4]);
  });

  it('an identity transpose or expand of an input is still a copy', () => {
    const x = input('int32', [3]);
    const arg = i32([1, 2, 3]);
    const [t, e] = run([op('transpose', [x], { perm: [0] }), op('expand', [x], { shape: [3] })], [arg]);
    expect(t).not.toBe(arg);
    expect(e).not.toBe(arg);
    expectValues(e, [1, 2, 3]);
  });

  it('a graph with no inputs runs on no arguments', () => {
    const ramp = makeNode('iota', [], { axis: 0 }, { dtype: 'int32', shape: [3] });
    expectValues(run([op('add', [ramp, ramp])], [])[0], [0, 2, 4]);
  });
});

describe('evaluation order and lifetimes', () => {
  it('keeps values alive until their last use', () => {
    // x is used at the start and again at the end of a long chain; y is both an output and an operand.
    const x = input('float32', [3]);
    let h = op('mul', [x, x]);
    const y = h;
    for (let i = 0; i < 50; i++) h = op('neg', [h]);
    const z = op('add', [op('add', [h, x]), y]);
    const [zv, yv] = run([z, y], [f32([1, 2, 3])]);
    expectValues(zv, [3, 10, 21]); // x^2 + x + x^2 (an even number of negations)
    expectValues(yv, [1, 4, 9]);
  });

  it('runs a 20k-node elementwise chain without overflowing the stack', () => {
    const x = input('int32', [5]);
    let h = x;
    for (let i = 0; i < 20_000; i++) h = op('add', [h, x]);
    // (2^31 - 1) * 20001 wraps to 2^31 - 20001.
    expectValues(run([h], [i32([1, -1, 0, 3, 2147483647])])[0], [20_001, -20_001, 0, 60_003, 2147463647]);
  });
});
