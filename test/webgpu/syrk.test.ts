// The syrk kernel (src/shaders/syrk.ts) against the CPU reference: an IR syrk (with transA, batch axes, a
// sliced operand, an epilogue of IR ops) runs on the CPU executor, and the kernel runs on typed arrays
// through the kernel harness, its operand strides mapped by hand. Both variants run every size (forced):
// n in 1, 3, 17, 33, 64, 65, 100 (one tile, the tile edge, several tiles), with k odd, 0 and large.
// Then whole graphs with syrk nodes go through lowerGraph and the WebGPU backend. At the end, the default
// tiles (LARGE_VEC4 for split K where X loads as vec4, SPLIT where it does not; the covariance shapes'
// choice is asserted) and LARGE_VEC4 forced on every layout that chooses it.
//
// Outputs are pre-filled with a sentinel (NaN, or an unlikely int), so an element the kernel fails to
// write (above the diagonal: the mirror) is a failure even where the expected value is 0.
//
// Float tolerance, derived as in test/webgpu/matmul.test.ts: the kernel sums k products in f32 in some
// order (maybe with fma), the reference in f64 rounded once, so with u = 2^-24 and S = sum_p |x_ip x_jp|
// (the reference's syrk of |x|), |gpu - ref| <= (gamma_k + u) S, gamma_k = k u / (1 - k u) (Higham 3.1),
// times 1 + 2^-20 for S itself being rounded. The epilogue acc / d + bias[col] adds: the division (WGSL
// allows 2.5 ulp, i.e. <= 5u of the quotient, the reference rounds once: u) and the add (correctly rounded
// on both sides: u each), see epilogueBound. A wrong or missing term is far outside these bounds.
import { afterAll, describe, expect, it } from 'vitest';
import type { DType, TypedArray } from '../../src/ir/dtype.js';
import { makeGraph, type Graph } from '../../src/ir/graph.js';
import { makeNode, type Node } from '../../src/ir/node.js';
import { matrixDims } from '../../src/ir/ops.js';
import { sizeOf, stridesOf, type Shape } from '../../src/ir/shape.js';
import { compileGraph } from '../../src/lowering/compile.js';
import { lowerGraph } from '../../src/lowering/lower.js';
import { executeGraph } from '../../src/runtime/cpu/executor.js';
import { Storage } from '../../src/runtime/storage.js';
import { WebGpuBackend } from '../../src/runtime/webgpu/backend.js';
import type { KernelBuffer } from '../../src/shaders/elementwise.js';
import type { ExprStep } from '../../src/shaders/expr.js';
import type { MatrixOperand } from '../../src/shaders/matmul.js';
import { chooseSyrk, chooseSyrkVariant, generateSyrk, planSyrk, SYRK_NARROW_MAX_LARGE_TILES, syrkTilesPerMatrix, TRI_ROW_HELPER, type SyrkOptions, type SyrkSpec, type SyrkVariant } from '../../src/shaders/syrk.js';
import { TILE_LARGE, TILE_LARGE_PAIRS, TILE_LARGE_VEC4, TILE_MEDIUM, TILE_NARROW, TILE_SPLIT, type TileConfig } from '../../src/shaders/matmul.js';
import { tileName } from '../../src/shaders/gemm-tiled.js';
import { testGpu } from './gpu.js';
import { rng } from './differential.js';
import { nanOutsideSlice, runKernel, runProgram, type DeviceArray } from './kernel-harness.js';

const ctx = await testGpu();
afterAll(() => ctx?.device.destroy());
const gpuIt = it.skipIf(!ctx);

const U = 2 ** -24;
const VARIANTS: readonly SyrkVariant[] = ['tiled', 'direct'];
const FLOAT_SENTINEL = NaN;
const INT_SENTINEL = 0x5eadbeef;

type SDType = 'float32' | 'int32';
type Gen = (next: () => number) => number;
const smallFloats: Gen = (next) => next() * 2 - 1;
const smallInts: Gen = (next) => Math.floor(next() * 41) - 20;
const anyInts: Gen = (next) => (next() * 2 ** 32) | 0;

function randomArray(dtype: SDType, length: number, gen: Gen, next: () => number): Float32Array | Int32Array {
  const xs = Array.from({ length }, () => gen(next));
  return dtype === 'float32' ? Float32Array.from(xs) : Int32Array.from(xs);
}

const input = (dtype: DType, shape: Shape) => makeNode('input', [], {}, { dtype, shape });
const scalar = (value: number, dtype: DType) => makeNode('const', [], { value }, { dtype, shape: [] });

interface Case {
  readonly dtype?: SDType;
  /** The stored shape of x (before transA): [..., n, k], or [..., k, n] with transA. */
  readonly x: Shape;
  readonly transA?: boolean;
  /** x is slice(begin, x) of a stored tensor of shape `from` (NaN outside the slice for float32). */
  readonly slice?: { readonly from: Shape; readonly begin: readonly number[] };
  /** float32: acc / d + bias[col] (d = max(k - 1, 1), a covariance); int32: acc * 3 + bias[col]. */
  readonly epilogue?: boolean;
  readonly gen?: Gen;
  readonly seed?: number;
  readonly options?: SyrkOptions;
  /** The program's variant must match this (e.g. /splitK3/). */
  readonly expectVariant?: RegExp;
}

/** The epilogue as IR ops on the reference side. */
function epilogueNodes(s: Node, bias: Node, dtype: SDType, d: number): Node {
  return dtype === 'float32'
    ? makeNode('add', [makeNode('div', [s, scalar(d, dtype)]), bias])
    : makeNode('add', [makeNode('mul', [s, scalar(3, dtype)]), bias]);
}

/** The same epilogue as kernel Expr steps: bias[col] broadcast over batch and rows. */
function epilogueSteps(dtype: SDType, batch: Shape, d: number, biasBuffer: string): ExprStep[] {
  return [
    { kind: 'value', name: 'acc', dtype },
    { kind: 'op', op: 'const', args: [], attrs: { value: dtype === 'float32' ? d : 3 }, dtype },
    { kind: 'op', op: dtype === 'float32' ? 'div' : 'mul', args: [0, 1], attrs: {}, dtype },
    { kind: 'load', buffer: biasBuffer, dtype, access: { offset: 0, strides: [...batch.map(() => 0), 0, 1] } },
    { kind: 'op', op: 'add', args: [2, 3], attrs: {}, dtype },
  ];
}

/**
 * Per-element bound on |gpu - reference| for float32 (0 for int32): `s` is the reference syrk of |x|, k the
 * length of each dot product; with the epilogue, d is its divisor and `bias` is indexed by column.
 */
function floatBound(s: ArrayLike<number>, k: number, n: number, epilogue: { d: number; bias: ArrayLike<number> } | null): Float64Array {
  const gammaK = (k * U) / (1 - k * U);
  const out = new Float64Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const t = (gammaK + U) * s[i] * (1 + 2 ** -20);
    if (!epilogue) {
      out[i] = t;
      continue;
    }
    // Quotients: |g/d - c/d| <= t/d; the GPU's division errs by <= 5u|g/d|, the reference's by <= u|c/d|,
    // with |g|, |c| <= S + t. Then the add rounds on each side: u |y| each, |y| <= (S + t)(1 + 5u)/d + |b|.
    const q = (s[i] + t) / epilogue.d;
    const y = q * (1 + 5 * U) + Math.abs(epilogue.bias[i % n]);
    out[i] = (t / epilogue.d + 6 * U * q + 2 * U * y) * (1 + 2 ** -20);
  }
  return out;
}

interface Built {
  readonly spec: SyrkSpec;
  readonly data: Record<string, DeviceArray>;
  readonly expected: ArrayLike<number>;
  readonly tolerance: ArrayLike<number>;
}

function build(c: Case): Built {
  const dtype = c.dtype ?? 'float32';
  const next = rng(c.seed ?? 1);
  const gen = c.gen ?? (dtype === 'float32' ? smallFloats : smallInts);
  const transA = c.transA === true;
  const stored = c.slice?.from ?? c.x;
  const xIn = input(dtype, stored);
  const xNode = c.slice ? makeNode('slice', [xIn], { begin: [...c.slice.begin], size: [...c.x] }) : xIn;
  const s = makeNode('syrk', [xNode], transA ? { transA: true } : {});
  const batch = s.shape.slice(0, -2);
  const [n, k] = matrixDims(c.x, transA);
  const d = Math.max(k - 1, 1);

  const xData = randomArray(dtype, sizeOf(stored), gen, next);
  if (c.slice && dtype === 'float32') {
    // NaN outside the slice: a kernel that reads outside its view produces NaN.
    nanOutsideSlice(xData, c.slice.from, c.slice.begin, c.x);
  }
  const biasData = randomArray(dtype, n, gen, next);
  const biasIn = input(dtype, [n]);
  const result = c.epilogue ? epilogueNodes(s, biasIn, dtype, d) : s;
  const g = makeGraph([result]);
  const argsFor = (x: TypedArray) => g.inputs.map((node) => (node === xIn ? x : biasData));
  const ref = executeGraph(g, argsFor(xData))[0];

  let tolerance: ArrayLike<number> = new Float64Array(ref.length);
  if (dtype === 'float32') {
    const gs = makeGraph([s]);
    const abs = executeGraph(gs, [xData.map((v) => (Number.isNaN(v) ? 0 : Math.abs(v)))])[0];
    tolerance = floatBound(abs, k, n, c.epilogue ? { d, bias: biasData } : null);
  }

  const r = stored.length;
  const st = stridesOf(stored);
  const offset = c.slice ? c.slice.begin.reduce((acc, b, dd) => acc + b * st[dd], 0) : 0;
  const [rowStride, colStride] = transA ? [st[r - 1], st[r - 2]] : [st[r - 2], st[r - 1]];
  const x: MatrixOperand = { buffer: 'in0', offset, batchStrides: st.slice(0, -2), rowStride, colStride };
  const buffers: KernelBuffer[] = [
    { name: 'in0', dtype, access: 'read' },
    ...(c.epilogue ? [{ name: 'in1', dtype, access: 'read' } as const] : []),
    { name: 'out', dtype, access: 'read_write' },
  ];
  const steps = epilogueSteps(dtype, batch, d, 'in1');
  const spec: SyrkSpec = {
    dtype,
    batch,
    n,
    k,
    x,
    ...(c.epilogue ? { epilogue: { expr: { steps }, step: steps.length - 1 } } : {}),
    buffers,
    store: { buffer: 'out', access: { offset: 0, strides: stridesOf(s.shape) } },
  };
  const out = dtype === 'float32' ? new Float32Array(ref.length).fill(FLOAT_SENTINEL) : new Int32Array(ref.length).fill(INT_SENTINEL);
  const data: Record<string, DeviceArray> = { in0: xData, out };
  if (c.epilogue) data.in1 = biasData;
  return { spec, data, expected: ref, tolerance };
}

/** Lists the first mismatches of `actual` against `expected` within `tolerance` (NaN expected: NaN). */
function mismatches(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: ArrayLike<number>): string[] {
  const bad: string[] = [];
  let count = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i];
    const a = actual[i];
    const ok = Number.isNaN(e) ? Number.isNaN(a) : Math.abs(a - e) <= tolerance[i];
    if (!ok && count++ < 5) bad.push(`[${i}] = ${a}, expected ${e} (tolerance ${tolerance[i]})`);
  }
  if (count > 5) bad.push(`... ${count} of ${expected.length} differ`);
  return bad;
}

async function check(c: Case): Promise<void> {
  const { spec, data, expected, tolerance } = build(c);
  const program = planSyrk(spec, c.options);
  if (c.expectVariant) expect(program.variant).toMatch(c.expectVariant);
  const result = await runProgram(ctx!.device, program, spec.buffers, data);
  expect(result.out.length).toBe(expected.length);
  expect(mismatches(result.out, expected, tolerance)).toEqual([]);
}

const describeCase = (c: Case) => `${c.dtype ?? 'float32'} x[${(c.slice?.from ?? c.x).join(',')}]${c.transA ? ' transA' : ''}${c.epilogue ? ' epilogue' : ''}`;

/** One test per variant, running `cases` in turn (a failure names the case). */
function forVariants(title: string, cases: readonly Case[], variants: readonly SyrkVariant[] = VARIANTS): void {
  for (const variant of variants) {
    gpuIt(`${title} [${variant}]`, async () => {
      for (const c of cases) {
        await check({ ...c, options: { variant, ...c.options } }).catch((err: Error) => {
          err.message = `${describeCase(c)}: ${err.message}`;
          throw err;
        });
      }
    });
  }
}

/** n (the output side) around the 64-wide tile; k paired with each so every k is odd, small and large. */
const SIZES = [1, 3, 17, 33, 64, 65, 100];
const KS = [7, 100, 1, 65, 33, 17, 3];
/** x [n, k] for X @ X^T, or x [k, n] with transA for x^T @ x. */
const plain = (n: number, k: number, extra: Partial<Case> = {}): Case => ({ x: [n, k], seed: n * 1000 + k, ...extra });
const transposed = (n: number, k: number, extra: Partial<Case> = {}): Case => ({ x: [k, n], transA: true, seed: n * 1000 + k + 1, ...extra });

describe('syrk sizes', () => {
  forVariants('x @ x^T, n in 1, 3, 17, 33, 64, 65, 100', SIZES.map((n, i) => plain(n, KS[i])));
  forVariants('x^T @ x (transA), n in 1, 3, 17, 33, 64, 65, 100', SIZES.map((n, i) => transposed(n, KS[(i + 3) % KS.length])));
  forVariants('k = 0 gives zeros', [plain(5, 0), plain(65, 0), transposed(70, 0, { dtype: 'int32' })]);
  forVariants('several tiles per side (3 x 3 grid: 6 tiles launched)', [plain(130, 9), transposed(129, 20)], ['tiled']);
});

describe('syrk operands and batches', () => {
  forVariants('batched over two axes', [
    { x: [2, 3, 33, 17], seed: 5 },
    { x: [3, 2, 9, 65], transA: true, seed: 6 },
  ]);
  forVariants('extent-1 batch axes', [{ x: [1, 3, 1, 17, 5], seed: 7 }]);
  forVariants('a sliced operand (offset, wide rows, NaN outside the slice), also along the batch axis', [
    { x: [65, 33], slice: { from: [70, 50], begin: [2, 9] }, seed: 8 },
    { x: [9, 70], slice: { from: [12, 80], begin: [2, 3] }, transA: true, seed: 9 },
    { x: [2, 13, 17], slice: { from: [3, 20, 40], begin: [1, 3, 5] }, seed: 10 },
  ]);
});

describe('syrk int32 is exact', () => {
  forVariants('small values, both layouts, batched', [
    { ...plain(65, 33), dtype: 'int32' },
    { ...transposed(17, 100), dtype: 'int32' },
    { x: [2, 33, 7], dtype: 'int32', seed: 3 },
  ]);
  forVariants('full-range values wrap like the reference', [
    { ...plain(66, 17), dtype: 'int32', gen: anyInts },
    { ...transposed(3, 9), dtype: 'int32', gen: anyInts },
    // 65536^2 = 2^32 wraps to 0 in every term.
    { ...plain(17, 5), dtype: 'int32', gen: () => 65536 },
  ]);
});

describe('syrk epilogue at each position', () => {
  // bias[col] is not symmetric: the mirror C(j, i) gets bias[i], so an epilogue evaluated once and copied
  // to both positions fails.
  forVariants('acc / (k - 1) + bias[col], float32', [
    { ...transposed(65, 33), epilogue: true },
    { ...plain(17, 100), epilogue: true },
    { x: [2, 9, 3], transA: true, epilogue: true, seed: 11 },
    { ...plain(5, 0), epilogue: true }, // k = 0: bias[col] alone
  ]);
  forVariants('acc * 3 + bias[col], int32', [
    { ...plain(66, 7), dtype: 'int32', epilogue: true },
    { x: [3, 4, 17], transA: true, dtype: 'int32', epilogue: true, seed: 12 },
  ]);

  gpuIt('stores every element exactly once: an epilogue that adds the old value of out', async () => {
    // out starts as 1000 + i; the epilogue stores acc + out[position]. An element stored twice by one thread
    // (a diagonal element also "mirrored") reads its own first store and ends up with acc counted twice.
    const runs: SyrkOptions[] = [...VARIANTS.map((variant) => ({ variant })), { variant: 'tiled', tile: TILE_MEDIUM, splitK: 3 }];
    for (const options of runs) {
      for (const c of [{ ...plain(65, 9), dtype: 'int32' as const }, { ...transposed(17, 40), dtype: 'int32' as const }]) {
        const { spec, data, expected } = build(c);
        const steps: ExprStep[] = [
          { kind: 'value', name: 'acc', dtype: 'int32' },
          { kind: 'load', buffer: 'out', dtype: 'int32', access: spec.store.access },
          { kind: 'op', op: 'add', args: [0, 1], attrs: {}, dtype: 'int32' },
        ];
        const init = Int32Array.from(expected, (_, i) => 1000 + i);
        const program = planSyrk({ ...spec, epilogue: { expr: { steps }, step: 2 } }, options);
        const result = await runProgram(ctx!.device, program, spec.buffers, { ...data, out: init });
        const want = Array.from(expected, (v, i) => (v + 1000 + i) | 0);
        expect(mismatches(result.out, want, new Float64Array(want.length)), `${program.variant} ${describeCase(c)}`).toEqual([]);
      }
    }
  });
});

describe('syrk launch geometry', () => {
  it('launches only the tiles on and below the diagonal', () => {
    expect([1, 64, 65, 128, 129, 200].map((n) => syrkTilesPerMatrix(n, 64))).toEqual([1, 1, 3, 3, 6, 10]);
    expect([1, 128, 129, 512].map((n) => syrkTilesPerMatrix(n, 128))).toEqual([1, 1, 3, 10]);
    const spec = (x: Shape, transA = false) => build({ x, transA }).spec;
    expect(generateSyrk(spec([100, 5]), { variant: 'tiled', tile: TILE_MEDIUM }).workgroups).toEqual([3, 1, 1]);
    expect(generateSyrk(spec([2, 3, 5, 130], true), { variant: 'tiled', tile: TILE_MEDIUM }).workgroups).toEqual([6, 1, 6]);
    expect(generateSyrk(spec([2, 3, 5, 130], true), { variant: 'tiled', tile: TILE_LARGE }).workgroups).toEqual([3, 1, 6]);
    // Split K: workgroup z numbers (batch, K range).
    expect(planSyrk(spec([2, 100, 64]), { variant: 'tiled', tile: TILE_MEDIUM, splitK: 4 }).dispatches.map((d) => d.kernel.workgroups)).toEqual([[3, 1, 8], [79, 1, 1]]);
    // direct: one thread per lower-triangle element, 256 per workgroup: 2 * 3 * (9 * 10 / 2) = 270 threads.
    expect(generateSyrk(spec([2, 3, 9, 4]), { variant: 'direct' }).workgroups).toEqual([2, 1, 1]);
  });

  it('chooses direct for small matrices and empty outputs, tiled otherwise', () => {
    expect(chooseSyrkVariant({ batch: [], n: 32 })).toBe('direct');
    expect(chooseSyrkVariant({ batch: [100], n: 32 })).toBe('direct');
    expect(chooseSyrkVariant({ batch: [], n: 33 })).toBe('tiled');
    expect(chooseSyrkVariant({ batch: [0], n: 100 })).toBe('direct');
    expect(chooseSyrkVariant({ batch: [], n: 32, k: 1000 })).toBe('tiled');
    // A covariance of 512 or 1024 features: few tiles, a long K: split (the tiles: 'syrk default tiles' below).
    expect(chooseSyrk({ batch: [], n: 512, k: 80000 })).toMatchObject({ tile: TILE_NARROW, splitK: 14 });
    expect(chooseSyrk({ batch: [], n: 1024, k: 80000 })).toMatchObject({ tile: TILE_LARGE_VEC4, splitK: 22 });
    expect(chooseSyrk({ batch: [], n: 4096, k: 4096 })).toMatchObject({ tile: TILE_LARGE, splitK: 1 });
    expect(generateSyrk(build({ x: [33, 4] }).spec).wgsl).toContain('var<workgroup>');
    expect(generateSyrk(build({ x: [32, 4] }).spec).wgsl).not.toContain('var<workgroup>');
    expect(generateSyrk(build({ x: [0, 4] }).spec, { variant: 'tiled' }).wgsl).not.toContain('var<workgroup>');
  });

  gpuIt('folds the grid when tiles times batches exceed a grid dimension', async () => {
    // 3 tiles per matrix, 5 batches: 15 workgroups on a 4 x 4 x 1 grid (one surplus workgroup leaves).
    const c: Case = { x: [5, 100, 7], seed: 13, options: { variant: 'tiled', tile: TILE_MEDIUM, maxWorkgroupsPerDim: 4 } };
    expect(generateSyrk(build(c).spec, c.options).workgroups).toEqual([4, 4, 1]);
    await check(c);
    // direct: 5 * 5050 = 25250 threads, 99 workgroups on a 10 x 10 grid.
    const dc: Case = { ...c, options: { variant: 'direct', maxWorkgroupsPerDim: 10 } };
    expect(generateSyrk(build(dc).spec, dc.options).workgroups).toEqual([10, 10, 1]);
    await check(dc);
    // Split K folds (batch, range, tile) too: 3 tiles x 5 batches x 3 ranges, 45 workgroups on a 15 x 3 grid.
    await check({ x: [5, 100, 40], seed: 14, options: { variant: 'tiled', tile: TILE_MEDIUM, splitK: 3, maxWorkgroupsPerDim: 15 }, expectVariant: /splitK3/ });
  });

  gpuIt('an empty output compiles and writes nothing', async () => {
    await check({ x: [0, 5] });
    await check({ x: [0, 3, 5], options: { variant: 'tiled' } });
  });

  gpuIt('wg_tri_row inverts the triangle numbering exactly for every index below 2^30', async () => {
    // Around the start and end of rows up to 2000 and near the largest row a u32-indexed output reaches.
    const rows = [...Array.from({ length: 2000 }, (_, r) => r), 4095, 4096, 65535 >>> 1, 46339, 46340, ...Array.from({ length: 200 }, (_, i) => 46000 + i * 3)];
    const ts = new Set<number>();
    for (const r of rows) for (const t of [(r * (r + 1)) / 2 - 1, (r * (r + 1)) / 2, (r * (r + 1)) / 2 + r, (r * (r + 1)) / 2 + (r >> 1)]) if (t >= 0 && t < 2 ** 30) ts.add(t);
    ts.add(2 ** 30 - 1);
    const list = Int32Array.from([...ts]);
    const wgsl = [
      '@group(0) @binding(0) var<storage, read> ts: array<u32>;',
      '@group(0) @binding(1) var<storage, read_write> rows: array<u32>;',
      TRI_ROW_HELPER,
      '@compute @workgroup_size(64)',
      'fn main(@builtin(global_invocation_id) g: vec3u) {',
      `  if (g.x < ${list.length}u) { rows[g.x] = wg_tri_row(ts[g.x]); }`,
      '}',
    ].join('\n');
    const buffers: KernelBuffer[] = [
      { name: 'ts', dtype: 'int32', access: 'read' },
      { name: 'rows', dtype: 'int32', access: 'read_write' },
    ];
    const result = await runKernel(ctx!.device, { wgsl, entryPoint: 'main', workgroups: [Math.ceil(list.length / 64), 1, 1] }, buffers, { ts: list, rows: list.length });
    const want = Array.from(list, (t) => {
      let r = Math.floor((Math.sqrt(8 * t + 1) - 1) / 2);
      while ((r * (r + 1)) / 2 > t) r--;
      while (((r + 1) * (r + 2)) / 2 <= t) r++;
      return r;
    });
    const bad = Array.from(result.rows).flatMap((r, i) => (r === want[i] ? [] : [`t=${list[i]}: ${r}, expected ${want[i]}`]));
    expect(bad.slice(0, 5)).toEqual([]);
  });
});

describe('syrk tile configurations and split K', () => {
  const TILES: readonly TileConfig[] = [
    TILE_LARGE,
    TILE_SPLIT,
    TILE_MEDIUM,
    { bm: 32, bn: 32, bk: 4, tm: 4, tn: 4, db: false, unroll: false, group: 0 },
    { bm: 64, bn: 64, bk: 8, tm: 8, tn: 8, db: true, unroll: true, group: 0 },
    // Two K steps per iteration with double-buffered fragments; one stage with prefetch and fragments.
    { bm: 128, bn: 128, bk: 8, tm: 8, tn: 8, db: true, unroll: true, group: 0, pairs: true, frag: true },
    { bm: 64, bn: 64, bk: 16, tm: 4, tn: 4, db: false, unroll: true, group: 0, prefetch: true, frag: true },
  ];
  // Vectors along k (x [n, k], k % 4 = 0) and along n (transA, n % 4 = 0), odd sizes, batches, epilogue.
  const cases: Case[] = [
    plain(68, 36),
    transposed(100, 33),
    plain(65, 17, { epilogue: true }),
    { x: [2, 40, 68], transA: true, epilogue: true, seed: 31 },
    { ...plain(66, 20), dtype: 'int32', gen: anyInts },
  ];
  for (const tile of TILES) {
    for (const splitK of [1, 3]) {
      gpuIt(`tiled ${tileName(tile)} split ${splitK}`, async () => {
        for (const c of cases) {
          await check({ ...c, options: { variant: 'tiled', tile, splitK }, expectVariant: splitK > 1 ? /splitK/ : new RegExp(`^tiled${tile.bm}$`) }).catch((err: Error) => {
            err.message = `${describeCase(c)}: ${err.message}`;
            throw err;
          });
        }
      });
    }
  }
  gpuIt('the default choice: split K for a long K, exactly symmetric', async () => {
    const c: Case = { x: [3000, 36], transA: true, seed: 32, expectVariant: /^tiled64.splitK/ }; // 36 features: the narrow tile
    await check(c);
    const { spec, data } = build(c);
    const out = (await runProgram(ctx!.device, planSyrk(spec), spec.buffers, data)).out;
    for (let i = 0; i < 36; i++) for (let j = 0; j < i; j++) expect(out[i * 36 + j]).toBe(out[j * 36 + i]);
  });
});

describe('syrk spec checks', () => {
  const base = () => build({ x: [3, 5] }).spec;
  it('rejects reserved buffer names, a wrong batch stride count and an operand of another dtype', () => {
    const spec = base();
    expect(() => generateSyrk({ ...spec, buffers: spec.buffers.map((b) => (b.name === 'in0' ? { ...b, name: 'acc' } : b)), x: { ...spec.x, buffer: 'acc' } })).toThrow(/reserved/);
    expect(() => generateSyrk({ ...spec, x: { ...spec.x, batchStrides: [15] } })).toThrow(/batch strides/);
    expect(() => generateSyrk({ ...spec, buffers: spec.buffers.map((b) => (b.name === 'in0' ? { ...b, dtype: 'int32' } : b)) })).toThrow(/not float32/);
    expect(() => generateSyrk({ ...spec, store: { ...spec.store, buffer: 'in0' } })).toThrow(/operand/);
  });
});

// Whole graphs: syrk nodes lowered by lowerGraph (src/lowering/lower.ts) and run by the WebGPU backend,
// without the graph passes (one dispatch per node: the syrk node's own lowering) and with them.
describe('syrk through lowerGraph and the WebGPU backend', () => {
  const unfused = ctx ? new WebGpuBackend(ctx, { fusion: false }) : null;
  const fused = ctx ? new WebGpuBackend(ctx) : null;

  async function runGraph(graph: Graph, args: TypedArray[], backend = unfused): Promise<TypedArray[]> {
    const storages = graph.inputs.map((n, i) => Storage.fromHost(n.dtype, n.shape, args[i]));
    const outs = await backend!.run(graph, storages);
    const values = await Promise.all(outs.map((o) => backend!.read(o)));
    [...outs, ...storages].forEach((s) => s.release());
    return values;
  }

  gpuIt('the default passes turn x^T @ x written with a transpose into a syrk dispatch', async () => {
    const x = input('float32', [3, 50, 65]);
    const graph = makeGraph([makeNode('matmul', [makeNode('transpose', [x], { perm: [0, 2, 1] }), x])]);
    const { plan, log } = compileGraph(graph);
    expect(log.find((l) => l.pass === 'detect-syrk')?.fired).toEqual(['rewrite %1 = matmul %0, %0 {transA} as syrk (x^T @ x)']);
    expect(plan.dispatches.map((d) => d.kernel)).toEqual(['syrk.float32.tA']);
    const data = randomArray('float32', sizeOf(x.shape), smallFloats, rng(24));
    const want = executeGraph(graph, [data])[0];
    const got = (await runGraph(graph, [data], fused))[0];
    expect(mismatches(got, want, floatBound(executeGraph(graph, [data.map(Math.abs)])[0], 50, 65, null))).toEqual([]);
  });

  gpuIt('syrk {transA} of a transposed view: one syrk dispatch, no copy, the reference values', async () => {
    // x stored [2, 5, 33]; xt, its transpose [2, 33, 5], is a strided view (no copy). syrk {transA} of xt is
    // xt^T @ xt = x @ x^T, [2, 5, 5] with k = 33, as is syrk of x itself (the second output).
    const x = input('float32', [2, 5, 33]);
    const xt = makeNode('transpose', [x], { perm: [0, 2, 1] });
    const a = makeNode('syrk', [xt], { transA: true });
    const b = makeNode('syrk', [x]);
    const graph = makeGraph([a, b]);
    const plan = lowerGraph(graph);
    expect(plan.dispatches.map((d) => d.kernel)).toEqual(['syrk.float32.tA', 'syrk.float32']);
    const next = rng(21);
    const data = randomArray('float32', sizeOf(x.shape), smallFloats, next);
    const want = executeGraph(graph, [data]);
    const absWant = executeGraph(graph, [data.map(Math.abs)]);
    const got = await runGraph(graph, [data]);
    expect(mismatches(got[0], want[0], floatBound(absWant[0], 33, 5, null))).toEqual([]);
    expect(mismatches(got[1], want[1], floatBound(absWant[1], 33, 5, null))).toEqual([]);
  });

  gpuIt('int32 and a covariance (centred x^T @ x / (k - 1)) as the passes would produce it', async () => {
    const xi = input('int32', [70, 9]);
    const gi = makeGraph([makeNode('syrk', [xi], { transA: true })]);
    const di = randomArray('int32', 70 * 9, anyInts, rng(22));
    expect(Array.from((await runGraph(gi, [di]))[0])).toEqual(Array.from(executeGraph(gi, [di])[0]));

    const x = input('float32', [40, 65]);
    const mean = makeNode('div', [makeNode('sum', [x], { axes: [0], keepdims: true }), scalar(40, 'float32')]);
    const centred = makeNode('sub', [x, mean]);
    const cov = makeNode('div', [makeNode('syrk', [centred], { transA: true }), scalar(39, 'float32')]);
    const graph = makeGraph([cov]);
    expect(lowerGraph(graph).dispatches.some((d) => d.kernel === 'syrk.float32.tA')).toBe(true);
    const data = randomArray('float32', 40 * 65, smallFloats, rng(23));
    const want = executeGraph(graph, [data])[0];
    const got = (await runGraph(graph, [data]))[0];
    // Worst case over K = 40 samples with |x| <= 1: each column sum errs by <= gamma_K * K, so each mean by
    // gamma_K, plus its own rounding and the subtraction's (|c| <= 2): d = gamma_K + 3u * 2. The products
    // c_pi c_pj (|.| <= 4) then err by <= 2 * 2 * d each, K of them, and summing them adds (gamma_K + u) * 4K;
    // the division by 39 adds 6u relative (WGSL's 2.5 ulp and the reference's rounding).
    const K = 40;
    const gammaK = (K * U) / (1 - K * U);
    const d = gammaK + 6 * U;
    const bound = ((K * 4 * d + (gammaK + U) * 4 * K) / 39) * (1 + 6 * U) + (6 * U * 4 * K) / 39;
    expect(mismatches(got, want, new Float64Array(want.length).fill(bound))).toEqual([]);
    // Exactly symmetric: the mirror is a copy of the same accumulator.
    for (let i = 0; i < 65; i++) for (let j = 0; j < i; j++) expect(got[i * 65 + j]).toBe(got[j * 65 + i]);
  });
});

/**
 * The default tiles (chooseSyrk, planSyrk): split K on GEMM's LARGE_VEC4 where X loads as vec4, SPLIT where
 * it does not (the fallback planMatmul uses, tileForLoads); without split K, LARGE. The covariance rows of
 * the bench harness (d = 512 features, n = 20000 and 80000 samples: c.T @ c / (n - 1)) are x^T x of a
 * contiguous x [n, 512] with the division as the combine's epilogue.
 */
describe('syrk default tiles', () => {
  /** x^T x (transA) of x [k, n] with row stride `ld` (n + padding), or x x^T of x [n, k]; specs by hand (too large for the CPU reference). */
  const big = (n: number, k: number, o: { plain?: boolean; ld?: number; offset?: number; batch?: number; batchStride?: number; divide?: boolean; epilogueReadsX?: boolean } = {}): SyrkSpec => {
    const ld = o.ld ?? (o.plain ? k : n);
    const batch = o.batch ? [o.batch] : [];
    const steps: ExprStep[] = o.epilogueReadsX
      ? [
          { kind: 'value', name: 'acc', dtype: 'float32' },
          { kind: 'load', buffer: 'in0', dtype: 'float32', access: { offset: 0, strides: [...batch.map(() => 0), 0, 1] } },
          { kind: 'op', op: 'add', args: [0, 1], attrs: {}, dtype: 'float32' },
        ]
      : [
          { kind: 'value', name: 'acc', dtype: 'float32' },
          { kind: 'op', op: 'const', args: [], attrs: { value: k - 1 }, dtype: 'float32' },
          { kind: 'op', op: 'div', args: [0, 1], attrs: {}, dtype: 'float32' },
        ];
    return {
      dtype: 'float32',
      batch,
      n,
      k,
      x: { buffer: 'in0', offset: o.offset ?? 0, batchStrides: batch.map(() => o.batchStride ?? k * ld), ...(o.plain ? { rowStride: ld, colStride: 1 } : { rowStride: 1, colStride: ld }) },
      ...(o.divide || o.epilogueReadsX ? { epilogue: { expr: { steps }, step: 2 } } : {}),
      buffers: [
        { name: 'in0', dtype: 'float32', access: 'read' },
        { name: 'out', dtype: 'float32', access: 'read_write' },
      ],
      store: { buffer: 'out', access: { offset: 0, strides: [...batch.map(() => n * n), n, 1] } },
    };
  };
  const labels = (spec: SyrkSpec, options?: SyrkOptions) => planSyrk(spec, options).dispatches.map((d) => d.label);
  const split = (tile: TileConfig, s: number) => [`tiled ${tileName(tile)} split ${s}`, `combine ${s}`];

  it('the covariance shapes (d = 512, n = 20000 and 80000) split K on the narrow tile, 1024 features on LARGE_VEC4', () => {
    // Up to 10 tiles of 128 (SYRK_NARROW_MAX_LARGE_TILES: 512 features) the narrow 64x64 tile over
    // narrowSplits' ranges (36 tiles, 14 ranges: 504 workgroups of 64 threads); LARGE_VEC4 beyond.
    expect(SYRK_NARROW_MAX_LARGE_TILES).toBe(syrkTilesPerMatrix(512, 128));
    expect(chooseSyrk({ batch: [], n: 512, k: 80000 })).toEqual({ variant: 'tiled', tile: TILE_NARROW, splitK: 14 });
    expect(chooseSyrk({ batch: [], n: 512, k: 20000 })).toEqual({ variant: 'tiled', tile: TILE_NARROW, splitK: 14 });
    expect(chooseSyrk({ batch: [], n: 256, k: 20000 })).toEqual({ variant: 'tiled', tile: TILE_NARROW, splitK: 51 });
    expect(chooseSyrk({ batch: [], n: 1024, k: 80000 })).toEqual({ variant: 'tiled', tile: TILE_LARGE_VEC4, splitK: 22 });
    expect(chooseSyrk({ batch: [], n: 1024, k: 20000 })).toEqual({ variant: 'tiled', tile: TILE_LARGE_VEC4, splitK: 7 });
    // A K too short to split keeps the previous choice (MEDIUM here), not an unsplit narrow tile.
    expect(chooseSyrk({ batch: [], n: 512, k: 300 })).toEqual({ variant: 'tiled', tile: TILE_MEDIUM, splitK: 1 });
    expect(labels(big(512, 80000, { divide: true }))).toEqual(split(TILE_NARROW, 14));
    expect(labels(big(512, 20000, { divide: true }))).toEqual(split(TILE_NARROW, 14));
    expect(labels(big(1024, 80000, { divide: true }))).toEqual(split(TILE_LARGE_VEC4, 22));
    // X loads vec4 along its rows (x's columns), and the epilogue runs in the combine.
    for (const n of [512, 1024]) {
      const [product, combine] = planSyrk(big(n, 80000, { divide: true })).dispatches;
      expect(product.kernel.wgsl).toContain('in0: array<vec4<f32>>');
      expect(product.kernel.wgsl).not.toContain('/ 79999');
      expect(combine.kernel.wgsl).toMatch(/79999/);
    }
    // X x^T of x [512, 80000] loads vec4 along k; a batch of 4 (40 tiles of 128) takes LARGE_VEC4, fewer ranges.
    expect(labels(big(512, 80000, { plain: true }))).toEqual(split(TILE_NARROW, 14));
    expect(chooseSyrk({ batch: [4], n: 512, k: 80000 })).toEqual({ variant: 'tiled', tile: TILE_LARGE_VEC4, splitK: 13 });
    expect(labels(big(512, 80000, { batch: 4 }))).toEqual(split(TILE_LARGE_VEC4, 13));
    // Enough tiles for no split: LARGE, the best measured there (4096 x 4096).
    expect(chooseSyrk({ batch: [], n: 4096, k: 4096 })).toEqual({ variant: 'tiled', tile: TILE_LARGE, splitK: 1 });
    expect(labels(big(4096, 4096))).toEqual([`tiled ${tileName(TILE_LARGE)}`]);
  });

  it('falls back to SPLIT (LARGE_VEC4) and MEDIUM (the narrow tile) where X does not load as vec4, and keeps a forced tile', () => {
    const splitTile = split(TILE_SPLIT, 22);
    expect(labels(big(1023, 80000))).toEqual(splitTile); // n odd: the rows of X are not aligned
    expect(labels(big(1024, 80000, { ld: 1025 }))).toEqual(splitTile); // a column slice of a wider x
    expect(labels(big(1024, 80000, { offset: 1 }))).toEqual(splitTile);
    expect(labels(big(1024, 80000, { offset: 4 }))).toEqual(split(TILE_LARGE_VEC4, 22));
    expect(labels(big(1024, 80001, { plain: true }))).toEqual(splitTile); // k odd along x's rows
    expect(labels(big(512, 80000, { batch: 4, batchStride: 512 * 80000 + 2 }))).toEqual(split(TILE_SPLIT, 13));
    expect(labels(big(511, 80000))).toEqual(split(TILE_MEDIUM, 14));
    expect(labels(big(512, 80000, { offset: 1 }))).toEqual(split(TILE_MEDIUM, 14));
    // One K range (generateSyrk): an epilogue that reads X by element binds it as scalars: LARGE. With split K
    // the epilogue is the combine's, and the product still loads vec4.
    expect(labels(big(1024, 80000, { epilogueReadsX: true }), { splitK: 1 })).toEqual([`tiled ${tileName(TILE_LARGE)}`]);
    expect(labels(big(1024, 80000), { splitK: 1 })).toEqual([`tiled ${tileName(TILE_LARGE_VEC4)}`]);
    expect(labels(big(1024, 80000, { epilogueReadsX: true }))).toEqual(split(TILE_LARGE_VEC4, 22));
    expect(labels(big(512, 80000, { epilogueReadsX: true }))).toEqual(split(TILE_NARROW, 14));
    // Forced tiles are kept, whatever the loads.
    expect(labels(big(1023, 80000), { tile: TILE_LARGE_VEC4 })).toEqual(split(TILE_LARGE_VEC4, 22));
    expect(labels(big(1024, 80000), { tile: TILE_SPLIT })).toEqual(split(TILE_SPLIT, 22));
    expect(labels(big(512, 80000), { tile: TILE_LARGE_PAIRS, splitK: 8 })).toEqual(split(TILE_LARGE_PAIRS, 8));
  });

  gpuIt('the default on small covariance-like shapes: the narrow tile split, MEDIUM where unaligned; LARGE_VEC4 beyond 512 features', async () => {
    // 68 and 64 features: 128-wide tiles would be mostly out of bounds; 120 fills 94% of one, but one tile of
    // 128 over a long K is split on the narrow tile too (SYRK_NARROW_MAX_LARGE_TILES), as far as 512 features.
    expect(chooseSyrk({ batch: [], n: 64, k: 2000 })).toEqual({ variant: 'tiled', tile: TILE_NARROW, splitK: 7 });
    expect(chooseSyrk({ batch: [], n: 116, k: 2000 })).toMatchObject({ tile: TILE_NARROW });
    expect(chooseSyrk({ batch: [], n: 117, k: 2000 })).toMatchObject({ tile: TILE_NARROW });
    expect(chooseSyrk({ batch: [], n: 512, k: 2000 })).toMatchObject({ tile: TILE_NARROW });
    expect(chooseSyrk({ batch: [], n: 640, k: 2000 })).toMatchObject({ tile: TILE_LARGE_VEC4 }); // 15 tiles of 128
    for (const [c, tile] of [
      [{ x: [2000, 68], transA: true, epilogue: true, seed: 41 }, TILE_NARROW],
      [{ x: [2000, 67], transA: true, epilogue: true, seed: 42 }, TILE_MEDIUM],
      [{ x: [1500, 64], slice: { from: [1502, 66], begin: [1, 1] }, transA: true, seed: 43 }, TILE_MEDIUM],
      [{ x: [2000, 120], transA: true, seed: 44 }, TILE_NARROW],
      [{ x: [2000, 132], transA: true, epilogue: true, seed: 47 }, TILE_NARROW], // two tiles of 128 per side
    ] as const) {
      const { spec } = build(c);
      const program = planSyrk(spec);
      expect(program.dispatches[0].label.split(' ')[1]).toBe(tileName(tile));
      expect(program.variant).toMatch(new RegExp(`^tiled${tile.bm}\\.splitK\\d+$`));
      await check(c);
    }
  });
});

/**
 * LARGE_VEC4 (the split-K default) and the narrow 64x64 tile (the default for n up to 116) forced on layouts
 * where X loads as vec4 (along k for x [n, k], along n for x^T x): n not a multiple of 4 or of the tile where
 * the layout allows, n = 1, k = 1, k short of a K step, batches, a sliced view with an aligned offset, one
 * and several K ranges, the epilogue in the product and in the combine, int32 wrap-around. One test per case:
 * SwiftShader takes seconds to compile each kernel.
 */
describe.each([
  ['TILE_LARGE_VEC4', TILE_LARGE_VEC4],
  ['TILE_NARROW', TILE_NARROW],
] as const)('syrk %s', (_name, tile) => {
  const cases: readonly (Case & { readonly splitK: number })[] = [
    { ...transposed(100, 36), splitK: 3 },
    { ...transposed(132, 40, { epilogue: true }), splitK: 1 },
    { ...plain(65, 40), splitK: 3 }, // n odd: vectors along k, bounds along n and within the K step
    { ...plain(130, 36, { epilogue: true }), splitK: 2 },
    { ...plain(1, 72), splitK: 3 },
    { ...transposed(132, 1), splitK: 1 },
    { ...plain(36, 4), splitK: 1 },
    { x: [2, 3, 40, 68], transA: true, seed: 44, splitK: 3 },
    { x: [65, 36], slice: { from: [70, 48], begin: [2, 8] }, seed: 45, splitK: 3 },
    { x: [2, 36, 68], slice: { from: [3, 40, 72], begin: [1, 4, 4] }, transA: true, epilogue: true, seed: 46, splitK: 1 },
    { ...plain(68, 36), dtype: 'int32', gen: anyInts, splitK: 3 },
  ];
  for (const c of cases) {
    gpuIt(`${describeCase(c)} split ${c.splitK}`, async () => {
      const { spec } = build(c);
      const options: SyrkOptions = { variant: 'tiled', tile, splitK: c.splitK };
      // X is bound and loaded as vec4 (the layouts these tiles are chosen for).
      expect(planSyrk(spec, options).dispatches[0].kernel.wgsl).toMatch(/in0: array<vec4<(f32|i32)>>/);
      await check({ ...c, options, expectVariant: new RegExp(`^tiled${tile.bm}${c.splitK > 1 ? `\\.splitK${c.splitK}` : ''}$`) });
    });
  }
});
