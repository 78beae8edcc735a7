import { describe, expect, it } from 'vitest';
import type { DType } from '../../src/ir/dtype.js';
import { makeNode } from '../../src/ir/node.js';
import type { AttrValue } from '../../src/ir/ops.js';
import { uniformAt } from '../../src/ir/random.js';
import type { Shape } from '../../src/ir/shape.js';
import { expectValues, run, run1 } from './helpers.js';

const leaf = (op: 'const' | 'iota' | 'rand', dtype: DType, shape: Shape, attrs: Record<string, AttrValue>) =>
  makeNode(op, [], attrs, { dtype, shape });

describe('const', () => {
  it('fills with the value coerced to the dtype', () => {
    expectValues(run1(leaf('const', 'float32', [2, 2], { value: 0.1 }), []), [0.1, 0.1, 0.1, 0.1].map(Math.fround));
    expectValues(run1(leaf('const', 'int32', [3], { value: -3.7 }), []), [-3, -3, -3]);
    expectValues(run1(leaf('const', 'int32', [1], { value: 1e10 }), []), [2147483647]);
    expectValues(run1(leaf('const', 'int32', [1], { value: NaN }), []), [0]);
    expectValues(run1(leaf('const', 'bool', [2], { value: 2 }), []), [1, 1]);
    expectValues(run1(leaf('const', 'bool', [1], { value: NaN }), []), [1]);
    expectValues(run1(leaf('const', 'bool', [1], { value: 0 }), []), [0]);
  });

  it('scalars, empty tensors and special values', () => {
    expectValues(run1(leaf('const', 'float32', [], { value: -Infinity }), []), [-Infinity]);
    expectValues(run1(leaf('const', 'float32', [3, 0], { value: 1 }), []), []);
    expectValues(run1(leaf('const', 'float32', [2], { value: NaN }), []), [NaN, NaN]);
  });
});

describe('iota', () => {
  it('is the index along its axis', () => {
    expectValues(run1(leaf('iota', 'int32', [2, 3], { axis: 0 }), []), [0, 0, 0, 1, 1, 1]);
    expectValues(run1(leaf('iota', 'int32', [2, 3], { axis: 1 }), []), [0, 1, 2, 0, 1, 2]);
    expectValues(run1(leaf('iota', 'int32', [2, 3, 2], { axis: 1 }), []), [0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 2, 2]);
    expectValues(run1(leaf('iota', 'int32', [5], { axis: 0 }), []), [0, 1, 2, 3, 4]);
    expectValues(run1(leaf('iota', 'int32', [0, 4], { axis: 1 }), []), []);
  });
});

describe('rand', () => {
  const uniform = (seed: number, shape: Shape) => run1(leaf('rand', 'float32', shape, { seed, dist: 'uniform' }), []);
  const normal = (seed: number, shape: Shape) => run1(leaf('rand', 'float32', shape, { seed, dist: 'normal' }), []);

  it('is deterministic per seed and differs across seeds', () => {
    expect(uniform(42, [1000])).toEqual(uniform(42, [1000]));
    expect(normal(42, [1000])).toEqual(normal(42, [1000]));
    const a = uniform(1, [1000]);
    const b = uniform(2, [1000]);
    expect(a.filter((v, i) => v === b[i]).length).toBeLessThan(5);
    expect(normal(1, [100])).not.toEqual(normal(2, [100]));
  });

  it('element i is uniformAt(seed, i), whatever the shape', () => {
    const flat = uniform(7, [12]);
    expect(uniform(7, [3, 4])).toEqual(flat);
    expect(uniform(7, [2, 2, 3])).toEqual(flat);
    expect(flat).toEqual(Array.from({ length: 12 }, (_, i) => uniformAt(7, i)));
    // A prefix of a longer stream: element i does not depend on the size.
    expect(uniform(7, [20]).slice(0, 12)).toEqual(flat);
  });

  it('uniform lies in [0, 1) with mean 1/2 and variance 1/12', () => {
    const xs = uniform(123, [100_000]);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.01);
    expect(Math.abs(variance - 1 / 12)).toBeLessThan(0.005);
  });

  it('normal has mean ~0 and std ~1', () => {
    const xs = normal(99, [100_000]);
    expect(xs.every(Number.isFinite)).toBe(true);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    const std = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length);
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(Math.abs(std - 1)).toBeLessThan(0.02);
    // About 68% within one standard deviation.
    const within = xs.filter((x) => Math.abs(x) < 1).length / xs.length;
    expect(Math.abs(within - 0.6827)).toBeLessThan(0.01);
  });

  it('empty shapes give empty arrays', () => {
    expect(run([leaf('rand', 'float32', [0, 5], { seed: 1, dist: 'normal' })], [])[0]).toEqual(new Float32Array(0));
  });
});
