// The harness's control of the JS engine's collector (src/cli/bench-gc.ts): a collection on demand, and the
// pauses that overlapped a window of time, major ones told apart.
import { describe, expect, it } from 'vitest';
import { GcControl } from '../../src/cli/bench-gc.js';

describe('bench GcControl', () => {
  it('collects on demand and reports the pauses inside a window, and none outside it', async () => {
    const gc = GcControl.create();
    try {
      expect(gc.available).toBe(true);
      const before = performance.now();
      await new Promise((r) => setTimeout(r, 5));
      const from = performance.now();
      gc.collectNow();
      const to = performance.now();
      const inside = await gc.pausesIn(from, to);
      expect(inside.major).toBeGreaterThanOrEqual(1);
      expect(inside.count).toBeGreaterThanOrEqual(inside.major);
      expect(inside.ms).toBeGreaterThan(0);
      expect(inside.ms).toBeLessThanOrEqual(to - from + 1e-3);
      // The window before the observer existed (and before the collection) holds none of it.
      expect(await gc.pausesIn(before - 1000, before - 500)).toEqual({ count: 0, major: 0, ms: 0 });
    } finally {
      gc.stop();
    }
  });
});
