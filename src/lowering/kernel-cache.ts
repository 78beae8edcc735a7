// The kernels one lowering has generated, by the spec they came from. A program of repeated blocks asks
// for the same kernel again and again (the 1,000-node compile benchmark: 162 dispatches, 12 distinct WGSL
// modules), and every generator in src/shaders is a pure function of its spec and options, so an equal
// spec gets the very same result instead of a second generation. The cache lives as long as one lowering:
// nothing outside the spec (tuning tables, device features) can change while it is alive.
//
// Keys are the spec written out in full, never a hash: two specs share a kernel only when every field a
// generator could read is equal. The text is JSON.stringify's (native: a spec is a few kilobytes, and a
// key written in JS cost a tenth of the whole compile), which is exact for what specs hold, by construction
// of the lowering:
// - plain data only: a function would be dropped silently, so the lowering resolves the one it has (which
//   buffers may be vec4) to an array before keying;
// - integers everywhere (shapes, strides, offsets, sizes, tile geometry), where -0 and 0 behave alike;
// - the only other numbers are op attributes (a constant's value, clamp bounds), and those are held as
//   kernelAttrs() objects, which write -0, NaN and the infinities by name instead of JSON's 0 and null.
import type { AttrValue, Attrs } from '../ir/ops.js';

export class KernelCache {
  private readonly entries = new Map<string, unknown>();
  /** Specs answered from the cache. */
  hits = 0;

  /** A disabled cache generates every time (tests compare the two). */
  constructor(private readonly enabled = true) {}

  /** generate(spec), or what it returned for an equal spec of the same kind earlier in this lowering. */
  get<S, R>(kind: string, spec: S, generate: (spec: S) => R): R {
    if (!this.enabled) return generate(spec);
    const key = kind + JSON.stringify(spec);
    if (this.entries.has(key)) {
      this.hits++;
      return this.entries.get(key) as R;
    }
    const result = generate(spec);
    this.entries.set(key, result);
    return result;
  }
}

/** A number JSON cannot write as itself: -0 (written 0), NaN and the infinities (written null). */
function inexact(v: unknown): boolean {
  return typeof v === 'number' && (!Number.isFinite(v) || Object.is(v, -0));
}

function exactValue(v: AttrValue): unknown {
  const exact = (x: unknown) => (inexact(x) ? { number: Object.is(x, -0) ? '-0' : String(x) } : x);
  return Array.isArray(v) ? v.map(exact) : exact(v);
}

/**
 * The prototype of kernel attributes: JSON.stringify calls toJSON, which writes an inexact number as
 * `{"number":"-0"}` (no attribute value is an object, so this cannot equal another attribute's text).
 */
const EXACT_JSON = {
  toJSON(this: Record<string, AttrValue>): unknown {
    const keys = Object.keys(this);
    // Returned as is, it is written as a plain object (toJSON is not asked again for the same value).
    if (!keys.some((k) => inexact(this[k]) || (Array.isArray(this[k]) && (this[k] as number[]).some(inexact)))) return this;
    const out: Record<string, unknown> = {};
    for (const k of keys) out[k] = exactValue(this[k]);
    return out;
  },
};

/**
 * An op's attributes as a kernel spec holds them: the same fields, minus `group` (which only says which
 * kernel a node is in, so equal members of two groups make equal specs), keyed exactly. Only attributes
 * holding an inexact number get the EXACT_JSON prototype: an object with toJSON takes JSON.stringify off
 * its fast path, and almost no attribute needs it.
 */
export function kernelAttrs(attrs: Attrs): Attrs {
  let special = false;
  for (const k of Object.keys(attrs)) {
    const v = attrs[k];
    if (inexact(v) || (Array.isArray(v) && v.some(inexact))) special = true;
  }
  if (!special && attrs.group === undefined) return attrs;
  const out = (special ? Object.create(EXACT_JSON) : {}) as Record<string, AttrValue>;
  for (const k of Object.keys(attrs)) if (k !== 'group') out[k] = attrs[k];
  return out as Attrs;
}
