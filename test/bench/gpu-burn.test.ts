// The harness's clock burner (src/cli/gpu-burn.ts): its kernel compiles and runs, and burn(ms) keeps submitting
// until ms have passed, then waits for the GPU. On SwiftShader with a couple of workgroups per dispatch.
import { describe, expect, it } from 'vitest';
import { makeGpuBurner } from '../../src/cli/gpu-burn.js';
import { selectNodeGpu } from '../../src/runtime/node-gpu.js';

describe('GPU clock burner', () => {
  it('compiles its kernel (a rejected one throws) and runs for at least the time asked', async () => {
    const selection = await selectNodeGpu({ software: 'fallback' });
    if (!selection.gpu) throw new Error(`no WebGPU adapter: ${selection.reason}`);
    const burner = await makeGpuBurner(selection.gpu, 2);
    if (!burner) throw new Error('no burner');
    const t0 = performance.now();
    await burner.burn(60);
    const ms = performance.now() - t0;
    expect(ms).toBeGreaterThanOrEqual(60);
    expect(ms).toBeLessThan(60_000);
    await burner.burn(0);
    burner.destroy();
  });
});
