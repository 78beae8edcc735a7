// The loop of a row kernel over one (row, chunk) of its rows, shared by the split kernel (row-split.ts: a
// workgroup per chunk in the row layout, a thread per chunk in the column layout) and the unsplit one
// (row.ts: a workgroup per row is one chunk of the whole row, where the row cache does not hold it). In the
// row layout, where the row is contiguous and its length and the chunk are multiples of 4, the loop takes 4
// consecutive elements per step: loads that walk the row are vec4 loads of buffers bound as
// array<vec4<T>> (those the caller allows and reads no other way), per-row operands are loaded once before
// the loop, and stores are vec4 stores where every stored buffer allows it.
import { stridesOf, type Shape } from '../ir/shape.js';
import { emitExpr, indexOf, type Access, type Coords, type Expr, type LoadStep } from './expr.js';
import type { RowSpec } from './row.js';
import { fromStorage, indent, STORAGE_TYPE, toStorage, VALUE_TYPE } from './wgsl.js';

export interface RowLoopShape {
  readonly layout: 'row' | 'column';
  /** Reduced elements per row. */
  readonly extent: number;
  /** Reduced elements per chunk (extent: the whole row). */
  readonly chunk: number;
  /** Threads per workgroup (row layout: striding over the chunk). */
  readonly threads: number;
  /** Kept axes of extent > 1 all precede reduced axes of extent > 1 (rowContiguous()). */
  readonly rowContiguous: boolean;
  /** The input space's coordinates with the reduced ones 0. */
  readonly keepCoords: Coords;
  /** The kept axes of the input space. */
  readonly kept: readonly number[];
  /** Which buffers may be bound as array<vec4<T>>. */
  readonly vec4: (buffer: string) => boolean;
}

/** Where a loop's code goes: statements, module-scope helpers, and the buffers it binds as vectors. */
export interface LoopSink {
  readonly body: string[];
  readonly helpers: Set<string>;
  readonly vectors: Set<string>;
}

/**
 * The buffers a row program's value stages read (per-row operands, loaded once per row by index): a loop
 * must not bind them as vectors.
 */
export function valueStageBuffers(spec: RowSpec): Set<string> {
  return new Set(spec.stages.flatMap((st) => (st.kind === 'value' ? st.expr.steps.flatMap((x) => (x.kind === 'load' ? [x.buffer] : [])) : [])));
}

/** Kept axes of extent > 1 all precede reduced axes of extent > 1: the flat input index is o * extent + r. */
export function rowContiguous(inShape: Shape, axes: readonly number[]): boolean {
  const big = (d: number) => inShape[d] > 1;
  const keptBig = inShape.map((_, d) => d).filter((d) => !axes.includes(d) && big(d));
  const redBig = axes.filter(big);
  return keptBig.length === 0 || redBig.length === 0 || Math.max(...keptBig) < Math.min(...redBig);
}

export class RowLoop {
  constructor(
    private readonly spec: RowSpec,
    private readonly shape: RowLoopShape,
  ) {}

  /**
   * The loop over this (row, chunk)'s elements (w: the chunk, lid: the thread, ob: the row's first flat
   * index where rows are contiguous, c<d>: the kept coordinates) evaluating `expr`: `update(value, r, i)` per element for each
   * step steps[i] (the reduce stages' values), and `stores` (the map's). Returns whether it went 4 elements
   * per step.
   */
  emit(
    d: LoopSink,
    expr: Expr,
    update: ((value: string, r: string, index: number) => string[]) | null,
    steps: readonly number[],
    stores: NonNullable<RowSpec['map']>['stores'] = [],
  ): boolean {
    const { shape: plan, spec } = this;
    const { inShape, axes } = spec;
    const row = plan.layout === 'row';
    const lo = `w * ${plan.chunk}u`;
    const hi = `min(${lo} + ${plan.chunk}u, ${plan.extent}u)`;
    const vec = row && plan.rowContiguous && plan.extent % 4 === 0 && plan.chunk % 4 === 0 ? this.vectorPlan(expr, stores) : null;
    if (!vec) {
      const coords: Coords = { names: inShape.map((_, a) => `c${a}`), flat: plan.rowContiguous ? { name: 'f', shape: inShape } : undefined };
      const e = emitExpr(expr, coords, 'e');
      e.helpers.forEach((h) => d.helpers.add(h));
      const inner = [
        ...decompose('r', axes, inShape, (a) => `c${a}`),
        ...(plan.rowContiguous ? ['let f = ob + r;'] : []),
        ...e.code,
        ...(update ? steps.flatMap((s, i) => update(e.value(s), 'r', i)) : []),
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
          ...(update ? steps.flatMap((st, i) => update(le.value(st), `r${lane}`, i)) : []),
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
        pre.push(`let ${name}: ${VALUE_TYPE[st.dtype]} = ${fromStorage(st.dtype, `${st.buffer}[${indexOf(st.access, this.shape.keepCoords)}]`)};`);
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
      if (update) steps.forEach((s, i) => inner.push(...update(e.value(s), `r${lane}`, i)));
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
    const allowed = this.shape.vec4;
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
    return access.offset % 4 === 0 && this.shape.kept.every((a) => inShape[a] === 1 || access.strides[a] % 4 === 0);
  }

  /** base(o) / 4 of a row-vector access, from the kept coordinates. */
  private vectorBase(access: Access): string {
    const terms = this.shape.kept.flatMap((a) => (this.spec.inShape[a] === 1 || access.strides[a] === 0 ? [] : [access.strides[a] === 4 ? `c${a}` : `c${a} * ${access.strides[a] / 4}u`]));
    if (access.offset !== 0 || terms.length === 0) terms.unshift(`${access.offset / 4}u`);
    return terms.join(' + ');
  }
}

const LANES = ['x', 'y', 'z', 'w'] as const;

/** `let NAME = ...;` for `axes` of `shape` from the row-major linear index `linear` over them. */
export function decompose(linear: string, axes: readonly number[], shape: Shape, name: (axis: number) => string): string[] {
  const extents = axes.map((d) => shape[d]);
  const strides = stridesOf(extents);
  return axes.map((d, k) => {
    if (extents[k] <= 1) return `let ${name(d)} = 0u;`;
    const q = strides[k] === 1 ? linear : `${linear} / ${strides[k]}u`;
    const outer = extents.slice(0, k).every((e) => e <= 1);
    return `let ${name(d)} = ${outer ? q : `(${q}) % ${extents[k]}u`};`;
  });
}
