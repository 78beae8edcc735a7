// The split row kernel: a row program (src/shaders/row.ts: reduce stages, per-row value stages, row stores
// and a row map) run as several dispatches when its rows are too long and too few to fill the device with
// one workgroup (or thread) per row. Each row is cut into `chunks` chunks of `chunk` consecutive reduced
// elements, and:
// - one **partial** dispatch per reduce stage: each (row, chunk) reduces its chunk of that stage's
//   expression (the group's elementwise producers evaluated per element, as in the unsplit kernel) into one
//   partial result, stored in a scratch buffer;
// - one **final** dispatch: the row map over every (row, chunk) (or, without a map, one per row) storing
//   the per-element results and the stored row values.
// A dispatch that needs the value of an earlier reduce stage (the variance's partials need the mean; the
// map needs every row value) recombines that stage's partials of its row in its prologue, and replays the
// value stages in between (mean = sum / n, rsqrt(var + eps)). A stage with k reductions before it is thus
// one pass over the data, and a row program of K reductions is K + 1 dispatches (the image pipeline: 3).
// Every workgroup recombines in one fixed order, so they all get bit-identical row values. (The column
// layout below stores row values through combine dispatches instead.)
//
// Two layouts, by which axis is the input's fastest (its last axis of extent > 1):
// - **row**: a reduced axis. A workgroup of 256 threads owns one (row, chunk); threads stride over the
//   chunk (4 consecutive elements per step where every access allows vec4), merge in a workgroup tree, and
//   thread 0 stores the partial at scratch[row * chunks + chunk]. The prologue combine is a workgroup tree
//   over the row's partials. Float sums are a serial sum of at most chunk / 256 elements per thread, then
//   trees: pairwise enough for rows of millions (8.3M elements: ~128 per thread at 256 chunks).
// - **column**: a kept axis (sum over axis 0 of [80000, 512]). A thread owns one (row, chunk) and loops over
//   its chunk serially, 4 elements per step with the 4 loads issued first; consecutive threads own
//   consecutive rows, so every load is coalesced. Partials lie at scratch[chunk * rows + row]. Recombining
//   them in every later dispatch would cost each thread as many loads as there are chunks, so after each
//   partial dispatch that something later depends on, a **combine** dispatch (a thread per row, combineLoads
//   loads in flight) stores the row values in scratch, and later prologues load them: 2K + 1 dispatches.
// The scratch buffer is one array<u32> for every stage's partials (floats and ints through bitcast; arg
// reductions keep a second region of u32 indices: the index in the row, so ties keep the first index).
import { sizeOf, stridesOf, type Shape } from '../ir/shape.js';
import type { GeneratedKernel } from './elementwise.js';
import { emitExpr, indexOf, type Access, type Coords, type Expr, type LoadStep } from './expr.js';
import { grid1d, LINEAR_WORKGROUP } from './grid.js';
import { accumulator, workgroupTree, type Accumulator, type RowSpec, type RowStage } from './row.js';
import { tuning } from './tuning.js';
import { fromStorage, indent, literalHelpers, pruneUnusedLets, STORAGE_TYPE, toStorage, VALUE_TYPE } from './wgsl.js';

/** When and how finely the lowering splits row programs and plain reductions (tests force small splits). */
export interface RowSplitTuning {
  /** false: never split. */
  readonly enabled: boolean;
  /** Row layout: aim for about this many workgroups of 256 threads over all rows. */
  readonly targetWorkgroups: number;
  /** Row layout: no chunk shorter than this many elements (a workgroup's prologue is not free). */
  readonly minRowChunk: number;
  /** Column layout: aim for about this many threads over all rows. */
  readonly targetThreads: number;
  /** Column layout: no chunk shorter than this many elements. */
  readonly minColumnChunk: number;
  /** At most this many chunks per row (every prologue combine reads all of a row's partials). */
  readonly maxChunks: number;
  /** Column layout: a thread combining its row's partials keeps this many loads in flight. */
  readonly combineLoads: number;
}

/**
 * Defaults for an H100-class device (132 SMs, 2048 threads each): about 1024 workgroups of 256 threads (row
 * layout) or 128k threads (column layout). Rows that already fill that are never split, nor rows shorter
 * than two chunks: layerNorm and softmax over rows of 1024 stay one kernel, whatever the row count.
 */
export const DEFAULT_ROW_SPLIT: RowSplitTuning = {
  enabled: true,
  targetWorkgroups: 1024,
  minRowChunk: 8192,
  targetThreads: 131072,
  minColumnChunk: 64,
  maxChunks: 1024,
  combineLoads: 8,
};

const knob = tuning(DEFAULT_ROW_SPLIT);

/** The tuning the lowering uses when its options name none. */
export const rowSplitTuning = knob.get;

/** Replaces the process-wide tuning (fields not given keep their defaults); null restores the defaults. */
export const setRowSplitTuning = knob.set;

export interface RowSplitPlan {
  readonly layout: 'row' | 'column';
  readonly rows: number;
  /** Reduced elements per row. */
  readonly extent: number;
  /** Chunks per row (every chunk holds at least one element). */
  readonly chunks: number;
  /** Reduced elements per chunk (the last may hold fewer); a multiple of 4 in the row layout. */
  readonly chunk: number;
  /** Threads per workgroup. */
  readonly threads: number;
  /** Column layout: loads in flight while a thread combines its row's partials (RowSplitTuning.combineLoads). */
  readonly combineLoads: number;
}

const ROW_THREADS = 256;
const COLUMN_THREADS = 64;

/**
 * How to split rows of inShape reduced over `axes`, or null to keep one workgroup (or thread) per row.
 * `fastAxis` is the axis along which the data is contiguous in memory (rowFastAxis); default: the last
 * axis of extent > 1.
 */
export function planRowSplit(inShape: Shape, axes: readonly number[], t: RowSplitTuning = knob.get(), fastAxis?: number): RowSplitPlan | null {
  if (!t.enabled) return null;
  const rows = sizeOf(inShape.filter((_, d) => !axes.includes(d)));
  const extent = sizeOf(axes.map((d) => inShape[d]));
  if (rows === 0 || extent < 2) return null;
  let inner = inShape.length - 1;
  while (inner > 0 && inShape[inner] === 1) inner--;
  const layout = axes.includes(fastAxis ?? inner) ? 'row' : 'column';
  const want = layout === 'row' ? Math.ceil(t.targetWorkgroups / rows) : Math.ceil(t.targetThreads / rows);
  const most = Math.floor(extent / Math.max(1, layout === 'row' ? t.minRowChunk : t.minColumnChunk));
  const chunks = Math.min(want, most, t.maxChunks);
  if (chunks < 2) return null;
  let chunk = Math.ceil(extent / chunks);
  if (layout === 'row') chunk = Math.ceil(chunk / 4) * 4;
  const real = Math.ceil(extent / chunk);
  if (real < 2) return null;
  return { layout, rows, extent, chunks: real, chunk, threads: layout === 'row' ? ROW_THREADS : COLUMN_THREADS, combineLoads: Math.max(1, Math.floor(t.combineLoads)) };
}

/**
 * The axis of the row program's input space along which its first reduction reads memory with stride 1
 * (the first such load), or undefined: a transposed input is contiguous along a kept axis, and the column
 * layout reads it coalesced.
 */
export function rowFastAxis(spec: RowSpec): number | undefined {
  for (const st of spec.stages) {
    if (st.kind !== 'reduce') continue;
    for (const step of st.expr.steps) {
      if (step.kind !== 'load') continue;
      const d = step.access.strides.findIndex((s, a) => spec.inShape[a] > 1 && Math.abs(s) === 1);
      if (d >= 0) return d;
    }
  }
  return undefined;
}

export interface SplitDispatch extends GeneratedKernel {
  /** The buffers this dispatch binds, in binding order: names of spec.buffers, and the scratch buffer. */
  readonly buffers: readonly { readonly name: string; readonly access: 'read' | 'read_write' }[];
  /** `partial<k>` (the k-th reduction's partials), `map` or `finish` (row values only). */
  readonly label: string;
  /** Whether the element loop takes 4 consecutive elements per step (vec4 loads and stores). */
  readonly vec4: boolean;
}

export interface RowSplitOptions {
  /** Name of the scratch buffer (u32 elements) the dispatches share; must not be a name of spec.buffers. */
  readonly scratch: string;
  /** Which of spec.buffers may be bound as array<vec4<T>> (whole 16-byte groups over what is read). */
  readonly vec4?: (buffer: string) => boolean;
}

export interface RowSplitKernels {
  readonly dispatches: readonly SplitDispatch[];
  /** u32 elements of the scratch buffer. */
  readonly scratchSize: number;
}

/** The dispatches of a split row program (see the top of this file). */
export function generateRowSplit(spec: RowSpec, plan: RowSplitPlan, options: RowSplitOptions): RowSplitKernels {
  const g = new SplitGenerator(spec, plan, options);
  return { dispatches: g.dispatches(), scratchSize: g.scratchSize };
}

interface Region {
  readonly values: number;
  /** arg reductions: where the indices start. */
  readonly indices?: number;
}

class SplitGenerator {
  private readonly kept: number[];
  private readonly regions = new Map<number, Region>();
  /** Column layout: where each stage's row values lie in scratch (rows entries), once a combine stored them. */
  private readonly rowValues = new Map<number, number>();
  /** Stages whose row values earlier dispatches stored (the column layout's combines). */
  private readonly stored = new Set<number>();
  readonly scratchSize: number;
  /** Kept axes of extent > 1 all precede reduced axes of extent > 1: the flat input index is o * extent + r. */
  private readonly rowContiguous: boolean;
  private readonly keepCoords: Coords;

  constructor(
    private readonly spec: RowSpec,
    private readonly plan: RowSplitPlan,
    private readonly options: RowSplitOptions,
  ) {
    const { inShape, axes } = spec;
    this.kept = inShape.map((_, d) => d).filter((d) => !axes.includes(d));
    let size = 0;
    const per = plan.rows * plan.chunks;
    spec.stages.forEach((st, k) => {
      if (st.kind !== 'reduce') return;
      const isArg = st.op === 'argmax' || st.op === 'argmin';
      this.regions.set(k, { values: size, indices: isArg ? size + per : undefined });
      size += (isArg ? 2 : 1) * per;
    });
    if (plan.layout === 'column') {
      spec.stages.forEach((_, k) => {
        this.rowValues.set(k, size);
        size += plan.rows;
      });
    }
    this.scratchSize = size;
    const big = (d: number) => inShape[d] > 1;
    const keptBig = this.kept.filter(big);
    const redBig = axes.filter(big);
    this.rowContiguous = keptBig.length === 0 || redBig.length === 0 || Math.max(...keptBig) < Math.min(...redBig);
    this.keepCoords = { names: inShape.map((_, d) => (axes.includes(d) ? '0u' : `c${d}`)) };
    if (spec.buffers.some((b) => b.name === options.scratch)) throw new Error(`internal: scratch buffer name ${options.scratch} is taken`);
  }

  dispatches(): SplitDispatch[] {
    const out: SplitDispatch[] = [];
    const { stages, map } = this.spec;
    const reduces = stages.flatMap((st, k) => (st.kind === 'reduce' ? [k] : []));
    reduces.forEach((k, n) => {
      out.push(this.partial(k, n));
      // Column layout: one thread per chunk would otherwise recombine its row's partials (as many as there
      // are chunks) in every later dispatch: a combine stores the row values once instead.
      const last = n === reduces.length - 1;
      if (this.plan.layout === 'column' && (!last || map)) out.push(this.combine(k, n, last ? stages.length : reduces[n + 1]));
    });
    out.push(this.final());
    return out;
  }

  // ---- the dispatches ----

  private partial(k: number, ordinal: number): SplitDispatch {
    const stage = this.spec.stages[k] as Extract<RowStage, { kind: 'reduce' }>;
    const d = new Dispatch();
    this.prologue(d, k);
    const acc = accumulator(stage.op, stage.dtype);
    acc.helpers.forEach((h) => d.helpers.add(h));
    const isArg = stage.op === 'argmax' || stage.op === 'argmin';
    d.body.push(`var p${k}: ${acc.type} = ${acc.identity};`, ...(isArg ? [`var p${k}_i: u32 = 0xffffffffu;`] : []));
    const vec4 = this.loop(d, stage.expr, (value, r) => {
      const item = stage.dtype === 'bool' ? `select(0u, 1u, ${value})` : value;
      if (!isArg) return [`p${k} = ${acc.combine(`p${k}`, item)};`];
      return [`let it${k}_${r} = ${item};`, `if (${acc.better}(it${k}_${r}, ${r}, p${k}, p${k}_i)) {`, `  p${k} = it${k}_${r};`, `  p${k}_i = ${r};`, '}'];
    }, [stage.step]);
    const region = this.regions.get(k)!;
    const at = (base: number) => this.partialIndex(base, 'o', 'w');
    let value = `p${k}`;
    let index = `p${k}_i`;
    if (this.plan.layout === 'row') {
      d.body.push(...this.tree(d, `p${k}`, acc, isArg, `m${k}`));
      value = `m${k}`;
      index = `m${k}_i`;
      d.body.push('if (lid == 0u) {', ...indent([`${this.options.scratch}[${at(region.values)}] = ${encode(acc.type, value)};`, ...(isArg ? [`${this.options.scratch}[${at(region.indices!)}] = ${index};`] : [])]), '}');
    } else {
      d.body.push(`${this.options.scratch}[${at(region.values)}] = ${encode(acc.type, value)};`, ...(isArg ? [`${this.options.scratch}[${at(region.indices!)}] = ${index};`] : []));
    }
    return this.finish(d, `partial${ordinal}`, this.plan.chunks, `partial results of reduction ${ordinal} (${stage.op})`, vec4, 'read_write');
  }

  /**
   * Column layout: one thread per row combines reduction `k`'s partials, runs the value stages up to stage
   * `until`, and stores those row values in scratch for the later dispatches.
   */
  private combine(k: number, ordinal: number, until: number): SplitDispatch {
    const d = new Dispatch();
    this.prologue(d, until);
    const { options } = this;
    for (let s = k; s < until; s++) {
      const st = this.spec.stages[s];
      const dtype = st.kind === 'reduce' && (st.op === 'argmax' || st.op === 'argmin') ? 'int32' : st.dtype;
      const value = dtype === 'bool' ? `select(0u, 1u, ${st.name})` : dtype === 'float32' || dtype === 'int32' ? `bitcast<u32>(${st.name})` : st.name;
      d.body.push(`${options.scratch}[${this.rowValues.get(s)!}u + o] = ${value};`);
      this.stored.add(s);
    }
    return this.finish(d, `combine${ordinal}`, 1, `the row values of reduction ${ordinal}`, false, 'read_write');
  }

  private final(): SplitDispatch {
    const d = new Dispatch();
    const { spec } = this;
    this.prologue(d, spec.stages.length);
    const stores = spec.rowStores.map((s) => `${s.buffer}[${indexOf(s.access, this.keepCoords)}] = ${toStorage(s.dtype, s.name)};`);
    const chunked = spec.map !== null;
    if (stores.length > 0) {
      const first = this.plan.layout === 'row' ? (chunked ? 'w == 0u && lid == 0u' : 'lid == 0u') : chunked ? 'w == 0u' : '';
      d.body.push(...(first ? [`if (${first}) {`, ...indent(stores), '}'] : stores));
    }
    let vec4 = false;
    if (spec.map) {
      const map = spec.map;
      vec4 = this.loop(d, map.expr, null, [], map.stores);
    }
    return this.finish(d, chunked ? 'map' : 'finish', chunked ? this.plan.chunks : 1, chunked ? 'the row map' : 'the row values', vec4, 'read');
  }

  /** Module text, bindings and launch size of a dispatch over `chunks` chunks per row. */
  private finish(d: Dispatch, label: string, chunks: number, what: string, vec4: boolean, scratchAccess: 'read' | 'read_write'): SplitDispatch {
    const { plan, spec, options } = this;
    const row = plan.layout === 'row';
    const blocks = Math.ceil(plan.rows / plan.threads);
    const start = row
      ? [`let g = ${LINEAR_WORKGROUP};`, chunks > 1 ? `let o = g / ${chunks}u;` : 'let o = g;', chunks > 1 ? `let w = g % ${chunks}u;` : 'let w = 0u;', `if (o >= ${plan.rows}u) { return; }`]
      : [`let g = ${LINEAR_WORKGROUP};`, chunks > 1 ? `let w = g / ${blocks}u;` : 'let w = 0u;', `let o = ${chunks > 1 ? `(g % ${blocks}u)` : 'g'} * ${plan.threads}u + lid;`, `if (w >= ${chunks}u || o >= ${plan.rows}u) { return; }`];
    const body = [...start, ...decompose('o', this.kept, spec.inShape, (a) => `c${a}`), ...(this.rowContiguous ? [`let ob = o * ${plan.extent}u;`] : []), ...d.body];
    const pruned = pruneUnusedLets(PRUNABLE, body);
    const text = pruned.join('\n');
    for (const h of literalHelpers([text, ...d.helpers].join('\n'))) d.helpers.add(h);
    const used = spec.buffers.filter((b) => new RegExp(`\\b${b.name}\\[`).test(text));
    const buffers = [...used.map((b) => ({ name: b.name, access: b.access })), { name: options.scratch, access: scratchAccess }];
    const decls = buffers.map((b, i) => {
      if (b.name === options.scratch) return `@group(0) @binding(${i}) var<storage, ${b.access}> ${b.name}: array<u32>;`;
      const t = STORAGE_TYPE[spec.buffers.find((x) => x.name === b.name)!.dtype];
      return `@group(0) @binding(${i}) var<storage, ${b.access}> ${b.name}: array<${d.vectors.has(b.name) ? `vec4<${t}>` : t}>;`;
    });
    const { inShape, axes } = spec;
    const header = `// split row kernel, ${label}: ${what}; ${plan.rows} row(s) of ${plan.extent} over axes [${axes.join(', ')}] of [${inShape.join(', ')}] in ${chunks} chunk(s) of ${chunks > 1 ? plan.chunk : plan.extent}, ${row ? `one workgroup of ${plan.threads} threads per chunk${vec4 ? ', 4 elements per step' : ''}` : 'one thread per chunk'}`;
    const wgsl = [
      header,
      ...decls,
      ...d.shared.values(),
      ...d.helpers,
      '',
      `@compute @workgroup_size(${plan.threads})`,
      'fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {',
      ...indent(pruned),
      '}',
      '',
    ].join('\n');
    const workgroups = row ? plan.rows * chunks : blocks * chunks;
    return { wgsl, entryPoint: 'main', workgroups: grid1d(workgroups), buffers, label, vec4 };
  }

  // ---- pieces ----

  /** scratch index of a partial: (row, chunk) in the layout's order. */
  private partialIndex(base: number, row: string, chunk: string): string {
    const { rows, chunks } = this.plan;
    const c = /^\w+$/.test(chunk) ? chunk : `(${chunk})`;
    return this.plan.layout === 'row' ? `${base}u + ${row} * ${chunks}u + ${c}` : `${base}u + ${c} * ${rows}u + ${row}`;
  }

  /** Replays stages [0, upto): reduce stages by combining their partials, value stages as they are. */
  private prologue(d: Dispatch, upto: number): void {
    const { spec, plan, options } = this;
    spec.stages.slice(0, upto).forEach((stage, k) => {
      if (this.stored.has(k)) {
        const dtype = stage.kind === 'reduce' && (stage.op === 'argmax' || stage.op === 'argmin') ? 'int32' : stage.dtype;
        const word = `${options.scratch}[${this.rowValues.get(k)!}u + o]`;
        const value = dtype === 'bool' ? `${word} != 0u` : dtype === 'float32' ? `bitcast<f32>(${word})` : dtype === 'int32' ? `bitcast<i32>(${word})` : word;
        d.body.push(`let ${stage.name}: ${VALUE_TYPE[dtype]} = ${value};`);
        return;
      }
      if (stage.kind === 'value') {
        const e = emitExpr(stage.expr, this.keepCoords, `s${k}_`);
        e.helpers.forEach((h) => d.helpers.add(h));
        d.body.push(...e.code, `let ${stage.name}: ${VALUE_TYPE[stage.dtype]} = ${e.value(stage.step)};`);
        return;
      }
      const acc = accumulator(stage.op, stage.dtype);
      acc.helpers.forEach((h) => d.helpers.add(h));
      const isArg = stage.op === 'argmax' || stage.op === 'argmin';
      const region = this.regions.get(k)!;
      const row = plan.layout === 'row';
      const t = 't';
      const load = [
        `let pv${k} = ${decode(acc.type, `${options.scratch}[${this.partialIndex(region.values, 'o', t)}]`)};`,
        ...(isArg ? [`let pi${k} = ${options.scratch}[${this.partialIndex(region.indices!, 'o', t)}];`] : []),
      ];
      const update = isArg
        ? [`if (${acc.better}(pv${k}, pi${k}, a${k}, a${k}_i)) {`, `  a${k} = pv${k};`, `  a${k}_i = pi${k};`, '}']
        : [`a${k} = ${acc.combine(`a${k}`, `pv${k}`)};`];
      d.body.push(`var a${k}: ${acc.type} = ${acc.identity};`, ...(isArg ? [`var a${k}_i: u32 = 0xffffffffu;`] : []));
      if (row) {
        d.body.push(`for (var ${t} = lid; ${t} < ${plan.chunks}u; ${t} += ${plan.threads}u) {`, ...indent([...load, ...update]), '}');
      } else {
        // One thread reads all of its row's partials: combineLoads loads in flight per step, combined in chunk order.
        const STEP = plan.combineLoads;
        const loads: string[] = [];
        const updates: string[] = [];
        for (let j = 0; j < STEP; j++) {
          const at = `${t} + ${j}u`;
          loads.push(`let pv${k}_${j} = ${decode(acc.type, `${options.scratch}[${this.partialIndex(region.values, 'o', at)}]`)};`);
          if (isArg) loads.push(`let pi${k}_${j} = ${options.scratch}[${this.partialIndex(region.indices!, 'o', at)}];`);
          updates.push(
            ...(isArg
              ? [`if (${acc.better}(pv${k}_${j}, pi${k}_${j}, a${k}, a${k}_i)) {`, `  a${k} = pv${k}_${j};`, `  a${k}_i = pi${k}_${j};`, '}']
              : [`a${k} = ${acc.combine(`a${k}`, `pv${k}_${j}`)};`]),
          );
        }
        const whole = plan.chunks - (plan.chunks % STEP);
        if (whole > 0) d.body.push(`for (var ${t} = 0u; ${t} < ${whole}u; ${t} += ${STEP}u) {`, ...indent([...loads, ...updates]), '}');
        if (whole < plan.chunks) d.body.push(`for (var ${t} = ${whole}u; ${t} < ${plan.chunks}u; ${t} += 1u) {`, ...indent([...load, ...update]), '}');
      }
      let value = `a${k}`;
      let index = `a${k}_i`;
      if (row) {
        d.body.push(...this.tree(d, `a${k}`, acc, isArg, `b${k}`));
        value = `b${k}`;
        index = `b${k}_i`;
      }
      const v = isArg ? `i32(${index})` : stage.dtype === 'bool' ? `${value} != 0u` : value;
      d.body.push(`let ${stage.name}: ${VALUE_TYPE[isArg ? 'int32' : stage.dtype]} = ${v};`);
    });
  }

  /**
   * The workgroup tree over every thread's `value` (and `${value}_i` for arg*): leaves `let ${out}` (and
   * `${out}_i`) in every thread, and a barrier after reading, so the arrays can be reused.
   */
  private tree(d: Dispatch, value: string, acc: Accumulator, isArg: boolean, out: string): string[] {
    const { vals, tree } = workgroupTree(d.shared, acc, isArg, this.plan.threads, value);
    return [
      ...tree,
      `let ${out} = ${vals}[0];`,
      ...(isArg ? [`let ${out}_i = wg_idx[0];`] : []),
      'workgroupBarrier();',
    ];
  }

  /**
   * The loop over this (row, chunk)'s elements evaluating `expr`: `update(value, r)` per element of each
   * step in `steps` (the reduce stage's value), and `stores` (the map's). Returns whether it went 4 elements
   * per step.
   */
  private loop(
    d: Dispatch,
    expr: Expr,
    update: ((value: string, r: string) => string[]) | null,
    steps: readonly number[],
    stores: NonNullable<RowSpec['map']>['stores'] = [],
  ): boolean {
    const { plan, spec } = this;
    const { inShape, axes } = spec;
    const row = plan.layout === 'row';
    const lo = `w * ${plan.chunk}u`;
    const hi = `min(${lo} + ${plan.chunk}u, ${plan.extent}u)`;
    const vec = row && this.rowContiguous && plan.extent % 4 === 0 && plan.chunk % 4 === 0 ? this.vectorPlan(expr, stores) : null;
    if (!vec) {
      const coords: Coords = { names: inShape.map((_, a) => `c${a}`), flat: this.rowContiguous ? { name: 'f', shape: inShape } : undefined };
      const e = emitExpr(expr, coords, 'e');
      e.helpers.forEach((h) => d.helpers.add(h));
      const inner = [
        ...decompose('r', axes, inShape, (a) => `c${a}`),
        ...(this.rowContiguous ? ['let f = ob + r;'] : []),
        ...e.code,
        ...(update ? steps.flatMap((s) => update(e.value(s), 'r')) : []),
        ...stores.map((s) => `${s.buffer}[${indexOf(s.access, coords)}] = ${toStorage(s.dtype, e.value(s.step))};`),
      ];
      if (row) {
        d.body.push(`for (var r = ${lo} + lid; r < ${hi}; r += ${plan.threads}u) {`, ...indent(inner), '}');
        return false;
      }
      // Column layout: 4 consecutive elements of the chunk per step, every load issued before the lanes'
      // arithmetic (four loads in flight per thread, not one); updates and stores in element order, so
      // results are those of the plain loop. The plain loop takes the last 1-3 elements.
      const unrolled: string[] = ['let r0 = r;', 'let r1 = r + 1u;', 'let r2 = r + 2u;', 'let r3 = r + 3u;'];
      const hoisted: string[] = [];
      const lanesCode: string[] = [];
      for (let lane = 0; lane < 4; lane++) {
        const name = (a: number) => (axes.includes(a) ? `k${lane}c${a}` : `c${a}`);
        const laneCoords: Coords = { names: inShape.map((_, a) => name(a)) };
        unrolled.push(...decompose(`r${lane}`, axes, inShape, name));
        const le = emitExpr(expr, laneCoords, `l${lane}_`, {
          loadValue: (i: number, st: LoadStep) => {
            hoisted.push(`let u${i}_${lane}: ${VALUE_TYPE[st.dtype]} = ${fromStorage(st.dtype, `${st.buffer}[${indexOf(st.access, laneCoords)}]`)};`);
            return `u${i}_${lane}`;
          },
        });
        le.helpers.forEach((h) => d.helpers.add(h));
        lanesCode.push(
          ...le.code,
          ...(update ? steps.flatMap((st) => update(le.value(st), `r${lane}`)) : []),
          ...stores.map((st) => `${st.buffer}[${indexOf(st.access, laneCoords)}] = ${toStorage(st.dtype, le.value(st.step))};`),
        );
      }
      d.body.push(
        '{',
        `  var r = ${lo};`,
        `  for (; r + 3u < ${hi}; r += 4u) {`,
        ...indent(indent([...unrolled, ...hoisted, ...lanesCode])),
        '  }',
        `  for (; r < ${hi}; r += 1u) {`,
        ...indent(indent(inner)),
        '  }',
        '}',
      );
      return false;
    }
    // 4 elements per step: lane k is element 4q + k of the row; vector loads and stores at base(o) / 4 + q.
    vec.vectors.forEach((v) => d.vectors.add(v.buffer));
    const pre: string[] = [];
    const bases = new Map<string, string>();
    const baseOf = (access: Access): string => {
      const key = `${access.offset}:${access.strides.join(',')}`;
      let name = bases.get(key);
      if (!name) {
        name = `vb${bases.size}`;
        bases.set(key, name);
        pre.push(`let ${name} = ${this.vectorBase(access)};`);
      }
      return name;
    };
    const inner: string[] = ['let r0 = q * 4u;', 'let r1 = r0 + 1u;', 'let r2 = r0 + 2u;', 'let r3 = r0 + 3u;'];
    const loaded = new Map<string, string>();
    const constants = new Map<number, string>();
    expr.steps.forEach((st, i) => {
      if (st.kind !== 'load') return;
      if (vec.vectorLoads.has(i)) {
        const key = `${st.buffer}@${baseOf(st.access)}`;
        if (!loaded.has(key)) {
          const name = `q${loaded.size}`;
          loaded.set(key, name);
          inner.push(`let ${name} = ${st.buffer}[${baseOf(st.access)} + q];`);
        }
      } else if (vec.constantLoads.has(i)) {
        const name = `h${i}`;
        constants.set(i, name);
        pre.push(`let ${name}: ${VALUE_TYPE[st.dtype]} = ${fromStorage(st.dtype, `${st.buffer}[${indexOf(st.access, this.keepCoords)}]`)};`);
      }
    });
    const laneValues: ((step: number) => string)[] = [];
    for (let lane = 0; lane < 4; lane++) {
      const name = (a: number) => (axes.includes(a) ? `k${lane}c${a}` : `c${a}`);
      const coords: Coords = { names: inShape.map((_, a) => name(a)), flat: { name: `f${lane}`, shape: inShape } };
      inner.push(...decompose(`r${lane}`, axes, inShape, name), `let f${lane} = ob + r${lane};`);
      const e = emitExpr(expr, coords, `l${lane}_`, {
        loadValue: (i: number, st: LoadStep) => {
          const c = constants.get(i);
          if (c) return c;
          if (!vec.vectorLoads.has(i)) return undefined;
          return fromStorage(st.dtype, `${loaded.get(`${st.buffer}@${baseOf(st.access)}`)}.${LANES[lane]}`);
        },
      });
      e.helpers.forEach((h) => d.helpers.add(h));
      inner.push(...e.code);
      if (update) for (const s of steps) inner.push(...update(e.value(s), `r${lane}`));
      laneValues.push(e.value);
      if (!vec.vectorStores) {
        for (const s of stores) inner.push(`${s.buffer}[${indexOf(s.access, coords)}] = ${toStorage(s.dtype, e.value(s.step))};`);
      }
    }
    if (vec.vectorStores) {
      for (const s of stores) {
        inner.push(`${s.buffer}[${baseOf(s.access)} + q] = vec4<${STORAGE_TYPE[s.dtype]}>(${laneValues.map((v) => toStorage(s.dtype, v(s.step))).join(', ')});`);
      }
    }
    d.body.push(...pre, `for (var q = ${lo} / 4u + lid; q < ${hi} / 4u; q += ${plan.threads}u) {`, ...indent(inner), '}');
    return true;
  }

  /**
   * Which loads of `expr` (step indices) are vector loads and which are per-row constants (hoisted out of
   * the loop), and whether the stores are vector stores; null when nothing would be a vector (the scalar
   * loop is as good then).
   */
  private vectorPlan(expr: Expr, stores: NonNullable<RowSpec['map']>['stores']) {
    const allowed = this.options.vec4 ?? (() => false);
    const vectorLoads = new Set<number>();
    const constantLoads = new Set<number>();
    expr.steps.forEach((st, i) => {
      if (st.kind !== 'load') return;
      if (this.isRowConstant(st.access)) constantLoads.add(i);
      else if (allowed(st.buffer) && this.isRowVector(st.access)) vectorLoads.add(i);
    });
    const vectorStores = stores.length > 0 && stores.every((s) => allowed(s.buffer) && this.isRowVector(s.access));
    if (vectorLoads.size === 0 && !vectorStores) return null;
    // A buffer read both as vectors and element by element is bound one way only: then no vector loads of it.
    const scalarBuffers = new Set(expr.steps.flatMap((st, i) => (st.kind === 'load' && !vectorLoads.has(i) ? [st.buffer] : [])));
    if (!vectorStores) for (const s of stores) scalarBuffers.add(s.buffer);
    for (const i of [...vectorLoads]) if (scalarBuffers.has((expr.steps[i] as LoadStep).buffer)) vectorLoads.delete(i);
    if (vectorStores && stores.some((s) => scalarBuffers.has(s.buffer))) return null;
    if (vectorLoads.size === 0 && !vectorStores) return null;
    const vectors = [...new Set([...[...vectorLoads].map((i) => (expr.steps[i] as LoadStep).buffer), ...(vectorStores ? stores.map((s) => s.buffer) : [])])].map((buffer) => ({ buffer }));
    return { vectorLoads, constantLoads, vectorStores, vectors };
  }

  /** The access reads the same element for every reduced coordinate (a per-row value broadcast over the row). */
  private isRowConstant(access: Access): boolean {
    return this.spec.axes.every((a) => this.spec.inShape[a] === 1 || access.strides[a] === 0);
  }

  /** The access is base(o) + r with base(o) a multiple of 4 for every row: 4 elements of a step are one vector. */
  private isRowVector(access: Access): boolean {
    const { inShape, axes } = this.spec;
    const red = axes.filter((a) => inShape[a] > 1);
    const strides = stridesOf(red.map((a) => inShape[a]));
    if (!red.every((a, i) => access.strides[a] === strides[i])) return false;
    return access.offset % 4 === 0 && this.kept.every((a) => inShape[a] === 1 || access.strides[a] % 4 === 0);
  }

  /** base(o) / 4 of a row-vector access, from the kept coordinates. */
  private vectorBase(access: Access): string {
    const terms = this.kept.flatMap((a) => (this.spec.inShape[a] === 1 || access.strides[a] === 0 ? [] : [access.strides[a] === 4 ? `c${a}` : `c${a} * ${access.strides[a] / 4}u`]));
    if (access.offset !== 0 || terms.length === 0) terms.unshift(`${access.offset / 4}u`);
    return terms.join(' + ');
  }
}

const LANES = ['x', 'y', 'z', 'w'] as const;

/** One dispatch's pieces while it is generated. */
class Dispatch {
  readonly body: string[] = [];
  readonly helpers = new Set<string>();
  readonly shared = new Map<string, string>();
  /** Buffers bound as array<vec4<T>>. */
  readonly vectors = new Set<string>();
}

function encode(type: string, value: string): string {
  return type === 'u32' ? value : `bitcast<u32>(${value})`;
}

function decode(type: string, stored: string): string {
  return type === 'u32' ? stored : `bitcast<${type}>(${stored})`;
}

/** `let NAME = ...;` for `axes` of `shape` from the row-major linear index `linear` over them. */
function decompose(linear: string, axes: readonly number[], shape: Shape, name: (axis: number) => string): string[] {
  const extents = axes.map((d) => shape[d]);
  const strides = stridesOf(extents);
  return axes.map((d, k) => {
    if (extents[k] <= 1) return `let ${name(d)} = 0u;`;
    const q = strides[k] === 1 ? linear : `${linear} / ${strides[k]}u`;
    const outer = extents.slice(0, k).every((e) => e <= 1);
    return `let ${name(d)} = ${outer ? q : `(${q}) % ${extents[k]}u`};`;
  });
}

/** The index lets (coordinates, lane indices, flat indices, vector bases), dropped where unused. */
const PRUNABLE = /^\s*let ((?:k\dc|c)\d+|r[0-3]|f[0-3]?|ob|vb\d+|h\d+) = /;



