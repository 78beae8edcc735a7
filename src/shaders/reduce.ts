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
// Numerics (docs/semantics.md): float sums and products accumulate in f32 (the order differs from the CPU
// reference, which accumulates in f64), int32 wraps (WGSL i32 arithmetic wraps), max/min of float propagate
// NaN (tested on the bits: compilers may assume x == x), max/min of bool are any/all (accumulated as u32
// 0/1), argmax/argmin give the first extreme index, the first NaN if any.
import type { DType } from '../ir/dtype.js';
import { sizeOf, stridesOf, type Shape } from '../ir/shape.js';
import { bufferDecls, type GeneratedKernel, type KernelBuffer } from './elementwise.js';
import { emitExpr, indexOf, type Access, type Coords, type Expr } from './expr.js';
import { grid1d, LINEAR_WORKGROUP, MAX_WORKGROUPS_PER_DIM } from './grid.js';
import { literal, toStorage, VALUE_TYPE } from './wgsl.js';

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
const RESERVED_PATTERN = /^([cve]\d+|rd_\w*|wg_\w*)$/;

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
    header = `// ${what}: one workgroup of ${threads} threads per output element, then a tree reduction`;
    module = [
      `var<workgroup> rd_val: array<${acc.type}, ${threads}>;`,
      ...(isArg ? [`var<workgroup> rd_idx: array<u32, ${threads}>;`] : []),
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
    // Every thread reaches every barrier: workgroups past the last output (in a folded grid) and threads
    // without elements take part in the tree instead of returning early; their slots are never stored.
    body = [
      `let o = ${LINEAR_WORKGROUP};`,
      `let in_range = o < ${outputs}u;`,
      ...prune(keptCoords, [...loopBody, ...tail]),
      ...declare,
      'if (in_range) {',
      `  for (var r = lid; r < ${extent}u; r += ${threads}u) {`,
      ...indent(loopBody, 2),
      '  }',
      '}',
      'rd_val[lid] = part;',
      ...(isArg ? ['rd_idx[lid] = part_i;'] : []),
      'workgroupBarrier();',
      `for (var s = ${threads >> 1}u; s > 0u; s >>= 1u) {`,
      ...indent(merge),
      '  workgroupBarrier();',
      '}',
      'if (in_range && lid == 0u) {',
      ...indent([final('rd_val[0]', 'rd_idx[0]'), ...tail]),
      '}',
    ];
    workgroups = outputs;
  }
  const wgsl = [
    header,
    ...bufferDecls(spec.buffers),
    ...module,
    ...helpers,
    '',
    `@compute @workgroup_size(${strategy === 'serial' ? SERIAL_WORKGROUP : threads})`,
    'fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {',
    ...indent(body),
    '}',
    '',
  ].join('\n');
  return { wgsl, entryPoint: 'main', workgroups: grid1d(workgroups, maxPerDim) };
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

const ISNAN: readonly [string, string] = ['wg_isnan', `fn wg_isnan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }`];

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
      const helper = `fn rd_${fn}(a: f32, b: f32) -> f32 { return select(${fn}(a, b), a + b, wg_isnan(a) || wg_isnan(b)); }`;
      return { type, combine: (a, b) => `rd_${fn}(${a}, ${b})`, helpers: [ISNAN, [`rd_${fn}`, helper]] };
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

function indent(lines: readonly string[], depth = 1): string[] {
  const pad = '  '.repeat(depth);
  return lines.map((l) => pad + l);
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
