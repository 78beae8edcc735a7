// The public API of wgfuse. Everything here loads in a browser; Node-only code sits in src/runtime/node*
// and src/cli and is reached only through dynamic imports.
export { init, backend, type InitOptions } from './api/context.js';
export { evaluate } from './api/evaluate.js';
export { jit, type Jitted, type JitOptions, type JitArg, type JitResult } from './api/jit.js';
export { compile, telemetry, resetTelemetry } from './api/inspect.js';
export type { Plan, Dispatch, Slot, Binding, SlotView } from './lowering/plan.js';
export type { Telemetry } from './runtime/telemetry.js';
export { Tensor, type TensorLike } from './api/tensor.js';
export { tensor, zeros, ones, full, arange, eye, rand, randn } from './api/creation.js';
export { where, concat, layerNorm } from './api/functions.js';
export type { TensorData, NestedArray } from './api/host-data.js';
export type { DType, TypedArray } from './ir/dtype.js';
export { WgfuseError, ShapeError, DTypeError, ArgumentError, ParseError, VerifyError } from './ir/errors.js';
export { DeviceLimitError, OutOfMemoryError, DeviceLostError, GpuTimeoutError } from './runtime/errors.js';
