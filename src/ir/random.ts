// Counter-based random numbers: element i of `rand(shape, seed)` is a pure function of (seed, i), so every
// backend (the CPU reference here, WGSL on the GPU) produces the same stream without sharing state.
// Uniform values are exact (24 random bits); normal values use Box-Muller and agree to float rounding.

/** A 32-bit integer mixer (the "lowbias32" finaliser): good avalanche for two multiplies. */
export function hash32(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/** The 32 random bits of counter `i` in the stream `seed`; two rounds so streams of nearby seeds differ. */
export function randomBits(seed: number, i: number): number {
  const key = hash32(seed >>> 0);
  return hash32((hash32((i ^ key) >>> 0) + key) >>> 0);
}

const TWO_POW_M24 = 1 / 16777216;

/** Uniform in [0, 1): the top 24 bits, so the value is exact in float32. */
export function uniformAt(seed: number, i: number): number {
  return (randomBits(seed, i) >>> 8) * TWO_POW_M24;
}

/** Standard normal by Box-Muller over counters 2i and 2i+1 (u1 in (0,1] keeps the log finite). */
export function normalAt(seed: number, i: number): number {
  const u1 = ((randomBits(seed, (2 * i) >>> 0) >>> 8) + 1) * TWO_POW_M24;
  const u2 = (randomBits(seed, (2 * i + 1) >>> 0) >>> 8) * TWO_POW_M24;
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}
