// The row kernel: what fuse-reduction builds. Each output row (one element of the kept axes) is owned by
// one workgroup, or by one thread when rows are short, which runs stages in order:
// - a reduce stage loops over the row evaluating an expression at each input coordinate and reduces it
//   (a workgroup merges its threads' partial results in a tree); the result is a row value;
// - a value stage computes a per-row value from earlier ones (mean = sum / n, rsqrt(var + eps));
// then stores row values, and finally maps the row once more to store per-element results that use the
// row values (softmax's exp(x - max) / sum). Expressions read row values as `value` steps, so a later
// reduction can depend on an earlier one (variance after the mean) inside one kernel.
// With options.subgroups (the device has the feature), a workgroup merges its threads' partial results
// through subgroup operations instead of the tree (reduce.ts, subgroupCombine: exact for max/min with NaN
// and for argmax/argmin), keeping the tree for workgroups whose subgroups are not laid out as blocks.
import type { DType } from '../ir/dtype.js';
import { sizeOf, stridesOf, type Shape } from '../ir/shape.js';
import { bufferDecls, type GeneratedKernel, type KernelBuffer } from './elementwise.js';
import { emitExpr, WGSL_ISNAN, wgslNanExtreme, indexOf, type Access, type Coords, type Expr } from './expr.js';
import { grid1d, LINEAR_WORKGROUP } from './grid.js';
import { SUBGROUP_BUILTIN, SUBGROUP_ENABLE, SUBGROUP_MODULE, subgroupCheck, subgroupCombine } from './reduce.js';
import { literal, literalHelpers, toStorage, VALUE_TYPE } from './wgsl.js';

export type RowReduceOp = 'sum' | 'prod' | 'max' | 'min' | 'argmax' | 'argmin';

export type RowStage =
  | {
      readonly kind: 'reduce';
      readonly op: RowReduceOp;
      /** dtype of the reduced values. */
      readonly dtype: DType;
      /** Evaluated at each input coordinate of the row; `step` is the reduced value. */
      readonly expr: Expr;
      readonly step: number;
      /** WGSL name of the row value (the reduction result: dtype, or i32 for arg*). */
      readonly name: string;
    }
  | { readonly kind: 'value'; readonly expr: Expr; readonly step: number; readonly name: string; readonly dtype: DType };

export interface RowSpec {
  readonly inShape: Shape;
  /** Sorted reduced axes of inShape. */
  readonly axes: readonly number[];
  readonly stages: readonly RowStage[];
  /** Row values to store, through accesses over the keep-dims output space. */
  readonly rowStores: readonly { readonly name: string; readonly dtype: DType; readonly buffer: string; readonly access: Access }[];
  /** A final pass over the row storing per-element values (accesses over inShape). */
  readonly map: { readonly expr: Expr; readonly stores: readonly { readonly step: number; readonly buffer: string; readonly dtype: DType; readonly access: Access }[] } | null;
  readonly buffers: readonly KernelBuffer[];
}

/** Rows at most this long are owned by one thread; longer rows by a workgroup. */
export const SERIAL_ROW = 64;
const SERIAL_THREADS = 64;

export interface RowOptions {
  /** Merge a workgroup's partial results through subgroup operations (the device must have 'subgroups'). */
  readonly subgroups?: boolean;
}

export function generateRow(spec: RowSpec, options: RowOptions = {}): GeneratedKernel {
  const { inShape, axes } = spec;
  const kept = inShape.map((_, d) => d).filter((d) => !axes.includes(d));
  const rows = sizeOf(kept.map((d) => inShape[d]));
  const extent = sizeOf(axes.map((d) => inShape[d]));
  const serial = extent <= SERIAL_ROW || rows >= 16 * extent;
  const threads = serial ? SERIAL_THREADS : extent > 4096 ? 256 : 64;
  const subgroups = !serial && options.subgroups === true && spec.stages.some((st) => st.kind === 'reduce');
  const inCoords: Coords = { names: inShape.map((_, d) => `c${d}`) };
  const keepCoords: Coords = { names: inShape.map((_, d) => (axes.includes(d) ? '0u' : `c${d}`)) };
  const helpers = new Set<string>();
  const shared = new Map<string, string>();
  const body: string[] = [];
  const loop = (inner: string[]) => [
    `for (var r = ${serial ? '0u' : 'lid'}; r < ${extent}u; r += ${serial ? '1u' : `${threads}u`}) {`,
    ...indent([...decompose('r', axes, inShape), ...inner]),
    '}',
  ];

  spec.stages.forEach((stage, k) => {
    if (stage.kind === 'value') {
      const e = emitExpr(stage.expr, keepCoords, `s${k}_`);
      e.helpers.forEach((h) => helpers.add(h));
      body.push(...e.code, `let ${stage.name}: ${VALUE_TYPE[stage.dtype]} = ${e.value(stage.step)};`);
      return;
    }
    const acc = accumulator(stage.op, stage.dtype);
    acc.helpers.forEach((h) => helpers.add(h));
    const e = emitExpr(stage.expr, inCoords, `s${k}_`);
    e.helpers.forEach((h) => helpers.add(h));
    const item = stage.dtype === 'bool' ? `select(0u, 1u, ${e.value(stage.step)})` : e.value(stage.step);
    const isArg = stage.op === 'argmax' || stage.op === 'argmin';
    body.push(`var p${k}: ${acc.type} = ${acc.identity};`, ...(isArg ? [`var p${k}_i: u32 = 0xffffffffu;`] : []));
    const update = isArg
      ? [`let it${k} = ${item};`, `if (${acc.better}(it${k}, r, p${k}, p${k}_i)) {`, `  p${k} = it${k};`, `  p${k}_i = r;`, '}']
      : [`p${k} = ${acc.combine(`p${k}`, item)};`];
    body.push(...loop([...e.code, ...update]));
    let result = `p${k}`;
    let index = `p${k}_i`;
    if (!serial) {
      const { vals, tree } = workgroupTree(shared, acc, isArg, threads, `p${k}`);
      if (subgroups) {
        // Thread 0 leaves the result in the arrays' entry 0; the barrier makes it visible to every thread.
        const combine = subgroupCombine({
          op: stage.op,
          dtype: stage.dtype,
          threads,
          vals,
          idx: isArg ? 'wg_idx' : undefined,
          value: `p${k}`,
          index: isArg ? `p${k}_i` : undefined,
        });
        combine.helpers.forEach(([name, text]) => {
          if (![...helpers].some((h) => h.includes(`fn ${name}(`))) helpers.add(text);
        });
        body.push('if (sg_mapped) {', ...indent([...combine.code, 'workgroupBarrier();']), '} else {', ...indent(tree), '}');
      } else body.push(...tree);
      body.push(
        `let w${k} = ${vals}[0];`,
        ...(isArg ? [`let w${k}_i = wg_idx[0];`] : []),
        // Every thread has read the result before the next stage reuses the workgroup arrays.
        'workgroupBarrier();',
      );
      result = `w${k}`;
      index = `w${k}_i`;
    }
    const value = isArg ? `i32(${index})` : stage.dtype === 'bool' ? `${result} != 0u` : result;
    body.push(`let ${stage.name}: ${VALUE_TYPE[isArg ? 'int32' : stage.dtype]} = ${value};`);
  });

  const rowStores = spec.rowStores.map((s) => `${s.buffer}[${indexOf(s.access, keepCoords)}] = ${toStorage(s.dtype, s.name)};`);
  if (rowStores.length > 0) body.push(...(serial ? rowStores : ['if (lid == 0u) {', ...indent(rowStores), '}']));
  if (spec.map) {
    const e = emitExpr(spec.map.expr, inCoords, 'm');
    e.helpers.forEach((h) => helpers.add(h));
    body.push(...loop([...e.code, ...spec.map.stores.map((s) => `${s.buffer}[${indexOf(s.access, inCoords)}] = ${toStorage(s.dtype, e.value(s.step))};`)]));
  }
  for (const h of literalHelpers([...body, ...helpers].join('\n'))) helpers.add(h);

  const header = `// row kernel: ${rows} row(s) of ${extent} over axes [${axes.join(', ')}] of [${inShape.join(', ')}], ${serial ? 'one thread' : `one workgroup of ${threads} threads`} per row${subgroups ? ', merged through subgroups' : ''}`;
  const start = serial ? `let o = (${LINEAR_WORKGROUP}) * ${threads}u + lid;` : `let o = ${LINEAR_WORKGROUP};`;
  const wgsl = [
    ...(subgroups ? [SUBGROUP_ENABLE] : []),
    header,
    ...bufferDecls(spec.buffers),
    ...shared.values(),
    ...(subgroups ? SUBGROUP_MODULE : []),
    ...helpers,
    '',
    `@compute @workgroup_size(${threads})`,
    `fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32${subgroups ? `, ${SUBGROUP_BUILTIN}` : ''}) {`,
    ...indent([
      start,
      // o depends only on the workgroup in the workgroup strategy, so this return keeps barriers uniform.
      `if (o >= ${rows}u) { return; }`,
      ...(subgroups ? subgroupCheck(threads) : []),
      ...decompose('o', kept, inShape),
      ...body,
    ]),
    '}',
    '',
  ].join('\n');
  return { wgsl, entryPoint: 'main', workgroups: grid1d(serial ? Math.ceil(rows / threads) : rows) };
}

/**
 * The workgroup tree over every thread's `value` (and `${value}_i` for arg*), declaring its arrays in
 * `shared`: the result is left in `${vals}[0]` (and `wg_idx[0]`).
 */
export function workgroupTree(shared: Map<string, string>, acc: Accumulator, isArg: boolean, threads: number, value: string): { vals: string; tree: string[] } {
  const vals = `wg_${acc.type}`;
  shared.set(vals, `var<workgroup> ${vals}: array<${acc.type}, ${threads}>;`);
  if (isArg) shared.set('wg_idx', `var<workgroup> wg_idx: array<u32, ${threads}>;`);
  const merge = isArg
    ? [`if (lid < s && ${acc.better}(${vals}[lid + s], wg_idx[lid + s], ${vals}[lid], wg_idx[lid])) {`, `  ${vals}[lid] = ${vals}[lid + s];`, '  wg_idx[lid] = wg_idx[lid + s];', '}']
    : ['if (lid < s) {', `  ${vals}[lid] = ${acc.combine(`${vals}[lid]`, `${vals}[lid + s]`)};`, '}'];
  const tree = [
    `${vals}[lid] = ${value};`,
    ...(isArg ? [`wg_idx[lid] = ${value}_i;`] : []),
    'workgroupBarrier();',
    `for (var s = ${threads >> 1}u; s > 0u; s >>= 1u) {`,
    ...indent(merge),
    '  workgroupBarrier();',
    '}',
  ];
  return { vals, tree };
}

export interface Accumulator {
  readonly type: string;
  readonly identity: string;
  combine(a: string, b: string): string;
  /** For argmax/argmin: the name of the function deciding whether (v, i) beats (bv, bi). */
  readonly better: string;
  readonly helpers: readonly string[];
}

/** The accumulator of a row reduction: WGSL type, identity, combine (or the arg* comparison) and helpers. */
export function accumulator(op: RowReduceOp, dtype: DType): Accumulator {
  const type = dtype === 'float32' ? 'f32' : dtype === 'int32' ? 'i32' : 'u32';
  const isFloat = dtype === 'float32';
  const lit = (v: number) => (dtype === 'bool' ? `${v}u` : literal(v, dtype));
  const plain = (identity: string, combine: (a: string, b: string) => string, helpers: string[] = []): Accumulator => ({ type, identity, combine, better: '', helpers });
  switch (op) {
    case 'sum':
      return plain(lit(0), (a, b) => `${a} + ${b}`);
    case 'prod':
      return plain(lit(1), (a, b) => `${a} * ${b}`);
    case 'max':
    case 'min': {
      const isMax = op === 'max';
      const fn = isMax ? 'max' : 'min';
      if (dtype === 'bool') return plain(isMax ? '0u' : '1u', (a, b) => `${fn}(${a}, ${b})`);
      if (!isFloat) return plain(lit(isMax ? -2147483648 : 2147483647), (a, b) => `${fn}(${a}, ${b})`);
      return plain(literal(isMax ? -Infinity : Infinity, 'float32'), (a, b) => `row_${fn}(${a}, ${b})`, [WGSL_ISNAN, wgslNanExtreme(`row_${fn}`, fn)]);
    }
    case 'argmax':
    case 'argmin': {
      const isMax = op === 'argmax';
      // Named by type too: one row kernel may take argmax of rows of two dtypes.
      const name = `row_${op}_better_${type}`;
      const nan = isFloat ? ['  let vn = wg_isnan(v);', '  let bn = wg_isnan(bv);', '  if (vn || bn) { return vn && (!bn || i < bi); }'] : [];
      const helper = [`fn ${name}(v: ${type}, i: u32, bv: ${type}, bi: u32) -> bool {`, ...nan, `  return v ${isMax ? '>' : '<'} bv || (v == bv && i < bi);`, '}'].join('\n');
      const identity = isFloat ? literal(isMax ? -Infinity : Infinity, 'float32') : dtype === 'bool' ? (isMax ? '0u' : '1u') : lit(isMax ? -2147483648 : 2147483647);
      return { type, identity, combine: () => '', better: name, helpers: isFloat ? [WGSL_ISNAN, helper] : [helper] };
    }
  }
}

/** `let c<d> = ...;` for the axes `axes` of `shape`, from the row-major linear index `linear` over them. */
function decompose(linear: string, axes: readonly number[], shape: Shape): string[] {
  const extents = axes.map((d) => shape[d]);
  const strides = stridesOf(extents);
  return axes.map((d, k) => {
    if (extents[k] <= 1) return `let c${d} = 0u;`;
    const q = strides[k] === 1 ? linear : `${linear} / ${strides[k]}u`;
    return `let c${d} = ${k === 0 ? q : `(${q}) % ${extents[k]}u`};`;
  });
}

function indent(lines: readonly string[]): string[] {
  return lines.map((l) => `  ${l}`);
}
