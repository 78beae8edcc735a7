// The GEMM kernel sweep: every variant and geometry of the GEMM family (src/shaders/matmul.ts, gemm-tiled.ts,
// gemv.ts, syrk.ts) on the key shapes of issue 5, each checked and timed, in one process. It drives the
// kernel generators directly (planMatmul / planSyrk with forced options), so each row is one configuration.
//
//   ../shared/tools/gpu-prep bench/gemm-sweep.ts=gemm-sweep.mjs        # here: .gpu/gemm-sweep.mjs
//   source .gpu/env.sh && node .gpu/gemm-sweep.mjs --out $OUT          # on the GPU machine
//   node gemm-sweep.mjs --smoke                                         # SwiftShader: small shapes, same code
//
// `--set final` (the default) times the defaults against the first round's and the runners-up; `--set
// explore` every option of the second round (see SETS); `--only REGEX` picks shapes. `--set epilogue` is a
// diagnostic of what a fused epilogue costs: only the MLP's two products (x @ w1.T and h @ w2.T; in smoke,
// 256x256x256-tB and 256x128x256-tB), each timed with no epilogue, + bias, + bias then gelu (and + bias then
// relu for the default tile) on four tiles, all variants of a shape interleaved as usual, so the cost is read
// within one shape's rounds (see epilogueVariants); the report adds a table of each epilogue against none.
//
//   node gemm-sweep.mjs --set epilogue --only '^gemm-4096x(4096x1024|1024x4096)-tB$' --out $OUT
//
// Sets with their own shapes (stop 17, see variantsFor): `smallk` (K of 32 to 64), `narrow` (outputs narrower
// than 128-wide tiles), `skinny` (9 to 32 rows or columns), `splits` (the narrow and skinny defaults over 1
// to 16 K ranges), `syrk-narrow` (SYRK of up to 100 features). `transposes` (stop 18): each product in its
// four layouts, bare, + bias and + bias then gelu (issue 5's 5% rules for transposes and epilogues);
// `layout-tiles` the tiles each layout could take with an epilogue, and the skinny tiles on x @ w.T;
// `skinny-k` skinny tiles with K steps of 32, `large-k32` 128x128 ones (on x @ w.T), `groups` LARGE_VEC4's
// launch order there. `gemv-split` (stop 19): matrix-vector products of small matrices. `syrk-wide` (stop 20):
// SYRK of 256 to 1024 features over many samples (the covariance rows); `skinny-32` more tiles for 17 to 32
// rows or columns; `split-narrow` the 64x64 tile for GEMMs with few 128x128 tiles and a long K. `staged`
// (stop 21): LARGE_VEC4 with staged stores against LARGE_PAIRS, bare and with bias + gelu; `staged-layouts`
// the rule that chose from it (LARGE_STAGED for epilogues from K = 1024, but x @ w.T) per layout.
//
// Per shape: random inputs in [-1, 1) uploaded once; every configuration compiled first (so no compile
// gap lets the GPU clocks fall between timed runs), then 400 ms of the first one to raise the clocks, then 3
// rounds over all configurations in turn: each a short warm-up (about 20 ms of GPU work) and `--reps` runs in
// one submit, each its own compute pass with timestamps at its start and end (all of the configuration's
// dispatches: a split-K product and its combine). A row's time is its best round's median; "spread" is the
// worst round over the best. (On the H100 a first version, with a compile before each configuration and
// 100 ms of warm-up, measured one kernel anywhere between 3.6 and 7.5 ms.) In the first round the output
// is poisoned with NaN before the runs and read back after: no NaN anywhere, and 256 sampled elements against
// a float64 recomputation on the host within the worst-case float32 bound (gamma_k + u) * sum |a||b| (the
// test suite's tolerance). A failed check marks the row FAIL and the run exits 1.
//
// With --torch, a second process times torch.matmul (cuBLAS, TF32 off) on the same shapes with CUDA events
// (the GEMM limit), and the table shows each row's share of it. --robustness also times the leading
// configurations on a device created with Dawn's `disable_robustness` toggle (no bounds clamping inserted
// by Tint) to measure what robust access costs.
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { create, globals } from 'webgpu';
import type { KernelBuffer } from '../src/shaders/elementwise.js';
import type { ExprStep } from '../src/shaders/expr.js';
import { tileName, tileStorageBytes, type TileConfig } from '../src/shaders/gemm-tiled.js';
import { chooseMatmul, narrowSplits, planMatmul, type GemmProgram, type GemvConfig, type MatmulSpec } from '../src/shaders/matmul.js';
import { chooseSyrk, planSyrk, syrkTilesPerMatrix, type SyrkSpec } from '../src/shaders/syrk.js';
import { median } from './stats.js';

Object.assign(globalThis, globals);

interface Args {
  smoke: boolean;
  only: RegExp | null;
  reps: number;
  out: string | null;
  torch: boolean;
  robustness: boolean;
  maxSeconds: number;
  /** Which list of tile configurations (SETS). */
  set: string;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { smoke: false, only: null, reps: 10, out: null, torch: false, robustness: false, maxSeconds: 1e9, set: 'final' };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i];
    if (x === '--smoke') a.smoke = true;
    else if (x === '--only') a.only = new RegExp(argv[++i]);
    else if (x === '--reps') a.reps = Number(argv[++i]);
    else if (x === '--out') a.out = argv[++i];
    else if (x === '--torch') a.torch = true;
    else if (x === '--robustness') a.robustness = true;
    else if (x === '--max-seconds') a.maxSeconds = Number(argv[++i]);
    else if (x === '--set') a.set = argv[++i];
    else throw new Error(`gemm-sweep: unknown argument ${x}`);
  }
  return a;
}

/** A product: C[batch, m, n] = op(A) op(B), or syrk x^T x (x stored [k, n]) when `syrk`. */
interface Shape {
  readonly id: string;
  readonly batch: number;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly transA?: boolean;
  readonly transB?: boolean;
  /** The store's epilogue: acc + bias[n], then relu or gelu; absent: acc as is. */
  readonly epilogue?: Epilogue;
  /** syrk of x [k, n] (transA: x^T x): n x n output, k samples. */
  readonly syrk?: boolean;
}

/** A fused epilogue of the GEMM's store: acc + bias[n] (bias), then relu or gelu (tanh form). */
type Epilogue = 'bias' | 'bias-relu' | 'bias-gelu';
/** An epilogue or none (plain acc). */
type EpilogueChoice = 'none' | Epilogue;

interface Variant {
  readonly label: string;
  /** planMatmul / planSyrk options (variant, tile, gemv, splitK, workgroupStorage); null: the default choice. */
  readonly options: Record<string, unknown> | null;
  /** This variant's epilogue, instead of the shape's (the label ends in ` +bias...` unless 'none'). */
  readonly epilogue?: EpilogueChoice;
}

const t = (bm: number, bn: number, bk: number, tm: number, tn: number, db: boolean, unroll = true, group = 8, more: Partial<TileConfig> = {}): TileConfig => ({ bm, bn, bk, tm, tn, db, unroll, group, ...more });
/** Two stages, two K steps per loop iteration, double-buffered register fragments (the options of 2026-11-24 run 2). */
const K2F = { pairs: true, frag: true } as const;
/** One stage with register prefetch and double-buffered fragments. */
const PF = { prefetch: true, frag: true } as const;

/** 128x128 tiles of 16x8 on 128 threads, one stage of K 16 with prefetch, double-buffered fragments (TILE_LARGE_VEC4). */
const V16 = t(128, 128, 16, 16, 8, false, true, 0, PF);
/** The first round's large default (TILE_LARGE_R1) and the second round's (TILE_LARGE). */
const R1 = t(128, 128, 8, 8, 8, true, true, 0);
const R2 = t(128, 128, 8, 8, 8, true, true, 0, K2F);
/** 64x64 tiles of 8x8 on 64 threads with prefetch and fragments (TILE_NARROW). */
const NARROW64 = t(64, 64, 16, 8, 8, false, true, 0, PF);
/** Half and twice a default's K ranges (at least 2). */
const halfAndDouble = (splits: number): number[] => [Math.max(2, Math.round(splits / 2)), splits * 2];
/** 8x8 on 256 threads, one stage of K 16 (TILE_SPLIT): the previous split-K default of GEMM and SYRK, now their fallback for scalar loads. */
const SPLIT = t(128, 128, 16, 8, 8, false);

type Listed = { tile: TileConfig; storage?: number; split?: number };
/**
 * Tile configurations per shape class. `--set explore` was the first call of 2026-11-24's second round (the
 * first round's default and every new option on it: two K steps per loop iteration, double-buffered
 * fragments, one stage with prefetch, 16x8 and 8x16 micro tiles on 128 threads, larger tiles where 32 KiB is
 * granted, grouped launch orders). `--set final` (the default) was its second call: the new defaults against
 * the first round's, with the runners-up, and the shapes the fallbacks cover (unaligned, SYRK 4096).
 */
const SETS: Record<string, Record<'big' | 'core' | 'batched' | 'unaligned' | 'syrk' | 'split', readonly Listed[]>> = {
  explore: {
    big: [
      { tile: R1 },
      { tile: t(128, 128, 8, 8, 8, true, true, 0, { pairs: true }) },
      { tile: t(128, 128, 8, 8, 8, true, true, 0, { frag: true }) },
      { tile: R2 },
      { tile: t(128, 128, 8, 8, 8, true, true, 8, K2F) },
      { tile: t(128, 128, 8, 8, 8, true, true, 16, K2F) },
      { tile: t(128, 128, 16, 8, 8, false, true, 0, { prefetch: true }) },
      { tile: t(128, 128, 16, 8, 8, false, true, 0, PF) },
      { tile: t(128, 128, 8, 16, 8, true, true, 0, K2F) },
      { tile: V16 },
      { tile: t(128, 128, 8, 8, 16, true, true, 0, K2F) },
      { tile: t(128, 128, 16, 8, 16, false, true, 0, PF) },
      { tile: t(128, 128, 16, 8, 8, true, true, 0, K2F), storage: 32768 },
      { tile: t(128, 256, 8, 8, 16, true, true, 0, K2F), storage: 32768 },
      { tile: t(256, 128, 8, 16, 8, true, true, 0, K2F), storage: 32768 },
    ],
    core: [
      { tile: t(128, 128, 8, 8, 8, true, true, 0, { pairs: true }) },
      { tile: t(128, 128, 8, 8, 8, true, true, 0, { frag: true }) },
      { tile: R2 },
      { tile: t(128, 128, 8, 8, 8, true, true, 8, K2F) },
      { tile: t(128, 128, 16, 8, 8, false, true, 0, PF) },
      { tile: t(128, 128, 8, 16, 8, true, true, 0, K2F) },
      { tile: V16 },
      { tile: t(128, 128, 8, 8, 16, true, true, 0, K2F) },
      { tile: t(256, 128, 8, 16, 8, true, true, 0, K2F), storage: 32768 },
    ],
    batched: [R1, R2, t(128, 128, 8, 8, 8, true, true, 8, K2F), t(128, 128, 8, 16, 8, true, true, 0, K2F), t(128, 128, 8, 8, 16, true, true, 0, K2F), t(64, 64, 16, 4, 4, true, true, 8, K2F)].map((tile) => ({ tile })),
    unaligned: [{ tile: R1 }, { tile: R2 }],
    syrk: [{ tile: R1 }, { tile: R2 }],
    split: [
      { tile: t(128, 128, 16, 8, 8, false), split: 16 },
      { tile: t(128, 128, 16, 8, 8, false), split: 26 },
      { tile: t(128, 128, 16, 8, 8, false, true, 8, PF), split: 16 },
      { tile: t(128, 128, 16, 8, 8, false, true, 8, PF), split: 26 },
      { tile: t(128, 128, 8, 8, 8, true, true, 8, K2F), split: 16 },
      { tile: t(128, 128, 8, 8, 8, true, true, 8, K2F), split: 26 },
    ],
  },
  final: {
    big: [R1, R2, V16, { ...V16, frag: false }, { ...V16, group: 8 }, t(128, 128, 16, 8, 16, false, true, 0, PF)].map((tile) => ({ tile })),
    core: [R1, R2, t(128, 128, 8, 8, 8, true, true, 0, { frag: true }), { ...V16, group: 8 }].map((tile) => ({ tile })),
    batched: [R1, R2, V16, { ...V16, group: 8 }].map((tile) => ({ tile })),
    unaligned: [R1, R2, V16].map((tile) => ({ tile })),
    syrk: [R1, R2, V16].map((tile) => ({ tile })),
    // The default row of syrk-512x80000 is LARGE_VEC4 with 26 ranges (the V16 split26 kernel: the launch
    // order does not apply to SYRK's triangle of tiles); SPLIT's rows are the previous defaults (SYRK's with
    // 26 ranges, the GEMM's with 16).
    split: [
      { tile: V16, split: 16 },
      { tile: V16, split: 26 },
      { tile: SPLIT, split: 16 },
      { tile: SPLIT, split: 26 },
    ],
  },
};

const tiled = (tile: TileConfig, storage?: number, splitK?: number): Variant => ({
  label: `tiled ${tileName(tile)}${storage ? ` smem${storage / 1024}k` : ''}${splitK && splitK > 1 ? ` split${splitK}` : ''}`,
  options: { variant: 'tiled', tile, ...(storage ? { workgroupStorage: storage } : {}), ...(splitK ? { splitK } : {}) },
});
const gemv = (g: GemvConfig, splitK?: number): Variant => ({
  label: `gemv ${g.wn}x${g.wk}u${g.unroll}${splitK ? ` split${splitK}` : ''}`,
  options: { variant: 'gemv', gemv: g, ...(splitK ? { splitK } : {}) },
});
const DEFAULT: Variant = { label: 'default', options: null };

/** `--set epilogue`: its own shapes and variants, outside SETS. */
const EPILOGUE_SET = 'epilogue';
/** The tiles of `--set epilogue`: the default choice, LARGE_VEC4 launched in groups of 8, R2, and R1's tile with double-buffered fragments. */
const EPILOGUE_TILES: readonly Variant[] = [DEFAULT, tiled({ ...V16, group: 8 }), tiled(R2), tiled(t(128, 128, 8, 8, 8, true, true, 0, { frag: true }))];

/** `--set padding`: its own shapes; each shape's default choice at 16 KiB of workgroup memory against the same choice with the device's maximum (the tiles whose loads scatter along k then pad their rows by a vector). */
const PADDING_SET = 'padding';
/** `--set syrk-narrow`: see variantsFor. */
const SYRK_NARROW_SET = 'syrk-narrow';
/** `--set splits`: see variantsFor. */
const SPLITS_SET = 'splits';
/** `--set skinny`: see variantsFor. */
const SKINNY_SET = 'skinny';
/** `--set narrow`: see variantsFor. */
const NARROW_SET = 'narrow';
/** `--set smallk`: see variantsFor. */
const SMALLK_SET = 'smallk';
/** `--set transposes`: see variantsFor. */
const TRANSPOSES_SET = 'transposes';
/** `--set layout-tiles`: see variantsFor. */
const LAYOUT_TILES_SET = 'layout-tiles';
/** `--set skinny-k`: see variantsFor. */
const SKINNY_K_SET = 'skinny-k';
/** `--set large-k32`: see variantsFor. */
const LARGE_K32_SET = 'large-k32';
/** `--set groups`: see variantsFor. */
const GROUPS_SET = 'groups';
/** `--set gemv-split`: see variantsFor. */
const GEMV_SPLIT_SET = 'gemv-split';
/** `--set syrk-wide`: see variantsFor. */
const SYRK_WIDE_SET = 'syrk-wide';
/** `--set skinny-32`: see variantsFor. */
const SKINNY_32_SET = 'skinny-32';
/** `--set split-narrow`: see variantsFor. */
const SPLIT_NARROW_SET = 'split-narrow';
/** `--set mid-square`: see variantsFor. */
const MID_SQUARE_SET = 'mid-square';
/** `--set staged` and `--set staged-layouts`: see variantsFor. */
const STAGED_SET = 'staged';
const STAGED_LAYOUTS_SET = 'staged-layouts';

/** A variant with its own epilogue, labelled `LABEL +EPILOGUE` (no suffix for 'none'). */
const withEpilogue = (v: Variant, epilogue: EpilogueChoice): Variant => ({ ...v, label: epilogue === 'none' ? v.label : `${v.label} +${epilogue}`, epilogue });

/** Per tile, no epilogue, + bias, + bias then gelu; + bias then relu on the default tile only. */
function epilogueVariants(): Variant[] {
  return EPILOGUE_TILES.flatMap((v) => (['none', 'bias', ...(v === DEFAULT ? ['bias-relu' as const] : []), 'bias-gelu'] as const).map((e) => withEpilogue(v, e)));
}

function variantsFor(s: Shape, smoke: boolean, set: string): Variant[] {
  if (set === EPILOGUE_SET) return epilogueVariants();
  // `--set staged`: staged stores (TileConfig.staged: the accumulators go out through workgroup memory in
  // bands, the epilogue runs on values read back) on LARGE_VEC4, whose 128 accumulators per thread made
  // gelu(acc + bias) 20% slower than LARGE_PAIRS; bare and with bias + gelu, on the epilogue set's shapes
  // and 4096^3.
  if (set === STAGED_SET || set === STAGED_LAYOUTS_SET) {
    // The first call (gemm-sweep-staged-2026-11-25-stop21/call1) gave the band its own 16 or 32 KiB beside
    // the tiles': LARGE_VEC4 bare 34-43% slower, LARGE_PAIRS 9-16%. Here LARGE_VEC4's band (32 rows) lives in
    // its one stage of tiles (16 + 16 rows of 32 vectors), within the 16 KiB.
    // The third call: where each is faster, per layout and shape: the default with each epilogue against
    // staged LARGE_VEC4 with + bias and + bias then gelu (STAGED_LAYOUTS_SET's shapes).
    // Its fourth call measured the rule chooseMatmul took from it (the default: LARGE_STAGED with an
    // epilogue from K = 1024, but LARGE_PAIRS on x @ w.T) against LARGE_PAIRS and LARGE_FRAG with gelu, and
    // LARGE_VEC4 bare in both launch orders (the third call's plain 4096 x 1024 x 4096 took 1.24 ms with its
    // default, LARGE_VEC4 in groups of 8, and 0.74 with the staged tile launched row by row).
    if (set === STAGED_LAYOUTS_SET) {
      return [
        ...(['none', 'bias', 'bias-gelu'] as const).map((e) => withEpilogue(DEFAULT, e)),
        withEpilogue(tiled(R2), 'bias-gelu'),
        withEpilogue(tiled(t(128, 128, 8, 8, 8, true, true, 0, { frag: true })), 'bias-gelu'),
        withEpilogue(tiled({ ...V16, staged: true }), 'bias-gelu'),
        tiled(V16),
      ];
    }
    const list = [DEFAULT, tiled(V16), tiled({ ...V16, staged: true }), tiled(R2)];
    return (['none', 'bias-gelu'] as const).flatMap((e) => list.map((v) => withEpilogue(v, e)));
  }
  if (set === PADDING_SET) return [DEFAULT, { label: 'default smem48k', options: { workgroupStorage: 49152 } }];
  // `--set smallk`: tile geometries for K <= 64 (SMALL_K, 4x4 per thread, against 8x8, 8x4 and 4x8 per
  // thread on 64x64 tiles, with prefetch and fragments). Persistent workgroups (each running several tiles,
  // grid-stride) were measured here too and removed: gemm-sweep-smallk-2026-11-24-stop17/.
  if (set === SMALLK_SET) {
    if (s.k > 64) return [DEFAULT];
    const tiles = [
      t(64, 64, 16, 4, 4, false, true, 0),
      t(64, 64, 16, 8, 8, false, true, 0),
      NARROW64,
      t(64, 64, 16, 8, 8, true, true, 0, K2F),
      t(64, 64, 16, 8, 4, false, true, 0),
      t(64, 64, 16, 8, 4, false, true, 0, PF),
      t(64, 64, 16, 4, 8, false, true, 0, PF),
      t(64, 64, 16, 4, 4, false, true, 0, PF),
    ];
    return [DEFAULT, ...tiles.map((x) => tiled(x))];
  }
  // `--set transposes`: issue 5's two 5% rules. Each product in its four layouts (x @ w, x.T @ w, x @ w.T,
  // x.T @ w.T: separate shapes, each its own rounds) with the default kernel bare, + bias and + bias then
  // gelu (interleaved within a shape's rounds): a transposed operand against the plain layout, an epilogue
  // against the bare product of the same layout.
  if (set === TRANSPOSES_SET) return (['none', 'bias', 'bias-gelu'] as const).map((e) => withEpilogue(DEFAULT, e));
  // `--set layout-tiles`: the tiles a product with an epilogue could take, per layout (the transposes set's
  // first call found x.T @ w with an epilogue 5.6-8.7% over x @ w, x.T @ w.T + gelu 20-35%, all on
  // LARGE_PAIRS), and the skinny tiles on x @ w.T (22% slower than x @ w on 16 x 4096 x 4096).
  if (set === LAYOUT_TILES_SET) {
    if (Math.min(s.m, s.n) <= 32) {
      const [m16, m32] = [t(16, 128, 16, 4, 8, false, true, 0, PF), t(32, 64, 16, 4, 8, false, true, 0, PF)];
      return [DEFAULT, ...[8, 32].map((x) => tiled(m16, undefined, x)), tiled(t(16, 128, 8, 4, 8, true, true, 0, K2F), undefined, 16), ...[8, 16].map((x) => tiled(m32, undefined, x)), tiled(t(64, 128, 16, 8, 8, false, true, 0, PF), undefined, 8)];
    }
    const tiles = [null, { ...V16, group: 8 }, R1, t(128, 128, 8, 8, 8, true, true, 0, { frag: true }), t(128, 128, 16, 8, 8, false, true, 0, PF), t(128, 128, 8, 8, 8, true, true, 0, { pairs: true })];
    return (['bias', 'bias-gelu'] as const).flatMap((e) => tiles.map((x) => withEpilogue(x ? tiled(x) : DEFAULT, e)));
  }
  // `--set skinny-k`: skinny tiles with K steps of 32 (a thread row reads 128 contiguous bytes of each row of
  // w [n, k] per step instead of 64): is x @ w.T's 22% over x @ w the reads along k of w? Its first call
  // (gemm-sweep-skinny-k-2026-11-25-stop18/gemm-sweep-call1.md) also ran 16x128 / 128x16 tiles with K steps
  // of 32 and 64-wide ones with K steps of 64 (all slower); this list is the second call's: 16x64 (64x16)
  // tiles of 4x4 with K steps of 32 over 4, 8 and 16 K ranges, now the defaults for 16 rows or fewer (so
  // those DEFAULT rows run the same tile); its fourth call added 17 to 32 rows (columns): 32x64 (64x32)
  // tiles of 4x8 (8x4) with K steps of 32, and its fifth the 16-row tile on them (two row tiles reading
  // each tile of w), both slower than their default.
  if (set === SKINNY_K_SET) {
    const rows = s.m <= s.n;
    const sixteen = rows ? t(16, 64, 32, 4, 4, false, true, 0, PF) : t(64, 16, 32, 4, 4, false, true, 0, PF);
    const tiles = Math.min(s.m, s.n) <= 16 ? [sixteen] : [rows ? t(32, 64, 32, 4, 8, false, true, 0, PF) : t(64, 32, 32, 8, 4, false, true, 0, PF), sixteen];
    return [DEFAULT, ...tiles.flatMap((tile) => [4, 8, 16].map((split) => tiled(tile, tileStorageBytes(tile) > 16384 ? 49152 : undefined, split)))];
  }
  // `--set large-k32`: the 128x128 tiles with K steps of 32 (32 KiB of workgroup memory, more than the 16
  // KiB every device grants) on x @ w.T, whose operands both load along k: do longer runs along k pay for
  // bare x @ w.T's 5% there as they did on the skinny tiles?
  // `--set groups`: LARGE_VEC4's launch order (8 row tiles per group by default) on large-k32's shapes.
  if (set === GROUPS_SET) return [DEFAULT, ...[0, 2, 4, 16].map((group) => tiled({ ...V16, group }))];
  // `--set gemv-split`: matrix-vector products of small matrices (PCA's power iteration: 512 x 512 times a
  // vector), the gemv kernel over 1 to 8 K ranges (1 to 64 from K = 16384; more than one adds the combine
  // dispatch) against the default, and the direct kernel where K is short enough for it to be a candidate.
  if (set === GEMV_SPLIT_SET) {
    const splits = (s.k >= 16384 ? [1, 4, 16, 64] : [1, 2, 4, 8]).map((splitK): Variant => ({ label: `gemv split${splitK}`, options: { variant: 'gemv', splitK } }));
    return [DEFAULT, ...splits, ...(s.k <= 256 ? [{ label: 'direct', options: { variant: 'direct' } }] : [])];
  }
  if (set === LARGE_K32_SET) {
    const tiles = [t(128, 128, 32, 16, 8, false, true, 8, PF), t(128, 128, 32, 8, 8, false, true, 8, PF), t(128, 128, 16, 8, 8, true, true, 0, K2F), t(128, 128, 32, 8, 8, false, true, 8)];
    // SwiftShader grants 32 KiB: the tiles fit, unpadded.
    return [DEFAULT, ...tiles.map((x) => tiled(x, smoke ? 32768 : 49152))];
  }
  // `--set splits`: the narrow and skinny shapes, each default tile (chooseMatmul) over 1 to 16 K ranges
  // against the default's own count (narrowSplits; the call in gemm-sweep-splits-2026-11-24-stop17/ ran an
  // earlier rule's).
  if (set === SPLITS_SET) {
    const chosen = chooseMatmul({ batch: s.batch > 1 ? [s.batch] : [], m: s.m, n: s.n, k: s.k });
    return [DEFAULT, ...[1, 2, 4, 8, 16].map((split) => tiled(chosen.tile, undefined, split))];
  }
  // `--set syrk-narrow`: SYRK of 36 to 100 features (the demo's PCA: 64), the narrow 64x64 tile over K ranges
  // against LARGE_VEC4, the default there before (one 128x128 tile, mostly out of bounds).
  if (set === SYRK_NARROW_SET) {
    return [DEFAULT, ...[1, 4, 16, 64].map((split) => tiled(V16, undefined, split)), ...[1, 4, 7, 16, 64].map((split) => tiled(NARROW64, undefined, split))];
  }
  // `--set syrk-wide`: SYRK of 256 to 1024 features over many samples (the covariance and PCA rows: 512 x
  // 20000 and 512 x 80000), where 128x128 tiles leave few lower-triangle tiles (10 at 512) for long K ranges:
  // LARGE_VEC4 over half and twice the default's ranges, LARGE_PAIRS (256 threads), and the 64x64 narrow tile
  // (36 lower tiles at 512, a finer triangle) over K ranges around its 32k-thread rule.
  if (set === SYRK_WIDE_SET) {
    const chosen = chooseSyrk({ batch: [], n: s.n, k: s.k });
    const [half, double] = halfAndDouble(chosen.splitK);
    const narrow = [...new Set([4, 8, 16, 32, 64, narrowSplits(syrkTilesPerMatrix(s.n, NARROW64.bm), NARROW64, s.k)])].sort((a, b) => a - b);
    return [
      DEFAULT,
      ...[half, double].map((split) => tiled(V16, undefined, split)),
      ...[half, chosen.splitK].map((split) => tiled(R2, undefined, split)),
      ...narrow.map((split) => tiled(NARROW64, undefined, split)),
    ];
  }
  // `--set split-narrow`: GEMMs with few 128x128 tiles and a long K (x^T y of many samples, a weight
  // gradient over many tokens), which LARGE_VEC4 splits over K: the 64x64 narrow tile over narrowSplits'
  // count (one wave of about 512 workgroups, as the SYRK of up to 512 features now takes) and around it, and
  // LARGE_VEC4 over half and twice the default's ranges.
  if (set === SPLIT_NARROW_SET) {
    const chosen = chooseMatmul({ batch: s.batch > 1 ? [s.batch] : [], m: s.m, n: s.n, k: s.k });
    const rule = narrowSplits(s.batch * Math.ceil(s.m / NARROW64.bm) * Math.ceil(s.n / NARROW64.bn), NARROW64, s.k);
    const narrow = [...new Set([rule, ...halfAndDouble(rule)])].filter((x) => x <= 64).sort((a, b) => a - b);
    return [DEFAULT, ...halfAndDouble(chosen.splitK).map((split) => tiled(V16, undefined, split)), ...narrow.map((split) => tiled(NARROW64, undefined, split))];
  }
  // `--set mid-square` (stop 22): outputs of 32 to 100 tiles of 128x128 with a short K (1024^3), which the
  // default split over K ranges on LARGE_VEC4 with a combine dispatch until MID_NARROW_MAX_K: the 64x64 tile
  // in one dispatch (no combine) or over 2 ranges, against the default and LARGE_VEC4 over 2, 4 and 8 ranges
  // (its first call, gemm-sweep-mid-square-2026-11-25-stop22/, ran half and twice the then default's ranges).
  if (set === MID_SQUARE_SET) {
    return [DEFAULT, ...[2, 4, 8].map((split) => tiled(V16, undefined, split)), ...[1, 2].map((split) => tiled(NARROW64, undefined, split))];
  }
  // `--set skinny-32`: 17 to 32 rows, where x @ w.T costs 15% over x @ w with the default 32x64 tile of 4x8 on
  // 64 threads: the same tile on 128 threads (4x4 each), 128 wide on 128 threads, and K steps of 32.
  if (set === SKINNY_32_SET) {
    const rows = s.m <= s.n;
    const tiles = rows
      ? [t(32, 64, 16, 4, 4, false, true, 0, PF), t(32, 128, 16, 4, 8, false, true, 0, PF), t(32, 64, 32, 4, 4, false, true, 0, PF), t(32, 32, 32, 4, 4, false, true, 0, PF)]
      : [t(64, 32, 16, 4, 4, false, true, 0, PF), t(128, 32, 16, 8, 4, false, true, 0, PF), t(64, 32, 32, 4, 4, false, true, 0, PF), t(32, 32, 32, 4, 4, false, true, 0, PF)];
    return [DEFAULT, ...tiles.flatMap((tile) => [4, 8].map((split) => tiled(tile, undefined, split)))];
  }
  // `--set narrow`: outputs narrower than the 128-wide tiles along n or m (attention's P @ V over heads of 64),
  // where a 128x128 tile computes half its outputs out of bounds: 64-wide tiles against the default.
  if (set === NARROW_SET) {
    return [
      DEFAULT,
      ...[
        NARROW64,
        t(128, 64, 16, 8, 8, false, true, 0, PF),
        t(64, 128, 16, 8, 8, false, true, 0, PF),
        t(128, 64, 16, 16, 4, false, true, 0, PF),
        t(128, 64, 8, 8, 4, true, true, 0, K2F),
        t(64, 64, 16, 4, 4, true, true, 8),
        t(64, 64, 8, 4, 4, true, true, 0, K2F),
      ].map((x) => tiled(x)),
    ];
  }
  // `--set skinny`: 9 to 32 rows or columns (a batch of tokens times a weight matrix): tiles of 16 or 32
  // along the short side and their split K. (Its first call also ran gemv kernels of 16 and 32 rows, m
  // accumulators per thread: 1.3-3x slower than these tiles, gemm-sweep-skinny-2026-11-24-stop17/.)
  if (set === SKINNY_SET) {
    const rows = s.m <= s.n;
    const skinny = rows ? t(32, 64, 16, 4, 8, false, true, 0, PF) : t(64, 32, 16, 8, 4, false, true, 0, PF);
    const sixteen = rows ? t(16, 128, 16, 4, 8, false, true, 0, PF) : t(128, 16, 16, 8, 4, false, true, 0, PF);
    const narrow = rows ? t(64, 128, 16, 8, 8, false, true, 0, PF) : t(128, 64, 16, 8, 8, false, true, 0, PF);
    return [
      DEFAULT,
      ...[2, 4, 8, 16].map((split) => tiled(skinny, undefined, split)),
      ...[4, 8].map((split) => tiled(sixteen, undefined, split)),
      tiled(narrow, undefined, 8),
    ];
  }
  const sel = SETS[set];
  if (!sel) throw new Error(`gemm-sweep: unknown --set ${set} (${[...Object.keys(SETS), EPILOGUE_SET, PADDING_SET, SMALLK_SET, NARROW_SET, SKINNY_SET, SPLITS_SET, SYRK_NARROW_SET, TRANSPOSES_SET, LAYOUT_TILES_SET, SKINNY_K_SET, LARGE_K32_SET, GROUPS_SET, GEMV_SPLIT_SET, SYRK_WIDE_SET, SKINNY_32_SET, SPLIT_NARROW_SET, MID_SQUARE_SET, STAGED_SET, STAGED_LAYOUTS_SET].join(', ')})`);
  const list = (xs: readonly Listed[]) => [DEFAULT, ...xs.map((x) => tiled(x.tile, x.storage, x.split))];
  if (s.syrk && s.k < 20 * s.n) return list(sel.syrk);
  if (s.syrk || s.k >= 20 * Math.max(s.m, s.n)) {
    if (smoke) return [DEFAULT, ...[...new Set(sel.split.map((x) => x.tile))].map((x) => tiled(x, undefined, 4))];
    return list(sel.split);
  }
  if (s.m === 1 || s.n === 1) {
    const out: Variant[] = [DEFAULT];
    const plan: [GemvConfig, number[]][] = [
      [{ wn: 16, wk: 16, unroll: 4 }, [4, 8, 16]],
      [{ wn: 16, wk: 16, unroll: 8 }, [8]],
      [{ wn: 8, wk: 32, unroll: 4 }, [1, 4]],
      [{ wn: 4, wk: 64, unroll: 4 }, [1, 2]],
      [{ wn: 32, wk: 8, unroll: 4 }, [16]],
      [{ wn: 2, wk: 128, unroll: 2 }, [1]],
      [{ wn: 2, wk: 128, unroll: 4 }, [1]],
    ];
    for (const [g, splits] of plan) for (const split of smoke ? [1, 2] : splits) out.push(gemv(g, split));
    return out;
  }
  if (s.k <= 64) {
    return [
      DEFAULT,
      ...[t(128, 128, 16, 8, 8, false, true, 0), t(128, 128, 8, 8, 8, true, true, 0), t(64, 64, 16, 4, 4, false, true, 0, { frag: true }), t(64, 64, 16, 4, 4, false, true, 0, { prefetch: true }), t(128, 128, 8, 8, 8, true, true, 0, K2F)].map((x) => tiled(x)),
    ];
  }
  if (s.batch > 1 || s.m * s.n <= 256 * 256 * 4) return list(sel.batched);
  if (s.m % 4 !== 0 && s.k % 4 !== 0) return list(sel.unaligned);
  // The MLP's second product (256 tiles of 128, long K): the core list and two K ranges on it.
  if (s.id === 'gemm-4096x1024x4096-tB') return list([...sel.core, { tile: V16, split: 2 }, { tile: R2, split: 2 }]);
  // The first shape of the large family gets the whole list, the others the core list.
  return list(s.id === 'gemm-4096x4096x4096' ? sel.big : sel.core);
}

/** A product named by its dimensions: gemm-MxNxK or bgemm-BxMxNxK, with -tA for x.T @ w and -tB for x @ w.T. */
const product = (batch: number, m: number, n: number, k: number, transB = false, transA = false): Shape => ({
  id: `${batch > 1 ? `bgemm-${batch}x` : 'gemm-'}${m}x${n}x${k}${transA ? '-tA' : ''}${transB ? '-tB' : ''}`,
  batch,
  m,
  n,
  k,
  ...(transA ? { transA } : {}),
  ...(transB ? { transB } : {}),
});

/** A product in its four layouts: plain, -tA, -tB, -tA-tB. */
const layouts = (batch: number, m: number, n: number, k: number): Shape[] =>
  [false, true].flatMap((transA) => [false, true].map((transB) => product(batch, m, n, k, transB, transA)));

function shapes(smoke: boolean, set: string): Shape[] {
  if (set === STAGED_SET) return [...shapes(smoke, EPILOGUE_SET), ...(smoke ? [] : [product(1, 4096, 4096, 4096)])];
  if (set === STAGED_LAYOUTS_SET) {
    if (smoke) return [...layouts(1, 256, 256, 96), product(1, 260, 132, 40, true)];
    return [...layouts(1, 4096, 4096, 4096), ...layouts(1, 4096, 4096, 1024), ...layouts(1, 4096, 1024, 4096), ...[false, true].flatMap((tB) => [product(1, 2048, 2048, 2048, tB), product(1, 65536, 256, 256, tB)])];
  }
  if (set === EPILOGUE_SET) {
    // The harness MLP's two products (x @ w1.T, w1 [4096, 1024]; h @ w2.T, w2 [1024, 4096]): their epilogues
    // are the variants'. Only here, so no other set runs the first one.
    return smoke
      ? [
          { id: 'gemm-256x256x256-tB', batch: 1, m: 256, n: 256, k: 256, transB: true },
          { id: 'gemm-256x128x256-tB', batch: 1, m: 256, n: 128, k: 256, transB: true },
        ]
      : [
          { id: 'gemm-4096x4096x1024-tB', batch: 1, m: 4096, n: 4096, k: 1024, transB: true },
          { id: 'gemm-4096x1024x4096-tB', batch: 1, m: 4096, n: 1024, k: 4096, transB: true },
        ];
  }
  if (set === SYRK_NARROW_SET) {
    return (smoke ? [[36, 600], [64, 700]] : [[64, 2000], [64, 80000], [100, 20000], [36, 3000], [96, 80000]]).map(([n, k]) => ({ id: `syrk-${n}x${k}`, batch: 1, m: n, n, k, syrk: true }));
  }
  if (set === SPLITS_SET) return [...shapes(smoke, NARROW_SET), ...shapes(smoke, SKINNY_SET)];
  if (set === SYRK_WIDE_SET) {
    return (smoke ? [[256, 3000]] : [[512, 20000], [512, 80000], [256, 80000], [1024, 20000], [256, 20000], [384, 20000], [384, 80000]]).map(([n, k]) => ({ id: `syrk-${n}x${k}`, batch: 1, m: n, n, k, syrk: true }));
  }
  if (set === MID_SQUARE_SET) {
    return smoke
      ? [product(1, 256, 256, 256), product(1, 256, 256, 256, true)]
      : [
          product(1, 1024, 1024, 1024),
          product(1, 1024, 1024, 1024, true),
          product(1, 1024, 1024, 512),
          product(1, 1024, 1024, 2048),
          product(1, 768, 768, 768),
          product(1, 1280, 1280, 1280),
          product(1, 1024, 2048, 1024),
          product(1, 2048, 1024, 1024, true),
        ];
  }
  if (set === SPLIT_NARROW_SET) {
    return smoke
      ? [product(1, 128, 128, 4096, false, true)]
      : [
          product(1, 512, 512, 80000, false, true),
          product(1, 512, 512, 20000, false, true),
          product(1, 256, 256, 65536, false, true),
          product(1, 1024, 1024, 65536, false, true),
          product(1, 768, 768, 32768, false, true),
          product(1, 512, 512, 16384),
          product(1, 1024, 1024, 8192),
          product(1, 1024, 1024, 1024),
        ];
  }
  if (set === SKINNY_32_SET) {
    const two = (m: number, n: number, k: number) => [product(1, m, n, k), product(1, m, n, k, true)];
    return smoke ? [...two(24, 256, 600)] : [...two(32, 4096, 4096), product(1, 24, 4096, 4096, true), product(1, 32, 11008, 4096, true), ...two(4096, 32, 4096)];
  }
  if (set === TRANSPOSES_SET) {
    // The harness's GEMM shapes and the MLP's second product, an unaligned one (scalar loads), a narrow
    // (attention's P @ V) and a skinny one.
    const dims: [number, number, number, number][] = smoke
      ? [[1, 256, 256, 256], [1, 100, 72, 60], [1, 1, 128, 96], [4, 32, 24, 40], [1, 12, 256, 600], [2, 200, 64, 100]]
      : [
          [1, 4096, 4096, 4096],
          [1, 2048, 2048, 2048],
          [1, 4096, 4096, 1024],
          [1, 4096, 1024, 4096],
          [1, 65536, 256, 256],
          [1, 4096, 4096, 32],
          [1, 1, 4096, 4096],
          [64, 256, 256, 256],
          [1, 1001, 1003, 1005],
          [32, 1024, 64, 1024],
          [1, 16, 4096, 4096],
        ];
    return dims.flatMap(([b, m, n, k]) => layouts(b, m, n, k));
  }
  if (set === SKINNY_K_SET) {
    const two = (m: number, n: number, k: number) => [product(1, m, n, k), product(1, m, n, k, true)];
    return smoke
      ? [...two(12, 256, 600), ...two(256, 12, 600), product(1, 24, 256, 600, true)]
      : [
          ...two(16, 4096, 4096),
          product(1, 12, 4096, 4096, true),
          product(1, 16, 8192, 4096, true),
          ...two(4096, 16, 4096),
          product(1, 4096, 12, 4096, true),
          product(1, 8192, 16, 4096),
          ...two(32, 4096, 4096),
          product(1, 24, 4096, 4096, true),
          product(1, 32, 11008, 4096, true),
          ...two(4096, 32, 4096),
          product(8, 32, 1024, 1024),
        ];
  }
  if (set === GROUPS_SET) return [...shapes(smoke, LARGE_K32_SET), ...(smoke ? [] : [product(1, 4096, 1024, 4096)])];
  if (set === GEMV_SPLIT_SET) {
    // C @ v (n = 1) and v^T @ C (m = 1), C square.
    // Then both sides of DIRECT_GEMV_MAX_K and of GEMV_K_MIN_SPLIT_K (few rows, a long K).
    const square = (smoke ? [64, 200] : [256, 512, 1024, 2048, 4096]).flatMap((d) => [product(1, d, 1, d), product(1, 1, d, d)]);
    const shortK = (smoke ? [[32, 48]] : [[256, 32], [256, 64], [256, 128], [1024, 64], [1024, 128]]).flatMap(([d, k]) => [product(1, d, 1, k), product(1, 1, d, k)]);
    const longK = smoke ? [product(1, 8, 1, 8192)] : [product(1, 64, 1, 8192), product(1, 64, 1, 16384), product(1, 64, 1, 65536), product(1, 512, 1, 16384)];
    return [...square, ...shortK, ...longK];
  }
  if (set === LARGE_K32_SET) {
    return smoke ? [product(1, 256, 256, 256, true)] : [product(1, 4096, 4096, 4096), product(1, 4096, 4096, 4096, true), product(1, 4096, 4096, 1024, true), product(1, 4096, 1024, 4096, true), product(1, 2048, 2048, 2048, true)];
  }
  if (set === LAYOUT_TILES_SET) {
    const dims: [number, number, number, number][] = smoke
      ? [[1, 256, 256, 256], [4, 32, 24, 40]]
      : [[1, 4096, 4096, 1024], [1, 4096, 1024, 4096], [1, 65536, 256, 256], [64, 256, 256, 256]];
    const skinny = smoke ? [product(1, 12, 256, 600), product(1, 12, 256, 600, true)] : [16, 32].flatMap((m) => [product(1, m, 4096, 4096), product(1, m, 4096, 4096, true)]);
    return [...dims.flatMap(([b, m, n, k]) => layouts(b, m, n, k)), ...skinny];
  }
  if (set === SKINNY_SET) {
    return smoke
      ? [product(1, 12, 256, 600), product(1, 256, 20, 600, true)]
      : [
          product(1, 16, 4096, 4096),
          product(1, 32, 4096, 4096, true),
          product(1, 24, 4096, 4096),
          product(1, 12, 4096, 4096, true),
          product(1, 4096, 16, 4096),
          product(1, 4096, 32, 4096, true),
          product(1, 32, 11008, 4096, true),
          product(8, 32, 1024, 1024),
        ];
  }
  if (set === NARROW_SET) {
    return smoke
      ? [product(2, 200, 64, 100), product(1, 64, 200, 100, true)]
      : [
          // Attention's P @ V over heads of 64: 32 heads of 1024 positions, 16 heads of 4096.
          product(32, 1024, 64, 1024),
          product(16, 4096, 64, 4096),
          product(1, 65536, 64, 256),
          product(1, 4096, 64, 4096),
          product(1, 64, 4096, 4096),
          product(1, 16384, 192, 1024, true),
        ];
  }
  if (set === SMALLK_SET) {
    return smoke
      ? [product(1, 256, 256, 32), product(1, 250, 256, 60, true)]
      : [
          product(1, 4096, 4096, 32),
          product(1, 4096, 4096, 48),
          product(1, 4096, 4096, 64),
          product(1, 4096, 4096, 64, true),
          // Attention scores: q @ k.T over heads of 64 (32 heads of 1024 positions, 128 of 256).
          product(32, 1024, 1024, 64, true),
          product(128, 256, 256, 64, true),
          product(1, 65536, 256, 64),
          product(1, 1000, 1000, 40),
        ];
  }
  if (set === PADDING_SET) {
    const sq = smoke ? 256 : 4096;
    return [
      { id: `gemm-${sq}x${sq}x${sq}`, batch: 1, m: sq, n: sq, k: sq },
      { id: `gemm-${sq}x${sq}x${sq}-tB`, batch: 1, m: sq, n: sq, k: sq, transB: true },
      ...(smoke
        ? [{ id: 'gemm-bias-gelu-256x256x64-tB', batch: 1, m: 256, n: 256, k: 64, transB: true, epilogue: 'bias-gelu' } as const]
        : [
            { id: 'gemm-2048x2048x2048', batch: 1, m: 2048, n: 2048, k: 2048 },
            { id: 'gemm-4096x4096x1024', batch: 1, m: 4096, n: 4096, k: 1024 },
            // The harness MLP's two products with their epilogues.
            { id: 'mlp1-4096x4096x1024-tB', batch: 1, m: 4096, n: 4096, k: 1024, transB: true, epilogue: 'bias-gelu' } as const,
            { id: 'mlp2-4096x1024x4096-tB', batch: 1, m: 4096, n: 1024, k: 4096, transB: true, epilogue: 'bias' } as const,
            { id: 'gemm-65536x256x256', batch: 1, m: 65536, n: 256, k: 256 },
            { id: 'gemm-65536x256x256-tB', batch: 1, m: 65536, n: 256, k: 256, transB: true },
            { id: 'bgemm-64x256x256x256', batch: 64, m: 256, n: 256, k: 256 },
            { id: 'gemm-4096x4096x32', batch: 1, m: 4096, n: 4096, k: 32 },
            { id: 'syrk-512x80000', batch: 1, m: 512, n: 512, k: 80000, syrk: true },
            { id: 'syrk-4096x4096', batch: 1, m: 4096, n: 4096, k: 4096, syrk: true },
            { id: 'gemm-4095x4095x4095', batch: 1, m: 4095, n: 4095, k: 4095 },
          ]),
    ];
  }
  if (smoke) {
    return [
      { id: 'gemm-256x256x256', batch: 1, m: 256, n: 256, k: 256 },
      { id: 'gemm-256x256x256-tB', batch: 1, m: 256, n: 256, k: 256, transB: true },
      { id: 'gemm-bias-gelu-256', batch: 1, m: 256, n: 256, k: 256, epilogue: 'bias-gelu' },
      { id: 'gemm-256x256x32', batch: 1, m: 256, n: 256, k: 32 },
      { id: 'gemm-1x512x512', batch: 1, m: 1, n: 512, k: 512 },
      { id: 'gemm-1x512x512-tB', batch: 1, m: 1, n: 512, k: 512, transB: true },
      { id: 'bgemm-4x64x64x64', batch: 4, m: 64, n: 64, k: 64 },
      { id: 'gemm-64x64x4000-tA', batch: 1, m: 64, n: 64, k: 4000, transA: true },
      { id: 'syrk-64x4000', batch: 1, m: 64, n: 64, k: 4000, syrk: true },
    ];
  }
  return [
    { id: 'gemm-4096x4096x4096', batch: 1, m: 4096, n: 4096, k: 4096 },
    { id: 'gemm-4096x4096x4096-tB', batch: 1, m: 4096, n: 4096, k: 4096, transB: true },
    { id: 'gemm-bias-gelu-4096', batch: 1, m: 4096, n: 4096, k: 4096, epilogue: 'bias-gelu' },
    { id: 'gemm-4096x4096x1024', batch: 1, m: 4096, n: 4096, k: 1024 },
    { id: 'gemm-65536x256x256', batch: 1, m: 65536, n: 256, k: 256 },
    // The harness MLP's second product: h [4096, 4096] @ w2.T, w2 [1024, 4096].
    { id: 'gemm-4096x1024x4096-tB', batch: 1, m: 4096, n: 1024, k: 4096, transB: true },
    { id: 'gemm-4096x4096x32', batch: 1, m: 4096, n: 4096, k: 32 },
    { id: 'gemm-1x4096x4096', batch: 1, m: 1, n: 4096, k: 4096 },
    { id: 'gemm-1x4096x4096-tB', batch: 1, m: 1, n: 4096, k: 4096, transB: true },
    { id: 'bgemm-64x256x256x256', batch: 64, m: 256, n: 256, k: 256 },
    { id: 'gemm-512x512x80000-tA', batch: 1, m: 512, n: 512, k: 80000, transA: true },
    { id: 'syrk-512x80000', batch: 1, m: 512, n: 512, k: 80000, syrk: true },
    // Scalar tile loads (no axis aligned to 4), and a large SYRK (no split): the shapes of the fallbacks.
    { id: 'gemm-4095x4095x4095', batch: 1, m: 4095, n: 4095, k: 4095 },
    { id: 'syrk-4096x4096', batch: 1, m: 4096, n: 4096, k: 4096, syrk: true },
  ];
}

/** mulberry32 values in [-1, 1). */
function randomFloats(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    out[i] = (((x ^ (x >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

const F32: KernelBuffer['dtype'] = 'float32';

/**
 * The stored operands and the spec for a shape with an epilogue (SYRK: none). A stored [b, m, k] (or [b, k, m]
 * transA), B [b, k, n] (or [b, n, k] transB); an epilogue's bias is in2 [n].
 */
function build(s: Shape, epilogue: EpilogueChoice): { aLen: number; bLen: number; matmul: MatmulSpec | null; syrk: SyrkSpec | null } {
  const { batch, m, n, k } = s;
  const bias = !s.syrk && epilogue !== 'none';
  const buffers: KernelBuffer[] = [
    { name: 'in0', dtype: F32, access: 'read' },
    ...(s.syrk ? [] : [{ name: 'in1', dtype: F32, access: 'read' } as const]),
    ...(bias ? [{ name: 'in2', dtype: F32, access: 'read' } as const] : []),
    { name: 'out', dtype: F32, access: 'read_write' },
  ];
  const batchShape = batch > 1 ? [batch] : [];
  const bs = (x: number) => (batch > 1 ? [x] : []);
  const store = { buffer: 'out', access: { offset: 0, strides: [...bs(m * n), n, 1] } };
  if (s.syrk) {
    // x stored [k, n]; syrk {transA} is X = x^T: rows of X along x's columns.
    return { aLen: batch * k * n, bLen: 0, matmul: null, syrk: { dtype: 'float32', batch: batchShape, n, k, x: { buffer: 'in0', offset: 0, batchStrides: bs(k * n), rowStride: 1, colStride: n }, buffers, store } };
  }
  const a = s.transA ? { rowStride: 1, colStride: m } : { rowStride: k, colStride: 1 };
  const b = s.transB ? { rowStride: 1, colStride: k } : { rowStride: n, colStride: 1 };
  const steps: ExprStep[] = [
    { kind: 'value', name: 'acc', dtype: F32 },
    { kind: 'load', buffer: 'in2', dtype: F32, access: { offset: 0, strides: [...bs(0), 0, 1] } },
    { kind: 'op', op: 'add', args: [0, 1], attrs: {}, dtype: F32 },
    ...(epilogue === 'bias-gelu' || epilogue === 'bias-relu' ? [{ kind: 'op', op: epilogue === 'bias-gelu' ? 'gelu' : 'relu', args: [2], attrs: {}, dtype: F32 } as const] : []),
  ];
  return {
    aLen: batch * m * k,
    bLen: batch * k * n,
    syrk: null,
    matmul: {
      dtype: 'float32',
      batch: batchShape,
      m,
      n,
      k,
      a: { buffer: 'in0', offset: 0, batchStrides: bs(m * k), ...a },
      b: { buffer: 'in1', offset: 0, batchStrides: bs(k * n), ...b },
      ...(bias ? { epilogue: { expr: { steps }, step: steps.length - 1 } } : {}),
      buffers,
      store,
    },
  };
}

const U = 2 ** -24;
const gelu = (x: number) => 0.5 * x * (1 + Math.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));

type Ref = { at: number; want: number; tol: number };

/** 256 sampled outputs recomputed in float64 with the epilogue (bias: required unless 'none'), with the worst-case float32 bound of each. */
function reference(s: Shape, A: Float32Array, B: Float32Array, bias: Float32Array | null, count: number, epilogue: EpilogueChoice): Ref[] {
  const { batch, m, n, k } = s;
  const out: Ref[] = [];
  const rnd = randomFloats(count * 3, 99);
  const gammaK = (k * U) / (1 - k * U);
  for (let q = 0; q < count; q++) {
    const bz = Math.floor(((rnd[3 * q] + 1) / 2) * batch);
    const row = Math.floor(((rnd[3 * q + 1] + 1) / 2) * m);
    const col = Math.floor(((rnd[3 * q + 2] + 1) / 2) * n);
    let acc = 0;
    let abs = 0;
    for (let p = 0; p < k; p++) {
      let x: number;
      let y: number;
      if (s.syrk) {
        x = A[bz * k * n + p * n + row];
        y = A[bz * k * n + p * n + col];
      } else {
        x = s.transA ? A[bz * m * k + p * m + row] : A[bz * m * k + row * k + p];
        y = s.transB ? B[bz * k * n + col * k + p] : B[bz * k * n + p * n + col];
      }
      acc += x * y;
      abs += Math.abs(x * y);
    }
    let tol = (gammaK + U) * abs * 1.001 + 1e-30;
    let want = acc;
    if (epilogue !== 'none' && !s.syrk) {
      const v = acc + bias![col];
      if (epilogue === 'bias-gelu') {
        want = gelu(v);
        // gelu' <= 1.13; the add, tanh (WGSL: 2^-11 absolute inside tanh) and the products: a generous 1e-5 |v| + 1e-6.
        tol = 1.2 * tol + 1e-5 * Math.abs(v) + 1e-6;
      } else {
        // The float32 add rounds once (u |v|, over the computed sum); relu is exact and 1-Lipschitz.
        want = epilogue === 'bias-relu' ? Math.max(v, 0) : v;
        tol = tol * (1 + U) + U * Math.abs(v) * 1.001 + 1e-30;
      }
    }
    out.push({ at: bz * m * n + row * n + col, want, tol });
  }
  return out;
}

interface Row {
  shape: string;
  variant: string;
  chosen: string;
  dispatches: number;
  ms: number | null;
  min: number | null;
  tflops: number | null;
  /** Worst round's median over the best one. */
  spread?: number;
  check: string;
  device: string;
  /** A variant's own epilogue (`--set epilogue`): its label without the suffix and the epilogue. */
  epilogue?: { base: string; epilogue: EpilogueChoice };
}

/** The GPU objects stay referenced for the whole run (Dawn's instance must outlive its devices). */
const instances: GPU[] = [];

async function openDevice(flags: string[]): Promise<{ device: GPUDevice; name: string; info: string }> {
  const gpu = create(flags);
  instances.push(gpu);
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('gemm-sweep: no WebGPU adapter');
  const names = ['maxStorageBuffersPerShaderStage', 'maxBufferSize', 'maxStorageBufferBindingSize', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY', 'maxComputeWorkgroupsPerDimension'] as const;
  const requiredLimits: Record<string, number> = {};
  for (const x of names) requiredLimits[x] = adapter.limits[x];
  const requiredFeatures = (['timestamp-query', 'subgroups'] as GPUFeatureName[]).filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  device.addEventListener('uncapturederror', (e) => console.error('gemm-sweep: uncaptured', (e as GPUUncapturedErrorEvent).error.message));
  const i = adapter.info;
  const name = /[a-z]{3}/i.test(i.device ?? '') ? i.device : i.description || 'unknown';
  return { device, name, info: `${name} (${i.vendor}, ${i.architecture}, ${i.description}); workgroup storage ${device.limits.maxComputeWorkgroupStorageSize}, features ${[...device.features].sort().join(',')}` };
}

const BASE_FLAGS = ['enable-dawn-features=disable_workgroup_init', 'disable-dawn-features=timestamp_quantization'];

interface Entry {
  readonly row: Row;
  readonly dev: GPUDevice;
  readonly steps: { pipeline: GPUComputePipeline; group: GPUBindGroup; workgroups: [number, number, number] }[];
  readonly temps: GPUBuffer[];
  medians: number[];
  mins: number[];
}

/** Encodes `count` runs of an entry, each its own compute pass (timestamped at its start and end with `qs`). */
function encodeRuns(e: Entry, count: number, qs: GPUQuerySet | null): GPUCommandEncoder {
  const enc = e.dev.createCommandEncoder();
  for (let r = 0; r < count; r++) {
    const pass = enc.beginComputePass(qs ? { timestampWrites: { querySet: qs, beginningOfPassWriteIndex: 2 * r, endOfPassWriteIndex: 2 * r + 1 } } : {});
    for (const st of e.steps) {
      pass.setPipeline(st.pipeline);
      pass.setBindGroup(0, st.group);
      pass.dispatchWorkgroups(...st.workgroups);
    }
    pass.end();
  }
  return enc;
}

/** Runs an entry `reps` times in one submit; the per-run GPU ms from timestamps. */
async function timeRuns(e: Entry, reps: number): Promise<number[]> {
  const dev = e.dev;
  const qs = dev.createQuerySet({ type: 'timestamp', count: 2 * reps });
  const resolve = dev.createBuffer({ size: 16 * reps, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  const read = dev.createBuffer({ size: 16 * reps, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const enc = encodeRuns(e, reps, qs);
  enc.resolveQuerySet(qs, 0, 2 * reps, resolve, 0);
  enc.copyBufferToBuffer(resolve, 0, read, 0, 16 * reps);
  dev.queue.submit([enc.finish()]);
  await read.mapAsync(GPUMapMode.READ);
  const ts = new BigUint64Array(read.getMappedRange().slice(0));
  read.unmap();
  [qs, resolve, read].forEach((x) => x.destroy());
  return Array.from({ length: reps }, (_, r) => Number(ts[2 * r + 1] - ts[2 * r]) / 1e6);
}

/** Keeps the GPU busy with `e` for at least `ms` of wall time (clocks leave their idle state). */
async function spin(e: Entry, ms: number, perRun: number): Promise<void> {
  const until = performance.now() + ms;
  const batch = Math.max(1, Math.min(500, Math.ceil(20 / Math.max(perRun, 0.005))));
  while (performance.now() < until) {
    e.dev.queue.submit([encodeRuns(e, batch, null).finish()]);
    await e.dev.queue.onSubmittedWorkDone();
  }
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const { device, name, info } = await openDevice(BASE_FLAGS);
  console.log(`gemm-sweep: ${info}`);
  const unsafe = args.robustness ? await openDevice(['enable-dawn-features=disable_workgroup_init,disable_robustness,allow_unsafe_apis', 'disable-dawn-features=timestamp_quantization']).catch((e) => (console.log(`gemm-sweep: no device without robustness: ${e}`), null)) : null;
  const rows: Row[] = [];
  let failed = false;
  const log = (line: string) => {
    console.log(line);
    // What a killed run leaves under --out: every line so far.
    if (args.out) {
      mkdirSync(args.out, { recursive: true });
      appendFileSync(join(args.out, 'gemm-sweep.log'), `${line}\n`);
    }
  };
  for (const s of shapes(args.smoke, args.set)) {
    if (args.only && !args.only.test(s.id)) continue;
    if ((Date.now() - started) / 1000 > args.maxSeconds) {
      log(`${s.id}: skipped (time)`);
      continue;
    }
    const flops = (2 * s.batch * s.m * s.n * s.k) / (s.syrk ? 2 : 1);
    const variants = variantsFor(s, args.smoke, args.set);
    // Each variant's epilogue (its own, else the shape's); the spec and the reference per distinct one.
    const epilogueOf = (v: Variant): EpilogueChoice => (s.syrk ? 'none' : (v.epilogue ?? s.epilogue ?? 'none'));
    const epilogues = [...new Set(variants.map(epilogueOf))];
    const specs = new Map(epilogues.map((e) => [e, build(s, e)]));
    const built = specs.get(epilogues[0])!;
    const A = randomFloats(built.aLen, 1);
    const B = built.bLen ? randomFloats(built.bLen, 2) : new Float32Array(4);
    const bias = epilogues.some((e) => e !== 'none') ? randomFloats(s.n, 3) : null;
    const refs = new Map(epilogues.map((e) => [e, reference(s, A, B, bias, 256, e)]));
    const outLen = s.batch * s.m * s.n;
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
    const devices = [{ dev: device, tag: '', list: variants }, ...(unsafe && !args.smoke ? [{ dev: unsafe.device, tag: ' [no robustness]', list: variants.slice(0, 4) }] : [])];
    const entries: (Entry & { refs: Ref[] })[] = [];
    const owned: GPUBuffer[] = [];
    const outs = new Map<GPUDevice, GPUBuffer>();
    log(`${s.id}: start ${new Date().toISOString()}`);
    // Compile everything first: no compile gaps (idle GPU, falling clocks) between timed runs.
    for (const { dev, tag, list } of devices) {
      const buf = (data: Float32Array | number) => {
        const b = dev.createBuffer({ size: Math.max(16, (typeof data === 'number' ? data : data.length) * 4), usage });
        if (typeof data !== 'number') dev.queue.writeBuffer(b, 0, data as Float32Array<ArrayBuffer>);
        owned.push(b);
        return b;
      };
      const buffers = new Map<string, GPUBuffer>([['in0', buf(A)], ['out', buf(outLen)]]);
      outs.set(dev, buffers.get('out')!);
      if (built.bLen) buffers.set('in1', buf(B));
      if (bias) buffers.set('in2', buf(bias));
      for (const v of list) {
        const row: Row = { shape: s.id, variant: v.label + tag, chosen: '', dispatches: 0, ms: null, min: null, tflops: null, check: '', device: name };
        const epilogue = epilogueOf(v);
        if (v.epilogue) row.epilogue = { base: v.label.replace(/ \+[a-z-]+$/, '') + tag, epilogue };
        rows.push(row);
        try {
          const spec = specs.get(epilogue)!;
          const program: GemmProgram = spec.syrk ? planSyrk(spec.syrk, (v.options ?? {}) as never) : planMatmul(spec.matmul!, (v.options ?? {}) as never);
          row.chosen = `${program.variant}: ${program.dispatches.map((d) => d.label).join(' + ')}`;
          row.dispatches = program.dispatches.length;
          const temps = program.temps.map((x) => dev.createBuffer({ size: Math.max(16, x.size * 4), usage }));
          const named = new Map(buffers);
          program.temps.forEach((x, i) => named.set(x.name, temps[i]));
          dev.pushErrorScope('validation');
          const steps: Entry['steps'] = [];
          for (const d of program.dispatches) {
            const module = dev.createShaderModule({ code: d.kernel.wgsl });
            const msgs = (await module.getCompilationInfo()).messages.filter((x) => x.type === 'error');
            if (msgs.length) throw new Error(`WGSL: ${msgs.map((x) => `${x.lineNum}: ${x.message}`).join('; ')}`);
            const pipeline = await dev.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: d.kernel.entryPoint } });
            const group = dev.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: d.buffers.map((b, i) => ({ binding: i, resource: { buffer: named.get(b.name)! } })) });
            steps.push({ pipeline, group, workgroups: d.kernel.workgroups });
          }
          const err = await dev.popErrorScope();
          if (err) throw new Error(err.message);
          entries.push({ row, dev, steps, temps, medians: [], mins: [], refs: refs.get(epilogue)! });
        } catch (e) {
          row.check = `ERROR ${(e as Error).message.split('\n')[0].slice(0, 160)}`;
          failed = true;
        }
      }
    }
    if (entries.length === 0) continue;
    // Per-run estimate, then at least 400 ms of the first entry so the clocks are up.
    const probe = await timeRuns(entries[0], 3);
    const perRun = median(probe);
    await spin(entries[0], args.smoke ? 50 : 400, perRun);
    const poison = new Float32Array(outLen).fill(NaN);
    const rounds = args.smoke ? 1 : 3;
    for (let round = 0; round < rounds; round++) {
      for (const e of entries) {
        const check = round === 0;
        if (check) e.dev.queue.writeBuffer(outs.get(e.dev)!, 0, poison);
        // A short warm-up of this entry (at least 2 runs, about 20 ms of GPU work), then the timed runs.
        const warm = Math.max(2, Math.min(400, Math.ceil(20 / Math.max(perRun, 0.005))));
        e.dev.queue.submit([encodeRuns(e, warm, null).finish()]);
        const times = await timeRuns(e, args.reps);
        e.medians.push(median(times));
        e.mins.push(Math.min(...times));
        if (check) {
          const outRead = e.dev.createBuffer({ size: outLen * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
          const enc = e.dev.createCommandEncoder();
          enc.copyBufferToBuffer(outs.get(e.dev)!, 0, outRead, 0, outLen * 4);
          e.dev.queue.submit([enc.finish()]);
          await outRead.mapAsync(GPUMapMode.READ);
          const got = new Float32Array(outRead.getMappedRange().slice(0));
          outRead.unmap();
          outRead.destroy();
          let nan = 0;
          for (let i = 0; i < got.length; i++) if (!(got[i] === got[i])) nan++;
          let bad = 0;
          let worst = 0;
          for (const r of e.refs) {
            const err = Math.abs(got[r.at] - r.want);
            worst = Math.max(worst, err / r.tol);
            if (!(err <= r.tol)) bad++;
          }
          e.row.check = nan || bad ? `FAIL (${nan} NaN, ${bad}/${e.refs.length} off)` : `ok (${(worst * 100).toFixed(1)}% of bound)`;
          if (nan || bad) failed = true;
        }
      }
    }
    for (const e of entries) {
      const row = e.row;
      row.ms = Math.min(...e.medians);
      row.min = Math.min(...e.mins);
      row.tflops = flops / (row.ms * 1e9);
      row.spread = Math.max(...e.medians) / row.ms;
      log(`${row.shape.padEnd(24)} ${row.variant.padEnd(46)} ${row.ms.toFixed(4).padStart(9)} ms ${row.tflops.toFixed(2).padStart(6)} TFLOP/s rounds ${e.medians.map((x) => x.toFixed(3)).join('/')} ${row.check}  [${row.chosen}]`);
      e.temps.forEach((x) => x.destroy());
    }
    for (const r of rows.filter((x) => x.shape === s.id && x.check.startsWith('ERROR'))) log(`${r.shape.padEnd(24)} ${r.variant.padEnd(46)} ${r.check}`);
    owned.forEach((b) => b.destroy());
    log(`${s.id}: end ${new Date().toISOString()}`);
  }
  let torch: Record<string, number> = {};
  if (args.torch) torch = torchTimes(shapes(args.smoke, args.set).filter((s) => !args.only || args.only.test(s.id)));
  const best = new Map<string, Row>();
  for (const r of rows) if (r.ms !== null && r.check.startsWith('ok') && !r.variant.includes('[no robustness]') && (!best.has(r.shape) || r.ms < best.get(r.shape)!.ms!)) best.set(r.shape, r);
  const lines = [
    `# GEMM sweep: ${name}`,
    '',
    `${new Date().toISOString()}; ${info}. GPU ms: per configuration, 3 rounds (all configurations of a shape interleaved, after 400 ms of warm-up), each the median of ${args.reps} timestamped runs; the table gives the best round, "spread" the worst round over it. TFLOP/s counts 2mnk (syrk: mnk).${args.torch ? ' cuBLAS: torch.matmul (TF32 off; the gelu row: addmm + gelu), CUDA events, median of 20, same machine.' : ''}`,
    '',
    '| shape | variant | GPU ms | spread | TFLOP/s | of cuBLAS | dispatches | check |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |',
    ...rows.map((r) => {
      const lim = torch[r.shape];
      const share = lim && r.ms ? `${((lim / r.ms) * 100).toFixed(0)}%` : '-';
      const mark = best.get(r.shape) === r ? ' **best**' : '';
      return `| ${r.shape} | ${r.variant}${mark} | ${r.ms?.toFixed(4) ?? '-'} | ${r.spread?.toFixed(2) ?? '-'} | ${r.tflops?.toFixed(2) ?? '-'} | ${share} | ${r.dispatches} | ${r.check} |`;
    }),
    '',
    ...(args.torch ? ['cuBLAS (torch.matmul, TF32 off) ms: ' + Object.entries(torch).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(', '), ''] : []),
    '## Best per shape',
    '',
    '| shape | best variant | GPU ms | TFLOP/s | of cuBLAS | default variant | default ms | default of cuBLAS |',
    '| --- | --- | ---: | ---: | ---: | --- | ---: | ---: |',
    ...[...best.values()].map((r) => {
      const d = rows.find((x) => x.shape === r.shape && x.variant === 'default');
      const lim = torch[r.shape];
      const pct = (ms: number | null | undefined) => (lim && ms ? `${((lim / ms) * 100).toFixed(0)}%` : '-');
      return `| ${r.shape} | ${r.variant} | ${r.ms!.toFixed(4)} | ${r.tflops!.toFixed(2)} | ${pct(r.ms)} | ${d?.chosen.split(':')[0] ?? '-'} | ${d?.ms?.toFixed(4) ?? '-'} | ${pct(d?.ms)} |`;
    }),
    ...epilogueTable(rows),
    ...layoutTable(rows, torch),
  ];
  const md = lines.join('\n') + '\n';
  if (args.out) {
    mkdirSync(args.out, { recursive: true });
    writeFileSync(join(args.out, 'gemm-sweep.md'), md);
    writeFileSync(join(args.out, 'gemm-sweep.json'), JSON.stringify({ device: info, torch, rows }, null, 1));
  }
  console.log('\n' + lines.slice(lines.indexOf('## Best per shape')).join('\n'));
  console.log(`gemm-sweep: ${rows.length} rows in ${((Date.now() - started) / 1000).toFixed(0)} s; ${failed ? 'SOME CHECKS FAILED' : 'all checks passed'}`);
  device.destroy();
  unsafe?.device.destroy();
  return failed ? 1 : 0;
}

/**
 * With variants of their own epilogue (`--set epilogue`): per shape and tile, the time with no epilogue and
 * each epilogue's against it (same shape, same interleaved rounds). No lines otherwise.
 */
function epilogueTable(rows: Row[]): string[] {
  const tagged = rows.filter((r) => r.epilogue);
  if (tagged.length === 0) return [];
  const kinds: EpilogueChoice[] = ['bias', 'bias-relu', 'bias-gelu'];
  const groups = new Map<string, Map<EpilogueChoice, Row>>();
  for (const r of tagged) {
    const key = `${r.shape} | ${r.epilogue!.base}`;
    if (!groups.has(key)) groups.set(key, new Map());
    groups.get(key)!.set(r.epilogue!.epilogue, r);
  }
  const ok = (r: Row | undefined) => (r && r.ms !== null && r.check.startsWith('ok') ? r.ms : null);
  return [
    '',
    '## Epilogue cost',
    '',
    'Per shape and tile: GPU ms with no epilogue, and with each epilogue (its change against none; same shape, same interleaved rounds). "-": not run or not ok.',
    '',
    '| shape | tile | none ms | +bias | +bias-relu | +bias-gelu |',
    '| --- | --- | ---: | ---: | ---: | ---: |',
    ...[...groups].map(([key, by]) => {
      const none = ok(by.get('none'));
      const cells = kinds.map((k) => {
        const ms = ok(by.get(k));
        if (ms === null) return '-';
        return none === null ? ms.toFixed(4) : `${ms.toFixed(4)} (${ms >= none ? '+' : ''}${(((ms - none) / none) * 100).toFixed(1)}%)`;
      });
      return `| ${key} | ${none?.toFixed(4) ?? '-'} | ${cells.join(' | ')} |`;
    }),
  ];
}

/**
 * Where a product ran in more than one layout (`--set transposes`): per product and variant, the plain
 * layout's time and each transposed layout's against it, and cuBLAS's the same way. No lines otherwise.
 */
function layoutTable(rows: Row[], torch: Record<string, number>): string[] {
  const LAYOUTS = ['', '-tA', '-tB', '-tA-tB'];
  const baseOf = (shape: string) => shape.replace(/(-tA)?(-tB)?$/, '');
  // Products that ran in two layouts or more.
  const bases = [...new Set(rows.map((r) => baseOf(r.shape)))].filter((b) => new Set(rows.filter((r) => baseOf(r.shape) === b).map((r) => r.shape)).size > 1);
  if (bases.length === 0) return [];
  const ok = (r: Row | undefined) => (r && r.ms !== null && r.check.startsWith('ok') ? r.ms : null);
  const cell = (ms: number | null | undefined, plain: number | null | undefined) =>
    ms == null ? '-' : plain == null ? ms.toFixed(4) : `${ms.toFixed(4)} (${ms >= plain ? '+' : ''}${(((ms - plain) / plain) * 100).toFixed(1)}%)`;
  const lines: string[] = [];
  for (const b of bases) {
    const variants = [...new Set(rows.filter((r) => baseOf(r.shape) === b).map((r) => r.variant))];
    for (const v of variants) {
      const ms = LAYOUTS.map((l) => ok(rows.find((r) => r.shape === b + l && r.variant === v)));
      lines.push(`| ${b} | ${v} | ${LAYOUTS.map((_, i) => cell(ms[i], i === 0 ? null : ms[0])).join(' | ')} |`);
    }
    if (LAYOUTS.some((l) => torch[b + l] !== undefined)) {
      const ms = LAYOUTS.map((l) => torch[b + l]);
      lines.push(`| ${b} | cuBLAS | ${LAYOUTS.map((_, i) => cell(ms[i], i === 0 ? null : ms[0])).join(' | ')} |`);
    }
  }
  return [
    '',
    '## Transposed operands',
    '',
    'Per product and variant: GPU ms in the plain layout (x @ w), and each transposed layout against it (x.T @ w, x @ w.T, x.T @ w.T; each layout its own rounds). "-": not run or not ok.',
    '',
    '| product | variant | plain ms | -tA | -tB | -tA-tB |',
    '| --- | --- | ---: | ---: | ---: | ---: |',
    ...lines,
  ];
}

/** cuBLAS times (ms) per shape through torch.matmul with TF32 off, CUDA events, median of 20. */
function torchTimes(list: Shape[]): Record<string, number> {
  const py = `
import json, sys, torch
torch.backends.cuda.matmul.allow_tf32 = False
out = {}
for s in json.loads(sys.argv[1]):
    b, m, n, k = s["batch"], s["m"], s["n"], s["k"]
    if s.get("syrk"):
        x = torch.rand(k, n, device="cuda") * 2 - 1
        f = lambda: x.T @ x
    else:
        a = torch.rand(b, k, m, device="cuda").transpose(1, 2) if s.get("transA") else torch.rand(b, m, k, device="cuda")
        w = torch.rand(b, n, k, device="cuda").transpose(1, 2) if s.get("transB") else torch.rand(b, k, n, device="cuda")
        if b == 1:
            a, w = a[0], w[0]
        ep = s.get("epilogue")
        if ep:
            bias = torch.rand(n, device="cuda")
            act = {"bias": lambda y: y, "bias-relu": torch.relu, "bias-gelu": lambda y: torch.nn.functional.gelu(y, approximate="tanh")}[ep]
            f = lambda: act(torch.addmm(bias, a, w))
        else:
            f = lambda: a @ w
    for _ in range(3): f()
    torch.cuda.synchronize()
    ts = []
    for _ in range(20):
        e0 = torch.cuda.Event(enable_timing=True); e1 = torch.cuda.Event(enable_timing=True)
        e0.record(); f(); e1.record(); torch.cuda.synchronize()
        ts.append(e0.elapsed_time(e1))
    ts.sort()
    out[s["id"]] = ts[len(ts) // 2]
print(json.dumps(out))
`;
  try {
    const text = execFileSync('python3', ['-c', py, JSON.stringify(list)], { encoding: 'utf8', maxBuffer: 1 << 20, timeout: 120_000 });
    const parsed = JSON.parse(text.trim().split('\n').pop()!);
    console.log(`gemm-sweep: cuBLAS ${JSON.stringify(parsed)}`);
    return parsed;
  } catch (e) {
    console.log(`gemm-sweep: torch timing failed: ${(e as Error).message.split('\n')[0]}`);
    return {};
  }
}

process.exit(await main());
