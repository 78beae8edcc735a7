// The elementwise kernel: one thread per element of the index space evaluates an expression (one op when
// unfused, a whole fused group later) and stores one or more results. Operands and results are read and
// written through accesses, so broadcast, transposed and sliced operands need no copies and a result can be
// written into a region of a larger buffer (concat).
import type { DType } from '../ir/dtype.js';
import { sizeOf, stridesOf, type Shape } from '../ir/shape.js';
import { emitExpr, indexOf, type Access, type Coords, type Expr } from './expr.js';
import { grid1d, LINEAR_WORKGROUP } from './grid.js';
import { STORAGE_TYPE, toStorage } from './wgsl.js';

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
}

export interface GeneratedKernel {
  readonly wgsl: string;
  readonly entryPoint: string;
  readonly workgroups: [number, number, number];
}

const WORKGROUP = 256;

export function bufferDecls(buffers: readonly KernelBuffer[]): string[] {
  return buffers.map((b, i) => `@group(0) @binding(${i}) var<storage, ${b.access}> ${b.name}: array<${STORAGE_TYPE[b.dtype]}>;`);
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

export function generateElementwise(spec: ElementwiseSpec): GeneratedKernel {
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
  return { wgsl, entryPoint: 'main', workgroups: grid1d(Math.ceil(n / WORKGROUP)) };
}
