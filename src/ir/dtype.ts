// The three element types of wgfuse and the rules that combine them.

export type DType = 'float32' | 'int32' | 'bool';
export type TypedArray = Float32Array | Int32Array | Uint8Array;

export const DTYPES: readonly DType[] = ['float32', 'int32', 'bool'];

/** Short names used by the IR text format: `f32[2,3]`, `i32[4]`, `bool[]`. */
export const SHORT_NAME: Record<DType, string> = { float32: 'f32', int32: 'i32', bool: 'bool' };
export const FROM_SHORT_NAME: Record<string, DType> = { f32: 'float32', i32: 'int32', bool: 'bool' };

/** Bytes per element on every backend (bool is stored as one u32 on the GPU, one byte on the host). */
export const HOST_BYTES: Record<DType, number> = { float32: 4, int32: 4, bool: 1 };

export function isDType(x: unknown): x is DType {
  return x === 'float32' || x === 'int32' || x === 'bool';
}

export function typedArrayFor(dtype: DType, length: number): TypedArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(length);
    case 'int32':
      return new Int32Array(length);
    case 'bool':
      return new Uint8Array(length);
  }
}

export function dtypeOfTypedArray(a: TypedArray): DType {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Int32Array) return 'int32';
  return 'bool';
}

/** Rank of a dtype in promotion order: bool < int32 < float32 (as NumPy for these three). */
const RANK: Record<DType, number> = { bool: 0, int32: 1, float32: 2 };

export function promote(a: DType, b: DType): DType {
  return RANK[a] >= RANK[b] ? a : b;
}

/**
 * Converts a JS number to the value the dtype stores: f32 rounding; i32 truncation toward zero, saturating at
 * the i32 range with NaN -> 0 (as WGSL's f32 -> i32 conversion); bool is `value != 0` (NaN is true, as NumPy).
 */
export function coerce(value: number, dtype: DType): number {
  switch (dtype) {
    case 'float32':
      return Math.fround(value);
    case 'int32':
      if (Number.isNaN(value)) return 0;
      return Math.max(-2147483648, Math.min(2147483647, Math.trunc(value)));
    case 'bool':
      return value !== 0 ? 1 : 0;
  }
}
