// What the API layer needs from a backend: run a data-free graph on storages, and read a storage back.
// Backends own their plan caches, keyed by the graph's structure (src/ir/hash.ts).
import type { TypedArray } from '../ir/dtype.js';
import type { Graph } from '../ir/graph.js';
import type { Storage } from './storage.js';
import type { Telemetry } from './telemetry.js';

export type BackendName = 'webgpu' | 'cpu';

export interface BackendInfo {
  readonly name: BackendName;
  /** The adapter in words, for WebGPU backends. */
  readonly adapter?: string;
}

export interface Backend {
  readonly info: BackendInfo;
  /** Runs `graph` with `args` bound to `graph.inputs` in order; returns one new storage per output. */
  run(graph: Graph, args: readonly Storage[]): Promise<Storage[]>;
  /** A host copy of the storage's contents (the caller may keep or mutate it). */
  read(storage: Storage): Promise<TypedArray>;
  /** A snapshot of the counters since the last reset. */
  telemetry(): Telemetry;
  resetTelemetry(): void;
  /** Frees what the backend holds (device, caches); the backend is unusable afterwards. */
  destroy(): void;
  /** Why the backend can no longer run (its WebGPU device was lost), or null while it can. */
  lostReason?(): string | null;
}
