// The CPU backend: the reference executor behind the Backend interface. It is the fallback where no WebGPU
// adapter exists and the oracle of every test. Programs are verified once per structure (plan cache).
import type { TypedArray } from '../ir/dtype.js';
import type { Graph } from '../ir/graph.js';
import { structuralHash } from '../ir/hash.js';
import { verifyGraph } from '../ir/verify.js';
import type { Backend, BackendInfo } from './backend.js';
import { executeGraph } from './cpu/executor.js';
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
    return hostOf(storage).slice();
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

function hostOf(s: Storage): TypedArray {
  if (s.host === null) throw new Error('internal: the CPU backend got a storage without host data');
  return s.host;
}
