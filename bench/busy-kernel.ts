// The busy kernel of the bare-`webgpu` probes (wait-latency.ts, tick-probe.ts): each thread runs `iters.x`
// dependent multiply-adds on its element, so a launch's length is set by a uniform, not by memory.
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
