// The GEMV / skinny-product core (src/shaders/matmul.ts chooses it when m or n is small): C[m, n] =
// A[m, k] B[k, n] with m at most GEMV_MAX_ROWS (matmul transposes the product when n is the short side).
// B, the large operand, is streamed exactly once; it decides the thread layout:
// - B's stride-1 axis is n ('n' layout): consecutive threads take consecutive columns (4 per thread as one
//   vec4 where aligned), and the wk thread rows of a workgroup take every wk-th k. Each thread keeps m
//   accumulators of its columns; A(i, k) is the same for a whole thread row (a broadcast load).
// - B's stride-1 axis is k ('k' layout): consecutive threads take consecutive k (4 per thread as one vec4
//   where aligned), wk threads per column, and the workgroup covers wn columns.
// The loop over k keeps `unroll` loads in flight per thread. Then the wk partial sums of each column are
// added through workgroup memory (a tree, one row of outputs at a time), and the threads of the first thread
// row store the results through the caller's `wg_store`. With split K, workgroup z also numbers a K range
// and the stores are partial sums (matmul adds a combine dispatch).
import { foldedGrid } from './matmul.js';
import { STORAGE_TYPE, VALUE_TYPE } from './wgsl.js';

export interface GemvConfig {
  /** Threads along n (columns per workgroup: wn, times 4 with vec4 columns) and along k (a power of 2). */
  readonly wn: number;
  readonly wk: number;
  /** Loads in flight per thread in the k loop (1, 2, 4 or 8). */
  readonly unroll: number;
}

export function gemvConfigError(c: GemvConfig): string | null {
  if (!Number.isInteger(c.wn) || !Number.isInteger(c.wk) || c.wn < 1 || c.wk < 1) return 'wn and wk must be positive integers';
  if ((c.wk & (c.wk - 1)) !== 0) return 'wk must be a power of 2';
  if (c.wn * c.wk > 256) return 'more than 256 threads';
  if (![1, 2, 4, 8].includes(c.unroll)) return 'unroll must be 1, 2, 4 or 8';
  return null;
}

/** Which axis of B consecutive threads walk: its vec4 axis, else the one with the smaller stride. */
export function gemvLayout(n: number, k: number, b: Pick<GemvCoreSpec['b'], 'kStride' | 'nStride' | 'vec4'>): 'n' | 'k' {
  if (b.vec4) return b.vec4 === 'major' ? 'n' : 'k';
  return n <= 1 ? 'k' : k <= 1 ? 'n' : b.nStride <= b.kStride ? 'n' : 'k';
}

export interface GemvCoreSpec {
  readonly dtype: 'float32' | 'int32';
  /** The kernel's product: m (small) x n, over k. */
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly batches: number;
  /**
   * The small operand [m, k]; vec4: loaded as vectors along k (with B's 'k' layout only); load: the name of
   * its prologue's load function `(bz, row, k)` (a vector along k with vec4, else a scalar) instead of the buffer.
   */
  readonly a: { readonly buffer: string; readonly base: string; readonly rowStride: number; readonly kStride: number; readonly vec4: boolean; readonly load?: string };
  /** The large operand [k, n]; vec4 along its n ('major') or k axis, or null. */
  readonly b: { readonly buffer: string; readonly base: string; readonly kStride: number; readonly nStride: number; readonly vec4: 'major' | 'k' | null };
  readonly config: GemvConfig;
  readonly splits: number;
  readonly kChunk: number;
  readonly maxPerDim: number;
  readonly prelude: readonly string[];
  readonly storeArgs: string;
}

export function generateGemvCore(spec: GemvCoreSpec): { decls: string[]; entry: string[]; body: string[]; workgroups: [number, number, number]; describe: string } {
  const { dtype, m, n, k, a, b, config } = spec;
  const { wn, wk, unroll } = config;
  const T = wn * wk;
  const layout = gemvLayout(n, k, b);
  const vn = b.vec4 === 'major' ? 4 : 1;
  const vk = b.vec4 === 'k' ? 4 : 1;
  const st = STORAGE_TYPE[dtype];
  const vt = vn === 4 ? `vec4<${st}>` : VALUE_TYPE[dtype];
  const cols = wn * vn;
  const gx = Math.ceil(n / cols);
  const S = spec.splits;
  const zs = spec.batches * S;
  const zLets = (z: string) => (S > 1 ? [`let bz = ${z} / ${S}u;`, `let ks = ${z} % ${S}u;`] : [`let bz = ${z};`, 'let ks = 0u;']);
  let grid: { workgroups: [number, number, number]; code: string[] };
  if (gx <= spec.maxPerDim && zs <= spec.maxPerDim) grid = { workgroups: [gx, 1, zs], code: [`let n0 = wid.x * ${cols}u;`, ...zLets('wid.z')] };
  else {
    const fold = foldedGrid('gemv', gx * zs, spec.maxPerDim);
    grid = { workgroups: fold.workgroups, code: [...fold.code, `let n0 = w % ${gx}u * ${cols}u;`, ...zLets(`w / ${gx}u`)] };
  }
  const threadLets = layout === 'n' ? [`let tn = lid % ${wn}u;`, `let tk = lid / ${wn}u;`] : [`let tk = lid % ${wk}u;`, `let tn = lid / ${wk}u;`];
  const kRange = S > 1 ? [`let kbeg = ks * ${spec.kChunk}u;`, `let kend = min(kbeg + ${spec.kChunk}u, ${k}u);`] : ['let kbeg = 0u;', `let kend = ${k}u;`];
  const term = (x: string, s: number) => (s === 0 ? '' : s === 1 ? ` + ${x}` : ` + ${x.includes(' ') ? `(${x})` : x} * ${s}u`);
  // One k position (or 4 with vec4 along k) at kq + off: the loads, then the multiply-adds.
  const loads = (u: number, kq: string): string[] => {
    const lines: string[] = [];
    const bIndex = `${b.base}${term(kq, b.kStride)}${term('col', b.nStride)}`;
    lines.push(`let bq${u} = ${b.buffer}[${b.vec4 ? `(${bIndex}) / 4u` : bIndex}];`);
    for (let i = 0; i < m; i++) {
      if (a.load) {
        lines.push(`let aq${u}_${i} = ${a.load}(bz, ${i}u, ${kq});`);
        continue;
      }
      const aIndex = `${a.base}${i === 0 ? '' : ` + ${i * a.rowStride}u`}${term(kq, a.kStride)}`;
      if (vk === 4) {
        lines.push(
          a.vec4
            ? `let aq${u}_${i} = ${a.buffer}[(${aIndex}) / 4u];`
            : `let aq${u}_${i} = vec4<${st}>(${[0, 1, 2, 3].map((j) => `${a.buffer}[${aIndex}${j === 0 ? '' : ` + ${j * a.kStride}u`}]`).join(', ')});`,
        );
      } else lines.push(`let aq${u}_${i} = ${a.buffer}[${aIndex}];`);
    }
    return lines;
  };
  const fmas = (u: number): string[] =>
    Array.from({ length: m }, (_, i) => {
      const x = `aq${u}_${i}`;
      const y = `bq${u}`;
      if (vk === 4) return dtype === 'float32' ? `acc${i} += dot(${x}, ${y});` : `acc${i} += ${x}.x * ${y}.x + ${x}.y * ${y}.y + ${x}.z * ${y}.z + ${x}.w * ${y}.w;`;
      return `acc${i} += ${x} * ${y};`;
    });
  const step = wk * vk;
  const kOff = (u: number) => (u === 0 ? 'kq' : `kq + ${u * step}u`);
  const block = (count: number): string[] => {
    const lines: string[] = [];
    for (let u = 0; u < count; u++) lines.push(...loads(u, kOff(u)).map((l) => `    ${l}`));
    for (let u = 0; u < count; u++) lines.push(...fmas(u).map((l) => `    ${l}`));
    return lines;
  };
  const loop = [
    `var kq = kbeg + tk${vk === 4 ? ' * 4u' : ''};`,
    ...(unroll > 1 ? [`for (; kq + ${(unroll - 1) * step}u < kend; kq += ${unroll * step}u) {`, ...block(unroll).map((l) => l.slice(2)), '}'] : []),
    `for (; kq < kend; kq += ${step}u) {`,
    ...block(1).map((l) => l.slice(2)),
    '}',
  ];
  const checkCol = n % cols !== 0;
  const body: string[] = [
    ...grid.code,
    ...spec.prelude,
    ...threadLets,
    `let col = n0 + tn${vn === 4 ? ' * 4u' : ''};`,
    ...kRange,
    ...Array.from({ length: m }, (_, i) => `var acc${i} = ${vt}();`),
    ...(checkCol ? ['if (col < N) {', ...loop.map((l) => `  ${l}`), '}'] : loop),
  ];
  // The wk partial sums of each column, added through workgroup memory one output row at a time.
  const results: string[] = [];
  for (let i = 0; i < m; i++) {
    if (wk === 1) {
      results.push(`let res${i} = acc${i};`);
      continue;
    }
    body.push(
      `red[tk * ${wn}u + tn] = acc${i};`,
      'workgroupBarrier();',
      `for (var s = ${wk / 2}u; s > 0u; s = s >> 1u) {`,
      `  if (tk < s) { red[tk * ${wn}u + tn] += red[(tk + s) * ${wn}u + tn]; }`,
      '  workgroupBarrier();',
      '}',
      `var res${i}: ${vt};`,
      `if (tk == 0u) { res${i} = red[tn]; }`,
    );
    // Only the first thread row reads the sums (red[tn]), and it alone writes red[tn] for the next row.
  }
  body.push(...results, 'if (tk == 0u) {', ...Array.from({ length: m }, (_, i) => `  wg_store(${spec.storeArgs}, ${i}u, col, res${i});`), '}');
  const decls = [`const N = ${n}u;`, ...(wk > 1 ? [`// The partial sums of one output row: red[tk * ${wn} + tn].`, `var<workgroup> red: array<${vt}, ${T}>;`] : [])];
  const describe = `${layout} layout, ${wn} x ${wk} threads (n x k), ${vn === 4 ? 'vec4 columns' : vk === 4 ? 'vec4 along k' : 'scalar'}, ${unroll} loads in flight`;
  return {
    decls,
    entry: [`@compute @workgroup_size(${T})`, 'fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {'],
    body,
    workgroups: grid.workgroups,
    describe,
  };
}
