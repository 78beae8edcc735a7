// Shared by the WebGPU tests: one device per test file (SwiftShader in CI, where a missing adapter fails).
import { afterAll, beforeAll } from 'vitest';
import * as wg from '../../src/index.js';
import { currentBackend } from '../../src/api/context.js';
import { extractProgram } from '../../src/api/program.js';
import type { Tensor } from '../../src/api/tensor.js';
import type { TypedArray } from '../../src/ir/dtype.js';
import { selectNodeGpu } from '../../src/runtime/node-gpu.js';
import { WebGpuBackend } from '../../src/runtime/webgpu/backend.js';
import { acquireDevice, type GpuContext } from '../../src/runtime/webgpu/device.js';

export const inCI = process.env.CI === 'true';

export async function testGpu(): Promise<GpuContext | null> {
  const selection = await selectNodeGpu({ software: 'fallback' });
  const ctx = selection.gpu ? await acquireDevice({ gpu: selection.gpu, allowSoftware: true }) : null;
  if (!ctx && inCI) throw new Error(`CI=true but no WebGPU adapter was found: ${selection.reason}`);
  return ctx;
}

/**
 * A backend for graphs a test has already run passes on: fusion off, so it lowers them as given. Created
 * before the file's tests and destroyed after them; call the returned function inside a test.
 */
export function graphBackend(): () => WebGpuBackend {
  let gpu: WebGpuBackend | undefined;
  beforeAll(async () => {
    const ctx = await testGpu();
    if (!ctx) throw new Error('no WebGPU adapter');
    gpu = new WebGpuBackend(ctx, { fusion: false });
  });
  afterAll(() => gpu?.destroy());
  return () => {
    if (!gpu) throw new Error('graphBackend: no backend (used outside a test?)');
    return gpu;
  };
}

/** Makes wgfuse's backend a WebGPU one (failing where there is no adapter) and returns it. */
export async function initWebGpu(): Promise<WebGpuBackend> {
  const probe = await testGpu();
  if (!probe) throw new Error('no WebGPU adapter');
  probe.device.destroy();
  await wg.init({ backend: 'webgpu', quiet: true });
  const backend = currentBackend();
  if (!(backend instanceof WebGpuBackend)) throw new Error('wg.init did not give a WebGPU backend');
  return backend;
}

/** Runs the program behind `outputs` on `backend` directly (its own plan cache) and reads every result back. */
export async function runOutputs(backend: WebGpuBackend, outputs: readonly Tensor[]): Promise<TypedArray[]> {
  const { graph, args } = extractProgram(outputs.map((t) => t.node));
  const results = await backend.run(graph, args);
  try {
    return await Promise.all(results.map((o) => backend.read(o)));
  } finally {
    results.forEach((o) => o.release());
  }
}
