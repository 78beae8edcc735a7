// WGSL spellings shared by every kernel generator: storage and value types per dtype, literals, and the
// conversions between stored and computed values (bool is stored as one u32 per element: WGSL storage
// buffers have no 8-bit type).
import type { DType } from '../ir/dtype.js';

export const STORAGE_TYPE: Record<DType, string> = { float32: 'f32', int32: 'i32', bool: 'u32' };
export const VALUE_TYPE: Record<DType, string> = { float32: 'f32', int32: 'i32', bool: 'bool' };
/** Bytes per element on the device. */
export const DEVICE_BYTES: Record<DType, number> = { float32: 4, int32: 4, bool: 4 };

/** A stored element as a value: bool reads as `!= 0u`. */
export function fromStorage(dtype: DType, stored: string): string {
  return dtype === 'bool' ? `(${stored} != 0u)` : stored;
}

/** A value as it is stored: bool becomes 0u/1u. */
export function toStorage(dtype: DType, value: string): string {
  return dtype === 'bool' ? `select(0u, 1u, ${value})` : value;
}

/** A WGSL literal of `dtype` (NaN and infinities through their bit patterns, which WGSL has no literal for). */
export function literal(value: number, dtype: DType): string {
  switch (dtype) {
    case 'bool':
      return value !== 0 ? 'true' : 'false';
    case 'int32':
      // -2^31 has no i32 literal: its magnitude overflows before the minus applies.
      return value === -2147483648 ? 'i32(-2147483647 - 1)' : `i32(${value})`;
    case 'float32': {
      const f = Math.fround(value);
      // WGSL has no literal for NaN or the infinities, and constant evaluation rejects them (and may flush
      // subnormals), so these values are built from their bits at run time.
      const special = !Number.isFinite(f) || Object.is(f, -0) || (f !== 0 && Math.abs(f) < 1.1754943508222875e-38);
      if (special) return `${SPECIAL_FLOAT}(${floatBits(f)}u)`;
      const s = String(f);
      return /[.eE]/.test(s) ? `f32(${s})` : `f32(${s}.0)`;
    }
  }
}

/** Name of the helper that turns bits into a float at run time (a user function is never const-evaluated). */
export const SPECIAL_FLOAT = 'wg_f32_bits';
export const SPECIAL_FLOAT_HELPER = `fn ${SPECIAL_FLOAT}(bits: u32) -> f32 { return bitcast<f32>(bits); }`;

/** Module-scope helpers a piece of generated code needs because of its literals. */
export function literalHelpers(code: string): string[] {
  return code.includes(`${SPECIAL_FLOAT}(`) ? [SPECIAL_FLOAT_HELPER] : [];
}

function floatBits(f: number): number {
  const buf = new DataView(new ArrayBuffer(4));
  buf.setFloat32(0, f);
  return buf.getUint32(0);
}

/** `n` as a u32 literal (index arithmetic is u32 everywhere). */
export function u32(n: number): string {
  return `${n}u`;
}

/**
 * Drops the `let` lines matching `prunable` (its group 1: the name) that no later kept line uses: index lets a
 * generator writes for every step or lane whether or not the step's expression reads them.
 */
export function pruneUnusedLets(prunable: RegExp, lines: readonly string[]): string[] {
  const keep = lines.map(() => true);
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = prunable.exec(lines[i]);
    if (!m) continue;
    const used = new RegExp(`\\b${m[1]}\\b`);
    keep[i] = lines.some((l, j) => j > i && keep[j] && used.test(l));
  }
  return lines.filter((_, i) => keep[i]);
}

/** WGSL lines nested `depth` levels (two spaces each). */
export function indent(lines: readonly string[], depth = 1): string[] {
  const pad = '  '.repeat(depth);
  return lines.map((l) => pad + l);
}
