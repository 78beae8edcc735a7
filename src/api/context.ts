// The process-wide choice of backend. `init` picks one explicitly; the first evaluation calls it with 'auto'.
import { ArgumentError, WgfuseError } from '../ir/errors.js';
import { describe } from '../ir/shape.js';
import type { Backend, BackendInfo } from '../runtime/backend.js';
import { CpuBackend } from '../runtime/cpu-backend.js';
import { acquireDevice, describeContext, type GpuContext } from '../runtime/webgpu/device.js';
import { WebGpuBackend } from '../runtime/webgpu/backend.js';

export interface InitOptions {
  /** 'auto' (default): a hardware adapter, else a software one (SwiftShader), else the CPU reference. */
  backend?: 'auto' | 'webgpu' | 'cpu';
  /** Use this device instead of acquiring one (WebGPU only). */
  device?: GPUDevice;
  /** Time every dispatch with timestamp queries, reported by `wg.telemetry()` (slower; for profiling). */
  timing?: boolean;
  /** Fuse (default true). `false` runs one dispatch per op: the baseline the demo and benchmarks compare with. */
  fusion?: boolean;
  /** Most bytes of freed device buffers kept for reuse (default 1 GiB); beyond it the oldest are destroyed. */
  poolBytes?: number;
  /** Do not print the one line saying which backend was chosen. */
  quiet?: boolean;
}

let current: Backend | null = null;
let pending: Promise<Backend> | null = null;

export async function init(options: InitOptions = {}): Promise<BackendInfo> {
  if (typeof options !== 'object' || options === null) throw new ArgumentError(`init: options must be an object, got ${describe(options)}`);
  const choice = options.backend ?? 'auto';
  if (choice !== 'auto' && choice !== 'webgpu' && choice !== 'cpu') {
    throw new ArgumentError(`init: backend must be 'auto', 'webgpu' or 'cpu', got ${JSON.stringify(choice)}`);
  }
  const previous = current;
  const started = (async () => {
    const { backend, reason } = await choose(choice, options);
    if (previous && previous !== backend) previous.destroy();
    current = backend;
    if (!options.quiet) console.info(`wgfuse: backend ${backend.info.name}: ${reason}`);
    return backend;
  })();
  pending = started;
  try {
    return (await started).info;
  } finally {
    if (pending === started) pending = null;
  }
}

async function choose(choice: 'auto' | 'webgpu' | 'cpu', options: InitOptions): Promise<{ backend: Backend; reason: string }> {
  if (choice === 'cpu') return { backend: new CpuBackend(), reason: 'the CPU reference executor (requested)' };
  const { context, reason } = await acquire(options.device);
  if (context) return { backend: new WebGpuBackend(context, { timing: options.timing, fusion: options.fusion, poolBytes: options.poolBytes }), reason: describeContext(context) };
  if (choice === 'webgpu') throw new WgfuseError(`init: no WebGPU device: ${reason}`);
  return { backend: new CpuBackend(), reason: `the CPU reference executor, because ${reason}` };
}

/** A device from the caller, the browser's navigator.gpu, or Node's `webgpu` package (in that order). */
async function acquire(device?: GPUDevice): Promise<{ context: GpuContext | null; reason: string }> {
  if (device) return { context: await acquireDevice({ device }), reason: 'the given device' };
  const browserGpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (browserGpu) {
    const context = await acquireDevice({ gpu: browserGpu });
    return { context, reason: context ? 'navigator.gpu' : 'navigator.gpu offers no adapter' };
  }
  const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';
  if (!isNode) return { context: null, reason: 'this environment has no WebGPU (navigator.gpu is missing)' };
  // Node-only code is reached through a dynamic import so the core still loads in a browser.
  const nodeGpuModule = '../runtime/node-gpu.js';
  const { selectNodeGpu } = (await import(/* @vite-ignore */ nodeGpuModule)) as typeof import('../runtime/node-gpu.js');
  const selection = await selectNodeGpu({ software: 'fallback' });
  if (!selection.gpu) return { context: null, reason: selection.reason };
  const context = await acquireDevice({ gpu: selection.gpu });
  return { context, reason: context ? selection.reason : `${selection.reason}, but no device could be created` };
}

/** The backend in use, initialising with 'auto' on first use. */
export async function activeBackend(): Promise<Backend> {
  if (current) return current;
  if (pending) return pending;
  await init({ backend: 'auto' });
  return current!;
}

/** The backend in use, or null before the first `init` or evaluation. */
export function currentBackend(): Backend | null {
  return current;
}

export function backend(): BackendInfo {
  if (!current) throw new WgfuseError('backend: no backend chosen yet; call `await wg.init()` or evaluate a tensor first');
  return current.info;
}
