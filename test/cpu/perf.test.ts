// Loose speed bounds: the reference must stay usable as an oracle on realistic sizes (milliseconds, not seconds).
import { describe, expect, it } from 'vitest';
import { f32, input, op, rng, run } from './helpers.js';

function timeMs(f: () => void): number {
  f(); // warm up the JIT once
  const t0 = performance.now();
  f();
  return performance.now() - t0;
}

describe('cpu executor speed', () => {
  const next = rng(7);

  it('multiplies 256x256 matrices quickly', () => {
    const a = input('float32', [256, 256]);
    const b = input('float32', [256, 256]);
    const y = op('matmul', [a, b]);
    const data = f32(Array.from({ length: 256 * 256 }, next));
    const ms = timeMs(() => run([y], [data, data]));
    expect(ms).toBeLessThan(1000);
  });

  it('runs a 1M-element elementwise op quickly', () => {
    const a = input('float32', [1024, 1024]);
    const b = input('float32', [1024]);
    const y = op('exp', [op('add', [a, b])]);
    const data = f32(Array.from({ length: 1 << 20 }, next));
    const row = f32(Array.from({ length: 1024 }, next));
    const ms = timeMs(() => run([y], [data, row]));
    expect(ms).toBeLessThan(1000);
  });

  it('reduces 1M elements quickly', () => {
    const a = input('float32', [1024, 1024]);
    const y = op('sum', [a], { axes: [0] });
    const data = f32(Array.from({ length: 1 << 20 }, next));
    const ms = timeMs(() => run([y], [data]));
    expect(ms).toBeLessThan(1000);
  });
});
