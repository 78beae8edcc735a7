// Matrix multiplication: C[...batch, m, n] = A[...batch, m, k] @ B[...batch, k, n], with an optional
// elementwise epilogue (bias, activation, residual) applied to each dot product before it is stored.
//
// Operands are read in place through strides, so a transposed, sliced or batch-broadcast operand needs no
// copy; strides and extents are baked into the WGSL as constants (a plan is built per shape). Every load is
// bounds-checked, so any m, n, k works without padding (k = 0 gives zeros, or the epilogue of 0).
//
// Two variants, chosen from the shape (chooseMatmulVariant):
// - tiled: each workgroup of 16x16 threads computes a 64x64 output tile; K advances in steps of 16, each
//   step's A and B tiles staged through workgroup memory, and each thread accumulates 4x4 outputs in
//   registers (rows ty + 16i, columns tx + 16j: consecutive threads touch consecutive columns of the tile,
//   so stores and workgroup-memory reads are conflict-free). Tile loads pick their thread pattern from the
//   operand's strides so that consecutive threads read consecutive addresses in the common layouts.
//   Where an operand's stride-1 axis, its other strides and its offset are aligned to 4 elements (vec4Axis)
//   and its buffer serves nothing else in the kernel, the operand is bound as array<vec4<T>> and its tile
//   is loaded four elements per thread ("tiled.vec4" in the header comment, which names each operand's
//   loads); the tiles, and so the results, are the same as with scalar loads.
// - direct: one thread per output element, a plain dot product from global memory. For small outputs
//   (at most DIRECT_MAX_OUTPUTS per matrix), where a 64x64 tile would sit mostly idle; also used for
//   empty outputs.
//
// float32 accumulates in f32 (the reference accumulates in f64: tests compare with a derived tolerance);
// int32 accumulates in i32, which wraps in WGSL exactly as the reference's Math.imul and |0.
import { sizeOf, stridesOf, type Shape } from '../ir/shape.js';
import { emitExpr, indexOf, type Access, type Coords, type Expr } from './expr.js';
import { bufferDecls, coordsOf, type GeneratedKernel, type KernelBuffer } from './elementwise.js';
import { grid1d, LINEAR_WORKGROUP, MAX_WORKGROUPS_PER_DIM } from './grid.js';
import { STORAGE_TYPE, toStorage, VALUE_TYPE } from './wgsl.js';

export interface MatrixOperand {
  readonly buffer: string;
  readonly offset: number;
  /** One stride per batch axis of the output's batch shape (0 where this operand broadcasts). */
  readonly batchStrides: readonly number[];
  /** Element (r, c) of the logical matrix is at offset + batch terms + r * rowStride + c * colStride. */
  readonly rowStride: number;
  readonly colStride: number;
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

export type MatmulVariant = 'tiled' | 'direct';

export interface MatmulOptions {
  /** Forces a variant (tests, benchmarks); by default chooseMatmulVariant picks one from the shape. */
  readonly variant?: MatmulVariant;
  /** The grid limit per dimension; tests lower it to exercise grid folding without huge launches. */
  readonly maxWorkgroupsPerDim?: number;
}

/** The tiled variant's geometry: a TILE_M x TILE_N output tile per workgroup of THREADS_X x THREADS_Y. */
export const TILE_M = 64;
export const TILE_N = 64;
export const TILE_K = 16;
export const THREADS_X = 16;
export const THREADS_Y = 16;
export const THREADS = THREADS_X * THREADS_Y;
/** Outputs per thread: rows ty + THREADS_Y * i, columns tx + THREADS_X * j. */
const PER_THREAD_M = TILE_M / THREADS_Y;
const PER_THREAD_N = TILE_N / THREADS_X;

/** The direct variant: one thread per output, in workgroups of this size. */
export const DIRECT_WORKGROUP = 256;
/** Up to this many outputs per matrix (a quarter of a 64x64 tile), a tile would be mostly idle: one thread per output instead. */
export const DIRECT_MAX_OUTPUTS = 1024;

/** Names the generated WGSL declares; a buffer with one of these names would be shadowed. */
const RESERVED = /^(M|N|K|TOTAL|main|wid|nwg|tid|lid|w|row0|col0|bz|base_a|base_b|sums|k0|i|j|r|c|kk|gr|gc|gk|x|a_col|b_row|row|col|acc|o|pa|pb|p|tile_a|tile_b|[bv]\d+|wg_\w*)$/;

export function chooseMatmulVariant(spec: Pick<MatmulSpec, 'batch' | 'm' | 'n'>): MatmulVariant {
  const outputs = sizeOf(spec.batch) * spec.m * spec.n;
  return outputs === 0 || spec.m * spec.n <= DIRECT_MAX_OUTPUTS ? 'direct' : 'tiled';
}

export function generateMatmul(spec: MatmulSpec, options: MatmulOptions = {}): GeneratedKernel {
  checkSpec(spec);
  const variant = sizeOf(spec.batch) * spec.m * spec.n === 0 ? 'direct' : (options.variant ?? chooseMatmulVariant(spec));
  const maxPerDim = options.maxWorkgroupsPerDim ?? MAX_WORKGROUPS_PER_DIM;
  return variant === 'tiled' ? generateTiled(spec, maxPerDim) : generateDirect(spec, maxPerDim);
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
  const names = new Set(buffers.map((x) => x.name));
  for (const used of [a.buffer, b.buffer, store.buffer]) if (!names.has(used)) fail(`no buffer named ${used}`);
  for (const x of buffers) {
    if (RESERVED.test(x.name)) fail(`buffer name ${x.name} is reserved by the kernel`);
    if ((x.name === a.buffer || x.name === b.buffer) && x.dtype !== spec.dtype) fail(`operand buffer ${x.name} is ${x.dtype}, not ${spec.dtype}`);
  }
  checkEpilogue(spec, fail);
}

/** The checks of one strided operand (named `name` in messages) against the batch shape. */
export function checkOperand(name: string, op: MatrixOperand, batch: Shape, fail: (what: string) => void): void {
  if (op.batchStrides.length !== batch.length) fail(`${name} has ${op.batchStrides.length} batch strides for batch [${batch}]`);
  if ([op.offset, op.rowStride, op.colStride, ...op.batchStrides].some((s) => !Number.isInteger(s) || s < 0)) fail(`${name} has a negative or fractional stride`);
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
export function batchTerms(op: MatrixOperand, batch: Shape, batchCoords: readonly string[]): [string, number][] {
  const rm = stridesOf(batch);
  const live = batch.flatMap((d, i) => (d > 1 ? [i] : []));
  if (live.length === 0) return [];
  const scale = op.batchStrides[live[0]] / rm[live[0]];
  if (Number.isInteger(scale) && live.every((i) => op.batchStrides[i] === rm[i] * scale)) return [['bz', scale]];
  return live.map((i) => [batchCoords[i], op.batchStrides[i]]);
}

/** `x`, parenthesized when it is a sum. */
function paren(x: string): string {
  return x.includes(' ') ? `(${x})` : x;
}

/** `base + index`, or just `base` when the index is the constant 0. */
export function plus(base: string, index: string): string {
  return index === '0u' ? base : `${base} + ${index}`;
}

/** The epilogue (or plain `acc`) and the store of one output at (batch coords, row, col). */
export function emitOutput(spec: Pick<MatmulSpec, 'buffers' | 'store' | 'epilogue'>, coords: Coords): { code: string[]; helpers: Set<string> } {
  const storeDtype = spec.buffers.find((x) => x.name === spec.store.buffer)!.dtype;
  const target = `${spec.store.buffer}[${indexOf(spec.store.access, coords)}]`;
  if (!spec.epilogue) return { code: [`${target} = ${toStorage(storeDtype, 'acc')};`], helpers: new Set() };
  const body = emitExpr(spec.epilogue.expr, coords);
  return { code: [...body.code, `${target} = ${toStorage(storeDtype, body.value(spec.epilogue.step))};`], helpers: body.helpers };
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
    `// A = ${a.buffer} (row stride ${a.rowStride}, col stride ${a.colStride}), B = ${b.buffer} (row stride ${b.rowStride}, col stride ${b.colStride})`,
    `const M = ${m}u;`,
    `const N = ${n}u;`,
    `const K = ${k}u;`,
  ];
}

export function indent(lines: readonly string[], depth: number): string[] {
  return lines.map((l) => `${'  '.repeat(depth)}${l}`);
}

function generateDirect(spec: MatmulSpec, maxPerDim: number): GeneratedKernel {
  const { batch, m, n, a, b, dtype } = spec;
  const total = sizeOf(batch) * m * n;
  const { code: batchLets, coords: batchCoords } = coordsOf(batch, 'bz', 'b');
  const coords: Coords = { names: [...batchCoords.names, 'row', 'col'], flat: { name: 'o', shape: [...batch, m, n] } };
  const out = emitOutput(spec, coords);
  // The K loop stays even when K = 0 (and the output may be empty): it keeps both operands bound.
  const body = [
    `let pa = ${sum([...batchTerms(a, batch, batchCoords.names), ['row', a.rowStride]], a.offset)};`,
    `let pb = ${sum([...batchTerms(b, batch, batchCoords.names), ['col', b.colStride]], b.offset)};`,
    `var acc = ${zero(dtype)};`,
    'for (var p = 0u; p < K; p++) {',
    `  acc += ${a.buffer}[${plus('pa', sum([['p', a.colStride]]))}] * ${b.buffer}[${plus('pb', sum([['p', b.rowStride]]))}];`,
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
    '',
    ...header(spec, 'direct: one thread per output'),
    `const TOTAL = ${total}u;`,
    '',
    `@compute @workgroup_size(${DIRECT_WORKGROUP})`,
    'fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {',
    `  let o = (${LINEAR_WORKGROUP}) * ${DIRECT_WORKGROUP}u + lid;`,
    '  if (o >= TOTAL) { return; }',
    ...indent([...pruneLets(lets, body), ...body], 1),
    '}',
    '',
  ].join('\n');
  return { wgsl, entryPoint: 'main', workgroups: grid1d(Math.ceil(total / DIRECT_WORKGROUP), maxPerDim) };
}

export function zero(dtype: MatmulSpec['dtype']): string {
  return dtype === 'float32' ? '0.0' : '0i';
}

/** One axis of a tile as a tile load sees it. */
export interface TileAxis {
  /** m, n or k, for the comment. */
  readonly name: string;
  /** The local (in-tile) and global coordinate names, e.g. r and gr. */
  readonly local: string;
  readonly global: string;
  /** The tile's extent along this axis, the WGSL origin of the tile and the bound (M, N or K). */
  readonly tile: number;
  readonly origin: string;
  readonly bound: string;
  /** The matrix extent and the element stride along this axis. */
  readonly extent: number;
  readonly stride: number;
}

/**
 * Copies one tile of an operand into workgroup memory (k-major: `tile[kk * width + r]`), zero outside the
 * matrix. Each thread loads tile size / THREADS elements; the "fast" axis, the one consecutive threads walk
 * along, is the one with the smaller stride (a row-major A walks k, a transposed A walks m), so the common
 * layouts read consecutive addresses. `shared(r, c)` is the workgroup-memory element at local (r, c).
 *
 * With `vec4` (see vec4Axis: the operand's buffer is bound as array<vec4<T>>), that axis is the fast one
 * and each thread loads four consecutive elements along it with one vector load, then stores the four
 * components to workgroup memory. Every vector starts at an element index that is a multiple of 4 and lies
 * wholly inside or wholly outside the matrix along the fast axis (its extent is a multiple of 4), so the
 * usual bounds check on the vector's first element keeps out-of-matrix rows and columns zero. The tile
 * holds the same values as with scalar loads: only the loads differ. `what` names the tile in the comment
 * (e.g. 'A tile').
 */
export function emitTileLoad(
  what: string,
  buffer: string,
  base: string,
  rows: TileAxis,
  cols: TileAxis,
  shared: (r: string, c: string) => string,
  dtype: MatmulSpec['dtype'],
  vec4: 'rows' | 'cols' | null,
): string[] {
  const index = plus(base, sum([[rows.global, rows.stride], [cols.global, cols.stride]]));
  if (vec4) {
    const colsFast = vec4 === 'cols';
    const [fast, slow] = colsFast ? [cols, rows] : [rows, cols];
    const perSlow = fast.tile / 4; // vectors along the fast axis of the tile
    if (fast.tile % 4 !== 0 || THREADS % perSlow !== 0 || (rows.tile * cols.tile) % (4 * THREADS) !== 0) {
      throw new Error(`internal: matmul ${what} ${rows.tile} x ${cols.tile} does not fit vec4 loads`);
    }
    const steps = (rows.tile * cols.tile) / (4 * THREADS);
    const slowStep = THREADS / perSlow;
    const t = STORAGE_TYPE[dtype];
    const lane = (j: number) => (j === 0 ? fast.local : `${fast.local} + ${j}u`);
    const stores = [0, 1, 2, 3].map((j) => `  ${colsFast ? shared(rows.local, lane(j)) : shared(lane(j), cols.local)} = x[${j}];`);
    return [
      `// ${what} (${rows.tile} x ${cols.tile}), vec4 loads: each thread takes 4 consecutive ${fast.name} (stride 1), consecutive threads the next 4.`,
      `for (var i = 0u; i < ${steps}u; i++) {`,
      `  let ${fast.local} = lid % ${perSlow}u * 4u;`,
      `  let ${slow.local} = lid / ${perSlow}u + i * ${slowStep}u;`,
      `  let ${rows.global} = ${rows.origin} + ${rows.local};`,
      `  let ${cols.global} = ${cols.origin} + ${cols.local};`,
      `  var x = vec4<${t}>(${zero(dtype)});`,
      `  if (${rows.global} < ${rows.bound} && ${cols.global} < ${cols.bound}) { x = ${buffer}[(${index}) / 4u]; }`,
      ...stores,
      '}',
    ];
  }
  // An axis of extent 1 has no meaningful stride: walk the other one.
  const colsFast = rows.extent <= 1 ? true : cols.extent <= 1 ? false : cols.stride <= rows.stride;
  const [fast, slow] = colsFast ? [cols, rows] : [rows, cols];
  const steps = (rows.tile * cols.tile) / THREADS;
  const slowStep = THREADS / fast.tile;
  return [
    `// ${what} (${rows.tile} x ${cols.tile}): consecutive threads take consecutive ${fast.name} (stride ${fast.stride}).`,
    `for (var i = 0u; i < ${steps}u; i++) {`,
    `  let ${fast.local} = lid % ${fast.tile}u;`,
    `  let ${slow.local} = lid / ${fast.tile}u + i * ${slowStep}u;`,
    `  let ${rows.global} = ${rows.origin} + ${rows.local};`,
    `  let ${cols.global} = ${cols.origin} + ${cols.local};`,
    `  var x = ${zero(dtype)};`,
    `  if (${rows.global} < ${rows.bound} && ${cols.global} < ${cols.bound}) { x = ${buffer}[${index}]; }`,
    `  ${shared(rows.local, cols.local)} = x;`,
    '}',
  ];
}

/**
 * Which axis of an operand's tile the tiled variant loads as vec4 ('rows' or 'cols'), or null for scalar
 * loads. Vectors need: float32 or int32; an axis with stride 1 whose extent is a positive multiple of 4,
 * and whose tile edge is a multiple of 4; the other axis's stride, the offset and the batch strides (of the
 * batch axes that vary: the others are never multiplied by anything but 0) multiples of 4. Then every
 * vector the load reads is 16-byte aligned, lies within one row (or column) of the matrix, and ends at or
 * before the matrix's last element, so it is inside the buffer. The buffer must also be used by nothing
 * else in the kernel (the other operand, an epilogue load, the store): it is bound as array<vec4<T>>.
 */
function vec4Axis(spec: MatmulSpec, op: MatrixOperand, rows: TileAxis, cols: TileAxis): 'rows' | 'cols' | null {
  if (spec.dtype !== 'float32' && spec.dtype !== 'int32') return null;
  const other = op === spec.a ? spec.b : spec.a;
  if (other.buffer === op.buffer || spec.store.buffer === op.buffer) return null;
  if (spec.epilogue?.expr.steps.some((s) => s.kind === 'load' && s.buffer === op.buffer)) return null;
  const aligned = (x: number) => x % 4 === 0;
  if (!aligned(op.offset) || !spec.batch.every((d, i) => d <= 1 || aligned(op.batchStrides[i]))) return null;
  const fits = (fast: TileAxis, slow: TileAxis) => fast.stride === 1 && fast.extent > 0 && aligned(fast.extent) && aligned(fast.tile) && aligned(slow.stride);
  return fits(cols, rows) ? 'cols' : fits(rows, cols) ? 'rows' : null;
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

/**
 * One K step of the tiled product, once both tiles are staged in tile_a and tile_b (k-major): each thread
 * adds its PER_THREAD_M x PER_THREAD_N outer product to `sums`, between two barriers.
 */
export function emitTileProduct(type: string): string[] {
  return [
    'workgroupBarrier();',
    `for (var kk = 0u; kk < ${TILE_K}u; kk++) {`,
    `  var a_col: array<${type}, ${PER_THREAD_M}>;`,
    `  var b_row: array<${type}, ${PER_THREAD_N}>;`,
    `  for (var i = 0u; i < ${PER_THREAD_M}u; i++) { a_col[i] = tile_a[kk * ${TILE_M}u + tid.y + i * ${THREADS_Y}u]; }`,
    `  for (var j = 0u; j < ${PER_THREAD_N}u; j++) { b_row[j] = tile_b[kk * ${TILE_N}u + tid.x + j * ${THREADS_X}u]; }`,
    `  for (var i = 0u; i < ${PER_THREAD_M}u; i++) {`,
    `    for (var j = 0u; j < ${PER_THREAD_N}u; j++) { sums[i][j] += a_col[i] * b_row[j]; }`,
    '  }',
    '}',
    'workgroupBarrier();',
  ];
}

/** The `sums` accumulator declaration of the tiled variant: PER_THREAD_M x PER_THREAD_N values of `type`. */
export function emitSumsDecl(type: string): string {
  return `var sums: array<array<${type}, ${PER_THREAD_N}>, ${PER_THREAD_M}>;`;
}

/** The tile grid and how a workgroup finds its tile: direct (x = column tile, y = row tile, z = batch) or folded. */
function tiledGrid(spec: MatmulSpec, maxPerDim: number): { workgroups: [number, number, number]; code: string[] } {
  const gx = Math.ceil(spec.n / TILE_N);
  const gy = Math.ceil(spec.m / TILE_M);
  const gz = sizeOf(spec.batch);
  if (gx <= maxPerDim && gy <= maxPerDim && gz <= maxPerDim) {
    return { workgroups: [gx, gy, gz], code: [`let row0 = wid.y * ${TILE_M}u;`, `let col0 = wid.x * ${TILE_N}u;`, 'let bz = wid.z;'] };
  }
  // Too many tiles or batches for one grid dimension: number the workgroups linearly over (batch, row
  // tile, column tile) and spread that number over x, y and z. The surplus workgroups of the last row of
  // the grid leave at once; the workgroup id is uniform, so the barriers below stay in uniform control flow.
  const total = gx * gy * gz;
  const fold = foldedGrid('matmul', total, maxPerDim);
  return {
    workgroups: fold.workgroups,
    code: [
      ...fold.code,
      `let row0 = w / ${gx}u % ${gy}u * ${TILE_M}u;`,
      `let col0 = w % ${gx}u * ${TILE_N}u;`,
      `let bz = w / ${gx * gy}u;`,
    ],
  };
}

function generateTiled(spec: MatmulSpec, maxPerDim: number): GeneratedKernel {
  const { batch, m, n, k, a, b, dtype } = spec;
  const type = VALUE_TYPE[dtype];
  const grid = tiledGrid(spec, maxPerDim);
  const { code: batchLets, coords: batchCoords } = coordsOf(batch, 'bz', 'b');
  const coords: Coords = { names: [...batchCoords.names, 'row', 'col'], flat: { name: 'o', shape: [...batch, m, n] } };
  const out = emitOutput(spec, coords);
  const rowA: TileAxis = { name: 'm', local: 'r', global: 'gr', tile: TILE_M, origin: 'row0', bound: 'M', extent: m, stride: a.rowStride };
  const kA: TileAxis = { name: 'k', local: 'kk', global: 'gk', tile: TILE_K, origin: 'k0', bound: 'K', extent: k, stride: a.colStride };
  const kB: TileAxis = { name: 'k', local: 'kk', global: 'gk', tile: TILE_K, origin: 'k0', bound: 'K', extent: k, stride: b.rowStride };
  const colB: TileAxis = { name: 'n', local: 'c', global: 'gc', tile: TILE_N, origin: 'col0', bound: 'N', extent: n, stride: b.colStride };
  const vecA = vec4Axis(spec, a, rowA, kA);
  const vecB = vec4Axis(spec, b, kB, colB);
  const vectors = new Set([...(vecA ? [a.buffer] : []), ...(vecB ? [b.buffer] : [])]);
  const loadsText = (axis: 'rows' | 'cols' | null, rowName: string, colName: string) =>
    axis ? `vec4 along ${axis === 'rows' ? rowName : colName}` : 'scalar';
  const loads = `tile loads: A ${loadsText(vecA, 'm', 'k')}, B ${loadsText(vecB, 'k', 'n')}`;
  const outputLets = [sizeOf(batch) > 1 ? `let o = bz * ${m * n}u + row * N + col;` : 'let o = row * N + col;'];
  // The K loop stays even when K = 0: it keeps both operands bound (layout 'auto' drops unused bindings).
  const body = [
    `let base_a = ${sum(batchTerms(a, batch, batchCoords.names), a.offset)};`,
    `let base_b = ${sum(batchTerms(b, batch, batchCoords.names), b.offset)};`,
    emitSumsDecl(type),
    `for (var k0 = 0u; k0 < K; k0 += ${TILE_K}u) {`,
    ...indent(emitTileLoad('A tile', a.buffer, 'base_a', rowA, kA, (r, kk) => `tile_a[${paren(kk)} * ${TILE_M}u + ${r}]`, dtype, vecA), 1),
    ...indent(emitTileLoad('B tile', b.buffer, 'base_b', kB, colB, (kk, c) => `tile_b[${paren(kk)} * ${TILE_N}u + ${c}]`, dtype, vecB), 1),
    ...indent(emitTileProduct(type), 1),
    '}',
    `for (var i = 0u; i < ${PER_THREAD_M}u; i++) {`,
    `  for (var j = 0u; j < ${PER_THREAD_N}u; j++) {`,
    `    let row = row0 + tid.y + i * ${THREADS_Y}u;`,
    `    let col = col0 + tid.x + j * ${THREADS_X}u;`,
    '    if (row < M && col < N) {',
    '      let acc = sums[i][j];',
    ...indent([...pruneLets(outputLets, out.code), ...out.code], 3),
    '    }',
    '  }',
    '}',
  ];
  const wgsl = [
    ...bufferDecls(spec.buffers, vectors),
    ...out.helpers,
    '',
    ...header(spec, `tiled${vectors.size > 0 ? '.vec4' : ''}: ${TILE_M}x${TILE_N} output tiles, K in steps of ${TILE_K}, ${PER_THREAD_M}x${PER_THREAD_N} outputs per thread; ${loads}`),
    '',
    `// The current K step of A and B, k-major: tile_a[kk * ${TILE_M} + r] = A(row0 + r, k0 + kk), tile_b[kk * ${TILE_N} + c] = B(k0 + kk, col0 + c).`,
    `var<workgroup> tile_a: array<${type}, ${TILE_M * TILE_K}>;`,
    `var<workgroup> tile_b: array<${type}, ${TILE_K * TILE_N}>;`,
    '',
    `@compute @workgroup_size(${THREADS_X}, ${THREADS_Y})`,
    'fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) tid: vec3u, @builtin(local_invocation_index) lid: u32) {',
    ...indent([...grid.code, ...pruneLets(batchLets, body), ...body], 1),
    '}',
    '',
  ].join('\n');
  return { wgsl, entryPoint: 'main', workgroups: grid.workgroups };
}
