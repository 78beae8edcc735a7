// Structural identity of a graph. Two graphs are the same program exactly when they print alike; tensor data is
// never part of the IR, so the same program run on new data finds its compiled plan again.
//   structuralCode: the graph as a list of numbers, built straight from the nodes without printing, equal for
//     two graphs exactly when they print alike; the plan cache keys on it (hashCode picks the bucket,
//     sameCode compares in full, so two programs never share a plan by chance).
//   structuralHash: a 64-bit hash of the printed text, 16 hex digits: a short name for dumps (dump-ir).
import { DTYPES } from './dtype.js';
import { orderOf, type Graph } from './graph.js';
import type { Node } from './node.js';
import { attrSchema, OP_NAMES } from './ops.js';
import { printGraph } from './printer.js';

const OP_CODE = new Map<string, number>(OP_NAMES.map((op, i) => [op, i]));
const DTYPE_CODE = new Map<string, number>(DTYPES.map((d, i) => [d, i]));
const ATTR_CODE = new Map<string, number>([...new Set(OP_NAMES.flatMap((op) => Object.keys(attrSchema(op))))].map((k, i) => [k, i]));

/**
 * Writes the code of `graph` into `out` from index `at` on and returns where it ends: the node count, then per
 * node in topological order (the printer's numbering) its op, operand count and operands (by position in that
 * order), dtype, rank and dimensions, attribute count and per attribute its name and a tagged value (0 number,
 * 1 boolean, 2 string, 3 list: with their lengths first); then the output count and outputs. Names the tables
 * above do not know (none in a verified graph) are written as -1 and their characters. Every variable-length
 * part is preceded by its length, so the code reads back unambiguously into exactly what the printer writes
 * (ops, operands, attributes in their order, numbers as values: compared with Object.is, as the printer tells
 * -0 from 0 and prints every NaN alike, types, outputs), and two graphs have equal codes exactly when they
 * print alike. Numbers past the end are left as they are, so a reused array costs no allocation.
 */
export function structuralCode(graph: Graph, out: number[] = [], at = 0): number {
  const order = orderOf(graph);
  const index = new Map<Node, number>();
  const w = { out, n: at };
  w.out[w.n++] = order.length;
  for (let i = 0; i < order.length; i++) {
    const node = order[i];
    index.set(node, i);
    writeName(w, OP_CODE, node.op);
    const inputs = node.inputs;
    out[w.n++] = inputs.length;
    for (let j = 0; j < inputs.length; j++) out[w.n++] = index.get(inputs[j]) ?? -1;
    writeName(w, DTYPE_CODE, node.dtype);
    const shape = node.shape;
    out[w.n++] = shape.length;
    for (let j = 0; j < shape.length; j++) out[w.n++] = shape[j];
    const attrs = node.attrs;
    const keys = Object.keys(attrs);
    out[w.n++] = keys.length;
    for (const key of keys) {
      writeName(w, ATTR_CODE, key);
      writeValue(w, attrs[key]);
    }
  }
  const outputs = graph.outputs;
  out[w.n++] = outputs.length;
  for (let j = 0; j < outputs.length; j++) out[w.n++] = index.get(outputs[j]) ?? -1;
  return w.n;
}

interface Writer {
  readonly out: number[];
  n: number;
}

function writeName(w: Writer, table: ReadonlyMap<string, number>, name: string): void {
  const code = table.get(name);
  if (code !== undefined) {
    w.out[w.n++] = code;
    return;
  }
  w.out[w.n++] = -1;
  writeString(w, String(name));
}

function writeString(w: Writer, s: string): void {
  w.out[w.n++] = s.length;
  for (let i = 0; i < s.length; i++) w.out[w.n++] = s.charCodeAt(i);
}

function writeValue(w: Writer, v: unknown): void {
  if (typeof v === 'number') {
    w.out[w.n++] = 0;
    w.out[w.n++] = v;
  } else if (typeof v === 'boolean') {
    w.out[w.n++] = 1;
    w.out[w.n++] = v ? 1 : 0;
  } else if (typeof v === 'string') {
    w.out[w.n++] = 2;
    writeString(w, v);
  } else if (Array.isArray(v)) {
    w.out[w.n++] = 3;
    w.out[w.n++] = v.length;
    for (const x of v) writeValue(w, x);
  } else {
    w.out[w.n++] = 4; // not an attribute value the IR has
    writeString(w, String(v));
  }
}

/** Whether the first `length` numbers of two codes are equal (Object.is: -0 is not 0, NaN is NaN). */
export function sameCode(a: readonly number[], b: readonly number[], length = a.length): boolean {
  if (a.length < length || b.length < length) return false;
  for (let i = 0; i < length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

/** A 32-bit hash (murmur3's mixing) of the first `length` numbers of a code; equal codes hash alike. */
export function hashCode(code: readonly number[], length = code.length): number {
  let h = 0x9747b28c ^ length;
  for (let i = 0; i < length; i++) {
    const v = code[i];
    if ((v | 0) === v) h = mix(h, v);
    else {
      f64[0] = v;
      h = mix(mix(h, u32[0]), u32[1]);
    }
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function mix(h: number, x: number): number {
  x = Math.imul(x, 0xcc9e2d51);
  x = (x << 15) | (x >>> 17);
  h ^= Math.imul(x, 0x1b873593);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** A 64-bit hash of the printed graph, as 16 hex digits; a name for dumps, not a cache key. */
export function structuralHash(graph: Graph): string {
  return fnv1a64(printGraph(graph));
}

const encoder = new TextEncoder();

/**
 * 64-bit FNV-1a over the UTF-8 bytes of `text`, as 16 hex digits. The state is kept as two u32 halves, which
 * is several times faster than BigInt arithmetic.
 */
export function fnv1a64(text: string): string {
  let hi = 0xcbf29ce4;
  let lo = 0x84222325;
  for (const byte of encoder.encode(text)) {
    lo ^= byte;
    // h *= 0x100000001b3 (mod 2^64), i.e. h*0x1b3 + (h << 40). lo*0x1b3 < 2^41 is exact in a double; h << 40
    // only adds lo's low 24 bits, shifted by 8, to the high half.
    const low = (lo >>> 0) * 0x1b3;
    const carry = Math.floor(low / 0x100000000);
    hi = (Math.imul(hi, 0x1b3) + carry + (lo << 8)) >>> 0;
    lo = low >>> 0;
  }
  return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
}
