// The WebGPU backend: lowers graphs to plans (cached by structure and argument layout), binds plan slots to
// pooled device buffers, records every dispatch of an evaluation into one command encoder and submits once.
// Temporaries go back to the pool right after the submit: later submits are ordered after it on the queue.
//
// Faults (docs/runtime.md, "Limits and faults"): a plan whose buffers exceed the device's limits fails
// before anything runs (DeviceLimitError); an allocation that runs out of memory empties the pool and is
// retried once (OutOfMemoryError if it fails again); every awaited GPU promise is raced against device loss
// and a timeout, so nothing waits forever (DeviceLostError, GpuTimeoutError).
import type { DType, TypedArray } from '../../ir/dtype.js';
import { WgfuseError } from '../../ir/errors.js';
import type { Graph } from '../../ir/graph.js';
import { hashCode, structuralCode } from '../../ir/hash.js';
import { isRowMajorStrides, sizeOf, type Shape } from '../../ir/shape.js';
import { gather } from '../cpu/strided.js';
import { compileGraph } from '../../lowering/compile.js';
import type { Plan } from '../../lowering/plan.js';
import type { Backend, BackendInfo } from '../backend.js';
import { DeviceLimitError, DeviceLostError, GpuTimeoutError, OutOfMemoryError } from '../errors.js';
import { Storage, type DeviceMemory } from '../storage.js';
import { StructureCache } from '../structure-cache.js';
import { BufferPool, sizeClass, type PooledBuffer } from './buffer-pool.js';
import { formatBytes, type GpuContext } from './device.js';
import { PipelineCache, type CachedPipeline } from './pipelines.js';
import { emptyTelemetry, recordKernelTime, type Telemetry } from '../telemetry.js';
import { BufferUsage, MapMode } from './usage.js';

const STORAGE_USAGE = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;
const READBACK_USAGE = BufferUsage.MAP_READ | BufferUsage.COPY_DST;
const UPLOAD_USAGE = BufferUsage.MAP_WRITE | BufferUsage.COPY_SRC;
/**
 * Host data of at least this many bytes is uploaded through a pooled mappable staging buffer and a copy in
 * the evaluation's submit, smaller data through `queue.writeBuffer` (docs/runtime.md, "Uploading"). A pooled
 * staging buffer's memory is already paged in when it is used again: on the H100's host 256 MiB went up at
 * 4.5 GB/s that way, 1.4 GB/s through writeBuffer, whose staging memory is new each time.
 */
export const STAGED_UPLOAD_BYTES = 1 << 20;

/**
 * Longest wait for one GPU operation (an evaluation's error scopes, a readback, a kernel compile) before it
 * fails with GpuTimeoutError. Generous: a readback waits for all work queued before it, and SwiftShader
 * runs large programs for many seconds.
 */
export const DEFAULT_TIMEOUT_MS = 300_000;

/** Most plans kept (least recently used out first): new shapes on every call must not grow memory forever. */
export const DEFAULT_PLAN_CACHE = 1024;

export interface WebGpuOptions {
  /** Time every dispatch with timestamp queries (where the adapter has them); slower, for profiling. */
  timing?: boolean;
  /** Run the fusion passes (default true); false gives one dispatch per op, the baseline benchmarks compare with. */
  fusion?: boolean;
  /** Verify the IR after every compiler pass (default false; see CompileOptions.verify). */
  verify?: boolean;
  /** Cap on bytes kept in the buffer pool's free lists (default DEFAULT_POOL_BYTES). */
  poolBytes?: number;
  /**
   * Let reductions combine through subgroup operations; default: whether the device was granted the
   * 'subgroups' feature (asking for them without it has no effect). Tests turn them off to compare.
   */
  subgroups?: boolean;
  /** Longest wait for one GPU operation in ms (default DEFAULT_TIMEOUT_MS); Infinity waits forever. */
  timeoutMs?: number;
  /** Encode a plan's next evaluation while the GPU runs this one (default true; see WebGpuBackend.encodeAhead). */
  encodeAhead?: boolean;
}

/** The limits a plan is checked against (a GPUSupportedLimits has them). */
export interface BufferLimits {
  readonly maxBufferSize: number;
  readonly maxStorageBufferBindingSize: number;
}

/** Idle timers kept per dispatch count (evaluations in flight at once each take their own). */
const MAX_IDLE_TIMERS = 4;

interface Timer {
  readonly set: GPUQuerySet;
  readonly resolve: GPUBuffer;
  readonly staging: GPUBuffer;
  readonly count: number;
}

/** A dispatch's last bind group and what it bound: reused while the same buffers are bound again. */
interface CachedGroup {
  readonly group: GPUBindGroup;
  readonly layout: GPUBindGroupLayout;
  /** Per binding: the buffer and the bound size. */
  readonly buffers: readonly GPUBuffer[];
  readonly sizes: readonly number[];
  /** The backend's bindEpoch() when it was made. */
  readonly epoch: number;
}

/**
 * What the backend keeps per plan so that evaluating it again costs little host time (docs/runtime.md,
 * "Host overhead"). Everything here is derived from the plan, or a cache that is checked before each use.
 */
interface PlanState {
  /** Bytes each slot binds: its size (4 at least); input slots are overwritten per evaluation (a view binds its base). */
  readonly slotBytes: readonly number[];
  /** Per physical buffer (the memory plan's, else one per non-input slot): whether an output lives in it. */
  readonly keeps: readonly boolean[];
  /** Per slot: its physical buffer, or -1 for inputs. */
  readonly physicalOf: readonly number[];
  /** Bytes of each physical buffer. */
  readonly physicalBytes: readonly number[];
  /**
   * Per argument, the most bytes its buffer may take (maxBufferSize, and maxStorageBufferBindingSize where a
   * kernel binds it); set once the plan's own buffers passed checkPlanLimits.
   */
  argLimits: readonly number[] | null;
  /** The pipelines, once compiled (no await on later evaluations). */
  compiled: readonly CachedPipeline[] | null;
  /** The buffers the last evaluation used, per physical buffer: asked of the pool first, so bind groups match. */
  readonly last: (PooledBuffer | null)[];
  /** Per dispatch, the slot of each binding. */
  readonly bindings: readonly (readonly number[])[];
  /** Per dispatch, its last bind group. */
  readonly groups: (CachedGroup | null)[];
  /** The next evaluation's commands, encoded ahead (see encodeAhead); used at most once. */
  ahead: EncodedAhead | null;
  /** Evaluations of the plan so far; an encoding ahead is for the evaluation after the one that scheduled it. */
  runs: number;
  /** Encodings ahead that went unused in a row, and evaluations left before the next one (see commandsFor). */
  aheadMisses: number;
  aheadBackoff: number;
}

/** What an evaluation's commands are recorded from: the plan, its pipelines, and the buffer and bound size per slot. */
interface Bound {
  readonly plan: Plan;
  readonly state: PlanState;
  readonly compiled: readonly CachedPipeline[];
  readonly buffers: readonly (GPUBuffer | null)[];
  readonly bytes: readonly number[];
}

/** Commands encoded for the bindings of the evaluation before, in the hope that the next one binds the same. */
interface EncodedAhead {
  readonly commands: GPUCommandBuffer;
  /** What they were encoded from (the bindings the next evaluation must have). */
  readonly bound: Bound;
  /** bindEpoch() when encoded: a buffer destroyed or an evaluation failed since, and they are not used. */
  readonly epoch: number;
  /** Bind groups the encoding reused, counted in the telemetry when the commands are submitted. */
  readonly groupsReused: number;
}

/** Most evaluations that encode nothing ahead after encodings went unused (the arguments or outputs change per call). */
const MAX_AHEAD_BACKOFF = 64;

/** Runs `fn` once the host is idle: after the caller's synchronous work and the promise reactions it queued. */
const whenIdle: (fn: () => void) => void =
  typeof setImmediate === 'function' ? (fn) => void setImmediate(fn) : (fn) => void setTimeout(fn, 0);

type Attempt = { readonly results: Storage[]; readonly timer: Timer | null } | { readonly outOfMemory: string; readonly bytes: number; readonly buffers: number; readonly largest: number };

export class WebGpuBackend implements Backend {
  readonly info: BackendInfo;
  readonly device: GPUDevice;
  readonly pool: BufferPool;
  private readonly pipelines: PipelineCache;
  private readonly plans = new StructureCache<Plan>(DEFAULT_PLAN_CACHE);
  private readonly resolved = new WeakMap<Plan, Promise<CachedPipeline[]>>();
  /** The plan each graph object last got, and the argument layouts it was for (wg.jit re-runs one graph). */
  private readonly graphPlans = new WeakMap<Graph, { readonly key: readonly number[]; readonly hash: number; readonly layouts: readonly (Layout | null)[] }>();
  private stats: Telemetry;
  /** Why the device is gone ('destroyed: ...'), or null while it works. */
  private lostReasonText: string | null = null;
  /** Plans that ran here without an error: see attempt's deferred scope checks. */
  private readonly trusted = new WeakSet<Plan>();
  /** Per plan, what makes its next evaluation cheap (see PlanState). */
  private readonly states = new WeakMap<Plan, PlanState>();
  /** Bumped when an evaluation fails or a deferred check reports an error: every cached bind group is dropped. */
  private invalidations = 0;
  /** Scope checks not yet settled, and the first error they found. */
  private unchecked: Promise<void> | null = null;
  private deferredError: Error | null = null;
  /** GPU waits in flight: each fails its promise with DeviceLostError when the device is lost. */
  private readonly waiters = new Set<() => void>();
  /**
   * Timers whose timestamps were read, by dispatch count, for the next timed evaluations: a query set and two
   * buffers made and destroyed per evaluation cost about 1.2 ms of wall time on the H100 (wall-probe).
   */
  private readonly idleTimers = new Map<number, Timer[]>();
  timing: boolean;
  /**
   * Whether a replay of a trusted plan encodes the next evaluation's commands once the host is idle, so that
   * the next call on the same buffers only submits (docs/runtime.md, "Host overhead"). Read per evaluation.
   */
  encodeAhead: boolean;
  /** Host data of at least this many bytes is uploaded through a pooled staging buffer (STAGED_UPLOAD_BYTES; Infinity: never). Read per evaluation. */
  stagedUploadBytes = STAGED_UPLOAD_BYTES;
  readonly fusion: boolean;
  readonly verify: boolean;
  readonly timeoutMs: number;
  /** Optional features the kernels use, passed to the compiler (part of what a cached plan was built for). */
  readonly features: { readonly subgroups: boolean; readonly subgroupMinSize?: number };

  constructor(
    readonly context: GpuContext,
    options: WebGpuOptions = {},
  ) {
    this.device = context.device;
    this.info = { name: 'webgpu', adapter: context.adapterName };
    this.pool = new BufferPool(this.device, options.poolBytes);
    this.stats = emptyTelemetry(this.pool.stats);
    this.pipelines = new PipelineCache(this.device, () => this.stats, (p, what) => this.settle(p, what));
    this.timing = (options.timing ?? false) && context.features.includes('timestamp-query');
    this.encodeAhead = options.encodeAhead ?? true;
    this.fusion = options.fusion ?? true;
    this.verify = options.verify ?? false;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const hasSubgroups = context.features.includes('subgroups');
    // The smallest subgroup size is the adapter's (segmented row kernels need it; unknown turns them off).
    this.features = { subgroups: hasSubgroups && (options.subgroups ?? true), subgroupMinSize: context.device.adapterInfo?.subgroupMinSize };
    void context.lost.then((info) => this.markLost(`${info.reason}: ${info.message || 'no message'}`));
  }

  telemetry(): Telemetry {
    return structuredClone({ ...this.stats, plansCached: this.plans.size, pipelinesCached: this.pipelines.size, pool: { ...this.pool.stats } });
  }

  resetTelemetry(): void {
    this.pool.resetPeaks();
    this.stats = emptyTelemetry(this.pool.stats);
  }

  /** Why this backend's device is gone, or null while it works. */
  lostReason(): string | null {
    return this.lostReasonText;
  }

  /** @internal Carries the count of devices lost before this backend's (see api/context.ts). */
  countEarlierLosses(n: number): void {
    this.stats.deviceLosses = n;
  }

  /** The plan for a graph with these argument storages (cached). */
  plan(graph: Graph, args: readonly Storage[]): Plan {
    // A graph object run again (a jitted function's program, see api/jit.ts) looks its plan up by the key it
    // had last time, without walking the graph to write it, when the arguments are laid out as before.
    const known = this.graphPlans.get(graph);
    if (known && sameLayouts(known.layouts, args)) {
      const plan = this.plans.get(known.key, known.key.length, known.hash);
      if (plan) {
        this.stats.planCacheHits++;
        return plan;
      }
    }
    // The key is written into a reused array; a miss copies it before compiling, which could reach plan() again.
    const length = writePlanKey(graph, args, scratchKey);
    const hash = hashCode(scratchKey, length);
    const layouts = args.map((a) => a.layout);
    let entry = this.plans.entry(scratchKey, length, hash);
    if (entry) this.stats.planCacheHits++;
    else {
      this.stats.planCacheMisses++;
      const key = scratchKey.slice(0, length);
      const plan = compileGraph(graph, { fusion: this.fusion, inputLayouts: layouts, features: this.features, verify: this.verify }).plan;
      entry = this.plans.set(key, length, hash, plan);
    }
    this.graphPlans.set(graph, { key: entry.code, hash, layouts });
    return entry.value;
  }

  async run(graph: Graph, args: readonly Storage[]): Promise<Storage[]> {
    this.checkAlive('before the evaluation');
    this.throwDeferred();
    const plan = this.plan(graph, args);
    const state = this.stateOf(plan);
    // What the plan's own slots need depends on the plan alone: checked on its first evaluation. The
    // arguments' buffers (a view may bind a larger base) are checked every time: against the limits worked
    // out then, and where one is over, by checkPlanLimits, which says what and where.
    const limits = state.argLimits;
    if (!limits) {
      checkPlanLimits(plan, args, this.device.limits);
      state.argLimits = argumentLimits(plan, this.device.limits);
    } else if (args.some((a, i) => Math.max(4, a.root.size * 4) > limits[i])) checkPlanLimits(plan, args, this.device.limits, true);
    for (const a of args) this.checkBindable(a.root, 'evaluate');
    // The evaluation holds its arguments until it is done with them: a tensor disposed meanwhile (by code
    // running while this one waits for its kernels) stays valid for it.
    const held = args.map((a) => a.retain());
    try {
      return await this.execute(graph, plan, state, args);
    } finally {
      held.forEach((a) => a.release());
    }
  }

  async read(storage: Storage): Promise<TypedArray> {
    const root = storage.root;
    if (root.released) throw new WgfuseError(`read: this ${storage.description} tensor was disposed`);
    let data = root.host;
    /** Where `data` starts in the base. */
    let first = 0;
    if (!data) {
      // All of the base, or for a view only its elements from the lowest index to the highest: a row or a
      // corner of a large result reads that, not the whole base.
      const span = storage.view ? viewSpan(storage.shape, storage.view.strides, storage.view.offset) : { first: 0, count: root.size };
      first = span.first;
      this.checkBindable(root, 'read');
      this.checkAlive(`before reading back a ${root.description} tensor, whose value lived only on that device and is gone`);
      root.retain();
      try {
        await this.waitForChecks();
        this.throwDeferred();
        data = span.count === 0 ? convert(new ArrayBuffer(0), root.dtype, 0) : await this.download(root, span.first, span.count);
      } finally {
        root.release();
      }
    }
    if (!storage.view) return data === storage.host ? data.slice() : data;
    return gather(data, storage.shape, storage.view.strides, storage.view.offset - first);
  }

  destroy(): void {
    this.markLost('destroyed: wg.init() replaced this backend');
    this.plans.clear();
    this.device.destroy();
  }

  // ---- evaluation ----

  private pipelinesOf(plan: Plan): Promise<CachedPipeline[]> {
    let pipelines = this.resolved.get(plan);
    if (!pipelines) {
      pipelines = Promise.all(plan.dispatches.map((d) => this.pipelines.get(d.kernel, d.wgsl, d.entryPoint, d.bindings)));
      this.resolved.set(plan, pipelines);
      pipelines.catch(() => this.resolved.delete(plan));
    }
    return pipelines;
  }

  private stateOf(plan: Plan): PlanState {
    let state = this.states.get(plan);
    if (!state) {
      const memory = plan.memory;
      const physicalOf: number[] = [];
      const physicalBytes: number[] = memory ? [...memory.buffers] : [];
      for (const slot of plan.slots) {
        if (slot.role === 'input') physicalOf.push(-1);
        else if (memory) physicalOf.push(memory.slotBuffer[slot.index]);
        else physicalOf.push(physicalBytes.push(slot.size * 4) - 1);
      }
      // Outputs never share a buffer (assign-buffers), so a buffer with no output slot is a temporary one.
      const keeps = physicalBytes.map(() => false);
      for (const slot of plan.slots) if (slot.role === 'output') keeps[physicalOf[slot.index]] = true;
      state = {
        slotBytes: plan.slots.map((s) => Math.max(4, s.size * 4)),
        keeps,
        physicalOf,
        physicalBytes,
        argLimits: null,
        compiled: null,
        last: physicalBytes.map(() => null),
        bindings: plan.dispatches.map((d) => d.bindings.map((b) => b.slot)),
        groups: plan.dispatches.map(() => null),
        ahead: null,
        runs: 0,
        aheadMisses: 0,
        aheadBackoff: 0,
      };
      this.states.set(plan, state);
    }
    return state;
  }

  /** Changes whenever a cached bind group may refer to a destroyed buffer or come from a failed evaluation. */
  private bindEpoch(): number {
    return this.pool.destroyedCount + this.invalidations;
  }

  private async execute(graph: Graph, plan: Plan, state: PlanState, args: readonly Storage[]): Promise<Storage[]> {
    let compiled = state.compiled;
    if (!compiled) {
      compiled = await this.pipelinesOf(plan);
      this.checkAlive('while the kernels of an evaluation compiled');
      state.compiled = compiled;
    }
    const large = this.largeUploads(args);
    const staged = large ? await this.stageUploads(large) : null;
    try {
      return await this.attempts(graph, plan, state, args, compiled, staged);
    } finally {
      // Their copies are submitted (or the evaluation failed): a later map of one waits for its copy.
      staged?.forEach((b) => this.pool.release(b));
    }
  }

  private async attempts(graph: Graph, plan: Plan, state: PlanState, args: readonly Storage[], compiled: readonly CachedPipeline[], staged: Map<Storage, PooledBuffer> | null): Promise<Storage[]> {
    for (let retried = false; ; retried = true) {
      const attempt = await this.attempt(graph, plan, state, args, compiled, staged);
      if ('results' in attempt) {
        if (attempt.timer) {
          const times = await this.readTimestamps(attempt.timer);
          times.forEach((ns, i) => recordKernelTime(this.stats, plan.dispatches[i].kernel, ns));
        }
        return attempt.results;
      }
      if (!retried) {
        // Give the driver back every idle buffer, then try once more.
        this.stats.outOfMemoryRetries++;
        this.releaseIdle();
        continue;
      }
      this.stats.outOfMemoryErrors++;
      const kernels = [...new Set(plan.dispatches.map((d) => d.kernel))];
      const shown = kernels.length > 4 ? `${kernels.slice(0, 4).join(', ')}, ...` : kernels.join(', ');
      throw new OutOfMemoryError(
        `webgpu: out of device memory: an evaluation of ${plan.dispatches.length} dispatches (${shown || 'no kernels'}) needs ` +
          `${attempt.buffers} new buffers, ${formatBytes(attempt.bytes)} in all (the largest ${formatBytes(attempt.largest)}); the buffer pool was ` +
          `emptied and the allocation retried once, and it failed again. ${this.holding()} Dispose tensors that are no longer needed, ` +
          `or compute in smaller pieces. (${attempt.outOfMemory})`,
      );
    }
  }

  /**
   * The arguments' bases with host data of at least stagedUploadBytes not yet on this device (null: none).
   * Not one whose staging buffer the pool could not keep (over its cap): staging pays off by being reused.
   */
  private largeUploads(args: readonly Storage[]): Storage[] | null {
    let roots: Storage[] | null = null;
    for (const a of args) {
      const root = a.root;
      const bytes = root.size * 4;
      if (root.device?.device === this.device || !root.host || bytes < this.stagedUploadBytes || sizeClass(bytes) > this.pool.maxPooledBytes || roots?.includes(root)) continue;
      (roots ??= []).push(root);
    }
    return roots;
  }

  /**
   * Writes each base's host data into a pooled staging buffer (mapped for writing, filled, unmapped), for
   * attempt to copy from. A base whose staging buffer could not be had or mapped is left out: attempt uploads
   * it through writeBuffer. Returns the staged bases and their buffers, which the caller releases.
   */
  private async stageUploads(roots: readonly Storage[]): Promise<Map<Storage, PooledBuffer> | null> {
    const what = 'staging an upload';
    const created: PooledBuffer[] = [];
    const buffers: PooledBuffer[] = [];
    let failure: unknown = null;
    this.device.pushErrorScope('out-of-memory');
    try {
      for (const r of roots) buffers.push(this.pool.acquire(r.size * 4, UPLOAD_USAGE, created));
    } catch (err) {
      failure = err;
    }
    const oom = await this.settle(this.device.popErrorScope(), what).catch(async (err: unknown) => {
      failure ??= await this.explain(err, what);
      return null;
    });
    if (failure || oom) {
      // No room for staging (out of memory): every base goes through writeBuffer. Buffers the pool had are kept.
      buffers.forEach((b) => (created.includes(b) ? this.pool.discard(b) : this.pool.release(b)));
      if (failure) throw failure;
      return null;
    }
    const maps = buffers.map((b) => this.settle(b.buffer.mapAsync(MapMode.WRITE, 0, b.bytes), what).then(() => true, () => false));
    const staged = new Map<Storage, PooledBuffer>();
    for (const [i, mapped] of (await Promise.all(maps)).entries()) {
      const b = buffers[i];
      if (!mapped) {
        this.pool.discard(b);
        continue;
      }
      const host = roots[i].host!;
      const range = b.buffer.getMappedRange(0, b.bytes);
      // bool is stored as u32 on the device.
      if (roots[i].dtype === 'bool') new Uint32Array(range, 0, host.length).set(host);
      else new Uint8Array(range, 0, host.byteLength).set(new Uint8Array(host.buffer, host.byteOffset, host.byteLength));
      b.buffer.unmap();
      staged.set(roots[i], b);
    }
    if (this.lostReasonText) {
      staged.forEach((b) => this.pool.discard(b));
      this.checkAlive('while uploads were staged');
    }
    return staged.size > 0 ? staged : null;
  }

  /**
   * Allocates, uploads, encodes and submits one evaluation inside out-of-memory and validation error scopes.
   * An out-of-memory error is only known once the scopes are popped, after the submit: the submitted
   * work then failed validation and did nothing, and every buffer this attempt created is destroyed.
   */
  private async attempt(graph: Graph, plan: Plan, state: PlanState, args: readonly Storage[], compiled: readonly CachedPipeline[], staged: Map<Storage, PooledBuffer> | null): Promise<Attempt> {
    const created: PooledBuffer[] = [];
    const acquired: PooledBuffer[] = [];
    // Arguments not yet on this device are uploaded; the device copy is kept with the storage on success.
    let uploads: Map<Storage, PooledBuffer> | null = null;
    let physical: PooledBuffer[] = [];
    let timer: Timer | null = null;
    /** Copies from staged uploads, submitted before the evaluation's commands. */
    let copies: GPUCommandEncoder | null = null;

    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    let failure: unknown = null;
    try {
      // Bind every slot: arguments to their buffers, the rest to pooled buffers, one per buffer of the memory
      // plan (slots with disjoint lifetimes share one), each the one the last evaluation had where it is free.
      physical = state.physicalBytes.map((bytes, k) => {
        const b = this.pool.acquire(Math.max(4, bytes), STORAGE_USAGE, created, state.last[k]);
        acquired.push(b);
        return b;
      });
      const buffers = state.physicalOf.map((k) => (k < 0 ? null : physical[k].buffer));
      const bytes = state.slotBytes.slice();
      for (let i = 0; i < args.length; i++) {
        const root = args[i].root;
        let buffer = root.device?.device === this.device ? root.device.buffer : uploads?.get(root)?.buffer;
        if (!buffer) {
          const b = this.pool.acquire(Math.max(4, root.size * 4), STORAGE_USAGE, created);
          acquired.push(b);
          const staging = staged?.get(root);
          if (staging) {
            (copies ??= this.device.createCommandEncoder()).copyBufferToBuffer(staging.buffer, 0, b.buffer, 0, root.size * 4);
          } else {
            const data = root.dtype === 'bool' ? Uint32Array.from(root.host!) : root.host!;
            this.device.queue.writeBuffer(b.buffer, 0, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
          }
          this.stats.bytesUploaded += root.size * 4;
          (uploads ??= new Map()).set(root, b);
          buffer = b.buffer;
        }
        const slot = plan.inputSlots[i];
        buffers[slot] = buffer;
        // A view's kernel indexes its whole base.
        bytes[slot] = Math.max(4, root.size * 4);
      }
      timer = this.timing && plan.dispatches.length > 0 ? this.takeTimer(plan.dispatches.length) : null;
      const bound: Bound = { plan, state, compiled, buffers, bytes };
      const commands = this.commandsFor(bound, timer);
      this.device.queue.submit(copies ? [copies.finish(), commands] : [commands]);
      this.stats.submits++;
      state.runs++;
      // A replay of a trusted plan on pooled buffers (the fast path below) encodes the next one ahead.
      if (this.encodeAhead && !timer && created.length === 0 && this.trusted.has(plan)) this.scheduleAhead(bound);
    } catch (err) {
      failure = err;
    }
    const popped = [this.device.popErrorScope(), this.device.popErrorScope()];
    const dropAll = () => {
      for (const b of new Set(acquired)) {
        if (created.includes(b)) this.pool.discard(b);
        else this.pool.release(b);
      }
      if (timer) WebGpuBackend.destroyTimer(timer);
      // The bind groups this attempt made may be invalid: none is reused.
      this.invalidations++;
    };
    // Waiting for the scopes costs a round trip through the device's event loop on every evaluation. A plan
    // that already ran without error here, on buffers that all came from the pool, allocates nothing and
    // binds what passed validation before: its scopes are checked without waiting (see deferCheck).
    const deferred = !failure && created.length === 0 && this.trusted.has(plan);
    let errors: (GPUError | null)[] = [null, null];
    if (deferred) this.deferCheck(Promise.all(popped));
    else {
      try {
        errors = await this.settle(Promise.all(popped), 'submitting an evaluation');
      } catch (err) {
        dropAll();
        throw await this.explain(err, 'submitting an evaluation');
      }
    }
    if (failure) {
      dropAll();
      throw failure;
    }
    const [validation, oom] = errors;
    if (oom) {
      dropAll();
      const sizes = created.map((b) => b.bytes);
      return { outOfMemory: oom.message, bytes: sizes.reduce((a, b) => a + b, 0), buffers: sizes.length, largest: Math.max(0, ...sizes) };
    }
    if (validation) {
      dropAll();
      throw new WgfuseError(`webgpu: the device rejected the evaluation: ${validation.message}`);
    }
    if (this.lostReasonText) {
      dropAll();
      throw this.lostError('while an evaluation was submitted');
    }
    this.stats.evaluations++;
    this.stats.dispatches += plan.dispatches.length;
    this.trusted.add(plan);

    if (uploads) {
      for (const [root, b] of uploads) {
        // A concurrent evaluation may have uploaded the same data first: keep its copy.
        if (root.device?.device === this.device) this.pool.release(b);
        else {
          root.device?.free();
          root.device = this.memory(b);
        }
      }
    }
    for (let k = 0; k < physical.length; k++) state.last[k] = physical[k];
    return { results: this.adoptOutputs(graph, plan, state, args, physical), timer };
  }

  /**
   * The evaluation's command buffer: the one encoded ahead when it binds exactly these buffers with these
   * sizes and nothing was invalidated since, else a new encoding.
   */
  private commandsFor(bound: Bound, timer: Timer | null): GPUCommandBuffer {
    const { state, buffers, bytes } = bound;
    const ahead = state.ahead;
    state.ahead = null;
    if (ahead && !timer && this.encodeAhead) {
      if (ahead.epoch === this.bindEpoch() && sameArray(ahead.bound.buffers, buffers) && sameArray(ahead.bound.bytes, bytes)) {
        this.stats.commandsAheadUsed++;
        this.stats.bindGroupsReused += ahead.groupsReused;
        state.aheadMisses = 0;
        return ahead.commands;
      }
      // Unused: skip the next 1, 2, 4, ... evaluations, so that calls whose buffers change every time soon
      // stop paying for encodings, and calls that changed arguments once soon encode ahead again.
      state.aheadBackoff = Math.min(MAX_AHEAD_BACKOFF, 2 ** state.aheadMisses++);
    }
    return this.encode(bound, timer);
  }

  /**
   * Encodes the plan's next evaluation for the buffers this one bound, once the host is idle (while the GPU
   * runs this one), so that the next call only submits: a caller that evaluates the same computation again
   * on the same arguments, and disposes each result before the next call, gets its buffers back from the
   * pool and binds exactly these. Not when another evaluation of the plan came first, nor while backing off
   * after encodings went unused.
   */
  private scheduleAhead(bound: Bound): void {
    const state = bound.state;
    if (state.aheadBackoff > 0) {
      state.aheadBackoff--;
      return;
    }
    const run = state.runs;
    whenIdle(() => {
      if (state.runs !== run || state.ahead || this.lostReasonText) return;
      const stats = this.stats;
      const reusedBefore = stats.bindGroupsReused;
      // Encoding errors are not expected (these bindings passed validation in the evaluation just submitted);
      // one would make the submit that used these commands fail its own scope check.
      this.device.pushErrorScope('validation');
      let commands: GPUCommandBuffer | null = null;
      try {
        commands = this.encode(bound, null);
      } catch {
        // Left to the next evaluation, which encodes its own.
      }
      const scope = this.device.popErrorScope();
      scope.then(
        (e) => {
          if (e && state.ahead?.commands === commands) state.ahead = null;
        },
        () => undefined,
      );
      // Bind groups reused here are counted when the commands are submitted, as that evaluation's.
      const groupsReused = stats.bindGroupsReused - reusedBefore;
      stats.bindGroupsReused = reusedBefore;
      if (!commands) return;
      stats.commandsEncodedAhead++;
      state.ahead = { commands, bound, epoch: this.bindEpoch(), groupsReused };
    });
  }

  private encode({ plan, state, compiled, buffers, bytes }: Bound, timer: Timer | null): GPUCommandBuffer {
    const encoder = this.device.createCommandEncoder();
    let pass: GPUComputePassEncoder | null = null;
    const epoch = this.bindEpoch();
    const dispatches = plan.dispatches;
    for (let i = 0; i < dispatches.length; i++) {
      const d = dispatches[i];
      if (!pass || timer) {
        pass?.end();
        pass = encoder.beginComputePass(timer ? { timestampWrites: { querySet: timer.set, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } } : {});
      }
      pass.setPipeline(compiled[i].pipeline);
      pass.setBindGroup(0, this.bindGroup(state, i, compiled[i].layout, buffers, bytes, epoch));
      const [x, y, z] = d.workgroups;
      pass.dispatchWorkgroups(x, y, z);
    }
    (pass as GPUComputePassEncoder | null)?.end();
    if (timer) {
      encoder.resolveQuerySet(timer.set, 0, 2 * timer.count, timer.resolve, 0);
      encoder.copyBufferToBuffer(timer.resolve, 0, timer.staging, 0, 16 * timer.count);
    }
    return encoder.finish();
  }

  /**
   * Dispatch i's bind group: the one its last evaluation made when every binding has the same buffer (the
   * same object) and size again and no buffer was destroyed nor any evaluation failed since (bindEpoch);
   * otherwise a new one, which is kept for next time. The pool hands a plan the buffers it had last time
   * where they are free, so a plan evaluated again on the same arguments usually creates none.
   */
  private bindGroup(state: PlanState, i: number, layout: GPUBindGroupLayout, buffers: readonly (GPUBuffer | null)[], bytes: readonly number[], epoch: number): GPUBindGroup {
    const bindings = state.bindings[i];
    const cached = state.groups[i];
    if (cached && cached.epoch === epoch && cached.layout === layout) {
      let same = true;
      for (let j = 0; j < bindings.length; j++) {
        const slot = bindings[j];
        if (cached.buffers[j] !== buffers[slot] || cached.sizes[j] !== bytes[slot]) {
          same = false;
          break;
        }
      }
      if (same) {
        this.stats.bindGroupsReused++;
        return cached.group;
      }
    }
    const bound = bindings.map((slot) => buffers[slot]!);
    const sizes = bindings.map((slot) => bytes[slot]);
    const group = this.device.createBindGroup({
      layout,
      // Bound with the size the slot needs, not the pool's rounded-up size class, which may exceed
      // maxStorageBufferBindingSize where that limit is not a power of two.
      entries: bound.map((buffer, binding) => ({ binding, resource: { buffer, size: sizes[binding] } })),
    });
    this.stats.bindGroupsCreated++;
    state.groups[i] = { group, layout, buffers: bound, sizes, epoch };
    return group;
  }

  /** Temporaries go back to the pool; outputs become storages the caller owns. */
  private adoptOutputs(graph: Graph, plan: Plan, state: PlanState, args: readonly Storage[], physical: readonly PooledBuffer[]): Storage[] {
    // An output that is a plain tensor owns its slot's memory; any other output is a view that keeps its base alive.
    const bases: (Storage | undefined)[] = new Array(plan.slots.length);
    plan.inputSlots.forEach((slot, i) => (bases[slot] = args[i].root));
    const created: Storage[] = [];
    for (let k = 0; k < physical.length; k++) if (!state.keeps[k]) this.pool.release(physical[k]);
    const results = plan.outputs.map((out, i) => {
      const slot = plan.slots[out.slot];
      let base = bases[out.slot];
      if (!base) {
        const plain = out.offset === 0 && sizeOf(out.shape) === slot.size && isRowMajorStrides(out.shape, out.strides);
        const memory = this.memory(physical[state.physicalOf[out.slot]]);
        if (plain) {
          const own = Storage.fromDevice(graph.outputs[i].dtype, out.shape, memory);
          bases[out.slot] = own;
          return own;
        }
        base = Storage.fromDevice(slot.dtype, [slot.size], memory);
        bases[out.slot] = base;
        created.push(base);
      }
      return Storage.viewOf(base, out.shape, out.offset, out.strides);
    });
    // The views retain what they need; the flat bases made only for them are not handed out.
    created.forEach((b) => b.release());
    return results;
  }

  // ---- readback ----

  /** Elements [first, first + count) of `root`'s device buffer (count >= 1), read back. */
  private async download(root: Storage, first: number, count: number): Promise<TypedArray> {
    const bytes = count * 4;
    const what = `reading back a ${root.description} tensor`;
    for (let retried = false; ; retried = true) {
      const created: PooledBuffer[] = [];
      this.device.pushErrorScope('out-of-memory');
      this.device.pushErrorScope('validation');
      let staging: PooledBuffer | null = null;
      let mapped: Promise<void> | null = null;
      let failure: unknown = null;
      try {
        staging = this.pool.acquire(bytes, READBACK_USAGE, created);
        const encoder = this.device.createCommandEncoder();
        encoder.copyBufferToBuffer(root.device!.buffer, first * 4, staging.buffer, 0, bytes);
        this.device.queue.submit([encoder.finish()]);
        this.stats.submits++;
        // Asked for at once, so that the map and the error scopes settle together. (Waiting for the queue
        // before mapping was measured slower: docs/runtime.md, "Reading back".)
        mapped = staging.buffer.mapAsync(MapMode.READ, 0, bytes);
        mapped.catch(() => undefined);
      } catch (err) {
        failure = err;
      }
      const popped = [this.device.popErrorScope(), this.device.popErrorScope()];
      const drop = () => {
        if (staging) this.pool.discard(staging);
      };
      let errors: (GPUError | null)[];
      try {
        errors = await this.settle(Promise.all(popped), what);
      } catch (err) {
        drop();
        throw await this.explain(err, what);
      }
      if (failure) {
        drop();
        throw failure;
      }
      const [validation, oom] = errors;
      if (oom) {
        drop();
        if (!retried) {
          this.stats.outOfMemoryRetries++;
          this.releaseIdle();
          continue;
        }
        this.stats.outOfMemoryErrors++;
        throw new OutOfMemoryError(
          `webgpu: out of device memory ${what} (${formatBytes(bytes)} of staging memory); the buffer pool was emptied and the allocation ` +
            `retried once, and it failed again. ${this.holding()} Dispose tensors that are no longer needed. (${oom.message})`,
        );
      }
      if (validation) {
        drop();
        throw new WgfuseError(`webgpu: the device rejected ${what}: ${validation.message}`);
      }
      try {
        await this.settle(mapped!, what);
      } catch (err) {
        drop();
        throw await this.explain(err, what);
      }
      const out = convert(staging!.buffer.getMappedRange(0, bytes), root.dtype, count);
      staging!.buffer.unmap();
      this.pool.release(staging!);
      this.stats.bytesDownloaded += bytes;
      return out;
    }
  }

  /** An idle timer for `count` dispatches, or a new one. */
  private takeTimer(count: number): Timer {
    const idle = this.idleTimers.get(count)?.pop();
    if (idle) return idle;
    const bytes = 16 * count;
    return {
      set: this.device.createQuerySet({ type: 'timestamp', count: 2 * count }),
      resolve: this.device.createBuffer({ size: bytes, usage: BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC }),
      staging: this.device.createBuffer({ size: bytes, usage: READBACK_USAGE }),
      count,
    };
  }

  /**
   * Gives the driver back everything held for reuse: the pool's idle buffers and the idle timers' query sets
   * and buffers (out of memory, device lost).
   */
  private releaseIdle(): void {
    this.pool.trim(0);
    for (const timers of this.idleTimers.values()) timers.forEach(WebGpuBackend.destroyTimer);
    this.idleTimers.clear();
  }

  /** Destroys a timer whose submission failed or whose read did. */
  private static destroyTimer(timer: Timer): void {
    [timer.resolve, timer.staging, timer.set].forEach((x) => x.destroy());
  }

  private async readTimestamps(timer: Timer): Promise<number[]> {
    let times: number[];
    try {
      await this.settle(timer.staging.mapAsync(MapMode.READ), 'reading kernel timestamps').catch(async (err: unknown) => {
        throw await this.explain(err, 'reading kernel timestamps');
      });
      const t = new BigUint64Array(timer.staging.getMappedRange().slice(0));
      timer.staging.unmap();
      times = Array.from({ length: timer.count }, (_, i) => Number(t[2 * i + 1] - t[2 * i]));
    } catch (err) {
      WebGpuBackend.destroyTimer(timer);
      throw err;
    }
    // Read and unmapped: kept for the next timed evaluations of as many dispatches (a few per count).
    const idle = this.idleTimers.get(timer.count) ?? [];
    if (idle.length < MAX_IDLE_TIMERS) {
      idle.push(timer);
      this.idleTimers.set(timer.count, idle);
    } else WebGpuBackend.destroyTimer(timer);
    return times;
  }

  // ---- faults ----

  /**
   * `p`, or a DeviceLostError once the device is lost, or a GpuTimeoutError after `timeoutMs`: whichever
   * comes first. Used for every GPU promise the backend awaits, so none of them can hang an evaluation.
   */
  private settle<T>(p: Promise<T>, what: string): Promise<T> {
    if (this.lostReasonText) {
      p.catch(() => undefined);
      return Promise.reject(this.lostError(what));
    }
    return new Promise<T>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const finish = () => {
        this.waiters.delete(onLost);
        if (timer !== undefined) clearTimeout(timer);
      };
      const onLost = () => {
        finish();
        reject(this.lostError(what));
      };
      this.waiters.add(onLost);
      if (Number.isFinite(this.timeoutMs)) {
        timer = setTimeout(() => {
          finish();
          reject(
            new GpuTimeoutError(
              `webgpu: ${what} did not finish within ${this.timeoutMs} ms; the device may be hung or far too slow for this work ` +
                `(wg.init({ timeoutMs }) sets this limit; wg.init() acquires a new device)`,
            ),
          );
        }, this.timeoutMs);
      }
      p.then(
        (v) => {
          finish();
          resolve(v);
        },
        (e) => {
          finish();
          reject(e);
        },
      );
    });
  }

  private markLost(reason: string): void {
    if (this.lostReasonText) return;
    this.lostReasonText = reason;
    for (const fail of [...this.waiters]) fail();
    // Free lists are of no use on a lost device; in-use buffers are dropped as their storages are released.
    this.releaseIdle();
  }

  private lostError(what: string): DeviceLostError {
    const next = this.context.adapter ? 'the next evaluation acquires a new device' : 'pass a new device to wg.init({ device })';
    return new DeviceLostError(
      `webgpu: the device was lost (${this.lostReasonText}) ${what.startsWith('before') || what.startsWith('while') ? what : `while ${what}`}; ` +
        `values that lived only on it are gone, tensors built from host data are still valid, and ${next}`,
    );
  }

  private checkAlive(what: string): void {
    if (this.lostReasonText) throw this.lostError(what);
  }

  /**
   * Checks an evaluation's error scopes without waiting for them. An error (not expected: the plan ran
   * without one before and nothing was allocated) is kept and thrown by the next evaluation, and every
   * readback first waits for the checks still pending, so no result of a rejected evaluation is returned.
   */
  private deferCheck(scopes: Promise<(GPUError | null)[]>): void {
    const check = scopes.then(
      ([validation, oom]) => {
        const e = validation ?? oom;
        if (!e) return;
        this.deferredError ??= new WgfuseError(`webgpu: the device rejected an earlier evaluation, whose results are not valid: ${e.message}`);
        this.invalidations++; // no bind group of before is reused
      },
      () => undefined, // a lost device is reported by checkAlive
    );
    const all: Promise<void> = Promise.all([this.unchecked, check]).then(() => {
      if (this.unchecked === all) this.unchecked = null;
    });
    this.unchecked = all;
  }

  /** Waits for the deferred checks still pending (none: no wait at all). */
  private async waitForChecks(): Promise<void> {
    const pending = this.unchecked;
    if (!pending) return;
    try {
      await this.settle(pending, 'checking earlier evaluations');
    } catch (err) {
      // Reported once: a check that never settles must not hold every later readback.
      if (this.unchecked === pending) this.unchecked = null;
      throw err;
    }
  }

  /** Throws (once) the error a deferred scope check found. */
  private throwDeferred(): void {
    const e = this.deferredError;
    if (!e) return;
    this.deferredError = null;
    throw e;
  }

  /** Throws unless the storage's data is on this device or on the host. */
  private checkBindable(root: Storage, where: 'evaluate' | 'read'): void {
    if (root.released) throw new WgfuseError(`${where}: a ${root.description} tensor was disposed`);
    const mem = root.device;
    if ((mem && mem.device === this.device) || root.host) return;
    const subject = where === 'evaluate' ? `the program reads a ${root.description} tensor that` : `this ${root.description} tensor`;
    if (!mem) throw new WgfuseError(`${where}: ${subject} has no data`);
    const lost = mem.lost?.() ?? null;
    if (lost) {
      throw new DeviceLostError(
        `${where}: ${subject} lived only on a WebGPU device that was lost (${lost}); its value is gone: compute it again ` +
          `from host data (tensors built from arrays are still valid)`,
      );
    }
    throw new WgfuseError(`${where}: ${subject} lives on another WebGPU device and has no host copy`);
  }

  /** Turns a failed GPU promise into an error that says what happened. */
  private async explain(err: unknown, what: string): Promise<Error> {
    if (err instanceof WgfuseError) return err;
    // Dawn rejects pending maps as soon as the device is destroyed; its lost promise follows shortly after.
    if (!this.lostReasonText) await Promise.race([this.context.lost, new Promise((r) => setTimeout(r, 100))]);
    if (this.lostReasonText) return this.lostError(what);
    return new WgfuseError(`webgpu: ${what} failed: ${err instanceof Error ? err.message || err.name : String(err)}`);
  }

  /** What wgfuse holds on the device, for out-of-memory messages. */
  private holding(): string {
    const s = this.pool.stats;
    return `wgfuse holds ${formatBytes(s.bytesAllocated)} of device memory in ${s.buffersInUse} buffers in use (the pool keeps ${formatBytes(s.bytesPooled)}).`;
  }

  private memory(b: PooledBuffer): DeviceMemory {
    let freed = false;
    return {
      buffer: b.buffer,
      device: this.device,
      free: () => {
        if (freed) return;
        freed = true;
        if (!this.lostReasonText) this.pool.release(b);
      },
      lost: () => this.lostReasonText,
    };
  }
}

/**
 * The plan-cache key of a graph run on these arguments: the graph's structural code and
 * the arguments' layouts (numbers, compared in full by the cache; see structuralCode).
 */
export function planKey(graph: Graph, args: readonly Storage[]): number[] {
  const out: number[] = [];
  out.length = writePlanKey(graph, args, out);
  return out;
}

/** planKey, written into `out` from its start; returns its length (numbers past it are stale). */
function writePlanKey(graph: Graph, args: readonly Storage[], out: number[]): number {
  let n = structuralCode(graph, out, 0);
  // The graph fixes how many layouts follow: per argument 0 (plain), or 1, offset, rank and strides.
  for (const a of args) {
    const layout = a.layout;
    if (!layout) out[n++] = 0;
    else {
      out[n++] = 1;
      out[n++] = layout.offset;
      out[n++] = layout.strides.length;
      for (const s of layout.strides) out[n++] = s;
    }
  }
  return n;
}

const scratchKey: number[] = [];

type Layout = NonNullable<Storage['layout']>;

function sameArray<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameLayouts(layouts: readonly (Layout | null)[], args: readonly Storage[]): boolean {
  for (let i = 0; i < args.length; i++) {
    const a = layouts[i];
    const b = args[i].layout;
    if (a === null || b === null) {
      if (a !== b) return false;
      continue;
    }
    if (a.offset !== b.offset || a.strides.length !== b.strides.length) return false;
    for (let d = 0; d < a.strides.length; d++) if (a.strides[d] !== b.strides[d]) return false;
  }
  return true;
}

/** Per argument of the plan, the most bytes its buffer may take (see checkPlanLimits). */
function argumentLimits(plan: Plan, limits: BufferLimits): number[] {
  const bound = new Set<number>();
  for (const d of plan.dispatches) for (const b of d.bindings) bound.add(b.slot);
  const binding = Math.min(limits.maxBufferSize, limits.maxStorageBufferBindingSize);
  return plan.inputSlots.map((slot) => (bound.has(slot) ? binding : limits.maxBufferSize));
}

/**
 * Throws DeviceLimitError where a buffer of the plan would exceed the device's limits: an argument that
 * must be uploaded over `maxBufferSize`, or any value a kernel binds over `maxStorageBufferBindingSize`
 * (a buffer over `maxBufferSize` cannot be created at all). Nothing has been allocated or run yet.
 * `inputsOnly`: check only the arguments, for a plan whose other buffers passed before.
 */
export function checkPlanLimits(plan: Plan, args: readonly Storage[], limits: BufferLimits, inputsOnly = false): void {
  const inputOf = new Map(plan.inputSlots.map((slot, i) => [slot, i]));
  const bytesOf = (slot: number): number => {
    const i = inputOf.get(slot);
    return Math.max(4, (i === undefined ? plan.slots[slot].size : args[i].root.size) * 4);
  };
  const describeSlot = (slot: number): string => {
    const i = inputOf.get(slot);
    if (i !== undefined) return `the input ${args[i].root.description}`;
    const out = plan.outputs.findIndex((o) => o.slot === slot);
    const s = plan.slots[slot];
    if (out >= 0 && plan.outputs[out].offset === 0 && sizeOf(plan.outputs[out].shape) === s.size) return `the result ${s.dtype}[${plan.outputs[out].shape.join(',')}]`;
    return `an intermediate ${s.dtype} value of ${s.size} elements`;
  };
  const fail = (slot: number, limit: keyof BufferLimits, where: string): never => {
    const bytes = bytesOf(slot);
    const max = limits[limit];
    throw new DeviceLimitError(
      `webgpu: ${describeSlot(slot)} takes ${formatBytes(bytes)} (${bytes} bytes), more than this device's ${limit} of ` +
        `${formatBytes(max)} (${max} bytes); ${where}\nwgfuse does not split a tensor across buffers: compute it in smaller ` +
        `pieces (e.g. slices of a batch axis), or use a device requested with a larger requiredLimits.${limit} where the adapter allows one`,
      limit,
      max,
      bytes,
    );
  };
  plan.inputSlots.forEach((slot) => {
    if (bytesOf(slot) > limits.maxBufferSize) fail(slot, 'maxBufferSize', 'it cannot be uploaded to the device');
  });
  for (const d of plan.dispatches) {
    for (const b of d.bindings) {
      if (inputsOnly && !inputOf.has(b.slot)) continue;
      const bytes = bytesOf(b.slot);
      if (bytes <= limits.maxStorageBufferBindingSize && bytes <= limits.maxBufferSize) continue;
      const limit = bytes > limits.maxBufferSize ? 'maxBufferSize' : 'maxStorageBufferBindingSize';
      const ir = d.ir.split('\n').map((line) => `    ${line}`).join('\n');
      fail(b.slot, limit, `kernel ${d.kernel} ${b.access === 'read' ? 'reads' : 'writes'} it, computing:\n${ir}`);
    }
  }
  if (inputsOnly) return;
  for (const s of plan.slots) {
    if (s.role !== 'input' && bytesOf(s.index) > limits.maxBufferSize) fail(s.index, 'maxBufferSize', 'it cannot be allocated');
  }
}

/** The elements of a view's base it reads: from its lowest index to its highest (count 0 when it is empty). */
function viewSpan(shape: Shape, strides: readonly number[], offset: number): { first: number; count: number } {
  if (sizeOf(shape) === 0) return { first: offset, count: 0 };
  let low = offset;
  let high = offset;
  shape.forEach((d, i) => {
    const reach = strides[i] * (d - 1);
    if (reach < 0) low += reach;
    else high += reach;
  });
  return { first: low, count: high - low + 1 };
}

function convert(raw: ArrayBuffer, dtype: DType, size: number): TypedArray {
  if (dtype === 'float32') return new Float32Array(raw.slice(0, size * 4));
  if (dtype === 'int32') return new Int32Array(raw.slice(0, size * 4));
  return Uint8Array.from(new Uint32Array(raw, 0, size));
}
