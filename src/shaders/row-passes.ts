// Passes over a row program's rows: which reduce stages share one loop over the row, and how each
// accumulates. A pass takes every reduce stage whose values need no row value computed in that pass: sum,
// max and argmin of one value share pass 0; a stage reading the mean goes after the mean's pass. Rebased
// reductions (row-rebase.ts: the variance's squared deviations from the mean, softmax's sum of exp(x -
// max)) accumulate values that need neither, so they share the pass of their mean or max. The split row
// kernel (row-split.ts) runs a dispatch per pass; the unsplit one (row.ts), where it reads the row from
// memory in every stage, a loop per pass.
import type { DType } from '../ir/dtype.js';
import { emitExpr, indexOf, type Coords, type Expr, type ExprStep } from './expr.js';
import { fromStorage, VALUE_TYPE } from './wgsl.js';
import { REBASED, rebasedStages, type RebasedKind } from './row-rebase.js';
import { accumulator, type Accumulator, type RowSpec, type RowStage } from './row.js';

type ReduceStage = Extract<RowStage, { kind: 'reduce' }>;

/** How a reduce stage accumulates. */
export interface StageForm {
  readonly acc: Accumulator;
  readonly isArg: boolean;
  /** Words of a partial result: 1; 2 for arg reductions (value, index); a rebased form's components. */
  readonly words: number;
  /** The per-element values it reduces: the stage's own, or a rebased stage's e (row-rebase.ts). */
  readonly expr: Expr;
  readonly step: number;
  readonly dtype: DType;
  /** A rebased reduction: its kind, and the row value its accumulator is rebased to. */
  readonly rebased?: { readonly kind: RebasedKind; readonly centre: string };
}

export interface RowPasses {
  /** Per reduce stage (by stage index). */
  readonly forms: ReadonlyMap<number, StageForm>;
  /** Reduce stages by pass, in stage order. */
  readonly passes: readonly (readonly number[])[];
  /** Per stage: how many passes its row value needs (0 for a value stage of no reduction). */
  readonly ready: readonly number[];
  /** Stage index by row-value name. */
  readonly stageOf: ReadonlyMap<string, number>;
}

/** The passes of `spec`; with `share` false one pass per reduce stage, in order, and none rebased. */
export function planPasses(spec: RowSpec, share: boolean): RowPasses {
  const stageOf = new Map(spec.stages.map((st, k) => [st.name, k]));
  const rebased = share ? rebasedStages(spec) : new Map<number, never>();
  const forms = new Map<number, StageForm>();
  const passes: number[][] = [];
  const ready: number[] = [];
  const readyOf = (names: readonly string[]) => Math.max(0, ...names.map((n) => ready[stageOf.get(n)!]));
  spec.stages.forEach((st, k) => {
    if (st.kind !== 'reduce') {
      ready.push(readyOf(valueNames(st.expr)));
      return;
    }
    const rb = rebased.get(k);
    const isArg = st.op === 'argmax' || st.op === 'argmin';
    let form: StageForm;
    if (rb) {
      const of = spec.stages[rb.of] as ReduceStage;
      const { acc, words } = REBASED[rb.kind];
      form = { acc, isArg: false, words, expr: of.expr, step: of.step, dtype: 'float32', rebased: { kind: rb.kind, centre: rb.centre } };
    } else {
      form = { acc: accumulator(st.op, st.dtype), isArg, words: isArg ? 2 : 1, expr: st.expr, step: st.step, dtype: st.dtype };
    }
    forms.set(k, form);
    const pass = share ? readyOf(valueNames(form.expr)) : passes.length;
    (passes[pass] ??= []).push(k);
    ready.push(Math.max(pass + 1, readyOf(form.rebased ? [form.rebased.centre] : [])));
  });
  return { forms, passes, ready, stageOf };
}

/** The row values an expression reads. */
export function valueNames(expr: Expr): string[] {
  return expr.steps.flatMap((s) => (s.kind === 'value' ? [s.name] : []));
}

/**
 * One expression computing the value of each part (its expr's step): steps appended in order, a step equal to
 * one already there (the same op of the same operands, load, leaf or row value) shared, so a pass reducing
 * several functions of one input loads each element once.
 */
export function mergeExprs(parts: readonly { readonly expr: Expr; readonly step: number }[]): { expr: Expr; steps: number[] } {
  const steps: ExprStep[] = [];
  const at = new Map<string, number>();
  const values = parts.map(({ expr, step }) => {
    const moved: number[] = [];
    for (const s of expr.steps) {
      const step2: ExprStep = s.kind === 'op' ? { ...s, args: s.args.map((a) => moved[a]) } : s;
      const key = JSON.stringify(step2);
      let k = at.get(key);
      if (k === undefined) {
        k = steps.push(step2) - 1;
        at.set(key, k);
      }
      moved.push(k);
    }
    return moved[step];
  });
  return { expr: { steps }, steps: values };
}

/** Declarations of stage k's accumulator `p<k>` (and `p<k>_i`). */
export function declareAccumulator(form: StageForm, k: number): string[] {
  return [`var p${k}: ${form.acc.type} = ${form.acc.identity};`, ...(form.isArg ? [`var p${k}_i: u32 = 0xffffffffu;`] : [])];
}

/**
 * For a shifted rebased stage k (row-rebase.ts), `let sh<k>`: its values' expression at the row's first
 * element (keepCoords: the reduced coordinates 0), to emit where the row values it reads are in scope;
 * helpers go to `helpers`. Nothing for other stages.
 */
export function shiftOf(form: StageForm, k: number, keepCoords: Coords, helpers: Set<string>, vectors: ReadonlySet<string> = new Set()): string[] {
  if (!form.rebased || !REBASED[form.rebased.kind].shifted) return [];
  // A buffer bound as array<vec4<T>> (`vectors`) is read as one component of a vector.
  const e = emitExpr(form.expr, keepCoords, `sh${k}_`, {
    loadValue: (_, st) => {
      if (!vectors.has(st.buffer)) return undefined;
      const i = indexOf(st.access, keepCoords);
      return fromStorage(st.dtype, `${st.buffer}[(${i}) / 4u][(${i}) % 4u]`);
    },
  });
  e.helpers.forEach((h) => helpers.add(h));
  return [...e.code, `let sh${k}: f32 = ${e.value(form.step)};`];
}

/** Stage k's accumulator `p<k>` takes the element `value` (at reduced index r, a WGSL name). */
export function accumulate(form: StageForm, k: number, value: string, r: string): string[] {
  const { acc, isArg, rebased, dtype } = form;
  if (rebased) return [`p${k} = ${REBASED[rebased.kind].add(`p${k}`, value, `sh${k}`)};`];
  const item = dtype === 'bool' ? `select(0u, 1u, ${value})` : value;
  if (!isArg) return [`p${k} = ${acc.combine(`p${k}`, item)};`];
  return [`let it${k}_${r} = ${item};`, `if (${acc.better}(it${k}_${r}, ${r}, p${k}, p${k}_i)) {`, `  p${k} = it${k}_${r};`, `  p${k}_i = ${r};`, '}'];
}

/** The dtype of a stage's row value: int32 for arg reductions (an index), else the stage's own. */
export function rowValueType(stage: RowStage): DType {
  return stage.kind === 'reduce' && (stage.op === 'argmax' || stage.op === 'argmin') ? 'int32' : stage.dtype;
}

/** `let <name>: T = ...;`: stage k's row value from the merged accumulator `value` (and `index`). */
export function rowValueLet(form: StageForm, k: number, stage: ReduceStage, value: string, index: string): string {
  const v = form.rebased
    ? REBASED[form.rebased.kind].final(value, form.rebased.centre, `sh${k}`)
    : form.isArg
      ? `i32(${index})`
      : stage.dtype === 'bool'
        ? `${value} != 0u`
        : value;
  return `let ${stage.name}: ${VALUE_TYPE[rowValueType(stage)]} = ${v};`;
}

/**
 * Shifts (shiftOf) placed before the loops that decide which buffers are bound as vectors: `slot` leaves a
 * placeholder line, `expand` replaces each with the shift's statements once `vectors` is complete.
 */
export function deferredShifts(keepCoords: Coords, helpers: Set<string>, vectors: ReadonlySet<string>) {
  const slots = new Map<string, () => string[]>();
  return {
    slot(form: StageForm, k: number): string {
      const marker = `// shift of stage ${k}`;
      slots.set(marker, () => shiftOf(form, k, keepCoords, helpers, vectors));
      return marker;
    },
    expand(lines: readonly string[]): string[] {
      return lines.flatMap((line) => slots.get(line)?.() ?? [line]);
    },
  };
}
