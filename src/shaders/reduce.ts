// The reduction kernel: sum, prod, max, min over a set of axes and argmax, argmin over one axis. The input
// is an expression evaluated at each input coordinate (a single load when unfused, elementwise producers
// fused in later: sum(a * b)), and an optional epilogue turns each reduced value into what is stored
// (mean = acc / n). Two strategies, chosen by shape (chooseReduceStrategy):
// - serial: one thread per output element loops over the R reduced elements in order. Best when R is small
//   or there are many outputs (the outputs alone fill the device).
// - workgroup: one workgroup per output element (256 threads when R > 4096, else 64: most would idle on
//   shorter rows); each thread strides over the reduced elements, then a tree reduction in workgroup memory
//   combines the partial results.
// Either way the launch is folded into a 2-D grid when it exceeds 65,535 workgroups (grid.ts).
//
// Subgroups (options.subgroups, where the device has the feature): the workgroup strategy combines the
// threads' partial results with subgroup operations (subgroupAdd, subgroupMul, subgroupMax, subgroupMin) in
// levels: each subgroup reduces its lanes' values, one lane per subgroup passes the result on through
// workgroup memory, until one value is left; the tree in workgroup memory is the fallback (subgroupCombine).
// Float max/min keep NaN propagation exact: the NaNs are counted separately (subgroupAny) and the max/min is
// taken over the other values. argmax/argmin reduce the value, then the smallest index holding it (and the
// smallest NaN index first for floats), so the first-index and NaN semantics are exact too. Float sums and
// products are combined in a different order (within the tolerance the tests allow). The serial strategy has
// no workgroup combine and does not change.
//
// Numerics (docs/semantics.md): float sums and products accumulate in f32 (the order differs from the CPU
// reference, which accumulates in f64), int32 wraps (WGSL i32 arithmetic wraps), max/min of float propagate
// NaN (tested on the bits: compilers may assume x == x), max/min of bool are any/all (accumulated as u32
// 0/1), argmax/argmin give the first extreme index, the first NaN if any.
import type { DType } from '../ir/dtype.js';
import { sizeOf, stridesOf, type Shape } from '../ir/shape.js';
import { bufferDecls, type GeneratedKernel, type KernelBuffer } from './elementwise.js';
import { emitExpr, WGSL_ISNAN, wgslNanExtreme, indexOf, type Access, type Coords, type Expr } from './expr.js';
import { grid1d, LINEAR_WORKGROUP, MAX_WORKGROUPS_PER_DIM } from './grid.js';
import { indent, literal, literalHelpers, toStorage, VALUE_TYPE } from './wgsl.js';

export type ReduceOp = 'sum' | 'prod' | 'max' | 'min' | 'argmax' | 'argmin';

export interface ReduceSpec {
  readonly op: ReduceOp;
  /** The index space of the reduction's input: its shape. */
  readonly inShape: Shape;
  /** Sorted axes of inShape that are reduced (argmax/argmin: exactly one). May be empty (a copy). */
  readonly axes: readonly number[];
  /** Evaluated at every input coordinate; `inputStep` is the value reduced. Unfused this is a single load
   *  through a strided Access; the fusion pass will put elementwise producers here (sum(a*b)). */
  readonly input: Expr;
  readonly inputStep: number;
  /** Optional, evaluated once per output element: an Expr with a `value` step whose name is 'acc' (the reduced
   *  value, dtype of the reduction result), e.g. mean = acc / n. `epilogueStep` is what is stored. */
  readonly epilogue?: { readonly expr: Expr; readonly step: number };
  readonly buffers: readonly KernelBuffer[];
  /** Where results go: an Access over the output index space = the kept (non-reduced) axes of inShape, in order. */
  readonly store: { readonly buffer: string; readonly access: Access };
}

export type ReduceStrategy = 'serial' | 'workgroup';

export interface ReduceOptions {
  /** Overrides chooseReduceStrategy (tests run both strategies on the same cases). */
  readonly strategy?: ReduceStrategy;
  /** Overrides the 65,535 workgroups per grid dimension (tests force the 2-D fold on small launches). */
  readonly maxWorkgroupsPerDim?: number;
  /** Threads per workgroup of the workgroup strategy (a power of two up to 256); default reduceWorkgroupSize. */
  readonly workgroupSize?: number;
  /** Combine the workgroup strategy's partial results through subgroup operations (the device must have
   *  the 'subgroups' feature: the WGSL enables it). */
  readonly subgroups?: boolean;
}

/** Threads per workgroup of the serial strategy (one output element per thread). */
export const SERIAL_WORKGROUP = 256;
/** Above this reduced extent a workgroup has 256 threads, up to it 64 (most would idle on short rows). */
export const LARGE_EXTENT = 4096;
/** Reduced extents up to this are always reduced serially: a workgroup would leave most threads idle. */
export const SERIAL_MAX_EXTENT = 64;
/** With at least this many outputs per reduced element, one thread per output already fills the device. */
export const SERIAL_OUTPUTS_PER_ELEMENT = 16;

/** serial when R <= 64 or outputs >= 16 R; otherwise one workgroup per output element. */
export function chooseReduceStrategy(outputs: number, extent: number): ReduceStrategy {
  return extent <= SERIAL_MAX_EXTENT || outputs >= SERIAL_OUTPUTS_PER_ELEMENT * extent ? 'serial' : 'workgroup';
}

/** Threads per workgroup of the workgroup strategy: 256 for extents above 4096, else 64. */
export function reduceWorkgroupSize(extent: number): number {
  return extent > LARGE_EXTENT ? 256 : 64;
}

/** The shape of the output index space (the kept axes, in order) and the reduced extent R. */
export function reduceGeometry(inShape: Shape, axes: readonly number[]): { outShape: number[]; extent: number } {
  return {
    outShape: inShape.filter((_, d) => !axes.includes(d)),
    extent: sizeOf(axes.map((d) => inShape[d])),
  };
}

// Names the generated code declares; a buffer with one of these names would be shadowed.
const RESERVED = new Set(['o', 'r', 's', 'flat', 'part', 'part_i', 'item', 'acc', 'in_range', 'lid', 'wid', 'nwg', 'main', 'rd_val', 'rd_idx']);
const RESERVED_PATTERN = /^([cve]\d+|rd_\w*|wg_\w*|sg_\w*)$/;

export function generateReduce(spec: ReduceSpec, options: ReduceOptions = {}): GeneratedKernel {
  const { op, inShape, axes } = spec;
  const inDtype = check(spec);
  const isArg = op === 'argmax' || op === 'argmin';
  const resultDtype: DType = isArg ? 'int32' : inDtype;
  const { outShape, extent } = reduceGeometry(inShape, axes);
  const outputs = sizeOf(outShape);
  const strategy = options.strategy ?? chooseReduceStrategy(outputs, extent);
  const maxPerDim = options.maxWorkgroupsPerDim ?? MAX_WORKGROUPS_PER_DIM;
  const threads = options.workgroupSize ?? reduceWorkgroupSize(extent);
  if (!(Number.isInteger(Math.log2(threads)) && threads >= 1 && threads <= 256)) {
    throw new Error(`internal: reduce workgroup size ${threads} is not a power of two up to 256`);
  }
  const kept = inShape.map((_, d) => d).filter((d) => !axes.includes(d));
  const acc = accumulator(op, inDtype);
  const subgroups = strategy === 'workgroup' && options.subgroups === true;

  // Coordinates: c<d> for axis d of inShape; kept ones come from the output index o, reduced ones from the
  // reduced-linear index r (row-major over the reduced axes).
  const keptCoords = decompose('o', kept, inShape);
  const reducedCoords = decompose('r', axes, inShape);
  const flat = flatIndex(inShape, kept, axes, outputs, extent);
  const inputCoords: Coords = { names: inShape.map((_, d) => `c${d}`), flat: flat === undefined ? undefined : { name: 'flat', shape: inShape } };
  const outCoords: Coords = { names: kept.map((d) => `c${d}`), flat: { name: 'o', shape: outShape } };

  const input = emitExpr(spec.input, inputCoords, 'v');
  const value = input.value(spec.inputStep);
  const item = inDtype === 'bool' ? 'item' : value;
  // Without an identity (float max/min: WGSL has no infinity literal; arg*: pairs), the first element a
  // thread visits starts its partial result: r == 0 serially, r == lid in a workgroup.
  const first = strategy === 'serial' ? '0u' : 'lid';
  const update = isArg
    ? [`if (r == ${first} || rd_better(${item}, r, part, part_i)) {`, `  part = ${item};`, '  part_i = r;', '}']
    : acc.identity === undefined
      ? [`part = select(${acc.combine('part', item)}, ${item}, r == ${first});`]
      : [`part = ${acc.combine('part', item)};`];
  const loopBody = prune([
    ...reducedCoords,
    ...(flat ? [`let flat = ${flat};`] : []),
    ...input.code,
    ...(inDtype === 'bool' ? [`let item: u32 = select(0u, 1u, ${value});`] : []),
    ...update,
  ]);

  // The reduced value as `acc` (the reduction's result dtype), then the epilogue, then the store.
  const final = (val: string, idx: string) =>
    isArg ? `let acc: i32 = i32(${idx});` : `let acc: ${VALUE_TYPE[resultDtype]} = ${inDtype === 'bool' ? `${val} != 0u` : val};`;
  const epilogue = spec.epilogue && emitExpr(spec.epilogue.expr, outCoords, 'e');
  const storeDtype = spec.buffers.find((b) => b.name === spec.store.buffer)!.dtype;
  const stored = epilogue ? epilogue.value(spec.epilogue!.step) : 'acc';
  const store = `${spec.store.buffer}[${indexOf(spec.store.access, outCoords)}] = ${toStorage(storeDtype, stored)};`;
  const tail = [...(epilogue?.code ?? []), store];

  const helpers = new Set<string>();
  for (const h of [...input.helpers, ...(epilogue?.helpers ?? [])]) helpers.add(h);
  for (const [name, text] of acc.helpers) if (![...helpers].some((h) => h.includes(`fn ${name}(`))) helpers.add(text);

  const declare = [
    acc.identity === undefined ? `var part: ${acc.type}; // set by the first element` : `var part: ${acc.type} = ${acc.identity};`,
    ...(isArg ? ['var part_i: u32;'] : []),
  ];
  const what = `${op} over ${axes.length === 1 ? 'axis' : 'axes'} [${axes.join(', ')}] of [${inShape.join(', ')}] -> [${outShape.join(', ')}]`;
  let header: string;
  let module: string[];
  let body: string[];
  let workgroups: number;
  if (strategy === 'serial') {
    header = `// ${what}: one thread per output element loops over the ${extent} reduced element(s)`;
    module = [];
    body = [
      `let o = (${LINEAR_WORKGROUP}) * ${SERIAL_WORKGROUP}u + lid;`,
      `if (o >= ${outputs}u) { return; }`,
      ...prune(keptCoords, [...loopBody, ...tail]),
      ...declare,
      `for (var r = 0u; r < ${extent}u; r += 1u) {`,
      ...indent(loopBody),
      '}',
      final('part', 'part_i'),
      ...tail,
    ];
    workgroups = Math.ceil(outputs / SERIAL_WORKGROUP);
  } else {
    header = subgroups
      ? `// ${what}: one workgroup of ${threads} threads per output element, combined through subgroups`
      : `// ${what}: one workgroup of ${threads} threads per output element, then a tree reduction`;
    module = [
      `var<workgroup> rd_val: array<${acc.type}, ${threads}>;`,
      ...(isArg ? [`var<workgroup> rd_idx: array<u32, ${threads}>;`] : []),
      ...(subgroups ? SUBGROUP_MODULE : []),
    ];
    // With fewer elements than threads, slots from `extent` on hold no element: they are never merged.
    const guard = extent > 0 && extent < threads ? `lid < s && lid + s < ${extent}u` : 'lid < s';
    const merge = isArg
      ? [
          `if (${guard} && rd_better(rd_val[lid + s], rd_idx[lid + s], rd_val[lid], rd_idx[lid])) {`,
          '  rd_val[lid] = rd_val[lid + s];',
          '  rd_idx[lid] = rd_idx[lid + s];',
          '}',
        ]
      : [`if (${guard}) {`, `  rd_val[lid] = ${acc.combine('rd_val[lid]', 'rd_val[lid + s]')};`, '}'];
    const tree = [
      'rd_val[lid] = part;',
      ...(isArg ? ['rd_idx[lid] = part_i;'] : []),
      'workgroupBarrier();',
      `for (var s = ${threads >> 1}u; s > 0u; s >>= 1u) {`,
      ...indent(merge),
      '  workgroupBarrier();',
      '}',
    ];
    // Threads without elements (extent < threads) hold no partial result: the subgroup path gives them the
    // identity (the tree never merges their slots).
    const empty = extent < threads ? `lid >= ${extent}u` : '';
    const combine = subgroups
      ? subgroupCombine({
          op,
          dtype: inDtype,
          threads,
          vals: 'rd_val',
          idx: isArg ? 'rd_idx' : undefined,
          value: empty ? `select(part, ${subgroupIdentity(op, inDtype)}, ${empty})` : 'part',
          index: isArg ? (empty ? `select(part_i, 0xffffffffu, ${empty})` : 'part_i') : undefined,
        })
      : null;
    combine?.helpers.forEach(([name, text]) => {
      if (![...helpers].some((h) => h.includes(`fn ${name}(`))) helpers.add(text);
    });
    // Every thread reaches every barrier: workgroups past the last output (in a folded grid) and threads
    // without elements take part in the combine instead of returning early; their slots are never stored.
    body = [
      `let o = ${LINEAR_WORKGROUP};`,
      `let in_range = o < ${outputs}u;`,
      ...prune(keptCoords, [...loopBody, ...tail]),
      ...declare,
      ...(subgroups ? subgroupCheck(threads) : []),
      'if (in_range) {',
      `  for (var r = lid; r < ${extent}u; r += ${threads}u) {`,
      ...indent(loopBody, 2),
      '  }',
      '}',
      ...(combine ? ['if (sg_mapped) {', ...indent(combine.code), '} else {', ...indent(tree), '}'] : tree),
      'if (in_range && lid == 0u) {',
      ...indent([final('rd_val[0]', 'rd_idx[0]'), ...tail]),
      '}',
    ];
    workgroups = outputs;
  }
  for (const h of literalHelpers(body.join('\n'))) if (![...helpers].includes(h)) helpers.add(h);
  const wgsl = [
    ...(subgroups ? [SUBGROUP_ENABLE] : []),
    header,
    ...bufferDecls(spec.buffers),
    ...module,
    ...helpers,
    '',
    `@compute @workgroup_size(${strategy === 'serial' ? SERIAL_WORKGROUP : threads})`,
    `fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32${subgroups ? `, ${SUBGROUP_BUILTIN}` : ''}) {`,
    ...indent(body),
    '}',
    '',
  ].join('\n');
  return { wgsl, entryPoint: 'main', workgroups: grid1d(workgroups, maxPerDim) };
}

// ---------------------------------------------------------------------------------------------------------
// Subgroups: shared by this file's workgroup strategy and the row kernel (row.ts).

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

interface Accumulator {
  /** WGSL type of partial results: f32, i32, or u32 0/1 for bool. */
  readonly type: string;
  /** The identity as a WGSL literal; undefined where a thread starts from its first element instead. */
  readonly identity?: string;
  /** Combines two partial results (not used by argmax/argmin, which compare through rd_better). */
  combine(a: string, b: string): string;
  /** Helper functions by name, deduplicated against the expressions' helpers by name. */
  readonly helpers: readonly (readonly [string, string])[];
}

const ISNAN: readonly [string, string] = ['wg_isnan', WGSL_ISNAN];

function accumulator(op: ReduceOp, dtype: DType): Accumulator {
  const type = dtype === 'float32' ? 'f32' : dtype === 'int32' ? 'i32' : 'u32';
  const isFloat = dtype === 'float32';
  const lit = (v: number) => (dtype === 'bool' ? `${v}u` : literal(v, dtype));
  switch (op) {
    case 'sum':
      return { type, identity: lit(0), combine: (a, b) => `${a} + ${b}`, helpers: [] };
    case 'prod':
      return { type, identity: lit(1), combine: (a, b) => `${a} * ${b}`, helpers: [] };
    case 'max':
    case 'min': {
      const isMax = op === 'max';
      const fn = isMax ? 'max' : 'min';
      if (!isFloat) {
        // any/all on bool as u32 0/1: max/min with identity 0/1.
        const identity = dtype === 'bool' ? (isMax ? '0u' : '1u') : lit(isMax ? -2147483648 : 2147483647);
        return { type, identity, combine: (a, b) => `${fn}(${a}, ${b})`, helpers: [] };
      }
      // No identity: +-infinity has no WGSL literal (a bitcast is a const-expression, and infinities are
      // rejected in those), so threads start from their first element.
      return { type, combine: (a, b) => `rd_${fn}(${a}, ${b})`, helpers: [ISNAN, [`rd_${fn}`, wgslNanExtreme(`rd_${fn}`, fn)]] };
    }
    case 'argmax':
    case 'argmin': {
      const isMax = op === 'argmax';
      const cmp = isMax ? '>' : '<';
      const doc = `// Whether (v, i) precedes (bv, bi) in ${op}: ${isFloat ? 'NaN first, then ' : ''}the ${isMax ? 'larger' : 'smaller'} value, then the smaller index.`;
      const nan = isFloat ? ['  let vn = wg_isnan(v);', '  let bn = wg_isnan(bv);', '  if (vn || bn) { return vn && (!bn || i < bi); }'] : [];
      const helper = [
        doc,
        `fn rd_better(v: ${type}, i: u32, bv: ${type}, bi: u32) -> bool {`,
        ...nan,
        `  return v ${cmp} bv || (v == bv && i < bi);`,
        '}',
      ].join('\n');
      return {
        type,
        combine: () => {
          throw new Error('internal: arg reductions compare pairs');
        },
        helpers: [...(isFloat ? [ISNAN] : []), ['rd_better', helper]],
      };
    }
  }
}

/** `let c<d> = ...;` for each axis d of `axes`, from the row-major linear index `linear` over those axes. */
function decompose(linear: string, axes: readonly number[], shape: Shape): string[] {
  const extents = axes.map((d) => shape[d]);
  const strides = stridesOf(extents);
  // An empty space runs no thread (or no iteration), but its WGSL must still be valid: no `/ 0u` or `% 0u`.
  const empty = sizeOf(extents) === 0;
  return axes.map((d, k) => {
    if (empty || extents[k] === 1) return `let c${d} = 0u;`;
    const q = strides[k] === 1 ? linear : `${linear} / ${strides[k]}u`;
    const isOutermost = extents.slice(0, k).every((e) => e === 1);
    return `let c${d} = ${isOutermost ? q : `${q === linear ? q : `(${q})`} % ${extents[k]}u`};`;
  });
}

/**
 * The row-major flat index of the input coordinate, when it follows from o and r without coordinates:
 * ignoring extent-1 axes, if every kept axis precedes every reduced one it is o * R + r, and if every reduced
 * axis precedes every kept one it is r * outputs + o. Otherwise undefined (accesses use the coordinates).
 */
function flatIndex(shape: Shape, kept: readonly number[], axes: readonly number[], outputs: number, extent: number): string | undefined {
  if (outputs === 0 || extent === 0) return undefined; // nothing is read
  const k = kept.filter((d) => shape[d] > 1);
  const red = axes.filter((d) => shape[d] > 1);
  if (red.length === 0) return 'o';
  if (k.length === 0) return 'r';
  if (Math.max(...k) < Math.min(...red)) return `o * ${extent}u + r`;
  if (Math.max(...red) < Math.min(...k)) return `r * ${outputs}u + o`;
  return undefined;
}

/** Drops the coordinate lets (`let c<d> = ...;`, `let flat = ...;`) of `lines` that neither a later kept line
 *  nor `after` uses: the compiler would drop them too, but dumps stay readable. Other lines stay. */
function prune(lines: readonly string[], after: readonly string[] = []): string[] {
  const keep = lines.map(() => true);
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = /^let (c\d+|flat) = /.exec(lines[i]);
    if (!m) continue;
    const used = new RegExp(`\\b${m[1]}\\b`);
    keep[i] = lines.some((l, j) => j > i && keep[j] && used.test(l)) || after.some((l) => used.test(l));
  }
  return lines.filter((_, i) => keep[i]);
}


/** Checks the spec's invariants (violations are lowering bugs) and returns the input dtype. */
function check(spec: ReduceSpec): DType {
  const { op, inShape, axes } = spec;
  const fail = (msg: string): never => {
    throw new Error(`internal: reduce ${op}: ${msg}`);
  };
  axes.forEach((a, i) => {
    if (!Number.isInteger(a) || a < 0 || a >= inShape.length || (i > 0 && a <= axes[i - 1])) fail(`axes [${axes.join(', ')}] must be sorted axes of [${inShape.join(', ')}]`);
  });
  const isArg = op === 'argmax' || op === 'argmin';
  if (isArg && axes.length !== 1) fail(`needs exactly one axis, got [${axes.join(', ')}]`);
  const extent = sizeOf(axes.map((d) => inShape[d]));
  if (extent === 0 && op !== 'sum' && op !== 'prod') fail('cannot reduce an empty extent');
  const step = spec.input.steps[spec.inputStep];
  if (!step) fail(`input step ${spec.inputStep} does not exist`);
  const dtype = step.dtype;
  if (dtype === 'bool' && (op === 'sum' || op === 'prod')) fail('bool operands are cast before sum/prod');
  if (spec.input.steps.some((s) => s.kind === 'value')) fail('the input expression cannot read kernel values');
  for (const b of spec.buffers) if (RESERVED.has(b.name) || RESERVED_PATTERN.test(b.name)) fail(`buffer name ${b.name} is reserved by the kernel`);
  const out = spec.buffers.find((b) => b.name === spec.store.buffer);
  if (!out || out.access !== 'read_write') fail(`store buffer ${spec.store.buffer} must be a read_write buffer`);
  const resultDtype: DType = isArg ? 'int32' : dtype;
  const kept = inShape.length - axes.length;
  if (spec.store.access.strides.length !== kept) fail(`the store access needs ${kept} strides`);
  if (spec.epilogue) {
    const e = spec.epilogue;
    if (!e.expr.steps[e.step]) fail(`epilogue step ${e.step} does not exist`);
    for (const s of e.expr.steps) {
      if (s.kind === 'value' && (s.name !== 'acc' || s.dtype !== resultDtype)) fail(`the epilogue's values must be acc: ${resultDtype}`);
    }
    if (e.expr.steps[e.step].dtype !== out!.dtype) fail(`stores ${e.expr.steps[e.step].dtype} into ${out!.dtype} buffer ${out!.name}`);
  } else if (out!.dtype !== resultDtype) {
    fail(`stores ${resultDtype} into ${out!.dtype} buffer ${out!.name}`);
  }
  return dtype;
}
