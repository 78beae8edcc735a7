// Counters of what a backend did, for `wg.telemetry()`. Plain data, reset by `wg.resetTelemetry()`.
import type { PoolStats } from './webgpu/buffer-pool.js';

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
  /** Per-kernel GPU time, present when timing was enabled and the adapter has 'timestamp-query'. */
  kernelTimes: KernelTime[];
  pool: PoolStats;
}

export const NO_POOL: PoolStats = { hits: 0, misses: 0, bytesAllocated: 0, bytesPooled: 0, buffersInUse: 0, buffersPooled: 0, trimmed: 0 };

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
    kernelTimes: [],
    pool,
  };
}

export function recordKernelTime(t: Telemetry, kernel: string, ns: number): void {
  let entry = t.kernelTimes.find((k) => k.kernel === kernel);
  if (!entry) t.kernelTimes.push((entry = { kernel, count: 0, gpuNs: 0 }));
  entry.count++;
  entry.gpuNs += ns;
}
