// The k-major tile core (TileConfig.kdot): for products whose operands both load as vec4 along k (x @ w.T
// with both row-major: the MLP's layout). The default core keeps its tiles k-major in workgroup memory
// ([kk][m] and [kk][n]), so an operand read along k is transposed on the way in, four scalar stores per
// vector. Here the tiles stay as they are read, [m][k / 4] and [n][k / 4] in vec4 (one store per vector;
// rows padded by a vector where the memory allows, against bank conflicts), and the product takes four k at
// a time: output (i, j) += dot(A row i, B row j). A thread's rows are ty + i TY and its columns tx + j TX,
// so its stores are single elements, coalesced across tx. One workgroup-memory stage; the next step's loads
// are prefetched into registers before the product.
import type { TiledCore, TiledCoreSpec } from './gemm-tiled.js';
import { tileGrid, tileThreads } from './gemm-tiled.js';
import { indent, STORAGE_TYPE } from './wgsl.js';

export function generateKdotCore(spec: TiledCoreSpec, storage: number): TiledCore {
  const c = spec.config;
  const { dtype } = spec;
  if (spec.a.vec4 !== 'k' || spec.b.vec4 !== 'k') throw new Error(`internal: ${spec.kernel}: the k-major tile needs both operands loaded as vec4 along k`);
  const T = tileThreads(c);
  const TX = c.bn / c.tn;
  const TY = c.bm / c.tm;
  const v4 = `vec4<${STORAGE_TYPE[dtype]}>`;
  const q = c.bk / 4;
  const kChunk = spec.splits > 1 ? spec.kChunk : spec.k;
  const checkK = spec.k % c.bk !== 0;
  const width = (c.bm + c.bn) * (q + 1) * 16 <= storage ? q + 1 : q;
  const ops = [
    { name: 'a', op: spec.a, major: c.bm, origin: 'row0' },
    { name: 'b', op: spec.b, major: c.bn, origin: 'col0' },
  ].map((p) => ({ ...p, count: p.major * q, perThread: Math.ceil((p.major * q) / T), checkMajor: p.op.majorExtent % p.major !== 0 }));
  type Plan = (typeof ops)[number];
  const where = (i: number) => [`let e = lid${i === 0 ? '' : ` + ${i * T}u`};`, `let kq = e % ${q}u;`, `let x = e / ${q}u;`];
  const fetch = (p: Plan, k0: string): string[] =>
    Array.from({ length: p.perThread }, (_, i) => {
      const { op } = p;
      const index = [op.base, `gx${op.majorStride === 1 ? '' : ` * ${op.majorStride}u`}`, 'gk'].filter((x) => x !== '0u').join(' + ');
      const load = op.load ? `${op.load}(bz, gx, gk)` : `${op.buffer}[(${index}) / 4u]`;
      const checks = [...(p.count % T !== 0 && i === p.perThread - 1 ? [`lid + ${i * T}u < ${p.count}u`] : []), ...(p.checkMajor ? [`gx < ${op.majorExtent}u`] : []), ...(checkK ? ['gk < kend'] : [])];
      const body = [...where(i), `let gx = ${p.origin} + x;`, `let gk = ${k0} + kq * 4u;`];
      return checks.length === 0
        ? ['{', ...indent([...body, `f${p.name}${i} = ${load};`], 1), '}']
        : ['{', ...indent([...body, `f${p.name}${i} = ${v4}();`, `if (${checks.join(' && ')}) { f${p.name}${i} = ${load}; }`], 1), '}'];
    }).flat();
  const stash = (p: Plan): string[] =>
    Array.from({ length: p.perThread }, (_, i) => {
      const body = [...where(i), `tile_${p.name}[x][kq] = f${p.name}${i};`];
      return p.count % T !== 0 && i === p.perThread - 1 ? [`if (lid + ${i * T}u < ${p.count}u) {`, ...indent(body, 1), '}'] : ['{', ...indent(body, 1), '}'];
    }).flat();
  const acc = (i: number, j: number) => `c${i}_${j}`;
  const product: string[] = [];
  for (let kq = 0; kq < q; kq++) {
    const step = Array.from({ length: c.tn }, (_, j) => `let b${j} = tile_b[tx${j === 0 ? '' : ` + ${j * TX}u`}][${kq}];`);
    for (let i = 0; i < c.tm; i++) {
      step.push(`let a${i} = tile_a[ty${i === 0 ? '' : ` + ${i * TY}u`}][${kq}];`);
      for (let j = 0; j < c.tn; j++) step.push(`${acc(i, j)} += dot(a${i}, b${j});`);
    }
    product.push('{', ...indent(step, 1), '}');
  }
  const [pa, pb] = ops;
  const regs = ops.flatMap((p) => Array.from({ length: p.perThread }, (_, i) => `var f${p.name}${i}: ${v4};`));
  const accs = Array.from({ length: c.tm * c.tn }, (_, x) => `var ${acc(Math.floor(x / c.tn), x % c.tn)}: ${STORAGE_TYPE[dtype]} = ${STORAGE_TYPE[dtype]}(0);`);
  const kRange = spec.splits > 1 ? [`let kbeg = ks * ${kChunk}u;`, `let kend = min(kbeg + ${kChunk}u, ${spec.k}u);`] : ['let kbeg = 0u;', `let kend = ${spec.k}u;`];
  const loop = [
    '// Stage the first K step; then each step prefetches the next one into registers, multiplies the staged',
    '// one, and stores the prefetched tiles between two barriers.',
    'if (kbeg < kend) {',
    ...indent([...fetch(pa, 'kbeg'), ...fetch(pb, 'kbeg'), ...stash(pa), ...stash(pb)], 1),
    '}',
    'workgroupBarrier();',
    `for (var k0 = kbeg; k0 < kend; k0 += ${c.bk}u) {`,
    `  let k1 = k0 + ${c.bk}u;`,
    '  if (k1 < kend) {',
    ...indent([...fetch(pa, 'k1'), ...fetch(pb, 'k1')], 2),
    '  }',
    ...indent(product, 1),
    '  workgroupBarrier();',
    '  if (k1 < kend) {',
    ...indent([...stash(pa), ...stash(pb)], 2),
    '  }',
    '  workgroupBarrier();',
    '}',
  ];
  const stores: string[] = [];
  for (let i = 0; i < c.tm; i++) {
    for (let j = 0; j < c.tn; j++) stores.push(`wg_store(${spec.storeArgs}, row0 + ty${i === 0 ? '' : ` + ${i * TY}u`}, col0 + tx${j === 0 ? '' : ` + ${j * TX}u`}, ${acc(i, j)});`);
  }
  const grid = tileGrid(spec);
  return {
    decls: [
      `// The staged K step, as read: tile_a[r][kq] holds A(row0 + r, k0 + 4 kq ..), tile_b[c][kq] B(k0 + 4 kq .., col0 + c)${width > q ? ' (rows padded by a vector)' : ''}.`,
      `var<workgroup> tile_a: array<array<${v4}, ${width}>, ${c.bm}>;`,
      `var<workgroup> tile_b: array<array<${v4}, ${width}>, ${c.bn}>;`,
    ],
    workgroupSize: `${TX}, ${TY}`,
    body: [...grid.code, ...spec.prelude, 'let tx = tid.x;', 'let ty = tid.y;', ...kRange, ...accs, ...regs, ...loop, ...stores],
    workgroups: grid.workgroups,
    entry: [
      `@compute @workgroup_size(${TX}, ${TY})`,
      'fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) tid: vec3u, @builtin(local_invocation_index) lid: u32) {',
    ],
  };
}
