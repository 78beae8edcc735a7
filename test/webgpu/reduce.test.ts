// The reduction kernel generator against the CPU reference executor: every op and dtype, odd shapes,
// reductions over first/middle/last/several/all/no axes, strided (transposed, broadcast, sliced) inputs,
// both strategies (serial and workgroup) on the same cases, large reduced extents, launches folded into a
// 2-D grid, NaN placement, ties, int32 wrap-around and epilogues.
import { afterAll, describe, expect, it } from 'vitest';
import type { DType, TypedArray } from '../../src/ir/dtype.js';
import { makeGraph } from '../../src/ir/graph.js';
import { makeNode, type Node } from '../../src/ir/node.js';
import { sizeOf, stridesOf, type Shape } from '../../src/ir/shape.js';
import { executeGraph } from '../../src/runtime/cpu/executor.js';
import type { KernelBuffer } from '../../src/shaders/elementwise.js';
import type { Access, ExprStep } from '../../src/shaders/expr.js';
import { MAX_WORKGROUPS_PER_DIM } from '../../src/shaders/grid.js';
import {
  chooseReduceStrategy,
  generateReduce,
  SERIAL_WORKGROUP,
  reduceGeometry,
  type ReduceOp,
  type ReduceOptions,
  type ReduceSpec,
} from '../../src/shaders/reduce.js';
import { hostArray, rng } from './differential.js';
import { testGpu } from './gpu.js';
import { runKernel, type DeviceArray } from './kernel-harness.js';

const ctx = await testGpu();
// Without an adapter outside CI the GPU tests skip; in CI testGpu() has already failed.
const gpuIt = it.skipIf(!ctx);
afterAll(() => ctx?.device.destroy());

// ---------------------------------------------------------------------------------------------------------
// Data

type Gen = (rand: () => number, i: number) => number;

const GEN = {
  /** Floats in [-1, 1): sums cancel, so the tolerance is measured against the sum of magnitudes. */
  signed: ((rand) => rand() * 2 - 1) as Gen,
  /** Floats in [0, 1): sums grow with R. */
  positive: ((rand) => rand()) as Gen,
  /** Factors in +-[0.5, 2): products of up to ~100 of them stay well inside f32. */
  factors: ((rand) => (rand() < 0.5 ? -1 : 1) * (0.5 + rand() * 1.5)) as Gen,
  /** Factors near 1, for products over large R. */
  nearOne: ((rand) => 1 + (rand() * 2 - 1) * 0.01) as Gen,
  /** Small integers as floats: every sum below 2^24 is exact in f32 whatever the order. */
  smallInts: ((rand) => Math.floor(rand() * 17) - 8) as Gen,
  /** Full-range int32: sums and products wrap. */
  int32: ((rand) => (rand() * 4294967296) | 0) as Gen,
  /** Odd int32: a product of odd numbers never wraps to 0. */
  oddInt32: ((rand) => ((rand() * 4294967296) | 0) | 1) as Gen,
  /** Few distinct values: many ties for argmax/argmin. */
  ties: ((rand) => [-2, -1, 0, 1, 2][Math.floor(rand() * 5)]) as Gen,
  /** Ties including -0 and +0 (equal values: the first index wins). */
  zeroTies: ((rand) => [-1, -0, 0, 0.5][Math.floor(rand() * 4)]) as Gen,
};

/** Bools with probability `p` of true. */
const boolGen = (p: number): Gen => (rand) => (rand() < p ? 1 : 0);

function generate(dtype: DType, n: number, gen: Gen, seed: number): TypedArray {
  const rand = rng(seed);
  return hostArray(dtype, Array.from({ length: n }, (_, i) => gen(rand, i)));
}

/** Device form: bool as one u32 0/1 per element. */
function toDevice(a: TypedArray): DeviceArray {
  return a instanceof Uint8Array ? Uint32Array.from(a) : a;
}

// ---------------------------------------------------------------------------------------------------------
// Views: how the kernel's input index space reads the buffer, and the same view as IR layout ops for the CPU.

type ViewOp =
  | { readonly op: 'transpose'; readonly perm: readonly number[] }
  | { readonly op: 'expand'; readonly shape: Shape }
  | { readonly op: 'slice'; readonly begin: readonly number[]; readonly size: readonly number[] };

interface View {
  readonly shape: Shape;
  readonly access: Access;
}

function applyView(base: Shape, ops: readonly ViewOp[]): View {
  let shape = [...base];
  let strides = stridesOf(base);
  let offset = 0;
  for (const v of ops) {
    if (v.op === 'transpose') {
      shape = v.perm.map((p) => shape[p]);
      strides = v.perm.map((p) => strides[p]);
    } else if (v.op === 'expand') {
      const off = v.shape.length - shape.length;
      strides = v.shape.map((d, i) => (i < off || (shape[i - off] === 1 && d !== 1) ? 0 : strides[i - off]));
      shape = [...v.shape];
    } else {
      offset += v.begin.reduce((acc, b, i) => acc + b * strides[i], 0);
      shape = [...v.size];
    }
  }
  return { shape, access: { offset, strides } };
}

function viewNode(x: Node, ops: readonly ViewOp[]): Node {
  return ops.reduce((n, v) => {
    if (v.op === 'transpose') return makeNode('transpose', [n], { perm: v.perm });
    if (v.op === 'expand') return makeNode('expand', [n], { shape: v.shape });
    return makeNode('slice', [n], { begin: v.begin, size: v.size });
  }, x);
}

function reduceNode(op: ReduceOp, x: Node, axes: readonly number[]): Node {
  return op === 'argmax' || op === 'argmin' ? makeNode(op, [x], { axis: axes[0] }) : makeNode(op, [x], { axes });
}

// ---------------------------------------------------------------------------------------------------------
// Running one case on the GPU and on the CPU reference

interface Case {
  readonly op: ReduceOp;
  readonly dtype: DType;
  /** The buffer's shape, and the view of it that the reduction reads (none: the buffer itself). */
  readonly base: Shape;
  readonly view?: readonly ViewOp[];
  readonly axes: readonly number[];
  /** Values, or a generator with a seed. */
  readonly data?: ArrayLike<number>;
  readonly gen?: Gen;
  readonly seed?: number;
}

const label = (c: Case, options: ReduceOptions = {}) =>
  `${c.op} ${c.dtype}[${c.base.join(',')}]${c.view ? ` ${c.view.map((v) => v.op).join('+')}` : ''} axes [${c.axes.join(',')}]` +
  ` ${options.strategy ?? 'auto'}${options.workgroupSize ? `@${options.workgroupSize}` : ''}${options.maxWorkgroupsPerDim ? ` fold@${options.maxWorkgroupsPerDim}` : ''}`;

function hostData(c: Case): TypedArray {
  if (c.data) return hostArray(c.dtype, c.data);
  return generate(c.dtype, sizeOf(c.base), c.gen ?? defaultGen(c.op, c.dtype), c.seed ?? 1);
}

function defaultGen(op: ReduceOp, dtype: DType): Gen {
  if (dtype === 'bool') return boolGen(0.5);
  if (dtype === 'int32') return op === 'prod' ? GEN.oddInt32 : op.startsWith('arg') ? GEN.ties : GEN.int32;
  return op === 'prod' ? GEN.factors : GEN.signed;
}

/** The CPU reference result and, for float sums, the per-output sum of magnitudes (the error scale). */
function reference(c: Case, data: TypedArray): { expected: TypedArray; magnitude?: Float32Array } {
  const x = makeNode('input', [], {}, { dtype: c.dtype, shape: c.base });
  const v = viewNode(x, c.view ?? []);
  const outputs = [reduceNode(c.op, v, c.axes)];
  if (c.op === 'sum' && c.dtype === 'float32') outputs.push(makeNode('sum', [makeNode('abs', [v])], { axes: c.axes }));
  const [expected, magnitude] = executeGraph(makeGraph(outputs), [data]);
  return { expected, magnitude: magnitude as Float32Array | undefined };
}

/** The unfused spec: one load of buffer `a` through the view's access, stored row-major into `out`. */
function plainSpec(c: Case): ReduceSpec {
  const view = applyView(c.base, c.view ?? []);
  const { outShape } = reduceGeometry(view.shape, c.axes);
  const resultDtype: DType = c.op.startsWith('arg') ? 'int32' : c.dtype;
  return {
    op: c.op,
    inShape: view.shape,
    axes: c.axes,
    input: { steps: [{ kind: 'load', buffer: 'a', dtype: c.dtype, access: view.access }] },
    inputStep: 0,
    buffers: [
      { name: 'a', dtype: c.dtype, access: 'read' },
      { name: 'out', dtype: resultDtype, access: 'read_write' },
    ],
    store: { buffer: 'out', access: { offset: 0, strides: stridesOf(outShape) } },
  };
}

async function runSpec(spec: ReduceSpec, data: Readonly<Record<string, DeviceArray | number>>, options: ReduceOptions = {}) {
  const kernel = generateReduce(spec, options);
  const out = await runKernel(ctx!.device, kernel, spec.buffers, data);
  return { kernel, out };
}

const BOTH: readonly ReduceOptions[] = [{ strategy: 'serial' }, { strategy: 'workgroup' }];

/** Runs case `c` with each of `runs` (both strategies unless told) and compares with the reference. */
async function check(c: Case, runs: readonly ReduceOptions[] = BOTH) {
  const data = hostData(c);
  const { expected, magnitude } = reference(c, data);
  const spec = plainSpec(c);
  const { extent } = reduceGeometry(spec.inShape, c.axes);
  for (const options of runs) {
    const { out } = await runSpec(spec, { a: toDevice(data), out: expected.length }, options);
    compare(label(c, options), c.op, c.dtype, out.out, expected, extent, magnitude);
  }
}

/** int32/bool and float max/min/arg exactly (NaN equals NaN, -0 equals +0); float sum/prod within tolerance. */
function compare(what: string, op: ReduceOp, dtype: DType, actual: ArrayLike<number>, expected: ArrayLike<number>, extent: number, magnitude?: ArrayLike<number>) {
  expect(actual.length, what).toBe(expected.length);
  const approximate = dtype === 'float32' && (op === 'sum' || op === 'prod');
  const bad: string[] = [];
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    let ok: boolean;
    if (Number.isNaN(e)) ok = Number.isNaN(a);
    else if (!approximate || !Number.isFinite(e)) ok = a === e;
    else ok = Math.abs(a - e) <= tolerance(op, e, extent, magnitude?.[i] ?? 0);
    if (!ok && bad.length < 10) bad.push(`[${i}] got ${a}, expected ${e}`);
  }
  expect(bad, what).toEqual([]);
}

/**
 * f32 accumulation (in any order) against the reference's f64: the error of a sum grows like sqrt(R) times the
 * partial sums' size (bounded by |result| and the sum of magnitudes), of a product like sqrt(R) relative.
 */
function tolerance(op: ReduceOp, expected: number, extent: number, magnitude: number): number {
  const r = Math.sqrt(Math.max(extent, 1));
  return op === 'sum' ? 4e-6 * (r * Math.abs(expected) + magnitude) : 4e-6 * r * Math.abs(expected) + 1e-30;
}

// ---------------------------------------------------------------------------------------------------------
// Shape cases shared by every op and dtype

interface Shaped {
  readonly base: Shape;
  readonly view?: readonly ViewOp[];
  readonly axes: readonly number[];
  /** For the workgroup strategy on thousands of outputs: SwiftShader runs big workgroups with barriers slowly. */
  readonly workgroupSize?: number;
}

const SHAPES: readonly Shaped[] = [
  { base: [1], axes: [0] },
  { base: [13], axes: [0] },
  { base: [1000], axes: [0] },
  { base: [3, 5, 7], axes: [0] }, // first
  { base: [3, 5, 7], axes: [1] }, // middle
  { base: [3, 5, 7], axes: [2] }, // last
  { base: [3, 5, 7], axes: [0, 2] }, // several, not contiguous
  { base: [3, 5, 7], axes: [1, 2] }, // several, trailing
  { base: [3, 5, 7], axes: [0, 1] }, // several, leading
  { base: [3, 5, 7], axes: [0, 1, 2] }, // all
  { base: [3, 5, 7], axes: [] }, // none: a copy
  { base: [13, 100], axes: [1] },
  { base: [100, 13], axes: [0] },
  { base: [7, 1000], axes: [1] },
  { base: [5, 1, 13, 1], axes: [2] }, // extent-1 axes around the reduced one
  { base: [1, 5, 1], axes: [0, 1] },
  { base: [4097], axes: [0] },
  { base: [3, 4097], axes: [1] },
  { base: [4097, 3], axes: [1], workgroupSize: 4 },
  // Strided inputs: transposed, broadcast and sliced views read in place.
  { base: [5, 13], view: [{ op: 'transpose', perm: [1, 0] }], axes: [1] },
  { base: [5, 13], view: [{ op: 'transpose', perm: [1, 0] }], axes: [0] },
  { base: [3, 5, 7], view: [{ op: 'transpose', perm: [2, 0, 1] }], axes: [0, 2] },
  { base: [1000, 3], view: [{ op: 'transpose', perm: [1, 0] }], axes: [1] },
  { base: [1, 100], view: [{ op: 'expand', shape: [7, 100] }], axes: [0] },
  { base: [1, 100], view: [{ op: 'expand', shape: [7, 100] }], axes: [1] },
  { base: [13], view: [{ op: 'expand', shape: [3, 13] }], axes: [1] },
  { base: [13, 1], view: [{ op: 'expand', shape: [13, 100] }], axes: [1] },
  { base: [7, 20], view: [{ op: 'slice', begin: [2, 3], size: [5, 13] }], axes: [1] },
  { base: [7, 20], view: [{ op: 'slice', begin: [1, 3], size: [5, 13] }, { op: 'transpose', perm: [1, 0] }], axes: [0] },
  // An empty output space: nothing is computed, the WGSL must still be valid.
  { base: [0, 7], axes: [1] },
  { base: [3, 0, 7], axes: [0, 2] },
];

/** Sum/prod also reduce empty extents (0 and 1). */
const EMPTY_EXTENT: readonly Shaped[] = [
  { base: [5, 0, 3], axes: [1] },
  { base: [0], axes: [0] },
  { base: [4, 0], axes: [0, 1] },
];

const isArg = (op: ReduceOp) => op === 'argmax' || op === 'argmin';

const MATRIX: readonly { op: ReduceOp; dtypes: readonly DType[] }[] = [
  { op: 'sum', dtypes: ['float32', 'int32'] },
  { op: 'prod', dtypes: ['float32', 'int32'] },
  { op: 'max', dtypes: ['float32', 'int32', 'bool'] },
  { op: 'min', dtypes: ['float32', 'int32', 'bool'] },
  { op: 'argmax', dtypes: ['float32', 'int32', 'bool'] },
  { op: 'argmin', dtypes: ['float32', 'int32', 'bool'] },
];

/** Bool any/all are only interesting when some rows differ: about half the rows of extent R hold a true (any). */
function boolDensity(op: ReduceOp, extent: number): Gen {
  const rare = 1 - Math.pow(0.5, 1 / Math.max(extent, 1));
  return boolGen(op === 'min' || op === 'argmin' ? 1 - rare : rare);
}

describe('generateReduce: every op and dtype over odd shapes, axes and views, both strategies', () => {
  for (const { op, dtypes } of MATRIX) {
    for (const dtype of dtypes) {
      gpuIt(`${op} ${dtype}`, async () => {
        const shapes = SHAPES.filter((s) => !isArg(op) || s.axes.length === 1);
        const all = op === 'sum' || op === 'prod' ? [...shapes, ...EMPTY_EXTENT] : shapes;
        for (const [k, s] of all.entries()) {
          const view = applyView(s.base, s.view ?? []);
          const { extent } = reduceGeometry(view.shape, s.axes);
          // Products of many floats leave f32's range: large extents take factors near 1.
          const gen = dtype === 'bool' ? boolDensity(op, extent) : op === 'prod' && dtype === 'float32' && extent > 100 ? GEN.nearOne : undefined;
          await check({ op, dtype, ...s, gen, seed: 1000 + k }, [{ strategy: 'serial' }, { strategy: 'workgroup', workgroupSize: s.workgroupSize }]);
        }
      });
    }
  }
});

describe('generateReduce: the data the cases see is not degenerate', () => {
  it('random inputs give varied, non-zero results', () => {
    // The checks above would pass for a kernel that writes nothing if the reference were all zeros.
    for (const { op, dtypes } of MATRIX) {
      for (const dtype of dtypes) {
        const c: Case = { op, dtype, base: [13, 100], axes: [1], gen: dtype === 'bool' ? boolDensity(op, 100) : undefined, seed: 7 };
        const { expected } = reference(c, hostData(c));
        expect(new Set(expected).size, `${op} ${dtype}`).toBeGreaterThan(1);
        expect(expected.some((v) => v !== 0), `${op} ${dtype}`).toBe(true);
      }
    }
  });
});

describe('generateReduce: large reduced extents', () => {
  const R = 100_000;
  gpuIt('float sums over 100k elements, signed and positive, exact on small integers', async () => {
    await check({ op: 'sum', dtype: 'float32', base: [R], axes: [0], gen: GEN.signed, seed: 11 });
    await check({ op: 'sum', dtype: 'float32', base: [2, R / 2], axes: [1], gen: GEN.positive, seed: 12 });
    // Small integers sum exactly in f32: the kernel must agree to the last bit, whatever its order.
    const c: Case = { op: 'sum', dtype: 'float32', base: [R], axes: [0], gen: GEN.smallInts, seed: 13 };
    const data = hostData(c);
    const { expected } = reference(c, data);
    for (const strategy of ['serial', 'workgroup'] as const) {
      const { out } = await runSpec(plainSpec(c), { a: toDevice(data), out: 1 }, { strategy });
      expect(Array.from(out.out), strategy).toEqual(Array.from(expected));
    }
  });

  gpuIt('int32 sum and prod wrap over 100k elements', async () => {
    await check({ op: 'sum', dtype: 'int32', base: [R], axes: [0], gen: GEN.int32, seed: 21 });
    await check({ op: 'prod', dtype: 'int32', base: [R], axes: [0], gen: GEN.oddInt32, seed: 22 });
    await check({ op: 'prod', dtype: 'float32', base: [R], axes: [0], gen: GEN.nearOne, seed: 23 });
  });

  gpuIt('max/min/argmax/argmin over 100k elements with the extreme and NaN far from the start', async () => {
    const base = Array.from({ length: R }, (_, i) => Math.sin(i) * 1000);
    const withExtremes = [...base];
    withExtremes[77_777] = 5000;
    withExtremes[88_888] = -5000;
    for (const op of ['max', 'min', 'argmax', 'argmin'] as const) {
      await check({ op, dtype: 'float32', base: [R], axes: [0], data: withExtremes });
      const withNaN = [...withExtremes];
      withNaN[99_998] = NaN;
      withNaN[90_001] = NaN;
      await check({ op, dtype: 'float32', base: [R], axes: [0], data: withNaN });
      await check({ op, dtype: 'int32', base: [R], axes: [0], data: withExtremes.map(Math.trunc) });
    }
  });

  gpuIt('bool any/all and argmax/argmin over 100k elements with one odd element near the end', async () => {
    const falses = new Array<number>(R).fill(0);
    falses[99_999] = 1;
    const trues = new Array<number>(R).fill(1);
    trues[99_990] = 0;
    for (const op of ['max', 'min', 'argmax', 'argmin'] as const) {
      await check({ op, dtype: 'bool', base: [R], axes: [0], data: falses });
      await check({ op, dtype: 'bool', base: [R], axes: [0], data: trues });
    }
  });
});

describe('generateReduce: launches beyond 65,535 workgroups fold into a 2-D grid', () => {
  const WG_SMALL: ReduceOptions = { strategy: 'workgroup', workgroupSize: 8 };
  const N = 70_001; // odd, so the folded grid has one workgroup past the last output
  gpuIt('one workgroup per output: 70,001 outputs of R = 3', async () => {
    const spec = plainSpec({ op: 'sum', dtype: 'float32', base: [N, 3], axes: [1] });
    const kernel = generateReduce(spec, { strategy: 'workgroup' });
    expect(kernel.workgroups[1]).toBeGreaterThan(1);
    expect(kernel.workgroups[0]).toBeLessThanOrEqual(MAX_WORKGROUPS_PER_DIM);
    expect(kernel.workgroups[0] * kernel.workgroups[1]).toBeGreaterThan(N);
    await check({ op: 'sum', dtype: 'float32', base: [N, 3], axes: [1], gen: GEN.signed, seed: 31 }, [WG_SMALL]);
    await check({ op: 'argmin', dtype: 'int32', base: [N, 3], axes: [1], seed: 32 }, [WG_SMALL]);
  });

  gpuIt('one thread per output: 70,001 outputs of R = 3 (auto picks serial), folded at a small limit', async () => {
    expect(chooseReduceStrategy(N, 3)).toBe('serial');
    const spec = plainSpec({ op: 'max', dtype: 'int32', base: [N, 3], axes: [1] });
    const kernel = generateReduce(spec, { maxWorkgroupsPerDim: 100 });
    expect(kernel.workgroups[1]).toBeGreaterThan(1);
    expect(kernel.workgroups[0] * kernel.workgroups[1] * SERIAL_WORKGROUP).toBeGreaterThan(N);
    for (const op of ['max', 'argmax', 'sum'] as const) {
      await check({ op, dtype: 'int32', base: [N, 3], axes: [1], seed: 33 }, [{ maxWorkgroupsPerDim: 100 }]);
      await check({ op, dtype: 'int32', base: [3, N], axes: [0], seed: 34 }, [{ maxWorkgroupsPerDim: 100 }]);
    }
  });

  gpuIt('a folded workgroup launch on a small grid: inactive workgroups take part in no store', async () => {
    // 13 outputs at 4 workgroups per dimension: a 4 x 4 grid with 3 workgroups past the end.
    const c: Case = { op: 'argmax', dtype: 'float32', base: [13, 300], axes: [1], gen: GEN.ties, seed: 35 };
    expect(generateReduce(plainSpec(c), { strategy: 'workgroup', maxWorkgroupsPerDim: 4 }).workgroups).toEqual([4, 4, 1]);
    await check(c, [{ strategy: 'workgroup', maxWorkgroupsPerDim: 4 }]);
    // A sentinel past the outputs stays untouched.
    const spec = { ...plainSpec(c), store: { buffer: 'out', access: { offset: 0, strides: [1] } } };
    const data = hostData(c);
    const { out } = await runSpec(spec, { a: toDevice(data), out: new Int32Array(16).fill(-7) }, { strategy: 'workgroup', maxWorkgroupsPerDim: 4 });
    expect(Array.from(out.out.slice(13))).toEqual([-7, -7, -7]);
  });
});

describe('generateReduce: NaN and infinities', () => {
  const nan = NaN;
  const inf = Infinity;
  // Rows of 9: no NaN, NaN first, NaN last, two NaNs, all NaN, infinities around a NaN, infinities only.
  const rows = [
    [0.5, -2, 3, 3, -7, 1, 0, 2, -1],
    [nan, -2, 3, 9, -7, 1, 0, 2, -1],
    [0.5, -2, 3, 9, -7, 1, 0, 2, nan],
    [0.5, -2, 3, 9, nan, 1, nan, 2, -1],
    [nan, nan, nan, nan, nan, nan, nan, nan, nan],
    [-inf, inf, 3, nan, -7, inf, -inf, 2, -1],
    [-inf, inf, 3, 4, -7, inf, -inf, 2, -1],
    [-inf, -inf, -inf, -inf, -inf, -inf, -inf, -inf, -inf],
  ];
  const data = rows.flat();
  for (const op of ['max', 'min', 'argmax', 'argmin'] as const) {
    gpuIt(`${op} propagates NaN (the first NaN for arg*) along the last and the first axis`, async () => {
      await check({ op, dtype: 'float32', base: [8, 9], axes: [1], data });
      await check({ op, dtype: 'float32', base: [9, 8], view: [{ op: 'transpose', perm: [1, 0] }], axes: [1], data });
      await check({ op, dtype: 'float32', base: [8, 9], axes: [0], data });
      // One NaN among 5,000 elements at several places, reduced by a workgroup.
      for (const at of [0, 255, 256, 2500, 4999]) {
        const long = Array.from({ length: 5000 }, (_, i) => Math.cos(i * 0.37) * 10);
        long[at] = NaN;
        long[(at + 1234) % 5000] = NaN;
        await check({ op, dtype: 'float32', base: [5000], axes: [0], data: long });
      }
    });
  }
});

describe('generateReduce: ties in argmax/argmin give the first index', () => {
  for (const op of ['argmax', 'argmin'] as const) {
    gpuIt(`${op} ties`, async () => {
      const shapes: readonly Shaped[] = [
        { base: [13], axes: [0] },
        { base: [1000], axes: [0] },
        { base: [4097], axes: [0] },
        { base: [3, 5, 7], axes: [1] },
        { base: [13, 100], axes: [1] },
        { base: [100, 13], axes: [0] },
        { base: [5, 13], view: [{ op: 'transpose', perm: [1, 0] }], axes: [0] },
        { base: [13, 1], view: [{ op: 'expand', shape: [13, 100] }], axes: [1] }, // every element ties
      ];
      for (const [k, s] of shapes.entries()) {
        await check({ op, dtype: 'float32', ...s, gen: GEN.ties, seed: 500 + k });
        await check({ op, dtype: 'float32', ...s, gen: GEN.zeroTies, seed: 600 + k });
        await check({ op, dtype: 'int32', ...s, gen: GEN.ties, seed: 700 + k });
      }
      // Every element equal: index 0 in every row, whoever reduces it.
      await check({ op, dtype: 'int32', base: [3, 1000], axes: [1], data: new Array<number>(3000).fill(4) });
      await check({ op, dtype: 'bool', base: [3, 1000], axes: [1], data: new Array<number>(3000).fill(1) });
      // Equal extremes at positions owned by different threads of a workgroup (i and i + 256k).
      const spread = new Array<number>(2000).fill(0);
      for (const at of [1999, 700, 444, 300]) spread[at] = op === 'argmax' ? 9 : -9;
      await check({ op, dtype: 'float32', base: [2000], axes: [0], data: spread });
    });
  }
});

describe('generateReduce: int32 sums wrap around', () => {
  gpuIt('sums past 2^31 wrap as in two’s complement', async () => {
    const big = Array.from({ length: 5 * 300 }, (_, i) => 2 ** 30 + i);
    const c: Case = { op: 'sum', dtype: 'int32', base: [5, 300], axes: [1], data: big };
    const { expected } = reference(c, hostData(c));
    // The wrapped sums differ from the true sums: a kernel that saturated or lost bits would fail.
    expect(expected[0]).not.toBe(300 * 2 ** 30 + (299 * 300) / 2);
    await check(c);
    await check({ op: 'sum', dtype: 'int32', base: [5, 300], axes: [0, 1], data: big });
    await check({ op: 'sum', dtype: 'int32', base: [300, 5], view: [{ op: 'transpose', perm: [1, 0] }], axes: [1], data: big });
  });
});

// ---------------------------------------------------------------------------------------------------------
// Epilogues, fused inputs and strided stores

const acc = (dtype: DType): ExprStep => ({ kind: 'value', name: 'acc', dtype });
const opStep = (op: Extract<ExprStep, { kind: 'op' }>['op'], args: number[], dtype: DType, attrs: Record<string, number | string> = {}): ExprStep => ({
  kind: 'op',
  op,
  args,
  attrs,
  dtype,
});

describe('generateReduce: epilogues', () => {
  gpuIt('mean = acc / n over several axes', async () => {
    for (const [k, s] of [
      { base: [3, 5, 7], axes: [0, 2] },
      { base: [7, 1000], axes: [1] },
      { base: [13, 4097], axes: [1] },
      { base: [5, 13], view: [{ op: 'transpose', perm: [1, 0] }] as ViewOp[], axes: [1] },
    ].entries()) {
      const c: Case = { op: 'sum', dtype: 'float32', ...s, gen: GEN.positive, seed: 40 + k };
      const data = hostData(c);
      const view = applyView(c.base, c.view ?? []);
      const { outShape, extent } = reduceGeometry(view.shape, c.axes);
      const x = viewNode(makeNode('input', [], {}, { dtype: 'float32', shape: c.base }), c.view ?? []);
      const sum = makeNode('sum', [x], { axes: c.axes });
      const mean = makeNode('div', [sum, makeNode('const', [], { value: extent }, { dtype: 'float32', shape: outShape })]);
      const [expected] = executeGraph(makeGraph([mean]), [data]);
      const spec: ReduceSpec = {
        ...plainSpec(c),
        epilogue: { expr: { steps: [acc('float32'), opStep('const', [], 'float32', { value: extent }), opStep('div', [0, 1], 'float32')] }, step: 2 },
      };
      for (const strategy of ['serial', 'workgroup'] as const) {
        const { kernel, out } = await runSpec(spec, { a: data as Float32Array, out: expected.length }, { strategy });
        expect(kernel.wgsl).toContain('let acc: f32 =');
        // Positive data: the mean's error is relative to the mean itself.
        compare(`mean ${label(c, { strategy })}`, 'sum', 'float32', out.out, expected, extent, expected);
      }
    }
  });

  gpuIt('an epilogue that loads per output element (int sum * 2 + bias), through a transposed output access', async () => {
    // sum over axis 1 of [4, 6, 5] -> [4, 5]; bias is stored as [5, 4] and read transposed.
    const c: Case = { op: 'sum', dtype: 'int32', base: [4, 6, 5], axes: [1], gen: GEN.int32, seed: 50 };
    const data = hostData(c) as Int32Array;
    const bias = generate('int32', 20, GEN.int32, 51) as Int32Array;
    const x = makeNode('input', [], {}, { dtype: 'int32', shape: [4, 6, 5] });
    const b = makeNode('input', [], {}, { dtype: 'int32', shape: [5, 4] });
    const sum = makeNode('sum', [x], { axes: [1] });
    const two = makeNode('const', [], { value: 2 }, { dtype: 'int32', shape: [4, 5] });
    const y = makeNode('add', [makeNode('mul', [sum, two]), makeNode('transpose', [b], { perm: [1, 0] })]);
    const [expected] = executeGraph(makeGraph([y]), [data, bias]);
    const base = plainSpec(c);
    const spec: ReduceSpec = {
      ...base,
      buffers: [...base.buffers, { name: 'bias', dtype: 'int32', access: 'read' }],
      epilogue: {
        expr: {
          steps: [
            acc('int32'),
            opStep('const', [], 'int32', { value: 2 }),
            opStep('mul', [0, 1], 'int32'),
            { kind: 'load', buffer: 'bias', dtype: 'int32', access: { offset: 0, strides: [1, 4] } },
            opStep('add', [2, 3], 'int32'),
          ],
        },
        step: 4,
      },
    };
    for (const strategy of ['serial', 'workgroup'] as const) {
      const { out } = await runSpec(spec, { a: data, out: 20, bias }, { strategy });
      compare(`sum*2+bias ${strategy}`, 'sum', 'int32', out.out, expected, 6);
    }
  });

  gpuIt('epilogues that change dtype: max(x) > 0 stored as bool, not(any(b)), argmax cast to float', async () => {
    const c: Case = { op: 'max', dtype: 'float32', base: [13, 7], axes: [1], gen: (r) => r() * 2 - 1.3, seed: 60 };
    const data = hostData(c);
    const x = makeNode('input', [], {}, { dtype: 'float32', shape: [13, 7] });
    const gt = makeNode('gt', [makeNode('max', [x], { axes: [1] }), makeNode('const', [], { value: 0 }, { dtype: 'float32', shape: [13] })]);
    const [expectedGt] = executeGraph(makeGraph([gt]), [data]);
    const gtSpec: ReduceSpec = {
      ...plainSpec(c),
      buffers: [
        { name: 'a', dtype: 'float32', access: 'read' },
        { name: 'out', dtype: 'bool', access: 'read_write' },
      ],
      epilogue: { expr: { steps: [acc('float32'), opStep('const', [], 'float32', { value: 0 }), opStep('gt', [0, 1], 'bool')] }, step: 2 },
    };

    const cb: Case = { op: 'max', dtype: 'bool', base: [13, 7], axes: [1], gen: boolDensity('max', 7), seed: 61 };
    const bools = hostData(cb);
    const xb = makeNode('input', [], {}, { dtype: 'bool', shape: [13, 7] });
    const [expectedNot] = executeGraph(makeGraph([makeNode('not', [makeNode('max', [xb], { axes: [1] })])]), [bools]);
    const notSpec: ReduceSpec = { ...plainSpec(cb), epilogue: { expr: { steps: [acc('bool'), opStep('not', [0], 'bool')] }, step: 1 } };

    const ca: Case = { op: 'argmax', dtype: 'float32', base: [13, 300], axes: [1], seed: 62 };
    const floats = hostData(ca);
    const xa = makeNode('input', [], {}, { dtype: 'float32', shape: [13, 300] });
    const castArg = makeNode('cast', [makeNode('argmax', [xa], { axis: 1 })], { to: 'float32' });
    const [expectedArg] = executeGraph(makeGraph([castArg]), [floats]);
    const argSpec: ReduceSpec = {
      ...plainSpec(ca),
      buffers: [
        { name: 'a', dtype: 'float32', access: 'read' },
        { name: 'out', dtype: 'float32', access: 'read_write' },
      ],
      epilogue: { expr: { steps: [acc('int32'), opStep('cast', [0], 'float32', { to: 'float32' })] }, step: 1 },
    };

    for (const strategy of ['serial', 'workgroup'] as const) {
      const g = await runSpec(gtSpec, { a: toDevice(data), out: 13 }, { strategy });
      compare(`max>0 ${strategy}`, 'max', 'bool', g.out.out, Uint32Array.from(expectedGt), 7);
      const n = await runSpec(notSpec, { a: toDevice(bools), out: 13 }, { strategy });
      compare(`not(any) ${strategy}`, 'max', 'bool', n.out.out, Uint32Array.from(expectedNot), 7);
      const a = await runSpec(argSpec, { a: toDevice(floats), out: 13 }, { strategy });
      compare(`float(argmax) ${strategy}`, 'argmax', 'float32', a.out.out, expectedArg, 300);
    }
    // The bool results are mixed, so a kernel storing a constant fails.
    expect(new Set(expectedGt).size).toBe(2);
    expect(new Set(expectedNot).size).toBe(2);
  });
});

describe('generateReduce: fused inputs and strided stores', () => {
  gpuIt('sum(a * b) with b broadcast, and a result written transposed at an offset of a larger buffer', async () => {
    // sum over axis 1 of a[6, 300] * b[300] -> [6], then max over axis 1 of a[6, 4, 50] -> [6, 50] stored as [50, 6] at offset 3.
    const a = generate('float32', 1800, GEN.signed, 70) as Float32Array;
    const b = generate('float32', 300, GEN.signed, 71) as Float32Array;
    const xa = makeNode('input', [], {}, { dtype: 'float32', shape: [6, 300] });
    const xb = makeNode('input', [], {}, { dtype: 'float32', shape: [300] });
    const prodNode = makeNode('mul', [xa, makeNode('expand', [xb], { shape: [6, 300] })]);
    const [expected, magnitude] = executeGraph(makeGraph([makeNode('sum', [prodNode], { axes: [1] }), makeNode('sum', [makeNode('abs', [prodNode])], { axes: [1] })]), [a, b]);
    const spec: ReduceSpec = {
      op: 'sum',
      inShape: [6, 300],
      axes: [1],
      input: {
        steps: [
          { kind: 'load', buffer: 'a', dtype: 'float32', access: { offset: 0, strides: [300, 1] } },
          { kind: 'load', buffer: 'b', dtype: 'float32', access: { offset: 0, strides: [0, 1] } },
          opStep('mul', [0, 1], 'float32'),
        ],
      },
      inputStep: 2,
      buffers: [
        { name: 'a', dtype: 'float32', access: 'read' },
        { name: 'b', dtype: 'float32', access: 'read' },
        { name: 'out', dtype: 'float32', access: 'read_write' },
      ],
      store: { buffer: 'out', access: { offset: 0, strides: [1] } },
    };
    for (const strategy of ['serial', 'workgroup'] as const) {
      const { out } = await runSpec(spec, { a, b, out: 6 }, { strategy });
      compare(`sum(a*b) ${strategy}`, 'sum', 'float32', out.out, expected, 300, magnitude);
    }

    const c: Case = { op: 'max', dtype: 'float32', base: [6, 4, 50], axes: [1], seed: 72 };
    const data = hostData(c);
    const { expected: maxes } = reference(c, data);
    const stored: ReduceSpec = { ...plainSpec(c), store: { buffer: 'out', access: { offset: 3, strides: [1, 6] } } };
    for (const strategy of ['serial', 'workgroup'] as const) {
      const { out } = await runSpec(stored, { a: toDevice(data), out: new Float32Array(3 + 300).fill(-99) }, { strategy });
      const got = Array.from({ length: 300 }, (_, i) => out.out[3 + (i % 50) * 6 + Math.floor(i / 50)]);
      compare(`transposed store ${strategy}`, 'max', 'float32', got, maxes, 4);
      expect(Array.from(out.out.slice(0, 3))).toEqual([-99, -99, -99]);
    }
  });
});

// ---------------------------------------------------------------------------------------------------------
// Generated code

describe('generateReduce: generated WGSL', () => {
  it('picks serial for small extents or many outputs, a workgroup per output otherwise', () => {
    expect(chooseReduceStrategy(1, 64)).toBe('serial');
    expect(chooseReduceStrategy(1, 65)).toBe('workgroup');
    expect(chooseReduceStrategy(1, 100_000)).toBe('workgroup');
    expect(chooseReduceStrategy(70_000, 3)).toBe('serial');
    expect(chooseReduceStrategy(1600, 100)).toBe('serial');
    expect(chooseReduceStrategy(1599, 100)).toBe('workgroup');
    expect(generateReduce(plainSpec({ op: 'sum', dtype: 'float32', base: [4097], axes: [0] })).wgsl).toContain('workgroupBarrier();');
    expect(generateReduce(plainSpec({ op: 'sum', dtype: 'float32', base: [70, 13], axes: [1] })).wgsl).not.toContain('workgroupBarrier');
  });

  it('reads contiguous rows through the flat index and decomposes only the coordinates it uses', () => {
    const last = generateReduce(plainSpec({ op: 'sum', dtype: 'float32', base: [3, 5, 7], axes: [1, 2] }), { strategy: 'serial' }).wgsl;
    expect(last).toContain('let flat = o * 35u + r;');
    expect(last).toContain('a[flat]');
    expect(last).not.toMatch(/let c\d/);
    const middle = generateReduce(plainSpec({ op: 'max', dtype: 'int32', base: [3, 5, 7], axes: [1] }), { strategy: 'serial' }).wgsl;
    expect(middle).not.toContain('flat');
    expect(middle).toContain('let c1 = r;');
    expect(middle).toContain('a[c0 * 35u + c1 * 7u + c2]');
    const leading = generateReduce(plainSpec({ op: 'min', dtype: 'bool', base: [3, 5, 7], axes: [0, 1] }), { strategy: 'workgroup' }).wgsl;
    expect(leading).toContain('let flat = r * 7u + o;');
  });

  it('rejects specs the lowering must not produce', () => {
    const base = plainSpec({ op: 'argmax', dtype: 'float32', base: [3, 5], axes: [1] });
    expect(() => generateReduce({ ...base, axes: [0, 1] })).toThrow(/exactly one axis/);
    expect(() => generateReduce({ ...plainSpec({ op: 'max', dtype: 'float32', base: [3, 0], axes: [1] }) })).toThrow(/empty extent/);
    expect(() => generateReduce({ ...plainSpec({ op: 'sum', dtype: 'float32', base: [3, 5], axes: [1] }), axes: [1, 0] })).toThrow(/sorted/);
    const renamed = { ...base, buffers: [{ name: 'flat', dtype: 'float32', access: 'read' } as KernelBuffer, base.buffers[1]] };
    expect(() => generateReduce(renamed)).toThrow(/reserved/);
  });
});
