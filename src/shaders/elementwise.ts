// The elementwise kernel: one thread per element of the index space evaluates an expression (one op when
// unfused, a whole fused group later) and stores one or more results. Operands and results are read and
// written through accesses, so broadcast, transposed and sliced operands need no copies and a result can be
// written into a region of a larger buffer (concat).
//
// The vec4 variant: each thread handles 4 consecutive elements (or several such vectors: ElementwiseTuning),
// where the space has a multiple of 4 elements and either
// - its last axis has a multiple of 4 elements ("rows" mode): the 4 lanes share every coordinate but the
//   last, so any access works: a vector load or store where the access has stride 1 along the last axis
//   and is 16-byte aligned (a flat operand, a row bias, a concat part at an aligned offset), one shared
//   element where it has stride 0 there (a per-row mean), one element per lane otherwise (a transposed
//   operand: lane k at lane 0's index + k * stride, no division per lane); or
// - every load is flat or one constant element and every store is flat ("flat" mode, e.g. [3, 5, 7, 4]
//   reshaped or a space whose last axis is odd).
// Buffers the caller allows (spec.vec4) with a vector access are bound as array<vec4<T>> (a stored buffer
// only where all its stores are vectors); other accesses to such a buffer read a component. The expression
// is emitted once per lane on the vectors' components. Generated leaves (iota, rand) use each lane's own
// index. Anything else is the scalar kernel.
import type { DType } from '../ir/dtype.js';
import { sizeOf, stridesOf, type Shape } from '../ir/shape.js';
import { emitExpr, indexOf, isFlatAccess, type Access, type Coords, type Expr, type LoadStep } from './expr.js';
import { grid1d, LINEAR_WORKGROUP } from './grid.js';
import { tuning } from './tuning.js';
import { fromStorage, indent, STORAGE_TYPE, toStorage } from './wgsl.js';

export interface KernelBuffer {
  readonly name: string;
  readonly dtype: DType;
  readonly access: 'read' | 'read_write';
}

export interface ElementwiseSpec {
  readonly space: Shape;
  readonly expr: Expr;
  /** Buffers in binding order; loads and stores name them. */
  readonly buffers: readonly KernelBuffer[];
  readonly stores: readonly { readonly step: number; readonly buffer: string; readonly access: Access }[];
  /**
   * Which buffers may be bound as array<vec4<T>> (the caller knows their device buffers hold whole 16-byte
   * groups over what is read); absent: the scalar kernel only. The generator decides whether the kernel
   * qualifies; a flat load from a buffer not allowed here reads one element per lane.
   */
  readonly vec4?: (buffer: string) => boolean;
}

export interface ElementwiseKernel extends GeneratedKernel {
  /** Whether this is the vec4 variant (each thread handles 4 consecutive elements). */
  readonly vec4: boolean;
}

export interface GeneratedKernel {
  readonly wgsl: string;
  readonly entryPoint: string;
  readonly workgroups: [number, number, number];
}

const WORKGROUP = 256;

/** `@binding(i)` declarations; buffers named in `vec4` are bound as arrays of 4-vectors. */
export function bufferDecls(buffers: readonly KernelBuffer[], vec4: ReadonlySet<string> = new Set()): string[] {
  return buffers.map((b, i) => {
    const t = STORAGE_TYPE[b.dtype];
    return `@group(0) @binding(${i}) var<storage, ${b.access}> ${b.name}: array<${vec4.has(b.name) ? `vec4<${t}>` : t}>;`;
  });
}

/** Per-axis coordinates of the flat index `flat` over `shape`, as WGSL `let` statements. */
export function coordsOf(shape: Shape, flat: string, prefix = 'c'): { code: string[]; coords: Coords } {
  const strides = stridesOf(shape);
  const names = shape.map((_, d) => `${prefix}${d}`);
  const code = shape.map((extent, d) => {
    const q = strides[d] === 1 ? flat : `${flat} / ${strides[d]}u`;
    return `let ${names[d]} = ${d === 0 ? q : `(${q}) % ${extent}u`};`;
  });
  return { code, coords: { names, flat: { name: flat, shape } } };
}

export function generateElementwise(spec: ElementwiseSpec, t: ElementwiseTuning = knob.get()): ElementwiseKernel {
  const plan = vectorPlan(spec);
  if (plan) return generateVec4(spec, plan, t);
  const n = sizeOf(spec.space);
  const { code: coordCode, coords } = coordsOf(spec.space, 'i');
  const body = emitExpr(spec.expr, coords);
  // Only the coordinates an index actually uses are computed: the WGSL compiler drops unused lets anyway,
  // but the text stays readable in dumps.
  const stores = spec.stores.map((s) => {
    const dtype = spec.buffers.find((b) => b.name === s.buffer)!.dtype;
    return `${s.buffer}[${indexOf(s.access, coords)}] = ${toStorage(dtype, body.value(s.step))};`;
  });
  const statements = [...coordCode, ...body.code, ...stores];
  const used = statements.slice(coordCode.length).join('\n');
  const neededCoords = coordCode.filter((_, d) => used.includes(`c${d}`) || coordCode.slice(d + 1).some((l) => l.includes(`c${d}`)));
  const wgsl = [
    ...bufferDecls(spec.buffers),
    ...body.helpers,
    '',
    `@compute @workgroup_size(${WORKGROUP})`,
    'fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {',
    `  let i = (${LINEAR_WORKGROUP}) * ${WORKGROUP}u + lid;`,
    `  if (i >= ${n}u) { return; }`,
    ...[...neededCoords, ...body.code, ...stores].map((l) => `  ${l}`),
    '}',
    '',
  ].join('\n');
  return { wgsl, entryPoint: 'main', workgroups: grid1d(Math.ceil(n / WORKGROUP)), vec4: false };
}

const LANES = ['x', 'y', 'z', 'w'] as const;

/** How each load and store of the vec4 kernel reaches memory. */
type LaneAccess =
  /** One vector load/store per step at `index` (a vector index). */
  | { readonly kind: 'vector'; readonly index: string }
  /** One element shared by the 4 lanes (a broadcast along the last axis), at element index `index`. */
  | { readonly kind: 'shared'; readonly index: string }
  /** One element per lane: element index of lane k is `index(k)`. */
  | { readonly kind: 'lane'; readonly index: (lane: number) => string };

interface VectorPlan {
  /**
   * flat: lane k is flat element 4j + k and every access is flat or one constant element; rows: the last
   * axis has a multiple of 4 elements, so the 4 lanes share every coordinate but the last (lane k: last + k),
   * and any access works (vector where the last axis has stride 1 and everything is 16-byte aligned).
   */
  readonly mode: 'flat' | 'rows';
  /** Buffers bound as array<vec4<T>>. */
  readonly vectors: ReadonlySet<string>;
  readonly loads: ReadonlyMap<number, LaneAccess>;
  readonly stores: readonly LaneAccess[];
}

/** Vectors per thread and threads per workgroup of the vec4 kernel (the scalar kernel has 1 x 256). */
export interface ElementwiseTuning {
  /** At most this many vectors per thread... */
  readonly vectorsPerThread: number;
  /** ...and fewer where the launch would have fewer than this many threads (small tensors keep 1). */
  readonly minThreads: number;
  readonly workgroupSize: number;
}

/**
 * Default: 4 vectors per thread while at least 128k threads remain (measured on an H100: 7-15% faster than
 * one vector per thread on 16M and 64M floats; docs/performance.md).
 */
export const DEFAULT_ELEMENTWISE_TUNING: ElementwiseTuning = { vectorsPerThread: 4, minThreads: 131072, workgroupSize: 256 };

const knob = tuning(DEFAULT_ELEMENTWISE_TUNING);

/** The tuning generateElementwise uses when given none. */
export const elementwiseTuning = knob.get;

/** Replaces the process-wide tuning (fields not given keep their defaults); null restores the defaults. */
export const setElementwiseTuning = knob.set;

/**
 * The vec4 plan, or null when the kernel does not qualify (then it is the scalar kernel): the space has a
 * positive multiple of 4 elements and, in flat mode, every load is flat or a broadcast scalar and every
 * store flat; in rows mode (last axis a multiple of 4) anything goes. At least one buffer must be bound as
 * vectors (the caller allows it, and every access to it is a vector access, or an element access of a read).
 */
function vectorPlan(spec: ElementwiseSpec): VectorPlan | null {
  if (!spec.vec4) return null;
  const { space } = spec;
  const n = sizeOf(space);
  if (n === 0 || n % 4 !== 0) return null;
  const last = space.length - 1;
  const mode = space[last] % 4 === 0 ? 'rows' : 'flat';
  const lane0: Coords = { names: space.map((_, d) => `c${d}`), flat: { name: 'i0', shape: space } };
  // Candidates: which accesses could be vectors, which are shared or per lane.
  /** A vector candidate also says lane 0's element index (`base`), for when its buffer is bound as scalars. */
  type Classified = { kind: 'vector'; index: string; base: string } | { kind: 'shared'; index: string } | { kind: 'lane'; index: (lane: number) => string };
  const classify = (access: Access): Classified | null => {
    if (isFlatAccess(access, space)) return { kind: 'vector', index: 'j', base: 'i0' };
    const s = access.strides[last] ?? 0;
    if (mode === 'flat') {
      if (!access.strides.every((x) => x === 0)) return null;
      return { kind: 'shared', index: `${access.offset}u` };
    }
    const i0 = indexOf(access, lane0);
    if (s === 0) return { kind: 'shared', index: i0 };
    if (s === 1 && access.offset % 4 === 0 && access.strides.every((x, d) => d === last || x % 4 === 0)) return { kind: 'vector', index: `(${i0}) / 4u`, base: i0 };
    return { kind: 'lane', index: (k) => (k === 0 ? i0 : `${i0} + ${k * s}u`) };
  };
  const loads = new Map<number, Classified>();
  for (const [i, step] of spec.expr.steps.entries()) {
    if (step.kind === 'value') return null; // supplied by an enclosing kernel: not an elementwise kernel's
    if (step.kind !== 'load') continue;
    const c = classify(step.access);
    if (!c) return null;
    loads.set(i, c);
  }
  const stores: Classified[] = [];
  for (const s of spec.stores) {
    const c = classify(s.access);
    if (!c || c.kind === 'shared') return null;
    stores.push(c);
  }
  // A buffer is bound as vectors when allowed, it has a vector access, and every store to it is a vector.
  const vectors = new Set<string>();
  const candidates = [
    ...[...loads].map(([i, c]) => [(spec.expr.steps[i] as LoadStep).buffer, c] as const),
    ...spec.stores.map((s, k) => [s.buffer, stores[k]] as const),
  ];
  for (const [buffer, c] of candidates) if (c.kind === 'vector' && spec.vec4(buffer)) vectors.add(buffer);
  spec.stores.forEach((s, k) => {
    if (stores[k].kind !== 'vector') vectors.delete(s.buffer);
  });
  if (vectors.size === 0) return null;
  // Vector candidates of buffers bound as scalars read or write one element per lane.
  const laneOf = (c: Classified): LaneAccess => {
    if (c.kind !== 'vector') return c;
    if (c.index === 'j') return { kind: 'lane', index: (k) => `i${k}` };
    return { kind: 'lane', index: (k) => (k === 0 ? c.base : `${c.base} + ${k}u`) };
  };
  const final = (buffer: string, c: Classified): LaneAccess => (c.kind === 'vector' && !vectors.has(buffer) ? laneOf(c) : c.kind === 'vector' ? { kind: 'vector', index: c.index } : c);
  return {
    mode,
    vectors,
    loads: new Map([...loads].map(([i, c]) => [i, final((spec.expr.steps[i] as LoadStep).buffer, c)])),
    stores: spec.stores.map((s, k) => final(s.buffer, stores[k])),
  };
}

/** An element of `buffer` as a WGSL reference (a component of a vector where the buffer is bound as vectors). */
function element(buffer: string, index: string, vectors: ReadonlySet<string>): string {
  if (!vectors.has(buffer)) return `${buffer}[${index}]`;
  const m = /^(\d+)u$/.exec(index);
  if (m) return `${buffer}[${Math.floor(Number(m[1]) / 4)}u].${LANES[Number(m[1]) % 4]}`;
  return `${buffer}[(${index}) >> 2u][(${index}) & 3u]`;
}

function generateVec4(spec: ElementwiseSpec, plan: VectorPlan, tuning: ElementwiseTuning): ElementwiseKernel {
  const { space } = spec;
  const { vectors } = plan;
  const n = sizeOf(space);
  const groups = n / 4;
  const last = space.length - 1;
  const dtypeOf = (buffer: string) => spec.buffers.find((b) => b.name === buffer)!.dtype;
  const helpers = new Set<string>();
  // The statements computing vector j (`j` in scope): lane indices and coordinates (pruned to what is used),
  // loads before the lanes, then each lane's expression, then the stores.
  const head: string[] = LANES.map((_, k) => `let i${k} = j * 4u${k ? ` + ${k}u` : ''};`);
  const lane0 = coordsOf(space, 'i0', 'c');
  if (plan.mode === 'rows') head.push(...lane0.code, ...[1, 2, 3].map((k) => `let c${last}_${k} = c${last} + ${k}u;`));
  const loads: string[] = [];
  const loaded = new Map<string, string>();
  const values = new Map<number, string>();
  for (const [i, a] of plan.loads) {
    const step = spec.expr.steps[i] as LoadStep;
    if (a.kind === 'vector') {
      const key = `${step.buffer}[${a.index}]`;
      if (!loaded.has(key)) {
        loaded.set(key, `q${loaded.size}`);
        loads.push(`let q${loaded.size - 1} = ${key};`);
      }
    } else if (a.kind === 'shared') {
      values.set(i, `b${i}`);
      loads.push(`let b${i} = ${fromStorage(step.dtype, element(step.buffer, a.index, vectors))};`);
    }
  }
  const lanes = LANES.map((lane, k) => {
    let coordCode: string[] = [];
    let coords: Coords;
    if (plan.mode === 'flat') {
      const c = coordsOf(space, `i${k}`, `k${k}c`);
      coordCode = c.code;
      coords = c.coords;
    } else {
      coords = { names: space.map((_, d) => (d === last && k > 0 ? `c${last}_${k}` : `c${d}`)), flat: { name: `i${k}`, shape: space } };
    }
    const body = emitExpr(spec.expr, coords, `l${k}_`, {
      loadValue: (i, step) => {
        const a = plan.loads.get(i)!;
        if (a.kind === 'shared') return values.get(i);
        if (a.kind === 'vector') return fromStorage(step.dtype, `${loaded.get(`${step.buffer}[${a.index}]`)}.${lane}`);
        return fromStorage(step.dtype, element(step.buffer, a.index(k), vectors));
      },
    });
    body.helpers.forEach((h) => helpers.add(h));
    return { coordCode, body };
  });
  const stores = spec.stores.flatMap((s, m) => {
    const dtype = dtypeOf(s.buffer);
    const a = plan.stores[m];
    const vals = lanes.map(({ body }) => toStorage(dtype, body.value(s.step)));
    if (a.kind === 'vector') return [`${s.buffer}[${a.index}] = vec4<${STORAGE_TYPE[dtype]}>(${vals.join(', ')});`];
    if (a.kind === 'lane') return vals.map((v, k) => `${s.buffer}[${a.index(k)}] = ${v};`);
    throw new Error('internal: a shared store');
  });
  const laneCode = lanes.flatMap(({ coordCode, body }) => [...coordCode, ...body.code]);
  const vectorBody = pruneLets([...head, ...loads, ...laneCode], stores).concat(stores);

  const v = Math.max(1, Math.min(Math.floor(tuning.vectorsPerThread), Math.floor(groups / Math.max(1, tuning.minThreads))));
  const wgSize = tuning.workgroupSize;
  const perGroup = wgSize * v;
  const main: string[] = [];
  if (v === 1) {
    main.push(`let j = (${LINEAR_WORKGROUP}) * ${wgSize}u + lid;`, `if (j >= ${groups}u) { return; }`, ...vectorBody);
  } else {
    // Every thread takes v vectors, a workgroup's v * size consecutive vectors in v coalesced rounds. The
    // common case (all v in range) is straight-line code, so the loads of all rounds can be issued first.
    main.push(
      `let base = (${LINEAR_WORKGROUP}) * ${perGroup}u + lid;`,
      `if (base + ${(v - 1) * wgSize}u < ${groups}u) {`,
      ...Array.from({ length: v }, (_, u) => [`  {`, `    let j = base + ${u * wgSize}u;`, ...indent(vectorBody, 2), '  }']).flat(),
      '} else {',
      `  for (var u = 0u; u < ${v}u; u += 1u) {`,
      `    let j = base + u * ${wgSize}u;`,
      `    if (j >= ${groups}u) { break; }`,
      ...indent(vectorBody, 2),
      '  }',
      '}',
    );
  }
  const wgsl = [
    `// elementwise, vec4: each thread computes ${v > 1 ? `${v} x ` : ''}4 consecutive elements of [${space.join(', ')}]${plan.mode === 'rows' ? ' (4 along the last axis)' : ''}`,
    ...bufferDecls(spec.buffers, vectors),
    ...helpers,
    '',
    `@compute @workgroup_size(${wgSize})`,
    'fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {',
    ...main.map((l) => `  ${l}`),
    '}',
    '',
  ].join('\n');
  return { wgsl, entryPoint: 'main', workgroups: grid1d(Math.ceil(groups / perGroup)), vec4: true };
}


/** Drops index and coordinate lets (`let i<k>`, `let c<d>`, `let c<d>_<k>`, `let k<k>c<d>`) no later line uses. */
function pruneLets(lines: readonly string[], after: readonly string[]): string[] {
  const keep = lines.map(() => true);
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = /^let (i\d|c\d+(?:_\d)?|k\dc\d+) = /.exec(lines[i]);
    if (!m) continue;
    const used = new RegExp(`\\b${m[1]}\\b`);
    keep[i] = lines.some((l, j) => j > i && keep[j] && used.test(l)) || after.some((l) => used.test(l));
  }
  return lines.filter((_, i) => keep[i]);
}
