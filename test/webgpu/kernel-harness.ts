// Runs one generated kernel on typed arrays, without the plan runtime: lets kernel generators be tested
// on their own. Data is given in device form (bool as Uint32Array 0/1).
import { expect } from 'vitest';
import { stridesOf, type Shape } from '../../src/ir/shape.js';
import type { GeneratedKernel, KernelBuffer } from '../../src/shaders/elementwise.js';
import type { MatrixOperand } from '../../src/shaders/matmul.js';
import { SUBGROUP_BUILTIN, SUBGROUP_ENABLE, SUBGROUP_MODULE, subgroupCheck } from '../../src/shaders/subgroups.js';
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

/**
 * Runs the subgroup layout check (`subgroupCheck(threads, lanes)`) in one workgroup of `threads` and returns
 * `value` per thread: WGSL over the check's `sg_mapped` and `sg_size`. `builtins`: more entry-point
 * parameters the check needs (the subgroup invocation id when `lanes` is given).
 */
export async function runSubgroupCheck(device: GPUDevice, threads: number, value: string, options: { lanes?: number; builtins?: readonly string[] } = {}): Promise<number[]> {
  const kernel: GeneratedKernel = {
    wgsl: [
      SUBGROUP_ENABLE,
      '@group(0) @binding(0) var<storage, read_write> out: array<u32>;',
      ...SUBGROUP_MODULE,
      `@compute @workgroup_size(${threads})`,
      `fn main(${['@builtin(local_invocation_index) lid: u32', SUBGROUP_BUILTIN, ...(options.builtins ?? [])].join(', ')}) {`,
      ...subgroupCheck(threads, options.lanes).map((l) => `  ${l}`),
      `  out[lid] = ${value};`,
      '}',
    ].join('\n'),
    entryPoint: 'main',
    workgroups: [1, 1, 1],
  };
  const { out } = await runKernel(device, kernel, [{ name: 'out', dtype: 'bool', access: 'read_write' }], { out: threads });
  return Array.from(out);
}

/**
 * Runs a product's dispatches (src/shaders/matmul.ts GemmProgram) in order in one submit: buffers named by
 * the spec are made from `data` as in runKernel, temporaries (split-K partial sums) are filled with NaN so
 * that a sum the product dispatch fails to write shows. Returns the read_write buffers of `buffers`.
 */
export async function runProgram(
  device: GPUDevice,
  program: { temps: readonly { name: string; size: number }[]; dispatches: readonly { kernel: GeneratedKernel; buffers: readonly KernelBuffer[] }[] },
  buffers: readonly KernelBuffer[],
  data: Readonly<Record<string, DeviceArray | number>>,
): Promise<Record<string, DeviceArray>> {
  const usage = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;
  const gpu = new Map<string, GPUBuffer>();
  for (const b of buffers) {
    const init = data[b.name];
    const buf = device.createBuffer({ size: Math.max(16, typeof init === 'number' ? init * 4 : init.byteLength), usage });
    if (typeof init !== 'number') device.queue.writeBuffer(buf, 0, init as Float32Array<ArrayBuffer>);
    gpu.set(b.name, buf);
  }
  for (const t of program.temps) {
    const buf = device.createBuffer({ size: Math.max(16, t.size * 4), usage });
    device.queue.writeBuffer(buf, 0, new Float32Array(t.size).fill(NaN));
    gpu.set(t.name, buf);
  }
  device.pushErrorScope('validation');
  const enc = device.createCommandEncoder();
  for (const d of program.dispatches) {
    const module = device.createShaderModule({ code: d.kernel.wgsl });
    const info = await module.getCompilationInfo();
    expect(info.messages.map((m) => `${m.type} ${m.lineNum}:${m.linePos} ${m.message}\n${d.kernel.wgsl}`)).toEqual([]);
    const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: d.kernel.entryPoint } });
    const bindGroup = device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: d.buffers.map((b, binding) => ({ binding, resource: { buffer: gpu.get(b.name)! } })),
    });
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(...d.kernel.workgroups);
    pass.end();
  }
  const outs = buffers.filter((b) => b.access === 'read_write');
  const staging = outs.map((b) => {
    const src = gpu.get(b.name)!;
    const s = device.createBuffer({ size: src.size, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
    enc.copyBufferToBuffer(src, 0, s, 0, s.size);
    return s;
  });
  device.queue.submit([enc.finish()]);
  const error = await device.popErrorScope();
  expect(error?.message ?? null).toBeNull();
  const out: Record<string, DeviceArray> = {};
  for (const [i, b] of outs.entries()) {
    const s = staging[i];
    await s.mapAsync(MapMode.READ);
    const raw = s.getMappedRange().slice(0);
    s.unmap();
    const init = data[b.name];
    const n = typeof init === 'number' ? init : init.length;
    out[b.name] = b.dtype === 'float32' ? new Float32Array(raw, 0, n) : b.dtype === 'int32' ? new Int32Array(raw, 0, n) : new Uint32Array(raw, 0, n);
    s.destroy();
  }
  gpu.forEach((b) => b.destroy());
  return out;
}

/**
 * A stored operand (row-major `shape` from `offset` with `strides`) as the kernel sees it: the logical
 * matrix's row and column strides (swapped when transposed) and one stride per output batch axis, 0 where
 * the operand broadcasts (a missing leading axis or an extent of 1).
 */
export function operand(buffer: string, shape: Shape, strides: readonly number[], offset: number, trans: boolean, batch: Shape): MatrixOperand {
  const r = shape.length;
  const [rowStride, colStride] = trans ? [strides[r - 1], strides[r - 2]] : [strides[r - 2], strides[r - 1]];
  const lead = batch.length - (r - 2);
  const batchStrides = batch.map((_, d) => (d < lead || shape[d - lead] === 1 ? 0 : strides[d - lead]));
  return { buffer, offset, batchStrides, rowStride, colStride };
}

/**
 * Sets to NaN every element of `data` (row-major, shape `from`) outside the slice of extents `size` at
 * `begin`: a kernel that reads outside its view then produces NaN.
 */
export function nanOutsideSlice(data: Float32Array | Int32Array, from: Shape, begin: readonly number[], size: Shape): void {
  const rm = stridesOf(from);
  for (let i = 0; i < data.length; i++) {
    const inside = from.every((_, d) => {
      const x = Math.floor(i / rm[d]) % from[d];
      return x >= begin[d] && x < begin[d] + size[d];
    });
    if (!inside) data[i] = NaN;
  }
}
