// `wgfuse info`: which WebGPU adapter wgfuse would use here, how it was chosen, and what it grants.

import { selectNodeGpu } from '../runtime/node-gpu.js';
import { acquireDevice, type GpuContext } from '../runtime/webgpu/device.js';

export async function infoCommand(): Promise<string> {
  const selection = await selectNodeGpu({ software: 'fallback' });
  const ctx = selection.gpu ? await acquireDevice({ gpu: selection.gpu, allowSoftware: true }) : null;
  if (!ctx) {
    return [
      'webgpu:   no adapter',
      `reason:   ${selection.gpu ? 'the GPU offered no adapter on the second request' : selection.reason}`,
      'wgfuse would run on the CPU reference backend.',
    ].join('\n');
  }
  try {
    return formatContext(ctx, `${selection.path}: ${selection.reason}`);
  } finally {
    ctx.device.destroy();
  }
}

function formatContext(ctx: GpuContext, path: string): string {
  const names = Object.keys(ctx.limits);
  const nameWidth = Math.max(...names.map((n) => n.length));
  const valueWidth = Math.max(...names.map((n) => String(ctx.limits[n]).length));
  return [
    `adapter:  ${ctx.adapterName}`,
    `kind:     ${ctx.isFallback ? 'software' : 'hardware'}`,
    `path:     ${path}`,
    `features: ${ctx.features.join(', ') || '(none)'}`,
    'limits:',
    ...names.map((n) => `  ${n.padEnd(nameWidth)}  ${String(ctx.limits[n]).padStart(valueWidth)}`),
  ].join('\n');
}
