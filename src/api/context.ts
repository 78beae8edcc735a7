// The process-wide choice of backend. `init` picks one explicitly; the first evaluation calls it with 'auto'.
import { ArgumentError, WgfuseError } from '../ir/errors.js';
import type { Backend, BackendInfo } from '../runtime/backend.js';
import { CpuBackend } from '../runtime/cpu-backend.js';

export interface InitOptions {
  /** 'auto' (default) picks WebGPU where it can run every op, else the CPU reference. */
  backend?: 'auto' | 'webgpu' | 'cpu';
  /** Do not print the one line saying which backend was chosen. */
  quiet?: boolean;
}

let current: Backend | null = null;
let pending: Promise<Backend> | null = null;

export async function init(options: InitOptions = {}): Promise<BackendInfo> {
  const choice = options.backend ?? 'auto';
  if (choice !== 'auto' && choice !== 'webgpu' && choice !== 'cpu') {
    throw new ArgumentError(`init: backend must be 'auto', 'webgpu' or 'cpu', got ${JSON.stringify(choice)}`);
  }
  const previous = current;
  pending = (async () => {
    const { backend, reason } = await choose(choice);
    previous?.destroy();
    current = backend;
    if (!options.quiet) console.info(`wgfuse: backend ${backend.info.name}${backend.info.adapter ? ` (${backend.info.adapter})` : ''}: ${reason}`);
    return backend;
  })();
  try {
    return (await pending).info;
  } finally {
    pending = null;
  }
}

async function choose(choice: 'auto' | 'webgpu' | 'cpu'): Promise<{ backend: Backend; reason: string }> {
  if (choice === 'cpu') return { backend: new CpuBackend(), reason: 'requested' };
  if (choice === 'webgpu') {
    throw new WgfuseError("init: the 'webgpu' backend cannot run programs yet (lowering to WGSL is not built); use 'cpu' or 'auto'");
  }
  return { backend: new CpuBackend(), reason: 'auto: WebGPU execution is not built yet, using the CPU reference executor' };
}

/** The backend in use, initialising with 'auto' on first use. */
export async function activeBackend(): Promise<Backend> {
  if (current) return current;
  if (pending) return pending;
  await init({ backend: 'auto' });
  return current!;
}

export function backend(): BackendInfo {
  if (!current) throw new WgfuseError('backend: no backend chosen yet; call `await wg.init()` or evaluate a tensor first');
  return current.info;
}
