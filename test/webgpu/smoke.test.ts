// CI smoke test: one WGSL kernel end to end on whatever adapter Node finds (SwiftShader in CI).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectNodeGpu } from '../../src/runtime/node-gpu.js';
import { acquireDevice, describeContext, type GpuContext } from '../../src/runtime/webgpu/device.js';

const N = 1000; // not a multiple of the workgroup size, so the bounds check matters
const WORKGROUP = 64;

const SHADER = /* wgsl */ `
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= arrayLength(&out)) { return; }
  out[i] = a[i] * 2.0 + f32(i);
}
`;

const selection = await selectNodeGpu({ software: 'fallback' });
const ctx: GpuContext | null = selection.gpu ? await acquireDevice({ gpu: selection.gpu, allowSoftware: true }) : null;
const inCI = process.env.CI === 'true';

// GPU usage flags are plain numbers from the spec; the GPUBufferUsage global does not exist under Node.
const STORAGE = 0x80;
const COPY_SRC = 0x04;
const COPY_DST = 0x08;
const MAP_READ = 0x01;
const MAP_MODE_READ = 0x1;

describe('webgpu smoke', () => {
  beforeAll(() => {
    if (!ctx && inCI) throw new Error(`CI=true but no WebGPU adapter was found: ${selection.reason}`);
    if (ctx) console.log(`${describeContext(ctx)} (${selection.path}: ${selection.reason})`);
  });

  afterAll(() => {
    ctx?.device.destroy();
  });

  // Outside CI a machine without any adapter (no GPU, no SwiftShader) skips; CI fails in beforeAll instead.
  it.skipIf(!ctx && !inCI)('runs a compute shader and reads back the exact values', async () => {
    const device = ctx!.device;
    const module = device.createShaderModule({ code: SHADER });
    const info = await module.getCompilationInfo();
    expect(info.messages.map((m) => `${m.type} ${m.lineNum}:${m.linePos} ${m.message}`)).toEqual([]);

    const input = Float32Array.from({ length: N }, (_, i) => Math.sin(i) * 100);
    const bytes = N * 4;
    const a = device.createBuffer({ size: bytes, usage: STORAGE | COPY_DST });
    const out = device.createBuffer({ size: bytes, usage: STORAGE | COPY_SRC });
    const staging = device.createBuffer({ size: bytes, usage: MAP_READ | COPY_DST });
    device.queue.writeBuffer(a, 0, input);

    device.pushErrorScope('validation');
    const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
    const bindGroup = device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: a } },
        { binding: 1, resource: { buffer: out } },
      ],
    });
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(Math.ceil(N / WORKGROUP));
    pass.end();
    encoder.copyBufferToBuffer(out, 0, staging, 0, bytes);
    device.queue.submit([encoder.finish()]);
    expect(await device.popErrorScope()).toBeNull();

    await staging.mapAsync(MAP_MODE_READ);
    const result = new Float32Array(staging.getMappedRange().slice(0));
    staging.unmap();

    // Math.fround at each step mirrors the shader's f32 arithmetic; a*2 and the i conversion are exact.
    const expected = Float32Array.from(input, (x, i) => Math.fround(Math.fround(x * 2) + i));
    const mismatches = [...result.keys()].filter((i) => result[i] !== expected[i]);
    expect(mismatches.slice(0, 10)).toEqual([]);

    for (const b of [a, out, staging]) b.destroy();
  });
});
