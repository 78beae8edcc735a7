// Errors of the device and its memory. All are WgfuseErrors; the classes let a caller tell a fault it can
// recover from (dispose something and retry, re-initialise) from a bug in its program.
import { WgfuseError } from '../ir/errors.js';

/**
 * A tensor, or an intermediate value of a program, is larger than the device can hold in one buffer
 * (`maxBufferSize`) or bind to one kernel (`maxStorageBufferBindingSize`). Raised before anything runs.
 */
export class DeviceLimitError extends WgfuseError {
  override name = 'DeviceLimitError';
  constructor(
    message: string,
    readonly limit: 'maxBufferSize' | 'maxStorageBufferBindingSize',
    readonly limitBytes: number,
    readonly bytes: number,
  ) {
    super(message);
  }
}

/** The device ran out of memory, and emptying the buffer pool and retrying once did not help. */
export class OutOfMemoryError extends WgfuseError {
  override name = 'OutOfMemoryError';
}

/**
 * The WebGPU device was lost (destroyed, driver reset, GPU removed), or a value lived only on a device that
 * is gone. The next evaluation acquires a new device (see docs/runtime.md, "Device loss").
 */
export class DeviceLostError extends WgfuseError {
  override name = 'DeviceLostError';
}

/** A GPU operation (readback, kernel compile, error scope) did not settle within the backend's timeout. */
export class GpuTimeoutError extends WgfuseError {
  override name = 'GpuTimeoutError';
}
