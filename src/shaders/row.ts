// The row kernel: what fuse-reduction builds, and what a reduction with nothing fused into it lowers to
// (one reduce stage). Each output row (one element of the kept axes) is owned by one workgroup, or by one
// thread when rows are short, which runs stages in order:
// - a reduce stage loops over the row evaluating an expression at each input coordinate and reduces it
//   (a workgroup merges its threads' partial results in a tree); the result is a row value;
// - a value stage computes a per-row value from earlier ones (mean = sum / n, rsqrt(var + eps));
// then stores row values, and finally maps the row once more to store per-element results that use the
// row values (softmax's exp(x - max) / sum). Expressions read row values as `value` steps, so a later
// reduction can depend on an earlier one (variance after the mean) inside one kernel.
// Where a workgroup owns the row and each thread's share is small (planRowCache), each thread keeps what it
// reads of the row in private arrays, filled by the first stage that reads them; later stages and the map
// read the arrays, so the row is read from memory once, 4 consecutive elements per step (vec4) where the
// row's buffers are aligned. Otherwise the row is read from memory in a loop per pass: reductions that need
// no row value of a pass share its loop, the variance's moments and softmax's running sum included
// (row-passes.ts, row-rebase.ts), and the map has its own loop; a workgroup's loops take 4 elements per
// step with vec4 loads and stores where the row is contiguous and aligned (row-loop.ts).
// With options.subgroups (the device has the feature), a workgroup merges its threads' partial results
// through subgroup operations instead of the tree (subgroups.ts, subgroupCombine: exact for max/min with NaN
// and for argmax/argmin), keeping the tree for workgroups whose subgroups are not laid out as blocks.
// Many short rows along the innermost axes may instead be segmented (row-segments.ts): a workgroup of 256
// threads holds 256 / T rows of T threads each, and each reduction is a butterfly of subgroup shuffles.
import type { DType } from '../ir/dtype.js';
import { sizeOf, stridesOf, type Shape } from '../ir/shape.js';
import { bufferDecls, type GeneratedKernel, type KernelBuffer } from './elementwise.js';
import { emitExpr, WGSL_ISNAN, wgslNanExtreme, indexOf, type Access, type Coords, type EmittedExpr, type Expr, type LoadStep } from './expr.js';
import { grid1d, LINEAR_WORKGROUP } from './grid.js';
import { SUBGROUP_BUILTIN, SUBGROUP_ENABLE, SUBGROUP_MODULE, subgroupCheck, subgroupCombine } from './subgroups.js';
import { RowLoop, rowContiguous, valueStageBuffers } from './row-loop.js';
import { accumulate, declareAccumulator, deferredShifts, mergeExprs, planPasses, rowValueLet, type StageForm } from './row-passes.js';
import { rowSegmentThreads, segmentCombine, segmentPrologue, SEGMENT_LANE, SEGMENT_LIVE, SEGMENT_WORKGROUP, SUBGROUP_ID_BUILTIN } from './row-segments.js';
import { tuning } from './tuning.js';
import { fromStorage, indent, literal, literalHelpers, pruneUnusedLets, STORAGE_TYPE, toStorage, VALUE_TYPE } from './wgsl.js';

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

/** How the unsplit row kernel spreads a row over a workgroup, and when it keeps the row in registers. */
export interface RowTuning {
  /** Keep each thread's values of a row in registers (the row cache; false: every stage re-reads the row). */
  readonly cache: boolean;
  /** Row cache: the fewest threads (a power of two, minThreads to maxThreads) holding at most this many elements each. */
  readonly valuesPerThread: number;
  readonly minThreads: number;
  readonly maxThreads: number;
  /** Row cache: no input holds more than this many values per thread... */
  readonly maxValuesPerThread: number;
  /** ...and all inputs together at most this many; above either, every stage re-reads the row. */
  readonly maxCachedValues: number;
  /** Row cache: rows of a multiple of 4 elements go 4 consecutive elements per step, vec4 where aligned. */
  readonly vec4: boolean;
  /** Row cache: up to this many steps per thread are written out as straight-line code, more are a loop. */
  readonly maxUnroll: number;
  /** One thread per row when rows >= serialFactor * extent and the innermost axis is kept (and always for rows of at most serialRow). */
  readonly serialFactor: number;
  /** Rows of at most this many elements are one thread's (tests lower it to reach the other layouts with short rows). */
  readonly serialRow: number;
  /**
   * Segmented rows (row-segments.ts): T threads per row (0: off; else a power of two from 2 to 32), 256 / T
   * rows per workgroup. Only where the device has 'subgroups' and its smallest subgroup size is at least T,
   * the reduced axes are the innermost, there are at least segmentMinRows rows and a row has at most
   * T * segmentMaxValuesPerThread elements.
   */
  readonly segmentThreads: number;
  readonly segmentMinRows: number;
  readonly segmentMaxValuesPerThread: number;
  /** Segmented rows: the row cache's cap over all inputs per thread (above, every stage re-reads the row). */
  readonly segmentMaxCachedValues: number;
  /** Segmented rows: up to this many steps per thread are written out as straight-line code, more are a loop. */
  readonly segmentMaxUnroll: number;
  /** Segmented rows: reduce by shuffles where the subgroups allow (false: the workgroup-memory tree only, to compare). */
  readonly segmentShuffles: boolean;
  /**
   * Without the row cache (and not segmented), reductions share loops over the row (row-passes.ts); false: a
   * loop per reduction (to compare).
   */
  readonly sharePasses: boolean;
  /**
   * Short rows (at most serialRow elements, innermost axes reduced, at least segmentMinRows rows): segmented
   * with T = extent / shortRowValues threads per row (a power of two from 2 to segmentThreads) instead of one
   * thread per row, where T is at least 2 (0: off).
   */
  readonly shortRowValues: number;
}

export const DEFAULT_ROW_TUNING: RowTuning = {
  cache: true,
  valuesPerThread: 8,
  minThreads: 64,
  maxThreads: 256,
  maxValuesPerThread: 16,
  maxCachedValues: 64,
  vec4: true,
  maxUnroll: 4,
  serialFactor: 16,
  serialRow: SERIAL_ROW,
  // A warp per row of up to 512 elements. On the H100 (2026-11-24, bench/kernels.ts at 1980 MHz): softmax
  // [65536, 512] 0.0999 ms GPU against 0.1005 for a workgroup per row (0.228 against 0.302 at the 345 MHz
  // the first sweep ran at); layerNorm + softmax [8192, 1024] (32 values per thread and input, 96 in all)
  // 0.0366 against 0.0362, so rows of 1024 keep the workgroup per row.
  segmentThreads: 32,
  // About 4 workgroups of 8 rows for each of an H100's 132 SMs.
  segmentMinRows: 4096,
  segmentMaxValuesPerThread: 16,
  segmentMaxCachedValues: 96,
  segmentMaxUnroll: 32,
  segmentShuffles: true,
  sharePasses: true,
  // On the H100 (2026-11-24, bench/kernels.ts red-*, GPU ms against one thread per row): rows of 16 took
  // 0.032 on T = 2 against 0.042, of 32 0.032 on T = 4 against 0.076, of 64 0.031 on T = 8 against 0.076
  // (argmax: 0.036 against 0.129 and 0.037 against 0.140); rows of 8 kept one thread (0.034 against 0.034).
  shortRowValues: 8,
};

const knob = tuning(DEFAULT_ROW_TUNING);

/** The tuning generateRow uses when its options name none. */
export const rowTuning = knob.get;

/** Replaces the process-wide tuning (fields not given keep their defaults); null restores the defaults. */
export const setRowTuning = knob.set;

export interface RowOptions {
  /** Merge a workgroup's partial results through subgroup operations (the device must have 'subgroups'). */
  readonly subgroups?: boolean;
  /** The device's smallest subgroup size (GPUAdapterInfo.subgroupMinSize), for segmented rows; unknown: none. */
  readonly subgroupMinSize?: number;
  /** Which of spec.buffers may be bound as array<vec4<T>> (whole 16-byte groups over what is read). */
  readonly vec4?: (buffer: string) => boolean;
  /** Default: rowTuning(). */
  readonly tuning?: RowTuning;
}

export function generateRow(spec: RowSpec, options: RowOptions = {}): GeneratedKernel {
  const { inShape, axes } = spec;
  const t = options.tuning ?? knob.get();
  const kept = inShape.map((_, d) => d).filter((d) => !axes.includes(d));
  const rows = sizeOf(kept.map((d) => inShape[d]));
  const extent = sizeOf(axes.map((d) => inShape[d]));
  // A thread per row walks its row while its neighbours walk theirs a row away: coalesced when the rows run
  // along an outer axis (neighbouring threads read neighbouring elements), not when the innermost axis is
  // reduced (softmax over [65536, 512] on the H100: 3.18 ms one thread per row, 0.21-0.24 ms a workgroup).
  const innermostReduced = axes.includes(inShape.length - 1);
  // Threads per row of a segmented kernel (row-segments.ts, short rows included); 0: a workgroup (or a thread) per row.
  const segment = rowSegmentThreads(spec, rows, extent, t, options);
  const serial = segment === 0 && (extent <= t.serialRow || (!innermostReduced && rows >= t.serialFactor * extent));
  const cache = serial ? null : planRowCache(spec, extent, t, options.vec4 ?? (() => false), segment);
  const threads = serial ? SERIAL_THREADS : segment ? SEGMENT_WORKGROUP : cache ? cache.threads : extent > 4096 ? 256 : 64;
  const reduces = spec.stages.some((st) => st.kind === 'reduce');
  const subgroups = !serial && !segment && options.subgroups === true && reduces;
  const shuffles = segment > 0 && t.segmentShuffles && reduces;
  // This thread's index in its row and the threads of a row; segmented, the last workgroup may have idle row
  // slots (ragged).
  const rowLane = segment ? SEGMENT_LANE : 'lid';
  const rowThreads = segment || threads;
  const rowsPerWorkgroup = segment ? SEGMENT_WORKGROUP / segment : 1;
  const ragged = rows % rowsPerWorkgroup !== 0;
  const inCoords: Coords = { names: inShape.map((_, d) => `c${d}`) };
  const keepCoords: Coords = { names: inShape.map((_, d) => (axes.includes(d) ? '0u' : `c${d}`)) };
  const helpers = new Set<string>();
  const shared = new Map<string, string>();
  const body: string[] = [];
  const cached = cache ? new CachedRow(spec, cache, keepCoords, rowLane) : null;
  const loop = (inner: string[]) => [
    `for (var r = ${serial ? '0u' : rowLane}; r < ${extent}u; r += ${serial ? '1u' : `${rowThreads}u`}) {`,
    ...indent([...decompose('r', axes, inShape), ...inner]),
    '}',
  ];

  const valueStage = (stage: Extract<RowStage, { kind: 'value' }>, k: number) => {
    const e = emitExpr(stage.expr, keepCoords, `s${k}_`);
    e.helpers.forEach((h) => helpers.add(h));
    body.push(...e.code, `let ${stage.name}: ${VALUE_TYPE[stage.dtype]} = ${e.value(stage.step)};`);
  };
  /** Merges the threads' accumulators `p<k>` (a segment's, a workgroup's); returns the names of the merged value and index. */
  const combine = (k: number, { op, dtype }: Extract<RowStage, { kind: 'reduce' }>, { acc, isArg, rebased }: StageForm): [string, string] => {
    if (segment) {
      body.push(...segmentCombine(shared, { op, dtype, acc, lanes: segment, value: `p${k}`, result: `w${k}`, shuffles }));
      return [`w${k}`, `w${k}_i`];
    }
    if (serial) return [`p${k}`, `p${k}_i`];
    const { vals, tree } = workgroupTree(shared, acc, isArg, threads, `p${k}`);
    if (subgroups && !rebased) {
      // Thread 0 leaves the result in the arrays' entry 0; the barrier makes it visible to every thread.
      const merged = subgroupCombine({ op, dtype, threads, vals, idx: isArg ? 'wg_idx' : undefined, value: `p${k}`, index: isArg ? `p${k}_i` : undefined });
      merged.helpers.forEach(([name, text]) => {
        if (![...helpers].some((h) => h.includes(`fn ${name}(`))) helpers.add(text);
      });
      body.push('if (sg_mapped) {', ...indent([...merged.code, 'workgroupBarrier();']), '} else {', ...indent(tree), '}');
    } else body.push(...tree);
    body.push(
      `let w${k} = ${vals}[0];`,
      ...(isArg ? [`let w${k}_i = wg_idx[0];`] : []),
      // Every thread has read the result before the next stage reuses the workgroup arrays.
      'workgroupBarrier();',
    );
    return [`w${k}`, `w${k}_i`];
  };

  // Where every stage reads the row from memory (no row cache, not segmented), reductions that need no row
  // value of a pass share one loop over the row (row-passes.ts: sum, max and argmin of one value; the mean
  // and the variance's moments; softmax's max and running sum). Otherwise a loop (or cached steps) per stage.
  const passes = !cached && !segment && t.sharePasses ? planPasses(spec, true) : null;
  // A workgroup per row without the cache: the split kernel's loop over one chunk, the whole row
  // (row-loop.ts: 4 elements per step, vec4 loads and stores where the row is contiguous and aligned).
  // Buffers that value stages read per row stay scalar arrays.
  const valueBuffers = valueStageBuffers(spec);
  const contiguous = rowContiguous(inShape, axes);
  const sink = { body: [] as string[], helpers, vectors: new Set<string>() };
  const rowLoop =
    passes && !serial
      ? new RowLoop(spec, { layout: 'row', extent, chunk: extent, threads, rowContiguous: contiguous, keepCoords, kept, vec4: (b) => t.vec4 && options.vec4?.(b) === true && !valueBuffers.has(b) })
      : null;
  /** The loop's statements in a block of their own (several loops declare the same per-row lets). */
  const emitLoop = (expr: Expr, update: ((value: string, r: string, index: number) => string[]) | null, steps: readonly number[], stores: NonNullable<RowSpec['map']>['stores'] = []) => {
    sink.body.length = 0;
    rowLoop!.emit(sink, expr, update, steps, stores);
    return ['{', ...indent(sink.body), '}'];
  };
  // Shifts read buffers the loops may bind as vectors: placeholders, expanded at the end.
  const shifts = deferredShifts(keepCoords, helpers, sink.vectors);
  if (passes) {
    if (rowLoop) body.push('let w = 0u;', ...(contiguous ? [`let ob = o * ${extent}u;`] : []));
    const finish = (k: number) => {
      const stage = spec.stages[k];
      if (stage.kind === 'value') return valueStage(stage, k);
      const form = passes.forms.get(k)!;
      const [result, index] = combine(k, stage, form);
      body.push(rowValueLet(form, k, stage, result, index));
    };
    spec.stages.forEach((_, k) => passes.ready[k] === 0 && finish(k));
    passes.passes.forEach((ks, n) => {
      const forms = ks.map((k) => passes.forms.get(k)!);
      forms.forEach((f, i) => {
        f.acc.helpers.forEach((h) => helpers.add(h));
        body.push(...declareAccumulator(f, ks[i]), shifts.slot(f, ks[i]));
      });
      const merged = mergeExprs(forms);
      const update = (value: string, r: string, i: number) => accumulate(forms[i], ks[i], value, r);
      if (rowLoop) body.push(...emitLoop(merged.expr, update, merged.steps));
      else {
        const e = emitExpr(merged.expr, inCoords, `e${n}_`);
        e.helpers.forEach((h) => helpers.add(h));
        body.push(...loop([...e.code, ...ks.flatMap((k, i) => update(e.value(merged.steps[i]), 'r', i))]));
      }
      // The stages this pass completes, in order: its reductions and the per-row values after them.
      spec.stages.forEach((_, k) => passes.ready[k] === n + 1 && finish(k));
    });
  } else {
    // A loop (or the cached steps) per reduce stage, in order.
    const { forms } = planPasses(spec, false);
    spec.stages.forEach((stage, k) => {
      if (stage.kind === 'value') return valueStage(stage, k);
      const form = forms.get(k)!;
      form.acc.helpers.forEach((h) => helpers.add(h));
      if (cached) {
        body.push(...cached.loads(k), ...declareAccumulator(form, k));
        body.push(...cached.steps((lane, coords, r) => {
          const e = cached.expr(stage.expr, coords, `s${k}_${lane === null ? '' : `l${lane}_`}`, lane);
          e.helpers.forEach((h) => helpers.add(h));
          return [...e.code, ...accumulate(form, k, e.value(stage.step), r)];
        }));
      } else {
        const e = emitExpr(stage.expr, inCoords, `s${k}_`);
        e.helpers.forEach((h) => helpers.add(h));
        body.push(...declareAccumulator(form, k), ...loop([...e.code, ...accumulate(form, k, e.value(stage.step), 'r')]));
      }
      const [result, index] = combine(k, stage, form);
      body.push(rowValueLet(form, k, stage, result, index));
    });
  }


  const rowStores = spec.rowStores.map((s) => `${s.buffer}[${indexOf(s.access, keepCoords)}] = ${toStorage(s.dtype, s.name)};`);
  if (rowStores.length > 0) body.push(...(serial ? rowStores : [`if (${rowLane} == 0u${ragged ? ` && ${SEGMENT_LIVE}` : ''}) {`, ...indent(rowStores), '}']));
  // Idle row slots (segmented) store nothing; the map has no shuffle or barrier.
  const mapBody: string[] = [];
  if (spec.map && cached) {
    const map = spec.map;
    mapBody.push(...cached.loads(spec.stages.length));
    const lanes: EmittedExpr[] = [];
    mapBody.push(...cached.steps((lane, coords) => {
      const e = cached.expr(map.expr, coords, lane === null ? 'm' : `ml${lane}_`, lane);
      e.helpers.forEach((h) => helpers.add(h));
      lanes[lane ?? 0] = e;
      // Lanes store element by element unless their buffer is bound as vec4 (one store after lane 3).
      const own = map.stores.filter((s) => !cached.vectors.has(s.buffer)).map((s) => `${s.buffer}[${indexOf(s.access, coords)}] = ${toStorage(s.dtype, e.value(s.step))};`);
      const vector = lane === 3 ? map.stores.filter((s) => cached.vectors.has(s.buffer)) : [];
      return [
        ...e.code,
        ...own,
        ...vector.map((s) => `${s.buffer}[${cached.vectorIndex(s.access)}] = vec4<${STORAGE_TYPE[s.dtype]}>(${lanes.map((l) => toStorage(s.dtype, l.value(s.step))).join(', ')});`),
      ];
    }));
  } else if (spec.map && rowLoop) {
    mapBody.push(...emitLoop(spec.map.expr, null, [], spec.map.stores));
  } else if (spec.map) {
    const e = emitExpr(spec.map.expr, inCoords, 'm');
    e.helpers.forEach((h) => helpers.add(h));
    mapBody.push(...loop([...e.code, ...spec.map.stores.map((s) => `${s.buffer}[${indexOf(s.access, inCoords)}] = ${toStorage(s.dtype, e.value(s.step))};`)]));
  }
  body.push(...(segment && ragged && mapBody.length > 0 ? [`if (${SEGMENT_LIVE}) {`, ...indent(mapBody), '}'] : mapBody));
  const expanded = shifts.expand(body);
  for (const h of literalHelpers([...expanded, ...helpers].join('\n'))) helpers.add(h);

  const layout = serial ? 'one thread per row' : segment ? `segmented: ${segment} threads per row, ${rowsPerWorkgroup} rows per workgroup of ${threads}` : `one workgroup of ${threads} threads per row`;
  const combined = segment ? (shuffles ? ', reduced by subgroupShuffleXor butterflies' : ', reduced in workgroup memory') : subgroups ? ', merged through subgroups' : '';
  const header = `// row kernel: ${rows} row(s) of ${extent} over axes [${axes.join(', ')}] of [${inShape.join(', ')}], ${layout}${cache ? `, row cached in registers (${cache.loads.size} input(s), ${cache.steps} step(s) of ${cache.unit} element(s) per thread${cache.vectors.size > 0 ? ', vec4' : ''})` : ''}${sink.vectors.size > 0 ? ', loops of 4 elements per step (vec4)' : ''}${combined}`;
  const start = serial ? `let o = (${LINEAR_WORKGROUP}) * ${threads}u + lid;` : `let o = ${LINEAR_WORKGROUP};`;
  const usesSubgroups = subgroups || shuffles;
  // o (or a segmented workgroup's first row) depends only on the workgroup, so the return keeps barriers and
  // shuffles uniform.
  const prologue = segment
    ? [
        `let seg_first = (${LINEAR_WORKGROUP}) * ${rowsPerWorkgroup}u;`,
        `if (seg_first >= ${rows}u) { return; }`,
        ...(shuffles ? subgroupCheck(threads, segment) : []),
        ...segmentPrologue(segment, rows, 'seg_first'),
      ]
    : [start, `if (o >= ${rows}u) { return; }`, ...(subgroups ? subgroupCheck(threads) : [])];
  const wgsl = [
    ...(usesSubgroups ? [SUBGROUP_ENABLE] : []),
    header,
    ...bufferDecls(spec.buffers, cache?.vectors ?? sink.vectors),
    ...shared.values(),
    ...(usesSubgroups ? SUBGROUP_MODULE : []),
    ...helpers,
    '',
    `@compute @workgroup_size(${threads})`,
    `fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32${usesSubgroups ? `, ${SUBGROUP_BUILTIN}` : ''}${shuffles ? `, ${SUBGROUP_ID_BUILTIN}` : ''}) {`,
    ...indent([...prologue, ...decompose('o', kept, inShape), ...expanded]),
    '}',
    '',
  ].join('\n');
  return { wgsl, entryPoint: 'main', workgroups: grid1d(serial ? Math.ceil(rows / threads) : Math.ceil(rows / rowsPerWorkgroup)) };
}

/** A row cache: what each thread of a workgroup keeps of its row, and how it steps over the row. */
interface RowCache {
  /** Threads per row. */
  readonly threads: number;
  /** Elements per step: 4 consecutive ones (vec4 loads and stores where aligned), or 1. */
  readonly unit: 1 | 4;
  /** Steps per thread (step j of lane l is step l + j * threads of the row), and steps in the row. */
  readonly steps: number;
  readonly units: number;
  /** Steps written out one by one instead of a loop. */
  readonly unroll: boolean;
  /** Loads that walk the row, by loadKey: the private array of this thread's values, and the stage first reading it (stages.length: the map). */
  readonly loads: Map<string, { readonly name: string; readonly step: LoadStep; readonly first: number }>;
  /** Loads of one element per row: a let before the first stage reading them. */
  readonly constants: Map<string, { readonly name: string; readonly step: LoadStep; readonly first: number }>;
  /** Buffers bound as array<vec4<T>>: every access to them is a row vector (isRowVector). */
  readonly vectors: Set<string>;
}

const LANES = ['x', 'y', 'z', 'w'] as const;

const loadKey = (step: LoadStep) => `${step.buffer}@${step.access.offset}:${step.access.strides.join(',')}`;

/**
 * The row cache of a row owned by a workgroup (or by `segment` threads of one), or null where every stage
 * re-reads the row: no load walks the row, or the cached values would exceed the tuning's caps (registers).
 */
function planRowCache(spec: RowSpec, extent: number, t: RowTuning, allowed: (buffer: string) => boolean, segment: number): RowCache | null {
  if (!t.cache) return null;
  const pow2 = (n: number) => Number.isInteger(n) && n >= 1 && (n & (n - 1)) === 0;
  // The workgroup tree halves its stride from threads / 2: a power of two.
  if (!pow2(t.minThreads) || !pow2(t.maxThreads) || t.maxThreads > 256) throw new Error(`row tuning: threads ${t.minThreads}..${t.maxThreads} must be powers of two up to 256`);
  const { inShape, axes, stages, map } = spec;
  const walks = (a: Access) => axes.some((d) => inShape[d] > 1 && a.strides[d] !== 0);
  const loads: RowCache['loads'] = new Map();
  const constants: RowCache['constants'] = new Map();
  const candidates = new Set<string>();
  const scalar = new Set<string>();
  const perElement = stages.flatMap((st, k) => (st.kind === 'reduce' ? [{ k, expr: st.expr }] : []));
  if (map) perElement.push({ k: stages.length, expr: map.expr });
  for (const { k, expr } of perElement) {
    for (const step of expr.steps) {
      if (step.kind !== 'load') continue;
      const key = loadKey(step);
      if (walks(step.access)) {
        if (!loads.has(key)) loads.set(key, { name: `xc${loads.size}`, step, first: k });
        (isRowVector(spec, step.access) ? candidates : scalar).add(step.buffer);
      } else {
        if (!constants.has(key)) constants.set(key, { name: `xh${constants.size}`, step, first: k });
        scalar.add(step.buffer);
      }
    }
  }
  if (loads.size === 0) return null;
  for (const st of stages) if (st.kind === 'value') for (const step of st.expr.steps) if (step.kind === 'load') scalar.add(step.buffer);
  for (const st of spec.rowStores) scalar.add(st.buffer);
  for (const st of map?.stores ?? []) (isRowVector(spec, st.access) ? candidates : scalar).add(st.buffer);
  // A buffer is bound one way: as vectors only when nothing reads or writes it element by element.
  const vectors = new Set(t.vec4 && extent % 4 === 0 ? [...candidates].filter((b) => allowed(b) && !scalar.has(b)) : []);
  const unit = vectors.size > 0 ? 4 : 1;
  // Segmented rows (segment threads per row) have caps of their own.
  let threads = segment || t.minThreads;
  while (!segment && threads < t.maxThreads && Math.ceil(extent / threads) > t.valuesPerThread) threads *= 2;
  const [maxValues, maxCached, maxUnroll] = segment ? [t.segmentMaxValuesPerThread, t.segmentMaxCachedValues, t.segmentMaxUnroll] : [t.maxValuesPerThread, t.maxCachedValues, t.maxUnroll];
  const units = extent / unit;
  const steps = Math.ceil(units / threads);
  if (steps * unit > maxValues || loads.size * steps * unit > maxCached) return null;
  return { threads, unit, steps, units, unroll: steps <= maxUnroll, loads, constants, vectors };
}

/** The access is base(o) + r (r the row-major index over the reduced axes) with base(o) a multiple of 4 for every row. */
function isRowVector(spec: RowSpec, access: Access): boolean {
  const { inShape, axes } = spec;
  const red = axes.filter((a) => inShape[a] > 1);
  const strides = stridesOf(red.map((a) => inShape[a]));
  if (!red.every((a, i) => access.strides[a] === strides[i])) return false;
  return access.offset % 4 === 0 && inShape.every((n, a) => axes.includes(a) || n === 1 || (access.strides[a] >= 0 && access.strides[a] % 4 === 0));
}

/** Emits the row-cached loops (see RowCache): loads into private arrays, and steps reading them. */
class CachedRow {
  constructor(
    private readonly spec: RowSpec,
    private readonly cache: RowCache,
    private readonly keepCoords: Coords,
    /** This thread's index in its row. */
    private readonly lane: string,
  ) {}

  get vectors(): ReadonlySet<string> {
    return this.cache.vectors;
  }

  /** Coordinates of lane `lane` of a 4-element step (reduced axes l<lane>c<d>, kept axes c<d>). */
  private laneCoords(lane: number): Coords {
    return { names: this.spec.inShape.map((_, d) => (this.spec.axes.includes(d) ? `l${lane}c${d}` : `c${d}`)) };
  }

  /** The vec4 element of step q of a row-vector access. */
  vectorIndex(access: Access): string {
    const terms = this.spec.inShape.flatMap((n, a) => (this.spec.axes.includes(a) || n === 1 || access.strides[a] === 0 ? [] : [access.strides[a] === 4 ? `c${a}` : `c${a} * ${access.strides[a] / 4}u`]));
    if (access.offset !== 0) terms.unshift(`${access.offset / 4}u`);
    return [...terms, 'q'].join(' + ');
  }

  /** Declares and loads what stage k reads first (k = stages.length: the map); every load once per thread and element. */
  loads(k: number): string[] {
    const { cache } = this;
    const out: string[] = [];
    for (const c of cache.constants.values()) {
      if (c.first === k) out.push(`let ${c.name}: ${VALUE_TYPE[c.step.dtype]} = ${fromStorage(c.step.dtype, `${c.step.buffer}[${indexOf(c.step.access, this.keepCoords)}]`)};`);
    }
    const mine = [...cache.loads.values()].filter((l) => l.first === k);
    if (mine.length === 0) return out;
    for (const l of mine) out.push(`var ${l.name}: array<${cache.unit === 4 ? `vec4<${STORAGE_TYPE[l.step.dtype]}>` : STORAGE_TYPE[l.step.dtype]}, ${cache.steps}>;`);
    out.push(
      ...this.steps((lane, coords) => {
        if (lane === null) return mine.map((l) => `${l.name}[j] = ${l.step.buffer}[${indexOf(l.step.access, coords)}];`);
        if (lane < 3) return [];
        return mine.map((l) => {
          const { buffer, access } = l.step;
          if (cache.vectors.has(buffer)) return `${l.name}[j] = ${buffer}[${this.vectorIndex(access)}];`;
          const lanes = [0, 1, 2, 3].map((n) => `${buffer}[${indexOf(access, this.laneCoords(n))}]`);
          return `${l.name}[j] = vec4<${STORAGE_TYPE[l.step.dtype]}>(${lanes.join(', ')});`;
        });
      }),
    );
    return out;
  }

  /** `expr` with cached loads read from the private arrays (lane: the component of a 4-element step). */
  expr(expr: Expr, coords: Coords, prefix: string, lane: number | null): EmittedExpr {
    return emitExpr(expr, coords, prefix, {
      loadValue: (_, step) => {
        const key = loadKey(step);
        const l = this.cache.loads.get(key);
        if (l) return fromStorage(step.dtype, lane === null ? `${l.name}[j]` : `${l.name}[j].${LANES[lane]}`);
        return this.cache.constants.get(key)?.name;
      },
    });
  }

  /**
   * This thread's steps over the row: `lane(null, coords, r)` gives the lines of a 1-element step, or
   * lane(0..3, ...) those of each element of a 4-element step in order (its coordinates and index in scope,
   * and those of the lanes before). Steps past the row's end are skipped (a guard only where one can be).
   */
  steps(lane: (lane: number | null, coords: Coords, r: string) => string[]): string[] {
    const { cache, spec } = this;
    const { inShape, axes } = spec;
    const index = cache.unit === 4 ? 'q' : 'r';
    const inner: string[] = [];
    if (cache.unit === 1) {
      inner.push(...decompose('r', axes, inShape), ...lane(null, { names: inShape.map((_, d) => `c${d}`) }, 'r'));
    } else {
      inner.push('let r0 = q * 4u;', 'let r1 = r0 + 1u;', 'let r2 = r0 + 2u;', 'let r3 = r0 + 3u;');
      for (let n = 0; n < 4; n++) inner.push(...decompose(`r${n}`, axes, inShape, (d) => `l${n}c${d}`), ...lane(n, this.laneCoords(n), `r${n}`));
    }
    const step = (guard: boolean) => pruneUnusedLets(PRUNABLE, [`let ${index} = ${this.lane} + j * ${cache.threads}u;`, ...(guard ? [`if (${index} < ${cache.units}u) {`, ...indent(inner), '}'] : inner)]);
    if (!cache.unroll) return [`for (var j = 0u; j < ${cache.steps}u; j += 1u) {`, ...indent(step(cache.steps * cache.threads > cache.units)), '}'];
    return Array.from({ length: cache.steps }, (_, j) => ['{', ...indent([`let j = ${j}u;`, ...step((j + 1) * cache.threads > cache.units)]), '}']).flat();
  }
}

/** The index lets a cached step writes (step, lane and coordinate indices), dropped where unused. */
const PRUNABLE = /^\s*let (r[0-3]?|q|c\d+|l[0-3]c\d+) = /;


/**
 * The workgroup tree over every thread's `value` (and `${value}_i` for arg*), declaring its arrays in
 * `shared`: the result is left in `${vals}[0]` (and `wg_idx[0]`). Segmented rows (row-segments.ts) run one
 * tree per row: `lane` is the thread's index in its row and `span` the threads of a row, so each row's
 * result is left in its first entry. With `stride` > 1 a row's threads lie `stride` apart (thread
 * lane * stride + r of row r: the split kernel's column gathers), and row r's result is left in entry r.
 */
export function workgroupTree(shared: Map<string, string>, acc: Accumulator, isArg: boolean, threads: number, value: string, lane = 'lid', span = threads, stride = 1): { vals: string; tree: string[] } {
  // Named by type (vec3<f32> as wg_vec3_f32): trees of one type in a kernel share the array in turn.
  const vals = `wg_${acc.type.replace(/\W+/g, '_').replace(/_$/, '')}`;
  shared.set(vals, `var<workgroup> ${vals}: array<${acc.type}, ${threads}>;`);
  if (isArg) shared.set('wg_idx', `var<workgroup> wg_idx: array<u32, ${threads}>;`);
  const p = stride === 1 ? 'lid + s' : `lid + s * ${stride}u`;
  const merge = isArg
    ? [`if (${lane} < s && ${acc.better}(${vals}[${p}], wg_idx[${p}], ${vals}[lid], wg_idx[lid])) {`, `  ${vals}[lid] = ${vals}[${p}];`, `  wg_idx[lid] = wg_idx[${p}];`, '}']
    : [`if (${lane} < s) {`, `  ${vals}[lid] = ${acc.combine(`${vals}[lid]`, `${vals}[${p}]`)};`, '}'];
  const tree = [
    `${vals}[lid] = ${value};`,
    ...(isArg ? [`wg_idx[lid] = ${value}_i;`] : []),
    'workgroupBarrier();',
    `for (var s = ${span >> 1}u; s > 0u; s >>= 1u) {`,
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

/** `let c<d> = ...;` (or name(d)) for the axes `axes` of `shape`, from the row-major linear index `linear` over them. */
function decompose(linear: string, axes: readonly number[], shape: Shape, name = (d: number) => `c${d}`): string[] {
  const extents = axes.map((d) => shape[d]);
  const strides = stridesOf(extents);
  // An empty space is never walked (its loops run zero times), but its zero strides must not divide.
  const empty = extents.includes(0);
  return axes.map((d, k) => {
    if (extents[k] <= 1 || empty) return `let ${name(d)} = 0u;`;
    const q = strides[k] === 1 ? linear : `${linear} / ${strides[k]}u`;
    return `let ${name(d)} = ${k === 0 ? q : `(${q}) % ${extents[k]}u`};`;
  });
}

