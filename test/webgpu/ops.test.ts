// Every public op on WebGPU (Dawn; SwiftShader in CI) against the CPU reference, over random shapes with
// broadcasting, size-1 and odd extents, negative axes, int32 and bool, and transposed/sliced views.
import { afterAll, beforeAll, describe, it } from 'vitest';
import * as wg from '../../src/index.js';
import type { Tensor } from '../../src/api/tensor.js';
import { ARITH, EXACT, expectMatchesReference, seededTensors, TRANSCENDENTAL, type Tolerance, UNARY_FLOAT_OPS } from './differential.js';
import { testGpu } from './gpu.js';

const { randomF, randomI, randomB } = seededTensors(12345);

const SHAPE_PAIRS: [number[], number[]][] = [
  [[7], [7]],
  [[1], [13]],
  [[3, 5], [5]],
  [[4, 1, 6], [1, 3, 1]],
  [[2, 3, 4, 5], [3, 1, 5]],
  [[], [9]],
  [[0, 3], [3]],
  [[1037], [1037]],
];

beforeAll(async () => {
  const ctx = await testGpu();
  if (!ctx) return;
  ctx.device.destroy();
  await wg.init({ backend: 'webgpu', quiet: true });
});
afterAll(async () => {
  await wg.init({ backend: 'cpu', quiet: true });
});

async function check(t: Tensor, tol: Tolerance = ARITH, what?: string): Promise<void> {
  await expectMatchesReference(t, tol, what);
}

describe('webgpu elementwise ops match the CPU reference', () => {
  const binary = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const;
  for (const op of binary) {
    it(`${op}: float32 with broadcasting`, async () => {
      for (const [sa, sb] of SHAPE_PAIRS) {
        const a = op === 'pow' ? randomF(sa, 0.1, 3) : randomF(sa);
        const b = op === 'pow' ? randomF(sb, -2, 2) : randomF(sb);
        await check(a[op](b), op === 'pow' || op === 'div' ? TRANSCENDENTAL : ARITH, `${op} [${sa}] [${sb}]`);
        await check(b[op](a), op === 'pow' || op === 'div' ? TRANSCENDENTAL : ARITH, `${op} [${sb}] [${sa}]`);
      }
    });
  }
  for (const op of ['add', 'sub', 'mul', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const) {
    it(`${op}: int32 exactly, and with JS numbers`, async () => {
      for (const [sa, sb] of SHAPE_PAIRS.slice(0, 6)) {
        await check(randomI(sa)[op](randomI(sb)), EXACT, `${op} int32`);
      }
      await check(randomI([5, 3])[op](7), EXACT, `${op} int32 with a number`);
      await check(randomF([5, 3])[op](-1.5), ARITH, `${op} float32 with a number`);
    });
  }
  it('int32 arithmetic wraps around', async () => {
    const big = wg.tensor(Int32Array.from([2147483647, -2147483648, 123456789, -5]), [4], 'int32');
    await check(big.add(1), EXACT);
    await check(big.mul(big), EXACT);
    await check(big.neg().abs(), EXACT);
  });
  it('bool comparisons and where', async () => {
    await check(randomB([4, 5]).eq(randomB([5])), EXACT);
    await check(wg.where(randomB([3, 1]), randomF([3, 4]), randomF([4])), ARITH);
    await check(wg.where(randomB([6]), randomI([6]), 7), EXACT);
    await check(wg.where(randomF([2, 3]).gt(0), 1, 0), EXACT);
  });
  const unary = UNARY_FLOAT_OPS;
  for (const [name, f, tol, lo, hi] of unary) {
    it(`${name}: float32`, async () => {
      for (const shape of [[1], [7], [3, 5], [2, 3, 7], [4099]]) await check(f(randomF(shape, lo, hi)), tol, `${name} [${shape}]`);
    });
  }
  it('unary int32 ops keep int32 exactly; math ops promote to float32', async () => {
    for (const f of [(t: Tensor) => t.neg(), (t: Tensor) => t.abs(), (t: Tensor) => t.square(), (t: Tensor) => t.sign(), (t: Tensor) => t.relu(), (t: Tensor) => t.round()]) {
      await check(f(randomI([3, 7])), EXACT);
    }
    await check(randomI([5], 0, 20).sqrt(), TRANSCENDENTAL);
  });
  it('NaN and infinities follow the reference', async () => {
    const x = wg.tensor(Float32Array.from([NaN, Infinity, -Infinity, 0, -0, 1, -1, 3e38]), [8]);
    await check(x.maximum(0), EXACT);
    await check(x.minimum(0), EXACT);
    await check(x.relu(), EXACT);
    await check(x.sign(), EXACT);
    await check(x.eq(x), EXACT);
    await check(x.ne(x), EXACT);
    await check(x.cast('int32'), EXACT);
    await check(x.cast('bool'), EXACT);
    await check(x.tanh(), TRANSCENDENTAL);
    await check(x.gelu(), TRANSCENDENTAL);
  });
  it('math ops outside their domain and at its edges follow the reference (WGSL leaves them to the implementation)', async () => {
    // log of zero and of negatives, square roots of negatives, infinities and NaN: SwiftShader gave log(-3) = log(3) and log(0) = -88.
    const x = wg.tensor(Float32Array.from([NaN, Infinity, -Infinity, 0, -0, 1, -1, 3e38, -3, 0.5, -0.5, 2]), [12]);
    const SINCOS: Tolerance = { rel: 0, abs: 2 ** -11 }; // WGSL's bound on [-pi, pi], where wg_sin reduces the argument
    for (const [name, f, tol] of [
      ['log', (t: Tensor) => t.log()],
      ['sqrt', (t: Tensor) => t.sqrt()],
      ['rsqrt', (t: Tensor) => t.rsqrt()],
      ['exp', (t: Tensor) => t.exp()],
      ['reciprocal', (t: Tensor) => t.reciprocal()],
      ['sigmoid', (t: Tensor) => t.sigmoid()],
      ['abs', (t: Tensor) => t.abs()],
      ['floor', (t: Tensor) => t.floor()],
      ['x / 0', (t: Tensor) => t.div(0)],
    ] as [string, (t: Tensor) => Tensor, Tolerance?][]) {
      await check(f(x), tol ?? TRANSCENDENTAL, name);
    }
    // sin and cos of infinities and NaN (3e38 left out: f32 argument reduction has no digits left there).
    const y = wg.tensor(Float32Array.from([NaN, Infinity, -Infinity, 0, -0, 1, -1, -3, 0.5, 2]), [10]);
    await check(y.sin(), SINCOS, 'sin');
    await check(y.cos(), SINCOS, 'cos');
  });
  it('gelu keeps its relative accuracy in the negative tail (no cancellation in 1 + tanh)', async () => {
    // gelu(-9) is about -1.4e-28: an absolute tolerance would accept 0; each value must be within 1e-4 of itself.
    await check(randomF([4099], -9, -3).gelu(), { rel: 1e-4, abs: 0 }, 'gelu on [-9, -3)');
    await check(wg.tensor(Float32Array.from([-3e38, -1e4, -50, -12, 1e4, 3e38]), [6]).gelu(), { rel: 1e-4, abs: 1e-36 }, 'gelu far out');
  });
  it('casts between every pair of dtypes', async () => {
    const f = wg.tensor(Float32Array.from([-2.7, -0.5, 0, 0.5, 2.5, 1e10, -1e10, 2147483648]), [8]);
    const i = randomI([8]);
    const b = randomB([8]);
    for (const t of [f, i, b]) for (const d of ['float32', 'int32', 'bool'] as const) await check(t.cast(d), EXACT, `${t.dtype} -> ${d}`);
  });
  it('clamp, one- and two-sided', async () => {
    await check(randomF([4, 9]).clamp(-1, 1), EXACT);
    await check(randomF([4, 9]).clamp(null, 0.5), EXACT);
    await check(randomI([4, 9]).clamp(-3, 4), EXACT);
  });
});

describe('webgpu leaves: constants, ranges, identity and random numbers match', () => {
  it('zeros, ones, full, arange, eye', async () => {
    await check(wg.zeros([3, 5]), EXACT);
    await check(wg.ones([7], 'int32'), EXACT);
    await check(wg.full([2, 2], true), EXACT);
    await check(wg.arange(17), EXACT);
    await check(wg.arange(-3, 11, 3), EXACT);
    await check(wg.arange(0, 1, 0.1), ARITH);
    await check(wg.eye(5), EXACT);
    await check(wg.eye(3, 6), EXACT);
  });
  it('rand is bit-identical and randn agrees to float rounding', async () => {
    await check(wg.rand([1000], 42), EXACT);
    await check(wg.rand([3, 333], 7), EXACT);
    // Box-Muller: z = r cos(t) with r <= 5.8 for 24-bit uniforms, so cos's 2^-11 bound allows 5.8 * 2^-11.
    await check(wg.randn([2049], 3), { rel: 1e-4, abs: 5.8 * 2 ** -11 });
  });
});

describe('webgpu layout ops match, in place where strides allow', () => {
  it('reshape, transpose, T, expand, slice, squeeze, unsqueeze, concat', async () => {
    const x = randomF([2, 3, 5]);
    await check(x.reshape([5, -1]), EXACT);
    await check(x.transpose([2, 0, 1]), EXACT);
    await check(x.T, EXACT);
    await check(x.transpose([0, 2, 1]).reshape([2, 15]), EXACT);
    await check(randomF([3, 1]).expand([2, 3, 4]), EXACT);
    await check(x.slice([1, 1, 2], [1, 2, -1]), EXACT);
    await check(x.slice([-1, 0, 0]).squeeze(0), EXACT);
    await check(x.unsqueeze(-1).transpose([3, 0, 1, 2]), EXACT);
    await check(wg.concat([randomF([2, 3]), randomF([2, 1]), randomF([2, 4])], -1), EXACT);
    await check(wg.concat([randomI([1, 3]), randomI([4, 3])], 0), EXACT);
    await check(wg.concat([randomB([2]), randomB([3])]), EXACT);
  });
  it('elementwise ops read transposed, sliced and broadcast views', async () => {
    const x = randomF([6, 7]);
    await check(x.T.add(x.slice([0, 0], [6, 6]).T.sum(0, true).expand([7, 6])), ARITH);
    await check(x.slice([1, 2], [3, 4]).mul(x.slice([2, 1], [3, 4]).T.T), ARITH);
  });
});

describe('webgpu reductions match', () => {
  const shapes = [[7], [3, 5], [4, 1, 6], [2, 3, 4, 5], [1, 1025]];
  for (const op of ['sum', 'prod', 'max', 'min', 'mean', 'variance'] as const) {
    it(`${op} over every axis, all axes, negative axes, keepdims`, async () => {
      for (const shape of shapes) {
        const x = op === 'prod' ? randomF(shape, 0.8, 1.2) : randomF(shape);
        await check(x[op](), TRANSCENDENTAL, `${op}() [${shape}]`);
        for (let a = -shape.length; a < shape.length; a++) await check(x[op](a, a % 2 === 0), TRANSCENDENTAL, `${op}(${a}) [${shape}]`);
        if (shape.length > 2) await check(x[op]([0, -1], true), TRANSCENDENTAL, `${op}([0,-1]) [${shape}]`);
      }
    });
  }
  it('int32 and bool reductions are exact', async () => {
    const i = randomI([3, 4, 5]);
    for (const op of ['sum', 'prod', 'max', 'min'] as const) await check(i[op](1), EXACT, `${op} int32`);
    const b = randomB([4, 6]);
    await check(b.sum(1), EXACT);
    await check(b.max(0), EXACT);
    await check(b.min(), EXACT);
  });
  it('argmax and argmin with ties and flattening', async () => {
    const x = randomI([5, 6, 7], -3, 3);
    for (let a = -3; a < 3; a++) {
      await check(x.argmax(a), EXACT);
      await check(x.argmin(a), EXACT);
    }
    await check(randomF([4, 9]).argmax(), EXACT);
    await check(wg.tensor([1, NaN, 3, NaN]).argmax(0), EXACT);
  });
  it('softmax, logSoftmax and layerNorm', async () => {
    const x = randomF([4, 7, 9], -5, 5);
    for (const axis of [-1, 0, 1]) {
      await check(x.softmax(axis), TRANSCENDENTAL);
      await check(x.logSoftmax(axis), TRANSCENDENTAL);
    }
    await check(wg.layerNorm(x, randomF([9]), randomF([9])), { rel: 1e-4, abs: 1e-5 });
  });
});

describe('webgpu matmul matches', () => {
  it('1-D, 2-D, batched with broadcast batch dims, transposed views, odd sizes, int32', async () => {
    await check(randomF([7]).matmul(randomF([7])), TRANSCENDENTAL);
    await check(randomF([5]).matmul(randomF([5, 3])), TRANSCENDENTAL);
    await check(randomF([4, 5]).matmul(randomF([5])), TRANSCENDENTAL);
    await check(randomF([17, 13]).matmul(randomF([13, 19])), TRANSCENDENTAL);
    await check(randomF([13, 17]).T.matmul(randomF([19, 13]).T), TRANSCENDENTAL);
    await check(randomF([2, 1, 5, 6]).matmul(randomF([3, 6, 4])), TRANSCENDENTAL);
    await check(randomF([65, 1]).matmul(randomF([1, 67])), TRANSCENDENTAL);
    await check(randomF([3, 0]).matmul(randomF([0, 4])), EXACT);
    // K = 0 on tiled, aligned shapes: the empty operands' buffers (4 bytes) are not bound as vec4 arrays.
    await check(randomF([40, 0]).matmul(randomF([0, 48])), EXACT);
    await check(randomF([0, 48]).T.matmul(randomF([0, 48])), EXACT);
    await check(randomI([6, 7]).matmul(randomI([7, 5])), EXACT);
    await check(randomF([8, 9]).slice([1, 2], [5, 6]).matmul(randomF([9, 9]).slice([0, 3], [6, 4])), TRANSCENDENTAL);
  });
});
