// Runs one generated kernel on typed arrays, without the plan runtime: lets kernel generators be tested
// on their own. Data is given in device form (bool as Uint32Array 0/1).
import { expect } from 'vitest';
import type { GeneratedKernel, KernelBuffer } from '../../src/shaders/elementwise.js';
import { BufferUsage, MapMode } from '../../src/runtime/webgpu/usage.js';

export type DeviceArray = Float32Array | Int32Array | Uint32Array;

export async function runKernel(
  device: GPUDevice,
  kernel: GeneratedKernel,
  buffers: readonly KernelBuffer[],
  data: Readonly<Record<string, DeviceArray | number>>,
): Promise<Record<string, DeviceArray>> {
  const module = device.createShaderModule({ code: kernel.wgsl });
  const info = await module.getCompilationInfo();
  expect(info.messages.map((m) => `${m.type} ${m.lineNum}:${m.linePos} ${m.message}\n${kernel.wgsl}`)).toEqual([]);
  device.pushErrorScope('validation');
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: kernel.entryPoint } });
  const gpuBuffers = buffers.map((b) => {
    const init = data[b.name];
    const bytes = Math.max(16, typeof init === 'number' ? init * 4 : init.byteLength);
    const buf = device.createBuffer({ size: bytes, usage: BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST });
    if (typeof init !== 'number') device.queue.writeBuffer(buf, 0, init as Float32Array<ArrayBuffer>);
    return buf;
  });
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: gpuBuffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(...kernel.workgroups);
  pass.end();
  const staging = buffers.map((b, i) =>
    b.access === 'read_write' ? device.createBuffer({ size: gpuBuffers[i].size, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST }) : null,
  );
  staging.forEach((s, i) => s && enc.copyBufferToBuffer(gpuBuffers[i], 0, s, 0, s.size));
  device.queue.submit([enc.finish()]);
  const error = await device.popErrorScope();
  expect(error?.message ?? null).toBeNull();
  const out: Record<string, DeviceArray> = {};
  for (const [i, b] of buffers.entries()) {
    const s = staging[i];
    if (!s) continue;
    await s.mapAsync(MapMode.READ);
    const raw = s.getMappedRange().slice(0);
    s.unmap();
    const init = data[b.name];
    const n = typeof init === 'number' ? init : init.length;
    out[b.name] = b.dtype === 'float32' ? new Float32Array(raw, 0, n) : b.dtype === 'int32' ? new Int32Array(raw, 0, n) : new Uint32Array(raw, 0, n);
  }
  gpuBuffers.forEach((b) => b.destroy());
  staging.forEach((s) => s?.destroy());
  return out;
}
