// The elementwise kernel: one thread per element of the index space evaluates an expression (one op when
// unfused, a whole fused group later) and stores one or more results. Operands and results are read and
// written through accesses, so broadcast, transposed and sliced operands need no copies and a result can be
// written into a region of a larger buffer (concat).
//
// The vec4 variant: where every load is the flat row-major index of the space or a broadcast scalar (all
// strides 0), every store is flat, and the space has a multiple of 4 elements, each thread handles 4
// consecutive elements. Buffers the caller allows (spec.vec4) are bound as array<vec4<T>>: one vector load
// per flat operand, the expression emitted once per lane on the vector's components, one vector store per
// result. Generated leaves (iota, rand) use each lane's own flat index. Anything else is the scalar kernel.
import type { DType } from '../ir/dtype.js';
import { sizeOf, stridesOf, type Shape } from '../ir/shape.js';
import { emitExpr, indexOf, isFlatAccess, type Access, type Coords, type Expr } from './expr.js';
import { grid1d, LINEAR_WORKGROUP } from './grid.js';
import { fromStorage, STORAGE_TYPE, toStorage } from './wgsl.js';

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

export function generateElementwise(spec: ElementwiseSpec): ElementwiseKernel {
  const vectors = vec4Buffers(spec);
  if (vectors) return generateVec4(spec, vectors);
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

/**
 * The buffers the vec4 variant binds as vectors, or null when the kernel does not qualify: the space has a
 * positive multiple of 4 elements, every load is flat or a broadcast scalar, every store is flat, and at
 * least one flat buffer may be bound as vectors.
 */
function vec4Buffers(spec: ElementwiseSpec): Set<string> | null {
  if (!spec.vec4) return null;
  const n = sizeOf(spec.space);
  if (n === 0 || n % 4 !== 0) return null;
  const flat = new Set<string>();
  for (const step of spec.expr.steps) {
    if (step.kind === 'value') return null; // supplied by an enclosing kernel: not an elementwise kernel's
    if (step.kind !== 'load') continue;
    if (isFlatAccess(step.access, spec.space)) flat.add(step.buffer);
    else if (!step.access.strides.every((s) => s === 0)) return null;
  }
  for (const s of spec.stores) {
    if (!isFlatAccess(s.access, spec.space)) return null;
    flat.add(s.buffer);
  }
  const bound = new Set([...flat].filter((b) => spec.vec4!(b)));
  return bound.size > 0 ? bound : null;
}

function generateVec4(spec: ElementwiseSpec, vectors: ReadonlySet<string>): ElementwiseKernel {
  const n = sizeOf(spec.space);
  const groups = n / 4;
  const dtypeOf = (buffer: string) => spec.buffers.find((b) => b.name === buffer)!.dtype;
  // One vector load per flat operand buffer, one scalar load per broadcast operand, both before the lanes.
  const loads: string[] = [];
  const loaded = new Set<string>();
  const broadcast = new Map<number, string>();
  spec.expr.steps.forEach((step, i) => {
    if (step.kind !== 'load') return;
    if (isFlatAccess(step.access, spec.space)) {
      if (vectors.has(step.buffer) && !loaded.has(step.buffer)) {
        loaded.add(step.buffer);
        loads.push(`let q_${step.buffer} = ${step.buffer}[j];`);
      }
      return;
    }
    const off = step.access.offset;
    const element = vectors.has(step.buffer) ? `${step.buffer}[${Math.floor(off / 4)}u].${LANES[off % 4]}` : `${step.buffer}[${off}u]`;
    broadcast.set(i, `b${i}`);
    loads.push(`let b${i} = ${fromStorage(step.dtype, element)};`);
  });
  const helpers = new Set<string>();
  const lanes = LANES.map((lane, k) => {
    const { code: coordCode, coords } = coordsOf(spec.space, `i${k}`, `k${k}c`);
    const body = emitExpr(spec.expr, coords, `l${k}_`, {
      loadValue: (i, step) => {
        const b = broadcast.get(i);
        if (b) return b;
        return vectors.has(step.buffer) ? fromStorage(step.dtype, `q_${step.buffer}.${lane}`) : fromStorage(step.dtype, `${step.buffer}[i${k}]`);
      },
    });
    body.helpers.forEach((h) => helpers.add(h));
    return { coordCode, body };
  });
  const stores = spec.stores.flatMap((s) => {
    const dtype = dtypeOf(s.buffer);
    const values = lanes.map(({ body }) => toStorage(dtype, body.value(s.step)));
    if (vectors.has(s.buffer)) return [`${s.buffer}[j] = vec4<${STORAGE_TYPE[dtype]}>(${values.join(', ')});`];
    return values.map((v, k) => `${s.buffer}[i${k}] = ${v};`);
  });
  const laneCode = lanes.flatMap(({ coordCode, body }) => [...coordCode, ...body.code]);
  const statements = pruneLets([...LANES.map((_, k) => `let i${k} = j * 4u${k ? ` + ${k}u` : ''};`), ...loads, ...laneCode], stores);
  const wgsl = [
    `// elementwise, vec4: each thread computes 4 consecutive elements of [${spec.space.join(', ')}]`,
    ...bufferDecls(spec.buffers, vectors),
    ...helpers,
    '',
    `@compute @workgroup_size(${WORKGROUP})`,
    'fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {',
    `  let j = (${LINEAR_WORKGROUP}) * ${WORKGROUP}u + lid;`,
    `  if (j >= ${groups}u) { return; }`,
    ...[...statements, ...stores].map((l) => `  ${l}`),
    '}',
    '',
  ].join('\n');
  return { wgsl, entryPoint: 'main', workgroups: grid1d(Math.ceil(groups / WORKGROUP)), vec4: true };
}

/** Drops index and coordinate lets (`let i<k>`, `let k<k>c<d>`) that no later line uses: dumps stay readable. */
function pruneLets(lines: readonly string[], after: readonly string[]): string[] {
  const keep = lines.map(() => true);
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = /^let (i\d|k\dc\d+) = /.exec(lines[i]);
    if (!m) continue;
    const used = new RegExp(`\\b${m[1]}\\b`);
    keep[i] = lines.some((l, j) => j > i && keep[j] && used.test(l)) || after.some((l) => used.test(l));
  }
  return lines.filter((_, i) => keep[i]);
}
