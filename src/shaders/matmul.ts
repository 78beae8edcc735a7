// Matrix multiplication: C[...batch, m, n] = A[...batch, m, k] @ B[...batch, k, n], with an optional
// elementwise epilogue (bias, activation, residual) applied to each dot product before it is stored.
//
// Operands are read in place through strides, so a transposed, sliced or batch-broadcast operand needs no
// copy; strides and extents are baked into the WGSL as constants (a plan is built per shape). Loads are
// bounds-checked along every axis whose extent is not a multiple of the tile, so any m, n, k works without
// padding (k = 0 gives zeros, or the epilogue of 0).
//
// The kernel family, chosen from the shape (chooseMatmul; any choice can be forced through MatmulOptions):
// - tiled (src/shaders/gemm-tiled.ts): a register-blocked tile per workgroup, parametric (TileConfig: tile
//   bm x bn, K step bk, tm x tn outputs per thread, double-buffered workgroup memory with the next step's
//   loads prefetched in registers, unrolled K step, grouped launch order). Tiles load vec4 along an
//   operand's stride-1 axis where aligned; results are stored as vec4 where the output allows it. The tile's
//   shape follows the output's: 128x128 where it fills them, 64 wide along an extent that 128 would cover
//   with more than 10% out of bounds (narrow), 16 or 32 along a short side of 9 to 32 (skinny).
// - split K: the tiled kernel over `splits` K ranges, each writing its partial sums to a temporary buffer,
//   then a combine dispatch adds them in a fixed order and runs the epilogue: for outputs too small to fill
//   the GPU with tiles while K is long (planMatmul returns both dispatches and the temporary).
// - gemv (src/shaders/gemv.ts): m or n at most GEMV_MAX_ROWS (a row vector times a matrix, a matrix times a
//   column vector, products of up to 8 rows): each workgroup streams the other operand once, threads spread
//   over the long axis and over K, reduced through workgroup memory; optionally split K as well.
// - direct: one thread per output element, a plain dot product from global memory; for tiny outputs with a
//   short K (gemv's shapes of 256 and more only up to DIRECT_GEMV_MAX_K), and for empty outputs.
//
// float32 accumulates in f32 (the reference accumulates in f64: tests compare with a derived tolerance);
// int32 accumulates in i32, which wraps in WGSL exactly as the reference's Math.imul and |0.
import { sizeOf, stridesOf, type Shape } from '../ir/shape.js';
import { emitExpr, indexOf, type Access, type Coords, type Expr } from './expr.js';
import { bufferDecls, coordsOf, type GeneratedKernel, type KernelBuffer } from './elementwise.js';
import { gemvConfigError, gemvLayout, generateGemvCore, type GemvConfig } from './gemv.js';
import { describeLoads, generateTiledCore, tileConfigError, tileName, tileThreads, type CoreOperand, type TileConfig } from './gemm-tiled.js';
import { grid1d, LINEAR_WORKGROUP, MAX_WORKGROUPS_PER_DIM } from './grid.js';
import { checkPrologue, prologueBuffers, prologueFunction, prologueLanes, prologueWants, type MajorAxis, type OperandPrologue } from './prologue.js';
import { prologueValuesCode } from './prologue-values.js';
import { indent, STORAGE_TYPE, toStorage, VALUE_TYPE } from './wgsl.js';

export type { GemvConfig } from './gemv.js';
export type { TileConfig } from './gemm-tiled.js';

export interface MatrixOperand {
  readonly buffer: string;
  readonly offset: number;
  /** One stride per batch axis of the output's batch shape (0 where this operand broadcasts). */
  readonly batchStrides: readonly number[];
  /** Element (r, c) of the logical matrix is at offset + batch terms + r * rowStride + c * colStride. */
  readonly rowStride: number;
  readonly colStride: number;
  /**
   * The operand computed as it loads (src/shaders/prologue.ts; the tiled and direct variants, and gemv's
   * short operand; prologue values only in the last two): buffer, offset and strides are then unused.
   */
  readonly prologue?: OperandPrologue;
}

export interface MatmulSpec {
  readonly dtype: 'float32' | 'int32';
  /** Output batch shape (may be []). */
  readonly batch: Shape;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  /** Logical [m, k]: a transA flag or a transposed view is just swapped strides. */
  readonly a: MatrixOperand;
  /** Logical [k, n]. */
  readonly b: MatrixOperand;
  /**
   * Optional epilogue evaluated per output element over the index space [...batch, m, n]: an Expr with a
   * `value` step named 'acc' (the dot product); `step` is what is stored. It may load other buffers
   * through Accesses over that space.
   */
  readonly epilogue?: { readonly expr: Expr; readonly step: number };
  /** Buffers in binding order; operands, epilogue loads and the store name them. */
  readonly buffers: readonly KernelBuffer[];
  /** Where the [...batch, m, n] result goes (usually row-major contiguous). */
  readonly store: { readonly buffer: string; readonly access: Access };
}

export type MatmulVariant = 'tiled' | 'direct' | 'gemv';

export interface MatmulOptions {
  /** Forces a variant (tests, benchmarks); by default chooseMatmul picks one from the shape. */
  readonly variant?: MatmulVariant;
  /** The tiled variant's geometry (default: chooseMatmul's). */
  readonly tile?: TileConfig;
  /** The gemv variant's geometry (default: chooseMatmul's). */
  readonly gemv?: GemvConfig;
  /** K ranges for the tiled and gemv variants (planMatmul only; generateMatmul always uses one). */
  readonly splitK?: number;
  /** The grid limit per dimension; tests lower it to exercise grid folding without huge launches. */
  readonly maxWorkgroupsPerDim?: number;
  /** Workgroup memory the device grants (bytes); the defaults fit WebGPU's default of 16384. */
  readonly workgroupStorage?: number;
}

/** One dispatch of a product: its kernel and its buffers in binding order (the spec's, or temporaries). */
export interface GemmDispatch {
  readonly kernel: GeneratedKernel;
  readonly buffers: readonly KernelBuffer[];
  /** What this dispatch does, e.g. `tiled 128x128x8/8x8.db split 8` or `combine 8`. */
  readonly label: string;
}

/** A product as dispatches: usually one; split K adds a temporary of partial sums and a combine. */
export interface GemmProgram {
  readonly temps: readonly { readonly name: string; readonly dtype: 'float32' | 'int32'; readonly size: number }[];
  readonly dispatches: readonly GemmDispatch[];
  /** The chosen variant and geometry, for kernel names: e.g. `tiled128x128`, `gemv`, `direct`, with `.splitK8`. */
  readonly variant: string;
}

/** The direct variant: one thread per output, in workgroups of this size. */
export const DIRECT_WORKGROUP = 256;
/** Up to this many outputs per matrix (a quarter of a 64x64 tile), with a short K, one thread per output. */
export const DIRECT_MAX_OUTPUTS = 1024;
/** ... where K is at most this (longer dot products are better split over threads). */
export const DIRECT_MAX_K = 256;
/** The gemv variant takes products whose m or n is at most this. */
export const GEMV_MAX_ROWS = 8;
/**
 * A gemv-shaped product (m or n at most GEMV_MAX_ROWS) whose long side is at least GEMV_OVER_DIRECT_EXTENT
 * takes the direct variant only up to this K. On the H100 (gemm-sweep --set gemv-split: long sides of 256
 * and more, K from 32) gemv was as fast or faster at every K measured: 256 x 256 times a vector 0.0092 ms
 * against direct's 0.0427 (each thread walks its own row of A), 256 x 64 0.0092 against 0.0170, 256 x 32
 * 0.0093 against 0.0126; a row vector times 256 x 32 0.0092 against 0.0089. Shorter sides keep direct: not
 * measured there, and on SwiftShader (workgroup barriers in software) gemv made the demo's PCA over 64
 * features 3x slower.
 */
export const DIRECT_GEMV_MAX_K = 16;
/** See DIRECT_GEMV_MAX_K. */
export const GEMV_OVER_DIRECT_EXTENT = 256;
/**
 * In gemv's k layout (the long operand's stride-1 axis is K, as C @ v with C row-major) each workgroup
 * already spreads K over 64 threads: split K only where the workgroups are fewer than FILL_WORKGROUPS / 4,
 * in ranges of at least this K. On the H100 (gemm-sweep --set gemv-split) one dispatch beat any split for
 * every square matrix from 256 to 4096 times a vector (512 x 512: 0.0095 ms against 0.0116 in 2 ranges and a
 * combine; 2048 x 2048 0.0148 against 0.0184) and for 512 x 16384 (128 workgroups: 0.0171 against 0.0179 in
 * 4); 64 rows (16 workgroups) gained from ranges of 1024 to 4096 (64 x 8192: 0.0179 in 8 against 0.0200 in
 * one; 64 x 65536: 0.0162 in 16 against 0.0452).
 */
export const GEMV_K_MIN_SPLIT_K = 1024;
/** The name of the partial-sums temporary of split K. */
export const PARTIAL_BUFFER = 'wg_part';

/**
 * The default geometries, from the H100 sweeps (bench/gemm-sweep.ts; the tables are in
 * bench/results/nvidia-h100-80gb-hbm3/gemm-sweep-2026-11-24.md and gemm-sweep-2026-11-24-run2.md, the summary
 * in docs/performance.md). Every one fits WebGPU's default 16 KiB of workgroup memory and 256 threads.
 * - LARGE_VEC4: outputs of at least two waves of 128x128 tiles whose operands both load as vec4 (the usual
 *   aligned layouts), and split K on such operands, SYRK's too (syrk.ts): 128x128 tiles on 128 threads of
 *   16x8 outputs, K steps of 16 in one stage with the next step prefetched into registers, double-buffered
 *   register fragments, grouped launch order. Against LARGE: 4096^3 2.87 vs 3.39 ms, x @ w.T 3.01 vs 3.44,
 *   4096 x 4096 x 1024 0.743 vs 0.858, 65536 x 256 x 256 0.217 vs 0.235, 512 x 512 x 80000 split 16 0.895
 *   vs 1.038 (SPLIT); SYRK 512 x 80000 split 26 0.615 vs 0.670 (SPLIT). One wave of tiles with K >= 1024
 *   too (4096 x 1024 x 4096: 0.776 vs 0.792 for LARGE_PAIRS).
 * - LARGE_PAIRS: aligned outputs of fewer tiles with a short K (batched 64 x 256^3, one wave): LARGE with two K steps per
 *   loop iteration and double-buffered fragments (0.0670 vs 0.0690 ms for LARGE, 0.0714 for LARGE_VEC4).
 * - LARGE_STAGED: LARGE_VEC4 with staged stores (gemm-tiled.ts): large products with a fused epilogue from
 *   K = 1024, but x @ w.T (chooseMatmul, tileForLoads).
 * - LARGE: 128x128 tiles on 256 threads of 8x8, K steps of 8 double-buffered: large outputs with an operand
 *   that loads as scalars (4095^3: 3.83 ms; LARGE_PAIRS took 5.49 there, and LARGE_VEC4 would keep 32 scalar
 *   prefetch registers per thread, which SwiftShader takes minutes to compile), SYRK without split K
 *   (syrk.ts; 1.51 ms on 4096 x 4096, LARGE_VEC4 1.53, LARGE_PAIRS 1.61) and the tile of a forced tiled
 *   variant.
 * - SPLIT: 8x8 on 256 threads with K steps of 16 in one stage, for split K (GEMM and SYRK) with an operand
 *   loaded as scalars.
 * - SMALL_K (k <= 32, and up to 64 on outputs of few tiles): 64x64 tiles, 4x4 per thread: four times the
 *   workgroups of 128x128 tiles. At K = 8 (0.033 ms on 4096 x 4096) the product costs about writing its
 *   64 MiB; each K step of 16 adds about 16 us. No other geometry of 19 measured, nor workgroups running
 *   several tiles, beat it at K = 32 (gemm-sweep-smallk-2026-11-24-stop17/).
 * - NARROW, NARROW_N, NARROW_M: 64x64, 128x64 and 64x128 tiles of 8x8 per thread (64 or 128 threads), the
 *   next K step prefetched, double-buffered fragments, operands loaded as vec4 (else MEDIUM, or SMALL_K for
 *   a short K). For outputs whose n (NARROW_N), m (NARROW_M) or both (NARROW) 128-wide tiles would cover
 *   with more than 10% out of bounds (n = 64: half of every 128x128 tile computes nothing), and for K of
 *   33 to 64 on outputs of at least 4 x FILL_WORKGROUPS tiles of 64x64 (NARROW). Measured on the H100
 *   (gemm-sweep --set narrow and smallk, 2026-11-24 stop 17, cuBLAS in the same call): attention's P @ V
 *   32 x 1024 x 64 x 1024 0.116 vs 0.205 ms for 128x128 tiles (cuBLAS 0.136), 16 x 4096 x 64 x 4096 0.778
 *   vs 1.465 (cuBLAS 0.832), 65536 x 64 x 256 0.072 vs 0.147, 4096 x 64 x 4096 (split K 8) 0.074 vs 0.128,
 *   64 x 4096 x 4096 0.071 vs 0.128, 16384 x 192 x 1024 x @ w.T 0.161 vs 0.210; 4096^2 x 64 0.0711 vs 0.0811
 *   for SMALL_K (cuBLAS 0.101), attention scores 32 x 1024^2 x 64 0.129 vs 0.164. Split K: narrowSplits.
 *   Also, unsplit, for outputs of too few 128x128 tiles with K up to MID_NARROW_MAX_K (1024^3: see there).
 * - SKINNY_M16 / SKINNY_M32 (SKINNY_N16 / SKINNY_N32): for 9 to 32 rows (columns), 64 threads, as NARROW
 *   otherwise. Up to 16 rows, 16x64 tiles of 4x4 per thread with K steps of 32 (64x16 for columns); 17 to
 *   32, 32x64 tiles of 4x8 with K steps of 16 (64x32 of 8x4). Stop 17 measured 16x128 tiles of 4x8 with K
 *   steps of 16 for 16 rows against NARROW_M (16 x 4096 x 4096 0.0435 vs 0.0684 ms, cuBLAS 0.094; 4096 x 16 x
 *   4096 0.0521 vs 0.0943 for NARROW_N), stop 18 the 16x64 tile of K steps of 32 against those (gemm-sweep
 *   --set skinny-k, three calls agreeing within 1%): 16 x 4096 x 4096 0.0422 vs 0.0433, x @ w.T 0.0472 vs
 *   0.0527, 16 x 8192 x 4096 x @ w.T 0.0747 vs 0.0876, 4096 x 16 x 4096 0.0462 vs 0.0527, 8192 x 16 x 4096
 *   0.0724 vs 0.0874: a thread row reads 128 contiguous bytes of each row along k per step instead of 64.
 *   On 17 to 32 rows K steps of 32 were 10-17% slower, the 16-row tile 20-35%. 32 x 4096 x 4096 x @ w.T:
 *   0.0584 vs 0.0722 for NARROW_M (cuBLAS 0.070). gemv with 16 or 32 rows was 1.3-3x slower.
 * - MEDIUM: 64x64 tiles for outputs too small for LARGE when K is too short to split.
 * - GEMV_N / GEMV_K: the gemv layouts (the long operand's stride-1 axis along n or k).
 */
export const TILE_LARGE_VEC4: TileConfig = { bm: 128, bn: 128, bk: 16, tm: 16, tn: 8, db: false, unroll: true, group: 8, prefetch: true, frag: true };
export const TILE_LARGE_PAIRS: TileConfig = { bm: 128, bn: 128, bk: 8, tm: 8, tn: 8, db: true, unroll: true, group: 0, pairs: true, frag: true };
export const TILE_LARGE: TileConfig = { bm: 128, bn: 128, bk: 8, tm: 8, tn: 8, db: true, unroll: true, group: 0 };
/** LARGE with double-buffered fragments: LARGE_PAIRS's place where A loads along m (x.T @ w; tileForLoads). */
export const TILE_LARGE_FRAG: TileConfig = { ...TILE_LARGE, frag: true };
/** LARGE_VEC4 with staged stores: large products with a fused epilogue and a long K (chooseMatmul). */
export const TILE_LARGE_STAGED: TileConfig = { ...TILE_LARGE_VEC4, staged: true };
export const TILE_SPLIT: TileConfig = { bm: 128, bn: 128, bk: 16, tm: 8, tn: 8, db: false, unroll: true, group: 8 };
export const TILE_MEDIUM: TileConfig = { bm: 64, bn: 64, bk: 16, tm: 4, tn: 4, db: true, unroll: true, group: 8 };
export const TILE_SMALL_K: TileConfig = { bm: 64, bn: 64, bk: 16, tm: 4, tn: 4, db: false, unroll: true, group: 0 };
export const TILE_NARROW: TileConfig = { bm: 64, bn: 64, bk: 16, tm: 8, tn: 8, db: false, unroll: true, group: 0, prefetch: true, frag: true };
export const TILE_NARROW_N: TileConfig = { ...TILE_NARROW, bm: 128 };
export const TILE_NARROW_M: TileConfig = { ...TILE_NARROW, bn: 128 };
export const TILE_SKINNY_M16: TileConfig = { ...TILE_NARROW, bm: 16, bn: 64, bk: 32, tm: 4, tn: 4 };
export const TILE_SKINNY_M32: TileConfig = { ...TILE_NARROW, bm: 32, tm: 4 };
export const TILE_SKINNY_N16: TileConfig = { ...TILE_NARROW, bm: 64, bn: 16, bk: 32, tm: 4, tn: 4 };
export const TILE_SKINNY_N32: TileConfig = { ...TILE_NARROW, bn: 32, tn: 4 };
/** The tiles whose prefetch registers would hold scalars where an operand does not load as vec4. */
const NARROW_TILES: readonly TileConfig[] = [TILE_NARROW, TILE_NARROW_N, TILE_NARROW_M, TILE_SKINNY_M16, TILE_SKINNY_M32, TILE_SKINNY_N16, TILE_SKINNY_N32];
/** Products with m (or n) of GEMV_MAX_ROWS + 1 to this many take a skinny tile along it. */
const SKINNY_MAX_ROWS = 32;
export const GEMV_N: GemvConfig = { wn: 16, wk: 16, unroll: 4 };
export const GEMV_K: GemvConfig = { wn: 4, wk: 64, unroll: 4 };
/**
 * Workgroups of 256 threads resident at once on the GPU the defaults were tuned on (an H100: 132
 * multiprocessors, two such workgroups each). Split K is sized against it: a launch of more workgroups runs
 * in several waves.
 */
export const FILL_WORKGROUPS = 264;
/**
 * Outputs of fewer than FILL_WORKGROUPS / 2 tiles of 128x128 but at least as many of 64x64, with K up to this,
 * take the 64x64 tile (TILE_NARROW) in one dispatch instead of LARGE_VEC4 over K ranges and a combine. On the
 * H100 (gemm-sweep --set mid-square, stop 22, GPU ms): 1024^3 0.0684 against 0.0730 over 4 ranges (cuBLAS
 * 0.0701), x @ w.T 0.0689 against 0.0726, 1024 x 1024 x 512 0.0402 against 0.0605, x 2048 0.1235 against
 * 0.1275, 1280^3 0.1318 against 0.1374, 1024 x 2048 x 1024 0.1091 against 0.1297, 768^3 (144 tiles) 0.0530
 * against 0.0595; over 2 ranges it was slower on each. At K = 8192 (stop 20, --set split-narrow) 64x64 tiles
 * over 2 ranges lost to LARGE_VEC4 over 8 (0.453 against 0.408 ms on 1024^2), so longer K keeps splitting.
 */
export const MID_NARROW_MAX_K = 2048;
/** K from which one wave of 128x128 tiles takes LARGE_VEC4 rather than LARGE_PAIRS (measured at 256 and 4096). */
const LONG_K = 1024;
/** A K range of split K is at least this long (shorter ones cost more in partial sums than they gain). */
export const MIN_SPLIT_K = 256;

/** Names the generated WGSL declares; a buffer with one of these names would be shadowed. */
const RESERVED =
  /^(M|N|K|TOTAL|TRI|main|wid|nwg|tid|lid|w|t|e|x|q|s|l|rt|ct|gi|rows|ti|row0|col0|n0|bz|ks|kbeg|kend|kq|k0|k1|stage|tx|ty|tn|tk|r0|c0|kk|gx|gk|at|acc|o|row|col|c|p|pa|pb|i|j|z|val|base|base_a|base_b|tile_a|tile_b|red|res\d+|f[ab]\d+|[abcv]\d+|c\d+_\d+|[bv]\d+|r|q\d+|wg_\w*)$/;

export interface MatmulChoice {
  readonly variant: MatmulVariant;
  readonly tile: TileConfig;
  readonly gemv: GemvConfig;
  readonly splitK: number;
}

/** The variant for a shape (see chooseMatmul); kept for callers that only need the family. */
export function chooseMatmulVariant(spec: Pick<MatmulSpec, 'batch' | 'm' | 'n'> & { k?: number }): MatmulVariant {
  return chooseMatmul({ ...spec, k: spec.k ?? 0 }).variant;
}

/**
 * K ranges for `tiles` workgroups over K in steps of `step`: the count that minimises the modelled time, waves
 * (ceil(tiles * splits / FILL_WORKGROUPS)) times the K per range, plus a K step per range for its partial
 * sums, with ranges of at least MIN_SPLIT_K and at most 64 of them; on a tie, fewer. E.g. 16 tiles of a
 * 512 x 512 output over K = 80000: 16 ranges of 5008 fill one wave; the 10 lower-triangle tiles of a SYRK:
 * 26 ranges of 3088. (The tiles of 256 threads; the narrow and skinny ones take narrowSplits.)
 */
export function splitsFor(tiles: number, k: number, step: number): number {
  if (tiles >= FILL_WORKGROUPS / 2 || k < 2 * MIN_SPLIT_K) return 1;
  let best = 1;
  let bestCost = Infinity;
  for (let s = 1; s <= 64; s++) {
    const { splits, chunk } = splitK(k, s, step);
    if (splits > 1 && chunk < MIN_SPLIT_K) break;
    // Each range also costs its partial sums (written, then read by the combine): about one K step of 16.
    const cost = Math.ceil((tiles * splits) / FILL_WORKGROUPS) * chunk + 16 * splits;
    if (cost < bestCost) [best, bestCost] = [splits, cost];
  }
  return best;
}

/** The threads a narrow or skinny tile's launch is split to about (narrowSplits). */
const NARROW_SPLIT_THREADS = 32768;

/**
 * K ranges for `tiles` narrow or skinny tiles (64 or 128 threads): as many as bring the launch to about
 * NARROW_SPLIT_THREADS threads, each range at least MIN_SPLIT_K long, at most 64. Measured on the H100
 * (gemm-sweep --set splits, 1 to 16 ranges per shape): the best count launched 32k threads on each of 14
 * shapes but one, where 3 ranges (this count) was not timed and 4 and 16 were within 1% of each other
 * (32 x 11008 x 4096: 172 tiles); with 256 tiles of 128 threads (attention's P @ V) 2 ranges were 17%
 * slower than none. Why not splitsFor: its waves of FILL_WORKGROUPS count 256-thread workgroups.
 */
export function narrowSplits(tiles: number, tile: TileConfig, k: number): number {
  const wanted = Math.round(NARROW_SPLIT_THREADS / (tiles * tileThreads(tile)));
  return Math.max(1, Math.min(wanted, Math.floor(k / MIN_SPLIT_K), 64));
}

/**
 * Whether tiles of `tile` along an extent cover it with more than 10% out of bounds (n = 64 with 128-wide
 * tiles: half of every tile), so that tiles half as wide fit it better (chooseMatmul, chooseSyrk).
 */
export const wastesTile = (extent: number, tile = 128): boolean => Math.ceil(extent / tile) * tile > 1.1 * extent;

/**
 * The default kernel and geometry for a shape (see the file header and docs/performance.md). With an epilogue
 * in the tile kernel's stores, large outputs take LARGE_STAGED from K = 1024 (LARGE_PAIRS below, and for
 * x @ w.T: tileForLoads): its staged stores cost the bare product's time, gelu(x @ w + b) on 4096^3 2.889
 * ms against 2.981 for LARGE_PAIRS, 4096 x 1024 x 4096 0.740 against 0.764, but 65536 x 256 x 256 0.230
 * against 0.216 (gemm-sweep --set staged and staged-layouts, stop 21). Before that, LARGE_PAIRS rather than
 * LARGE_VEC4: measured interleaved on
 * the H100 (bench/gemm-sweep.ts --set epilogue), gelu(acc + bias) made LARGE_VEC4 8.8% slower on the MLP's
 * 4096 x 4096 x 1024 (0.848 ms against 0.778 bare) and 3.6% on 4096 x 1024 x 4096, where LARGE_PAIRS ran
 * 0.789 and 0.780; with a bias alone LARGE_PAIRS was also ahead (0.756 against 0.769 and 0.757 against 0.768).
 * With gelu as x / (1 + exp(-2u)): LARGE_PAIRS 0.748 and 0.742, LARGE_VEC4 0.948 and 0.928.
 */
export function chooseMatmul(spec: Pick<MatmulSpec, 'batch' | 'm' | 'n' | 'k'> & Partial<Pick<MatmulSpec, 'epilogue'>>): MatmulChoice {
  const { m, n, k } = spec;
  const batches = sizeOf(spec.batch);
  const base = { tile: TILE_LARGE, gemv: GEMV_N, splitK: 1 };
  if (batches * m * n === 0) return { ...base, variant: 'direct' };
  const gemv = Math.min(m, n) <= GEMV_MAX_ROWS;
  const maxK = gemv && Math.max(m, n) >= GEMV_OVER_DIRECT_EXTENT ? DIRECT_GEMV_MAX_K : DIRECT_MAX_K;
  if (m * n <= DIRECT_MAX_OUTPUTS && k <= maxK) return { ...base, variant: 'direct' };
  if (gemv) return { ...base, variant: 'gemv' };
  const tiles = (t: TileConfig) => batches * Math.ceil(m / t.bm) * Math.ceil(n / t.bn);
  if (k <= 64) return { ...base, variant: 'tiled', tile: k > 32 && tiles(TILE_SMALL_K) >= 4 * FILL_WORKGROUPS ? TILE_NARROW : TILE_SMALL_K };
  // A short side of 9 to 32 (a batch of tokens times a weight matrix): tiles of 16 or 32 along it.
  const short = Math.min(m, n);
  if (short <= SKINNY_MAX_ROWS) {
    const tile = m <= n ? (short <= 16 ? TILE_SKINNY_M16 : TILE_SKINNY_M32) : short <= 16 ? TILE_SKINNY_N16 : TILE_SKINNY_N32;
    return { ...base, variant: 'tiled', tile, splitK: narrowSplits(tiles(tile), tile, k) };
  }
  // An extent that 128-wide tiles cover with more than 10% out of bounds takes 64-wide tiles along it.
  const narrowM = wastesTile(m);
  const narrowN = wastesTile(n);
  if (narrowM || narrowN) {
    const tile = narrowM && narrowN ? TILE_NARROW : narrowN ? TILE_NARROW_N : TILE_NARROW_M;
    return { ...base, variant: 'tiled', tile, splitK: narrowSplits(tiles(tile), tile, k) };
  }
  // Large outputs: LARGE_VEC4 from two waves of tiles, LARGE_PAIRS below (planMatmul takes LARGE, and SPLIT
  // for split K, where an operand cannot load as vec4).
  // One wave of tiles with a long K (the MLP's 4096 x 1024 x 4096: 0.776 ms against 0.792) also takes
  // LARGE_VEC4; with a short K, LARGE_PAIRS (batched 64 x 256^3: 0.0670 against 0.0714).
  // An epilogue runs in the tile kernel's stores (not under split K, where the combine runs it): LARGE_STAGED
  // from a K of LONG_K, LARGE_PAIRS below (LARGE_PAIRS for x @ w.T, LARGE_FRAG where A loads along m:
  // planMatmul, tileForLoads).
  const vec4 = spec.epilogue ? (k >= LONG_K ? TILE_LARGE_STAGED : TILE_LARGE_PAIRS) : TILE_LARGE_VEC4;
  if (tiles(TILE_LARGE) >= 2 * FILL_WORKGROUPS) return { ...base, variant: 'tiled', tile: vec4 };
  if (tiles(TILE_LARGE) >= FILL_WORKGROUPS / 2) return { ...base, variant: 'tiled', tile: k >= LONG_K ? vec4 : TILE_LARGE_PAIRS };
  // Too few large tiles: up to a K of MID_NARROW_MAX_K, 64x64 tiles in one dispatch where they are at least
  // half a wave; else split a long K over the large tiles; with a short K, smaller tiles (and split K if it helps).
  if (k <= MID_NARROW_MAX_K && tiles(TILE_NARROW) >= FILL_WORKGROUPS / 2) return { ...base, variant: 'tiled', tile: TILE_NARROW };
  const large = splitsFor(tiles(TILE_SPLIT), k, TILE_SPLIT.bk);
  if (large > 1) return { ...base, variant: 'tiled', tile: TILE_LARGE_VEC4, splitK: large };
  return { ...base, variant: 'tiled', tile: TILE_MEDIUM, splitK: splitsFor(tiles(TILE_MEDIUM), k, TILE_MEDIUM.bk) };
}

/** One dispatch: the product with one K range (split K is planMatmul's). */
export function generateMatmul(spec: MatmulSpec, options: MatmulOptions = {}): GeneratedKernel {
  const program = planMatmul(spec, { ...options, splitK: 1 });
  return program.dispatches[0].kernel;
}

/** The dispatches (and temporaries) that compute a product. */
export function planMatmul(spec: MatmulSpec, options: MatmulOptions = {}): GemmProgram {
  checkSpec(spec);
  const chosen = chooseMatmul(spec);
  const empty = sizeOf(spec.batch) * spec.m * spec.n === 0;
  const variant = empty ? 'direct' : (options.variant ?? chosen.variant);
  const maxPerDim = options.maxWorkgroupsPerDim ?? MAX_WORKGROUPS_PER_DIM;
  // The direct kernel takes prologues (and their values) on both operands.
  if (variant === 'direct') {
    return { temps: [], variant: 'direct', dispatches: [{ kernel: generateDirect(spec, maxPerDim), buffers: spec.buffers, label: 'direct' }] };
  }
  const splitsWanted = options.splitK ?? (options.variant && options.variant !== chosen.variant ? 1 : chosen.splitK);
  const shape = `[${spec.m} x ${spec.k}] @ [${spec.k} x ${spec.n}]`;
  if (variant === 'gemv') {
    // gemv takes a prologue on its short operand only (the long one streams once, as stored).
    const longSide = spec.n < spec.m ? spec.a : spec.b;
    if (longSide.prologue) throw new Error(`internal: matmul ${shape}: gemv takes a prologue only on its short operand`);
  } else if (spec.a.prologue?.values?.length || spec.b.prologue?.values?.length) {
    throw new Error(`internal: matmul ${shape}: prologue values need the gemv or direct variant, not ${variant}`);
  }
  if (variant === 'gemv') return planGemv(spec, options.gemv, options.splitK, maxPerDim);
  let tile = options.tile ?? (options.variant && options.variant !== chosen.variant ? TILE_LARGE : chosen.tile);
  if (!options.tile) {
    tile = tileForLoads(tile, splitsWanted > 1, (t) => {
      const loads = tiledLoads(spec, t, splitsWanted > 1);
      const a = tileLanes(spec.a, loads.a, loads.vectors);
      const b = tileLanes(spec.b, loads.b, loads.vectors);
      return { vec4: a !== null && b !== null, aAlongM: a === 'major', bAlongK: b === 'k' };
    }, spec.k);
  }
  return planTiled(spec, tile, splitsWanted, maxPerDim, options.workgroupStorage);
}

/** How a kernel's operands would load with a tile (tileForLoads). */
export interface TileLoads {
  /** Every operand loads (and is bound) as vec4. */
  readonly vec4: boolean;
  /** A's tile loads run along m (A stored [k, m]: x.T @ w), so its vectors go to workgroup memory as loaded. */
  readonly aAlongM: boolean;
  /** B's tile loads run along k (B stored [n, k]: x @ w.T). */
  readonly bAlongK: boolean;
}

/**
 * The tile a default choice keeps, given how its operands would load (planMatmul and planSyrk; a forced tile
 * is kept as it is). LARGE_VEC4, LARGE_PAIRS and the narrow tiles were measured on operands that load as
 * vec4, and LARGE_VEC4 and the narrow tiles keep a step's tile loads in registers, 4 vectors per operand and
 * thread but 16 scalars otherwise (which SwiftShader takes minutes to compile). `loads(tile)` says how the
 * kernel's operands load with that tile; where one would not load as vec4, LARGE takes the product (SPLIT
 * for split K) instead of LARGE_VEC4 or LARGE_PAIRS, and SMALL_K (K of `k` up to 64) or MEDIUM instead of a
 * narrow tile. Where A loads along m, LARGE_FRAG takes LARGE_PAIRS's place: `gemm-sweep --set layout-tiles`
 * on the H100 found LARGE_PAIRS 7.5-11% slower than LARGE_FRAG on x.T @ w with an epilogue and 18-34% on
 * x.T @ w.T + bias then gelu, LARGE_FRAG at most 1.3% behind it on x.T @ w.T + bias; on x @ w and x @ w.T
 * LARGE_PAIRS stays, up to 6.5% ahead. LARGE_STAGED gives way to LARGE_PAIRS on x @ w.T, where both operands
 * load along k (4096^3 + gelu 3.001 ms against 2.907, 4096 x 4096 x 1024 0.781 against 0.744); in the
 * other layouts it stays (x.T @ w.T + gelu on 4096^3 2.896 against LARGE_FRAG's 3.033). Every other tile is
 * returned unchanged.
 */
export function tileForLoads(chosen: TileConfig, split: boolean, loads: (tile: TileConfig) => TileLoads, k = Number.POSITIVE_INFINITY): TileConfig {
  if (NARROW_TILES.includes(chosen)) return loads(chosen).vec4 ? chosen : k <= 64 ? TILE_SMALL_K : TILE_MEDIUM;
  if (chosen !== TILE_LARGE_VEC4 && chosen !== TILE_LARGE_PAIRS && chosen !== TILE_LARGE_STAGED) return chosen;
  const l = loads(chosen);
  if (!l.vec4) return split ? TILE_SPLIT : TILE_LARGE;
  if (chosen === TILE_LARGE_STAGED) return !l.aAlongM && l.bAlongK ? TILE_LARGE_PAIRS : chosen;
  return chosen === TILE_LARGE_PAIRS && l.aAlongM ? TILE_LARGE_FRAG : chosen;
}

function checkSpec(spec: MatmulSpec): void {
  const { batch, m, n, k, a, b, store, buffers } = spec;
  const fail = (what: string) => {
    throw new Error(`internal: matmul spec: ${what}`);
  };
  if (![m, n, k, ...batch].every((d) => Number.isInteger(d) && d >= 0)) fail(`bad extents m=${m} n=${n} k=${k} batch=[${batch}]`);
  checkOperand('a', a, batch, fail);
  checkOperand('b', b, batch, fail);
  if (store.access.strides.length !== batch.length + 2) fail(`the store access needs ${batch.length + 2} strides`);
  if (!buffers.some((x) => x.name === store.buffer)) fail(`no buffer named ${store.buffer}`);
  for (const x of buffers) if (RESERVED.test(x.name)) fail(`buffer name ${x.name} is reserved by the kernel`);
  checkOperandBinding('a', a, spec.dtype, buffers, batch.length + 2, fail);
  checkOperandBinding('b', b, spec.dtype, buffers, batch.length + 2, fail);
  checkEpilogue(spec, fail);
}

/** The checks of one strided operand (named `name` in messages) against the batch shape. */
export function checkOperand(name: string, op: MatrixOperand, batch: Shape, fail: (what: string) => void): void {
  if (op.batchStrides.length !== batch.length) fail(`${name} has ${op.batchStrides.length} batch strides for batch [${batch}]`);
  if ([op.offset, op.rowStride, op.colStride, ...op.batchStrides].some((s) => !Number.isInteger(s) || s < 0)) fail(`${name} has a negative or fractional stride`);
}

/**
 * The checks of an operand against the kernel's buffers: its buffer bound with the kernel's dtype, or, for a
 * prologue, every buffer it loads bound (checkPrologue).
 */
export function checkOperandBinding(name: string, op: MatrixOperand, dtype: MatmulSpec['dtype'], buffers: readonly KernelBuffer[], rank: number, fail: (what: string) => void): void {
  if (op.prologue) return checkPrologue(name, op.prologue, new Set(buffers.map((x) => x.name)), rank, fail);
  const bound = buffers.find((x) => x.name === op.buffer);
  if (!bound) fail(`no buffer named ${op.buffer}`);
  else if (bound.dtype !== dtype) fail(`operand buffer ${bound.name} is ${bound.dtype}, not ${dtype}`);
}

/** The checks of an optional epilogue: its step in range, and its only value the accumulator `acc` of the kernel's dtype. */
export function checkEpilogue(spec: Pick<MatmulSpec, 'dtype' | 'epilogue'>, fail: (what: string) => void): void {
  const epi = spec.epilogue;
  if (epi) {
    if (epi.step < 0 || epi.step >= epi.expr.steps.length) fail(`epilogue step ${epi.step} is out of range`);
    for (const s of epi.expr.steps) {
      if (s.kind === 'value' && (s.name !== 'acc' || s.dtype !== spec.dtype)) fail(`epilogue value ${s.name}: ${s.dtype} is not acc: ${spec.dtype}`);
    }
  }
}

/** `constant + name * stride + ...`, skipping zero strides (and a zero constant) and unit multipliers. */
export function sum(terms: readonly (readonly [string, number])[], constant = 0): string {
  const parts = terms.flatMap(([name, s]) => (s === 0 ? [] : [s === 1 ? name : `${name} * ${s}u`]));
  if (constant !== 0 || parts.length === 0) parts.unshift(`${constant}u`);
  return parts.join(' + ');
}

/**
 * An operand's batch terms at batch index `bz` (coordinates `b0, b1, ...`), to add to its offset. The common
 * case, batch strides proportional to row-major strides of the batch shape (a contiguous stack of matrices,
 * possibly broadcast where an extent is 1), is one multiplication of the flat batch index.
 */
export function batchTerms(op: Pick<MatrixOperand, 'batchStrides'>, batch: Shape, batchCoords: readonly string[]): [string, number][] {
  const rm = stridesOf(batch);
  const live = batch.flatMap((d, i) => (d > 1 ? [i] : []));
  if (live.length === 0) return [];
  const scale = op.batchStrides[live[0]] / rm[live[0]];
  if (Number.isInteger(scale) && live.every((i) => op.batchStrides[i] === rm[i] * scale)) return [['bz', scale]];
  return live.map((i) => [batchCoords[i], op.batchStrides[i]]);
}

/** `base + index`, or just `base` when the index is the constant 0. */
export function plus(base: string, index: string): string {
  return index === '0u' ? base : `${base} + ${index}`;
}

/** The epilogue (or plain `acc`) and the store of one output at (batch coords, row, col). */
export function emitOutput(spec: Pick<MatmulSpec, 'buffers' | 'store' | 'epilogue'>, coords: Coords): { code: string[]; helpers: Set<string> } {
  const { code, value, helpers } = emitOutputValue(spec, coords);
  const target = `${spec.store.buffer}[${indexOf(spec.store.access, coords)}]`;
  return { code: [...code, `${target} = ${value};`], helpers };
}

/** The epilogue (or plain `acc`) of one output at (batch coords, row, col), as the stored value. */
export function emitOutputValue(spec: Pick<MatmulSpec, 'buffers' | 'store' | 'epilogue'>, coords: Coords): { code: string[]; value: string; helpers: Set<string> } {
  const storeDtype = spec.buffers.find((x) => x.name === spec.store.buffer)!.dtype;
  if (!spec.epilogue) return { code: [], value: toStorage(storeDtype, 'acc'), helpers: new Set() };
  const body = emitExpr(spec.epilogue.expr, coords);
  return { code: body.code, value: toStorage(storeDtype, body.value(spec.epilogue.step)), helpers: body.helpers };
}

/** Keeps only the `let` lines whose names the later code (or a kept later `let`) uses. */
export function pruneLets(lets: readonly string[], rest: readonly string[]): string[] {
  const kept: string[] = [];
  let used = rest.join('\n');
  for (let i = lets.length - 1; i >= 0; i--) {
    const name = /^let (\w+)/.exec(lets[i])![1];
    if (new RegExp(`\\b${name}\\b`).test(used)) {
      kept.unshift(lets[i]);
      used += `\n${lets[i]}`;
    }
  }
  return kept;
}

function header(spec: MatmulSpec, variant: string): string[] {
  const { m, n, k, a, b, batch } = spec;
  const batchText = batch.length > 0 ? ` batch [${batch.join(', ')}],` : '';
  return [
    `// matmul ${spec.dtype}:${batchText} [${m} x ${k}] @ [${k} x ${n}] -> ${spec.store.buffer}; ${variant}`,
    `// A = ${describeOperand(a)}, B = ${describeOperand(b)}`,
  ];
}

/** An operand for a kernel's header comment: its buffer and strides, or what its prologue reads. */
export function describeOperand(op: MatrixOperand): string {
  if (!op.prologue) return `${op.buffer} (row stride ${op.rowStride}, col stride ${op.colStride})`;
  const from = prologueBuffers(op.prologue);
  return from.length > 0 ? `computed as loaded from ${from.join(', ')} (prologue)` : 'computed as loaded (prologue, no buffer)';
}

/** The entry of a direct kernel: the preamble (every thread), then one thread per `index` below `TOTAL`, the lets the body uses and the body. */
export function directMain(index: string, lets: readonly string[], body: readonly string[], preamble: readonly string[] = []): string[] {
  return [
    `@compute @workgroup_size(${DIRECT_WORKGROUP})`,
    'fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {',
    // Before any thread leaves: the preamble (prologue values) has workgroup barriers.
    ...indent(preamble, 1),
    `  let ${index} = (${LINEAR_WORKGROUP}) * ${DIRECT_WORKGROUP}u + lid;`,
    `  if (${index} >= TOTAL) { return; }`,
    ...indent([...pruneLets(lets, body), ...body], 1),
    '}',
    '',
  ];
}

/**
 * The WGSL module of a product kernel (GEMV, tiled GEMM, tiled SYRK): bindings, the store's helpers (and any
 * `extra` helper), the header comment, the core's declarations, the store function, then the core's entry
 * point around its body.
 */
export function productModule(
  bindings: readonly string[],
  store: { readonly helpers: Iterable<string>; readonly text: readonly string[] },
  header: readonly string[],
  core: { readonly decls: readonly string[]; readonly entry: readonly string[]; readonly body: readonly string[] },
  extra: readonly string[] = [],
): string {
  return [...bindings, ...store.helpers, ...extra, '', ...header, ...core.decls, '', ...store.text, '', ...core.entry, ...indent(core.body, 1), '}', ''].join('\n');
}


function generateDirect(spec: MatmulSpec, maxPerDim: number): GeneratedKernel {
  const { batch, m, n, a, b, dtype } = spec;
  const total = sizeOf(batch) * m * n;
  const { code: batchLets, coords: batchCoords } = coordsOf(batch, 'bz', 'b');
  const coords: Coords = { names: [...batchCoords.names, 'row', 'col'], flat: { name: 'o', shape: [...batch, m, n] } };
  const out = emitOutput(spec, coords);
  // Operands computed as loaded: scalar load functions at (row or column, k); their values first, by every workgroup.
  const loaders = [
    ...(a.prologue ? [prologueFunction('wg_load_a', a.prologue, { dtype, batch, major: 'row', lanes: null, vectors: new Set() })] : []),
    ...(b.prologue ? [prologueFunction('wg_load_b', b.prologue, { dtype, batch, major: 'col', lanes: null, vectors: new Set() })] : []),
  ];
  const allValues = [...(a.prologue?.values ?? []), ...(b.prologue?.values ?? [])];
  const values = allValues.length > 0 ? prologueValuesCode(allValues, DIRECT_WORKGROUP) : null;
  const loadA = a.prologue ? 'wg_load_a(bz, row, p)' : `${a.buffer}[${plus('pa', sum([['p', a.colStride]]))}]`;
  const loadB = b.prologue ? 'wg_load_b(bz, col, p)' : `${b.buffer}[${plus('pb', sum([['p', b.rowStride]]))}]`;
  // The K loop stays even when K = 0 (and the output may be empty): it keeps both operands bound.
  const body = [
    ...(a.prologue ? [] : [`let pa = ${sum([...batchTerms(a, batch, batchCoords.names), ['row', a.rowStride]], a.offset)};`]),
    ...(b.prologue ? [] : [`let pb = ${sum([...batchTerms(b, batch, batchCoords.names), ['col', b.colStride]], b.offset)};`]),
    `var acc = ${zero(dtype)};`,
    'for (var p = 0u; p < K; p++) {',
    `  acc += ${loadA} * ${loadB};`,
    '}',
    ...out.code,
  ];
  const lets = [
    'let col = o % N;',
    sizeOf(batch) > 1 ? 'let row = o / N % M;' : 'let row = o / N;',
    sizeOf(batch) > 1 ? `let bz = o / ${m * n}u;` : 'let bz = 0u;',
    ...batchLets,
  ];
  const wgsl = [
    ...bufferDecls(spec.buffers),
    ...out.helpers,
    ...loaderModule([...(values ? [{ text: values.decls, helpers: values.helpers }] : []), ...loaders], out.helpers),
    '',
    ...header(spec, `direct: one thread per output${values ? `; ${allValues.length} prologue values per workgroup` : ''}`),
    `const M = ${m}u;`,
    `const N = ${n}u;`,
    `const K = ${spec.k}u;`,
    `const TOTAL = ${total}u;`,
    '',
    ...directMain('o', lets, body, values?.code),
  ].join('\n');
  return { wgsl, entryPoint: 'main', workgroups: grid1d(Math.ceil(total / DIRECT_WORKGROUP), maxPerDim) };
}

export function zero(dtype: MatmulSpec['dtype']): string {
  return dtype === 'float32' ? '0.0' : '0i';
}

/**
 * `total` workgroups spread over x, y and z (each at most maxPerDim), numbered linearly as `w`; the surplus
 * workgroups of the last row leave at once (the workgroup id is uniform, so barriers stay uniform).
 */
export function foldedGrid(kernel: string, total: number, maxPerDim: number): { workgroups: [number, number, number]; code: string[] } {
  const x = Math.min(total, maxPerDim);
  const y = Math.min(Math.ceil(total / x), maxPerDim);
  const z = Math.ceil(total / (x * y));
  if (z > maxPerDim) throw new Error(`internal: ${kernel} needs ${total} workgroups, more than a ${maxPerDim}^3 grid`);
  return { workgroups: [x, y, z], code: [`let w = (wid.z * ${y}u + wid.y) * ${x}u + wid.x;`, `if (w >= ${total}u) { return; }`] };
}

/** The access is 16-byte aligned along its last axis for every vector of 4 outputs (n a multiple of 4). */
export function vec4Store(access: Access, batch: Shape, n: number): boolean {
  const s = access.strides;
  const r = s.length;
  const aligned = (x: number) => x % 4 === 0;
  return n % 4 === 0 && s[r - 1] === 1 && aligned(s[r - 2]) && aligned(access.offset) && batch.every((d, i) => d <= 1 || aligned(s[i]));
}

/** How an operand's tile is read as vec4: the axis, given the per-axis extents and strides (see CoreOperand). */
export function vec4LoadAxis(
  op: { offset: number; batchStrides: readonly number[]; majorStride: number; kStride: number },
  batch: Shape,
  major: { extent: number; tile: number },
  k: { extent: number; tile: number },
): 'major' | 'k' | null {
  const aligned = (x: number) => x % 4 === 0;
  // An empty operand loads nothing, and its buffer may be smaller than one vector (a binding WebGPU refuses).
  if (major.extent === 0 || k.extent === 0) return null;
  if (!aligned(op.offset) || !batch.every((d, i) => d <= 1 || aligned(op.batchStrides[i]))) return null;
  if (op.majorStride === 1 && aligned(major.extent) && aligned(major.tile) && aligned(op.kStride)) return 'major';
  if (op.kStride === 1 && aligned(k.extent) && aligned(k.tile) && aligned(op.majorStride)) return 'k';
  return null;
}

/** Which buffers a dispatch binds as array<vec4<T>>: those whose every use in it wants vectors. */
export function vec4Bindings(wants: readonly { buffer: string; vec4: boolean }[]): Set<string> {
  const yes = new Set<string>();
  const no = new Set<string>();
  for (const w of wants) (w.vec4 ? yes : no).add(w.buffer);
  return new Set([...yes].filter((b) => !no.has(b)));
}

/** Buffers an epilogue loads. */
export function epilogueLoads(epilogue: MatmulSpec['epilogue']): string[] {
  return epilogue ? epilogue.expr.steps.flatMap((s) => (s.kind === 'load' ? [s.buffer] : [])) : [];
}

/**
 * The store function of the tiled and gemv kernels: `wg_store([bz,] [ks,] row, col, val)` stores `lanes`
 * consecutive outputs from (row, col) in kernel coordinates (`swapped`: the kernel computed the transposed
 * product, so its rows are the output's columns). Final stores run the epilogue at each output's own
 * coordinates and skip outputs outside [m, n]; partial stores (split K) write raw sums to the temporary,
 * laid out [split][batch][kernel row][kernel col].
 */
export interface StoreFn {
  readonly text: string[];
  readonly helpers: Set<string>;
  /** Buffers the function binds as vec4. */
  readonly vec4: Set<string>;
}

export function storeFunction(
  spec: Pick<MatmulSpec, 'batch' | 'm' | 'n' | 'dtype' | 'buffers' | 'store' | 'epilogue'>,
  opts: { lanes: 1 | 4; swapped: boolean; partial: null | { splits: number; vec4: boolean }; vec4Out: boolean; checkRow: boolean; checkCol: boolean },
): StoreFn {
  const { batch, m, n, dtype } = spec;
  const batches = sizeOf(batch);
  const [mk, nk] = opts.swapped ? [n, m] : [m, n];
  const v = opts.lanes === 4 ? `vec4<${STORAGE_TYPE[dtype]}>` : VALUE_TYPE[dtype];
  const lane = (l: number) => (opts.lanes === 1 ? 'val' : `val[${l}]`);
  const params = `bz: u32, ${opts.partial ? 'ks: u32, ' : ''}row: u32, col: u32, val: ${v}`;
  const head = opts.checkRow ? [`if (row >= ${mk}u) { return; }`] : [];
  if (opts.partial) {
    const at = `let at = ${opts.partial.splits > 1 || batches > 1 ? `((ks * ${batches}u + ${batches > 1 ? 'bz' : '0u'}) * ${mk}u + row) * ${nk}u + col` : `row * ${nk}u + col`};`;
    const body = opts.partial.vec4
      ? [...(opts.checkCol ? [`if (col >= ${nk}u) { return; }`] : []), at, `${PARTIAL_BUFFER}[at / 4u] = val;`]
      : [
          at,
          ...Array.from({ length: opts.lanes }, (_, l) =>
            opts.checkCol ? `if (col + ${l}u < ${nk}u) { ${PARTIAL_BUFFER}[at + ${l}u] = ${lane(l)}; }` : `${PARTIAL_BUFFER}[at${l === 0 ? '' : ` + ${l}u`}] = ${lane(l)};`,
          ),
        ];
    return { text: [`fn wg_store(${params}) {`, ...indent([...head, ...body], 1), '}'], helpers: new Set(), vec4: new Set(opts.partial.vec4 ? [PARTIAL_BUFFER] : []) };
  }
  const { code: batchLets, coords: batchCoords } = coordsOf(batch, 'bz', 'b');
  const helpers = new Set<string>();
  const laneCode = (l: number, emitStore: boolean): string[] => {
    const c = l === 0 ? 'col' : `col + ${l}u`;
    const [orow, ocol] = opts.swapped ? ['c', 'row'] : ['row', 'c'];
    const coords: Coords = { names: [...batchCoords.names, orow, ocol], flat: { name: 'o', shape: [...batch, m, n] } };
    const out = emitOutputValue(spec, coords);
    out.helpers.forEach((h) => helpers.add(h));
    const flat = batches > 1 ? `let o = bz * ${m * n}u + ${orow} * ${n}u + ${ocol};` : `let o = ${orow} * ${n}u + ${ocol};`;
    const target = `${spec.store.buffer}[${indexOf(spec.store.access, coords)}]`;
    const code = [...out.code, emitStore ? `${target} = ${out.value};` : `s[${l}] = ${out.value};`];
    return [`let c = ${c};`, `let acc = ${lane(l)};`, ...pruneLets([flat], code), ...code];
  };
  let body: string[];
  if (opts.vec4Out) {
    // Four outputs of one row, stored as one vector (n is a multiple of 4: all inside or all outside).
    const lanes = [0, 1, 2, 3].flatMap((l) => ['{', ...indent(laneCode(l, false), 1), '}']);
    const storeDtype = spec.buffers.find((x) => x.name === spec.store.buffer)!.dtype;
    const coords: Coords = { names: [...batchCoords.names, 'row', 'col'], flat: { name: 'o', shape: [...batch, m, n] } };
    const flat = batches > 1 ? `let o = bz * ${m * n}u + row * ${n}u + col;` : `let o = row * ${n}u + col;`;
    const target = `${spec.store.buffer}[(${indexOf(spec.store.access, coords)}) / 4u]`;
    const tail = [`${target} = s;`];
    body = [
      ...(opts.checkCol ? [`if (col >= ${nk}u) { return; }`] : []),
      `var s: vec4<${STORAGE_TYPE[storeDtype]}>;`,
      ...lanes,
      ...pruneLets([flat], tail),
      ...tail,
    ];
  } else {
    body = Array.from({ length: opts.lanes }, (_, l) => {
      const inner = laneCode(l, true);
      const check = opts.checkCol ? `if (col${l === 0 ? '' : ` + ${l}u`} < ${nk}u) {` : '{';
      return [check, ...indent(inner, 1), '}'];
    }).flat();
  }
  const lets = pruneLets(batchLets, body);
  return {
    text: [`fn wg_store(${params}) {`, ...indent([...head, ...lets, ...body], 1), '}'],
    helpers,
    vec4: new Set(opts.vec4Out ? [spec.store.buffer] : []),
  };
}

/** K per split for `splits` ranges in steps of `step`, and the number of non-empty ranges that gives. */
export function splitK(k: number, splits: number, step: number): { splits: number; chunk: number } {
  if (splits <= 1 || k <= step) return { splits: 1, chunk: k };
  const chunk = Math.ceil(Math.ceil(k / splits) / step) * step;
  return { splits: Math.ceil(k / chunk), chunk };
}

/**
 * The combine dispatch of split K: one thread per output adds the `splits` partial sums in order and runs
 * the epilogue. `partialIndex` is the WGSL index of an output's sum within one split (row, col, bz in scope).
 */
export function generateCombine(
  spec: Pick<MatmulSpec, 'batch' | 'm' | 'n' | 'dtype' | 'buffers' | 'store' | 'epilogue'>,
  splits: number,
  partialIndex: string,
  title: string,
  maxPerDim: number,
): { kernel: GeneratedKernel; buffers: KernelBuffer[] } {
  const { batch, m, n, dtype } = spec;
  const total = sizeOf(batch) * m * n;
  const { code: batchLets, coords: batchCoords } = coordsOf(batch, 'bz', 'b');
  const coords: Coords = { names: [...batchCoords.names, 'row', 'col'], flat: { name: 'o', shape: [...batch, m, n] } };
  const out = emitOutput(spec, coords);
  const body = [
    `let at = ${partialIndex};`,
    `var acc = ${PARTIAL_BUFFER}[at];`,
    `for (var s = 1u; s < ${splits}u; s++) { acc += ${PARTIAL_BUFFER}[s * ${total}u + at]; }`,
    ...out.code,
  ];
  const lets = ['let col = o % N;', sizeOf(batch) > 1 ? 'let row = o / N % M;' : 'let row = o / N;', sizeOf(batch) > 1 ? `let bz = o / ${m * n}u;` : 'let bz = 0u;', ...batchLets];
  const used = new Set([spec.store.buffer, ...epilogueLoads(spec.epilogue)]);
  const buffers: KernelBuffer[] = [...spec.buffers.filter((x) => used.has(x.name)), { name: PARTIAL_BUFFER, dtype, access: 'read' }];
  const wgsl = [
    ...bufferDecls(buffers),
    ...out.helpers,
    '',
    `// ${title}: the sum of ${splits} partial products per output (split K), in order, then the epilogue and the store`,
    `const M = ${m}u;`,
    `const N = ${n}u;`,
    `const TOTAL = ${total}u;`,
    '',
    ...directMain('o', lets, body),
  ].join('\n');
  return { kernel: { wgsl, entryPoint: 'main', workgroups: grid1d(Math.ceil(total / DIRECT_WORKGROUP), maxPerDim) }, buffers };
}

/**
 * How a tiled kernel loads an operand whose `major` axis (A's and SYRK's X rows, B's columns) runs along
 * the tile's major axis: the vec4 axis (vec4LoadAxis, or prologueLanes for a prologue) and what each buffer
 * it reads wants as its binding (for vec4Bindings).
 */
export function operandLoads(
  op: MatrixOperand,
  batch: Shape,
  major: MajorAxis,
  extents: { major: number; majorTile: number; k: number; kTile: number },
): { axis: 'major' | 'k' | null; wants: { buffer: string; vec4: boolean }[] } {
  if (op.prologue) {
    const axis = prologueLanes(op.prologue, batch, major, extents);
    return { axis, wants: prologueWants(op.prologue, batch, major, axis) };
  }
  const [majorStride, kStride] = major === 'row' ? [op.rowStride, op.colStride] : [op.colStride, op.rowStride];
  const axis = vec4LoadAxis({ ...op, majorStride, kStride }, batch, { extent: extents.major, tile: extents.majorTile }, { extent: extents.k, tile: extents.kTile });
  return { axis, wants: [{ buffer: op.buffer, vec4: axis !== null }] };
}

/**
 * The axis along which the tile's registers hold an operand as vectors, once the bindings are known: `axis`
 * where its buffer is bound as vec4, or always for a prologue (its load function builds the vectors).
 */
export function tileLanes(op: MatrixOperand, axis: 'major' | 'k' | null, vectors: ReadonlySet<string>): 'major' | 'k' | null {
  return op.prologue || vectors.has(op.buffer) ? axis : null;
}

/** The buffers an operand reads: its own, or those its prologue loads. */
export function operandBuffers(op: MatrixOperand): string[] {
  return op.prologue ? prologueBuffers(op.prologue) : [op.buffer];
}

/** Prologue load functions as module text (their helpers first, once each, leaving out those `declared` elsewhere in the module). */
export function loaderModule(loaders: readonly { text: readonly string[]; helpers: ReadonlySet<string> }[], declared: Iterable<string>): string[] {
  const skip = new Set(declared);
  const helpers = new Set(loaders.flatMap((l) => [...l.helpers]).filter((h) => !skip.has(h)));
  return [...helpers, ...loaders.flatMap((l) => ['', ...l.text])];
}

/** Operand buffers first (in the spec's order), then the partial sums: the buffers of a split-K product dispatch. */
function partialBuffers(spec: Pick<MatmulSpec, 'buffers' | 'dtype'>, operands: readonly string[]): KernelBuffer[] {
  return [...spec.buffers.filter((x) => operands.includes(x.name)).map((x) => ({ ...x, access: 'read' as const })), { name: PARTIAL_BUFFER, dtype: spec.dtype, access: 'read_write' }];
}

/** How the tiled kernel loads each operand (vec4 axis or null) and which buffers it binds as vec4. */
function tiledLoads(spec: MatmulSpec, tile: TileConfig, partial: boolean): { a: 'major' | 'k' | null; b: 'major' | 'k' | null; vectors: Set<string> } {
  const { batch, m, n, k, a, b } = spec;
  const loadsA = operandLoads(a, batch, 'row', { major: m, majorTile: tile.bm, k, kTile: tile.bk });
  const loadsB = operandLoads(b, batch, 'col', { major: n, majorTile: tile.bn, k, kTile: tile.bk });
  const storeVec = !partial && vec4Store(spec.store.access, batch, n);
  const wants = [
    ...loadsA.wants,
    ...loadsB.wants,
    ...(partial ? [] : [{ buffer: spec.store.buffer, vec4: storeVec }, ...epilogueLoads(spec.epilogue).map((x) => ({ buffer: x, vec4: false }))]),
  ];
  return { a: loadsA.axis, b: loadsB.axis, vectors: vec4Bindings(wants) };
}

function planTiled(spec: MatmulSpec, tile: TileConfig, splitsWanted: number, maxPerDim: number, workgroupStorage?: number): GemmProgram {
  const err = tileConfigError(tile);
  if (err) throw new Error(`internal: matmul tile config ${tileName(tile)}: ${err}`);
  const { batch, m, n, k, a, b, dtype } = spec;
  const batches = sizeOf(batch);
  const split = splitK(k, splitsWanted, tile.bk);
  const { code: batchLets, coords: batchCoords } = coordsOf(batch, 'bz', 'b');
  const partial = split.splits > 1;
  const partVec = partial && n % 4 === 0;
  const { a: loadsA, b: loadsB, vectors } = tiledLoads(spec, tile, partial);
  const opA: CoreOperand = {
    buffer: a.buffer,
    base: 'base_a',
    majorStride: a.rowStride,
    kStride: a.colStride,
    majorExtent: m,
    vec4: tileLanes(a, loadsA, vectors),
    ...(a.prologue ? { load: 'wg_load_a' } : {}),
  };
  const opB: CoreOperand = {
    buffer: b.buffer,
    base: 'base_b',
    majorStride: b.colStride,
    kStride: b.rowStride,
    majorExtent: n,
    vec4: tileLanes(b, loadsB, vectors),
    ...(b.prologue ? { load: 'wg_load_b' } : {}),
  };
  const loaders = [
    ...(a.prologue ? [prologueFunction('wg_load_a', a.prologue, { dtype, batch, major: 'row', lanes: opA.vec4, vectors })] : []),
    ...(b.prologue ? [prologueFunction('wg_load_b', b.prologue, { dtype, batch, major: 'col', lanes: opB.vec4, vectors })] : []),
  ];
  const store = storeFunction(spec, {
    lanes: 4,
    swapped: false,
    partial: partial ? { splits: split.splits, vec4: partVec } : null,
    vec4Out: vectors.has(spec.store.buffer),
    checkRow: m % tile.bm !== 0,
    checkCol: n % tile.bn !== 0,
  });
  const bases = [
    ...(a.prologue ? [] : [`let base_a = ${sum(batchTerms(a, batch, batchCoords.names), a.offset)};`]),
    ...(b.prologue ? [] : [`let base_b = ${sum(batchTerms(b, batch, batchCoords.names), b.offset)};`]),
  ];
  const core = generateTiledCore({
    kernel: 'matmul',
    dtype,
    m,
    n,
    k,
    batches,
    a: opA,
    b: opB,
    config: tile,
    splits: split.splits,
    kChunk: split.chunk,
    tiles: 'all',
    maxPerDim,
    prelude: [...pruneLets(batchLets, bases), ...bases],
    storeArgs: partial ? 'bz, ks' : 'bz',
    workgroupStorage,
  });
  const buffers = partial ? partialBuffers(spec, [...operandBuffers(a), ...operandBuffers(b)]) : spec.buffers;
  const splitText = partial ? `, split K ${split.splits} x ${split.chunk} (partial sums)` : '';
  const wgsl = productModule(
    bufferDecls(buffers, new Set([...vectors, ...store.vec4])),
    store,
    header(spec, `tiled${opA.vec4 || opB.vec4 ? '.vec4' : ''} ${tileName(tile)}: ${tile.bm}x${tile.bn} output tiles, K in steps of ${tile.bk}, ${tile.tm}x${tile.tn} outputs per thread${tile.db ? ', double-buffered' : ''}${splitText}; ${describeLoads(opA, opB)}${vectors.has(spec.store.buffer) ? ', vec4 stores' : ''}`),
    core,
    loaderModule(loaders, store.helpers),
  );
  const name = `tiled${tile.bm}x${tile.bn}`;
  const product: GemmDispatch = { kernel: { wgsl, entryPoint: 'main', workgroups: core.workgroups }, buffers, label: `tiled ${tileName(tile)}${partial ? ` split ${split.splits}` : ''}` };
  if (!partial) return { temps: [], dispatches: [product], variant: name };
  const combine = generateCombine(spec, split.splits, batches > 1 ? `bz * ${m * n}u + row * N + col` : 'row * N + col', `matmul ${dtype} [${m} x ${n}]`, maxPerDim);
  return {
    temps: [{ name: PARTIAL_BUFFER, dtype, size: split.splits * batches * m * n }],
    dispatches: [product, { ...combine, label: `combine ${split.splits}` }],
    variant: `${name}.splitK${split.splits}`,
  };
}

/**
 * The 'n' layout's geometry, without a config or split count given, where GEMV_N's workgroups do not fill the
 * GPU twice over: the widest of 8, 4, 2 columns of threads (the rest along k) whose workgroups fill it once,
 * run without split K, so with no combine dispatch (H100, 1 x 4096 x 4096: 2 x 128 threads 0.0350 ms in one
 * dispatch against 0.0337-0.0343 split over 8-9 ranges in two; a second dispatch costs far more than 1 us of
 * wall time). Null where GEMV_N fills the GPU, or no width does (then GEMV_N, split).
 */
function narrowGemv(wide: GemvConfig, groupsOf: (c: GemvConfig) => number): GemvConfig | null {
  if (groupsOf(wide) >= 2 * FILL_WORKGROUPS) return null;
  for (const wn of [8, 4, 2]) {
    const narrow = { wn, wk: (wide.wn * wide.wk) / wn, unroll: wide.unroll };
    if (groupsOf(narrow) >= FILL_WORKGROUPS) return narrow;
  }
  return null;
}

/**
 * The gemv variant. Without a config: GEMV_N where the long operand's stride-1 axis is its long side (16
 * threads of 4 columns by 16 along k), GEMV_K where it is k (4 columns of 64 threads along k); without a
 * split count, split K where the workgroups are too few to fill the GPU.
 */
function planGemv(spec: MatmulSpec, given: GemvConfig | undefined, splitsGiven: number | undefined, maxPerDim: number): GemmProgram {
  const { batch, m, n, k, dtype } = spec;
  const batches = sizeOf(batch);
  // The kernel's rows are the short side: C^T = B^T A^T when n is the short one.
  const swapped = n < m;
  const [mk, nk] = swapped ? [n, m] : [m, n];
  if (mk > GEMV_MAX_ROWS) throw new Error(`internal: matmul gemv needs m or n at most ${GEMV_MAX_ROWS}, got ${m} x ${n}`);
  const small = swapped ? { ...spec.b, rowStride: spec.b.colStride, colStride: spec.b.rowStride } : spec.a; // [mk, k]
  const big = swapped ? { ...spec.a, rowStride: spec.a.colStride, colStride: spec.a.rowStride } : spec.b; // [k, nk]
  const { code: batchLets, coords: batchCoords } = coordsOf(batch, 'bz', 'b');
  // The long operand streams once: vec4 along its stride-1 axis where aligned; the short one only along k.
  const bigAxis = vec4LoadAxis({ ...big, majorStride: big.colStride, kStride: big.rowStride }, batch, { extent: nk, tile: 4 }, { extent: k, tile: 4 });
  const layout = gemvLayout(nk, k, { kStride: big.rowStride, nStride: big.colStride, vec4: bigAxis });
  const groupsOf = (c: GemvConfig) => sizeOf(batch) * Math.ceil(nk / (c.wn * (bigAxis === 'major' ? 4 : 1)));
  const narrow = given === undefined && layout === 'n' && splitsGiven === undefined ? narrowGemv(GEMV_N, groupsOf) : null;
  const config = given ?? (layout === 'k' ? GEMV_K : (narrow ?? GEMV_N));
  const err = gemvConfigError(config);
  if (err) throw new Error(`internal: matmul gemv config ${JSON.stringify(config)}: ${err}`);
  // Split K until about two workgroups per resident slot stream the operand (the sweep's best: 512
  // workgroups for a 1 x 4096 x 4096 product), each over at least MIN_SPLIT_K. In the k layout, whose
  // workgroups already split K over their threads, only below FILL_WORKGROUPS / 4 workgroups, to about one
  // per slot, in ranges of at least GEMV_K_MIN_SPLIT_K.
  const groups = groupsOf(config);
  const [enough, target, minRange] = layout === 'k' ? [FILL_WORKGROUPS / 4, FILL_WORKGROUPS, GEMV_K_MIN_SPLIT_K] : [2 * FILL_WORKGROUPS, 2 * FILL_WORKGROUPS, MIN_SPLIT_K];
  const wanted = narrow || groups >= enough ? 1 : Math.min(Math.ceil(target / groups), Math.floor(k / minRange), 64);
  const split = splitK(k, splitsGiven ?? Math.max(1, wanted), 4);
  const partial = split.splits > 1;
  const prologue = small.prologue;
  // A prologue's matrix is the original operand's: the kernel's row is B's column when swapped.
  const smallMajor: MajorAxis = swapped ? 'col' : 'row';
  const smallAxis = prologue ? null : vec4LoadAxis({ ...small, majorStride: small.rowStride, kStride: small.colStride }, batch, { extent: -1, tile: 4 }, { extent: k, tile: 4 });
  const bigVec = bigAxis;
  const smallVec = bigAxis === 'k' && smallAxis === 'k';
  const lanes = bigVec === 'major' ? 4 : 1;
  const storeVec = !partial && !swapped && lanes === 4 && vec4Store(spec.store.access, batch, n);
  const wants = [
    { buffer: big.buffer, vec4: bigVec !== null },
    ...(prologue ? prologueWants(prologue, batch, smallMajor, bigVec === 'k' ? 'k' : null) : [{ buffer: small.buffer, vec4: smallVec }]),
    ...(partial ? [] : [{ buffer: spec.store.buffer, vec4: storeVec }, ...epilogueLoads(spec.epilogue).map((x) => ({ buffer: x, vec4: false }))]),
  ];
  const vectors = vec4Bindings(wants);
  // How the kernel reads the long operand (null: scalars); along k the short one is read as vectors too.
  const bigLanes = vectors.has(big.buffer) ? bigVec : null;
  const loader = prologue ? prologueFunction('wg_load_a', prologue, { dtype, batch, major: smallMajor, lanes: bigLanes === 'k' ? 'k' : null, vectors }) : null;
  const threads = config.wn * config.wk;
  const values = prologue?.values?.length ? prologueValuesCode(prologue.values, threads) : null;
  const store = storeFunction(spec, {
    lanes,
    swapped,
    partial: partial ? { splits: split.splits, vec4: lanes === 4 && nk % 4 === 0 } : null,
    vec4Out: vectors.has(spec.store.buffer),
    checkRow: false,
    checkCol: true,
  });
  const bases = [
    ...(prologue ? [] : [`let base_a = ${sum(batchTerms(small, batch, batchCoords.names), small.offset)};`]),
    `let base_b = ${sum(batchTerms(big, batch, batchCoords.names), big.offset)};`,
  ];
  const core = generateGemvCore({
    dtype,
    m: mk,
    n: nk,
    k,
    batches,
    a: { buffer: small.buffer, base: 'base_a', rowStride: small.rowStride, kStride: small.colStride, vec4: vectors.has(small.buffer) && smallVec, ...(prologue ? { load: 'wg_load_a' } : {}) },
    b: {
      buffer: big.buffer,
      base: 'base_b',
      kStride: big.rowStride,
      nStride: big.colStride,
      vec4: bigLanes,
    },
    config,
    splits: split.splits,
    kChunk: split.chunk,
    maxPerDim,
    prelude: [...(values?.code ?? []), ...pruneLets(batchLets, bases), ...bases],
    storeArgs: partial ? 'bz, ks' : 'bz',
  });
  const buffers = partial ? partialBuffers(spec, [...operandBuffers(small), big.buffer]) : spec.buffers;
  const loaders = [...(values ? [{ text: values.decls, helpers: values.helpers }] : []), ...(loader ? [loader] : [])];
  const wgsl = productModule(
    bufferDecls(buffers, new Set([...vectors, ...store.vec4])),
    store,
    header(spec, `gemv${swapped ? ' (transposed: C^T = B^T A^T)' : ''}: ${core.describe}${partial ? `, split K ${split.splits} x ${split.chunk} (partial sums)` : ''}${values ? `; ${prologue!.values!.length} prologue values per workgroup` : ''}`),
    core,
    loaderModule(loaders, store.helpers),
  );
  const product: GemmDispatch = { kernel: { wgsl, entryPoint: 'main', workgroups: core.workgroups }, buffers, label: `gemv ${core.describe}${partial ? ` split ${split.splits}` : ''}` };
  if (!partial) return { temps: [], dispatches: [product], variant: 'gemv' };
  const rowCol = swapped ? `col * ${m}u + row` : `row * ${n}u + col`;
  const combine = generateCombine(spec, split.splits, batches > 1 ? `bz * ${m * n}u + ${rowCol}` : rowCol, `matmul ${dtype} [${m} x ${n}]`, maxPerDim);
  return {
    temps: [{ name: PARTIAL_BUFFER, dtype, size: split.splits * batches * m * n }],
    dispatches: [product, { ...combine, label: `combine ${split.splits}` }],
    variant: `gemv.splitK${split.splits}`,
  };
}
