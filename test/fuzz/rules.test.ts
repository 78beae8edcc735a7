// The fuzzer's error rules (rules.ts) where a fuzzing run showed one wrong: each rule must say "unknown"
// exactly where a backend may differ from the CPU reference, and no more widely, or the fuzzer stops
// checking what it should.
import { describe, expect, it } from 'vitest';
import * as wg from '../../src/index.js';
import { measure, Recorder } from './error-model.js';
import { partialProductLeavesRange, prodRule, sumRule } from './rules.js';

/** The bound a rule gives `of(x)` for the exact input x. */
function boundOf(data: number[], of: (x: wg.Tensor, rec: Recorder) => wg.Tensor): number {
  const rec = new Recorder();
  const x = rec.rec(wg.tensor(data, [data.length]), () => 0);
  const y = of(x, rec);
  try {
    return measure(rec.records).E(y);
  } finally {
    rec.tensors.forEach((t) => t.dispose());
  }
}

describe('fuzzer error rules', () => {
  // Seed 403: prod of 496 exact values, two of them 0, was taken as exactly 0 ("a factor is an exact zero");
  // the GPU's partial products of the others overflowed to infinity, and infinity times 0 gave NaN.
  it('prod is unknown only where a partial product can leave the f32 range', () => {
    const prod = (data: number[]) => boundOf(data, (x, rec) => rec.rec(x.prod(), prodRule(x, [0])));
    const big = Array<number>(40).fill(16); // 16^40 = 2^160, beyond f32
    expect(prod([...big, 0])).toBe(Infinity);
    expect(prod([...big, ...Array<number>(40).fill(1 / 16)])).toBe(Infinity); // product 1, partials overflow
    expect(prod(Array<number>(40).fill(1 / 16))).toBe(Infinity); // 2^-160 underflows
    // Narrow: a zero among factors whose partial products stay in range is still exactly 0, others exact
    // or bounded as before.
    expect(prod([...Array<number>(20).fill(16), 0, ...Array<number>(20).fill(1 / 16)])).toBe(0);
    expect(prod([2, 0.5, -3, 0.25])).toBe(0);
    expect(prod([1.1, 2.3, -0.7])).toBeGreaterThan(0);
    expect(prod([1.1, 2.3, -0.7])).toBeLessThan(1e-5);
    expect(partialProductLeavesRange([...Array<number>(31).fill(16), 0], 0)).toBe(false); // 2^124
    expect(partialProductLeavesRange([...Array<number>(32).fill(16), 0], 0)).toBe(true); // 2^128
  });

  it('sum is unknown only where a partial sum can overflow', () => {
    const sum = (data: number[]) => boundOf(data, (x, rec) => rec.rec(x.sum(), sumRule(x, [0], false)));
    expect(sum([3e38, 3e38, -3e38, -3e38])).toBe(Infinity);
    expect(sum([1e38, 1e38, -1e38])).toBeLessThan(1e33);
    expect(sum([0.5, 0.25, -1])).toBe(0);
  });
});
