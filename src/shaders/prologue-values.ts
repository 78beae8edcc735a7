// Prologue values: whole reductions of a small tensor (and scalars computed from them) that an operand
// prologue reads, computed by every workgroup of the product kernel before its main loop. PCA's power
// iteration normalises each product, v = u / sqrt(sum(u^2)), and the next product reads v: the next product's
// workgroups each compute the norm from u (512 values: as many as each of them loads of v anyway) and divide
// as they load, so an iteration is one dispatch instead of a product and a row kernel (fuse-prologue decides).
//
// A reduce stage walks its space with the workgroup's threads (flat index lid, lid + T, ...), evaluates its
// expression at each element and accumulates; the threads' results merge in a tree through workgroup memory,
// in a fixed order, so every workgroup gets the same bits. A value stage computes a scalar from earlier
// stages (the square root of the sum). Results live in module-scope private variables named by the stage,
// which the operand's load function (prologue.ts) reads as `value` steps.
import type { DType } from '../ir/dtype.js';
import { sizeOf, type Shape } from '../ir/shape.js';
import { coordsOf } from './elementwise.js';
import { emitExpr, type Expr } from './expr.js';
import { pruneLets } from './matmul.js';
import { accumulator, workgroupTree } from './row.js';
import { indent, literalHelpers, VALUE_TYPE } from './wgsl.js';

/** The reductions a prologue value may be: those with an identity and a plain combine. */
export const PROLOGUE_REDUCE_OPS = ['sum', 'prod', 'max', 'min'] as const;
export type PrologueReduceOp = (typeof PROLOGUE_REDUCE_OPS)[number];

export type PrologueValue =
  | {
      readonly kind: 'reduce';
      readonly op: PrologueReduceOp;
      /** The reduced values' dtype (the result's). */
      readonly dtype: 'float32' | 'int32';
      /** The space walked: the reduced tensor's shape (every axis is reduced). */
      readonly space: Shape;
      /** Evaluated at each coordinate of `space`; `step` is the reduced value. */
      readonly expr: Expr;
      readonly step: number;
      readonly name: string;
    }
  | {
      readonly kind: 'value';
      /** Evaluated once, at coordinate 0 of its own (one-element) shape. */
      readonly expr: Expr;
      readonly step: number;
      readonly name: string;
      readonly dtype: DType;
      readonly rank: number;
    };

/** The checks of a kernel's prologue values: unique names, steps in range, and each `value` step naming an earlier stage. */
export function checkPrologueValues(values: readonly PrologueValue[], fail: (what: string) => void): void {
  const seen = new Set<string>();
  for (const v of values) {
    if (!/^[a-z]\w*$/.test(v.name) || seen.has(v.name)) fail(`prologue value name ${v.name} is not a fresh identifier`);
    if (v.step < 0 || v.step >= v.expr.steps.length) fail(`prologue value ${v.name}'s step ${v.step} is out of range`);
    if (v.kind === 'reduce' && !PROLOGUE_REDUCE_OPS.includes(v.op)) fail(`prologue value ${v.name} reduces with ${v.op as string}`);
    for (const s of v.expr.steps) if (s.kind === 'value' && !seen.has(s.name)) fail(`prologue value ${v.name} reads ${s.name} before it is computed`);
    seen.add(v.name);
  }
}

/**
 * The WGSL of `values` for a workgroup of `threads` threads (a power of two) whose local index is `lid`:
 * module-scope declarations (a private variable per value, the row kernels' tree array per accumulator type:
 * row.ts workgroupTree) and the statements computing them, to run at the top of the entry point in uniform
 * control flow (they contain workgroup barriers).
 */
export function prologueValuesCode(values: readonly PrologueValue[], threads: number): { decls: string[]; code: string[]; helpers: Set<string> } {
  if ((threads & (threads - 1)) !== 0) throw new Error(`internal: prologue values need a power-of-two workgroup, not ${threads} threads`);
  const helpers = new Set<string>();
  const shared = new Map<string, string>();
  const code: string[] = [];
  for (const v of values) {
    if (v.kind === 'value') {
      const e = emitExpr(v.expr, { names: Array.from({ length: v.rank }, () => '0u') }, 'pv');
      e.helpers.forEach((h) => helpers.add(h));
      code.push('{', ...indent([...e.code, `${v.name} = ${e.value(v.step)};`], 1), '}');
      continue;
    }
    const acc = accumulator(v.op, v.dtype);
    acc.helpers.forEach((h) => helpers.add(h));
    const { code: coordLets, coords } = coordsOf(v.space, 'pi', 'pc');
    const e = emitExpr(v.expr, coords, 'pv');
    e.helpers.forEach((h) => helpers.add(h));
    const combine = `pa = ${acc.combine('pa', e.value(v.step))};`;
    const { vals, tree } = workgroupTree(shared, acc, false, threads, 'pa');
    code.push(
      `// ${v.name}: ${v.op} over ${sizeOf(v.space)} elements, ${threads} threads, then a tree`,
      '{',
      ...indent(
        [
          `var pa = ${acc.identity};`,
          `for (var pi = lid; pi < ${sizeOf(v.space)}u; pi += ${threads}u) {`,
          ...indent([...pruneLets(coordLets, [...e.code, combine]), ...e.code, combine], 1),
          '}',
          ...tree,
          `${v.name} = ${vals}[0];`,
          // Every thread reads the root before the tree is reused.
          'workgroupBarrier();',
        ],
        1,
      ),
      '}',
    );
  }
  for (const h of literalHelpers(code.join('\n'))) helpers.add(h);
  return { decls: [...values.map((v) => `var<private> ${v.name}: ${VALUE_TYPE[v.dtype]};`), ...shared.values()], code, helpers };
}
