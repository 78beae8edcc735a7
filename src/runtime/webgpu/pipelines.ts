// Compute pipelines cached by (WGSL, entry point, binding layout). A WGSL compile error or warning is
// reported with the kernel's name and the source lines around it, never as a bare driver message.
import { WgfuseError } from '../../ir/errors.js';
import type { Binding } from '../../lowering/plan.js';
import type { Telemetry } from '../telemetry.js';
import { DeviceLostError, GpuTimeoutError } from '../errors.js';

/** Wraps a GPU promise so that it fails when the device is lost or it takes too long (see WebGpuBackend). */
export type Settle = <T>(p: Promise<T>, what: string) => Promise<T>;

export interface CachedPipeline {
  readonly pipeline: GPUComputePipeline;
  readonly layout: GPUBindGroupLayout;
}

/**
 * Most pipelines kept: programs of ever new shapes (a sequence length that changes every call) would
 * otherwise grow the cache without bound. The least recently used go first; they compile again if needed.
 */
export const DEFAULT_PIPELINE_CACHE = 2048;

export class PipelineCache {
  private readonly pipelines = new Map<string, Promise<CachedPipeline>>();
  private readonly layouts = new Map<string, GPUBindGroupLayout>();

  constructor(
    private readonly device: GPUDevice,
    private readonly telemetry: () => Telemetry,
    private readonly settle: Settle = (p) => p,
    private readonly capacity = DEFAULT_PIPELINE_CACHE,
  ) {}

  get size(): number {
    return this.pipelines.size;
  }

  get(kernel: string, wgsl: string, entryPoint: string, bindings: readonly Binding[]): Promise<CachedPipeline> {
    const signature = bindings.map((b) => (b.access === 'read' ? 'r' : 'w')).join('');
    const key = `${entryPoint}|${signature}|${wgsl}`;
    const cached = this.pipelines.get(key);
    if (cached) {
      this.telemetry().pipelinesReused++;
      this.pipelines.delete(key);
      this.pipelines.set(key, cached);
      return cached;
    }
    const created = this.create(kernel, wgsl, entryPoint, signature);
    this.pipelines.set(key, created);
    if (this.pipelines.size > this.capacity) this.pipelines.delete(this.pipelines.keys().next().value!);
    // A failed compile is not cached: the error is thrown to this caller and the next one retries.
    created.catch(() => {
      if (this.pipelines.get(key) === created) this.pipelines.delete(key);
    });
    return created;
  }

  private bindGroupLayout(signature: string): GPUBindGroupLayout {
    let layout = this.layouts.get(signature);
    if (!layout) {
      layout = this.device.createBindGroupLayout({
        entries: [...signature].map((c, binding) => ({
          binding,
          visibility: 0x4, // GPUShaderStage.COMPUTE
          buffer: { type: c === 'r' ? 'read-only-storage' : 'storage' },
        })),
      });
      this.layouts.set(signature, layout);
    }
    return layout;
  }

  private async create(kernel: string, wgsl: string, entryPoint: string, signature: string): Promise<CachedPipeline> {
    const t0 = performance.now();
    const module = this.device.createShaderModule({ code: wgsl, label: kernel });
    const info = await this.settle(module.getCompilationInfo(), `compiling kernel ${kernel}`);
    if (info.messages.length > 0) throw compileError(kernel, wgsl, info.messages);
    const layout = this.bindGroupLayout(signature);
    let pipeline: GPUComputePipeline;
    try {
      pipeline = await this.settle(
        this.device.createComputePipelineAsync({
          label: kernel,
          layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
          compute: { module, entryPoint },
        }),
        `creating the pipeline of kernel ${kernel}`,
      );
    } catch (err) {
      if (err instanceof DeviceLostError || err instanceof GpuTimeoutError) throw err;
      throw new WgfuseError(`kernel ${kernel}: pipeline creation failed: ${(err as Error).message}\n${numbered(wgsl, 1, 12)}`);
    }
    const t = this.telemetry();
    t.pipelinesCompiled++;
    t.compileMs += performance.now() - t0;
    return { pipeline, layout };
  }
}

function compileError(kernel: string, wgsl: string, messages: readonly GPUCompilationMessage[]): WgfuseError {
  const parts = messages.map((m) => `${m.type} at ${m.lineNum}:${m.linePos}: ${m.message}\n${numbered(wgsl, m.lineNum - 2, m.lineNum + 2)}`);
  return new WgfuseError(`kernel ${kernel}: WGSL did not compile cleanly:\n${parts.join('\n')}`);
}

/** Lines `from`..`to` (1-based, clamped) with their numbers. */
function numbered(text: string, from: number, to: number): string {
  const lines = text.split('\n');
  const lo = Math.max(1, from);
  const hi = Math.min(lines.length, to);
  const out: string[] = [];
  for (let i = lo; i <= hi; i++) out.push(`${String(i).padStart(4)} | ${lines[i - 1]}`);
  return out.join('\n');
}
