// Operand prologues: an elementwise expression that the tiled product kernels (GEMM and SYRK) evaluate as
// they load an operand's tiles, so that the operand is never written out. The covariance X^T X of a centred
// X = data - mean reads `data` and `mean` and subtracts on load, instead of a kernel writing the centred
// copy (n x d floats) and the product reading it back (fuse-prologue decides which producers join).
//
// The expression is over the operand's logical matrix, [...batch, rows, cols] with the product's batch: A's
// [m, k], B's [k, n], SYRK's X [n, k]; a transposed operand is the same expression with its last two strides
// swapped. The kernel calls one function per operand, `wg_load_a(bz, gx, gk)`, at the (major, k)
// coordinates of the tile element it loads (major: A's row, B's column, X's row). Where the tile loads
// vectors (four consecutive elements along the major axis or along k), the function evaluates the
// expression once per lane; a load whose stride along that axis is 1 (and aligned) reads one vec4 for all
// four lanes, a broadcast load the same element in each lane, any other load an element per lane.
import type { Shape } from '../ir/shape.js';
import { coordsOf } from './elementwise.js';
import { emitExpr, indexOf, type Access, type Coords, type Expr, type LoadStep } from './expr.js';
import { pruneLets } from './matmul.js';
import { checkPrologueValues, type PrologueValue } from './prologue-values.js';
import { fromStorage, indent, STORAGE_TYPE, toStorage, VALUE_TYPE } from './wgsl.js';

export interface OperandPrologue {
  /**
   * Over the operand's logical matrix [...batch, rows, cols]; it may load buffers and generate leaves, and
   * read `values` through `value` steps.
   */
  readonly expr: Expr;
  /** The step whose value is the operand's element. */
  readonly step: number;
  /** Whole reductions the expression reads, computed by each workgroup first (prologue-values.ts; the gemv and direct kernels only). */
  readonly values?: readonly PrologueValue[];
}

/** Which axis of the logical matrix the tile's major axis is: A's and SYRK's X rows, B's columns. */
export type MajorAxis = 'row' | 'col';

/** The buffers a prologue loads (its values' included). */
export function prologueBuffers(p: OperandPrologue): string[] {
  const exprs = [p.expr, ...(p.values ?? []).map((v) => v.expr)];
  return [...new Set(exprs.flatMap((e) => e.steps.flatMap((s) => (s.kind === 'load' ? [s.buffer] : []))))];
}

/** The index of the logical axis that runs along the tile's `lanes` axis (major or k), counted from the end. */
function laneAxis(major: MajorAxis, lanes: 'major' | 'k'): 'row' | 'col' {
  return (lanes === 'major') === (major === 'row') ? 'row' : 'col';
}

/** Whether a load can read four lanes as one aligned vec4: stride 1 along the lane axis, every other term a multiple of 4. */
function vectorLoad(access: Access, batch: Shape, axis: 'row' | 'col'): boolean {
  const s = access.strides;
  const r = s.length;
  const lane = axis === 'row' ? r - 2 : r - 1;
  const other = axis === 'row' ? r - 1 : r - 2;
  const aligned = (x: number) => x % 4 === 0;
  return s[lane] === 1 && aligned(access.offset) && aligned(s[other]) && batch.every((d, i) => d <= 1 || aligned(s[i]));
}

/**
 * The tile's vector axis for a prologue operand: major or k where that extent and the tile's are multiples
 * of 4 (every lane of a vector is then inside the matrix or none is), preferring the axis along which the
 * prologue's loads are stride 1 (coalesced, and read as vec4); null for scalar tile loads.
 */
export function prologueLanes(p: OperandPrologue, batch: Shape, major: MajorAxis, extents: { major: number; majorTile: number; k: number; kTile: number }): 'major' | 'k' | null {
  if (extents.major === 0 || extents.k === 0) return null; // nothing is loaded
  const aligned = (x: number) => x % 4 === 0;
  const ok = { major: aligned(extents.major) && aligned(extents.majorTile), k: aligned(extents.k) && aligned(extents.kTile) };
  const loads = p.expr.steps.filter((s): s is LoadStep => s.kind === 'load');
  const vectorLoads = (lanes: 'major' | 'k') => loads.filter((s) => vectorLoad(s.access, batch, laneAxis(major, lanes))).length;
  const order: ('major' | 'k')[] = vectorLoads('k') > vectorLoads('major') ? ['k', 'major'] : ['major', 'k'];
  return order.find((lanes) => ok[lanes]) ?? null;
}

/** What each buffer the prologue loads wants as its binding (see vec4Bindings): vec4 where every load of it reads whole lanes. */
export function prologueWants(p: OperandPrologue, batch: Shape, major: MajorAxis, lanes: 'major' | 'k' | null): { buffer: string; vec4: boolean }[] {
  const own = p.expr.steps.flatMap((s) => (s.kind === 'load' ? [{ buffer: s.buffer, vec4: lanes !== null && vectorLoad(s.access, batch, laneAxis(major, lanes)) }] : []));
  // The values' loads walk their own space one element at a time.
  const values = (p.values ?? []).flatMap((v) => v.expr.steps.flatMap((s) => (s.kind === 'load' ? [{ buffer: s.buffer, vec4: false }] : [])));
  return [...own, ...values];
}

/**
 * The WGSL function `fn <name>(bz: u32, gx: u32, gk: u32) -> T` (or vec4<T> with `lanes`) returning the
 * operand's element at major coordinate gx and k coordinate gk of flat batch bz (lanes: the four elements
 * from there along that axis). `vectors` are the buffers bound as array<vec4<T>>.
 */
export function prologueFunction(
  name: string,
  p: OperandPrologue,
  opts: { dtype: 'float32' | 'int32'; batch: Shape; major: MajorAxis; lanes: 'major' | 'k' | null; vectors: ReadonlySet<string> },
): { text: string[]; helpers: Set<string> } {
  const { dtype, batch, major, lanes } = opts;
  const { code: batchLets, coords: batchCoords } = coordsOf(batch, 'bz', 'b');
  const helpers = new Set<string>();
  const coordsAt = (gx: string, gk: string): Coords => ({ names: [...batchCoords.names, ...(major === 'row' ? [gx, gk] : [gk, gx])] });
  const result = (value: string) => toStorage(dtype, value);
  let body: string[];
  if (lanes === null) {
    const e = emitExpr(p.expr, coordsAt('gx', 'gk'), 'v');
    e.helpers.forEach((h) => helpers.add(h));
    body = [...e.code, `return ${result(e.value(p.step))};`];
  } else {
    const axis = laneAxis(major, lanes);
    // Loads that read one vector for the four lanes, at lane 0's coordinates.
    const vectorSteps = new Map<number, string>();
    const vectorLets: string[] = [];
    p.expr.steps.forEach((s, i) => {
      if (s.kind === 'load' && opts.vectors.has(s.buffer) && vectorLoad(s.access, batch, axis)) {
        vectorSteps.set(i, `q${i}`);
        vectorLets.push(`let q${i} = ${s.buffer}[(${indexOf(s.access, coordsAt('gx', 'gk'))}) / 4u];`);
      }
    });
    const lane = (l: number): string[] => {
      const at = l === 0 ? '' : ` + ${l}u`;
      const coords = lanes === 'major' ? coordsAt(`(gx${at})`, 'gk') : coordsAt('gx', `(gk${at})`);
      const e = emitExpr(p.expr, coords, 'v', {
        loadValue: (i, step) => (vectorSteps.has(i) ? fromStorage(step.dtype, `${vectorSteps.get(i)}[${l}]`) : undefined),
      });
      e.helpers.forEach((h) => helpers.add(h));
      return ['{', ...indent([...e.code, `r[${l}] = ${result(e.value(p.step))};`], 1), '}'];
    };
    body = [...vectorLets, `var r: vec4<${STORAGE_TYPE[dtype]}>;`, ...[0, 1, 2, 3].flatMap(lane), 'return r;'];
  }
  const lets = pruneLets(batchLets, body);
  const type = lanes === null ? VALUE_TYPE[dtype] : `vec4<${STORAGE_TYPE[dtype]}>`;
  return { text: [`fn ${name}(bz: u32, gx: u32, gk: u32) -> ${type} {`, ...indent([...lets, ...body], 1), '}'], helpers };
}

/**
 * The checks of a prologue: its step in range, `value` steps only of its values (checkPrologueValues), and
 * every buffer it loads bound.
 */
export function checkPrologue(name: string, p: OperandPrologue, buffers: ReadonlySet<string>, rank: number, fail: (what: string) => void): void {
  if (p.step < 0 || p.step >= p.expr.steps.length) fail(`${name}'s prologue step ${p.step} is out of range`);
  const values = p.values ?? [];
  checkPrologueValues(values, (what) => fail(`${name}'s ${what}`));
  for (const s of p.expr.steps) {
    if (s.kind === 'value' && !values.some((v) => v.name === s.name)) fail(`${name}'s prologue reads a value it does not compute (${s.name})`);
    if (s.kind === 'load' && s.access.strides.length !== rank) fail(`${name}'s prologue load of ${s.buffer} has ${s.access.strides.length} strides, not ${rank}`);
  }
  for (const b of prologueBuffers(p)) if (!buffers.has(b)) fail(`${name}'s prologue loads ${b}, which is not bound`);
}
