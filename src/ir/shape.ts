// Shapes are row-major lists of non-negative integer extents. Rank 0 is a scalar.
import { ShapeError } from './errors.js';

export type Shape = readonly number[];

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function fmtShape(shape: Shape): string {
  return `[${shape.join(',')}]`;
}

export function shapesEqual(a: Shape, b: Shape): boolean {
  // A plain loop: the passes compare shapes on every node they visit, and a closure per call shows up.
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Row-major strides in elements. */
export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** WGSL indexes with u32 and wgfuse keeps indices below 2^31: the most elements one tensor may have. */
export const MAX_ELEMENTS = 2 ** 31 - 1;

/** Throws unless every extent is a finite non-negative integer and the size is indexable. */
export function checkShape(shape: unknown, what: string): Shape {
  if (!Array.isArray(shape)) throw new ShapeError(`${what}: shape must be an array of integers, got ${describe(shape)}`);
  // Indexed loop, not for-of over a copy: a hole in a sparse array is checked as the undefined it reads as.
  for (let i = 0; i < shape.length; i++) {
    const d: unknown = shape[i];
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) {
      throw new ShapeError(`${what}: shape extents must be non-negative integers, got ${describe(shape)}`);
    }
  }
  checkSize(shape as Shape, what);
  return shape as Shape;
}

export function checkSize(shape: Shape, what: string): void {
  if (sizeOf(shape) > MAX_ELEMENTS) {
    throw new ShapeError(`${what}: shape ${fmtShape(shape)} has ${sizeOf(shape)} elements, more than the ${MAX_ELEMENTS} (2^31 - 1) that u32 indexing allows`);
  }
}

/** NumPy broadcasting of two shapes; `what` names the op for the message. */
export function broadcastShapes(a: Shape, b: Shape, what: string): Shape {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(`${what}: shapes ${fmtShape(a)} and ${fmtShape(b)} cannot be broadcast together (axis ${i - n}: ${da} vs ${db})`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** True when `strides` lay `shape` out row-major (extent-1 axes may have any stride: they add nothing). */
export function isRowMajorStrides(shape: Shape, strides: readonly number[]): boolean {
  const rm = stridesOf(shape);
  return strides.length === shape.length && strides.every((s, d) => s === rm[d] || shape[d] === 1);
}

/** True when `from` broadcasts to exactly `to` (NumPy rules, `to` unchanged). */
export function broadcastsTo(from: Shape, to: Shape): boolean {
  if (from.length > to.length) return false;
  const off = to.length - from.length;
  return from.every((d, i) => d === 1 || d === to[off + i]);
}

/**
 * Resolves a possibly negative axis against a rank; throws with the valid range otherwise. `of` describes
 * the tensor for the message (e.g. `float32[2,3]`).
 */
export function normalizeAxis(axis: unknown, rank: number, what: string, of = `rank ${rank}`): number {
  if (typeof axis !== 'number' || !Number.isInteger(axis)) {
    throw new ShapeError(`${what}: axis must be an integer, got ${describe(axis)}`);
  }
  if (axis < -rank || axis >= rank) {
    throw new ShapeError(`${what}: axis ${axis} is out of range for ${of} (valid: ${-rank}..${rank - 1})`);
  }
  return axis < 0 ? axis + rank : axis;
}

/** Normalises and sorts a set of axes; rejects duplicates. `undefined` means every axis. */
export function normalizeAxes(axes: number | readonly number[] | undefined | null, rank: number, what: string, of = `rank ${rank}`): number[] {
  if (axes === undefined || axes === null) return Array.from({ length: rank }, (_, i) => i);
  // Array.from turns the holes of a sparse array into undefined, which normalizeAxis rejects.
  const list: readonly unknown[] | null = typeof axes === 'number' ? [axes] : Array.isArray(axes) ? Array.from(axes as readonly unknown[]) : null;
  if (list === null) throw new ShapeError(`${what}: axis must be an integer or an array of integers, got ${describe(axes)}`);
  const out = list.map((a) => normalizeAxis(a, rank, what, of));
  if (new Set(out).size !== out.length) throw new ShapeError(`${what}: repeated axis in ${describe(list)} of ${of}`);
  return out.sort((x, y) => x - y);
}

/** A value as an error message shows it: numbers and strings as written, arrays (up to 16 items) by element, objects by class name. */
export function describe(x: unknown): string {
  if (typeof x === 'number' || typeof x === 'boolean') return String(x);
  if (typeof x === 'string') return JSON.stringify(x);
  if (x === null || x === undefined) return String(x);
  if (Array.isArray(x)) {
    const items = Array.from((x as unknown[]).slice(0, 16), describe);
    return `[${items.join(',')}${x.length > 16 ? `,... (${x.length} items)` : ''}]`;
  }
  if (typeof x === 'bigint') return `${x}n (a bigint)`;
  if (typeof x === 'symbol') return x.toString();
  if (typeof x === 'function') return `a function${x.name ? ` (${x.name})` : ''}`;
  if (typeof x !== 'object') return `${typeof x} ${String(x)}`;
  const name = (x as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === 'string' && name !== '' ? name : 'object';
}
