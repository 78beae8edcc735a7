// Reductions with nothing fused into them (lowered by src/lowering/lower.ts reduce() to the row kernel of one
// reduce stage, src/shaders/row.ts, split over several workgroups per row where rows are few and long) against
// the CPU reference executor: every op and dtype, odd shapes, reductions over first/middle/last/several/all/no
// axes, strided (transposed, broadcast, sliced) inputs read in place, under every row layout forced through
// the row tuning (one thread per row, a workgroup per row with and without the row cache, segmented rows) and
// the automatic choice (splits included), large reduced extents, launches past 65,535 workgroups, NaN
// placement, ties and int32 wrap-around.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.js';
import { extractProgram } from '../../src/api/program.js';
import type { DType, TypedArray } from '../../src/ir/dtype.js';
import { makeGraph } from '../../src/ir/graph.js';
import { makeNode, type Node } from '../../src/ir/node.js';
import { sizeOf, stridesOf, type Shape } from '../../src/ir/shape.js';
import { executeGraph } from '../../src/runtime/cpu/executor.js';
import { WebGpuBackend } from '../../src/runtime/webgpu/backend.js';
import { setRowTuning, type RowTuning } from '../../src/shaders/row.js';
import { setRowSplitTuning } from '../../src/shaders/row-split.js';
import { hostArray, rng } from './differential.js';
import { testGpu } from './gpu.js';
import { reducedExtent } from './row-inputs.js';

type ReduceOp = 'sum' | 'prod' | 'max' | 'min' | 'argmax' | 'argmin';

const ctx = await testGpu();
// Without an adapter outside CI the GPU tests skip; in CI testGpu() has already failed.
const gpuIt = it.skipIf(!ctx);
afterEach(() => {
  setRowTuning(null);
  setRowSplitTuning(null);
});

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

// ---------------------------------------------------------------------------------------------------------
// Views: how the kernel's input index space reads the buffer, and the same view as IR layout ops for the CPU.

type ViewOp =
  | { readonly op: 'transpose'; readonly perm: readonly number[] }
  | { readonly op: 'expand'; readonly shape: Shape }
  | { readonly op: 'slice'; readonly begin: readonly number[]; readonly size: readonly number[] };

interface View {
  readonly shape: Shape;
  readonly access: { readonly offset: number; readonly strides: readonly number[] };
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

/**
 * The row layouts a reduction can take, forced through the row tuning (rows are not split but under 'auto').
 * Segmented rows need the device's subgroups and reduced innermost axes; elsewhere that layout is the
 * workgroup per row.
 */
type Layout = 'auto' | 'serial' | 'workgroup' | 'cached' | 'segmented' | 'short';
const WORKGROUP_ROWS: Partial<RowTuning> = { serialRow: 0, serialFactor: Number.POSITIVE_INFINITY, segmentThreads: 0 };
const LAYOUTS: Record<Layout, Partial<RowTuning> | null> = {
  auto: null,
  serial: { serialRow: Number.POSITIVE_INFINITY, shortRowValues: 0 },
  workgroup: { ...WORKGROUP_ROWS, cache: false },
  cached: WORKGROUP_ROWS,
  segmented: { serialRow: 0, serialFactor: Number.POSITIVE_INFINITY, segmentThreads: 8, segmentMinRows: 1 },
  // Short rows (16 to 64 elements) as segmented rows of extent / 8 threads, on however few rows.
  short: { segmentMinRows: 1 },
};
const ALL_LAYOUTS = Object.keys(LAYOUTS) as Layout[];

/** One backend per layout (plans are cached per backend, and each is lowered under its layout's tuning). */
const backends = new Map<Layout, WebGpuBackend>();
afterAll(() => {
  for (const b of backends.values()) b.destroy();
  ctx?.device.destroy();
});

function useLayout(layout: Layout): WebGpuBackend {
  setRowTuning(LAYOUTS[layout]);
  setRowSplitTuning(layout === 'auto' ? null : { enabled: false });
  let b = backends.get(layout);
  if (!b) backends.set(layout, (b = new WebGpuBackend(ctx!, { fusion: false })));
  return b;
}

const label = (c: Case, layout: Layout) => `${c.op} ${c.dtype}[${c.base.join(',')}]${c.view ? ` ${c.view.map((v) => v.op).join('+')}` : ''} axes [${c.axes.join(',')}] ${layout}`;

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

/** The reduction of case `c` over `data` as a program: the input tensor, its view, the reduction. */
function program(c: Case, data: TypedArray): Node {
  return reduceNode(c.op, viewNode(wg.tensor(data, c.base, c.dtype).node, c.view ?? []), c.axes);
}

/** Runs the reduction of `c` on the GPU under `layout`, checking the plan reduced it in the layout asked for. */
async function runLowered(c: Case, data: TypedArray, layout: Layout): Promise<TypedArray> {
  const backend = useLayout(layout);
  const { graph, args } = extractProgram([program(c, data)]);
  const plan = backend.plan(graph, args);
  for (const d of plan.dispatches) expect(d.kernel, label(c, layout)).toMatch(new RegExp(`^reduce\\.${c.op}\\.`));
  const header = plan.dispatches.map((d) => d.wgsl.split('\n').find((l) => l.startsWith('// row kernel')) ?? '').join(' ');
  if (plan.dispatches.length > 0 && layout === 'serial') expect(header, label(c, layout)).toContain('one thread per row');
  const shape = viewShape(c);
  const innermost = c.axes.every((a, k) => a === shape.length - c.axes.length + k);
  const extent = reducedExtent(shape, c.axes);
  // Short rows take T = extent / 8 threads (SwiftShader's subgroups have 4 lanes: T of 2 and 4 fit).
  if (layout === 'short' && backend.features.subgroups && innermost && extent >= 16 && extent < 64 && sizeOf(shape) > 0) {
    expect(header, label(c, layout)).toContain(`segmented: ${extent < 32 ? 2 : 4} threads per row`);
  }
  if (plan.dispatches.length > 0 && layout === 'workgroup' && extent > 0) {
    expect(header, label(c, layout)).toContain('one workgroup');
    expect(header, label(c, layout)).not.toContain('row cached');
  }
  const [out] = await backend.run(graph, args);
  try {
    return await backend.read(out);
  } finally {
    out.release();
  }
}

const viewShape = (c: Case) => applyView(c.base, c.view ?? []).shape;

/** Runs case `c` under each of `layouts` (all unless told) and compares with the reference. */
async function check(c: Case, layouts: readonly Layout[] = ALL_LAYOUTS) {
  const data = hostData(c);
  const { expected, magnitude } = reference(c, data);
  const extent = reducedExtent(viewShape(c), c.axes);
  for (const layout of layouts) compare(label(c, layout), c.op, c.dtype, await runLowered(c, data, layout), expected, extent, magnitude);
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
  { base: [6, 32], axes: [1] }, // short rows: segmented (layout 'short')
  { base: [9, 35], axes: [1] },
  { base: [7, 2, 16], axes: [1, 2] },
  { base: [4097], axes: [0] },
  { base: [3, 4097], axes: [1] },
  { base: [4097, 3], axes: [1] },
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

describe('lone reductions: every op and dtype over odd shapes, axes and views, every row layout', () => {
  for (const { op, dtypes } of MATRIX) {
    for (const dtype of dtypes) {
      gpuIt(`${op} ${dtype}`, async () => {
        const shapes = SHAPES.filter((s) => !isArg(op) || s.axes.length === 1);
        const all = op === 'sum' || op === 'prod' ? [...shapes, ...EMPTY_EXTENT] : shapes;
        for (const [k, s] of all.entries()) {
          const extent = reducedExtent(applyView(s.base, s.view ?? []).shape, s.axes);
          // Products of many floats leave f32's range: large extents take factors near 1.
          const gen = dtype === 'bool' ? boolDensity(op, extent) : op === 'prod' && dtype === 'float32' && extent > 100 ? GEN.nearOne : undefined;
          await check({ op, dtype, ...s, gen, seed: 1000 + k });
        }
      });
    }
  }
});

describe('lone reductions: the data the cases see is not degenerate', () => {
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

describe('lone reductions: large reduced extents', () => {
  const R = 100_000;
  gpuIt('float sums over 100k elements, signed and positive, exact on small integers', async () => {
    await check({ op: 'sum', dtype: 'float32', base: [R], axes: [0], gen: GEN.signed, seed: 11 });
    await check({ op: 'sum', dtype: 'float32', base: [2, R / 2], axes: [1], gen: GEN.positive, seed: 12 });
    // Small integers sum exactly in f32: the kernel must agree to the last bit, whatever its order.
    const c: Case = { op: 'sum', dtype: 'float32', base: [R], axes: [0], gen: GEN.smallInts, seed: 13 };
    const data = hostData(c);
    const { expected } = reference(c, data);
    for (const layout of ALL_LAYOUTS) expect(Array.from(await runLowered(c, data, layout)), layout).toEqual(Array.from(expected));
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

describe('lone reductions: launches beyond 65,535 workgroups fold into a 2-D grid', () => {
  const N = 70_001; // odd, so the folded grid has workgroups past the last row
  gpuIt('a workgroup per row: 70,001 rows of 3', async () => {
    const c: Case = { op: 'sum', dtype: 'float32', base: [N, 3], axes: [1], gen: GEN.signed, seed: 31 };
    const backend = useLayout('workgroup');
    const { graph, args } = extractProgram([program(c, hostData(c))]);
    const [d] = backend.plan(graph, args).dispatches;
    expect(d.workgroups[1]).toBeGreaterThan(1);
    expect(d.workgroups[0] * d.workgroups[1]).toBeGreaterThan(N);
    await check(c, ['workgroup']);
    await check({ op: 'argmin', dtype: 'int32', base: [N, 3], axes: [1], seed: 32 }, ['workgroup']);
  });

  gpuIt('one thread per row and the automatic layout: 70,001 rows of 3 and 3 columns of 70,001', async () => {
    for (const op of ['max', 'argmax', 'sum'] as const) {
      await check({ op, dtype: 'int32', base: [N, 3], axes: [1], seed: 33 }, ['serial', 'auto']);
      await check({ op, dtype: 'int32', base: [3, N], axes: [0], seed: 34 }, ['serial', 'auto']);
    }
  });
});

describe('lone reductions: NaN and infinities', () => {
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

describe('lone reductions: ties in argmax/argmin give the first index', () => {
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

describe('lone reductions: int32 sums wrap around', () => {
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
