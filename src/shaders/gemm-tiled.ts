// The tiled, register-blocked GEMM core shared by matmul (src/shaders/matmul.ts) and SYRK (syrk.ts):
// C[m, n] += A[m, k] B[k, n] for one output tile per workgroup, parametric in its geometry (TileConfig).
//
// A workgroup of (bn / tn) x (bm / tm) threads computes a bm x bn output tile; each thread accumulates a
// tm x tn micro-tile in registers as vec4 accumulators (4 consecutive columns each). K advances in steps of
// bk: each step's A tile (bm x bk) and B tile (bk x bn) are staged in workgroup memory, k-major
// (`tile_a[kk][r]`, `tile_b[kk][c]`) and declared as arrays of vec4, so the product reads one vec4 of A
// (4 rows) and one vec4 of B (4 columns) per 16 multiply-adds. A thread owns rows ty*4 + r + q*4*TY and
// columns tx*4 + l + q*4*TX (r, l < 4; q < tm/4, tn/4): in a warp the B reads are consecutive vectors and
// the A reads a broadcast, so workgroup-memory reads are free of bank conflicts.
//
// Tile loads: consecutive threads read consecutive addresses of the operand. Where the operand's stride-1
// axis is aligned (the caller decides: CoreOperand.vec4) each thread reads one vec4: along the tile's
// major axis (m of A, n of B) it is stored as one vec4; along k its four components go to four k rows
// (then each k row is padded by one vec4, where it fits, so that those stores do not collide in banks).
// Otherwise elements are read one by one along the axis with the smaller stride.
//
// With `db` the next K step's tile loads are issued into registers before the current step's product and
// stored to the second of two workgroup-memory stages after it: one barrier per step, and the global
// loads' latency hides behind the product. Without it, one stage: load, barrier, product, barrier; with
// `prefetch` (one stage) the next step's loads are issued into registers before the product as with `db`,
// then barrier, store, barrier.
//
// `pairs` (with `db`): the loop body covers two K steps, the first on stage 0 and the second on stage 1, so
// every workgroup-memory index has a constant stage (no stage variable).
//
// `frag` (register fragments double-buffered, needs `unroll`): two sets of the A and B vectors a thread
// multiplies; the vectors of kk + 1 are read from workgroup memory before the multiply-adds of kk, and the
// step's boundary (the store of the prefetched tiles and the barrier) is moved before the multiply-adds of
// the last kk, whose vectors are already in registers: right after the barrier the next step's first
// vectors are read, so their latency hides behind those multiply-adds instead of stalling after the barrier
// (the ordering of the classic Maxwell-era SGEMM main loops). Every read of a stage still happens before the
// barrier that precedes the next store into it.
//
// Bounds: every extent is a compile-time constant, so a check is emitted only along an axis whose extent is
// not a multiple of its tile (loads outside read nothing and stage zeros; stores outside are skipped). The
// store of each accumulated vec4 is the caller's WGSL function (`wg_store`), which runs the epilogue.
//
// Split K (`splits` > 1): workgroup z also numbers a K range of `kChunk` (a multiple of bk); each writes
// its partial sums, and a combine dispatch adds them (src/shaders/matmul.ts).
import { foldedGrid, zero } from './matmul.js';
import { indent, STORAGE_TYPE } from './wgsl.js';

export interface TileConfig {
  /** Output tile of a workgroup (rows, columns) and the K step. */
  readonly bm: number;
  readonly bn: number;
  readonly bk: number;
  /** Outputs per thread (rows, columns): multiples of 4. */
  readonly tm: number;
  readonly tn: number;
  /** Two workgroup-memory stages with the next step's loads prefetched in registers. */
  readonly db: boolean;
  /** Unroll the loop over the K step in the WGSL (otherwise left to the driver's compiler). */
  readonly unroll: boolean;
  /** Launch order: this many row tiles per group, column tiles inside a group (L2 reuse); 0: row by row. */
  readonly group: number;
  /** One stage (db false): the next step's global loads prefetched into registers before the product. */
  readonly prefetch?: boolean;
  /** With db: two K steps per loop iteration, so the stage of every workgroup-memory index is a constant. */
  readonly pairs?: boolean;
  /** Register fragments double-buffered, the step boundary before the last kk's multiply-adds (needs unroll). */
  readonly frag?: boolean;
  /**
   * Staged stores: the accumulators go out through workgroup memory, a band of 4 rows per thread at a time
   * (4 * TY rows of the tile), and each thread then stores whole consecutive vectors of the band, so the
   * store function (the fused epilogue) runs on values read back from workgroup memory.
   */
  readonly staged?: boolean;
}

/** The storage a WebGPU device grants by default (maxComputeWorkgroupStorageSize); every default config fits. */
export const DEFAULT_WORKGROUP_STORAGE = 16384;
/** Threads a workgroup may have on every WebGPU device (maxComputeInvocationsPerWorkgroup default). */
const MAX_THREADS = 256;

export const tileThreads = (c: TileConfig) => (c.bm / c.tm) * (c.bn / c.tn);

/**
 * A config's short name, e.g. `128x128x8/8x8.db.u`: `.db` two stages, `.p` one stage with register prefetch,
 * `.k2` two K steps per loop iteration, `.u` unrolled K step, `.f` double-buffered register fragments, `.gN`
 * grouped launch order, `.s` staged stores.
 */
export function tileName(c: TileConfig): string {
  const flags = [c.db ? '.db' : '', c.prefetch ? '.p' : '', c.pairs ? '.k2' : '', c.unroll ? '.u' : '', c.frag ? '.f' : '', c.staged ? '.s' : '', c.group > 1 ? `.g${c.group}` : ''];
  return `${c.bm}x${c.bn}x${c.bk}/${c.tm}x${c.tn}${flags.join('')}`;
}

/** Why a config cannot be generated, or null. */
export function tileConfigError(c: TileConfig): string | null {
  const ints = [c.bm, c.bn, c.bk, c.tm, c.tn, c.group];
  if (!ints.every((x) => Number.isInteger(x) && x >= 0) || c.bm <= 0 || c.bn <= 0 || c.bk <= 0) return 'extents must be positive integers';
  if (c.tm <= 0 || c.tn <= 0 || c.tm % 4 !== 0 || c.tn % 4 !== 0) return 'tm and tn must be positive multiples of 4';
  if (c.bm % c.tm !== 0 || c.bn % c.tn !== 0) return 'bm and bn must be multiples of tm and tn';
  if (c.bk % 4 !== 0) return 'bk must be a multiple of 4';
  if (tileThreads(c) > MAX_THREADS) return `more than ${MAX_THREADS} threads`;
  if (c.prefetch && c.db) return 'prefetch is implied by db';
  if (c.pairs && !c.db) return 'pairs needs db';
  if (c.frag && !c.unroll) return 'frag needs unroll';
  if (c.staged && !bandFitsTiles(c)) return 'staged stores need one stage of square tiles that holds the band (bandFitsTiles)';
  return null;
}

/** Workgroup-memory bytes of a config (without the optional padding). */
export function tileStorageBytes(c: TileConfig): number {
  return (c.db ? 2 : 1) * c.bk * (c.bm + c.bn) * 4;
}

/**
 * Whether a staged store's band fits the tiles' own memory (which then stay unpadded): one stage of square
 * tiles, bk + bk rows of bn / 4 vectors holding the band's 4 TY rows, T vectors a whole number of band rows
 * that divides bk (so each store's read comes from one tile).
 */
const bandFitsTiles = (c: TileConfig) => {
  const rowsPerT = tileThreads(c) / (c.bn / 4);
  return !c.db && c.bm === c.bn && 2 * c.bk >= 4 * (c.bm / c.tm) && Number.isInteger(rowsPerT) && c.bk % rowsPerT === 0;
};

/** An operand as the core loads it: A with its m axis, B with its n axis as the tile's major axis. */
export interface CoreOperand {
  readonly buffer: string;
  /** WGSL expression of its element offset for the workgroup's batch (in scope after `prelude`). */
  readonly base: string;
  readonly majorStride: number;
  readonly kStride: number;
  /** m (for A) or n (for B). */
  readonly majorExtent: number;
  /** The axis loaded as vec4 (the buffer is bound as array<vec4<T>>), or null for scalar loads. */
  readonly vec4: 'major' | 'k' | null;
  /**
   * A prologue's load function (src/shaders/prologue.ts), called as `load(bz, gx, gk)` instead of reading
   * `buffer` (then unused, like base and the strides): a vec4 along the `vec4` axis, else one element.
   */
  readonly load?: string;
}

export interface TiledCoreSpec {
  readonly kernel: string;
  readonly dtype: 'float32' | 'int32';
  readonly m: number;
  readonly n: number;
  readonly k: number;
  /** Independent products (flat batch) the launch covers. */
  readonly batches: number;
  readonly a: CoreOperand;
  readonly b: CoreOperand;
  readonly config: TileConfig;
  /** K ranges (split K); 1: the whole K. */
  readonly splits: number;
  /** K per split, a multiple of bk (ignored with one split). */
  readonly kChunk: number;
  /** 'lower': only the tiles on and below the diagonal (SYRK; bm = bn, m = n). */
  readonly tiles: 'all' | 'lower';
  readonly maxPerDim: number;
  /** Lines after the grid code (bz, ks, row0 and col0 in scope): batch coordinates the bases use. */
  readonly prelude: readonly string[];
  /** Arguments of the caller's `wg_store` before (row, col, value): e.g. 'bz' or 'bz, ks'. */
  readonly storeArgs: string;
  /** Workgroup-memory bytes the device allows (padding is added only where it fits). */
  readonly workgroupStorage?: number;
}

export interface TiledCore {
  /** Module-scope declarations (workgroup memory). */
  readonly decls: string[];
  /** `@workgroup_size(...)` arguments. */
  readonly workgroupSize: string;
  /** The body of main (builtins wid, tid, lid). */
  readonly body: string[];
  readonly workgroups: [number, number, number];
  /** The WGSL compute attribute plus the main signature line. */
  readonly entry: string[];
}

/** Rows of tiles on and below the diagonal: t = rt (rt + 1) / 2 + ct; see TRI_ROW_HELPER in syrk.ts. */
const TRI_TILE = ['let rt = wg_tri_row(t);', 'let ct = t - rt * (rt + 1u) / 2u;'];

interface LoadPlan {
  readonly name: 'a' | 'b';
  readonly op: CoreOperand;
  /** Tile extent along the major axis, row width of the staged tile in vec4 (padding included). */
  readonly major: number;
  readonly width4: number;
  /** Elements (or vectors) a tile load moves, and per thread. */
  readonly count: number;
  readonly perThread: number;
  /** Which axis consecutive threads walk. */
  readonly fast: 'major' | 'k';
  readonly origin: string;
  readonly checkMajor: boolean;
}

export function generateTiledCore(spec: TiledCoreSpec): TiledCore {
  const c = spec.config;
  const err = tileConfigError(c);
  if (err) throw new Error(`internal: ${spec.kernel} tile config ${tileName(c)}: ${err}`);
  if (spec.tiles === 'lower' && (c.bm !== c.bn || spec.m !== spec.n)) throw new Error(`internal: ${spec.kernel}: lower-triangle tiles need bm = bn and m = n`);
  const { dtype } = spec;
  const T = tileThreads(c);
  const TX = c.bn / c.tn;
  const TY = c.bm / c.tm;
  const v4 = `vec4<${STORAGE_TYPE[dtype]}>`;
  const stages = c.db ? 2 : 1;
  const storage = spec.workgroupStorage ?? DEFAULT_WORKGROUP_STORAGE;

  // K: whole-tile steps need no check along k (split ranges are multiples of bk).
  const kChunk = spec.splits > 1 ? spec.kChunk : spec.k;
  if (spec.splits > 1 && (kChunk % c.bk !== 0 || Math.ceil(spec.k / kChunk) !== spec.splits)) {
    throw new Error(`internal: ${spec.kernel}: split K of ${spec.k} into ${spec.splits} x ${kChunk} (bk ${c.bk})`);
  }
  const checkK = spec.k % c.bk !== 0;

  const plan = (name: 'a' | 'b', op: CoreOperand, major: number, origin: string): LoadPlan => {
    const elems = op.vec4 ? (major * c.bk) / 4 : major * c.bk;
    // An axis of extent 1 has no meaningful stride: walk the other one.
    const fast = op.vec4 ? op.vec4 : op.majorExtent <= 1 ? 'k' : spec.k <= 1 ? 'major' : op.majorStride <= op.kStride ? 'major' : 'k';
    return { name, op, major, width4: major / 4, count: elems, perThread: Math.ceil(elems / T), fast, origin, checkMajor: op.majorExtent % major !== 0 };
  };
  let pa = plan('a', spec.a, c.bm, 'row0');
  let pb = plan('b', spec.b, c.bn, 'col0');
  // Pad the k rows of a tile whose loads scatter along k (4 component stores per vector, or scalar loads
  // walking k) by one vec4, where the workgroup memory allows it.
  const pad = (p: LoadPlan) => p.fast === 'k';
  const bytes = (p: LoadPlan, padded: boolean) => stages * c.bk * (p.major + (padded ? 4 : 0)) * 4;
  // (Not with staged stores, whose band takes the tiles' rows as they are.)
  if (!c.staged && pad(pa) && bytes(pa, true) + bytes(pb, pad(pb)) <= storage) pa = { ...pa, width4: pa.width4 + 1 };
  if (!c.staged && pad(pb) && bytes(pa, pa.width4 > c.bm / 4) + bytes(pb, true) <= storage) pb = { ...pb, width4: pb.width4 + 1 };
  // Workgroup memory is indexed [stage][kk][vector]: the robustness transform of WGSL compilers (Tint, in
  // Dawn and browsers) clamps every non-constant index of a fixed-size array. With the unrolled K step, kk is
  // a constant, the stage changes once per step and the vector index (ty + q * TY, tx + q * TX) never, so
  // each clamp is computed once and the product's loads keep constant offsets; a flat index would need a
  // clamp per load (measured on an H100: 12-16% of the time of a 4096^3 product).
  const tileType = (p: LoadPlan) => {
    const rows = `array<array<${v4}, ${p.width4}>, ${c.bk}>`;
    return c.db ? `array<${rows}, 2>` : rows;
  };
  const ref = (p: LoadPlan, stage: string | null, kk: string, i: string) => `tile_${p.name}${stage === null ? '' : `[${stage}]`}[${kk}][${i}]`;

  const grid = tileGrid(spec);
  const zeroV = `${v4}()`;

  // Global -> registers: `f{a|b}{i}` hold this thread's share of one tile.
  const where = (p: LoadPlan, i: number): string[] => {
    const e = i === 0 ? 'lid' : `lid + ${i * T}u`;
    if (p.op.vec4 === 'major') return [`let e = ${e};`, `let x = e % ${p.major / 4}u * 4u;`, `let kk = e / ${p.major / 4}u;`];
    if (p.op.vec4 === 'k') return [`let e = ${e};`, `let kk = e % ${c.bk / 4}u * 4u;`, `let x = e / ${c.bk / 4}u;`];
    return p.fast === 'major'
      ? [`let e = ${e};`, `let x = e % ${p.major}u;`, `let kk = e / ${p.major}u;`]
      : [`let e = ${e};`, `let kk = e % ${c.bk}u;`, `let x = e / ${c.bk}u;`];
  };
  const partial = (p: LoadPlan) => p.count % T !== 0;
  const regType = (p: LoadPlan) => (p.op.vec4 ? v4 : STORAGE_TYPE[dtype]);
  const fetch = (p: LoadPlan, k0: string): string[] => {
    const out: string[] = [];
    const { op } = p;
    const index = [op.base, `gx${op.majorStride === 1 ? '' : ` * ${op.majorStride}u`}`, `gk${op.kStride === 1 ? '' : ` * ${op.kStride}u`}`]
      .filter((x) => x !== '0u')
      .join(' + ');
    for (let i = 0; i < p.perThread; i++) {
      const checks = [...(p.checkMajor ? [`gx < ${op.majorExtent}u`] : []), ...(checkK ? ['gk < kend'] : [])];
      if (partial(p) && i === p.perThread - 1) checks.unshift(`lid + ${i * T}u < ${p.count}u`);
      const load = op.load ? `${op.load}(bz, gx, gk)` : `${op.buffer}[${op.vec4 ? `(${index}) / 4u` : index}]`;
      const body = [...where(p, i), `let gx = ${p.origin} + x;`, `let gk = ${k0} + kk;`];
      if (checks.length === 0) out.push('{', ...body.map((l) => `  ${l}`), `  f${p.name}${i} = ${load};`, '}');
      else out.push('{', ...body.map((l) => `  ${l}`), `  f${p.name}${i} = ${op.vec4 ? zeroV : zero(dtype)};`, `  if (${checks.join(' && ')}) { f${p.name}${i} = ${load}; }`, '}');
    }
    // Bounds checks read e, x, kk before their use: keep them inside blocks (see above).
    return out;
  };
  // Registers -> workgroup memory stage `so` (an offset in vec4).
  const stash = (p: LoadPlan, so: string): string[] => {
    const out: string[] = [];
    const stage = c.db ? so : null;
    for (let i = 0; i < p.perThread; i++) {
      const r = `f${p.name}${i}`;
      let stores: string[];
      if (p.op.vec4 === 'major') stores = [`${ref(p, stage, 'kk', 'x / 4u')} = ${r};`];
      else if (p.op.vec4 === 'k') stores = [0, 1, 2, 3].map((j) => `${ref(p, stage, j === 0 ? 'kk' : `kk + ${j}u`, 'x / 4u')}[x % 4u] = ${r}[${j}];`);
      else stores = [`${ref(p, stage, 'kk', 'x / 4u')}[x % 4u] = ${r};`];
      const body = [...where(p, i), ...stores];
      if (partial(p) && i === p.perThread - 1) out.push(`if (lid + ${i * T}u < ${p.count}u) {`, ...body.map((l) => `  ${l}`), '}');
      else out.push('{', ...body.map((l) => `  ${l}`), '}');
    }
    return out;
  };

  // The product of one staged step: per kk, tm/4 vec4 of A, tn/4 vec4 of B, tm * tn / 4 vec4 multiply-adds.
  const accName = (i: number, j: number) => `c${i}_${j}`;
  const fmas = (a: (q: number) => string, b: (q: number) => string): string[] => {
    const lines: string[] = [];
    for (let i = 0; i < c.tm; i++) {
      const ai = `${a(i >> 2)}.${'xyzw'[i & 3]}`;
      for (let j = 0; j < c.tn / 4; j++) {
        const acc = accName(i, j);
        lines.push(dtype === 'float32' ? `${acc} = fma(${v4}(${ai}), ${b(j)}, ${acc});` : `${acc} += ${ai} * ${b(j)};`);
      }
    }
    return lines;
  };
  const aAt = (stage: string | null, kk: string, q: number) => ref(pa, stage, kk, `ty${q === 0 ? '' : ` + ${q * TY}u`}`);
  const bAt = (stage: string | null, kk: string, q: number) => ref(pb, stage, kk, `tx${q === 0 ? '' : ` + ${q * TX}u`}`);
  const product = (stage: string | null): string[] => {
    const step = (kk: string): string[] => [
      ...Array.from({ length: c.tm / 4 }, (_, q) => `let a${q} = ${aAt(stage, kk, q)};`),
      ...Array.from({ length: c.tn / 4 }, (_, q) => `let b${q} = ${bAt(stage, kk, q)};`),
      ...fmas((q) => `a${q}`, (q) => `b${q}`),
    ];
    if (c.unroll) return Array.from({ length: c.bk }, (_, kk) => ['{', ...step(`${kk}u`).map((l) => `  ${l}`), '}']).flat();
    return [`for (var kk = 0u; kk < ${c.bk}u; kk++) {`, ...step('kk').map((l) => `  ${l}`), '}'];
  };
  // frag: fragment set s holds A vectors a{s}{q} and B vectors b{s}{q}; kk uses set kk % 2 (bk is even).
  const fragLoads = (set: number, stage: string | null, kk: number): string[] => [
    ...Array.from({ length: c.tm / 4 }, (_, q) => `a${set}${q} = ${aAt(stage, `${kk}u`, q)};`),
    ...Array.from({ length: c.tn / 4 }, (_, q) => `b${set}${q} = ${bAt(stage, `${kk}u`, q)};`),
  ];
  const fragFmas = (set: number) => fmas((q) => `a${set}${q}`, (q) => `b${set}${q}`);
  /**
   * One step's product with double-buffered fragments (set 0 of kk = 0 already loaded): `boundary` (the
   * store of the next step's tiles and its barrier) runs before the last kk's multiply-adds, then set 0 is
   * loaded from `next` (the stage the next step reads), then the last kk's multiply-adds.
   */
  const fragProduct = (stage: string | null, boundary: string[], next: { stage: string | null } | null): string[] => {
    const out: string[] = [];
    for (let kk = 0; kk < c.bk - 1; kk++) out.push('{', ...indent([...fragLoads((kk + 1) % 2, stage, kk + 1), ...fragFmas(kk % 2)]), '}');
    out.push(...boundary);
    if (next !== null) out.push(...fragLoads(0, next.stage, 0));
    out.push('{', ...indent(fragFmas((c.bk - 1) % 2)), '}');
    return out;
  };

  const regs = [
    ...Array.from({ length: pa.perThread }, (_, i) => `var fa${i}: ${regType(pa)};`),
    ...Array.from({ length: pb.perThread }, (_, i) => `var fb${i}: ${regType(pb)};`),
  ];
  if (c.frag) {
    for (const set of [0, 1]) {
      for (let q = 0; q < c.tm / 4; q++) regs.push(`var a${set}${q}: ${v4};`);
      for (let q = 0; q < c.tn / 4; q++) regs.push(`var b${set}${q}: ${v4};`);
    }
  }
  const accs: string[] = [];
  for (let i = 0; i < c.tm; i++) for (let j = 0; j < c.tn / 4; j++) accs.push(`var ${accName(i, j)} = ${v4}();`);
  const kRange =
    spec.splits > 1
      ? [`let kbeg = ks * ${kChunk}u;`, `let kend = min(kbeg + ${kChunk}u, ${spec.k}u);`]
      : ['let kbeg = 0u;', `let kend = ${spec.k}u;`];
  const ifNext = (lines: string[]) => ['if (k1 < kend) {', ...indent(lines), '}'];
  let loop: string[];
  if (c.db && !c.pairs && !c.frag) {
    loop = [
      '// Stage the first K step; then each step prefetches the next one into registers, multiplies the',
      '// staged one, and stores the prefetched tiles into the other stage: one barrier per step.',
      'if (kbeg < kend) {',
      ...indent([...fetch(pa, 'kbeg'), ...fetch(pb, 'kbeg'), ...stash(pa, '0u'), ...stash(pb, '0u')]),
      '}',
      'workgroupBarrier();',
      'var stage = 0u;',
      `for (var k0 = kbeg; k0 < kend; k0 += ${c.bk}u) {`,
      `  let k1 = k0 + ${c.bk}u;`,
      '  if (k1 < kend) {',
      ...indent([...fetch(pa, 'k1'), ...fetch(pb, 'k1')], 2),
      '  }',
      ...indent(product('stage')),
      '  if (k1 < kend) {',
      ...indent([...stash(pa, 'stage ^ 1u'), ...stash(pb, 'stage ^ 1u')], 2),
      '  }',
      '  workgroupBarrier();',
      '  stage = stage ^ 1u;',
      '}',
    ];
  } else if (c.db) {
    // One step on stage `cur` starting at K `kc`: prefetch the next step, multiply, store the prefetched
    // tiles into stage `nxt`, barrier (with frag, the store and the barrier come before the last kk).
    const step = (kc: string, cur: string, nxt: string): string[] => {
      const boundary = [...ifNext([...stash(pa, nxt), ...stash(pb, nxt)]), 'workgroupBarrier();'];
      return [
        `let k1 = ${kc} + ${c.bk}u;`,
        ...ifNext([...fetch(pa, 'k1'), ...fetch(pb, 'k1')]),
        ...(c.frag ? fragProduct(cur, boundary, { stage: nxt }) : [...product(cur), ...boundary]),
      ];
    };
    const head = [
      `// Stage the first K step; then each step prefetches the next one into registers, multiplies the staged one and`,
      `// stores the prefetched tiles into the other stage: one barrier per step${c.frag ? ', before the last kk (frag)' : ''}.`,
      'if (kbeg < kend) {',
      ...indent([...fetch(pa, 'kbeg'), ...fetch(pb, 'kbeg'), ...stash(pa, '0u'), ...stash(pb, '0u')]),
      '}',
      'workgroupBarrier();',
      ...(c.frag ? fragLoads(0, '0u', 0) : []),
    ];
    loop = c.pairs
      ? [
          ...head,
          '// Two steps per iteration: stage 0, then stage 1 (every stage index a constant).',
          `for (var k0 = kbeg; k0 < kend; k0 += ${2 * c.bk}u) {`,
          '  {',
          ...indent(step('k0', '0u', '1u'), 2),
          '  }',
          `  if (k0 + ${c.bk}u < kend) {`,
          ...indent(step(`k0 + ${c.bk}u`, '1u', '0u'), 2),
          '  }',
          '}',
        ]
      : [...head, 'var stage = 0u;', `for (var k0 = kbeg; k0 < kend; k0 += ${c.bk}u) {`, ...indent(step('k0', 'stage', 'stage ^ 1u')), '  stage = stage ^ 1u;', '}'];
  } else if (c.prefetch) {
    // One stage; the next step's loads are issued before the product and stored between two barriers.
    const boundary = ['workgroupBarrier();', ...ifNext([...stash(pa, '0u'), ...stash(pb, '0u')]), 'workgroupBarrier();'];
    loop = [
      '// Stage the first K step; then each step prefetches the next one into registers, multiplies the staged one,',
      `// and stores the prefetched tiles between two barriers${c.frag ? ' (frag: before the last kk)' : ''}.`,
      'if (kbeg < kend) {',
      ...indent([...fetch(pa, 'kbeg'), ...fetch(pb, 'kbeg'), ...stash(pa, '0u'), ...stash(pb, '0u')]),
      '}',
      'workgroupBarrier();',
      ...(c.frag ? fragLoads(0, null, 0) : []),
      `for (var k0 = kbeg; k0 < kend; k0 += ${c.bk}u) {`,
      `  let k1 = k0 + ${c.bk}u;`,
      ...indent(ifNext([...fetch(pa, 'k1'), ...fetch(pb, 'k1')])),
      ...indent(c.frag ? fragProduct(null, boundary, { stage: null }) : [...product(null), ...boundary]),
      '}',
    ];
  } else {
    loop = [
      `for (var k0 = kbeg; k0 < kend; k0 += ${c.bk}u) {`,
      ...indent([...fetch(pa, 'k0'), ...fetch(pb, 'k0'), ...stash(pa, '0u'), ...stash(pb, '0u')]),
      '  workgroupBarrier();',
      ...indent(c.frag ? [...fragLoads(0, null, 0), ...fragProduct(null, [], null)] : product(null)),
      '  workgroupBarrier();',
      '}',
    ];
  }
  const stores: string[] = [];
  const band4 = c.bn / 4;
  if (c.staged) {
    // Band q holds rows q * 4 TY .. of the tile: this thread's rows ty * 4 + r of it. After a barrier that
    // ends the last K step, each thread writes its vectors there (band row R in tile_a[R], or tile_b[R - bk]),
    // then, after another, stores vectors lid, lid + T, ... of the band (a warp: consecutive vectors of a row).
    const rowsPerT = T / band4;
    for (let q = 0; q < c.tm / 4; q++) {
      const writes = (tile: string, shift: string) => {
        const out: string[] = [];
        for (let r = 0; r < 4; r++) for (let j = 0; j < c.tn / 4; j++) out.push(`${tile}[ty * 4u + ${r}u${shift}][tx${j === 0 ? '' : ` + ${j * TX}u`}] = ${accName(q * 4 + r, j)};`);
        return out;
      };
      stores.push('workgroupBarrier();', `if (ty < ${c.bk / 4}u) {`, ...indent(writes('tile_a', '')), '} else {', ...indent(writes('tile_b', ` - ${c.bk}u`)), '}', 'workgroupBarrier();');
      for (let t = 0; t < (4 * TY) / rowsPerT; t++) {
        const lo = t * rowsPerT;
        const value = lo < c.bk ? `tile_a[lid / ${band4}u + ${lo}u][lid % ${band4}u]` : `tile_b[lid / ${band4}u + ${lo - c.bk}u][lid % ${band4}u]`;
        stores.push(`wg_store(${spec.storeArgs}, row0 + ${q * 4 * TY + lo}u + lid / ${band4}u, col0 + lid % ${band4}u * 4u, ${value});`);
      }
    }
  } else {
    for (let i = 0; i < c.tm; i++) {
      const row = `r0${(i & 3) === 0 ? '' : ` + ${i & 3}u`}${i >> 2 === 0 ? '' : ` + ${(i >> 2) * 4 * TY}u`}`;
      for (let j = 0; j < c.tn / 4; j++) {
        const col = `c0${j === 0 ? '' : ` + ${j * 4 * TX}u`}`;
        stores.push(`wg_store(${spec.storeArgs}, ${row}, ${col}, ${accName(i, j)});`);
      }
    }
  }
  const body = [
    ...grid.code,
    ...spec.prelude,
    'let tx = tid.x;',
    'let ty = tid.y;',
    ...kRange,
    ...accs,
    ...regs,
    ...loop,
    // A thread's first output row and column (staged stores address the band instead).
    ...(c.staged ? [] : [`let r0 = row0 + ty * 4u;`, `let c0 = col0 + tx * 4u;`]),
    ...stores,
  ];
  const decls = [
    `// The staged K steps (${stages} stage${stages > 1 ? 's' : ''}), k-major, in vec4: tile_a${c.db ? '[stage]' : ''}[kk][r / 4] holds A(row0 + r.., k0 + kk), tile_b${c.db ? '[stage]' : ''}[kk][c / 4] B(k0 + kk, col0 + c..)${pa.width4 > c.bm / 4 || pb.width4 > c.bn / 4 ? ' (rows padded by a vector)' : ''}.`,
    `var<workgroup> tile_a: ${tileType(pa)};`,
    `var<workgroup> tile_b: ${tileType(pb)};`,
  ];
  return {
    decls,
    workgroupSize: `${TX}, ${TY}`,
    body,
    workgroups: grid.workgroups,
    entry: [
      `@compute @workgroup_size(${TX}, ${TY})`,
      'fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) tid: vec3u, @builtin(local_invocation_index) lid: u32) {',
    ],
  };
}

/** How a tile load reads an operand, for the kernel's header comment. */
export function describeLoads(a: CoreOperand, b: CoreOperand): string {
  const one = (op: CoreOperand, major: string) => (op.vec4 === 'major' ? `vec4 along ${major}` : op.vec4 === 'k' ? 'vec4 along k' : 'scalar') + (op.load ? ` through ${op.load}` : '');
  return `tile loads: A ${one(a, 'm')}, B ${one(b, 'n')}`;
}

/**
 * Which tile, batch and K range a workgroup takes: x = column tile, y = row tile, z = batch * splits + split
 * where that fits the grid (and no launch order is asked for); otherwise the workgroups are numbered linearly
 * (split, batch, tile) and folded over x, y and z, the surplus workgroups of the last row leaving at once
 * (the id is uniform, so the barriers stay in uniform control flow).
 */
function tileGrid(spec: TiledCoreSpec): { workgroups: [number, number, number]; code: string[] } {
  const { bm, bn, group } = spec.config;
  const gx = Math.ceil(spec.n / bn);
  const gy = Math.ceil(spec.m / bm);
  const S = spec.splits;
  const zs = spec.batches * S;
  const splitLets = (z: string) => (S > 1 ? [`let bz = ${z} / ${S}u;`, `let ks = ${z} % ${S}u;`] : [`let bz = ${z};`, 'let ks = 0u;']);
  if (spec.tiles === 'lower') {
    const tiles = (gy * (gy + 1)) / 2;
    const tileLets = [...TRI_TILE, `let row0 = rt * ${bm}u;`, `let col0 = ct * ${bn}u;`];
    if (tiles <= spec.maxPerDim && zs <= spec.maxPerDim) return { workgroups: [tiles, 1, zs], code: ['let t = wid.x;', ...tileLets, ...splitLets('wid.z')] };
    const fold = foldedGrid(spec.kernel, tiles * zs, spec.maxPerDim);
    return { workgroups: fold.workgroups, code: [...fold.code, `let t = w % ${tiles}u;`, ...tileLets, ...splitLets(`w / ${tiles}u`)] };
  }
  const grouped = group > 1 && gy > group;
  if (!grouped && gx <= spec.maxPerDim && gy <= spec.maxPerDim && zs <= spec.maxPerDim) {
    return { workgroups: [gx, gy, zs], code: [`let row0 = wid.y * ${bm}u;`, `let col0 = wid.x * ${bn}u;`, ...splitLets('wid.z')] };
  }
  const tiles = gx * gy;
  const place = grouped
    ? [
        // Groups of `group` row tiles, walked column by column inside a group: neighbours share B columns and A rows in L2.
        `let gi = t / ${group * gx}u;`,
        `let rows = min(${group}u, ${gy}u - gi * ${group}u);`,
        `let ti = t % ${group * gx}u;`,
        `let row0 = (gi * ${group}u + ti % rows) * ${bm}u;`,
        `let col0 = ti / rows * ${bn}u;`,
      ]
    : [`let row0 = t / ${gx}u * ${bm}u;`, `let col0 = t % ${gx}u * ${bn}u;`];
  if (tiles <= spec.maxPerDim && zs <= spec.maxPerDim) {
    return { workgroups: [tiles, 1, zs], code: ['let t = wid.x;', ...place, ...splitLets('wid.z')] };
  }
  const fold = foldedGrid(spec.kernel, tiles * zs, spec.maxPerDim);
  return { workgroups: fold.workgroups, code: [...fold.code, `let t = w % ${tiles}u;`, ...place, ...splitLets(`w / ${tiles}u`)] };
}
