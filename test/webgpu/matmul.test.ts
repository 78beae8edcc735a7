// The matmul kernels (src/shaders/matmul.ts) against the CPU reference executor: an IR matmul (with
// transA/transB, batch broadcasting, a slice feeding it, an epilogue of IR ops) runs on the CPU, and its
// operand layouts are mapped to MatrixOperand strides by hand for the kernel, which runs on typed arrays
// through the kernel harness. Both variants run every shape (forced), so each path sees odd and prime
// sizes, sizes around the tile (63, 64, 65), k = 0, m = 1 and n = 1.
//
// Outputs are pre-filled with a sentinel (NaN, or an unlikely int), so an element the kernel fails to
// write is a failure even where the expected value is 0.
//
// Float tolerance, derived rather than guessed: the kernel sums k products in f32 (in some order, maybe
// with fma); the reference sums in f64 and rounds once. With u = 2^-24 (f32 unit roundoff, WGSL's + and *
// being correctly rounded), a dot product computed in floating point in any order satisfies
// |computed - exact| <= gamma_k * sum_p |a_p b_p|, gamma_k = k u / (1 - k u) (Higham, Accuracy and
// Stability of Numerical Algorithms, 3.1), and the reference is within u |exact| <= u * sum |a_p b_p| of
// exact. So |gpu - ref| <= (gamma_k + u) * S with S = sum_p |a_p||b_p|, which the reference computes as
// |A| @ |B| (S itself rounded to f32: a factor 1 + 2^-20 covers that). This is a worst-case bound, so it
// never flakes, yet a single wrong or missing term (|a_p b_p| ~ 0.25 on average) is far outside it.
import { afterAll, describe, expect, it } from 'vitest';
import type { DType } from '../../src/ir/dtype.js';
import { makeGraph } from '../../src/ir/graph.js';
import { makeNode } from '../../src/ir/node.js';
import { matrixDims } from '../../src/ir/ops.js';
import { sizeOf, stridesOf, type Shape } from '../../src/ir/shape.js';
import { executeGraph } from '../../src/runtime/cpu/executor.js';
import type { KernelBuffer } from '../../src/shaders/elementwise.js';
import type { Access, ExprStep } from '../../src/shaders/expr.js';
import {
  chooseMatmul,
  chooseMatmulVariant,
  DIRECT_GEMV_MAX_K,
  DIRECT_MAX_K,
  DIRECT_MAX_OUTPUTS,
  GEMV_OVER_DIRECT_EXTENT,
  generateMatmul,
  GEMV_K,
  GEMV_K_MIN_SPLIT_K,
  GEMV_N,
  planMatmul,
  TILE_LARGE,
  TILE_LARGE_FRAG,
  TILE_LARGE_PAIRS,
  TILE_LARGE_STAGED,
  TILE_LARGE_VEC4,
  TILE_MEDIUM,
  TILE_SMALL_K,
  TILE_NARROW,
  TILE_NARROW_M,
  TILE_NARROW_N,
  TILE_SKINNY_M16,
  TILE_SKINNY_M32,
  TILE_SKINNY_N16,
  TILE_SKINNY_N32,
  TILE_SPLIT,
  type GemvConfig,
  type MatmulOptions,
  type MatmulSpec,
  type MatmulVariant,
  type TileConfig,
  MID_NARROW_MAX_K,
} from '../../src/shaders/matmul.js';
import { tileConfigError, tileName } from '../../src/shaders/gemm-tiled.js';
import type { TypedArray } from '../../src/ir/dtype.js';
import { compileGraph } from '../../src/lowering/compile.js';
import { Storage } from '../../src/runtime/storage.js';
import { WebGpuBackend } from '../../src/runtime/webgpu/backend.js';
import { testGpu } from './gpu.js';
import { rng } from './differential.js';
import { nanOutsideSlice, operand, runProgram, type DeviceArray } from './kernel-harness.js';

const ctx = await testGpu();
afterAll(() => ctx?.device.destroy());
const gpuIt = it.skipIf(!ctx);

const U = 2 ** -24;
const VARIANTS: readonly MatmulVariant[] = ['tiled', 'direct'];
const DIRECT: readonly MatmulVariant[] = ['direct'];
const FLOAT_SENTINEL = NaN;
const INT_SENTINEL = 0x5eadbeef;

type MDType = 'float32' | 'int32';
type Gen = (next: () => number) => number;
const smallFloats: Gen = (next) => next() * 2 - 1;
const smallInts: Gen = (next) => Math.floor(next() * 41) - 20;
const anyInts: Gen = (next) => (next() * 2 ** 32) | 0;

interface Case {
  readonly dtype?: MDType;
  /** Stored shapes of the operands, before transA/transB. */
  readonly a: Shape;
  readonly b: Shape;
  readonly transA?: boolean;
  readonly transB?: boolean;
  /** A is slice(begin, a) of a stored tensor of shape `from`. */
  readonly aSlice?: { readonly from: Shape; readonly begin: readonly number[] };
  /** Epilogue relu(acc * 2 + bias[n]). */
  readonly epilogue?: boolean;
  /** The result goes transposed (per batch matrix) into a larger buffer, at an offset. */
  readonly transposedStore?: boolean;
  readonly gen?: Gen;
  readonly seed?: number;
  readonly options?: MatmulOptions;
  /** forVariants runs the case only under these (default: both); cheap cases run on the direct variant only. */
  readonly variants?: readonly MatmulVariant[];
  /** The program's variant must match this (e.g. /splitK3/). */
  readonly expectVariant?: RegExp;
}

function randomArray(dtype: MDType, length: number, gen: Gen, next: () => number): Float32Array | Int32Array {
  const xs = Array.from({ length }, () => gen(next));
  return dtype === 'float32' ? Float32Array.from(xs) : Int32Array.from(xs);
}

const input = (dtype: DType, shape: Shape) => makeNode('input', [], {}, { dtype, shape });
const scalar = (value: number, dtype: DType) => makeNode('const', [], { value }, { dtype, shape: [] });

interface Built {
  readonly spec: MatmulSpec;
  readonly data: Record<string, DeviceArray>;
  /** The expected stored result, in the layout of the `out` buffer (sentinels where nothing is written). */
  readonly expected: ArrayLike<number>;
  /** Per element of `out`: the allowed |gpu - expected| (0: exact). */
  readonly tolerance: ArrayLike<number>;
}

function build(c: Case): Built {
  const dtype = c.dtype ?? 'float32';
  const next = rng(c.seed ?? 1);
  const gen = c.gen ?? (dtype === 'float32' ? smallFloats : smallInts);
  const aStored = c.aSlice?.from ?? c.a;
  const aIn = input(dtype, aStored);
  const aNode = c.aSlice ? makeNode('slice', [aIn], { begin: [...c.aSlice.begin], size: [...c.a] }) : aIn;
  const bIn = input(dtype, c.b);
  const transA = c.transA === true;
  const transB = c.transB === true;
  const mm = makeNode('matmul', [aNode, bIn], { transA, transB });
  const batch = mm.shape.slice(0, -2);
  const [m, n] = mm.shape.slice(-2);
  const k = matrixDims(c.a, transA)[1];

  const aData = randomArray(dtype, sizeOf(aStored), gen, next);
  if (c.aSlice && dtype === 'float32') {
    // Outside the slice the stored tensor holds NaN: a kernel that reads outside its view (and multiplies
    // what it read by a zero from the other operand's padding) produces NaN.
    nanOutsideSlice(aData, c.aSlice.from, c.aSlice.begin, c.a);
  }
  const bData = randomArray(dtype, sizeOf(c.b), gen, next);
  const biasData = randomArray(dtype, n, gen, next);
  const biasIn = input(dtype, [n]);
  // The reference epilogue as IR ops: relu(acc * 2 + bias) with relu spelled as maximum(x, 0).
  const result = c.epilogue
    ? makeNode('maximum', [makeNode('add', [makeNode('mul', [mm, scalar(2, dtype)]), biasIn]), scalar(0, dtype)])
    : mm;
  const args = (a: ArrayLike<number>, b: ArrayLike<number>, bias: ArrayLike<number>) => (g: ReturnType<typeof makeGraph>) =>
    g.inputs.map((node) => {
      const src = node === aIn ? a : node === bIn ? b : node === biasIn ? bias : null;
      if (!src) throw new Error('unexpected graph input');
      return dtype === 'float32' ? Float32Array.from(src) : Int32Array.from(src);
    });
  const g = makeGraph([result]);
  const ref = executeGraph(g, args(aData, bData, biasData)(g))[0];

  // Per-output bound for float32 (see the top of the file); int32 is exact.
  let bound: ArrayLike<number> = new Float64Array(ref.length);
  if (dtype === 'float32') {
    const gs = makeGraph([mm]);
    const s = executeGraph(gs, args(aData.map(Math.abs), bData.map(Math.abs), [])(gs))[0];
    const gammaK = (k * U) / (1 - k * U);
    const accTol = Array.from(s, (x) => (gammaK + U) * x * (1 + 2 ** -20));
    // Epilogue: 2 * acc is exact, so the error doubles; the add rounds once on each side (u |y| each, with
    // |y| <= 2 S + 2 accTol + |bias|); relu (maximum with 0) cannot increase a difference.
    bound = c.epilogue
      ? accTol.map((t, i) => 2 * t + 2 * U * (2 * s[i] + 2 * t + Math.abs(biasData[i % n])) * (1 + 2 ** -20))
      : accTol;
  }

  // The output buffer: row-major, or each batch matrix transposed, after a gap of `pad` sentinels.
  const pad = c.transposedStore ? 7 : 0;
  const storeStrides = c.transposedStore ? [...stridesOf(batch).map((s) => s * m * n), 1, m] : stridesOf(mm.shape);
  const store: Access = { offset: pad, strides: storeStrides };
  const sentinel = dtype === 'float32' ? FLOAT_SENTINEL : INT_SENTINEL;
  const outLength = pad + ref.length;
  const expected = new Float64Array(outLength).fill(sentinel);
  const tolerance = new Float64Array(outLength);
  const outShape = mm.shape;
  const rm = stridesOf(outShape);
  for (let i = 0; i < ref.length; i++) {
    let at = pad;
    for (let d = 0; d < outShape.length; d++) at += Math.floor(i / rm[d]) % outShape[d] * storeStrides[d];
    expected[at] = ref[i];
    tolerance[at] = bound[i];
  }

  const aStrides = stridesOf(aStored);
  const aOffset = c.aSlice ? c.aSlice.begin.reduce((acc, b, d) => acc + b * aStrides[d], 0) : 0;
  const buffers: KernelBuffer[] = [
    { name: 'in0', dtype, access: 'read' },
    { name: 'in1', dtype, access: 'read' },
    ...(c.epilogue ? [{ name: 'in2', dtype, access: 'read' } as const] : []),
    { name: 'out', dtype, access: 'read_write' },
  ];
  const steps: ExprStep[] = [
    { kind: 'value', name: 'acc', dtype },
    { kind: 'op', op: 'const', args: [], attrs: { value: 2 }, dtype },
    { kind: 'op', op: 'mul', args: [0, 1], attrs: {}, dtype },
    // bias[n] broadcast over batch and rows: stride 1 along the column axis only.
    { kind: 'load', buffer: 'in2', dtype, access: { offset: 0, strides: [...batch.map(() => 0), 0, 1] } },
    { kind: 'op', op: 'add', args: [2, 3], attrs: {}, dtype },
    { kind: 'op', op: 'const', args: [], attrs: { value: 0 }, dtype },
    { kind: 'op', op: 'maximum', args: [4, 5], attrs: {}, dtype },
  ];
  const spec: MatmulSpec = {
    dtype,
    batch,
    m,
    n,
    k,
    a: operand('in0', aNode.shape, aStrides, aOffset, transA, batch),
    b: operand('in1', c.b, stridesOf(c.b), 0, transB, batch),
    ...(c.epilogue ? { epilogue: { expr: { steps }, step: steps.length - 1 } } : {}),
    buffers,
    store: { buffer: 'out', access: store },
  };
  const out = dtype === 'float32' ? new Float32Array(outLength).fill(sentinel) : new Int32Array(outLength).fill(sentinel);
  const data: Record<string, DeviceArray> = { in0: aData, in1: bData, out };
  if (c.epilogue) data.in2 = biasData;
  return { spec, data, expected, tolerance };
}

/** Runs the case's kernel and compares every element of `out`, listing the first mismatches. */
async function check(c: Case): Promise<void> {
  const { spec, data, expected, tolerance } = build(c);
  const program = planMatmul(spec, c.options);
  if (c.expectVariant) expect(program.variant).toMatch(c.expectVariant);
  const result = await runProgram(ctx!.device, program, spec.buffers, data);
  const actual = result.out;
  const bad: string[] = [];
  let count = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i];
    const a = actual[i];
    const ok = Number.isNaN(e) ? Number.isNaN(a) : Math.abs(a - e) <= tolerance[i];
    if (!ok && count++ < 5) bad.push(`out[${i}] = ${a}, expected ${e} (tolerance ${tolerance[i]})`);
  }
  expect(bad, `${count} of ${expected.length} elements differ`).toEqual([]);
}

/** A plain [m, k] @ [k, n]. */
const mat = (m: number, n: number, k: number): Case => ({ a: [m, k], b: [k, n] });
/** The same product with either operand stored transposed. */
const trans = (m: number, n: number, k: number, transA: boolean, transB: boolean): Case => ({
  a: transA ? [k, m] : [m, k],
  b: transB ? [n, k] : [k, n],
  transA,
  transB,
});
const dims = (c: Case) => `${c.transA ? 'A^T' : 'A'}${fmt(c.aSlice?.from ?? c.a)} @ ${c.transB ? 'B^T' : 'B'}${fmt(c.b)}`;
const fmt = (s: Shape) => `[${s.join(',')}]`;

/**
 * Sizes around and between the tile sizes (16 along K, 64 along M and N), none a multiple of 4 but 64.
 * The tiled variant compiles slowly on a software GPU (about a second per kernel), so it runs the sizes as
 * triples in which every size is once m, once n and once k; the direct variant runs squares and triples.
 */
const SIZES = [1, 3, 7, 13, 17, 31, 33, 63, 64, 65, 100, 127];
const TRIPLES = SIZES.map((s, i) => [s, SIZES[(i + 4) % 12], SIZES[(i + 8) % 12]] as const);

/** One test per variant, running `cases` in turn (a failure names the case). */
function forVariants(title: string, cases: readonly Case[], variants: readonly MatmulVariant[] = VARIANTS): void {
  for (const variant of variants) {
    gpuIt(`${title} [${variant}]`, async () => {
      for (const c of cases.filter((x) => x.variants?.includes(variant) ?? true)) {
        await check({ ...c, options: { variant, ...c.options } }).catch((err: Error) => {
          err.message = `${dims(c)}${c.dtype === 'int32' ? ' int32' : ''}: ${err.message}`;
          throw err;
        });
      }
    });
  }
}

describe('matmul sizes', () => {
  for (const variant of VARIANTS) {
    gpuIt.each(TRIPLES)(`m=%i n=%i k=%i [${variant}]`, async (m, n, k) => {
      await check({ ...mat(m, n, k), options: { variant }, seed: m * 10000 + n * 100 + k });
    });
  }
  gpuIt.each(SIZES)('square %i [direct]', async (s) => {
    await check({ ...mat(s, s, s), options: { variant: 'direct' }, seed: s });
  });
  forVariants('several tiles along m and n', [mat(127, 127, 127), mat(130, 65, 17)]);
  forVariants('m = 1 (a row vector times a matrix) and n = 1 (a matrix times a column vector)', [mat(1, 100, 127), mat(127, 1, 100), { ...mat(1, 1, 65), variants: DIRECT }]);
  forVariants('k = 0 gives zeros', [mat(5, 7, 0), mat(65, 70, 0), mat(1, 1, 0), { ...mat(65, 70, 0), dtype: 'int32' }]);
});

describe('matmul operand layouts', () => {
  for (const [tA, tB] of [
    [false, true],
    [true, false],
    [true, true],
  ] as const) {
    forVariants(`transA=${tA} transB=${tB}`, [trans(100, 65, 33, tA, tB), { ...trans(7, 3, 13, tA, tB), variants: DIRECT }]);
  }
  // With an extent of 1 the tile load walks the other axis whatever the strides say.
  forVariants('transposed thin operands', [trans(1, 70, 9, true, true), trans(70, 1, 9, true, true), { ...trans(1, 70, 1, true, false), variants: DIRECT }]);
  forVariants('batched with broadcast batch axes: [2,1] x [1,3] -> [2,3]', [
    { a: [2, 1, 70, 33], b: [1, 3, 33, 65] },
    { a: [2, 1, 7, 13], b: [1, 3, 17, 7], transA: true, transB: true, seed: 3 },
  ]);
  forVariants('batched with a missing or extent-1 batch axis on one side', [
    { a: [13, 7], b: [4, 7, 17] }, // A shared by every batch
    { a: [3, 2, 33, 65], b: [65, 31], seed: 2 }, // B shared, two batch axes
    { a: [4, 1, 5, 9], b: [1, 9, 6], seed: 3, variants: DIRECT },
  ]);
  forVariants('a sliced operand (nonzero offset, row stride wider than the matrix; NaN outside the slice)', [
    { a: [65, 33], aSlice: { from: [70, 50], begin: [2, 9] }, b: [33, 66] },
    // Sliced and transposed: its logical rows run along the stored columns.
    { a: [9, 70], aSlice: { from: [12, 80], begin: [2, 3] }, b: [9, 65], transA: true, seed: 3 },
    // Sliced along a batch axis too.
    { a: [2, 13, 17], aSlice: { from: [3, 20, 40], begin: [1, 3, 5] }, b: [2, 17, 31], seed: 4 },
  ]);
  forVariants('a transposed store at an offset into a larger buffer', [{ a: [2, 33, 17], b: [2, 17, 65], transposedStore: true }]);
});

describe('matmul int32', () => {
  forVariants('int32 is exact', [{ ...mat(33, 65, 17), dtype: 'int32' }, { a: [2, 1, 7, 13], b: [1, 3, 70, 13], transB: true, dtype: 'int32', seed: 3 }]);
  forVariants('int32 wraps around like the reference', [
    // Full-range operands: nearly every product and partial sum overflows.
    { ...mat(65, 70, 33), dtype: 'int32', gen: anyInts },
    // 65536 * 65536 = 2^32 wraps to 0 in every term.
    { ...mat(17, 5, 1), dtype: 'int32', gen: () => 65536, variants: DIRECT },
  ]);
});

describe('matmul epilogue', () => {
  for (const dtype of ['float32', 'int32'] as const) {
    forVariants(`relu(acc * 2 + bias[n]), ${dtype}`, [
      { ...mat(65, 70, 33), dtype, epilogue: true },
      { a: [2, 1, 13, 7], b: [3, 7, 66], dtype, epilogue: true, seed: 3 },
      // k = 0: the epilogue of 0, relu(bias).
      { ...mat(5, 9, 0), dtype, epilogue: true, seed: 4 },
    ]);
  }
});

describe('grid folding', () => {
  // A 65,535-per-dimension limit is too large to reach on a software GPU; a small limit takes the same code.
  gpuIt('tiled: more batches and tiles than one grid dimension holds', async () => {
    // 2 x 3 tiles per matrix, 15 batches: 90 workgroups over a 5 x 5 x 4 grid (10 surplus workgroups leave).
    await check({ a: [5, 3, 130, 9], b: [5, 3, 9, 70], options: { variant: 'tiled', maxWorkgroupsPerDim: 5 } });
    // Only the batch overflows.
    await check({ a: [7, 13, 9], b: [7, 9, 17], options: { variant: 'tiled', maxWorkgroupsPerDim: 5 }, seed: 2 });
  });

  gpuIt('direct: the 1-D launch folds into two dimensions', async () => {
    // 1800 outputs: 8 workgroups of 256 on a 3 x 3 grid.
    await check({ a: [3, 20, 9], b: [3, 9, 30], options: { variant: 'direct', maxWorkgroupsPerDim: 3 } });
  });

  gpuIt('tiled with a grouped launch order, split K and gemv fold too', async () => {
    await check({ a: [5, 3, 130, 9], b: [5, 3, 9, 70], options: { variant: 'tiled', tile: { ...TILE_MEDIUM, group: 2 }, maxWorkgroupsPerDim: 5 } });
    await check({ a: [3, 130, 40], b: [3, 40, 70], options: { variant: 'tiled', tile: TILE_MEDIUM, splitK: 3, maxWorkgroupsPerDim: 11 }, expectVariant: /splitK3/ });
    await check({ a: [7, 2, 40], b: [7, 40, 36], options: { variant: 'gemv', gemv: { wn: 4, wk: 4, unroll: 1 }, splitK: 2, maxWorkgroupsPerDim: 5 }, expectVariant: /gemv.splitK2/ });
  });

  it('folded grids have the expected shape', () => {
    const { spec } = build({ a: [5, 3, 130, 9], b: [5, 3, 9, 70] });
    expect(generateMatmul(spec, { variant: 'tiled', tile: TILE_MEDIUM }).workgroups).toEqual([2, 3, 15]);
    expect(generateMatmul(spec, { variant: 'tiled', tile: TILE_MEDIUM, maxWorkgroupsPerDim: 5 }).workgroups).toEqual([5, 5, 4]);
    // Grouped launch order: the tiles are numbered linearly along x.
    expect(generateMatmul(spec, { variant: 'tiled', tile: { ...TILE_MEDIUM, group: 2 } }).workgroups).toEqual([6, 1, 15]);
    expect(generateMatmul(spec, { variant: 'direct', maxWorkgroupsPerDim: 25 }).workgroups).toEqual([25, 22, 1]);
  });
});

describe('variant choice', () => {
  it('small outputs take the direct variant, larger ones the tiled one', () => {
    expect(chooseMatmulVariant({ batch: [], m: 1, n: 1 })).toBe('direct');
    expect(chooseMatmulVariant({ batch: [1000], m: 32, n: 32 })).toBe('direct');
    expect(chooseMatmulVariant({ batch: [], m: 1, n: DIRECT_MAX_OUTPUTS + 1 })).toBe('gemv');
    expect(chooseMatmulVariant({ batch: [], m: 5000, n: 8 })).toBe('gemv');
    expect(chooseMatmulVariant({ batch: [], m: 9, n: 200 })).toBe('tiled');
    expect(chooseMatmulVariant({ batch: [2], m: 33, n: 33 })).toBe('tiled');
    expect(chooseMatmulVariant({ batch: [0], m: 100, n: 100 })).toBe('direct');
    // A long K: even a small output is split over threads.
    expect(chooseMatmulVariant({ batch: [], m: 32, n: 32, k: DIRECT_MAX_K + 1 })).toBe('tiled');
    // A small matrix times a vector (or a vector times it) takes gemv from a K past DIRECT_GEMV_MAX_K where
    // its long side is at least GEMV_OVER_DIRECT_EXTENT; shorter ones keep direct up to DIRECT_MAX_K.
    const E = GEMV_OVER_DIRECT_EXTENT;
    expect(chooseMatmulVariant({ batch: [], m: E, n: 1, k: DIRECT_GEMV_MAX_K })).toBe('direct');
    expect(chooseMatmulVariant({ batch: [], m: E, n: 1, k: DIRECT_GEMV_MAX_K + 1 })).toBe('gemv');
    expect(chooseMatmulVariant({ batch: [], m: 1, n: E, k: DIRECT_MAX_K })).toBe('gemv');
    expect(chooseMatmulVariant({ batch: [4], m: 4, n: E, k: 100 })).toBe('gemv');
    expect(chooseMatmulVariant({ batch: [], m: E - 1, n: 1, k: DIRECT_MAX_K })).toBe('direct');
    expect(chooseMatmulVariant({ batch: [4], m: 9, n: 100, k: 100 })).toBe('direct');
    // Tiles per shape class: large outputs take the large tile, small K its own, few tiles split K.
    expect(chooseMatmul({ batch: [], m: 4096, n: 4096, k: 4096 })).toMatchObject({ variant: 'tiled', tile: TILE_LARGE_VEC4, splitK: 1 });
    expect(chooseMatmul({ batch: [], m: 4096, n: 4096, k: 32 })).toMatchObject({ variant: 'tiled', tile: TILE_SMALL_K, splitK: 1 });
    expect(chooseMatmul({ batch: [], m: 4096, n: 4096, k: 33 })).toMatchObject({ variant: 'tiled', tile: TILE_NARROW, splitK: 1 });
    // Attention scores over heads of 64: 32 x 16 x 16 tiles of 64x64.
    expect(chooseMatmul({ batch: [32], m: 1024, n: 1024, k: 64 })).toMatchObject({ tile: TILE_NARROW });
    // Outputs narrower than 128-wide tiles along n, m or both: attention's P @ V (32 heads of 1024 x 64).
    expect(chooseMatmul({ batch: [32], m: 1024, n: 64, k: 1024 })).toMatchObject({ variant: 'tiled', tile: TILE_NARROW_N, splitK: 1 });
    expect(chooseMatmul({ batch: [], m: 16384, n: 192, k: 1024 })).toMatchObject({ tile: TILE_NARROW_N, splitK: 1 });
    expect(chooseMatmul({ batch: [], m: 100, n: 4096, k: 1024 })).toMatchObject({ tile: TILE_NARROW_M });
    expect(chooseMatmul({ batch: [], m: 100, n: 100, k: 5000 })).toMatchObject({ tile: TILE_NARROW });
    expect(chooseMatmul({ batch: [], m: 100, n: 100, k: 5000 }).splitK).toBeGreaterThan(1);
    expect(chooseMatmul({ batch: [1000], m: 33, n: 33, k: 200 })).toMatchObject({ tile: TILE_NARROW, splitK: 1 });
    // Too few 128x128 tiles (64 at 1024^2) but half a wave of 64x64 ones: those, unsplit, up to MID_NARROW_MAX_K;
    // beyond it, or with fewer 64x64 tiles, LARGE_VEC4 over K ranges.
    expect(chooseMatmul({ batch: [], m: 1024, n: 1024, k: 1024 })).toMatchObject({ tile: TILE_NARROW, splitK: 1 });
    expect(chooseMatmul({ batch: [], m: 768, n: 768, k: MID_NARROW_MAX_K })).toMatchObject({ tile: TILE_NARROW, splitK: 1 });
    expect(chooseMatmul({ batch: [], m: 1024, n: 1024, k: MID_NARROW_MAX_K + 1 })).toMatchObject({ tile: TILE_LARGE_VEC4 });
    expect(chooseMatmul({ batch: [], m: 1024, n: 1024, k: MID_NARROW_MAX_K + 1 }).splitK).toBeGreaterThan(1);
    expect(chooseMatmul({ batch: [], m: 704, n: 704, k: 1024 })).toMatchObject({ tile: TILE_LARGE_VEC4 }); // 121 tiles of 64x64
    // 9 to 32 rows or columns (a batch of tokens times a weight matrix): skinny tiles; 8 or fewer: gemv.
    expect(chooseMatmul({ batch: [], m: 9, n: 4096, k: 4096 })).toMatchObject({ tile: TILE_SKINNY_M16, splitK: 8 });
    expect(chooseMatmul({ batch: [], m: 17, n: 4096, k: 4096 })).toMatchObject({ tile: TILE_SKINNY_M32, splitK: 8 });
    expect(chooseMatmul({ batch: [], m: 4096, n: 16, k: 4096 })).toMatchObject({ tile: TILE_SKINNY_N16, splitK: 8 });
    expect(chooseMatmul({ batch: [], m: 8192, n: 16, k: 4096 })).toMatchObject({ tile: TILE_SKINNY_N16, splitK: 4 });
    expect(chooseMatmul({ batch: [], m: 32, n: 11008, k: 4096 })).toMatchObject({ tile: TILE_SKINNY_M32, splitK: 3 });
    expect(chooseMatmul({ batch: [8], m: 32, n: 1024, k: 1024 })).toMatchObject({ tile: TILE_SKINNY_M32, splitK: 4 });
    expect(chooseMatmul({ batch: [], m: 8, n: 4096, k: 4096 })).toMatchObject({ variant: 'gemv' });
    // From 4 x FILL_WORKGROUPS = 1056 tiles.
    expect(chooseMatmul({ batch: [], m: 4096, n: 1088, k: 64 })).toMatchObject({ tile: TILE_NARROW }); // 64 x 17 tiles
    expect(chooseMatmul({ batch: [], m: 4096, n: 1024, k: 64 })).toMatchObject({ tile: TILE_SMALL_K }); // 64 x 16
    expect(chooseMatmul({ batch: [], m: 512, n: 512, k: 80000 })).toMatchObject({ variant: 'tiled', tile: TILE_LARGE_VEC4, splitK: 16 });
    expect(chooseMatmul({ batch: [64], m: 256, n: 256, k: 256 })).toMatchObject({ variant: 'tiled', tile: TILE_LARGE_PAIRS, splitK: 1 });
    // One wave of tiles with a long K (the MLP's second product): LARGE_VEC4, from K = 1024.
    expect(chooseMatmul({ batch: [], m: 4096, n: 1024, k: 4096 })).toMatchObject({ variant: 'tiled', tile: TILE_LARGE_VEC4, splitK: 1 });
    expect(chooseMatmul({ batch: [], m: 4096, n: 1024, k: 1024 })).toMatchObject({ tile: TILE_LARGE_VEC4 });
    expect(chooseMatmul({ batch: [], m: 4096, n: 1024, k: 1020 })).toMatchObject({ tile: TILE_LARGE_PAIRS });
    // An epilogue in the tile kernel's stores: LARGE_STAGED instead of LARGE_VEC4 from K = 1024, LARGE_PAIRS
    // below; under split K the combine runs it, and the tiles keep LARGE_VEC4.
    const epilogue = { expr: { steps: [{ kind: 'value', name: 'acc', dtype: 'float32' }] }, step: 0 } as const;
    expect(chooseMatmul({ batch: [], m: 4096, n: 4096, k: 4096, epilogue })).toMatchObject({ variant: 'tiled', tile: TILE_LARGE_STAGED, splitK: 1 });
    expect(chooseMatmul({ batch: [], m: 4096, n: 1024, k: 4096, epilogue })).toMatchObject({ variant: 'tiled', tile: TILE_LARGE_STAGED, splitK: 1 });
    expect(chooseMatmul({ batch: [], m: 4096, n: 4096, k: 1024, epilogue })).toMatchObject({ tile: TILE_LARGE_STAGED });
    expect(chooseMatmul({ batch: [], m: 4096, n: 4096, k: 1020, epilogue })).toMatchObject({ tile: TILE_LARGE_PAIRS });
    expect(chooseMatmul({ batch: [], m: 65536, n: 256, k: 256, epilogue })).toMatchObject({ tile: TILE_LARGE_PAIRS });
    expect(chooseMatmul({ batch: [], m: 512, n: 512, k: 80000, epilogue })).toMatchObject({ tile: TILE_LARGE_VEC4, splitK: 16 });
    // The choice shows in the generated code.
    expect(generateMatmul(build(mat(33, 33, 7)).spec).wgsl).toContain('var<workgroup>');
    expect(generateMatmul(build(mat(32, 32, 7)).spec).wgsl).not.toContain('var<workgroup>');
  });

  it('large outputs take LARGE_VEC4 where both operands load as vec4, LARGE where one loads scalars', () => {
    // Specs by hand: these shapes are too large for the CPU reference that build() runs.
    const big = (m: number, n: number, k: number, o: { transA?: boolean; transB?: boolean; aOffset?: number; epilogue?: boolean; epilogueReadsA?: boolean } = {}): MatmulSpec => ({
      dtype: 'float32',
      batch: [],
      m,
      n,
      k,
      a: { buffer: 'in0', offset: o.aOffset ?? 0, batchStrides: [], ...(o.transA ? { rowStride: 1, colStride: m } : { rowStride: k, colStride: 1 }) },
      b: { buffer: 'in1', offset: 0, batchStrides: [], ...(o.transB ? { rowStride: 1, colStride: k } : { rowStride: n, colStride: 1 }) },
      ...(o.epilogueReadsA
        ? { epilogue: { expr: { steps: [{ kind: 'value', name: 'acc', dtype: 'float32' }, { kind: 'load', buffer: 'in0', dtype: 'float32', access: { offset: 0, strides: [0, 1] } }, { kind: 'op', op: 'add', args: [0, 1], attrs: {}, dtype: 'float32' }] }, step: 2 } }
        : o.epilogue
          ? { epilogue: { expr: { steps: [{ kind: 'value', name: 'acc', dtype: 'float32' }, { kind: 'op', op: 'relu', args: [0], attrs: {}, dtype: 'float32' }] }, step: 1 } }
          : {}),
      buffers: [
        { name: 'in0', dtype: 'float32', access: 'read' },
        { name: 'in1', dtype: 'float32', access: 'read' },
        { name: 'out', dtype: 'float32', access: 'read_write' },
      ],
      store: { buffer: 'out', access: { offset: 0, strides: [n, 1] } },
    });
    const label = (spec: MatmulSpec) => planMatmul(spec).dispatches.map((d) => d.label);
    const vec4 = [`tiled ${tileName(TILE_LARGE_VEC4)}`];
    const large = [`tiled ${tileName(TILE_LARGE)}`];
    expect(label(big(4096, 4096, 4096))).toEqual(vec4);
    expect(label(big(4096, 4096, 4096, { transB: true }))).toEqual(vec4);
    expect(label(big(4097, 4096, 1024))).toEqual(vec4); // m odd: A still loads vec4 along k
    expect(label(big(4096, 4093, 1024))).toEqual(large); // n odd: B [k, n] has no aligned axis
    expect(label(big(4096, 4096, 4095))).toEqual(large); // k odd: A's rows are not 16-byte aligned
    expect(label(big(4095, 4095, 4095))).toEqual(large);
    expect(label(big(4096, 4096, 4096, { aOffset: 1 }))).toEqual(large);
    expect(label(big(4096, 4096, 4096, { epilogueReadsA: true }))).toEqual(large); // A also read per element: bound as scalars
    // A forced tile is kept whatever the loads.
    expect(planMatmul(big(4095, 4095, 4095), { tile: TILE_LARGE_VEC4 }).dispatches[0].label).toBe(vec4[0]);
    expect(planMatmul(big(4096, 4096, 4096), { tile: TILE_LARGE }).dispatches[0].label).toBe('tiled 128x128x8/8x8.db.u');
    // Fewer tiles (here 8 x 8 = 64 per matrix, 4 matrices: one wave): LARGE_PAIRS, LARGE for scalar loads.
    const batched = (k: number): MatmulSpec => {
      const s = big(1024, 1024, k);
      return { ...s, batch: [4], a: { ...s.a, batchStrides: [1024 * k] }, b: { ...s.b, batchStrides: [1024 * k] }, store: { buffer: 'out', access: { offset: 0, strides: [1024 * 1024, 1024, 1] } } };
    };
    expect(label(batched(512))).toEqual([`tiled ${tileName(TILE_LARGE_PAIRS)}`]);
    expect(label(batched(511))).toEqual(large);
    // Where LARGE_PAIRS is chosen (an epilogue with K under 1024, or one wave of tiles) and A loads along m
    // (x.T @ w): LARGE_FRAG; x @ w and x @ w.T keep LARGE_PAIRS, and x.T @ w without an epilogue LARGE_VEC4.
    // Where LARGE_STAGED is chosen (an epilogue from K = 1024), x @ w.T (both operands along k) takes
    // LARGE_PAIRS, every other layout keeps it.
    const pairs = [`tiled ${tileName(TILE_LARGE_PAIRS)}`];
    const frag = [`tiled ${tileName(TILE_LARGE_FRAG)}`];
    const staged = [`tiled ${tileName(TILE_LARGE_STAGED)}`];
    expect(label(big(4096, 4096, 512, { epilogue: true }))).toEqual(pairs);
    expect(label(big(4096, 4096, 512, { transB: true, epilogue: true }))).toEqual(pairs);
    expect(label(big(4096, 4096, 512, { transA: true, epilogue: true }))).toEqual(frag);
    expect(label(big(4096, 4096, 512, { transA: true, transB: true, epilogue: true }))).toEqual(frag);
    expect(label(big(4096, 4096, 1024, { epilogue: true }))).toEqual(staged);
    expect(label(big(4096, 4096, 1024, { transB: true, epilogue: true }))).toEqual(pairs);
    expect(label(big(4096, 4096, 1024, { transA: true, epilogue: true }))).toEqual(staged);
    expect(label(big(4096, 4096, 1024, { transA: true, transB: true, epilogue: true }))).toEqual(staged);
    expect(label(big(4096, 4093, 1024, { epilogue: true }))).toEqual(large); // n odd: B scalar
    expect(label(big(4096, 4096, 1024, { transA: true }))).toEqual(vec4);
    expect(label({ ...batched(512), a: { ...batched(512).a, rowStride: 1, colStride: 1024 } })).toEqual(frag);
    expect(label(big(4094, 4096, 512, { transA: true, epilogue: true }))).toEqual(large); // m not a multiple of 4: A scalar
    // Split K: LARGE_VEC4's ranges, SPLIT's where an operand loads scalars.
    expect(label(big(512, 512, 80000))).toEqual([`tiled ${tileName(TILE_LARGE_VEC4)} split 16`, 'combine 16']);
    expect(label(big(512, 512, 80000, { aOffset: 2 }))).toEqual([`tiled ${tileName(TILE_SPLIT)} split 16`, 'combine 16']);
    // K of 33 to 64 on many tiles: NARROW where both operands load as vec4, SMALL_K otherwise; K <= 32
    // and outputs of few tiles keep SMALL_K.
    const wide = [`tiled ${tileName(TILE_NARROW)}`];
    const smallK = [`tiled ${tileName(TILE_SMALL_K)}`];
    expect(label(big(4096, 4096, 64))).toEqual(wide);
    expect(label(big(4096, 4096, 48, { transB: true }))).toEqual(wide);
    expect(label(big(4096, 4096, 32))).toEqual(smallK);
    expect(label(big(4096, 4096, 65))).not.toEqual(smallK);
    expect(label(big(1000, 1000, 40))).toEqual(smallK); // 256 tiles
    expect(label(big(4096, 4096, 62))).toEqual(smallK); // k not a multiple of 4: A's rows are not aligned
    expect(label(big(4096, 4093, 64))).toEqual(smallK); // n odd: B loads scalars
    // Narrow outputs: 64-wide tiles along the extent 128-wide ones would cover with more than 10% out of
    // bounds, split K where they are few; MEDIUM where an operand loads scalars.
    expect(label(big(4096, 64, 4096))).toEqual([`tiled ${tileName(TILE_NARROW_N)} split 8`, 'combine 8']);
    expect(label(big(64, 4096, 4096, { transB: true }))).toEqual([`tiled ${tileName(TILE_NARROW_M)} split 8`, 'combine 8']);
    expect(label(big(65536, 64, 256))).toEqual([`tiled ${tileName(TILE_NARROW_N)}`]);
    expect(label(big(4096, 60, 4096))).toEqual([`tiled ${tileName(TILE_NARROW_N)} split 8`, 'combine 8']);
    expect(label(big(4096, 63, 4096))).toEqual([`tiled ${tileName(TILE_MEDIUM)} split 8`, 'combine 8']); // n odd
    expect(label(big(4096, 1088, 1024))).toEqual(vec4); // 6% out of bounds: 128-wide tiles
    // 9 to 32 rows or columns: skinny tiles of 16 or 32 along them, split K to about 32k threads.
    expect(label(big(16, 4096, 4096))).toEqual([`tiled ${tileName(TILE_SKINNY_M16)} split 8`, 'combine 8']);
    expect(label(big(32, 4096, 4096, { transB: true }))).toEqual([`tiled ${tileName(TILE_SKINNY_M32)} split 8`, 'combine 8']);
    expect(label(big(4096, 24, 4096))).toEqual([`tiled ${tileName(TILE_SKINNY_N32)} split 8`, 'combine 8']);
    expect(label(big(16, 4093, 4096))).toEqual([`tiled ${tileName(TILE_MEDIUM)} split 8`, 'combine 8']); // n odd
  });

  /** A float32 product of row-major A [m, k] and row-major B [k, n] into C [m, n]. */
  const rowMajor = (m: number, n: number, k: number): MatmulSpec => ({
    dtype: 'float32',
    batch: [],
    m,
    n,
    k,
    a: { buffer: 'in0', offset: 0, batchStrides: [], rowStride: k, colStride: 1 },
    b: { buffer: 'in1', offset: 0, batchStrides: [], rowStride: n, colStride: 1 },
    buffers: [
      { name: 'in0', dtype: 'float32', access: 'read' },
      { name: 'in1', dtype: 'float32', access: 'read' },
      { name: 'out', dtype: 'float32', access: 'read_write' },
    ],
    store: { buffer: 'out', access: { offset: 0, strides: [n, 1] } },
  });

  it('gemv along n: narrower workgroups instead of split K where they fill the GPU, split K where they cannot', () => {
    const row = (n: number, k: number): MatmulSpec => rowMajor(1, n, k);
    const label = (spec: MatmulSpec, options?: Parameters<typeof planMatmul>[1]) => planMatmul(spec, options).dispatches.map((d) => d.label);
    // 4096 columns as vec4: 16 x 16 threads make 64 workgroups; 2 x 128 make 512, one dispatch.
    const gemvLabel = (wn: number, wk: number, unroll: number) => `gemv n layout, ${wn} x ${wk} threads (n x k), vec4 columns, ${unroll} loads in flight`;
    expect(label(row(4096, 4096))).toEqual([gemvLabel(2, 128, 4)]);
    // 16384 columns: 8 x 32 threads make 512 workgroups.
    expect(label(row(16384, 1024))).toEqual([gemvLabel(8, 32, 4)]);
    // 65536 columns: GEMV_N already fills the GPU twice (1024 workgroups).
    expect(label(row(65536, 256))).toEqual([gemvLabel(GEMV_N.wn, GEMV_N.wk, GEMV_N.unroll)]);
    // 256 columns: too few for any width; GEMV_N split over K, and a combine.
    const [product, combine, ...more] = label(row(256, 8192));
    expect(product.startsWith(`${gemvLabel(16, 16, 4)} split `)).toBe(true);
    expect([combine, more]).toEqual([expect.stringMatching(/^combine \d+$/), []]);
    // A split count given keeps GEMV_N.
    expect(label(row(4096, 4096), { splitK: 4 })).toEqual([`${gemvLabel(16, 16, 4)} split 4`, 'combine 4']);
  });

  it('gemv along k: one dispatch from FILL_WORKGROUPS / 4 workgroups, split K in ranges of GEMV_K_MIN_SPLIT_K below', () => {
    // C @ v with C [m, k] row-major: swapped, the long operand's stride-1 axis is K.
    const column = (m: number, k: number): MatmulSpec => rowMajor(m, 1, k);
    const label = (spec: MatmulSpec) => planMatmul(spec).dispatches.map((d) => d.label);
    const k = (wn: number) => `gemv k layout, ${wn} x ${(GEMV_K.wn * GEMV_K.wk) / wn} threads (n x k), vec4 along k, ${GEMV_K.unroll} loads in flight`;
    // PCA's power iteration: 512 x 512 times a vector, 128 workgroups, one dispatch (split in 2 before).
    expect(label(column(512, 512))).toEqual([k(GEMV_K.wn)]);
    expect(label(column(2048, 2048))).toEqual([k(GEMV_K.wn)]);
    expect(label(column(512, 16 * GEMV_K_MIN_SPLIT_K))).toEqual([k(GEMV_K.wn)]);
    // 16 workgroups: ranges of GEMV_K_MIN_SPLIT_K, up to one workgroup per slot (ceil(264 / 16) = 17).
    expect(label(column(64, 2 * GEMV_K_MIN_SPLIT_K - 4))).toEqual([k(GEMV_K.wn)]);
    expect(label(column(64, 8 * GEMV_K_MIN_SPLIT_K))).toEqual([`${k(GEMV_K.wn)} split 8`, 'combine 8']);
    expect(label(column(64, 64 * GEMV_K_MIN_SPLIT_K))).toEqual([`${k(GEMV_K.wn)} split 17`, 'combine 17']);
  });

  gpuIt('the default choice runs on both sides of the threshold', async () => {
    await check(mat(32, 32, 7));
    await check({ ...mat(1, DIRECT_MAX_OUTPUTS + 1, 9), seed: 2, expectVariant: /^gemv$/ }); // a wide row vector
    await check({ ...mat(9, 200, 7), seed: 3, expectVariant: /^tiled/ });
    await check({ ...mat(20, 20, 2000), seed: 4, expectVariant: /^tiled32x64.splitK/ }); // a long K: split, a skinny tile
    // A row vector of 4100 columns (not a multiple of 4: scalar columns): 8 x 32 threads, one dispatch.
    await check({ ...mat(1, 4100, 300), seed: 5, expectVariant: /^gemv$/ });
    await check({ ...mat(3, 4096, 300), seed: 6, expectVariant: /^gemv$/ }); // 3 rows, vec4 columns: 2 x 128
    // Small matrices times a vector on both sides of DIRECT_GEMV_MAX_K and GEMV_OVER_DIRECT_EXTENT, unaligned
    // K included.
    const E = GEMV_OVER_DIRECT_EXTENT;
    await check({ ...mat(E, 1, DIRECT_GEMV_MAX_K), seed: 7, expectVariant: /^direct$/ });
    await check({ ...mat(E + 1, 1, DIRECT_GEMV_MAX_K + 1), seed: 8, expectVariant: /^gemv$/ });
    await check({ ...mat(1, E, DIRECT_GEMV_MAX_K + 3), seed: 12, expectVariant: /^gemv$/ });
    await check({ ...mat(1, E - 1, 255), seed: 9, expectVariant: /^direct$/ });
    await check({ ...mat(512, 1, 512), seed: 10, expectVariant: /^gemv$/ });
    await check({ a: [3, 2, 130], b: [3, 130, E + 3], seed: 11, expectVariant: /^gemv$/ }); // batched, 2 rows
  });

  gpuIt('an empty output compiles and writes nothing, whatever variant is asked for', async () => {
    await check({ ...mat(0, 7, 5), options: { variant: 'tiled' } });
    await check({ a: [0, 3, 5], b: [5, 4] });
    expect(generateMatmul(build(mat(0, 7, 5)).spec, { variant: 'tiled' }).wgsl).not.toContain('var<workgroup>');
  });
});

describe('spec checks', () => {
  const base = () => build(mat(3, 5, 4)).spec;
  it('rejects buffer names the kernel declares itself', () => {
    const spec = base();
    const renamed = { ...spec, buffers: spec.buffers.map((b) => (b.name === 'in0' ? { ...b, name: 'acc' } : b)), a: { ...spec.a, buffer: 'acc' } };
    expect(() => generateMatmul(renamed)).toThrow(/reserved/);
  });
  it('rejects batch strides that do not match the batch shape', () => {
    const spec = base();
    expect(() => generateMatmul({ ...spec, batch: [2], store: { ...spec.store, access: { offset: 0, strides: [15, 5, 1] } } })).toThrow(/batch strides/);
  });
  it('rejects an epilogue value other than acc', () => {
    const spec = base();
    const steps: ExprStep[] = [{ kind: 'value', name: 'sum', dtype: 'float32' }];
    expect(() => generateMatmul({ ...spec, epilogue: { expr: { steps }, step: 0 } })).toThrow(/acc/);
  });
  it("rejects prologue values the kernel cannot compute: out of order, on gemv's long operand, in the tiled kernel", () => {
    // 1 x 4 @ 4 x 1100: gemv, A (1 x 4) its short operand.
    const spec = build(mat(1, 1100, 4)).spec;
    const load: ExprStep = { kind: 'load', buffer: spec.a.buffer, dtype: 'float32', access: { offset: 0, strides: [4, 1] } };
    const sumOf = (name: string, steps: ExprStep[]) => ({ kind: 'reduce' as const, op: 'sum' as const, dtype: 'float32' as const, space: [1, 4], expr: { steps }, step: steps.length - 1, name });
    const divide = (value: string): ExprStep[] => [load, { kind: 'value', name: value, dtype: 'float32' }, { kind: 'op', op: 'div', args: [0, 1], attrs: {}, dtype: 'float32' }];
    const prologue = (values: ReturnType<typeof sumOf>[], value = 'pav0') => ({ ...spec.a, prologue: { expr: { steps: divide(value) }, step: 2, values } });
    expect(generateMatmul({ ...spec, a: prologue([sumOf('pav0', [load])]) }).wgsl).toContain('1 prologue values per workgroup');
    expect(generateMatmul({ ...spec, a: prologue([sumOf('pav0', [load])]) }, { variant: 'direct' }).wgsl).toContain('direct: one thread per output; 1 prologue values per workgroup');
    expect(() => generateMatmul({ ...spec, a: prologue([sumOf('pav0', [load])], 'pav1') })).toThrow(/reads a value it does not compute \(pav1\)/);
    expect(() => generateMatmul({ ...spec, a: prologue([sumOf('pav0', [{ kind: 'value', name: 'pav1', dtype: 'float32' }]), sumOf('pav1', [load])]) })).toThrow(/reads pav1 before it is computed/);
    expect(() => generateMatmul({ ...spec, a: prologue([sumOf('pav0', [load]), sumOf('pav0', [load])]) })).toThrow(/not a fresh identifier/);
    expect(() => generateMatmul({ ...spec, b: { ...spec.b, prologue: { expr: { steps: [{ ...load, buffer: spec.b.buffer, access: { offset: 0, strides: [1100, 1] } }] }, step: 0 } } })).toThrow(/only on its short operand/);
    expect(() => generateMatmul({ ...spec, a: prologue([sumOf('pav0', [load])]) }, { variant: 'tiled' })).toThrow(/prologue values need the gemv or direct variant, not tiled/);
  });
});

/**
 * Every tile geometry the sweep measures takes the same cases: odd sizes (loads and stores bounds-checked
 * on every axis), aligned sizes (vec4 loads along each operand's stride-1 axis, vec4 stores), transposed
 * operands, broadcast batches, k = 1, an epilogue with a transposed store, int32 wrap-around.
 */
const TILES: readonly { readonly tile: TileConfig; readonly storage?: number }[] = [
  { tile: TILE_LARGE },
  { tile: TILE_LARGE_PAIRS },
  { tile: TILE_LARGE_FRAG },
  { tile: TILE_SPLIT },
  { tile: TILE_MEDIUM },
  { tile: TILE_SMALL_K },
  { tile: { bm: 128, bn: 64, bk: 8, tm: 8, tn: 4, db: false, unroll: false, group: 0 } },
  { tile: { bm: 64, bn: 128, bk: 16, tm: 4, tn: 8, db: true, unroll: false, group: 3 } },
  // 64 threads: tile loads of several vectors per thread, and a partial last one (64x4 / 4 = 64 + 0, 32x4 = 128 / 64).
  { tile: { bm: 32, bn: 64, bk: 4, tm: 4, tn: 8, db: true, unroll: true, group: 0 } },
  // 32 KiB of workgroup memory: the transposing loads get padded k rows.
  { tile: { bm: 128, bn: 128, bk: 16, tm: 8, tn: 8, db: true, unroll: true, group: 0 }, storage: 32768 },
  // The options of the second H100 round: two K steps per iteration (pairs), double-buffered register
  // fragments with the step boundary before the last kk (frag), one stage with register prefetch.
  { tile: { bm: 128, bn: 128, bk: 8, tm: 16, tn: 8, db: true, unroll: true, group: 2, pairs: true, frag: true } },
  { tile: { bm: 64, bn: 64, bk: 16, tm: 4, tn: 4, db: true, unroll: true, group: 3, frag: true } },
  { tile: { bm: 32, bn: 64, bk: 4, tm: 4, tn: 8, db: true, unroll: false, group: 0, pairs: true } },
  { tile: { bm: 64, bn: 128, bk: 8, tm: 8, tn: 8, db: false, unroll: true, group: 0, prefetch: true, frag: true } },
  { tile: { bm: 64, bn: 32, bk: 8, tm: 4, tn: 4, db: false, unroll: false, group: 0, prefetch: true } },
  { tile: { bm: 32, bn: 32, bk: 4, tm: 4, tn: 4, db: false, unroll: true, group: 0, frag: true } },
  { tile: { bm: 256, bn: 128, bk: 8, tm: 16, tn: 8, db: true, unroll: true, group: 0, pairs: true, frag: true }, storage: 32768 },
];

const TILE_CASES: readonly Case[] = [
  mat(65, 70, 33),
  { ...mat(128, 68, 36), seed: 2 },
  { ...trans(100, 64, 36, true, true), seed: 3 },
  { ...trans(33, 129, 20, false, true), seed: 4 },
  { a: [2, 1, 70, 16], b: [1, 3, 16, 68], seed: 5 },
  { ...mat(67, 9, 1), seed: 6 },
  { a: [2, 33, 17], b: [2, 17, 65], transposedStore: true, epilogue: true, seed: 7 },
  { ...mat(65, 70, 33), dtype: 'int32', gen: anyInts, seed: 8 },
  // A single row, and k = 0 (no K step at all: the epilogue of 0).
  { ...trans(1, 70, 24, false, true), seed: 9 },
  { ...mat(5, 66, 0), epilogue: true, seed: 10 },
];

describe('matmul tile configurations', () => {
  it('staged stores only where one stage of square tiles holds the band of 4 rows per thread row', () => {
    expect(tileConfigError(TILE_LARGE_STAGED)).toBeNull();
    // 128x128 of 8x8: a band of 64 rows, more than the 2 x 16 rows of the tiles.
    expect(tileConfigError({ ...TILE_LARGE_STAGED, tm: 8 })).toMatch(/staged/);
    expect(tileConfigError({ ...TILE_LARGE_PAIRS, staged: true })).toMatch(/staged/); // two stages
    expect(tileConfigError({ ...TILE_LARGE_STAGED, bn: 64 })).toMatch(/staged/); // not square
    expect(tileName(TILE_LARGE_STAGED)).toBe('128x128x16/16x8.p.u.f.s.g8');
  });
  for (const { tile, storage } of TILES) {
    gpuIt(`tiled ${tileName(tile)}${storage ? ` (${storage} bytes of workgroup memory)` : ''}`, async () => {
      for (const c of TILE_CASES) {
        await check({ ...c, options: { variant: 'tiled', tile, workgroupStorage: storage }, expectVariant: new RegExp(`^tiled${tile.bm}x${tile.bn}$`) }).catch((err: Error) => {
          err.message = `${dims(c)}: ${err.message}`;
          throw err;
        });
      }
    });
  }
});

/**
 * The defaults that keep a step's tile loads in registers (prefetch) with double-buffered fragments, on the
 * layouts that choose them: operands aligned to 4 along their stride-1 axes (scalar loads fall back to other
 * tiles, asserted above: compiled with scalar loads, SwiftShader takes many minutes and gigabytes), bounds
 * checks along m, n and k, both transposes, broadcast batches, an epilogue with a transposed store, int32.
 * One test per case: SwiftShader takes about 10 s to compile each LARGE_VEC4 kernel.
 * - TILE_LARGE_VEC4: 128x128, 16x8 per thread, K steps of 16; also m = 1.
 * - TILE_NARROW, TILE_NARROW_N, TILE_NARROW_M: 64x64, 128x64 and 64x128, 8x8 per thread, for outputs
 *   narrower than 128-wide tiles and for K of 33 to 64 on outputs of many tiles; TILE_SKINNY_*: 16 rows
 *   (columns) by 64, 4x4 per thread, K steps of 32, or 32 by 64, 4x8 (8x4), K steps of 16, for products with
 *   9 to 32 rows (columns); K not a multiple of the step, one K step and several.
 */
const PREFETCHING_TILES: readonly { readonly name: string; readonly tile: TileConfig; readonly variant: RegExp; readonly cases: readonly Case[] }[] = [
  {
    name: 'TILE_LARGE_VEC4',
    tile: TILE_LARGE_VEC4,
    variant: /^tiled128x128$/,
    cases: [
      mat(128, 68, 36),
      { ...mat(65, 72, 36), seed: 2 },
      { ...trans(100, 64, 36, true, true), seed: 3 },
      { a: [2, 1, 72, 16], b: [1, 3, 16, 68], seed: 4 },
      { ...trans(1, 132, 24, false, true), seed: 5 },
      { a: [2, 36, 20], b: [2, 20, 68], transposedStore: true, epilogue: true, seed: 6 },
      { ...mat(68, 72, 36), dtype: 'int32', gen: anyInts, seed: 7 },
    ],
  },
  // LARGE_VEC4 with staged stores (the band of 32 rows through the tiles' memory, the epilogue on values
  // read back): rows past m in a band, columns past n (n not a multiple of 4: lane by lane), transposes,
  // broadcast batches, a transposed store, several K steps, int32.
  {
    name: 'TILE_LARGE_STAGED',
    tile: TILE_LARGE_STAGED,
    variant: /^tiled128x128$/,
    cases: [
      { ...mat(65, 72, 36), epilogue: true },
      { ...trans(100, 66, 36, false, true), epilogue: true, seed: 2 },
      { ...trans(132, 64, 40, true, true), epilogue: true, seed: 3 },
      { a: [2, 1, 72, 16], b: [1, 3, 16, 68], seed: 4 },
      { a: [2, 36, 20], b: [2, 20, 68], transposedStore: true, epilogue: true, seed: 5 },
      { ...mat(68, 72, 36), dtype: 'int32', gen: anyInts, epilogue: true, seed: 6 },
    ],
  },
  ...(
    [
      ['TILE_NARROW', TILE_NARROW, /^tiled64x64$/],
      ['TILE_NARROW_N', TILE_NARROW_N, /^tiled128x64$/],
      ['TILE_NARROW_M', TILE_NARROW_M, /^tiled64x128$/],
      ['TILE_SKINNY_M16', TILE_SKINNY_M16, /^tiled16x64$/],
      ['TILE_SKINNY_M32', TILE_SKINNY_M32, /^tiled32x64$/],
      ['TILE_SKINNY_N16', TILE_SKINNY_N16, /^tiled64x16$/],
      ['TILE_SKINNY_N32', TILE_SKINNY_N32, /^tiled64x32$/],
    ] as const
  ).map(([name, tile, variant]) => ({
    name,
    tile,
    variant,
    cases: [
      mat(68, 72, 64),
      { ...mat(132, 64, 100), seed: 2 },
      { ...trans(100, 64, 44, true, true), seed: 3 },
      { a: [2, 1, 72, 16], b: [1, 3, 16, 68], seed: 4 },
      { a: [2, 36, 40], b: [2, 40, 136], transposedStore: true, epilogue: true, seed: 5 },
      { ...mat(68, 72, 48), dtype: 'int32', gen: anyInts, seed: 6 },
      // The skinny products these tiles are chosen for: 12 and 20 rows, 136 columns.
      { ...trans(12, 72, 40, false, true), seed: 7 },
      { ...mat(20, 136, 100), seed: 8 },
    ] as readonly Case[],
  })),
];
for (const { name, tile, variant, cases } of PREFETCHING_TILES) {
  describe(`matmul ${name}`, () => {
    for (const c of cases) {
      gpuIt(`${dims(c)}${c.epilogue ? ' with an epilogue' : ''}${c.dtype === 'int32' ? ' int32' : ''}`, async () => {
        await check({ ...c, options: { variant: 'tiled', tile }, expectVariant: variant });
      });
    }
  });
}

describe('matmul split K', () => {
  // k = 100 in 3 ranges of 40 (bk 8): 40 + 40 + 20, the last one partial; 7 ranges of 16 over k = 100 give 7.
  const cases: Case[] = [
    { ...mat(65, 70, 100), options: { splitK: 3 }, expectVariant: /splitK3$/ },
    { ...mat(64, 64, 100), options: { splitK: 7, tile: TILE_MEDIUM }, expectVariant: /splitK7$/, seed: 2 },
    { ...trans(33, 36, 64, true, true), options: { splitK: 2 }, expectVariant: /splitK2$/, seed: 3 },
    { a: [2, 1, 13, 40], b: [3, 40, 66], epilogue: true, options: { splitK: 4, tile: TILE_MEDIUM }, expectVariant: /splitK3$/, seed: 4 },
    { a: [2, 9, 50], b: [2, 50, 65], transposedStore: true, epilogue: true, options: { splitK: 2 }, expectVariant: /splitK2$/, seed: 5 },
    { ...mat(65, 66, 33), dtype: 'int32', gen: anyInts, options: { splitK: 5, tile: TILE_MEDIUM }, expectVariant: /splitK3$/, seed: 6 },
    // More ranges than steps of bk: as many ranges as steps; k = 1 and k = 0 take no split at all.
    { ...mat(17, 9, 20), options: { splitK: 10, tile: TILE_MEDIUM }, expectVariant: /splitK2$/, seed: 7 },
    { ...mat(17, 9, 1), options: { splitK: 4 }, expectVariant: /^tiled128x128$/, seed: 8 },
    { ...mat(17, 9, 0), epilogue: true, options: { splitK: 4 }, expectVariant: /^tiled128x128$/, seed: 9 },
    // The new options over K ranges of 5 steps (an odd count: the second step of a pair is skipped) and a
    // partial last range; one stage with prefetch and fragments under an epilogue and a transposed store.
    { ...mat(65, 70, 100), options: { splitK: 3, tile: { ...TILE_LARGE, pairs: true, frag: true } }, expectVariant: /splitK3$/, seed: 10 },
    { ...trans(40, 36, 100, true, false), options: { splitK: 3, tile: { ...TILE_LARGE, pairs: true } }, expectVariant: /splitK3$/, seed: 11 },
    { a: [2, 9, 50], b: [2, 50, 65], transposedStore: true, epilogue: true, options: { splitK: 2, tile: { ...TILE_MEDIUM, db: false, prefetch: true, frag: true } }, expectVariant: /splitK2$/, seed: 12 },
    { ...mat(36, 68, 200), epilogue: true, options: { splitK: 3, tile: TILE_LARGE_VEC4 }, expectVariant: /splitK3$/, seed: 13 },
  ];
  gpuIt('partial sums then a combine with the epilogue', async () => {
    for (const c of cases) {
      await check({ ...c, options: { variant: 'tiled', ...c.options } }).catch((err: Error) => {
        err.message = `${dims(c)} split ${c.options?.splitK}: ${err.message}`;
        throw err;
      });
    }
  });
});

describe('matmul gemv', () => {
  // The 'n' layout (B's stride-1 axis is n: vec4 columns where n % 4 = 0) and the 'k' layout (transB: vec4
  // along k where k % 4 = 0); m or n small, the other one the long side (swapped: C^T = B^T A^T).
  const CONFIGS: readonly (GemvConfig | undefined)[] = [undefined, GEMV_N, GEMV_K, { wn: 3, wk: 4, unroll: 1 }, { wn: 1, wk: 1, unroll: 2 }];
  const cases: Case[] = [
    mat(1, 100, 64),
    { ...mat(3, 129, 33), seed: 2 },
    { ...mat(8, 68, 17), seed: 3 },
    { ...trans(1, 100, 64, false, true), seed: 4 },
    { ...trans(5, 67, 40, true, true), seed: 5 },
    { ...mat(129, 1, 40), seed: 6 },
    { ...mat(70, 6, 33), epilogue: true, seed: 7 },
    { a: [2, 1, 2, 36], b: [1, 3, 36, 68], epilogue: true, seed: 8 },
    { a: [2, 2, 9], b: [2, 9, 65], transposedStore: true, seed: 9 },
    { ...mat(4, 70, 1), seed: 10 },
    { ...mat(4, 70, 0), epilogue: true, seed: 11 },
    { ...trans(65, 2, 16, true, false), dtype: 'int32', gen: anyInts, seed: 12 },
  ];
  for (const config of CONFIGS) {
    for (const splitK of [1, 3]) {
      gpuIt(`gemv ${config ? JSON.stringify(config) : 'default'} split ${splitK}`, async () => {
        for (const c of cases) {
          await check({ ...c, options: { variant: 'gemv', gemv: config, splitK }, expectVariant: /^gemv/ }).catch((err: Error) => {
            err.message = `${dims(c)}: ${err.message}`;
            throw err;
          });
        }
      });
    }
  }
});

// Split K through lowerGraph and the WebGPU backend: the plan gets a temp slot of partial sums, the product
// dispatch writing it and the combine that runs the fused epilogue (and keeps the group's kernel name).
describe('split K through lowerGraph and the WebGPU backend', () => {
  const fused = ctx ? new WebGpuBackend(ctx) : null;
  gpuIt('relu(x @ w + b) with a long K: two dispatches, a temp slot, the reference values', async () => {
    const [m, k, n] = [20, 3000, 24];
    const x = input('float32', [m, k]);
    const w = input('float32', [k, n]);
    const b = input('float32', [n]);
    const y = makeNode('relu', [makeNode('add', [makeNode('matmul', [x, w], { transA: false, transB: false }), b])]);
    const graph = makeGraph([y]);
    const { plan } = compileGraph(graph);
    const split = chooseMatmul({ batch: [], m, n, k }).splitK;
    expect(split).toBeGreaterThan(1);
    expect(plan.dispatches.map((d) => d.kernel)).toEqual([`matmul.float32.splitK${split}`, 'fused.matmul.float32+2']);
    expect(plan.slots.some((sl) => sl.role === 'temp' && sl.size === split * m * n)).toBe(true);
    const next = rng(77);
    const args = [randomArray('float32', m * k, smallFloats, next), randomArray('float32', k * n, smallFloats, next), randomArray('float32', n, smallFloats, next)];
    const want = executeGraph(graph, args)[0];
    const storages = graph.inputs.map((node, i) => Storage.fromHost(node.dtype, node.shape, args[i] as TypedArray));
    const outs = await fused!.run(graph, storages);
    const got = await fused!.read(outs[0]);
    [...outs, ...storages].forEach((st) => st.release());
    // (gamma_k + u) sum |x||w| with |x|, |w| < 1, plus the bias add's rounding: generous and still far below one term.
    const tol = ((k * U) / (1 - k * U) + 3 * U) * k;
    const bad = Array.from(want).flatMap((v, i) => (Math.abs(got[i] - v) <= tol ? [] : [`[${i}] ${got[i]} vs ${v}`]));
    expect(bad.slice(0, 5)).toEqual([]);
  });
});
