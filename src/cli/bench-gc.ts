// The JS engine's garbage collector in the benchmark harness: a major collection right before each block of
// timed runs, and a log of every collection, so that a report can say how much of its timed runs' window a
// pause took. Why: the `webgpu` package's wrappers of command encoders, passes and command buffers survive
// V8's young-generation collections, so a loop of evaluations fills the old generation and V8 stops the
// process for a mark-compact every 0.1-1 s, 10-40 ms each on the H100's host (node --trace-gc, 2026-11-25);
// in run 22 such pauses fell inside the timed runs of four rows (47-67 ms) and the GPU idled and lowered its
// clock through them. Collecting first makes a pause inside a row's timed runs unlikely; the log shows any
// that still falls there. Every JS engine of the harness (wgfuse, TensorFlow.js, jax-js) goes through it.
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface GcPauses {
  /** Collections that overlapped the window. */
  count: number;
  /** How many of them were major (mark-compact) ones. */
  major: number;
  /** Milliseconds of the window they took. */
  ms: number;
}

export class GcControl {
  private readonly pauses: { start: number; end: number; major: boolean }[] = [];
  private readonly observer: PerformanceObserver;

  private constructor(private readonly collect: (() => void) | null) {
    this.observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        const kind = (e as { detail?: { kind?: number } | null }).detail?.kind;
        this.pauses.push({ start: e.startTime, end: e.startTime + e.duration, major: kind === constants.NODE_PERFORMANCE_GC_MAJOR });
      }
      // Only the recent past is ever asked about.
      if (this.pauses.length > 4096) this.pauses.splice(0, this.pauses.length - 1024);
    });
    this.observer.observe({ entryTypes: ['gc'] });
  }

  /**
   * The harness's collector control. `global.gc` where node ran with --expose-gc; otherwise V8's flag set at
   * run time and the function taken from a fresh context (the flag applies to contexts created after it).
   */
  static create(): GcControl {
    let collect = (globalThis as { gc?: () => void }).gc ?? null;
    if (!collect) {
      try {
        setFlagsFromString('--expose-gc');
        collect = runInNewContext('gc') as () => void;
      } catch {
        collect = null;
      }
    }
    return new GcControl(typeof collect === 'function' ? collect : null);
  }

  /** Whether the harness can start a measurement on a collected heap. */
  get available(): boolean {
    return this.collect !== null;
  }

  /** A full collection now (nothing where unavailable). */
  collectNow(): void {
    this.collect?.();
  }

  /**
   * Collections that overlapped [from, to] (performance.now() times), once the observer has been told of
   * those that ended by now (Node tells it a turn or two of the event loop later: a timer is past both).
   */
  async pausesIn(from: number, to: number): Promise<GcPauses> {
    await new Promise((r) => setTimeout(r, 1));
    const out: GcPauses = { count: 0, major: 0, ms: 0 };
    for (const p of this.pauses) {
      const overlap = Math.min(p.end, to) - Math.max(p.start, from);
      if (overlap > 0) {
        out.count++;
        if (p.major) out.major++;
        out.ms += overlap;
      }
    }
    return out;
  }

  stop(): void {
    this.observer.disconnect();
  }
}
