// The WebGPU backend: lowers graphs to plans (cached by structure and argument layout), binds plan slots to
// pooled device buffers, records every dispatch of an evaluation into one command encoder and submits once.
// Temporaries go back to the pool right after the submit: later submits are ordered after it on the queue.
import type { DType, TypedArray } from '../../ir/dtype.js';
import { WgfuseError } from '../../ir/errors.js';
import type { Graph } from '../../ir/graph.js';
import { structuralHash } from '../../ir/hash.js';
import { isRowMajorStrides, sizeOf } from '../../ir/shape.js';
import { gather } from '../cpu/strided.js';
import { compileGraph } from '../../lowering/compile.js';
import { layoutKey } from '../../lowering/lower.js';
import type { Plan } from '../../lowering/plan.js';
import type { Backend, BackendInfo } from '../backend.js';
import { Storage, type DeviceMemory } from '../storage.js';
import { BufferPool, type PooledBuffer } from './buffer-pool.js';
import type { GpuContext } from './device.js';
import { PipelineCache, type CachedPipeline } from './pipelines.js';
import { emptyTelemetry, recordKernelTime, type Telemetry } from '../telemetry.js';
import { BufferUsage, MapMode } from './usage.js';

const STORAGE_USAGE = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;
const READBACK_USAGE = BufferUsage.MAP_READ | BufferUsage.COPY_DST;

export interface WebGpuOptions {
  /** Time every dispatch with timestamp queries (where the adapter has them); slower, for profiling. */
  timing?: boolean;
  /** Run the fusion passes (default true); false gives one dispatch per op, the baseline benchmarks compare with. */
  fusion?: boolean;
  /** Cap on bytes kept in the buffer pool's free lists (default DEFAULT_POOL_BYTES). */
  poolBytes?: number;
  /**
   * Let reductions combine through subgroup operations; default: whether the device was granted the
   * 'subgroups' feature (asking for them without it has no effect). Tests turn them off to compare.
   */
  subgroups?: boolean;
}

export class WebGpuBackend implements Backend {
  readonly info: BackendInfo;
  readonly device: GPUDevice;
  readonly pool: BufferPool;
  private readonly pipelines: PipelineCache;
  private readonly plans = new Map<string, Plan>();
  private readonly resolved = new WeakMap<Plan, Promise<CachedPipeline[]>>();
  private stats: Telemetry;
  private lost = false;
  timing: boolean;
  readonly fusion: boolean;
  /** Optional features the kernels use, passed to the compiler (part of what a cached plan was built for). */
  readonly features: { readonly subgroups: boolean };

  constructor(
    readonly context: GpuContext,
    options: WebGpuOptions = {},
  ) {
    this.device = context.device;
    this.info = { name: 'webgpu', adapter: context.adapterName };
    this.pool = new BufferPool(this.device, options.poolBytes);
    this.stats = emptyTelemetry(this.pool.stats);
    this.pipelines = new PipelineCache(this.device, () => this.stats);
    this.timing = (options.timing ?? false) && context.features.includes('timestamp-query');
    this.fusion = options.fusion ?? true;
    const hasSubgroups = context.features.includes('subgroups');
    this.features = { subgroups: hasSubgroups && (options.subgroups ?? true) };
    void context.lost.then(() => (this.lost = true));
  }

  telemetry(): Telemetry {
    return structuredClone({ ...this.stats, pool: { ...this.pool.stats } });
  }

  resetTelemetry(): void {
    this.stats = emptyTelemetry(this.pool.stats);
  }

  /** The plan for a graph with these argument storages (cached). */
  plan(graph: Graph, args: readonly Storage[]): Plan {
    const layouts = args.map((a) => a.layout);
    const key = structuralHash(graph) + layoutKey(layouts);
    let plan = this.plans.get(key);
    if (plan) {
      this.stats.planCacheHits++;
      return plan;
    }
    this.stats.planCacheMisses++;
    plan = compileGraph(graph, { fusion: this.fusion, inputLayouts: layouts, features: this.features }).plan;
    this.plans.set(key, plan);
    return plan;
  }

  async run(graph: Graph, args: readonly Storage[]): Promise<Storage[]> {
    this.checkAlive();
    const plan = this.plan(graph, args);
    let pipelines = this.resolved.get(plan);
    if (!pipelines) {
      pipelines = Promise.all(plan.dispatches.map((d) => this.pipelines.get(d.kernel, d.wgsl, d.entryPoint, d.bindings)));
      this.resolved.set(plan, pipelines);
      pipelines.catch(() => this.resolved.delete(plan));
    }
    const compiled = await pipelines;
    this.checkAlive();

    // Bind every slot: arguments to their (uploaded) buffers, the rest to pooled buffers, one per buffer of
    // the memory plan (slots with disjoint lifetimes share one).
    const memory = plan.memory;
    const physical = memory ? memory.buffers.map((bytes) => this.pool.acquire(Math.max(4, bytes), STORAGE_USAGE)) : [];
    const owned: (PooledBuffer | null)[] = plan.slots.map((slot) => {
      if (slot.role === 'input') return null;
      return memory ? physical[memory.slotBuffer[slot.index]] : this.pool.acquire(Math.max(4, slot.size * 4), STORAGE_USAGE);
    });
    const buffers = owned.map((b) => b?.buffer ?? null);
    plan.inputSlots.forEach((slot, i) => (buffers[slot] = this.deviceBuffer(args[i].root)));

    const encoder = this.device.createCommandEncoder();
    const timer = this.timing && plan.dispatches.length > 0 ? this.device.createQuerySet({ type: 'timestamp', count: 2 * plan.dispatches.length }) : null;
    let pass: GPUComputePassEncoder | null = null;
    plan.dispatches.forEach((d, i) => {
      if (!pass || timer) {
        pass?.end();
        pass = encoder.beginComputePass(timer ? { timestampWrites: { querySet: timer, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } } : {});
      }
      const bindGroup = this.device.createBindGroup({
        layout: compiled[i].layout,
        entries: d.bindings.map((b, binding) => ({ binding, resource: { buffer: buffers[b.slot]! } })),
      });
      pass.setPipeline(compiled[i].pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(...d.workgroups);
    });
    (pass as GPUComputePassEncoder | null)?.end();
    const readTimings = timer ? this.resolveTimestamps(encoder, timer, plan.dispatches.length) : null;

    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    this.device.queue.submit([encoder.finish()]);
    const [validation, oom] = [await this.device.popErrorScope(), await this.device.popErrorScope()];
    this.stats.evaluations++;
    this.stats.submits++;
    this.stats.dispatches += plan.dispatches.length;

    // Temporaries can be reused by the next submit; outputs become storages the caller owns. An output
    // that is a plain tensor owns its slot's memory; any other output is a view that keeps its base alive.
    const bases = new Map<number, Storage>(plan.inputSlots.map((slot, i) => [slot, args[i].root]));
    const created: Storage[] = [];
    // Outputs never share a buffer (assign-buffers), so a buffer with no output slot is a temporary one.
    const kept = new Set(plan.slots.filter((s) => s.role === 'output').map((s) => owned[s.index]));
    for (const b of new Set(owned)) if (b && !kept.has(b)) this.pool.release(b);
    const results = plan.outputs.map((out, i) => {
      const slot = plan.slots[out.slot];
      let base = bases.get(out.slot);
      if (!base) {
        const plain = out.offset === 0 && sizeOf(out.shape) === slot.size && isRowMajorStrides(out.shape, out.strides);
        const memory = this.memory(owned[out.slot]!);
        if (plain) {
          const own = Storage.fromDevice(graph.outputs[i].dtype, out.shape, memory);
          bases.set(out.slot, own);
          return own;
        }
        base = Storage.fromDevice(slot.dtype, [slot.size], memory);
        bases.set(out.slot, base);
        created.push(base);
      }
      return Storage.viewOf(base, out.shape, out.offset, out.strides);
    });
    // The views retain what they need; the flat bases made only for them are not handed out.
    created.forEach((b) => b.release());
    if (validation || oom) {
      results.forEach((r) => r.release());
      throw new WgfuseError(`webgpu: the device rejected the evaluation: ${(validation ?? oom)!.message}`);
    }
    if (readTimings) (await readTimings()).forEach((ns, i) => recordKernelTime(this.stats, plan.dispatches[i].kernel, ns));
    return results;
  }

  async read(storage: Storage): Promise<TypedArray> {
    this.checkAlive();
    const root = storage.root;
    let data = root.host;
    if (!data) {
      if (!root.device) throw new WgfuseError('read: this value has neither host nor device data (was it disposed?)');
      data = await this.download(root.device.buffer, root.dtype, root.size);
    }
    if (!storage.view) return data === storage.host ? data.slice() : data;
    return gather(data, storage.shape, storage.view.strides, storage.view.offset);
  }

  destroy(): void {
    this.pool.trim(0);
    this.plans.clear();
    this.device.destroy();
  }

  private checkAlive(): void {
    if (this.lost) throw new WgfuseError('webgpu: the device was lost; call wg.init() to acquire a new one');
  }

  private memory(b: PooledBuffer): DeviceMemory {
    let freed = false;
    return {
      buffer: b.buffer,
      device: this.device,
      free: () => {
        if (freed) return;
        freed = true;
        if (!this.lost) this.pool.release(b);
      },
    };
  }

  /** The buffer holding a root storage on this device, uploading its host data the first time. */
  private deviceBuffer(s: Storage): GPUBuffer {
    if (s.released) throw new WgfuseError('evaluate: a tensor this program reads was disposed');
    if (s.device) {
      if (s.device.device !== this.device) {
        if (!s.host) throw new WgfuseError('evaluate: a tensor lives on another (or a lost) WebGPU device and has no host copy');
      } else return s.device.buffer;
    }
    if (!s.host) throw new WgfuseError('evaluate: a tensor has no data');
    const b = this.pool.acquire(Math.max(4, s.size * 4), STORAGE_USAGE);
    const data = s.dtype === 'bool' ? Uint32Array.from(s.host) : s.host;
    this.device.queue.writeBuffer(b.buffer, 0, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
    this.stats.bytesUploaded += data.byteLength;
    s.device = this.memory(b);
    return b.buffer;
  }

  private async download(buffer: GPUBuffer, dtype: DType, size: number): Promise<TypedArray> {
    const bytes = Math.max(4, size * 4);
    const staging = this.pool.acquire(bytes, READBACK_USAGE);
    const encoder = this.device.createCommandEncoder();
    encoder.copyBufferToBuffer(buffer, 0, staging.buffer, 0, bytes);
    this.device.queue.submit([encoder.finish()]);
    this.stats.submits++;
    try {
      await staging.buffer.mapAsync(MapMode.READ, 0, bytes);
    } catch (err) {
      throw new WgfuseError(`read: mapping the readback buffer failed: ${(err as Error).message}`);
    }
    const raw = staging.buffer.getMappedRange(0, bytes);
    const out = convert(raw, dtype, size);
    staging.buffer.unmap();
    this.pool.release(staging);
    this.stats.bytesDownloaded += size * 4;
    return out;
  }

  /** Encodes the copy of the timestamps; the returned function reads them once the encoder is submitted. */
  private resolveTimestamps(encoder: GPUCommandEncoder, set: GPUQuerySet, count: number): () => Promise<number[]> {
    const bytes = 16 * count;
    const resolve = this.device.createBuffer({ size: bytes, usage: BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC });
    const staging = this.device.createBuffer({ size: bytes, usage: READBACK_USAGE });
    encoder.resolveQuerySet(set, 0, 2 * count, resolve, 0);
    encoder.copyBufferToBuffer(resolve, 0, staging, 0, bytes);
    return async () => {
      await staging.mapAsync(MapMode.READ);
      const t = new BigUint64Array(staging.getMappedRange().slice(0));
      staging.unmap();
      [resolve, staging].forEach((b) => b.destroy());
      set.destroy();
      return Array.from({ length: count }, (_, i) => Number(t[2 * i + 1] - t[2 * i]));
    };
  }
}

function convert(raw: ArrayBuffer, dtype: DType, size: number): TypedArray {
  if (dtype === 'float32') return new Float32Array(raw.slice(0, size * 4));
  if (dtype === 'int32') return new Int32Array(raw.slice(0, size * 4));
  return Uint8Array.from(new Uint32Array(raw, 0, size));
}
