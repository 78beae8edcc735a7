// The process-wide choice of backend. `init` picks one explicitly; the first evaluation calls it with 'auto'.
import { ArgumentError, WgfuseError } from '../ir/errors.js';
import { describe } from '../ir/shape.js';
import type { Backend, BackendInfo } from '../runtime/backend.js';
import { CpuBackend } from '../runtime/cpu-backend.js';
import { DeviceLostError } from '../runtime/errors.js';
import type { Storage } from '../runtime/storage.js';
import { acquireDevice, describeContext, type GpuContext } from '../runtime/webgpu/device.js';
import { WebGpuBackend } from '../runtime/webgpu/backend.js';
import { liveStorages } from './program.js';

export interface InitOptions {
  /** 'auto' (default): a hardware adapter, else a software one (SwiftShader), else the CPU reference. */
  backend?: 'auto' | 'webgpu' | 'cpu';
  /** Use this device instead of acquiring one (WebGPU only). */
  device?: GPUDevice;
  /** Time every dispatch with timestamp queries, reported by `wg.telemetry()` (slower; for profiling). */
  timing?: boolean;
  /** Fuse (default true). `false` runs one dispatch per op: the baseline the demo and benchmarks compare with. */
  fusion?: boolean;
  /** Verify the IR after every compiler pass (default false): a debugging aid that costs more than the passes. */
  verify?: boolean;
  /** Most bytes of freed device buffers kept for reuse (default 1 GiB); beyond it the oldest are destroyed. */
  poolBytes?: number;
  /** Do not print the one line saying which backend was chosen. */
  quiet?: boolean;
  /**
   * Longest wait in ms for one GPU operation (a readback, a kernel compile, an evaluation's error check)
   * before it fails with GpuTimeoutError (default 300000); Infinity waits forever.
   */
  timeoutMs?: number;
  /**
   * Encode a computation's next evaluation while the GPU runs this one (default true), so that calling it
   * again on the same tensors only submits; costs host time when the calls' buffers keep changing (it backs off).
   */
  encodeAhead?: boolean;
}

let current: Backend | null = null;
let pending: Promise<Backend> | null = null;
/** The options of the init that chose `current`: a lost device is replaced with the same ones. */
let lastOptions: InitOptions = {};

const OPTION_NAMES: readonly (keyof InitOptions)[] = ['backend', 'device', 'timing', 'fusion', 'verify', 'poolBytes', 'quiet', 'timeoutMs', 'encodeAhead'];

/** Rejects what `init` cannot honour before anything is acquired or replaced. */
function checkOptions(options: unknown): asserts options is InitOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new ArgumentError(`init: options must be an object, got ${describe(options)}`);
  }
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!(OPTION_NAMES as readonly string[]).includes(key)) {
      throw new ArgumentError(`init: unknown option '${key}' (the options are ${OPTION_NAMES.join(', ')})`);
    }
  }
  const choice = o.backend ?? 'auto';
  if (choice !== 'auto' && choice !== 'webgpu' && choice !== 'cpu') {
    throw new ArgumentError(`init: backend must be 'auto', 'webgpu' or 'cpu', got ${describe(choice)}`);
  }
  for (const flag of ['timing', 'fusion', 'verify', 'quiet', 'encodeAhead'] as const) {
    if (o[flag] !== undefined && typeof o[flag] !== 'boolean') throw new ArgumentError(`init: ${flag} must be true or false, got ${describe(o[flag])}`);
  }
  const pool = o.poolBytes;
  if (pool !== undefined && (typeof pool !== 'number' || !(pool >= 0) || (!Number.isInteger(pool) && pool !== Infinity))) {
    throw new ArgumentError(`init: poolBytes must be a non-negative integer (or Infinity), got ${describe(pool)}`);
  }
  const timeout = o.timeoutMs;
  if (timeout !== undefined && (typeof timeout !== 'number' || !(timeout > 0))) {
    throw new ArgumentError(`init: timeoutMs must be a positive number of milliseconds (or Infinity), got ${describe(timeout)}`);
  }
  const device = o.device;
  if (device !== undefined) {
    const d = device as Partial<GPUDevice> | null;
    const looksLikeDevice = typeof d === 'object' && d !== null && typeof d.createBuffer === 'function' && typeof d.queue === 'object' && typeof d.limits === 'object' && d.features !== undefined;
    if (!looksLikeDevice) throw new ArgumentError(`init: device must be a GPUDevice, got ${describe(device)}`);
    if (choice === 'cpu') throw new ArgumentError("init: a device was given with backend 'cpu'; leave the device out or ask for 'webgpu'");
  }
}

export async function init(options: InitOptions = {}): Promise<BackendInfo> {
  checkOptions(options);
  const choice = options.backend ?? 'auto';
  const previous = current;
  const started = (async () => {
    const { backend, reason } = await choose(choice, options);
    if (previous && previous !== backend) {
      if (previous instanceof WebGpuBackend && backend instanceof WebGpuBackend && previous.device === backend.device) {
        // The caller gave the same device again (say, to change options): it and the values on it stay, only
        // the old backend's idle buffers go, and buffers its tensors free later are destroyed, not pooled.
        // Destroying the device would take the new backend down with it.
        previous.pool.maxPooledBytes = 0;
        previous.pool.trim(0);
      } else {
        // Values computed on the device being replaced would die with it: copy them to host memory first, so
        // every live tensor stays usable on the new backend (uploaded again on first use).
        await keepValues(previous);
        previous.destroy();
      }
    }
    current = backend;
    lastOptions = options;
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
  if (context) return { backend: new WebGpuBackend(context, { timing: options.timing, fusion: options.fusion, poolBytes: options.poolBytes, verify: options.verify, timeoutMs: options.timeoutMs, encodeAhead: options.encodeAhead }), reason: describeContext(context) };
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

/**
 * Copies to host memory every live value whose only copy is on `from`'s device, and frees its device copy.
 * A value that cannot be read back (the device was lost) is left as it is: using it gives `residencyProblem`'s
 * error.
 */
async function keepValues(from: Backend): Promise<void> {
  if (!(from instanceof WebGpuBackend)) return;
  const roots = new Set<Storage>();
  for (const s of liveStorages()) {
    const root = s.root;
    if (!root.released && root.host === null && root.device?.device === from.device) roots.add(root);
  }
  await Promise.all(
    [...roots].map(async (root) => {
      let data;
      try {
        data = await from.read(root);
      } catch {
        return;
      }
      if (root.released || root.host !== null) return;
      root.host = data;
      root.device?.free();
      root.device = null;
    }),
  );
}

/**
 * Why a stored value cannot be used by the current backend, or null when it can: host data goes anywhere, and
 * device data only to the backend of its device while that device lives. (After `init` replaced a backend this
 * happens only for values that could not be copied back first, because their device was already lost.)
 */
export function residencyProblem(s: Storage): string | null {
  const root = s.root;
  if (root.host !== null || s.released) return null;
  if (root.device === null) return 'has no data left';
  const lost = root.device.lost?.();
  if (lost) return `lived only on a WebGPU device that was lost (${lost}), and no other copy of it exists; compute it again`;
  if (current instanceof WebGpuBackend && current.device === root.device.device) return null;
  return 'lived only on a WebGPU device that is no longer in use (it was lost, or a later wg.init() replaced it), and no other copy of it exists; compute it again';
}

/** The backend in use, initialising with 'auto' on first use, and again when its device was lost. */
export async function activeBackend(): Promise<Backend> {
  if (current) {
    const lost = current.lostReason?.() ?? null;
    if (!lost) return current;
    if (pending) return pending;
    return replaceLost(lost);
  }
  if (pending) return pending;
  await init({ backend: 'auto' });
  return current!;
}

/**
 * A lost WebGPU device is replaced on the next evaluation with the options of the init that chose it:
 * values that lived only on it are gone (using one says so), tensors with host data work on the new one.
 * A device the caller gave is the caller's to replace.
 */
async function replaceLost(reason: string): Promise<Backend> {
  const options = lastOptions;
  if (options.device) {
    throw new DeviceLostError(`webgpu: the device given to wg.init() was lost (${reason}); pass a new one with wg.init({ device }), or call wg.init() to let wgfuse acquire one`);
  }
  const losses = current!.telemetry().deviceLosses + 1;
  if (!options.quiet) console.warn(`wgfuse: the WebGPU device was lost (${reason}); acquiring a new one`);
  await init(options);
  if (current instanceof WebGpuBackend) current.countEarlierLosses(losses);
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
