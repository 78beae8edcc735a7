// Encoding ahead (WebGpuBackend.encodeAhead, docs/runtime.md "Host overhead"): after a replay of a trusted plan
// the backend encodes the next evaluation's commands once the host is idle, for the buffers this one bound.
// The next evaluation submits them only when it binds exactly those buffers with the same sizes and nothing
// was invalidated since; otherwise it encodes anew. These tests check that the commands are used in the
// pattern they are for (same arguments, each result disposed before the next call), never where they would
// write over a result still held or read another argument, and that results are right either way.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.js';
import type { WebGpuBackend } from '../../src/runtime/webgpu/backend.js';
import { initWebGpu } from './gpu.js';

/** Lets the host go idle: a callback queued by setImmediate before this one (the encoding ahead) runs first. */
const idle = () => new Promise<void>((resolve) => setImmediate(resolve));

// Two dispatches: the product (with its epilogue) and the row sum. Each test adds its own constant c, so that
// each has its own plan (the plan cache is shared) and starts with no encoding ahead nor back-off.
const program = (c: number) => (x: wg.Tensor, w: wg.Tensor) => x.matmul(w).add(c).sum(-1);
const W = [1, 0, 2, 0, 1, 3];
const expected = (c: number, x: readonly number[]) =>
  [0, 1].map((r) => [0, 1, 2].reduce((acc, c2) => acc + Math.fround(Math.fround(x[2 * r] * W[c2] + x[2 * r + 1] * W[3 + c2]) + c), 0));
const XS = [
  [1, 2, 3, 4],
  [5, 6, 7, 8],
  [-1, 0, 2, 9],
];

describe('encoding the next evaluation ahead', () => {
  let backend: WebGpuBackend;
  let w: wg.Tensor;
  const stats = () => {
    const t = wg.telemetry();
    return { ahead: t.commandsEncodedAhead, used: t.commandsAheadUsed, created: t.bindGroupsCreated, reused: t.bindGroupsReused };
  };

  beforeAll(async () => {
    backend = await initWebGpu();
    w = wg.tensor(W, [2, 3]);
  });
  afterAll(() => {
    backend.encodeAhead = true;
    backend.timing = false;
  });

  /**
   * program(c) jitted, traced and run twice on x (the second run is the first of a trusted plan: it encodes
   * the next one ahead, during the read-back), results disposed.
   */
  const warmJit = async (c: number, x: wg.Tensor, xs: readonly number[]) => {
    const f = wg.jit(program(c));
    for (let i = 0; i < 2; i++) {
      const r = await f(x, w);
      expect(Array.from(await r.data())).toEqual(expected(c, xs));
      r.dispose();
    }
    return f;
  };

  it('a replay on the same arguments, the last result disposed, submits the commands encoded during the one before', async () => {
    const x = wg.tensor(XS[0], [2, 2]);
    const f = await warmJit(1, x, XS[0]);
    await idle();
    wg.resetTelemetry();
    for (let i = 0; i < 5; i++) {
      const r = await f(x, w);
      await idle(); // the next call's commands are encoded here
      expect(Array.from(await r.data())).toEqual(expected(1, XS[0]));
      r.dispose();
    }
    // Every call used the commands encoded after the one before (the warm-up's last call encoded the first).
    expect(stats()).toEqual({ ahead: 5, used: 5, created: 0, reused: 5 * 2 });
  });

  it('the lazy path gets the same: an expression rebuilt on the same tensors and evaluated again', async () => {
    const x = wg.tensor(XS[1], [2, 2]);
    for (let i = 0; i < 2; i++) {
      const r = program(2)(x, w);
      expect(Array.from(await r.data())).toEqual(expected(2, XS[1]));
      r.dispose();
    }
    await idle();
    wg.resetTelemetry();
    for (let i = 0; i < 3; i++) {
      const r = program(2)(x, w);
      await wg.evaluate(r);
      await idle();
      expect(Array.from(await r.data())).toEqual(expected(2, XS[1]));
      r.dispose();
    }
    expect(stats().used).toBe(3);
  });

  it('are not used while the result they would overwrite is held, nor for another argument; results stay right', async () => {
    const [a, b] = [wg.tensor(XS[0], [2, 2]), wg.tensor(XS[2], [2, 2])];
    const f = await warmJit(3, a, XS[0]);
    await idle();
    wg.resetTelemetry();
    // The encoding ahead binds this result's buffer: while the result is held, the next call writes another.
    const ra = await f(a, w);
    await idle();
    expect(stats()).toMatchObject({ ahead: 1, used: 1 });
    const ra2 = await f(a, w);
    await idle();
    expect(stats().used).toBe(1);
    // Another argument, the results still held.
    const rb = await f(b, w);
    await idle();
    expect(stats().used).toBe(1);
    expect(Array.from(await ra.data())).toEqual(expected(3, XS[0]));
    expect(Array.from(await ra2.data())).toEqual(expected(3, XS[0]));
    expect(Array.from(await rb.data())).toEqual(expected(3, XS[2]));
    [ra, ra2, rb].forEach((r) => r.dispose());
  });

  it('alternating arguments: encodings go unused, then the plan backs off; every result is right', async () => {
    const [a, b] = [wg.tensor(XS[0], [2, 2]), wg.tensor(XS[2], [2, 2])];
    const f = await warmJit(4, a, XS[0]);
    await idle();
    wg.resetTelemetry();
    for (let i = 0; i < 12; i++) {
      const [x, want] = i % 2 === 0 ? [b, expected(4, XS[2])] : [a, expected(4, XS[0])];
      const r = await f(x, w);
      await idle();
      expect(Array.from(await r.data())).toEqual(want);
      r.dispose();
    }
    // None fits; after each unused one the plan skips 1, 2, 4, ... evaluations: encodings at calls 1, 4 and 9.
    expect(stats()).toMatchObject({ ahead: 3, used: 0 });
  });

  it('are not used after the pool destroyed a buffer', async () => {
    const x = wg.tensor(XS[1], [2, 2]);
    const f = await warmJit(5, x, XS[1]);
    const r = await f(x, w);
    await idle();
    expect(Array.from(await r.data())).toEqual(expected(5, XS[1]));
    r.dispose();
    backend.pool.trim(0); // the result's buffer is destroyed; the encoding ahead bound it
    wg.resetTelemetry();
    const again = await f(x, w);
    expect(Array.from(await again.data())).toEqual(expected(5, XS[1]));
    expect(stats().used).toBe(0);
    again.dispose();
  });

  it('a call that comes before the host was idle finds none, and none stale is used later', async () => {
    const x = wg.tensor(XS[2], [2, 2]);
    const f = await warmJit(6, x, XS[2]);
    await idle();
    wg.resetTelemetry();
    const r1 = await f(x, w); // uses the warm-up's encoding; schedules one for the next call
    r1.dispose();
    const r2 = await f(x, w); // the host was not idle in between: encoded by nobody yet
    await idle(); // the callback scheduled by r1's call sees that r2 ran, and encodes nothing for it
    expect(Array.from(await r2.data())).toEqual(expected(6, XS[2]));
    r2.dispose();
    const s = stats();
    expect(s.used).toBe(1);
    expect(s.ahead).toBe(1); // r2's own
  });

  it('an evaluation with timestamps encodes its own commands; encodeAhead false encodes nothing ahead', async () => {
    const x = wg.tensor(XS[0], [2, 2]);
    const f = await warmJit(7, x, XS[0]);
    await idle();
    wg.resetTelemetry();
    expect(backend.context.features).toContain('timestamp-query'); // SwiftShader has it: the timed path is taken
    backend.timing = true;
    try {
      const r = await f(x, w);
      expect(Array.from(await r.data())).toEqual(expected(7, XS[0]));
      r.dispose();
    } finally {
      backend.timing = false;
    }
    expect(stats()).toMatchObject({ ahead: 0, used: 0 });
    backend.encodeAhead = false;
    try {
      for (let i = 0; i < 3; i++) {
        const r = await f(x, w);
        await idle();
        expect(Array.from(await r.data())).toEqual(expected(7, XS[0]));
        r.dispose();
      }
      expect(stats()).toMatchObject({ ahead: 0, used: 0 });
    } finally {
      backend.encodeAhead = true;
    }
  });

  it('wg.init checks the option', async () => {
    await expect(wg.init({ backend: 'webgpu', encodeAhead: 1 } as never)).rejects.toThrow(/^init: encodeAhead must be true or false, got/);
  });
});
