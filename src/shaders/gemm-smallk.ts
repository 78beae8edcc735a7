// The small-K GEMM core (src/shaders/matmul.ts chooses it for K <= SMALLK_MAX_K on outputs large enough to
// fill the GPU): C[m, n] = A[m, k] B[k, n] where every output is a short dot product, so the kernel is bound
// by writing C, not by arithmetic. The tiled kernel spends most of such a product staging two K steps
// through workgroup memory for a 64x64 tile; this one stages nothing:
// - each thread owns 4 consecutive columns and keeps B(0..k-1, those columns) in registers (k vectors, loaded
//   once: vec4 where B's rows are stride 1 and aligned);
// - the workgroup's thread rows then walk its block of `rows` rows of A, `ilp` rows at a time per thread (as
//   many independent accumulators): A(r, 0..k-1) is the same for the 32 threads of a thread row (a broadcast
//   load, vec4 along k where aligned), and each output vector is k multiply-adds of registers;
// - each result goes through the caller's `wg_store(bz, row, col, vec4)` (epilogue, bounds, vec4 store).
// No workgroup memory and no barrier, so the grid may fold and surplus workgroups return at once.
import { foldedGrid } from './matmul.js';
import { STORAGE_TYPE } from './wgsl.js';

/** The longest K the kernel takes: B's columns are 4k registers per thread. */
export const SMALLK_MAX_K = 32;

export interface SmallKConfig {
  /** Threads per thread row (4 columns each) and thread rows per workgroup. */
  readonly tx: number;
  readonly ty: number;
  /** Rows of A (and C) per workgroup: a multiple of ty * ilp. */
  readonly rows: number;
  /** Rows each thread computes at once (independent accumulators): 1, 2 or 4. */
  readonly ilp: number;
}

export function smallKConfigError(c: SmallKConfig): string | null {
  if (![c.tx, c.ty, c.rows, c.ilp].every((x) => Number.isInteger(x) && x >= 1)) return 'tx, ty, rows and ilp must be positive integers';
  if (c.tx * c.ty > 256) return 'more than 256 threads';
  if (![1, 2, 4].includes(c.ilp)) return 'ilp must be 1, 2 or 4';
  if (c.rows % (c.ty * c.ilp) !== 0) return 'rows must be a multiple of ty * ilp';
  return null;
}

export const smallKName = (c: SmallKConfig) => `smallk ${c.tx * 4}x${c.rows}/${c.ty}r.i${c.ilp}`;

export interface SmallKCoreSpec {
  readonly dtype: 'float32' | 'int32';
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly batches: number;
  /** A [m, k]: its buffer, base offset expression (in scope after the prelude), strides; vec4 along k or not. */
  readonly a: { readonly buffer: string; readonly base: string; readonly rowStride: number; readonly kStride: number; readonly vec4: boolean };
  /** B [k, n]: vec4 along n or not. */
  readonly b: { readonly buffer: string; readonly base: string; readonly kStride: number; readonly nStride: number; readonly vec4: boolean };
  readonly config: SmallKConfig;
  readonly maxPerDim: number;
  /** Lines after the grid code (bz in scope): the batch coordinates and bases. */
  readonly prelude: readonly string[];
}

export function generateSmallKCore(spec: SmallKCoreSpec): { entry: string[]; body: string[]; workgroups: [number, number, number]; describe: string } {
  const { dtype, m, n, k, a, b, config } = spec;
  const err = smallKConfigError(config);
  if (err) throw new Error(`internal: small-K config ${smallKName(config)}: ${err}`);
  if (k > SMALLK_MAX_K) throw new Error(`internal: the small-K kernel takes K <= ${SMALLK_MAX_K}, not ${k}`);
  const { tx, ty, rows, ilp } = config;
  const v4 = `vec4<${STORAGE_TYPE[dtype]}>`;
  const cols = tx * 4;
  const gx = Math.ceil(n / cols);
  const gy = Math.ceil(m / rows);
  const total = gx * gy * spec.batches;
  // Column block x, row block y, batch z; folded into one linear index past the grid limit.
  let grid: string[];
  let workgroups: [number, number, number];
  if (gx <= spec.maxPerDim && gy <= spec.maxPerDim && spec.batches <= spec.maxPerDim) {
    workgroups = [gx, gy, spec.batches];
    grid = ['let cb = wid.x;', 'let rb = wid.y;', 'let bz = wid.z;'];
  } else {
    const fold = foldedGrid('smallk', total, spec.maxPerDim);
    workgroups = fold.workgroups;
    grid = [...fold.code, `let bz = w / ${gx * gy}u;`, `let rb = w % ${gx * gy}u / ${gx}u;`, `let cb = w % ${gx}u;`];
  }
  const at = (base: string, terms: [string, number][]) =>
    [base, ...terms.filter(([, s]) => s !== 0).map(([x, s]) => (s === 1 ? x : `${x} * ${s}u`))].filter((x) => x !== '0u').join(' + ') || '0u';
  // B's registers: bv{q} = B(q, c0..c0+3) (b{d} are the batch coordinates); columns past n read as 0 (their outputs are not stored).
  const checkCol = n % cols !== 0;
  const bLoads: string[] = [];
  for (let q = 0; q < k; q++) {
    if (b.vec4) {
      const load = `${b.buffer}[(${at(b.base, [[`${q}u`, b.kStride], ['c0', b.nStride]])}) / 4u]`;
      bLoads.push(checkCol ? `var bv${q} = ${v4}(); if (c0 < ${n}u) { bv${q} = ${load}; }` : `let bv${q} = ${load};`);
    } else {
      const lanes = [0, 1, 2, 3].map((l) => {
        const load = `${b.buffer}[${at(b.base, [[`${q}u`, b.kStride], [l === 0 ? 'c0' : `(c0 + ${l}u)`, b.nStride]])}]`;
        return n % 4 !== 0 || checkCol ? `select(${STORAGE_TYPE[dtype]}(0), ${load}, c0 + ${l}u < ${n}u)` : load;
      });
      bLoads.push(`let bv${q} = ${v4}(${lanes.join(', ')});`);
    }
  }
  // One row's products: A(r, q) for each q (vec4 along k where aligned), multiply-added into acc{j}.
  const rowCode = (j: number): string[] => {
    const r = `r${j}`;
    const out: string[] = [];
    if (a.vec4) {
      for (let q = 0; q < k; q += 4) out.push(`let a${j}_${q / 4} = ${a.buffer}[(${at(a.base, [[`${r}`, a.rowStride], [`${q}u`, a.kStride]])}) / 4u];`);
    }
    for (let q = 0; q < k; q++) {
      const value = a.vec4 ? `a${j}_${q >> 2}[${q & 3}]` : `${a.buffer}[${at(a.base, [[r, a.rowStride], [`${q}u`, a.kStride]])}]`;
      out.push(dtype === 'float32' ? `acc${j} = fma(${v4}(${value}), bv${q}, acc${j});` : `acc${j} += ${v4}(${value}) * bv${q};`);
    }
    return out;
  };
  const step = ty * ilp;
  const body = [
    ...grid,
    ...spec.prelude,
    `let c0 = cb * ${cols}u + tid.x * 4u;`,
    `let row0 = rb * ${rows}u;`,
    `let rend = min(row0 + ${rows}u, ${m}u);`,
    // With K = 0 nothing reads the operands: keep them in the interface, as the bindings expect.
    ...(k === 0 ? [`_ = &${a.buffer};`, `_ = &${b.buffer};`] : []),
    `// B(q, c0..c0 + 3) for every q: ${k} vectors, loaded once.`,
    ...bLoads,
    `for (var r = row0 + tid.y; r < rend; r += ${step}u) {`,
    // Rows past m (in the last block) load row m - 1 and are not stored.
    ...Array.from({ length: ilp }, (_, j) => `  let r${j} = ${j === 0 ? 'r' : `min(r + ${j * ty}u, ${m - 1}u)`};`),
    ...Array.from({ length: ilp }, (_, j) => `  var acc${j} = ${v4}();`),
    ...Array.from({ length: ilp }, (_, j) => rowCode(j).map((l) => `  ${l}`)).flat(),
    ...Array.from({ length: ilp }, (_, j) => (j === 0 ? '  wg_store(bz, r, c0, acc0);' : `  if (r + ${j * ty}u < rend) { wg_store(bz, r + ${j * ty}u, c0, acc${j}); }`)),
    '}',
  ];
  return {
    entry: [`@compute @workgroup_size(${tx}, ${ty})`, 'fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) tid: vec3u) {'],
    body,
    workgroups,
    describe: `${smallKName(config)}: ${cols} columns x ${rows} rows per workgroup of ${tx}x${ty} threads, B's ${k} rows in registers, ${ilp} rows at a time; A ${a.vec4 ? 'vec4 along k' : 'scalar'}, B ${b.vec4 ? 'vec4 along n' : 'scalar'}`,
  };
}
