// The memory behind a realized value. A Storage holds a host copy, a device copy, or both; or it is a
// zero-copy view (offset and strides) of another storage, which it keeps alive. Reference counts let
// several tensors share one storage: the memory is released when the last reference goes.
import type { DType, TypedArray } from '../ir/dtype.js';
import { WgfuseError } from '../ir/errors.js';
import { fmtShape, isRowMajorStrides, sizeOf, type Shape } from '../ir/shape.js';

/** Device memory owned by a storage; `free` gives it back (to a pool) exactly once. */
export interface DeviceMemory {
  readonly buffer: GPUBuffer;
  /** The device this memory lives on: a storage from another (or a lost) device cannot be bound. */
  readonly device: GPUDevice;
  free(): void;
  /** Why this memory is gone (its device was lost or destroyed), or null while it is usable. */
  lost?(): string | null;
}

export interface ViewLayout {
  readonly base: Storage;
  readonly offset: number;
  readonly strides: readonly number[];
}

export class Storage {
  host: TypedArray | null;
  device: DeviceMemory | null = null;
  private refs = 1;

  private constructor(
    readonly dtype: DType,
    readonly shape: Shape,
    host: TypedArray | null,
    /** Set for views: where the elements lie in the base storage. */
    readonly view: ViewLayout | null,
  ) {
    this.host = host;
  }

  static fromHost(dtype: DType, shape: Shape, host: TypedArray): Storage {
    return new Storage(dtype, [...shape], host, null);
  }

  static fromDevice(dtype: DType, shape: Shape, memory: DeviceMemory): Storage {
    const s = new Storage(dtype, [...shape], null, null);
    s.device = memory;
    return s;
  }

  /** A view of `base` (itself not a view): retains the base until the view is released. */
  static viewOf(base: Storage, shape: Shape, offset: number, strides: readonly number[]): Storage {
    if (base.view) throw new WgfuseError('internal: a view must refer to a base storage, not to another view');
    return new Storage(base.dtype, [...shape], null, { base: base.retain(), offset, strides: [...strides] });
  }

  get size(): number {
    return sizeOf(this.shape);
  }

  /** E.g. `float32[2,3]`, for error messages. */
  get description(): string {
    return `${this.dtype}${fmtShape(this.shape)}`;
  }

  get released(): boolean {
    return this.refs === 0;
  }

  /** The storage whose memory this one reads: itself, or the base of a view. */
  get root(): Storage {
    return this.view ? this.view.base : this;
  }

  /** True when a view is the whole base laid out row-major (it can be bound as a plain tensor). */
  get isPlain(): boolean {
    if (!this.view) return true;
    return this.view.offset === 0 && this.size === this.view.base.size && isRowMajorStrides(this.shape, this.view.strides);
  }

  /** Where a non-plain view's elements lie in its base (null for plain storages). */
  get layout(): { readonly offset: number; readonly strides: readonly number[] } | null {
    return this.view && !this.isPlain ? { offset: this.view.offset, strides: this.view.strides } : null;
  }

  retain(): this {
    if (this.refs === 0) throw new WgfuseError('internal: retain of a released storage');
    this.refs++;
    return this;
  }

  release(): void {
    if (this.refs === 0) return;
    if (--this.refs > 0) return;
    this.device?.free();
    this.device = null;
    this.host = null;
    this.view?.base.release();
  }
}
