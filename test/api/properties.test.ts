// Property tests (fast-check) of the public API against plain-JS references: broadcasting, layout round trips,
// reductions over random axes, slicing, concat and matmul.
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.js';
import {
  broadcastShape,
  expectClose,
  expectExact,
  f32,
  refBinary,
  refMatmul,
  refReduce,
  refTranspose,
  sizeOf,
  stridesOf,
} from './helpers.js';

beforeAll(async () => {
  await wg.init({ backend: 'cpu', quiet: true });
});

const RUNS = { numRuns: 60, seed: 20240601 };

/** A shape of rank 0..4 with extents 0..5 (0 rarely). */
const shapeArb = (maxRank = 4, minExtent = 1) =>
  fc.array(fc.oneof({ weight: 9, arbitrary: fc.integer({ min: Math.max(1, minExtent), max: 5 }) }, { weight: minExtent === 0 ? 1 : 0, arbitrary: fc.constant(0) }), {
    minLength: 0,
    maxLength: maxRank,
  });

/** f32-representable values with a few specials. */
const f32Value = fc.oneof(
  { weight: 20, arbitrary: fc.integer({ min: -1000, max: 1000 }).map((k) => k / 8) },
  { weight: 1, arbitrary: fc.constantFrom(0, -0, f32(1e-3), f32(3.4e38)) },
);

/** Two shapes that broadcast: derive the second from the first by dropping leading axes and setting some to 1. */
const broadcastPairArb = shapeArb(4, 0).chain((sa) =>
  fc
    .tuple(
      fc.integer({ min: 0, max: sa.length }),
      fc.array(fc.boolean(), { minLength: sa.length, maxLength: sa.length }),
      fc.array(fc.boolean(), { minLength: sa.length, maxLength: sa.length }),
      fc.boolean(),
    )
    .map(([drop, onesB, onesA, swap]) => {
      const sb = sa.slice(drop).map((d, i) => (onesB[i + drop] ? 1 : d));
      const a = sa.map((d, i) => (onesA[i] && !onesB[i] ? 1 : d));
      return swap ? ([sb, a] as const) : ([a, sb] as const);
    }),
);

describe('properties', () => {
  it('add/sub/mul/maximum with broadcasting match a naive broadcast (float32, exact)', async () => {
    await fc.assert(
      fc.asyncProperty(
        broadcastPairArb.chain(([sa, sb]) =>
          fc.tuple(
            fc.constant(sa),
            fc.constant(sb),
            fc.array(f32Value, { minLength: sizeOf(sa), maxLength: sizeOf(sa) }),
            fc.array(f32Value, { minLength: sizeOf(sb), maxLength: sizeOf(sb) }),
            fc.constantFrom('add', 'sub', 'mul', 'maximum', 'minimum') as fc.Arbitrary<'add' | 'sub' | 'mul' | 'maximum' | 'minimum'>,
          ),
        ),
        async ([sa, sb, a, b, op]) => {
          const fn = {
            add: (x: number, y: number) => f32(x + y),
            sub: (x: number, y: number) => f32(x - y),
            mul: (x: number, y: number) => f32(x * y),
            maximum: Math.max,
            minimum: Math.min,
          }[op];
          const exp = refBinary(a, sa, b, sb, fn);
          const r = wg.tensor(a, [...sa])[op](wg.tensor(b, [...sb]));
          expect(r.shape).toEqual(exp.shape);
          expectExact(await r.data(), exp.data);
        },
      ),
      RUNS,
    );
  });

  it('int32 add/mul with broadcasting wrap like Math.imul / |0', async () => {
    await fc.assert(
      fc.asyncProperty(
        broadcastPairArb.chain(([sa, sb]) =>
          fc.tuple(
            fc.constant(sa),
            fc.constant(sb),
            fc.array(fc.integer({ min: -2147483648, max: 2147483647 }), { minLength: sizeOf(sa), maxLength: sizeOf(sa) }),
            fc.array(fc.integer({ min: -2147483648, max: 2147483647 }), { minLength: sizeOf(sb), maxLength: sizeOf(sb) }),
          ),
        ),
        async ([sa, sb, a, b]) => {
          const ta = wg.tensor(Int32Array.from(a), [...sa]);
          const tb = wg.tensor(Int32Array.from(b), [...sb]);
          expect(Array.from(await ta.add(tb).data())).toEqual(refBinary(a, sa, b, sb, (x, y) => (x + y) | 0).data);
          expect(Array.from(await ta.mul(tb).data())).toEqual(refBinary(a, sa, b, sb, Math.imul).data);
          expect(Array.from(await ta.lt(tb).data())).toEqual(refBinary(a, sa, b, sb, (x, y) => +(x < y)).data);
        },
      ),
      RUNS,
    );
  });

  it('shapes that do not broadcast throw a ShapeError at the call', () => {
    fc.assert(
      fc.property(shapeArb(4), shapeArb(4), (sa, sb) => {
        const ok = broadcastShape(sa, sb) !== null;
        const call = () => wg.zeros(sa).add(wg.zeros(sb));
        if (ok) expect(call().shape).toEqual(broadcastShape(sa, sb));
        else expect(call).toThrow(wg.ShapeError);
      }),
      { numRuns: 200, seed: 7 },
    );
  });

  it('transpose by a random permutation matches strided indexing, and the inverse permutation restores it', async () => {
    await fc.assert(
      fc.asyncProperty(
        shapeArb(5, 0).chain((shape) =>
          fc.tuple(
            fc.constant(shape),
            fc.shuffledSubarray([...shape.keys()], { minLength: shape.length, maxLength: shape.length }),
          ),
        ),
        async ([shape, perm]) => {
          const xs = Array.from({ length: sizeOf(shape) }, (_, i) => i);
          const x = wg.tensor(Int32Array.from(xs), [...shape]);
          const t = x.transpose(perm);
          const exp = refTranspose(xs, shape, perm);
          expect(t.shape).toEqual(exp.shape);
          expect(Array.from(await t.data())).toEqual(exp.data);
          const inv = new Array<number>(perm.length);
          perm.forEach((p, i) => (inv[p] = i));
          const back = t.transpose(inv);
          expect(back.shape).toEqual([...shape]);
          expect(Array.from(await back.data())).toEqual(xs);
        },
      ),
      RUNS,
    );
  });

  it('reshape to a random factorisation and back is the identity; row-major order is kept', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 5 }),
        fc.boolean(),
        async (factors, cuts, useMinusOne) => {
          const n = factors.reduce((a, b) => a * b, 1);
          const shape = [...factors];
          // group factors into a different shape
          const target: number[] = [];
          let acc = 1;
          factors.forEach((fct, i) => {
            acc *= fct;
            if (cuts[i % cuts.length] % 2 === 0 || i === factors.length - 1) {
              target.push(acc);
              acc = 1;
            }
          });
          const xs = Array.from({ length: n }, (_, i) => i * 3 - 7);
          const x = wg.tensor(Int32Array.from(xs), shape);
          const req = useMinusOne ? target.map((d, i) => (i === 0 ? -1 : d)) : target;
          const r = x.reshape(req);
          expect(r.shape).toEqual(target);
          expect(Array.from(await r.data())).toEqual(xs);
          const back = r.reshape(shape);
          expect(Array.from(await back.data())).toEqual(xs);
          // reshape after a transpose reads the transposed order
          if (shape.length >= 2) {
            const tr = x.T.reshape([-1]);
            expect(Array.from(await tr.data())).toEqual(refTranspose(xs, shape, [...shape.keys()].reverse()).data);
          }
        },
      ),
      RUNS,
    );
  });

  it('sum / max / min over random axis sets (negative too, keepdims) match naive loops', async () => {
    await fc.assert(
      fc.asyncProperty(
        shapeArb(4, 0).chain((shape) =>
          fc.tuple(
            fc.constant(shape),
            fc.subarray([...shape.keys()]),
            fc.array(fc.boolean(), { minLength: shape.length, maxLength: shape.length }),
            fc.boolean(),
            fc.array(fc.integer({ min: -50, max: 50 }), { minLength: sizeOf(shape), maxLength: sizeOf(shape) }),
          ),
        ),
        async ([shape, axes, negative, keep, data]) => {
          const ax = axes.map((a, i) => (negative[i] ? a - shape.length : a));
          const xi = wg.tensor(Int32Array.from(data), [...shape]);
          const xf = wg.tensor(data.map((v) => v / 4), [...shape]);
          const s = refReduce(data, shape, axes, 0, (p, v) => p + v, keep);
          const si = xi.sum(ax, keep);
          expect(si.shape).toEqual(s.shape);
          expect(Array.from(await si.data())).toEqual(s.data);
          const sf = xf.sum(ax, keep);
          expectClose(
            await sf.data(),
            s.data.map((v) => v / 4),
            1e-6,
            1e-6,
          );
          const emptyAxis = axes.some((a) => shape[a] === 0);
          if (!emptyAxis) {
            const mx = refReduce(data, shape, axes, -Infinity, Math.max, keep);
            expect(Array.from(await xi.max(ax, keep).data())).toEqual(mx.data);
            const mn = refReduce(data, shape, axes, Infinity, Math.min, keep);
            expect(Array.from(await xf.min(ax, keep).data())).toEqual(mn.data.map((v) => v / 4));
          } else {
            expect(() => xi.max(ax, keep)).toThrow(wg.ShapeError);
          }
        },
      ),
      RUNS,
    );
  });

  it('slice with random begin/size (negative begin, size -1) matches strided indexing', async () => {
    await fc.assert(
      fc.asyncProperty(
        shapeArb(4, 0).chain((shape) =>
          fc.tuple(
            fc.constant(shape),
            fc.tuple(...shape.map((d) => fc.tuple(fc.integer({ min: 0, max: d }), fc.nat(), fc.boolean(), fc.boolean()))),
          ),
        ),
        async ([shape, specs]) => {
          const begin: number[] = [];
          const reqBegin: number[] = [];
          const size: number[] = [];
          const reqSize: number[] = [];
          specs.forEach(([b0, s0, negB, toEnd], i) => {
            const d = shape[i];
            const sz = toEnd ? d - b0 : s0 % (d - b0 + 1);
            begin.push(b0);
            size.push(sz);
            reqBegin.push(negB && b0 < d ? b0 - d : b0);
            reqSize.push(toEnd ? -1 : sz);
          });
          const xs = Array.from({ length: sizeOf(shape) }, (_, i) => i);
          const st = stridesOf(shape);
          const exp: number[] = [];
          for (let i = 0; i < sizeOf(size); i++) {
            let rem = i;
            let off = 0;
            for (let a = size.length - 1; a >= 0; a--) {
              off += (begin[a] + (rem % size[a])) * st[a];
              rem = Math.floor(rem / size[a]);
            }
            exp.push(xs[off]);
          }
          const s = wg.tensor(Int32Array.from(xs), [...shape]).slice(reqBegin, reqSize);
          expect(s.shape).toEqual(size);
          expect(Array.from(await s.data())).toEqual(exp);
        },
      ),
      RUNS,
    );
  });

  it('concat then slice recovers each piece', async () => {
    await fc.assert(
      fc.asyncProperty(
        shapeArb(3, 1).filter((s) => s.length > 0),
        fc.nat(),
        fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 4 }),
        async (base, axisSeed, extents) => {
          const axis = axisSeed % base.length;
          let counter = 0;
          const parts = extents.map((k) => {
            const shape = base.map((d, i) => (i === axis ? k : d));
            const data = Array.from({ length: sizeOf(shape) }, () => counter++);
            return { shape, data, t: wg.tensor(Int32Array.from(data), shape) };
          });
          const c = wg.concat(
            parts.map((p) => p.t),
            axis - base.length, // negative axis
          );
          const total = extents.reduce((a, b) => a + b, 0);
          expect(c.shape).toEqual(base.map((d, i) => (i === axis ? total : d)));
          let off = 0;
          for (const p of parts) {
            const begin = base.map((_, i) => (i === axis ? off : 0));
            const piece = c.slice(begin, p.shape);
            expect(Array.from(await piece.data())).toEqual(p.data);
            off += p.shape[axis];
          }
        },
      ),
      RUNS,
    );
  });

  it('matmul of random (batched, broadcast) int32 operands equals the naive product exactly', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 5 }),
        fc.integer({ min: 0, max: 5 }),
        fc.integer({ min: 0, max: 5 }),
        broadcastPairArb.filter(([a, b]) => a.length <= 2 && b.length <= 2),
        fc.integer(),
        async (m, k, n, [ba, bb], seed) => {
          const sa = [...ba, m, k];
          const sb = [...bb, k, n];
          let s = seed;
          const gen = () => {
            s = (Math.imul(s, 1103515245) + 12345) | 0;
            return ((s >>> 16) % 21) - 10;
          };
          const a = Array.from({ length: sizeOf(sa) }, gen);
          const b = Array.from({ length: sizeOf(sb) }, gen);
          const exp = refMatmul(a, sa, b, sb);
          const r = wg.tensor(Int32Array.from(a), sa).matmul(wg.tensor(Int32Array.from(b), sb));
          expect(r.shape).toEqual(exp.shape);
          expect(Array.from(await r.data())).toEqual(exp.data);
        },
      ),
      RUNS,
    );
  });

  it('softmax rows are positive and sum to 1 for any finite input', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 13 }),
        fc.array(fc.float({ min: -80, max: 80, noNaN: true, noDefaultInfinity: true }), { minLength: 1, maxLength: 40 }),
        async (cols, raw) => {
          const rows = Math.max(1, Math.floor(raw.length / cols));
          const data = Array.from({ length: rows * cols }, (_, i) => raw[i % raw.length]);
          const p = await wg.tensor(data, [rows, cols]).softmax().data();
          for (let r = 0; r < rows; r++) {
            let s = 0;
            for (let c = 0; c < cols; c++) {
              expect(p[r * cols + c]).toBeGreaterThanOrEqual(0);
              s += p[r * cols + c];
            }
            expect(Math.abs(s - 1)).toBeLessThan(1e-5);
          }
        },
      ),
      RUNS,
    );
  });
});
