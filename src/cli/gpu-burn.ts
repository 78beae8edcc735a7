// Saturating GPU work before a measurement (the harness's --burn-ms, off by default). We may not lock clocks
// on the GPU machine, and an H100 left idle, or only lightly loaded, runs at 345-1000 MHz instead of 1980
// (run 4's clocks.csv: the batched GEMM rows timed at 645-840 MHz). A burst of arithmetic does hold the clock
// up, but on 2026-11-24 it slowed the host side of the runs right after it (src/cli/bench.ts, BURN_MS), so
// it stays an option for checking clock effects; the PyTorch peer honours the same setting.

/** One dispatch of ALU work (no memory traffic): workgroups of 256 threads, a dependent FMA chain each. */
const BURN_WGSL = `
@group(0) @binding(0) var<storage, read_write> sink: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3u) {
  var a = f32(g.x) * 1e-9;
  var b = 1.0 - a;
  for (var i = 0u; i < 4096u; i++) {
    a = fma(a, b, 1e-7);
    b = fma(b, a, -1e-7);
  }
  // Never true for these values, but the compiler cannot know it: the loop stays.
  if (a == 123456.0) { sink[0] = b; }
}
`;

export interface GpuBurner {
  /** Keeps the GPU saturated for about `ms` milliseconds, then waits for it to finish. */
  burn(ms: number): Promise<void>;
  destroy(): void;
}

/** `workgroups` per dispatch: 4,096 fill an H100 for about 0.3 ms; tests on a software adapter use a few. */
export async function makeGpuBurner(gpu: GPU, workgroups = 4096): Promise<GpuBurner | null> {
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) return null;
  const device = await adapter.requestDevice();
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ code: BURN_WGSL });
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  // STORAGE usage flag (0x80): the spec's number; Node has no GPUBufferUsage global unless installed.
  const sink = device.createBuffer({ size: 16, usage: 0x80 });
  const group = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: sink } }] });
  const invalid = await device.popErrorScope();
  if (invalid) {
    device.destroy();
    throw new Error(`gpu-burn: the burn kernel was rejected: ${invalid.message}`);
  }
  const submit = (dispatches: number) => {
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    for (let i = 0; i < dispatches; i++) pass.dispatchWorkgroups(workgroups);
    pass.end();
    device.queue.submit([encoder.finish()]);
  };
  return {
    async burn(ms: number) {
      // About 2.5 ms of work per submit on an H100: the gap while the host learns it finished and submits
      // again is a few percent of it.
      const end = performance.now() + ms;
      do {
        submit(8);
        await device.queue.onSubmittedWorkDone();
      } while (performance.now() < end);
    },
    destroy() {
      sink.destroy();
      device.destroy();
    },
  };
}
