// Subgroup operations for the row kernels' reductions (row.ts: a workgroup per row merges its threads'
// partial results through subgroups; row-segments.ts checks the layout its shuffles rely on). Each subgroup
// reduces its lanes' values (subgroupAdd, subgroupMul, subgroupMax, subgroupMin), one lane per subgroup
// passes the result on through workgroup memory, until one value is left; the tree in workgroup memory is the
// fallback where the subgroups are not aligned blocks (subgroupCheck). Float max/min keep NaN propagation
// exact: the NaNs are counted separately (subgroupAny) and the max/min is taken over the other values.
// argmax/argmin reduce the value, then the smallest index holding it (the smallest NaN index first for
// floats), so the first-index and NaN semantics are exact too. Float sums and products are combined in a
// different order than the tree (within the tolerance the tests allow).
import type { DType } from '../ir/dtype.js';
import { WGSL_ISNAN } from './expr.js';
import type { RowReduceOp as ReduceOp } from './row.js';
import { indent, literal } from './wgsl.js';

const ISNAN: readonly [string, string] = ['wg_isnan', WGSL_ISNAN];


/** The directive a module using subgroup operations starts with. */
export const SUBGROUP_ENABLE = 'enable subgroups;';
/** The entry point parameter the subgroup code reads (the subgroup size is uniform within a dispatch). */
export const SUBGROUP_BUILTIN = '@builtin(subgroup_size) sg_size: u32';
/** Module-scope declarations of subgroupCheck. */
export const SUBGROUP_MODULE: readonly string[] = ['var<workgroup> sg_split: u32;'];

/**
 * Statements (in uniform control flow, all threads of the workgroup present, `lid` in scope) that set
 * `let sg_mapped: bool`, uniform over the workgroup: whether every subgroup is one aligned block of
 * `sg_size` consecutive local indices (lid / sg_size is its number). Implementations lay subgroups out so,
 * but WGSL does not promise it, and subgroupCombine relies on it; where it fails the workgroup takes the
 * tree. The test: every lane of a subgroup has the same lid / sg_size, and the subgroup has as many lanes as
 * that block has threads; then the subgroup is the whole block. Needs SUBGROUP_MODULE and SUBGROUP_BUILTIN.
 * With `lanes` (segmented rows, row-segments.ts: butterflies over runs of `lanes` threads), also each lane's
 * subgroup_invocation_id is lid % sg_size and sg_size >= lanes (needs SUBGROUP_ID_BUILTIN too).
 */
export function subgroupCheck(threads: number, lanes?: number): string[] {
  const segments = lanes === undefined ? '' : ` || sg_id != lid % sg_size || sg_size < ${lanes}u`;
  return [
    'let sg_q = lid / sg_size;',
    'let sg_same = subgroupAll(sg_q == subgroupBroadcastFirst(sg_q));',
    'let sg_lanes = subgroupAdd(1u);',
    'if (lid == 0u) { sg_split = 0u; }',
    'workgroupBarrier();',
    `if (!sg_same || sg_lanes != min(sg_size, ${threads}u - sg_q * sg_size) || sg_size < 2u${segments}) { sg_split = 1u; }`,
    'let sg_mapped = workgroupUniformLoad(&sg_split) == 0u;',
  ];
}

export interface SubgroupCombineSpec {
  readonly op: ReduceOp;
  /** dtype of the reduced values (bool is combined as u32 0/1). */
  readonly dtype: DType;
  readonly threads: number;
  /** Workgroup arrays of `threads` entries the partial results pass through: values, and indices for arg*. */
  readonly vals: string;
  readonly idx?: string;
  /** This thread's partial result (and its index, for arg*); the identity for a thread without elements. */
  readonly value: string;
  readonly index?: string;
}

/**
 * Combines every thread's partial result through subgroups, in levels: each subgroup reduces its lanes'
 * values, the first lane of block q stores the result at entry q of the workgroup array (the two halves of
 * the array take turns, so a level never overwrites what the previous one still reads), and the next level
 * reads entries 0..n-1 (the identity beyond), until one value is left. Leaves the result in vals[0] (and
 * idx[0]), written by thread 0; other threads must pass a barrier before reading it. Any subgroup size of 2
 * or more works (the loop ends when the subgroup size has reduced `threads` to one value); sg_size is
 * uniform, so the loop's barriers are too. Requires sg_mapped (subgroupCheck) to be true.
 */
export function subgroupCombine(spec: SubgroupCombineSpec): { code: string[]; helpers: (readonly [string, string])[] } {
  const { op, dtype, threads, vals, idx } = spec;
  const isArg = op === 'argmax' || op === 'argmin';
  if (isArg !== (idx !== undefined && spec.index !== undefined)) throw new Error(`internal: subgroup ${op} needs indices exactly for arg reductions`);
  const type = dtype === 'float32' ? 'f32' : dtype === 'int32' ? 'i32' : 'u32';
  const isFloat = dtype === 'float32';
  const identity = subgroupIdentity(op, dtype);
  const nan = literal(NaN, 'float32');
  const extreme = op === 'max' || op === 'argmax' ? 'subgroupMax' : 'subgroupMin';
  let level: string[];
  switch (op) {
    case 'sum':
      level = ['let sg_r = subgroupAdd(sg_x);'];
      break;
    case 'prod':
      level = ['let sg_r = subgroupMul(sg_x);'];
      break;
    case 'max':
    case 'min':
      // subgroupMax/Min of floats leave NaN to the implementation: NaNs are found from the bits instead.
      level = isFloat
        ? [
            'let sg_nan = subgroupAny(wg_isnan(sg_x));',
            `let sg_m = ${extreme}(select(sg_x, ${identity}, wg_isnan(sg_x)));`,
            `let sg_r = select(sg_m, ${nan}, sg_nan);`,
          ]
        : [`let sg_r = ${extreme}(sg_x);`];
      break;
    case 'argmax':
    case 'argmin':
      // The extreme value, then the smallest index holding it; for floats the smallest NaN index wins first.
      level = isFloat
        ? [
            'let sg_nan_i = subgroupMin(select(0xffffffffu, sg_i, wg_isnan(sg_x)));',
            `let sg_v = select(sg_x, ${identity}, wg_isnan(sg_x));`,
            `let sg_m = ${extreme}(sg_v);`,
            'let sg_mi = subgroupMin(select(0xffffffffu, sg_i, sg_v == sg_m));',
            'let sg_has_nan = sg_nan_i != 0xffffffffu;',
            `let sg_r = select(sg_m, ${nan}, sg_has_nan);`,
            'let sg_ri = select(sg_mi, sg_nan_i, sg_has_nan);',
          ]
        : [`let sg_r = ${extreme}(sg_x);`, 'let sg_ri = subgroupMin(select(0xffffffffu, sg_i, sg_x == sg_r));'];
      break;
  }
  const half = threads >> 1;
  const code = [
    `var sg_x: ${type} = ${spec.value};`,
    ...(isArg ? [`var sg_i: u32 = ${spec.index};`] : []),
    `var sg_n = ${threads}u;`,
    'var sg_base = 0u;',
    'loop {',
    ...indent(level),
    '  sg_n = (sg_n + sg_size - 1u) / sg_size;',
    '  if (sg_n == 1u) {',
    // Thread 0 is in the block of the last live entries: it holds the result.
    '    if (lid == 0u) {',
    `      ${vals}[0] = sg_r;`,
    ...(isArg ? [`      ${idx}[0] = sg_ri;`] : []),
    '    }',
    '    break;',
    '  }',
    '  if (lid % sg_size == 0u) {',
    `    ${vals}[sg_base + lid / sg_size] = sg_r;`,
    ...(isArg ? [`    ${idx}[sg_base + lid / sg_size] = sg_ri;`] : []),
    '  }',
    '  workgroupBarrier();',
    '  if (lid < sg_n) {',
    `    sg_x = ${vals}[sg_base + lid];`,
    ...(isArg ? [`    sg_i = ${idx}[sg_base + lid];`] : []),
    '  } else {',
    `    sg_x = ${identity};`,
    ...(isArg ? ['    sg_i = 0xffffffffu;'] : []),
    '  }',
    `  sg_base = ${half}u - sg_base;`,
    '}',
  ];
  const helpers = isFloat && op !== 'sum' && op !== 'prod' ? [ISNAN] : [];
  return { code, helpers };
}

/** The identity of a subgroup combine as WGSL (for arg*, of the value; the index's is 0xffffffffu). */
export function subgroupIdentity(op: ReduceOp, dtype: DType): string {
  const isMax = op === 'max' || op === 'argmax';
  if (op === 'sum' || op === 'prod') return dtype === 'bool' ? `${op === 'sum' ? 0 : 1}u` : literal(op === 'sum' ? 0 : 1, dtype);
  if (dtype === 'bool') return isMax ? '0u' : '1u';
  if (dtype === 'int32') return literal(isMax ? -2147483648 : 2147483647, 'int32');
  return literal(isMax ? -Infinity : Infinity, 'float32');
}
