// The memory behind a realized value. A Storage starts on the host (data given by the user, or read back)
// and a GPU backend adds a device copy next to it; either copy may be missing, never both.
// Reference counts let several tensors share one storage: it is released when the last reference goes.
import type { DType, TypedArray } from '../ir/dtype.js';
import { WgfuseError } from '../ir/errors.js';

export class Storage {
  host: TypedArray | null;
  /** Backend-owned device memory (e.g. a pooled GPUBuffer); opaque to the API layer. */
  device: unknown = null;
  private refs = 1;

  constructor(
    readonly dtype: DType,
    readonly size: number,
    host: TypedArray | null,
    /** Called once when the last reference is released, to give device memory back. */
    private readonly onRelease: ((s: Storage) => void) | null = null,
  ) {
    this.host = host;
  }

  get released(): boolean {
    return this.refs === 0;
  }

  retain(): this {
    if (this.refs === 0) throw new WgfuseError('internal: retain of a released storage');
    this.refs++;
    return this;
  }

  release(): void {
    if (this.refs === 0) return;
    if (--this.refs === 0) {
      this.onRelease?.(this);
      this.host = null;
      this.device = null;
    }
  }
}
