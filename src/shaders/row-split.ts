// The split row kernel: a row program (src/shaders/row.ts: reduce stages, per-row value stages, row stores
// and a row map) run as several dispatches when its rows are too long and too few to fill the device with
// one workgroup (or thread) per row. Each row is cut into `chunks` chunks of `chunk` consecutive reduced
// elements, and:
// - **partial** dispatches, one per pass: each (row, chunk) reduces its chunk for every reduce stage of the
//   pass in one loop (the group's elementwise producers evaluated per element, as in the unsplit kernel,
//   each element loaded once), one partial result per stage, stored in a scratch buffer;
// - one **final** dispatch: the row map over every (row, chunk) (or, without a map, one per row) storing
//   the per-element results and the stored row values.
// A reduce stage goes in the first pass after those of the row values its expression reads: sum, max and
// argmin of one value share pass 0. The sum of squared deviations from the row mean (the variance) and
// softmax's sum of exp(x - max) would need the mean or max first; they keep partials that need neither
// (moments; a running max and sum: row-rebase.ts) and share the pass of the mean or max. A dispatch that
// needs an earlier row value (the map needs every one) recombines that stage's partials of its row in its
// prologue, and replays the value stages in between (mean = sum / n, rsqrt(var + eps)). A program of P
// passes is P + 1 dispatches: the image pipeline, layerNorm and softmax 2. Every workgroup recombines in
// one fixed order, so they all get bit-identical row values. (The column layout below stores row values
// through combine dispatches instead.)
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
//   loads in flight) stores the row values in scratch, and later prologues load them: 2P + 1 dispatches.
// The scratch buffer is one array<u32> for every stage's partials (floats and ints through bitcast; arg
// reductions keep a second region of u32 indices: the index in the row, so ties keep the first index;
// a rebased reduction one region per component: count, mean, M2; max, sum).
import { sizeOf, type Shape } from '../ir/shape.js';
import type { GeneratedKernel } from './elementwise.js';
import { emitExpr, indexOf, type Coords } from './expr.js';
import { grid1d, LINEAR_WORKGROUP } from './grid.js';
import { decompose, RowLoop, rowContiguous, valueStageBuffers } from './row-loop.js';
import { accumulate, declareAccumulator, deferredShifts, mergeExprs, planPasses, rowValueLet, rowValueType, valueNames, type StageForm } from './row-passes.js';
import { workgroupTree, type Accumulator, type RowSpec, type RowStage } from './row.js';
import { tuning } from './tuning.js';
import { indent, literalHelpers, pruneUnusedLets, STORAGE_TYPE, toStorage, VALUE_TYPE } from './wgsl.js';

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
  /** Column layout: threads combining one row's partials (a power of two up to 32; fewer where chunks are fewer). */
  readonly combineLanes: number;
  /**
   * Reductions needing no row value of a pass share it, and rebased reductions (row-rebase.ts) need none;
   * false: one partial pass per reduction, in order (to compare).
   */
  readonly sharePasses: boolean;
}

/**
 * Defaults for an H100-class device (132 SMs, 2048 threads each): about 1024 workgroups of 256 threads (row
 * layout) or 256k threads (column layout: with 32 lanes per column in the finish, 256k threads took column
 * sums of [80000, 512] from 0.081 to 0.077 ms and argmax over them from 0.092 to 0.083 on the H100;
 * with one thread per column in the finish 128k had been the better). Rows that already fill that are
 * never split, nor rows shorter than two chunks: layerNorm and softmax over rows of 1024 stay one kernel,
 * whatever the row count.
 */
export const DEFAULT_ROW_SPLIT: RowSplitTuning = {
  enabled: true,
  targetWorkgroups: 1024,
  minRowChunk: 8192,
  targetThreads: 262144,
  minColumnChunk: 64,
  maxChunks: 1024,
  combineLoads: 8,
  // On the H100 (bench/kernels.ts, 512 columns of 256 partials): 32 lanes took the finish of a column sum
  // from 0.018 to 0.0095 ms, of the variance's moments from 0.039 to 0.012 (8 lanes: 0.010 and 0.014).
  combineLanes: 32,
  sharePasses: true,
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
  /** Column layout: threads per row in combine and finish dispatches (a power of two, at most 32 and chunks). */
  readonly combineLanes: number;
  /** RowSplitTuning.sharePasses. */
  readonly sharePasses: boolean;
}

const ROW_THREADS = 256;
const COLUMN_THREADS = 64;
/** Column layout's combine and finish dispatches: threads per workgroup (rows x lanes). */
const GATHER_THREADS = 256;

/** The largest power of two at most `want`, 32 and `chunks` (at least 1). */
function lanesFor(want: number, chunks: number): number {
  let lanes = 1;
  while (lanes * 2 <= Math.min(want, 32, chunks)) lanes *= 2;
  return lanes;
}

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
  return { layout, rows, extent, chunks: real, chunk, threads: layout === 'row' ? ROW_THREADS : COLUMN_THREADS, combineLoads: Math.max(1, Math.floor(t.combineLoads)), combineLanes: lanesFor(t.combineLanes, real), sharePasses: t.sharePasses };
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
  /** u32 words of scratch read (each partial or stored row value counted once) and written. */
  readonly scratchRead: number;
  readonly scratchWritten: number;
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

type ReduceStage = Extract<RowStage, { kind: 'reduce' }>;

class SplitGenerator {
  private readonly kept: number[];
  private readonly forms: ReadonlyMap<number, StageForm>;
  /** Where each reduce stage's partials start in scratch: word w of a partial lies rows * chunks further per w. */
  private readonly regions = new Map<number, number>();
  /** Stage index by row-value name. */
  private readonly stageOf: ReadonlyMap<string, number>;
  /** Reduce stages by pass (row-passes.ts): a stage's partials need the row values of earlier passes only. */
  private readonly passes: readonly (readonly number[])[];
  /** Per stage: how many partial passes its row value needs. */
  private readonly ready: readonly number[];
  /** Column layout: where each stage's row values lie in scratch (rows entries), once a combine stored them. */
  private readonly rowValues = new Map<number, number>();
  /** Stages whose row values earlier dispatches stored (the column layout's combines). */
  private readonly stored = new Set<number>();
  readonly scratchSize: number;
  /** Kept axes of extent > 1 all precede reduced axes of extent > 1: the flat input index is o * extent + r. */
  private readonly rowContiguous: boolean;
  private readonly rowLoop: RowLoop;
  private readonly keepCoords: Coords;

  constructor(
    private readonly spec: RowSpec,
    private readonly plan: RowSplitPlan,
    private readonly options: RowSplitOptions,
  ) {
    const { inShape, axes } = spec;
    this.kept = inShape.map((_, d) => d).filter((d) => !axes.includes(d));
    ({ forms: this.forms, passes: this.passes, ready: this.ready, stageOf: this.stageOf } = planPasses(spec, plan.sharePasses));
    let size = 0;
    const per = plan.rows * plan.chunks;
    for (const [k, form] of this.forms) {
      this.regions.set(k, size);
      size += form.words * per;
    }
    if (plan.layout === 'column') {
      spec.stages.forEach((_, k) => {
        this.rowValues.set(k, size);
        size += plan.rows;
      });
    }
    this.scratchSize = size;
    this.rowContiguous = rowContiguous(inShape, axes);
    this.keepCoords = { names: inShape.map((_, d) => (axes.includes(d) ? '0u' : `c${d}`)) };
    const { layout, extent, chunk, threads } = plan;
    // Buffers that value stages read per row (in prologues) stay scalar arrays.
    const valueBuffers = valueStageBuffers(spec);
    const vec4 = (b: string) => options.vec4?.(b) === true && !valueBuffers.has(b);
    this.rowLoop = new RowLoop(spec, { layout, extent, chunk, threads, rowContiguous: this.rowContiguous, keepCoords: this.keepCoords, kept: this.kept, vec4 });
    if (spec.buffers.some((b) => b.name === options.scratch)) throw new Error(`internal: scratch buffer name ${options.scratch} is taken`);
  }

  dispatches(): SplitDispatch[] {
    const out: SplitDispatch[] = [];
    this.passes.forEach((ks, n) => {
      out.push(this.partial(ks, n));
      // Column layout: one thread per chunk would otherwise recombine its row's partials (as many as there
      // are chunks) in every later dispatch: a combine stores the row values once instead.
      const last = n === this.passes.length - 1;
      if (this.plan.layout === 'column' && (!last || this.spec.map)) out.push(this.combine(n));
    });
    out.push(this.final());
    return out;
  }

  // ---- the dispatches ----

  /** Partial pass n: each (row, chunk) reduces its chunk for every reduce stage `ks` in one loop over it. */
  private partial(ks: readonly number[], n: number): SplitDispatch {
    const d = this.dispatch();
    const forms = ks.map((k) => this.forms.get(k)!);
    this.prologue(d, this.closure(forms.flatMap((f) => valueNames(f.expr))));
    const merged = mergeExprs(forms);
    ks.forEach((k, i) => {
      forms[i].acc.helpers.forEach((h) => d.helpers.add(h));
      d.body.push(...declareAccumulator(forms[i], k), d.shifts.slot(forms[i], k));
    });
    const vec4 = this.rowLoop.emit(d, merged.expr, (value, r, i) => accumulate(forms[i], ks[i], value, r), merged.steps);
    const at = (base: number) => this.partialIndex(base, 'o', 'w');
    ks.forEach((k, i) => {
      const { acc, isArg } = forms[i];
      if (this.plan.layout === 'row') {
        d.body.push(...this.tree(d, `p${k}`, acc, isArg, `m${k}`));
        d.body.push('if (lid == 0u) {', ...indent(this.storePartial(k, `m${k}`, at)), '}');
      } else {
        d.body.push(...this.storePartial(k, `p${k}`, at));
      }
      d.scratchWritten += forms[i].words * this.plan.rows * this.plan.chunks;
    });
    return this.finish(d, `partial${n}`, this.plan.chunks, `partial results of ${ks.map((k) => this.describe(k)).join(' and ')}`, vec4, 'read_write');
  }

  /**
   * Column layout, after partial pass n: one thread per row combines the partials and stores in scratch the
   * row value of every stage known by then, for the later dispatches.
   */
  private combine(n: number): SplitDispatch {
    const d = this.dispatch(true);
    const { spec, options } = this;
    const known = spec.stages.flatMap((_, k) => (this.ready[k] <= n + 1 && !this.stored.has(k) ? [k] : []));
    this.prologue(d, this.closure(known.map((k) => spec.stages[k].name)));
    const stores = known.map((s) => {
      const st = spec.stages[s];
      const dtype = rowValueType(st);
      const value = dtype === 'bool' ? `select(0u, 1u, ${st.name})` : dtype === 'float32' || dtype === 'int32' ? `bitcast<u32>(${st.name})` : st.name;
      d.scratchWritten += this.plan.rows;
      return `${options.scratch}[${this.rowValues.get(s)!}u + o] = ${value};`;
    });
    d.body.push(`if (${GATHER_FIRST}) {`, ...indent(stores), '}');
    known.forEach((s) => this.stored.add(s));
    return this.finish(d, `combine${n}`, 1, `the row values after partial pass ${n}`, false, 'read_write');
  }

  private final(): SplitDispatch {
    const { spec } = this;
    const d = this.dispatch(this.plan.layout === 'column' && spec.map === null);
    this.prologue(d, this.closure([...spec.rowStores.map((s) => s.name), ...(spec.map ? valueNames(spec.map.expr) : [])]));
    const stores = spec.rowStores.map((s) => `${s.buffer}[${indexOf(s.access, this.keepCoords)}] = ${toStorage(s.dtype, s.name)};`);
    const chunked = spec.map !== null;
    if (stores.length > 0) {
      const first = this.plan.layout === 'row' ? (chunked ? 'w == 0u && lid == 0u' : 'lid == 0u') : chunked ? 'w == 0u' : GATHER_FIRST;
      d.body.push(...(first ? [`if (${first}) {`, ...indent(stores), '}'] : stores));
    }
    let vec4 = false;
    if (spec.map) {
      const map = spec.map;
      vec4 = this.rowLoop.emit(d, map.expr, null, [], map.stores);
    }
    return this.finish(d, chunked ? 'map' : 'finish', chunked ? this.plan.chunks : 1, chunked ? 'the row map' : 'the row values', vec4, 'read');
  }

  /** Module text, bindings and launch size of a dispatch over `chunks` chunks per row. */
  private finish(d: Dispatch, label: string, chunks: number, what: string, vec4: boolean, scratchAccess: 'read' | 'read_write'): SplitDispatch {
    const { plan, spec, options } = this;
    const row = plan.layout === 'row';
    const threads = d.gather ? GATHER_THREADS : plan.threads;
    const perGroup = d.gather ? GATHER_THREADS / plan.combineLanes : plan.threads;
    const blocks = Math.ceil(plan.rows / perGroup);
    const start = row
      ? [`let g = ${LINEAR_WORKGROUP};`, chunks > 1 ? `let o = g / ${chunks}u;` : 'let o = g;', chunks > 1 ? `let w = g % ${chunks}u;` : 'let w = 0u;', `if (o >= ${plan.rows}u) { return; }`]
      : d.gather
        ? [`let g = ${LINEAR_WORKGROUP};`, 'let w = 0u;', `let lane = lid / ${perGroup}u;`, `let live = g * ${perGroup}u + lid % ${perGroup}u < ${plan.rows}u;`, `let o = min(g * ${perGroup}u + lid % ${perGroup}u, ${plan.rows - 1}u);`]
        : [`let g = ${LINEAR_WORKGROUP};`, chunks > 1 ? `let w = g / ${blocks}u;` : 'let w = 0u;', `let o = ${chunks > 1 ? `(g % ${blocks}u)` : 'g'} * ${plan.threads}u + lid;`, `if (w >= ${chunks}u || o >= ${plan.rows}u) { return; }`];
    const expanded = d.shifts.expand(d.body);
    const body = [...start, ...decompose('o', this.kept, spec.inShape, (a) => `c${a}`), ...(this.rowContiguous ? [`let ob = o * ${plan.extent}u;`] : []), ...expanded];
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
    const layout = row
      ? `one workgroup of ${plan.threads} threads per chunk${vec4 ? ', 4 elements per step' : ''}`
      : d.gather
        ? `${plan.combineLanes} thread(s) per row combining its ${plan.chunks} partials, ${perGroup} rows per workgroup`
        : 'one thread per chunk';
    const header = `// split row kernel, ${label}: ${what}; ${plan.rows} row(s) of ${plan.extent} over axes [${axes.join(', ')}] of [${inShape.join(', ')}] in ${chunks} chunk(s) of ${chunks > 1 ? plan.chunk : plan.extent}, ${layout}`;
    const wgsl = [
      header,
      ...decls,
      ...d.shared.values(),
      ...d.helpers,
      '',
      `@compute @workgroup_size(${threads})`,
      'fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {',
      ...indent(pruned),
      '}',
      '',
    ].join('\n');
    const workgroups = row ? plan.rows * chunks : blocks * chunks;
    return { wgsl, entryPoint: 'main', workgroups: grid1d(workgroups), buffers, label, vec4, scratchRead: d.scratchRead, scratchWritten: d.scratchWritten };
  }

  // ---- pieces ----

  /** scratch index of a partial: (row, chunk) in the layout's order. */
  private partialIndex(base: number, row: string, chunk: string): string {
    const { rows, chunks } = this.plan;
    const c = /^\w+$/.test(chunk) ? chunk : `(${chunk})`;
    return this.plan.layout === 'row' ? `${base}u + ${row} * ${chunks}u + ${c}` : `${base}u + ${c} * ${rows}u + ${row}`;
  }

  /** The stages to replay for the row values `names`: those stages and what they need, by stage index. */
  private closure(names: Iterable<string>): Set<number> {
    const out = new Set<number>();
    const stack = [...names];
    while (stack.length > 0) {
      const k = this.stageOf.get(stack.pop()!);
      if (k === undefined) throw new Error('internal: a split row expression reads a value no stage computes');
      if (out.has(k)) continue;
      out.add(k);
      if (this.stored.has(k)) continue;
      const st = this.spec.stages[k];
      // A reduce stage replays from its partials; a rebased one needs its centre too, and the row values
      // its shift reads (shiftOf: its values' expression at the row's first element).
      const form = this.forms.get(k);
      if (st.kind === 'value') stack.push(...valueNames(st.expr));
      else if (form?.rebased) stack.push(form.rebased.centre, ...valueNames(form.expr));
    }
    return out;
  }

  /** A new dispatch's pieces (a gather: see GATHER_FIRST). */
  private dispatch(gather = false): Dispatch {
    return new Dispatch(this.keepCoords, gather);
  }

  /** What a partial pass computes for stage k, in the dispatch's comment. */
  private describe(k: number): string {
    const st = this.spec.stages[k] as ReduceStage;
    const ordinal = [...this.forms.keys()].indexOf(k);
    const rebased = this.forms.get(k)!.rebased;
    if (rebased?.kind === 'moments') return `reduction ${ordinal} (sum of squared deviations from the mean, as moments)`;
    if (rebased?.kind === 'expsum') return `reduction ${ordinal} (sum of exp(x - max), as a running max and sum)`;
    return `reduction ${ordinal} (${st.op})`;
  }

  /** Word w of a partial of stage k in scratch, indexed through `at(base)` (partialIndex). */
  private partialWord(k: number, w: number, at: (base: number) => string): string {
    return `${this.options.scratch}[${at(this.regions.get(k)! + w * this.plan.rows * this.plan.chunks)}]`;
  }

  /** Stores stage k's partial `value` (and `${value}_i`) at word offsets through `at(base)`. */
  private storePartial(k: number, value: string, at: (base: number) => string): string[] {
    const { acc, isArg, rebased, words } = this.forms.get(k)!;
    const word = (w: number) => this.partialWord(k, w, at);
    if (rebased) return COMPONENTS.slice(0, words).map((c, w) => `${word(w)} = bitcast<u32>(${value}.${c});`);
    return [`${word(0)} = ${encode(acc.type, value)};`, ...(isArg ? [`${word(1)} = ${value}_i;`] : [])];
  }

  /** `let pv<k><sfx>` (and `pi<k><sfx>`): a partial of stage k loaded through `at(base)`. */
  private loadPartial(k: number, at: (base: number) => string, sfx = ''): string[] {
    const { acc, isArg, rebased, words } = this.forms.get(k)!;
    const word = (w: number) => this.partialWord(k, w, at);
    if (rebased) return [`let pv${k}${sfx} = ${acc.type}(${COMPONENTS.slice(0, words).map((_, w) => `bitcast<f32>(${word(w)})`).join(', ')});`];
    return [`let pv${k}${sfx} = ${decode(acc.type, word(0))};`, ...(isArg ? [`let pi${k}${sfx} = ${word(1)};`] : [])];
  }

  /** Replays the stages `which` in order: reduce stages by combining their partials, value stages as they are. */
  private prologue(d: Dispatch, which: ReadonlySet<number>): void {
    const { spec, plan, options } = this;
    spec.stages.forEach((stage, k) => {
      if (!which.has(k)) return;
      if (this.stored.has(k)) {
        const dtype = rowValueType(stage);
        const word = `${options.scratch}[${this.rowValues.get(k)!}u + o]`;
        const value = dtype === 'bool' ? `${word} != 0u` : dtype === 'float32' ? `bitcast<f32>(${word})` : dtype === 'int32' ? `bitcast<i32>(${word})` : word;
        d.body.push(`let ${stage.name}: ${VALUE_TYPE[dtype]} = ${value};`);
        d.scratchRead += plan.rows;
        return;
      }
      if (stage.kind === 'value') {
        const e = emitExpr(stage.expr, this.keepCoords, `s${k}_`);
        e.helpers.forEach((h) => d.helpers.add(h));
        d.body.push(...e.code, `let ${stage.name}: ${VALUE_TYPE[stage.dtype]} = ${e.value(stage.step)};`);
        return;
      }
      const form = this.forms.get(k)!;
      const { acc, isArg, words } = form;
      acc.helpers.forEach((h) => d.helpers.add(h));
      d.scratchRead += words * plan.rows * plan.chunks;
      const row = plan.layout === 'row';
      const t = 't';
      const at = (j: string) => (base: number) => this.partialIndex(base, 'o', j);
      const update = (sfx: string) =>
        isArg
          ? [`if (${acc.better}(pv${k}${sfx}, pi${k}${sfx}, a${k}, a${k}_i)) {`, `  a${k} = pv${k}${sfx};`, `  a${k}_i = pi${k}${sfx};`, '}']
          : [`a${k} = ${acc.combine(`a${k}`, `pv${k}${sfx}`)};`];
      d.body.push(`var a${k}: ${acc.type} = ${acc.identity};`, ...(isArg ? [`var a${k}_i: u32 = 0xffffffffu;`] : []));
      if (row) {
        d.body.push(`for (var ${t} = lid; ${t} < ${plan.chunks}u; ${t} += ${plan.threads}u) {`, ...indent([...this.loadPartial(k, at(t)), ...update('')]), '}');
      } else {
        // A gather (GATHER_FIRST): the row's lanes take chunks lane, lane + L, ... with combineLoads loads in
        // flight per step, each in chunk order, then merge in a tree over the lanes.
        if (!d.gather) throw new Error('internal: a column-layout dispatch other than a combine or finish recombines partials');
        const L = plan.combineLanes;
        const STEP = plan.combineLoads;
        const loads: string[] = [];
        const updates: string[] = [];
        for (let j = 0; j < STEP; j++) {
          loads.push(...this.loadPartial(k, at(j === 0 ? t : `${t} + ${j * L}u`), `_${j}`));
          updates.push(...update(`_${j}`));
        }
        d.body.push(
          '{',
          ...indent([
            `var ${t} = ${L > 1 ? 'lane' : '0u'};`,
            `for (; ${t} + ${(STEP - 1) * L}u < ${plan.chunks}u; ${t} += ${STEP * L}u) {`,
            ...indent([...loads, ...updates]),
            '}',
            `for (; ${t} < ${plan.chunks}u; ${t} += ${L}u) {`,
            ...indent([...this.loadPartial(k, at(t)), ...update('')]),
            '}',
          ]),
          '}',
        );
      }
      let value = `a${k}`;
      let index = `a${k}_i`;
      if (row || plan.combineLanes > 1) {
        d.body.push(...(row ? this.tree(d, `a${k}`, acc, isArg, `b${k}`) : this.laneTree(d, `a${k}`, acc, isArg, `b${k}`)));
        value = `b${k}`;
        index = `b${k}_i`;
      }
      d.body.push(d.shifts.slot(form, k), rowValueLet(form, k, stage, value, index));
    });
  }

  /** A gather's tree over each row's lanes (see GATHER_FIRST): leaves the row's `let ${out}` in its every lane. */
  private laneTree(d: Dispatch, value: string, acc: Accumulator, isArg: boolean, out: string): string[] {
    const perGroup = GATHER_THREADS / this.plan.combineLanes;
    const { vals, tree } = workgroupTree(d.shared, acc, isArg, GATHER_THREADS, value, 'lane', this.plan.combineLanes, perGroup);
    const r = `lid % ${perGroup}u`;
    return [...tree, `let ${out} = ${vals}[${r}];`, ...(isArg ? [`let ${out}_i = wg_idx[${r}];`] : []), 'workgroupBarrier();'];
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
}

/** The components of a rebased partial, one scratch word each. */
const COMPONENTS = ['x', 'y', 'z', 'w'] as const;

/**
 * Column layout, combine and finish dispatches: GATHER_THREADS threads of `rows per workgroup` x `lanes`,
 * thread lane * rowsPerGroup + r on row g * rowsPerGroup + r, so that a warp's loads of one chunk's partials
 * are of neighbouring rows. Past the last row a thread works on the last row again (a workgroup's threads
 * all reach its barriers) and stores nothing.
 */
const GATHER_FIRST = 'live && lane == 0u';

/** One dispatch's pieces while it is generated. */
class Dispatch {
  readonly body: string[] = [];
  readonly helpers = new Set<string>();
  readonly shared = new Map<string, string>();
  /** Buffers bound as array<vec4<T>>. */
  readonly vectors = new Set<string>();
  /** Shifts' placeholder lines in body, expanded by finish() once `vectors` is complete. */
  readonly shifts: ReturnType<typeof deferredShifts>;
  scratchRead = 0;
  scratchWritten = 0;

  constructor(
    keepCoords: Coords,
    /** A column layout gather (combine or finish): lanes per row, see GATHER_FIRST. */
    readonly gather = false,
  ) {
    this.shifts = deferredShifts(keepCoords, this.helpers, this.vectors);
  }
}

function encode(type: string, value: string): string {
  return type === 'u32' ? value : `bitcast<u32>(${value})`;
}

function decode(type: string, stored: string): string {
  return type === 'u32' ? stored : `bitcast<${type}>(${stored})`;
}


/** The index lets (coordinates, lane indices, flat indices, vector bases), dropped where unused. */
const PRUNABLE = /^\s*let ((?:k\dc|c)\d+|r[0-3]|f[0-3]?|ob|vb\d+|h\d+) = /;
