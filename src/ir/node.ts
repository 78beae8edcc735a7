// An IR node: op, inputs, dtype, shape and attributes, all immutable (frozen; passes change attributes with
// immer's produce, see src/passes/rewrite.ts). Identity matters (a node used twice
// is one value computed once), so nodes are compared by reference; `id` only orders and names them in dumps.
import { isDType, type DType } from './dtype.js';
import { ShapeError, VerifyError } from './errors.js';
import { attrSchema, OPS, type AttrType, type AttrValue, type Attrs, type OpName, type TypeInfo } from './ops.js';
import { checkShape, checkSize, fmtShape, shapesEqual, type Shape } from './shape.js';

export interface Node {
  readonly id: number;
  readonly op: OpName;
  readonly inputs: readonly Node[];
  readonly dtype: DType;
  readonly shape: Shape;
  readonly attrs: Attrs;
}

let nextId = 0;

/**
 * Builds a node, checking its attributes against the op's schema and inferring its type.
 * Leaves (input, const, iota, rand) take their type explicitly; for other ops an explicit type must match
 * the inferred one (the parser passes the annotated type to catch hand-written mistakes).
 */
export function makeNode(op: OpName, inputs: readonly Node[], attrs: Record<string, AttrValue> = {}, type?: TypeInfo): Node {
  const spec = OPS[op];
  if (spec.arity >= 0 && inputs.length !== spec.arity) {
    throw new VerifyError(`${op}: expects ${spec.arity} operand(s), got ${inputs.length}`);
  }
  const canonical = canonicalAttrs(op, attrs);
  let inferred: TypeInfo;
  if (spec.kind === 'leaf') {
    if (!type) throw new VerifyError(`${op}: a leaf needs an explicit dtype and shape`);
    checkLeaf(op, canonical, type);
    inferred = type;
  } else {
    inferred = spec.infer(inputs, canonical);
    checkSize(inferred.shape, op);
    if (type && (type.dtype !== inferred.dtype || !shapesEqual(type.shape, inferred.shape))) {
      throw new VerifyError(
        `${op}: annotated type ${type.dtype}${fmtShape(type.shape)} differs from the inferred ${inferred.dtype}${fmtShape(inferred.shape)}`,
      );
    }
  }
  // Shallow freezes suffice: operands are nodes, frozen when they were made, and attrs are frozen by
  // canonicalAttrs. (A deep freeze would walk the whole graph below the node on every makeNode.)
  return Object.freeze({
    id: nextId++,
    op,
    inputs: Object.freeze([...inputs]),
    dtype: inferred.dtype,
    shape: Object.freeze([...inferred.shape]),
    attrs: canonical,
  });
}

/**
 * `node` with new operands and attributes, for passes that rebuild a node whose operands were rewritten.
 * The op's type inference is a function of the operand types and the attributes, so when every operand
 * keeps its dtype and shape and `typeNeutral` says the attributes changed nowhere that inference reads
 * (only `group`, fusion's kernel annotation), the old type stands and is not inferred again: this is what
 * keeps a fusion pass, which rebuilds everything downstream of its first group, linear and cheap.
 * Otherwise it is makeNode. `canonical` says `attrs` are already checked, sorted and frozen (a node's own
 * attributes with only `group` changed), so they are taken as they are.
 */
export function remakeNode(node: Node, inputs: readonly Node[], attrs: Attrs, typeNeutral: boolean, canonical = false): Node {
  const sameTypes =
    typeNeutral &&
    inputs.length === node.inputs.length &&
    inputs.every((x, i) => x.dtype === node.inputs[i].dtype && shapesEqual(x.shape, node.inputs[i].shape));
  if (!sameTypes) return makeNode(node.op, inputs, { ...attrs } as Record<string, AttrValue>);
  return Object.freeze({
    id: nextId++,
    op: node.op,
    inputs: inputs === node.inputs ? inputs : Object.freeze([...inputs]),
    dtype: node.dtype,
    shape: node.shape,
    attrs: attrs === node.attrs || canonical ? attrs : canonicalAttrs(node.op, attrs),
  });
}

function checkLeaf(op: OpName, attrs: Attrs, type: TypeInfo): void {
  if (!isDType(type.dtype)) throw new VerifyError(`${op}: unknown dtype ${String(type.dtype)}`);
  checkShape(type.shape, op);
  if (op === 'iota' && ((attrs.axis as number) < 0 || (attrs.axis as number) >= type.shape.length)) {
    throw new ShapeError(`iota: axis ${String(attrs.axis)} is out of range for shape ${fmtShape(type.shape)}`);
  }
  if (op === 'iota' && type.dtype !== 'int32') throw new VerifyError(`iota: produces int32, not ${type.dtype}`);
  if (op === 'rand' && (type.dtype !== 'float32' || (attrs.dist !== 'uniform' && attrs.dist !== 'normal'))) {
    throw new VerifyError(`rand: produces float32 with dist "uniform" or "normal", got ${type.dtype} and ${String(attrs.dist)}`);
  }
}

/** One attribute of an op's schema, parsed once (canonicalAttrs runs for every node made). */
interface AttrEntry {
  readonly key: string;
  readonly base: AttrType;
  readonly optional: boolean;
}

const parsedSchemas = new Map<OpName, readonly AttrEntry[]>();

/** The op's attributes in sorted key order, with their types parsed. */
function schemaEntries(op: OpName): readonly AttrEntry[] {
  let entries = parsedSchemas.get(op);
  if (!entries) {
    const schema: Readonly<Record<string, string>> = attrSchema(op);
    entries = Object.keys(schema)
      .sort()
      .map((key) => {
        const t = schema[key];
        return { key, base: t.replace('?', '') as AttrType, optional: t.endsWith('?') || t === 'flag' };
      });
    parsedSchemas.set(op, entries);
  }
  return entries;
}

/** Checks attribute names and types; drops false flags (a flag is stored only when set) and sorts keys. */
function canonicalAttrs(op: OpName, attrs: Record<string, AttrValue>): Attrs {
  const schema: Readonly<Record<string, string>> = attrSchema(op);
  const out: Record<string, AttrValue> = {};
  for (const key in attrs) {
    if (Object.hasOwn(attrs, key) && !Object.hasOwn(schema, key)) throw new VerifyError(`${op}: unknown attribute '${key}'`);
  }
  for (const { key, base, optional } of schemaEntries(op)) {
    const v = attrs[key];
    if (v === undefined) {
      if (!optional) throw new VerifyError(`${op}: missing attribute '${key}'`);
      continue;
    }
    if (!attrMatches(base, v)) throw new VerifyError(`${op}: attribute '${key}' must be ${base}, got ${JSON.stringify(v)}`);
    if (base === 'flag' && v === false) continue;
    out[key] = Array.isArray(v) ? Object.freeze([...v]) : v;
  }
  return Object.freeze(out);
}

function attrMatches(t: AttrType, v: AttrValue): boolean {
  switch (t) {
    case 'int':
      return typeof v === 'number' && Number.isInteger(v);
    case 'number':
      return typeof v === 'number';
    case 'ints':
      return Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isInteger(x));
    case 'flag':
      return typeof v === 'boolean';
    case 'string':
      return typeof v === 'string';
    case 'dtype':
      return isDType(v);
  }
}
