// A pool of GPU buffers by size class. Freed buffers wait in their class's free list and serve later
// requests of that class (a hit); a miss creates a buffer. Classes are powers of two with four steps each
// (at most 25% slack). Pooled bytes are capped: beyond the cap the longest-idle buffers are destroyed.
import { WgfuseError } from '../../ir/errors.js';

export interface PoolStats {
  hits: number;
  misses: number;
  /** Bytes of every buffer the pool created and has not destroyed (in use and pooled). */
  bytesAllocated: number;
  /** Bytes waiting in free lists. */
  bytesPooled: number;
  buffersInUse: number;
  buffersPooled: number;
  trimmed: number;
  /** The most bytes allocated at once since the backend was created or its telemetry was reset. */
  peakBytesAllocated: number;
  /** The most buffers in use at once since the backend was created or its telemetry was reset. */
  peakBuffersInUse: number;
  /** Buffers given up without returning to the pool (out-of-memory, device loss): destroyed, not reused. */
  discarded: number;
}

export interface PooledBuffer {
  readonly buffer: GPUBuffer;
  /** The class size, which is the buffer's size. */
  readonly bytes: number;
  readonly usage: number;
}

const MIN_CLASS = 256;

/**
 * Default cap on pooled bytes: large enough that the temporaries of a program over a few hundred MiB are
 * reused between evaluations instead of being created and destroyed each time (measured on an H100: a 256 MiB
 * cap made wall time of 64M-element programs several times their GPU time), small enough to bound what an
 * idle library holds. `wg.init({ poolBytes })` changes it. The largest idle buffer does not count against
 * it (see release).
 */
export const DEFAULT_POOL_BYTES = 1024 * 1024 * 1024;

/** The smallest class >= bytes: 2^k * {1, 1.25, 1.5, 1.75}, multiples of 256 bytes. */
export function sizeClass(bytes: number): number {
  if (bytes <= MIN_CLASS) return MIN_CLASS;
  const pow = 2 ** Math.floor(Math.log2(bytes));
  for (const step of [1, 1.25, 1.5, 1.75, 2]) {
    const c = Math.ceil((pow * step) / 256) * 256;
    if (c >= bytes) return c;
  }
  return pow * 2;
}

export class BufferPool {
  private readonly free = new Map<string, PooledBuffer[]>();
  /** Free buffers in release order, oldest first, for trimming (a Set: taking one out is O(1) however many wait). */
  private readonly idle = new Set<PooledBuffer>();
  readonly stats: PoolStats = emptyPoolStats();
  /**
   * How many buffers the pool has destroyed (discarded or trimmed). Whoever caches objects that refer to
   * buffers (the backend's bind groups) keeps the count it saw and drops them once it changes.
   */
  destroyedCount = 0;

  constructor(
    private readonly device: GPUDevice,
    /** Most bytes kept in free lists. */
    public maxPooledBytes = DEFAULT_POOL_BYTES,
  ) {}

  /**
   * A buffer of at least `bytes`. A buffer the pool had to create is also pushed to `created`, so a caller
   * whose allocation failed (out-of-memory is only reported later, through an error scope) can tell the
   * buffers that may be invalid from the reused ones and discard them. `prefer`: a buffer to hand out if it
   * is free and of the class and usage asked for (the one this caller had last time: handing out the same
   * buffers again lets the backend reuse its bind groups); otherwise the most recently freed of the class.
   */
  acquire(bytes: number, usage: number, created?: PooledBuffer[], prefer?: PooledBuffer | null): PooledBuffer {
    const maxSize = this.device.limits.maxBufferSize;
    if (bytes > maxSize) {
      throw new WgfuseError(`a buffer of ${bytes} bytes exceeds this device's maxBufferSize (${maxSize} bytes)`);
    }
    // A class larger than the device allows falls back to the exact (4-byte aligned) size.
    let size = sizeClass(bytes);
    if (size > maxSize) size = Math.ceil(bytes / 4) * 4;
    const list = this.free.get(key(size, usage));
    let hit: PooledBuffer | undefined;
    if (prefer && prefer.bytes === size && prefer.usage === usage && list && this.idle.has(prefer)) {
      const at = list.lastIndexOf(prefer);
      hit = list[at];
      list.splice(at, 1);
    } else hit = list?.pop();
    this.stats.buffersInUse++;
    this.stats.peakBuffersInUse = Math.max(this.stats.peakBuffersInUse, this.stats.buffersInUse);
    if (hit) {
      this.idle.delete(hit);
      this.stats.hits++;
      this.stats.bytesPooled -= hit.bytes;
      this.stats.buffersPooled--;
      return hit;
    }
    this.stats.misses++;
    const buffer = this.device.createBuffer({ size, usage });
    this.stats.bytesAllocated += size;
    this.stats.peakBytesAllocated = Math.max(this.stats.peakBytesAllocated, this.stats.bytesAllocated);
    const b = { buffer, bytes: size, usage };
    created?.push(b);
    return b;
  }

  /** Destroys a buffer in use instead of pooling it (it may be invalid, or its device lost). */
  discard(b: PooledBuffer): void {
    this.stats.buffersInUse--;
    this.stats.bytesAllocated -= b.bytes;
    this.stats.discarded++;
    this.destroyedCount++;
    b.buffer.destroy();
  }

  /** Starts the peak counters again from the current figures. */
  resetPeaks(): void {
    this.stats.peakBytesAllocated = this.stats.bytesAllocated;
    this.stats.peakBuffersInUse = this.stats.buffersInUse;
  }

  release(b: PooledBuffer): void {
    this.stats.buffersInUse--;
    const k = key(b.bytes, b.usage);
    let list = this.free.get(k);
    if (!list) this.free.set(k, (list = []));
    list.push(b);
    this.idle.add(b);
    this.stats.bytesPooled += b.bytes;
    this.stats.buffersPooled++;
    if (this.stats.bytesPooled > this.maxPooledBytes) this.trimToCap();
  }

  /**
   * Destroys the longest-idle free buffers until the others than the largest hold at most maxPooledBytes.
   * The largest stays, so that a program whose output alone is as large as the cap (32 images of 2160 x 3840:
   * 1 GiB) reuses it instead of creating and destroying it each evaluation (on the H100 that cost 0.11-0.19 ms
   * a run: 1.377 ms against 1.190-1.270); what an idle pool holds is then at most the cap plus one buffer.
   */
  private trimToCap(): void {
    let largest: PooledBuffer | null = null;
    for (const b of this.idle) if (!largest || b.bytes >= largest.bytes) largest = b;
    for (const b of [...this.idle]) {
      if (this.stats.bytesPooled - largest!.bytes <= this.maxPooledBytes) break;
      if (b !== largest) this.destroyIdle(b);
    }
  }

  /** Destroys the longest-idle free buffers until at most `targetBytes` stay pooled. */
  trim(targetBytes = 0): void {
    if (targetBytes <= 0) {
      // Everything goes (out-of-memory, device loss): no need to find each buffer in its class's list.
      for (const b of this.idle) b.buffer.destroy();
      this.stats.trimmed += this.idle.size;
      this.destroyedCount += this.idle.size;
      this.stats.bytesAllocated -= this.stats.bytesPooled;
      this.stats.bytesPooled = 0;
      this.stats.buffersPooled = 0;
      this.idle.clear();
      this.free.clear();
      return;
    }
    while (this.stats.bytesPooled > targetBytes && this.idle.size > 0) this.destroyIdle(this.idle.values().next().value!);
  }

  private destroyIdle(b: PooledBuffer): void {
    this.idle.delete(b);
    const list = this.free.get(key(b.bytes, b.usage))!;
    list.splice(list.indexOf(b), 1);
    b.buffer.destroy();
    this.destroyedCount++;
    this.stats.bytesPooled -= b.bytes;
    this.stats.bytesAllocated -= b.bytes;
    this.stats.buffersPooled--;
    this.stats.trimmed++;
  }
}

export function emptyPoolStats(): PoolStats {
  return { hits: 0, misses: 0, bytesAllocated: 0, bytesPooled: 0, buffersInUse: 0, buffersPooled: 0, trimmed: 0, peakBytesAllocated: 0, peakBuffersInUse: 0, discarded: 0 };
}

function key(bytes: number, usage: number): string {
  return `${bytes}:${usage}`;
}
