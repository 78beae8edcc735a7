// What the bare-`webgpu` probes (wait-latency.ts, tick-probe.ts) share: their device, with exact timestamps
// (Dawn's quantization off, as the harness), and the busy kernel, whose threads each run `iters.x` dependent
// multiply-adds on their element, so a launch's length is set by a uniform, not by memory.
import { create } from 'webgpu';

/** The GPU instance of probeDevice: held for the process's life (a collected instance takes its devices with it). */
let instance: GPU | null = null;

/** The high-performance adapter's device; with timestamp queries if `timestamps` is 'required', or where the adapter has them. */
export async function probeDevice(probe: string, timestamps: 'required' | 'optional'): Promise<{ adapter: GPUAdapter; device: GPUDevice }> {
  instance = create(['disable-dawn-features=timestamp_quantization']);
  const adapter = await instance.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error(`${probe}: no adapter`);
  const timed = timestamps === 'required' || adapter.features.has('timestamp-query');
  return { adapter, device: await adapter.requestDevice({ requiredFeatures: timed ? ['timestamp-query'] : [] }) };
}
/** Binding 0: the storage buffer (a float per thread), binding 1: the uniform vec4u whose x is the step count. */
export const BUSY_KERNEL_WGSL = `
@group(0) @binding(0) var<storage, read_write> buf: array<f32>;
@group(0) @binding(1) var<uniform> iters: vec4u;
@compute @workgroup_size(256) fn main(@builtin(global_invocation_id) g: vec3u) {
  var x = buf[g.x];
  for (var i = 0u; i < iters.x; i++) { x = fma(x, 0.999999, 1e-7); }
  buf[g.x] = x;
}`;

/** The busy kernel's pipeline on `device` (workgroups of 256 threads). */
export function busyPipeline(device: GPUDevice): GPUComputePipeline {
  return device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code: BUSY_KERNEL_WGSL }), entryPoint: 'main' } });
}
