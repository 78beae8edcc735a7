import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DType } from '../../src/ir/dtype.js';
import type { OpName } from '../../src/ir/ops.js';
import type { Shape } from '../../src/ir/shape.js';
import { asF32, broadcastRead, expectClose, expectValues, f32, i32, input, op, randomData, rng, run, run1, size, u8, unravel } from './helpers.js';

const INT_MAX = 2147483647;
const INT_MIN = -2147483648;

function unaryOn(name: OpName, dtype: DType, values: readonly number[], attrs = {}): number[] {
  const x = input(dtype, [values.length]);
  const data = dtype === 'float32' ? f32(values) : dtype === 'int32' ? i32(values) : u8(values);
  return run1(op(name, [x], attrs), [data]);
}

function binaryOn(name: OpName, dtype: DType, a: readonly number[], b: readonly number[]): number[] {
  const make = dtype === 'float32' ? f32 : dtype === 'int32' ? i32 : u8;
  const x = input(dtype, [a.length]);
  const y = input(dtype, [b.length]);
  return run1(op(name, [x, y]), [make(a), make(b)]);
}

describe('float unary ops', () => {
  const xs = [-2.5, -1, -0.5, 0, 0.5, 1.5, 2.5, 3.7];

  it('neg, abs, square, sign, relu', () => {
    expectValues(unaryOn('neg', 'float32', xs), asF32([2.5, 1, 0.5, 0, -0.5, -1.5, -2.5, -3.7]));
    expectValues(unaryOn('abs', 'float32', xs), asF32([2.5, 1, 0.5, 0, 0.5, 1.5, 2.5, 3.7]));
    expectValues(unaryOn('square', 'float32', [-3, 0.5, 1.5]), [9, 0.25, 2.25]);
    expectValues(unaryOn('sign', 'float32', [-7.5, -0.1, 0, 0.1, 42, -Infinity]), [-1, -1, 0, 1, 1, -1]);
    expectValues(unaryOn('relu', 'float32', [-3, -0.5, 0, 0.5, 2]), [0, 0, 0, 0.5, 2]);
  });

  it('sign(-0) is +0 in both cases and NaN stays NaN in sign and relu', () => {
    const [s0, sneg0] = unaryOn('sign', 'float32', [0, -0]);
    expect(Object.is(s0, 0)).toBe(true);
    expect(Object.is(sneg0, 0)).toBe(true);
    expect(unaryOn('sign', 'float32', [NaN])[0]).toBeNaN();
    expect(unaryOn('relu', 'float32', [NaN])[0]).toBeNaN();
  });

  it('floor and ceil', () => {
    expectValues(unaryOn('floor', 'float32', [-1.5, -1, -0.2, 0.2, 1, 1.7]), [-2, -1, -1, 0, 1, 1]);
    expectValues(unaryOn('ceil', 'float32', [-1.5, -1, -0.2, 0.2, 1, 1.7]), [-1, -1, 0, 1, 1, 2]);
  });

  it('round is half-to-even', () => {
    const halves = [0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, -3.5];
    expectValues(unaryOn('round', 'float32', halves), [0, 2, 2, 4, 0, -2, -2, -4]);
    expectValues(unaryOn('round', 'float32', [0.49999997, 2.4, 2.6, -2.6, -2.4, 1e9 + 0.5, 7]), [0, 2, 3, -3, -2, 1e9, 7]);
  });

  it('transcendental functions', () => {
    expectClose(unaryOn('exp', 'float32', [0, 1, -1]), [1, 2.718281828, 0.3678794412]);
    expectClose(unaryOn('log', 'float32', [1, 10, Math.E]), [0, 2.302585093, 1]);
    expectClose(unaryOn('sqrt', 'float32', [0, 4, 2]), [0, 2, 1.414213562]);
    expectClose(unaryOn('rsqrt', 'float32', [4, 2, 0.25]), [0.5, 0.7071067812, 2]);
    expectClose(unaryOn('reciprocal', 'float32', [4, -0.5, 3]), [0.25, -2, 0.3333333333]);
    expectClose(unaryOn('sin', 'float32', [0, 1, Math.PI / 2]), [0, 0.8414709848, 1]);
    expectClose(unaryOn('cos', 'float32', [0, 1, Math.PI]), [1, 0.5403023059, -1]);
    expectClose(unaryOn('tanh', 'float32', [0, 0.5, -0.5, 20]), [0, 0.4621171573, -0.4621171573, 1]);
    expectClose(unaryOn('sigmoid', 'float32', [0, 2, -2, -100]), [0.5, 0.8807970780, 0.1192029220, 0]);
    // The tanh approximation, not the erf form (gelu_erf(1) = 0.8413447).
    expectClose(unaryOn('gelu', 'float32', [0, 1, -1, 2, 0.5]), [0, 0.8411919906, -0.1588080094, 1.954597694, 0.3457140098]);
  });

  it('gelu keeps its relative accuracy for negative x, where 1 + tanh(u) cancels', () => {
    // gelu(x) = x e^(2u) / (1 + e^(2u)), u = sqrt(2/pi) (x + 0.044715 x^3): for these x, e^(2u) is below 1e-16,
    // so the value is x e^(2u) to 16 digits; the tanh form gives 0 below x = -5.3.
    const xs = [-6, -8, -9, -10];
    const want = xs.map((x) => Math.fround(x * Math.exp(2 * Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))));
    const got = unaryOn('gelu', 'float32', xs);
    got.forEach((g, i) => expect(Math.abs(g - want[i]) / Math.abs(want[i]), `gelu(${xs[i]}) = ${g}, want ${want[i]}`).toBeLessThan(1e-6));
    expectValues(unaryOn('gelu', 'float32', [-Infinity, Infinity, -0, -1e5]), [NaN, Infinity, -0, -0]);
  });

  it('domain edges give IEEE results', () => {
    expectValues(unaryOn('log', 'float32', [0, -1]), [-Infinity, NaN]);
    expectValues(unaryOn('sqrt', 'float32', [-1]), [NaN]);
    expectValues(unaryOn('rsqrt', 'float32', [0]), [Infinity]);
    expectValues(unaryOn('reciprocal', 'float32', [0, -0]), [Infinity, -Infinity]);
    expectValues(unaryOn('exp', 'float32', [100, -200]), [Infinity, 0]);
  });

  it('rounds each result to f32 on store', () => {
    expect(unaryOn('square', 'float32', [4097])[0]).toBe(16785408); // 4097^2 = 16785409 is not representable in f32
  });
});

describe('int32 unary ops', () => {
  it('wrap around in two’s complement', () => {
    expectValues(unaryOn('neg', 'int32', [5, -5, 0, INT_MIN, INT_MAX]), [-5, 5, 0, INT_MIN, -INT_MAX]);
    expectValues(unaryOn('abs', 'int32', [5, -5, 0, INT_MIN]), [5, 5, 0, INT_MIN]);
    expectValues(unaryOn('square', 'int32', [-7, 46340, 46341, 65536]), [49, 2147395600, -2147479015, 0]);
  });

  it('sign and relu', () => {
    expectValues(unaryOn('sign', 'int32', [-9, 0, 3, INT_MIN, INT_MAX]), [-1, 0, 1, -1, 1]);
    expectValues(unaryOn('relu', 'int32', [-9, 0, 3, INT_MIN]), [0, 0, 3, 0]);
  });

  it('floor, ceil and round are the identity', () => {
    for (const name of ['floor', 'ceil', 'round'] as const) {
      expectValues(unaryOn(name, 'int32', [-3, 0, 7, INT_MIN, INT_MAX]), [-3, 0, 7, INT_MIN, INT_MAX]);
    }
  });
});

describe('bool ops', () => {
  it('not, and, or', () => {
    expectValues(unaryOn('not', 'bool', [0, 1]), [1, 0]);
    expectValues(binaryOn('and', 'bool', [0, 0, 1, 1], [0, 1, 0, 1]), [0, 0, 0, 1]);
    expectValues(binaryOn('or', 'bool', [0, 0, 1, 1], [0, 1, 0, 1]), [0, 1, 1, 1]);
  });

  it('comparisons on bools', () => {
    expectValues(binaryOn('eq', 'bool', [0, 0, 1, 1], [0, 1, 0, 1]), [1, 0, 0, 1]);
    expectValues(binaryOn('lt', 'bool', [0, 0, 1, 1], [0, 1, 0, 1]), [0, 1, 0, 0]);
  });
});

describe('cast', () => {
  it('float32 to int32 truncates toward zero and saturates, NaN -> 0', () => {
    expectValues(unaryOn('cast', 'float32', [1.9, -1.9, -0.5, 3e9, -3e9, NaN, Infinity, -Infinity, 2147483520], { to: 'int32' }), [
      1, -1, 0, INT_MAX, INT_MIN, 0, INT_MAX, INT_MIN, 2147483520,
    ]);
  });

  it('to bool is x != 0, NaN is true', () => {
    expectValues(unaryOn('cast', 'float32', [0, -0, NaN, 0.1, -3, Infinity], { to: 'bool' }), [0, 0, 1, 1, 1, 1]);
    expectValues(unaryOn('cast', 'int32', [0, 5, -1, INT_MIN], { to: 'bool' }), [0, 1, 1, 1]);
  });

  it('int32 to float32 rounds to f32', () => {
    expectValues(unaryOn('cast', 'int32', [16777217, -7, INT_MAX], { to: 'float32' }), [16777216, -7, 2147483648]);
  });

  it('bool reads as 0/1 and same-type casts are the identity', () => {
    expectValues(unaryOn('cast', 'bool', [0, 1], { to: 'float32' }), [0, 1]);
    expectValues(unaryOn('cast', 'bool', [0, 1], { to: 'int32' }), [0, 1]);
    expectValues(unaryOn('cast', 'int32', [INT_MIN, 3], { to: 'int32' }), [INT_MIN, 3]);
    expectValues(unaryOn('cast', 'float32', [1.5, NaN], { to: 'float32' }), [1.5, NaN]);
  });
});

describe('binary ops', () => {
  it('float arithmetic', () => {
    expectValues(binaryOn('add', 'float32', [1, 2.5, -1], [2, 0.25, 1]), [3, 2.75, 0]);
    expectValues(binaryOn('sub', 'float32', [1, 2.5, -1], [2, 0.25, 1]), [-1, 2.25, -2]);
    expectValues(binaryOn('mul', 'float32', [1, 2.5, -1], [2, 0.25, 1]), [2, 0.625, -1]);
    expectValues(binaryOn('div', 'float32', [1, -1, 0, 7], [0, 0, 0, 2]), [Infinity, -Infinity, NaN, 3.5]);
    expectValues(binaryOn('pow', 'float32', [2, 4, -8, 0, -2], [10, 0.5, 1 / 3, 0, 3]), [1024, 2, NaN, 1, -8]);
    expectValues(binaryOn('maximum', 'float32', [1, -2, 3], [2, -3, 3]), [2, -2, 3]);
    expectValues(binaryOn('minimum', 'float32', [1, -2, 3], [2, -3, 3]), [1, -3, 3]);
  });

  it('float results round to f32 per op', () => {
    expectValues(binaryOn('add', 'float32', [16777216], [1]), [16777216]);
    expectValues(binaryOn('add', 'float32', [0.1], [0.2]), asF32([0.30000001192092896]));
  });

  it('maximum and minimum propagate NaN from either side', () => {
    expectValues(binaryOn('maximum', 'float32', [NaN, 1, NaN], [1, NaN, NaN]), [NaN, NaN, NaN]);
    expectValues(binaryOn('minimum', 'float32', [NaN, 1, NaN], [1, NaN, NaN]), [NaN, NaN, NaN]);
  });

  it('comparisons with NaN are false except ne', () => {
    const a = [NaN, 1, NaN];
    const b = [1, NaN, NaN];
    for (const name of ['eq', 'lt', 'le', 'gt', 'ge'] as const) expectValues(binaryOn(name, 'float32', a, b), [0, 0, 0]);
    expectValues(binaryOn('ne', 'float32', a, b), [1, 1, 1]);
  });

  it('comparisons on numbers', () => {
    const a = [1, 2, 3];
    const b = [2, 2, 2];
    expectValues(binaryOn('eq', 'int32', a, b), [0, 1, 0]);
    expectValues(binaryOn('ne', 'int32', a, b), [1, 0, 1]);
    expectValues(binaryOn('lt', 'int32', a, b), [1, 0, 0]);
    expectValues(binaryOn('le', 'int32', a, b), [1, 1, 0]);
    expectValues(binaryOn('gt', 'float32', a, b), [0, 0, 1]);
    expectValues(binaryOn('ge', 'float32', a, b), [0, 1, 1]);
    expectValues(binaryOn('eq', 'float32', [0], [-0]), [1]);
  });

  it('int32 arithmetic wraps', () => {
    expectValues(binaryOn('add', 'int32', [INT_MAX, INT_MIN, 3], [1, -1, -5]), [INT_MIN, INT_MAX, -2]);
    expectValues(binaryOn('sub', 'int32', [INT_MIN, INT_MAX, 3], [1, -1, 5]), [INT_MAX, INT_MIN, -2]);
    expectValues(binaryOn('mul', 'int32', [65536, 46341, -7, INT_MIN], [65536, 46341, 6, -1]), [0, -2147479015, -42, INT_MIN]);
    expectValues(binaryOn('maximum', 'int32', [INT_MIN, 5], [INT_MAX, -5]), [INT_MAX, 5]);
    expectValues(binaryOn('minimum', 'int32', [INT_MIN, 5], [INT_MAX, -5]), [INT_MIN, -5]);
  });

  it('broadcasts a row, a column and a scalar', () => {
    const m = input('float32', [2, 3]);
    const row = input('float32', [3]);
    const col = input('float32', [2, 1]);
    const s = input('float32', []);
    expectValues(run1(op('add', [m, row]), [f32([1, 2, 3, 4, 5, 6]), f32([10, 20, 30])]), [11, 22, 33, 14, 25, 36]);
    expectValues(run1(op('sub', [m, col]), [f32([1, 2, 3, 4, 5, 6]), f32([1, 4])]), [0, 1, 2, 0, 1, 2]);
    expectValues(run1(op('mul', [s, m]), [f32([2]), f32([1, 2, 3, 4, 5, 6])]), [2, 4, 6, 8, 10, 12]);
    // [2,1] against [3] broadcasts both operands to [2,3].
    expectValues(run1(op('sub', [col, row]), [f32([100, 200]), f32([1, 2, 3])]), [99, 98, 97, 199, 198, 197]);
  });

  it('handles empty tensors, also broadcast against size-1 axes', () => {
    const a = input('float32', [0, 3]);
    const b = input('float32', [1, 3]);
    expect(run([op('add', [a, b])], [f32([]), f32([1, 2, 3])])[0]).toEqual(new Float32Array(0));
    const c = input('int32', [2, 0]);
    expect(run([op('neg', [c])], [i32([])])[0]).toEqual(new Int32Array(0));
  });
});

describe('where', () => {
  it('selects per element', () => {
    const c = input('bool', [4]);
    const a = input('float32', [4]);
    const b = input('float32', [4]);
    expectValues(run1(op('where', [c, a, b]), [u8([1, 0, 0, 1]), f32([1, 2, 3, 4]), f32([-1, -2, -3, -4])]), [1, -2, -3, 4]);
  });

  it('broadcasts all three operands', () => {
    const c = input('bool', [2, 1]);
    const a = input('int32', [3]);
    const b = input('int32', []);
    expectValues(run1(op('where', [c, a, b]), [u8([1, 0]), i32([1, 2, 3]), i32([-9])]), [1, 2, 3, -9, -9, -9]);
  });

  it('keeps NaN from the selected side only', () => {
    const c = input('bool', [2]);
    const a = input('float32', [2]);
    const b = input('float32', [2]);
    expectValues(run1(op('where', [c, a, b]), [u8([1, 0]), f32([NaN, NaN]), f32([5, 6])]), [NaN, 6]);
  });
});

/** Three operand shapes cut from one random shape (dropped leading axes, size-1 axes), plus a data seed. */
const broadcastCase = fc
  .array(fc.constantFrom(0, 1, 2, 3, 5, 7), { minLength: 0, maxLength: 4 })
  .chain((full) => fc.tuple(operandShape(full), operandShape(full), operandShape(full), fc.integer({ min: 0, max: 2 ** 31 - 1 })));

function operandShape(out: number[]): fc.Arbitrary<number[]> {
  return fc
    .tuple(fc.integer({ min: 0, max: out.length }), fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length }))
    .map(([drop, ones]) => out.slice(drop).map((d, i) => (ones[drop + i] ? 1 : d)));
}

function broadcastOut(a: Shape, b: Shape): number[] {
  const n = Math.max(a.length, b.length);
  return Array.from({ length: n }, (_, i) => {
    const da = a[a.length - n + i] ?? 1;
    return da === 1 ? (b[b.length - n + i] ?? 1) : da;
  });
}

describe('elementwise against a naive multi-index reference', () => {
  const cases: [OpName, DType, (a: number, b: number) => number][] = [
    ['add', 'float32', (a, b) => Math.fround(a + b)],
    ['mul', 'float32', (a, b) => Math.fround(a * b)],
    ['maximum', 'float32', (a, b) => (a > b ? a : b)],
    ['lt', 'float32', (a, b) => Number(a < b)],
    ['sub', 'int32', (a, b) => (a - b) | 0],
    ['mul', 'int32', (a, b) => Number(BigInt.asIntN(32, BigInt(a) * BigInt(b)))],
    ['ge', 'int32', (a, b) => Number(a >= b)],
    ['or', 'bool', (a, b) => Number(a === 1 || b === 1)],
  ];

  for (const [name, dtype, ref] of cases) {
    it(`${name} on ${dtype}`, () => {
      fc.assert(
        fc.property(broadcastCase, ([sa, sb, , seed]) => {
          const out = broadcastOut(sa, sb);
          const next = rng(seed);
          const da = randomData(dtype, sa, next);
          const db = randomData(dtype, sb, next);
          const got = run1(op(name, [input(dtype, sa), input(dtype, sb)]), [da, db]);
          const want = Array.from({ length: size(out) }, (_, i) => {
            const idx = unravel(i, out);
            return ref(broadcastRead(da, sa, idx), broadcastRead(db, sb, idx));
          });
          expectValues(got, want);
        }),
        { numRuns: 60 },
      );
    });
  }

  it('where on float32', () => {
    fc.assert(
      fc.property(broadcastCase, ([sa, sb, sc, seed]) => {
        const out = broadcastOut(broadcastOut(sc, sa), sb);
        const next = rng(seed);
        const [dc, da, db] = [randomData('bool', sc, next), randomData('float32', sa, next), randomData('float32', sb, next)];
        const got = run1(op('where', [input('bool', sc), input('float32', sa), input('float32', sb)]), [dc, da, db]);
        const want = Array.from({ length: size(out) }, (_, i) => {
          const idx = unravel(i, out);
          return broadcastRead(dc, sc, idx) ? broadcastRead(da, sa, idx) : broadcastRead(db, sb, idx);
        });
        expectValues(got, want);
      }),
      { numRuns: 60 },
    );
  });

  it('unary float ops match Math on random f32 values', () => {
    const refs: [OpName, (x: number) => number][] = [
      ['exp', Math.exp],
      ['tanh', Math.tanh],
      ['abs', Math.abs],
      ['floor', Math.floor],
    ];
    fc.assert(
      fc.property(fc.array(fc.float({ noNaN: true, min: -50, max: 50 }), { maxLength: 13 }), (xs) => {
        for (const [name, ref] of refs) expectValues(unaryOn(name, 'float32', xs), xs.map((x) => Math.fround(ref(Math.fround(x)))));
      }),
      { numRuns: 40 },
    );
  });
});
