// The tiled matmul's vec4 tile loads (src/shaders/matmul.ts, vec4LoadAxis and vec4Bindings): an operand is
// bound as array<vec4<T>> and loaded four elements at a time exactly when its stride-1 axis has an extent
// that is a multiple of 4, its other stride, offset and (varying) batch strides are multiples of 4, and
// every other use of its buffer in the kernel is a vec4 load too (a @ a: both operands; an epilogue load
// or a scalar operand load of the same buffer keeps it scalar). Each case states which
// operands must be vectorized, checks that against the WGSL, and checks the result against the CPU
// reference executor with the tolerance derived in test/webgpu/matmul.test.ts (int32: exact). Float cases
// also run a scalar-load kernel of the same product (forced by an epilogue that loads both operand buffers
// but stores plain acc) and require bit-identical outputs: only the loads change, not the summation order.
import { afterAll, describe, expect, it } from 'vitest';
import { makeGraph } from '../../src/ir/graph.js';
import { makeNode } from '../../src/ir/node.js';
import { matrixDims } from '../../src/ir/ops.js';
import { sizeOf, stridesOf, type Shape } from '../../src/ir/shape.js';
import { executeGraph } from '../../src/runtime/cpu/executor.js';
import type { KernelBuffer } from '../../src/shaders/elementwise.js';
import type { ExprStep } from '../../src/shaders/expr.js';
import { generateMatmul, type MatmulSpec } from '../../src/shaders/matmul.js';
import { testGpu } from './gpu.js';
import { rng } from './differential.js';
import { nanOutsideSlice, operand, runKernel, type DeviceArray } from './kernel-harness.js';

const ctx = await testGpu();
afterAll(() => ctx?.device.destroy());
const gpuIt = it.skipIf(!ctx);

const U = 2 ** -24;
type MDType = 'float32' | 'int32';

interface Case {
  readonly title: string;
  readonly dtype?: MDType;
  /** Stored shapes of the operands, before transA/transB. */
  readonly a: Shape;
  readonly b: Shape;
  readonly transA?: boolean;
  readonly transB?: boolean;
  /** A is slice(begin, a) of a stored tensor of shape `from` (NaN outside the slice for float32). */
  readonly aSlice?: { readonly from: Shape; readonly begin: readonly number[] };
  /** a @ a: both operands are the one buffer in0 (b is ignored; A must be square). */
  readonly shared?: boolean;
  /** Epilogue acc + A[row, col] (A is [m, n]): the epilogue loads A's buffer. */
  readonly residual?: boolean;
  /** Full-range int32 operands (every product and sum wraps). */
  readonly wide?: boolean;
  /** Which operands must be loaded as vec4. */
  readonly vec4: { readonly a: boolean; readonly b: boolean };
  readonly seed?: number;
}

const input = (dtype: MDType, shape: Shape) => makeNode('input', [], {}, { dtype, shape });

function build(c: Case) {
  const dtype = c.dtype ?? 'float32';
  const next = rng(c.seed ?? 1);
  const gen = () => (dtype === 'float32' ? next() * 2 - 1 : c.wide ? (next() * 2 ** 32) | 0 : Math.floor(next() * 41) - 20);
  const aStored = c.aSlice?.from ?? c.a;
  const aIn = input(dtype, aStored);
  const aNode = c.aSlice ? makeNode('slice', [aIn], { begin: [...c.aSlice.begin], size: [...c.a] }) : aIn;
  const bIn = c.shared ? aIn : input(dtype, c.b);
  const bShape = c.shared ? c.a : c.b;
  const transA = c.transA === true;
  const transB = c.transB === true;
  const mm = makeNode('matmul', [aNode, c.shared ? aNode : bIn], { transA, transB });
  const batch = mm.shape.slice(0, -2);
  const [m, n] = mm.shape.slice(-2);
  const k = matrixDims(c.a, transA)[1];

  const mk = (len: number) => {
    const xs = Array.from({ length: len }, gen);
    return dtype === 'float32' ? Float32Array.from(xs) : Int32Array.from(xs);
  };
  const aData = mk(sizeOf(aStored));
  if (c.aSlice && dtype === 'float32') {
    nanOutsideSlice(aData, c.aSlice.from, c.aSlice.begin, c.a);
  }
  const bData = c.shared ? aData : mk(sizeOf(c.b));
  const result = c.residual ? makeNode('add', [mm, aIn]) : mm;
  const args = (a: ArrayLike<number>, b: ArrayLike<number>) => (g: ReturnType<typeof makeGraph>) =>
    g.inputs.map((node) => {
      const src = node === aIn ? a : node === bIn ? b : null;
      if (!src) throw new Error('unexpected graph input');
      return dtype === 'float32' ? Float32Array.from(src) : Int32Array.from(src);
    });
  const g = makeGraph([result]);
  const ref = executeGraph(g, args(aData, bData)(g))[0];

  // Tolerance as derived in matmul.test.ts: (gamma_k + u) S with S = |A| @ |B|; the residual add rounds once
  // on each side (u |y| each, |y| <= S + accTol + |a|).
  let tolerance: ArrayLike<number> = new Float64Array(ref.length);
  if (dtype === 'float32') {
    const gs = makeGraph([mm]);
    const s = executeGraph(gs, args(aData.map(Math.abs), bData.map(Math.abs))(gs))[0];
    const gammaK = (k * U) / (1 - k * U);
    const accTol = Array.from(s, (x) => (gammaK + U) * x * (1 + 2 ** -20));
    tolerance = c.residual ? accTol.map((t, i) => t + 2 * U * (s[i] + t + Math.abs(aData[i])) * (1 + 2 ** -20)) : accTol;
  }

  const aStrides = stridesOf(aStored);
  const aOffset = c.aSlice ? c.aSlice.begin.reduce((acc, b, d) => acc + b * aStrides[d], 0) : 0;
  const buffers: KernelBuffer[] = [
    { name: 'in0', dtype, access: 'read' },
    ...(c.shared ? [] : [{ name: 'in1', dtype, access: 'read' } as const]),
    { name: 'out', dtype, access: 'read_write' },
  ];
  const outStrides = stridesOf(mm.shape);
  const residualSteps: ExprStep[] = [
    { kind: 'value', name: 'acc', dtype },
    { kind: 'load', buffer: 'in0', dtype, access: { offset: 0, strides: outStrides } },
    { kind: 'op', op: 'add', args: [0, 1], attrs: {}, dtype },
  ];
  const spec: MatmulSpec = {
    dtype,
    batch,
    m,
    n,
    k,
    a: operand('in0', aNode.shape, aStrides, aOffset, transA, batch),
    b: operand(c.shared ? 'in0' : 'in1', c.shared ? aNode.shape : bShape, stridesOf(bShape), c.shared ? aOffset : 0, transB, batch),
    ...(c.residual ? { epilogue: { expr: { steps: residualSteps }, step: 2 } } : {}),
    buffers,
    store: { buffer: 'out', access: { offset: 0, strides: outStrides } },
  };
  const data: Record<string, DeviceArray> = { in0: aData, out: dtype === 'float32' ? new Float32Array(ref.length).fill(NaN) : new Int32Array(ref.length).fill(0x5eadbeef) };
  if (!c.shared) data.in1 = bData;
  return { spec, data, ref, tolerance };
}

/** The same product with scalar loads: an epilogue that loads every operand buffer (unused) and stores acc. */
function scalarTwin(spec: MatmulSpec): MatmulSpec {
  const zeros = { offset: 0, strides: [...spec.batch.map(() => 0), 0, 0] };
  const steps: ExprStep[] = [
    { kind: 'value', name: 'acc', dtype: spec.dtype },
    { kind: 'load', buffer: spec.a.buffer, dtype: spec.dtype, access: zeros },
    { kind: 'load', buffer: spec.b.buffer, dtype: spec.dtype, access: zeros },
  ];
  return { ...spec, epilogue: { expr: { steps }, step: 0 } };
}

const vec4Decl = (wgsl: string, buffer: string) => new RegExp(`\\b${buffer}: array<vec4<(f32|i32)>>`).test(wgsl);

function checkWgsl(c: Case, spec: MatmulSpec, wgsl: string): void {
  const vecA = vec4Decl(wgsl, spec.a.buffer);
  const vecB = vec4Decl(wgsl, spec.b.buffer);
  expect({ a: vecA, b: vecB }).toEqual(c.vec4);
  // The header names the variant and each operand's loads.
  expect(wgsl).toMatch(c.vec4.a || c.vec4.b ? /; tiled\.vec4 / : /; tiled /);
  expect(wgsl).toMatch(c.vec4.a ? /tile loads: A vec4 along (m|k),/ : /tile loads: A scalar,/);
  expect(wgsl).toMatch(c.vec4.b ? /, B vec4 along (k|n)(,|\n)/ : /, B scalar(,|\n)/);
}

async function check(c: Case): Promise<void> {
  const { spec, data, ref, tolerance } = build(c);
  const kernel = generateMatmul(spec, { variant: 'tiled' });
  checkWgsl(c, spec, kernel.wgsl);
  const out = (await runKernel(ctx!.device, kernel, spec.buffers, data)).out;
  const bad: string[] = [];
  let count = 0;
  for (let i = 0; i < ref.length; i++) {
    const ok = Math.abs(out[i] - ref[i]) <= tolerance[i]; // NaN (unwritten or read outside a slice) fails
    if (!ok && count++ < 5) bad.push(`out[${i}] = ${out[i]}, expected ${ref[i]} (tolerance ${tolerance[i]})`);
  }
  expect(bad, `${c.title}: ${count} of ${ref.length} elements differ`).toEqual([]);
  if ((c.vec4.a || c.vec4.b) && (c.dtype ?? 'float32') === 'float32' && !c.residual) {
    // Bit-identical to the scalar-load kernel.
    const twin = scalarTwin(spec);
    const scalarKernel = generateMatmul(twin, { variant: 'tiled' });
    expect(vec4Decl(scalarKernel.wgsl, spec.a.buffer) || vec4Decl(scalarKernel.wgsl, spec.b.buffer)).toBe(false);
    const fresh = { ...data, out: new Float32Array(ref.length).fill(NaN) };
    const scalarOut = (await runKernel(ctx!.device, scalarKernel, twin.buffers, fresh)).out;
    expect(new Uint32Array(out.buffer, out.byteOffset, out.length), `${c.title}: vec4 and scalar loads differ`).toEqual(
      new Uint32Array(scalarOut.buffer, scalarOut.byteOffset, scalarOut.length),
    );
  }
}

const both = { a: true, b: true };
const onlyA = { a: true, b: false };
const onlyB = { a: false, b: true };
const neither = { a: false, b: false };
/** [m, k] @ [k, n]. */
const mat = (m: number, k: number, n: number) => ({ a: [m, k], b: [k, n] });

const CASES: readonly Case[] = [
  { title: '64x64x64', ...mat(64, 64, 64), vec4: both },
  { title: 'm=100 k=36 n=68', ...mat(100, 36, 68), vec4: both, seed: 2 },
  { title: 'm=65 (odd m is fine)', ...mat(65, 64, 64), vec4: both, seed: 3 },
  { title: 'k=63: A scalar (its stride-1 axis has extent 63), B vec4', ...mat(64, 63, 64), vec4: onlyB, seed: 4 },
  { title: 'n=66: B scalar, A vec4', ...mat(70, 36, 66), vec4: onlyA, seed: 5 },
  { title: 'k=33 n=65: neither', ...mat(65, 33, 65), vec4: neither, seed: 6 },
  { title: 'transA (stride 1 along m=100), transB (stride 1 along k=36)', a: [36, 100], b: [68, 36], transA: true, transB: true, vec4: both, seed: 7 },
  { title: 'transA with m=65: A scalar', a: [64, 65], b: [64, 68], transA: true, vec4: onlyB, seed: 8 },
  { title: 'transB with k=63: B scalar', a: [68, 63], b: [72, 63], transB: true, vec4: neither, seed: 9 },
  { title: 'transB with k=64', a: [68, 64], b: [72, 64], transB: true, vec4: both, seed: 10 },
  { title: 'batched with broadcast batch [2,1] x [1,3]', a: [2, 1, 64, 36], b: [1, 3, 36, 68], vec4: both, seed: 11 },
  { title: 'batched, broadcast, transposed, k odd: B^T scalar', a: [2, 1, 35, 64], b: [1, 3, 65, 35], transA: true, transB: true, vec4: onlyA, seed: 12 },
  { title: 'A shared by every batch', a: [64, 36], b: [3, 36, 68], vec4: both, seed: 13 },
  { title: 'sliced A at an aligned offset (84)', a: [2, 64, 36], aSlice: { from: [2, 70, 40], begin: [0, 2, 4] }, b: [2, 36, 68], vec4: both, seed: 14 },
  { title: 'sliced A at an unaligned offset (83)', a: [2, 64, 36], aSlice: { from: [2, 70, 40], begin: [0, 2, 3] }, b: [2, 36, 68], vec4: onlyB, seed: 15 },
  // One buffer for both operands: vectors when both of its uses can take them.
  { title: 'a @ a (one buffer for both operands): vec4 along k and n', a: [64, 64], b: [64, 64], shared: true, vec4: both, seed: 17 },
  { title: 'a @ a^T: vec4 along k for both', a: [68, 64], b: [68, 64], shared: true, transB: true, vec4: both, seed: 18 },
  { title: 'a^T @ a with m = 66: A scalar, so B (the same buffer) too', a: [64, 66], b: [64, 66], shared: true, transA: true, vec4: neither, seed: 20 },
  { title: 'epilogue loads A (acc + A): A scalar, B vec4', ...mat(64, 64, 64), residual: true, vec4: onlyB, seed: 19 },
];

const INT_CASES: readonly Case[] = [
  { title: 'int32 64x64x64, full range (wraps)', ...mat(64, 64, 64), dtype: 'int32', wide: true, vec4: both },
  { title: 'int32 batched, transposed', a: [2, 1, 36, 68], b: [1, 3, 72, 36], transA: true, transB: true, dtype: 'int32', wide: true, vec4: both, seed: 2 },
  { title: 'int32 k=63', ...mat(65, 63, 68), dtype: 'int32', vec4: onlyB, seed: 3 },
  { title: 'int32 epilogue loads A', ...mat(68, 68, 68), dtype: 'int32', residual: true, vec4: onlyB, seed: 4 },
];

describe('matmul vec4 tile loads', () => {
  it('vec4 is chosen exactly where the layout and buffer use allow it (WGSL only)', () => {
    for (const c of [...CASES, ...INT_CASES]) {
      const { spec } = build(c);
      try {
        checkWgsl(c, spec, generateMatmul(spec, { variant: 'tiled' }).wgsl);
      } catch (err) {
        (err as Error).message = `${c.title}: ${(err as Error).message}`;
        throw err;
      }
    }
  });

  it('the direct variant keeps scalar loads', () => {
    const { spec } = build(CASES[0]);
    expect(generateMatmul(spec, { variant: 'direct' }).wgsl).not.toContain('vec4<');
  });

  gpuIt.each(CASES.map((c) => [c.title, c] as const))('float32: %s', async (_, c) => {
    await check(c);
  });

  gpuIt.each(INT_CASES.map((c) => [c.title, c] as const))('%s (exact)', async (_, c) => {
    await check(c);
  });
});
