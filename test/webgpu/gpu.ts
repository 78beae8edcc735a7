// Shared by the WebGPU tests: one device per test file (SwiftShader in CI, where a missing adapter fails).
import { selectNodeGpu } from '../../src/runtime/node-gpu.js';
import { acquireDevice, type GpuContext } from '../../src/runtime/webgpu/device.js';

export const inCI = process.env.CI === 'true';

export async function testGpu(): Promise<GpuContext | null> {
  const selection = await selectNodeGpu({ software: 'fallback' });
  const ctx = selection.gpu ? await acquireDevice({ gpu: selection.gpu, allowSoftware: true }) : null;
  if (!ctx && inCI) throw new Error(`CI=true but no WebGPU adapter was found: ${selection.reason}`);
  return ctx;
}
