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
// Two variants, as for matmul (src/shaders/matmul.ts), with the same geometry and the same rules for loads:
// - tiled: a 64x64 output tile per workgroup of 16x16 threads, K in steps of 16 through workgroup memory,
//   4x4 outputs per thread in registers. Only the T (T + 1) / 2 tiles on and below the diagonal are launched
//   (T = ceil(n / 64) tiles per side): workgroup t of a matrix takes row tile rt and column tile ct <= rt with
//   t = rt (rt + 1) / 2 + ct (row-major over the lower triangle). Both staged tiles come from X: rows
//   row0.. for the left factor, rows col0.. for the right one (the right factor X^T is X read by rows).
// - direct: one thread per element of the lower triangle, n (n + 1) / 2 per matrix, numbered the same way,
//   a plain dot product from global memory; for small matrices (n * n <= DIRECT_MAX_OUTPUTS) and empty outputs.
// The triangle index is inverted with a float square root and then corrected by exact integer steps
// (wg_tri_row), so it is right for every index a u32-indexed tensor can have.
//
// The mirrored stores (j, i) walk a column: consecutive threads write addresses n apart. Staging the
// transposed tile through workgroup memory would make them contiguous; not done yet.
//
// float32 accumulates in f32, int32 in i32 (wrapping exactly as the CPU reference).
import { sizeOf, type Shape } from '../ir/shape.js';
import { bufferDecls, coordsOf, type GeneratedKernel, type KernelBuffer } from './elementwise.js';
import type { Access, Coords, Expr } from './expr.js';
import { grid1d, LINEAR_WORKGROUP, MAX_WORKGROUPS_PER_DIM } from './grid.js';
import {
  batchTerms,
  checkEpilogue,
  checkOperand,
  DIRECT_MAX_OUTPUTS,
  DIRECT_WORKGROUP,
  emitOutput,
  emitSumsDecl,
  emitTileLoad,
  emitTileProduct,
  foldedGrid,
  indent,
  plus,
  pruneLets,
  sum,
  THREADS_X,
  THREADS_Y,
  TILE_K,
  TILE_M,
  zero,
  type MatrixOperand,
  type TileAxis,
} from './matmul.js';
import { VALUE_TYPE } from './wgsl.js';

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
  /** Forces a variant (tests); by default chooseSyrkVariant picks one from the shape. */
  readonly variant?: SyrkVariant;
  /** The grid limit per dimension; tests lower it to exercise grid folding. */
  readonly maxWorkgroupsPerDim?: number;
}

/**
 * The tiled geometry: matmul's tiled variant (src/shaders/matmul.ts), whose tile product and tile loads this
 * kernel reuses. Its tiles are square (TILE_M = TILE_N), so one edge serves rows and columns.
 */
const TILE = TILE_M;
const PER_THREAD = TILE / THREADS_X;

/** Names the generated WGSL declares; a buffer with one of these names would be shadowed. */
const RESERVED = /^(N|K|TRI|TOTAL|main|wid|nwg|tid|lid|w|t|e|rt|ct|row0|col0|bz|base|sums|k0|i|j|r|kk|gr|gk|x|a_col|b_row|row|col|acc|o|pa|pb|p|tile_a|tile_b|[bv]\d+|wg_\w*)$/;

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

export function chooseSyrkVariant(spec: Pick<SyrkSpec, 'batch' | 'n'>): SyrkVariant {
  return sizeOf(spec.batch) * spec.n === 0 || spec.n * spec.n <= DIRECT_MAX_OUTPUTS ? 'direct' : 'tiled';
}

export function generateSyrk(spec: SyrkSpec, options: SyrkOptions = {}): GeneratedKernel {
  checkSpec(spec);
  const variant = sizeOf(spec.batch) * spec.n === 0 ? 'direct' : (options.variant ?? chooseSyrkVariant(spec));
  const maxPerDim = options.maxWorkgroupsPerDim ?? MAX_WORKGROUPS_PER_DIM;
  return variant === 'tiled' ? generateTiled(spec, maxPerDim) : generateDirect(spec, maxPerDim);
}

/** Workgroups the tiled variant launches per matrix: the tiles on and below the diagonal. */
export function syrkTilesPerMatrix(n: number): number {
  const t = Math.ceil(n / TILE);
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
  const names = new Set(buffers.map((b) => b.name));
  for (const used of [x.buffer, store.buffer]) if (!names.has(used)) fail(`no buffer named ${used}`);
  if (store.buffer === x.buffer) fail('the store buffer is the operand');
  for (const b of buffers) {
    if (RESERVED.test(b.name)) fail(`buffer name ${b.name} is reserved by the kernel`);
    if (b.name === x.buffer && b.dtype !== spec.dtype) fail(`operand buffer ${b.name} is ${b.dtype}, not ${spec.dtype}`);
  }
  checkEpilogue(spec, fail);
}

/**
 * The stores of one computed `acc` at (row, col), row >= col: the epilogue (or `acc`) at (row, col), and
 * unless on the diagonal the epilogue at (col, row) with its own coordinates. Each in its own block, so the
 * two emissions of the epilogue may use the same value names.
 */
function emitStores(spec: SyrkSpec, batchNames: readonly string[]): { code: string[]; helpers: Set<string> } {
  const { n, batch } = spec;
  const shape = [...batch, n, n];
  const helpers = new Set<string>();
  const one = (r: string, c: string): string[] => {
    const coords: Coords = { names: [...batchNames, r, c], flat: { name: 'o', shape } };
    const { code, helpers: used } = emitOutput(spec, coords);
    used.forEach((h) => helpers.add(h));
    const flat = sizeOf(batch) > 1 ? `let o = bz * ${n * n}u + ${r} * N + ${c};` : `let o = ${r} * N + ${c};`;
    return [...pruneLets([flat], code), ...code];
  };
  const code = [
    '// C(row, col), then its mirror C(col, row) with the epilogue at that position.',
    '{',
    ...indent(one('row', 'col'), 1),
    '}',
    'if (row != col) {',
    ...indent(one('col', 'row'), 1),
    '}',
  ];
  return { code, helpers };
}

function header(spec: SyrkSpec, variant: string): string[] {
  const { n, k, x, batch } = spec;
  const batchText = batch.length > 0 ? ` batch [${batch.join(', ')}],` : '';
  return [
    `// syrk ${spec.dtype}:${batchText} X @ X^T, X [${n} x ${k}] -> ${spec.store.buffer} [${n} x ${n}], lower triangle computed and mirrored; ${variant}`,
    `// X = ${x.buffer} (row stride ${x.rowStride}, col stride ${x.colStride})`,
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
    `@compute @workgroup_size(${DIRECT_WORKGROUP})`,
    'fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {',
    `  let e = (${LINEAR_WORKGROUP}) * ${DIRECT_WORKGROUP}u + lid;`,
    '  if (e >= TOTAL) { return; }',
    ...indent([...pruneLets(lets, body), ...body], 1),
    '}',
    '',
  ].join('\n');
  return { wgsl, entryPoint: 'main', workgroups: grid1d(Math.ceil(total / DIRECT_WORKGROUP), maxPerDim) };
}

/**
 * Copies a 64 x 16 tile of X (rows origin.., k0..) into workgroup memory, k-major (`tile[kk * 64 + r]`), zero
 * outside the matrix: matmul's scalar tile load, whose consecutive threads walk the axis with the smaller
 * stride (k for a row-major X, the rows for a transposed one).
 */
function emitXTileLoad(spec: SyrkSpec, origin: string, shared: string): string[] {
  const { x, n, k, dtype } = spec;
  const rows: TileAxis = { name: 'rows', local: 'r', global: 'gr', tile: TILE, origin, bound: 'N', extent: n, stride: x.rowStride };
  const ks: TileAxis = { name: 'k', local: 'kk', global: 'gk', tile: TILE_K, origin: 'k0', bound: 'K', extent: k, stride: x.colStride };
  return emitTileLoad(`X rows ${origin}..`, x.buffer, 'base', rows, ks, (r, kk) => `${shared}[${kk} * ${TILE}u + ${r}]`, dtype, null);
}

/** The launch: one workgroup per lower-triangle tile and batch, direct ([tiles, 1, batch]) or folded. */
function tiledGrid(spec: SyrkSpec, maxPerDim: number): { workgroups: [number, number, number]; code: string[] } {
  const tiles = syrkTilesPerMatrix(spec.n);
  const batches = sizeOf(spec.batch);
  if (tiles <= maxPerDim && batches <= maxPerDim) {
    return { workgroups: [tiles, 1, batches], code: ['let t = wid.x;', 'let bz = wid.z;'] };
  }
  // Number the workgroups linearly over (batch, tile) and spread that number over x, y and z; the surplus
  // workgroups of the last row leave at once (the workgroup id is uniform, so barriers stay uniform).
  const fold = foldedGrid('syrk', tiles * batches, maxPerDim);
  return { workgroups: fold.workgroups, code: [...fold.code, `let t = w % ${tiles}u;`, `let bz = w / ${tiles}u;`] };
}

function generateTiled(spec: SyrkSpec, maxPerDim: number): GeneratedKernel {
  const { batch, x, dtype } = spec;
  const type = VALUE_TYPE[dtype];
  const grid = tiledGrid(spec, maxPerDim);
  const { code: batchLets, coords: batchCoords } = coordsOf(batch, 'bz', 'b');
  const stores = emitStores(spec, batchCoords.names);
  // The K loop stays even when K = 0: it keeps the operand bound (layout 'auto' drops unused bindings).
  const body = [
    `let base = ${sum(batchTerms(x, batch, batchCoords.names), x.offset)};`,
    emitSumsDecl(type),
    `for (var k0 = 0u; k0 < K; k0 += ${TILE_K}u) {`,
    ...indent(emitXTileLoad(spec, 'row0', 'tile_a'), 1),
    ...indent(emitXTileLoad(spec, 'col0', 'tile_b'), 1),
    ...indent(emitTileProduct(type), 1),
    '}',
    `for (var i = 0u; i < ${PER_THREAD}u; i++) {`,
    `  for (var j = 0u; j < ${PER_THREAD}u; j++) {`,
    `    let row = row0 + tid.y + i * ${THREADS_Y}u;`,
    `    let col = col0 + tid.x + j * ${THREADS_X}u;`,
    '    // Only on and below the diagonal: above it (inside a diagonal tile) the mirror of another thread.',
    '    if (row < N && col <= row) {',
    '      let acc = sums[i][j];',
    ...indent(stores.code, 3),
    '    }',
    '  }',
    '}',
  ];
  const tileLets = ['let rt = wg_tri_row(t);', 'let ct = t - rt * (rt + 1u) / 2u;', `let row0 = rt * ${TILE}u;`, `let col0 = ct * ${TILE}u;`];
  const wgsl = [
    ...bufferDecls(spec.buffers),
    ...stores.helpers,
    TRI_ROW_HELPER,
    '',
    ...header(spec, `tiled: the ${TILE}x${TILE} tiles on and below the diagonal, K in steps of ${TILE_K}, ${PER_THREAD}x${PER_THREAD} outputs per thread`),
    '',
    `// The current K step of rows row0.. and col0.. of X, k-major: tile_a[kk * ${TILE} + r] = X(row0 + r, k0 + kk), tile_b[kk * ${TILE} + c] = X(col0 + c, k0 + kk).`,
    `var<workgroup> tile_a: array<${type}, ${TILE * TILE_K}>;`,
    `var<workgroup> tile_b: array<${type}, ${TILE * TILE_K}>;`,
    '',
    `@compute @workgroup_size(${THREADS_X}, ${THREADS_Y})`,
    'fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) tid: vec3u, @builtin(local_invocation_index) lid: u32) {',
    ...indent([...grid.code, ...tileLets, ...pruneLets(batchLets, body), ...body], 1),
    '}',
    '',
  ].join('\n');
  return { wgsl, entryPoint: 'main', workgroups: grid.workgroups };
}
