// The symmetric product C[...batch, n, n] = X @ X^T of one strided operand X (logical [n, k]; the syrk op's
// transA flag, x^T @ x, is X = x^T, i.e. swapped strides), with an optional elementwise epilogue.
//
// C is symmetric, so only the part on and below the diagonal is computed: each element C(i, j) with i >= j
// is one dot product, stored at (i, j) and, when i != j, at (j, i). Every output element is written exactly
// once, by the one thread that computes it: (i, j) and (j, i) for i > j, (i, i) on the diagonal; a thread
// whose position lies above the diagonal (only possible inside a diagonal tile) computes but stores nothing.
// Roughly half the multiply-adds of the general matmul, and the same number of stores.
//
// The epilogue is evaluated separately at each stored position with that position's own coordinates: at
// (i, j) and again at (j, i), both from the same `acc`. So an epilogue that loads by position (a bias along
// the columns, a residual) is correct on both sides of the diagonal; only `acc` is shared. This is why the
// epilogue must be elementwise (an Expr over the [...batch, n, n] space with a `value` step named 'acc').
//
// Variants, on matmul's helpers (src/shaders/matmul.ts, gemm-tiled.ts):
// - tiled: the GEMM core (gemm-tiled.ts) with X as both operands (the right factor X^T is X read by rows),
//   launching only the T (T + 1) / 2 tiles on and below the diagonal (T = ceil(n / bm) tiles per side):
//   workgroup t of a matrix takes row tile rt and column tile ct <= rt with t = rt (rt + 1) / 2 + ct.
//   Tiles load vec4 along X's stride-1 axis where aligned, as in matmul.
// - split K (planSyrk): for few tiles and a long K (a covariance of d = 512 features over 80,000 samples
//   has 10 tiles of 128), each of `splits` K ranges writes its tiles' partial sums to a temporary; a combine
//   dispatch adds them per output (reading the lower-triangle sum for both (i, j) and (j, i), so the result
//   is exactly symmetric), runs the epilogue and stores every element once, coalesced. The tile is GEMM's
//   LARGE_VEC4 where X loads as vec4, SPLIT otherwise (the fallback planMatmul uses: tileForLoads); for
//   matrices that 128-wide tiles cover with more than 10% out of bounds (n up to 116, 129 to 232, ...),
//   and for those of up to 10 tiles of 128 (n <= 512) over a K long enough to split, GEMM's narrow 64x64
//   tile split to about 32k threads (MEDIUM where X loads scalars). H100 (gemm-sweep --set syrk-narrow and
//   syrk-wide): 64 x 80000 0.0843 ms against 0.218 for LARGE_VEC4 over 64 ranges, 96 x 80000 0.093 against
//   0.219, 100 x 20000 0.038 against 0.074, 64 x 2000 0.029 against 0.029-0.036, 512 x 20000 0.173 against
//   0.205 (SYRK_NARROW_MAX_LARGE_TILES).
// - direct: one thread per element of the lower triangle, n (n + 1) / 2 per matrix, numbered the same way,
//   a plain dot product from global memory; for small matrices with a short K, and empty outputs.
// The triangle index is inverted with a float square root and then corrected by exact integer steps
// (wg_tri_row), so it is right for every index a u32-indexed tensor can have.
//
// Without split K the mirrored stores (j, i) walk a column: consecutive threads write addresses n apart.
//
// float32 accumulates in f32, int32 in i32 (wrapping exactly as the CPU reference).
import { sizeOf, type Shape } from '../ir/shape.js';
import { bufferDecls, coordsOf, type GeneratedKernel, type KernelBuffer } from './elementwise.js';
import type { Access, Coords, Expr } from './expr.js';
import { describeLoads, generateTiledCore, tileConfigError, tileName, type CoreOperand, type TileConfig } from './gemm-tiled.js';
import { grid1d, MAX_WORKGROUPS_PER_DIM } from './grid.js';
import { prologueFunction } from './prologue.js';
import {
  batchTerms,
  checkEpilogue,
  checkOperand,
  checkOperandBinding,
  describeOperand,
  DIRECT_MAX_K,
  DIRECT_MAX_OUTPUTS,
  DIRECT_WORKGROUP,
  directMain,
  emitOutput,
  epilogueLoads,
  FILL_WORKGROUPS,
  generateCombine,
  loaderModule,
  operandBuffers,
  operandLoads,
  productModule,
  PARTIAL_BUFFER,
  plus,
  pruneLets,
  splitK,
  splitsFor,
  storeFunction,
  sum,
  TILE_LARGE,
  TILE_LARGE_VEC4,
  TILE_MEDIUM,
  TILE_NARROW,
  narrowSplits,
  tileForLoads,
  wastesTile,
  tileLanes,
  vec4Bindings,
  zero,
  type GemmProgram,
  type MatrixOperand,
} from './matmul.js';
import { indent, VALUE_TYPE } from './wgsl.js';

export interface SyrkSpec {
  readonly dtype: 'float32' | 'int32';
  /** Batch shape of X and of the output (may be []). */
  readonly batch: Shape;
  /** The output is [...batch, n, n]. */
  readonly n: number;
  readonly k: number;
  /** Logical [n, k]; the result is X @ X^T. A transA flag or a transposed view is swapped strides. */
  readonly x: MatrixOperand;
  /**
   * Optional epilogue over the index space [...batch, n, n]: an Expr with a `value` step named 'acc';
   * `step` is what is stored. Evaluated at (i, j) and at (j, i) with each position's coordinates.
   */
  readonly epilogue?: { readonly expr: Expr; readonly step: number };
  /** Buffers in binding order; the operand, epilogue loads and the store name them. */
  readonly buffers: readonly KernelBuffer[];
  /** Where the [...batch, n, n] result goes. */
  readonly store: { readonly buffer: string; readonly access: Access };
}

export type SyrkVariant = 'tiled' | 'direct';

export interface SyrkOptions {
  /** Forces a variant (tests); by default chooseSyrk picks one from the shape. */
  readonly variant?: SyrkVariant;
  /** The tiled variant's geometry (square tiles: bm = bn). */
  readonly tile?: TileConfig;
  /** K ranges of the tiled variant (planSyrk only; generateSyrk always uses one). */
  readonly splitK?: number;
  /** The grid limit per dimension; tests lower it to exercise grid folding. */
  readonly maxWorkgroupsPerDim?: number;
  /** Workgroup memory the device grants (bytes). */
  readonly workgroupStorage?: number;
}

/** Names the generated WGSL declares; a buffer with one of these names would be shadowed. */
const RESERVED =
  /^(N|K|TRI|TOTAL|M|main|wid|nwg|tid|lid|w|t|e|x|s|rt|ct|row0|col0|bz|ks|kbeg|kend|k0|k1|stage|tx|ty|r0|c0|kk|gx|gk|at|base|base_a|base_b|sums|i|j|r|c|acc|o|row|col|p|pa|pb|val|tile_a|tile_b|f[ab]\d+|[abcv]\d+|c\d+_\d+|[bv]\d+|q\d+|wg_\w*)$/;

/**
 * WGSL: the row of element t of a lower triangle numbered row by row (row r holds r + 1 elements, so row r
 * starts at r (r + 1) / 2): the largest r with r (r + 1) / 2 <= t. The f32 estimate is within one of it;
 * the loops make it exact. Valid for t < 2^30, where (r + 1) (r + 2) stays below 2^32: a u32-indexed
 * n x n output has n <= 46340, so its triangle index stays below 1.08e9 < 2^30.
 */
export const TRI_ROW_HELPER = `fn wg_tri_row(t: u32) -> u32 {
  var r = u32(max((sqrt(8.0 * f32(t) + 1.0) - 1.0) * 0.5, 0.0));
  while (r > 0u && r * (r + 1u) / 2u > t) { r -= 1u; }
  while ((r + 1u) * (r + 2u) / 2u <= t) { r += 1u; }
  return r;
}`;

export interface SyrkChoice {
  readonly variant: SyrkVariant;
  readonly tile: TileConfig;
  readonly splitK: number;
}

/**
 * The most 128-wide lower-triangle tiles (all matrices of a batch) for which a SYRK with a long K takes the
 * narrow 64x64 tile instead of LARGE_VEC4 over K ranges: 10 is one matrix of 512 features (36 narrow tiles).
 * H100, GPU ms of both dispatches (gemm-sweep --set syrk-wide, bench/results/nvidia-h100-80gb-hbm3/
 * gemm-sweep-syrk-wide-2026-11-25-stop20/): 256 x 20000 0.069 against 0.114, 256 x 80000 0.183 against 0.280,
 * 384 x 20000 0.115 against 0.158, 384 x 80000 0.347 against 0.385, 512 x 20000 0.173 against 0.205, 512 x
 * 80000 0.573 against 0.621; at 1024 features (36 large tiles) it lost, 0.711 against 0.570. Only at the
 * narrowSplits count: one wave of about 512 workgroups (at 512 features 16 ranges took 0.212 and 0.719).
 */
export const SYRK_NARROW_MAX_LARGE_TILES = 10;

/**
 * The default kernel and geometry for a shape: direct for small matrices with a short K, else tiled (split K
 * where tiles are few). From the layout alone: planSyrk replaces LARGE_VEC4 by SPLIT where X does not load as
 * vec4, and the narrow tile by MEDIUM (tileForLoads in matmul.ts).
 */
export function chooseSyrk(spec: Pick<SyrkSpec, 'batch' | 'n' | 'k'>): SyrkChoice {
  const { n, k } = spec;
  const batches = sizeOf(spec.batch);
  if (batches * n === 0 || (n * n <= DIRECT_MAX_OUTPUTS && k <= DIRECT_MAX_K)) return { variant: 'direct', tile: TILE_LARGE, splitK: 1 };
  // As matmul's choice (chooseMatmul), counting only the tiles on and below the diagonal. Without split K the
  // first-round kernel (LARGE) is the best measured on SYRK (4096 x 4096: 1.509 ms, LARGE_VEC4 1.532,
  // LARGE_PAIRS 1.605); with split K, LARGE_VEC4 (512 x 80000, 26 ranges: 0.615 ms, SPLIT 0.670, LARGE_PAIRS
  // 0.683; bench/results/nvidia-h100-80gb-hbm3/gemm-sweep-2026-11-24-run2.md).
  // The 64x64 narrow tile, split K to about 32k threads (as matmul's narrow outputs), where 128-wide tiles
  // cover the matrix with more than 10% out of bounds (n = 64: three quarters of the one tile), and where a
  // long K over few 128-wide tiles would be split (up to SYRK_NARROW_MAX_LARGE_TILES: n <= 512), the finer
  // triangle then wastes less of its diagonal tiles (see the constant).
  const large = batches * syrkTilesPerMatrix(n, TILE_LARGE.bm);
  const narrowSplit = narrowSplits(batches * syrkTilesPerMatrix(n, TILE_NARROW.bm), TILE_NARROW, k);
  if (wastesTile(n) || (large <= SYRK_NARROW_MAX_LARGE_TILES && narrowSplit > 1)) return { variant: 'tiled', tile: TILE_NARROW, splitK: narrowSplit };
  if (large >= FILL_WORKGROUPS / 2) return { variant: 'tiled', tile: TILE_LARGE, splitK: 1 };
  const split = splitsFor(large, k, TILE_LARGE_VEC4.bk);
  if (split > 1) return { variant: 'tiled', tile: TILE_LARGE_VEC4, splitK: split };
  const medium = batches * syrkTilesPerMatrix(n, TILE_MEDIUM.bm);
  return { variant: 'tiled', tile: TILE_MEDIUM, splitK: splitsFor(medium, k, TILE_MEDIUM.bk) };
}

export function chooseSyrkVariant(spec: Pick<SyrkSpec, 'batch' | 'n'> & { k?: number }): SyrkVariant {
  return chooseSyrk({ ...spec, k: spec.k ?? 0 }).variant;
}

/** One dispatch: the product with one K range (split K is planSyrk's). */
export function generateSyrk(spec: SyrkSpec, options: SyrkOptions = {}): GeneratedKernel {
  return planSyrk(spec, { ...options, splitK: 1 }).dispatches[0].kernel;
}

export function planSyrk(spec: SyrkSpec, options: SyrkOptions = {}): GemmProgram {
  checkSpec(spec);
  const chosen = chooseSyrk(spec);
  const empty = sizeOf(spec.batch) * spec.n === 0;
  const variant = empty ? 'direct' : (options.variant ?? chosen.variant);
  const maxPerDim = options.maxWorkgroupsPerDim ?? MAX_WORKGROUPS_PER_DIM;
  if (spec.x.prologue && variant !== 'tiled') throw new Error(`internal: syrk [${spec.n} x ${spec.k}]: an operand prologue needs the tiled variant, not ${variant}`);
  if (spec.x.prologue?.values?.length) throw new Error(`internal: syrk [${spec.n} x ${spec.k}]: prologue values need a matmul's gemv or direct variant`);
  if (variant === 'direct') return { temps: [], variant: 'direct', dispatches: [{ kernel: generateDirect(spec, maxPerDim), buffers: spec.buffers, label: 'direct' }] };
  const forced = options.variant !== undefined && options.variant !== chosen.variant;
  const splitsWanted = options.splitK ?? (forced ? 1 : chosen.splitK);
  let tile = options.tile ?? (forced ? TILE_LARGE : chosen.tile);
  // As planMatmul: a chosen LARGE_VEC4 (or LARGE_PAIRS) only where X loads as vec4 with it, else SPLIT (LARGE
  // with one K range).
  if (!options.tile) {
    tile = tileForLoads(tile, splitsWanted > 1, (t) => {
      const loads = tiledLoads(spec, t, splitK(spec.k, splitsWanted, t.bk).splits > 1);
      const axis = tileLanes(spec.x, loads.axis, loads.vectors);
      // X is both operands, loaded the same way: along m and n, or along k.
      return { vec4: axis !== null, aAlongM: axis === 'major', bAlongK: axis === 'k' };
    }, spec.k);
  }
  return planTiled(spec, tile, splitsWanted, maxPerDim, options.workgroupStorage);
}

/** Workgroups the tiled variant launches per matrix with tiles of `edge`: the tiles on and below the diagonal. */
export function syrkTilesPerMatrix(n: number, edge: number): number {
  const t = Math.ceil(n / edge);
  return (t * (t + 1)) / 2;
}

function checkSpec(spec: SyrkSpec): void {
  const { batch, n, k, x, store, buffers } = spec;
  const fail = (what: string) => {
    throw new Error(`internal: syrk spec: ${what}`);
  };
  if (![n, k, ...batch].every((d) => Number.isInteger(d) && d >= 0)) fail(`bad extents n=${n} k=${k} batch=[${batch}]`);
  checkOperand('x', x, batch, fail);
  if (store.access.strides.length !== batch.length + 2) fail(`the store access needs ${batch.length + 2} strides`);
  if (!buffers.some((b) => b.name === store.buffer)) fail(`no buffer named ${store.buffer}`);
  if (operandBuffers(x).includes(store.buffer)) fail('the store buffer is the operand');
  for (const b of buffers) if (RESERVED.test(b.name)) fail(`buffer name ${b.name} is reserved by the kernel`);
  checkOperandBinding('x', x, spec.dtype, buffers, batch.length + 2, fail);
  checkEpilogue(spec, fail);
}

/**
 * The stores of one computed `acc` at (row, col), row >= col: the epilogue (or `acc`) at (row, col), and
 * unless on the diagonal the epilogue at (col, row) with its own coordinates. Each in its own block, so the
 * two emissions of the epilogue may use the same value names.
 */
function emitStores(spec: SyrkSpec, batchNames: readonly string[], r = 'row', c = 'col'): { code: string[]; helpers: Set<string> } {
  const { n, batch } = spec;
  const shape = [...batch, n, n];
  const helpers = new Set<string>();
  const one = (rr: string, cc: string): string[] => {
    const coords: Coords = { names: [...batchNames, rr, cc], flat: { name: 'o', shape } };
    const { code, helpers: used } = emitOutput(spec, coords);
    used.forEach((h) => helpers.add(h));
    const flat = sizeOf(batch) > 1 ? `let o = bz * ${n * n}u + ${rr} * N + ${cc};` : `let o = ${rr} * N + ${cc};`;
    return [...pruneLets([flat], code), ...code];
  };
  const code = [
    `// C(${r}, ${c}), then its mirror C(${c}, ${r}) with the epilogue at that position.`,
    '{',
    ...indent(one(r, c), 1),
    '}',
    `if (${r} != ${c}) {`,
    ...indent(one(c, r), 1),
    '}',
  ];
  return { code, helpers };
}

function header(spec: SyrkSpec, variant: string): string[] {
  const { n, k, x, batch } = spec;
  const batchText = batch.length > 0 ? ` batch [${batch.join(', ')}],` : '';
  return [
    `// syrk ${spec.dtype}:${batchText} X @ X^T, X [${n} x ${k}] -> ${spec.store.buffer} [${n} x ${n}], lower triangle computed and mirrored; ${variant}`,
    `// X = ${describeOperand(x)}`,
    `const N = ${n}u;`,
    `const K = ${k}u;`,
  ];
}

function generateDirect(spec: SyrkSpec, maxPerDim: number): GeneratedKernel {
  const { batch, n, x, dtype } = spec;
  const tri = (n * (n + 1)) / 2;
  const batches = sizeOf(batch);
  const total = batches * tri;
  const { code: batchLets, coords: batchCoords } = coordsOf(batch, 'bz', 'b');
  const stores = emitStores(spec, batchCoords.names);
  const base = sum(batchTerms(x, batch, batchCoords.names), x.offset);
  // The K loop stays even when K = 0 (and the output may be empty): it keeps the operand bound.
  const body = [
    `let pa = ${plus(base, sum([['row', x.rowStride]]))};`,
    `let pb = ${plus(base, sum([['col', x.rowStride]]))};`,
    `var acc = ${zero(dtype)};`,
    'for (var p = 0u; p < K; p++) {',
    `  acc += ${x.buffer}[${plus('pa', sum([['p', x.colStride]]))}] * ${x.buffer}[${plus('pb', sum([['p', x.colStride]]))}];`,
    '}',
    ...stores.code,
  ];
  // Element e of the launch: matrix bz, triangle index t, position (row, col) with row >= col.
  const lets = [
    batches > 1 ? `let bz = e / TRI;` : 'let bz = 0u;',
    batches > 1 ? 'let t = e % TRI;' : 'let t = e;',
    'let row = wg_tri_row(t);',
    'let col = t - row * (row + 1u) / 2u;',
    ...batchLets,
  ];
  const wgsl = [
    ...bufferDecls(spec.buffers),
    ...stores.helpers,
    TRI_ROW_HELPER,
    '',
    ...header(spec, 'direct: one thread per element on and below the diagonal'),
    `const TRI = ${Math.max(tri, 1)}u;`,
    `const TOTAL = ${total}u;`,
    '',
    ...directMain('e', lets, body),
  ].join('\n');
  return { wgsl, entryPoint: 'main', workgroups: grid1d(Math.ceil(total / DIRECT_WORKGROUP), maxPerDim) };
}

/**
 * The final store function of the tiled variant: `wg_store(bz, row, col, val)` for 4 consecutive columns of
 * one row; only positions on and below the diagonal store, each at (row, c) and its mirror.
 */
function mirrorStoreFunction(spec: SyrkSpec, checkRow: boolean): { text: string[]; helpers: Set<string> } {
  const { batch, dtype } = spec;
  const { code: batchLets, coords: batchCoords } = coordsOf(batch, 'bz', 'b');
  const stores = emitStores(spec, batchCoords.names, 'row', 'c');
  const lanes = [0, 1, 2, 3].flatMap((l) => [
    `if (col + ${l}u <= row) {`,
    `  let c = col${l === 0 ? '' : ` + ${l}u`};`,
    `  let acc = val[${l}];`,
    ...indent(stores.code, 1),
    '}',
  ]);
  const body = [...(checkRow ? ['if (row >= N) { return; }'] : []), ...lanes];
  return {
    text: [`fn wg_store(bz: u32, row: u32, col: u32, val: vec4<${VALUE_TYPE[dtype]}>) {`, ...indent([...pruneLets(batchLets, body), ...body], 1), '}'],
    helpers: stores.helpers,
  };
}

/**
 * How the tiled kernel loads X (vec4 axis or null) and which buffers it binds as vec4: X where it loads as
 * vec4 and no epilogue in the same dispatch loads it by element (with split K the epilogue is the combine's).
 */
function tiledLoads(spec: SyrkSpec, tile: TileConfig, partial: boolean): { axis: 'major' | 'k' | null; vectors: Set<string> } {
  const { batch, n, k, x } = spec;
  const { axis, wants } = operandLoads(x, batch, 'row', { major: n, majorTile: tile.bm, k, kTile: tile.bk });
  const vectors = vec4Bindings([
    ...wants,
    ...(partial ? [] : epilogueLoads(spec.epilogue).map((b) => ({ buffer: b, vec4: false }))),
  ]);
  return { axis, vectors };
}

function planTiled(spec: SyrkSpec, tile: TileConfig, splitsWanted: number, maxPerDim: number, workgroupStorage?: number): GemmProgram {
  const err = tileConfigError(tile) ?? (tile.bm !== tile.bn ? 'syrk needs square tiles' : null);
  if (err) throw new Error(`internal: syrk tile config ${tileName(tile)}: ${err}`);
  const { batch, n, k, x, dtype } = spec;
  const batches = sizeOf(batch);
  const split = splitK(k, splitsWanted, tile.bk);
  const partial = split.splits > 1;
  const { code: batchLets, coords: batchCoords } = coordsOf(batch, 'bz', 'b');
  const { axis, vectors } = tiledLoads(spec, tile, partial);
  const lanes = tileLanes(x, axis, vectors);
  const op = (base: string): CoreOperand => ({ buffer: x.buffer, base, majorStride: x.rowStride, kStride: x.colStride, majorExtent: n, vec4: lanes, ...(x.prologue ? { load: 'wg_load_x' } : {}) });
  const loaders = x.prologue ? [prologueFunction('wg_load_x', x.prologue, { dtype, batch, major: 'row', lanes, vectors })] : [];
  const store = partial
    ? storeFunction(
        { batch, m: n, n, dtype, buffers: spec.buffers, store: spec.store },
        { lanes: 4, swapped: false, partial: { splits: split.splits, vec4: n % 4 === 0 }, vec4Out: false, checkRow: n % tile.bm !== 0, checkCol: n % tile.bn !== 0 },
      )
    : { ...mirrorStoreFunction(spec, n % tile.bm !== 0), vec4: new Set<string>() };
  const bases = x.prologue ? [] : [`let base = ${sum(batchTerms(x, batch, batchCoords.names), x.offset)};`];
  const core = generateTiledCore({
    kernel: 'syrk',
    dtype,
    m: n,
    n,
    k,
    batches,
    a: op('base'),
    b: op('base'),
    config: tile,
    splits: split.splits,
    kChunk: split.chunk,
    tiles: 'lower',
    maxPerDim,
    prelude: [...pruneLets(batchLets, bases), ...bases],
    storeArgs: partial ? 'bz, ks' : 'bz',
    workgroupStorage,
  });
  const buffers: KernelBuffer[] = partial
    ? [...spec.buffers.filter((b) => operandBuffers(x).includes(b.name)).map((b) => ({ ...b, access: 'read' as const })), { name: PARTIAL_BUFFER, dtype, access: 'read_write' }]
    : [...spec.buffers];
  const splitText = partial ? `, split K ${split.splits} x ${split.chunk} (partial sums)` : '';
  const wgsl = productModule(
    bufferDecls(buffers, new Set([...vectors, ...store.vec4])),
    store,
    header(spec, `tiled${lanes !== null ? '.vec4' : ''} ${tileName(tile)}: the ${tile.bm}x${tile.bm} tiles on and below the diagonal, K in steps of ${tile.bk}, ${tile.tm}x${tile.tn} outputs per thread${tile.db ? ', double-buffered' : ''}${splitText}; ${describeLoads(op('base'), op('base'))}`),
    core,
    [TRI_ROW_HELPER, ...loaderModule(loaders, store.helpers)],
  );
  const name = `tiled${tile.bm}`;
  const product = { kernel: { wgsl, entryPoint: 'main', workgroups: core.workgroups }, buffers, label: `tiled ${tileName(tile)}${partial ? ` split ${split.splits}` : ''}` };
  if (!partial) return { temps: [], dispatches: [product], variant: name };
  const at = `${batches > 1 ? `bz * ${n * n}u + ` : ''}max(row, col) * N + min(row, col)`;
  const combine = generateCombine({ batch, m: n, n, dtype, buffers: spec.buffers, store: spec.store, epilogue: spec.epilogue }, split.splits, at, `syrk ${dtype} [${n} x ${n}], mirrored`, maxPerDim);
  return {
    temps: [{ name: PARTIAL_BUFFER, dtype, size: split.splits * batches * n * n }],
    dispatches: [product, { ...combine, label: `combine ${split.splits}` }],
    variant: `${name}.splitK${split.splits}`,
  };
}
