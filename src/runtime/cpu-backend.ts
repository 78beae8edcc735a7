// The CPU backend: the reference executor behind the Backend interface. It is the fallback where no WebGPU
// adapter exists and the oracle of every test. Programs are verified once per structure (plan cache).
import type { TypedArray } from '../ir/dtype.js';
import type { Graph } from '../ir/graph.js';
import { structuralHash } from '../ir/hash.js';
import { verifyGraph } from '../ir/verify.js';
import type { Backend, BackendInfo } from './backend.js';
import { executeGraph } from './cpu/executor.js';
import { WgfuseError } from '../ir/errors.js';
import { DeviceLostError } from './errors.js';
import { gather } from './cpu/strided.js';
import { Storage } from './storage.js';
import { emptyTelemetry, type Telemetry } from './telemetry.js';

export class CpuBackend implements Backend {
  readonly info: BackendInfo = { name: 'cpu' };
  private readonly verified = new Set<string>();
  private stats: Telemetry = emptyTelemetry();

  async run(graph: Graph, args: readonly Storage[]): Promise<Storage[]> {
    const key = structuralHash(graph);
    if (this.verified.has(key)) {
      this.stats.planCacheHits++;
    } else {
      verifyGraph(graph);
      this.verified.add(key);
      this.stats.planCacheMisses++;
    }
    this.stats.evaluations++;
    const outs = executeGraph(
      graph,
      args.map((a) => hostOf(a)),
    );
    return outs.map((data, i) => Storage.fromHost(graph.outputs[i].dtype, graph.outputs[i].shape, data));
  }

  async read(storage: Storage): Promise<TypedArray> {
    const data = hostOf(storage);
    return data === storage.host ? data.slice() : data;
  }

  telemetry(): Telemetry {
    return structuredClone(this.stats);
  }

  resetTelemetry(): void {
    this.stats = emptyTelemetry();
  }

  destroy(): void {
    this.verified.clear();
  }
}

/** The storage's elements in row-major order: its host copy, or a view gathered from its base's. */
function hostOf(s: Storage): TypedArray {
  if (s.host !== null) return s.host;
  const root = s.root;
  if (s.view && root.host) return gather(root.host, s.shape, s.view.strides, s.view.offset);
  // The API layer says this at the user's call first (residencyProblem); this is the backstop.
  if (s.released) throw new WgfuseError(`cpu: a ${s.dtype}[${s.shape.join(',')}] value was disposed`);
  throw new DeviceLostError(`cpu: a ${s.dtype}[${s.shape.join(',')}] value has no host copy: it lived only on a WebGPU device that is gone`);
}
