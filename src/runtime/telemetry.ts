// Counters of what a backend did, for `wg.telemetry()`. Plain data, reset by `wg.resetTelemetry()`.
import { emptyPoolStats, type PoolStats } from './webgpu/buffer-pool.js';

export interface KernelTime {
  readonly kernel: string;
  count: number;
  /** GPU time from timestamp queries, in nanoseconds (summed over `count` dispatches). */
  gpuNs: number;
}

export interface Telemetry {
  evaluations: number;
  dispatches: number;
  submits: number;
  bytesUploaded: number;
  bytesDownloaded: number;
  planCacheHits: number;
  planCacheMisses: number;
  pipelinesCompiled: number;
  pipelinesReused: number;
  compileMs: number;
  /** Bind groups created, and reused from an earlier evaluation of the same plan on the same buffers. */
  bindGroupsCreated: number;
  bindGroupsReused: number;
  /**
   * Command buffers encoded ahead for a plan's next evaluation while the GPU ran the current one, and those an
   * evaluation then submitted (it bound exactly what they were encoded for; docs/runtime.md, "Host overhead").
   */
  commandsEncodedAhead: number;
  commandsAheadUsed: number;
  /** Per-kernel GPU time, present when timing was enabled and the adapter has 'timestamp-query'. */
  kernelTimes: KernelTime[];
  /** Allocations that hit out-of-memory, after which the pool was emptied and the allocation retried. */
  outOfMemoryRetries: number;
  /** Allocations that failed again after the retry: each one an error to the caller. */
  outOfMemoryErrors: number;
  /** WebGPU devices lost (destroyed, driver reset) and replaced since the last reset. */
  deviceLosses: number;
  /** Plans and pipelines held by the backend's caches now (both are bounded, least recently used out first). */
  plansCached: number;
  pipelinesCached: number;
  pool: PoolStats;
}

export const NO_POOL: PoolStats = emptyPoolStats();

export function emptyTelemetry(pool: PoolStats = NO_POOL): Telemetry {
  return {
    evaluations: 0,
    dispatches: 0,
    submits: 0,
    bytesUploaded: 0,
    bytesDownloaded: 0,
    planCacheHits: 0,
    planCacheMisses: 0,
    pipelinesCompiled: 0,
    pipelinesReused: 0,
    compileMs: 0,
    bindGroupsCreated: 0,
    bindGroupsReused: 0,
    commandsEncodedAhead: 0,
    commandsAheadUsed: 0,
    kernelTimes: [],
    outOfMemoryRetries: 0,
    outOfMemoryErrors: 0,
    deviceLosses: 0,
    plansCached: 0,
    pipelinesCached: 0,
    pool,
  };
}

export function recordKernelTime(t: Telemetry, kernel: string, ns: number): void {
  let entry = t.kernelTimes.find((k) => k.kernel === kernel);
  if (!entry) t.kernelTimes.push((entry = { kernel, count: 0, gpuNs: 0 }));
  entry.count++;
  entry.gpuNs += ns;
}
