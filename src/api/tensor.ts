// The lazy tensor: every method builds an IR node and returns a new Tensor; nothing runs until a value is
// asked for (`data`, `array`, `item`, `wg.evaluate`). Arguments are checked here, where the user called,
// so a bad shape or dtype fails at the line that caused it.
import { isDType, type DType, type TypedArray } from '../ir/dtype.js';
import { ArgumentError, DTypeError, ShapeError, WgfuseError } from '../ir/errors.js';
import { makeNode, type Node } from '../ir/node.js';
import { isOpName, type OpName } from '../ir/ops.js';
import { describe, fmtShape, normalizeAxes, normalizeAxis, sizeOf } from '../ir/shape.js';
import { DeviceLostError } from '../runtime/errors.js';
import type { Storage } from '../runtime/storage.js';
import { activeBackend, residencyProblem } from './context.js';
import { toNested, type NestedArray } from './host-data.js';
import { forgetRealized, setRealized } from './program.js';
import { asCalled, asNode, castNode, commonDType, rejectBool, type Operand } from './typing.js';
import { evaluateFor } from './evaluate.js';

export type TensorLike = Tensor | number | boolean;

type BinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum' | 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge';
type FloatUnary = 'exp' | 'log' | 'sqrt' | 'rsqrt' | 'reciprocal' | 'sin' | 'cos' | 'tanh' | 'sigmoid' | 'gelu';
type NumericUnary = 'neg' | 'abs' | 'square' | 'sign' | 'relu' | 'floor' | 'ceil' | 'round';

/** A tensor dropped without dispose() gives its reference back when it is collected. */
const tensorFinalizer = new FinalizationRegistry<Storage>((s) => s.release());

const FLOAT_RESULT = new Set<BinaryOp>(['div', 'pow']);
const COMPARISON = new Set<BinaryOp>(['eq', 'ne', 'lt', 'le', 'gt', 'ge']);

export class Tensor {
  #node: Node;
  /** Set once the value is computed; the tensor then holds one reference to it. */
  #storage: Storage | null = null;
  #disposed = false;
  /** The node this tensor was computed from, once it is realized (see `adopt`). */
  #computed: Node | null = null;

  /** @internal Tensors are made by wg.tensor, wg.zeros, wg.rand, ... and by operations; the constructor takes an IR node. */
  constructor(node: Node) {
    const n = node as Partial<Node> | null;
    if (typeof n !== 'object' || n === null || !Object.isFrozen(n) || typeof n.op !== 'string' || !isOpName(n.op) || !Array.isArray(n.shape)) {
      throw new ArgumentError(`Tensor: the constructor is internal and takes an IR node, got ${describe(node)}; make tensors with wg.tensor, wg.zeros, wg.full, wg.rand, ...`);
    }
    this.#node = node;
  }

  /**
   * @internal The node, for the call `what` that was given this tensor as its `role` ('tensor' for the tensor a
   * method is called on). Fails there, naming the call, when the tensor was disposed or its value was lost with
   * the device it lived on.
   */
  use(what: string, role = 'tensor'): Node {
    const type = () => `${this.#node.dtype}${fmtShape(this.#node.shape)}`;
    if (this.#disposed) throw new ArgumentError(`${what}: the ${role} (${type()}) was disposed and cannot be used`);
    const problem = this.#storage ? residencyProblem(this.#storage) : null;
    if (problem) throw new DeviceLostError(`${what}: the ${role} (${type()}) ${problem}`);
    return this.#node;
  }

  /** The IR node this tensor stands for (a leaf once it has been computed). */
  get node(): Node {
    if (this.#disposed) {
      throw new WgfuseError(`this tensor (${this.#node.dtype}${fmtShape(this.#node.shape)}) was disposed and cannot be used`);
    }
    return this.#node;
  }

  get shape(): number[] {
    return [...this.#node.shape];
  }
  get dtype(): DType {
    return this.#node.dtype;
  }
  get ndim(): number {
    return this.#node.shape.length;
  }
  get size(): number {
    return sizeOf(this.#node.shape);
  }
  get disposed(): boolean {
    return this.#disposed;
  }

  toString(): string {
    return `Tensor(${this.dtype}${fmtShape(this.#node.shape)})`;
  }

  // ---- elementwise binary (NumPy broadcasting; numbers broadcast as scalars) ----
  add(x: TensorLike): Tensor {
    return binary('add', this, x);
  }
  sub(x: TensorLike): Tensor {
    return binary('sub', this, x);
  }
  mul(x: TensorLike): Tensor {
    return binary('mul', this, x);
  }
  /** True division: the result is float32 whatever the operand dtypes. */
  div(x: TensorLike): Tensor {
    return binary('div', this, x);
  }
  /** The result is float32 whatever the operand dtypes. */
  pow(x: TensorLike): Tensor {
    return binary('pow', this, x);
  }
  maximum(x: TensorLike): Tensor {
    return binary('maximum', this, x);
  }
  minimum(x: TensorLike): Tensor {
    return binary('minimum', this, x);
  }
  eq(x: TensorLike): Tensor {
    return binary('eq', this, x);
  }
  ne(x: TensorLike): Tensor {
    return binary('ne', this, x);
  }
  lt(x: TensorLike): Tensor {
    return binary('lt', this, x);
  }
  le(x: TensorLike): Tensor {
    return binary('le', this, x);
  }
  gt(x: TensorLike): Tensor {
    return binary('gt', this, x);
  }
  ge(x: TensorLike): Tensor {
    return binary('ge', this, x);
  }
  /** Limits to [lo, hi]; either bound may be omitted (null/undefined), not both. */
  clamp(lo?: TensorLike | null, hi?: TensorLike | null): Tensor {
    this.use('clamp');
    const hasLo = lo !== undefined && lo !== null;
    const hasHi = hi !== undefined && hi !== null;
    if (!hasLo && !hasHi) throw new ArgumentError('clamp: give a lower bound, an upper bound or both');
    operands('clamp', [this, ...(hasLo ? [lo] : []), ...(hasHi ? [hi] : [])]);
    return asCalled('clamp', () => {
      const low = hasLo ? binary('maximum', this, lo, 'clamp') : this;
      return hasHi ? binary('minimum', low, hi, 'clamp') : low;
    });
  }

  // ---- elementwise unary ----
  neg(): Tensor {
    return unary('neg', this);
  }
  abs(): Tensor {
    return unary('abs', this);
  }
  square(): Tensor {
    return unary('square', this);
  }
  sign(): Tensor {
    return unary('sign', this);
  }
  relu(): Tensor {
    return unary('relu', this);
  }
  floor(): Tensor {
    return unary('floor', this);
  }
  ceil(): Tensor {
    return unary('ceil', this);
  }
  /** Rounds half to even, as NumPy. */
  round(): Tensor {
    return unary('round', this);
  }
  exp(): Tensor {
    return floatUnary('exp', this);
  }
  log(): Tensor {
    return floatUnary('log', this);
  }
  sqrt(): Tensor {
    return floatUnary('sqrt', this);
  }
  rsqrt(): Tensor {
    return floatUnary('rsqrt', this);
  }
  reciprocal(): Tensor {
    return floatUnary('reciprocal', this);
  }
  sin(): Tensor {
    return floatUnary('sin', this);
  }
  cos(): Tensor {
    return floatUnary('cos', this);
  }
  tanh(): Tensor {
    return floatUnary('tanh', this);
  }
  sigmoid(): Tensor {
    return floatUnary('sigmoid', this);
  }
  /** GELU, tanh approximation (as jax.nn.gelu's default). */
  gelu(): Tensor {
    return floatUnary('gelu', this);
  }
  cast(dtype: DType): Tensor {
    const node = this.use('cast');
    if (!isDType(dtype)) throw new DTypeError(`cast: dtype must be 'float32', 'int32' or 'bool', got ${describe(dtype)}`);
    return new Tensor(castNode(node, dtype));
  }

  // ---- layout ----
  /** New shape with the same elements; one extent may be -1 (inferred). */
  reshape(shape: readonly number[]): Tensor {
    const node = this.use('reshape');
    if (!isIntList(shape, -1)) throw new ShapeError(`reshape: shape must be an array of integers >= -1, got ${describe(shape)}`);
    const unknown = shape.filter((d) => d === -1).length;
    if (unknown > 1) throw new ShapeError(`reshape: only one extent may be -1, got ${fmtShape(shape)}`);
    let target = [...shape];
    if (unknown === 1) {
      const known = sizeOf(shape.filter((d) => d !== -1));
      const total = sizeOf(node.shape);
      if (known === 0 || total % known !== 0) {
        throw new ShapeError(`reshape: cannot reshape ${node.dtype}${fmtShape(node.shape)} (${total} elements) to ${fmtShape(shape)}`);
      }
      target = shape.map((d) => (d === -1 ? total / known : d));
    }
    return new Tensor(makeNode('reshape', [node], { shape: target }));
  }
  /** Permutes axes; the default reverses them. Negative axes count from the end. */
  transpose(perm?: readonly number[]): Tensor {
    return this.#transpose(perm, 'transpose');
  }
  /** All axes reversed (for a matrix: its transpose). */
  get T(): Tensor {
    return this.#transpose(undefined, 'T');
  }
  #transpose(perm: readonly number[] | undefined, what: string): Tensor {
    const node = this.use(what);
    const r = node.shape.length;
    let p: number[];
    if (perm === undefined) p = Array.from({ length: r }, (_, i) => r - 1 - i);
    else {
      if (!Array.isArray(perm) || perm.length !== r) {
        throw new ShapeError(`${what}: perm must list each of the ${r} axes of ${node.dtype}${fmtShape(node.shape)} once, got ${describe(perm)}`);
      }
      p = Array.from(perm as readonly unknown[], (a) => normalizeAxis(a, r, what, typeOf(node)));
      if (new Set(p).size !== r) throw new ShapeError(`${what}: perm ${describe(perm)} names an axis twice; it must list each of the ${r} axes of ${typeOf(node)} once`);
    }
    return new Tensor(makeNode('transpose', [node], { perm: p }));
  }
  /** Broadcasts to `shape` by NumPy rules (no copy is implied). */
  expand(shape: readonly number[]): Tensor {
    const node = this.use('expand');
    if (!isIntList(shape, 0)) throw new ShapeError(`expand: shape must be an array of non-negative integers, got ${describe(shape)}`);
    return new Tensor(makeNode('expand', [node], { shape: [...shape] }));
  }
  /** Takes `size[i]` elements from `begin[i]` on each axis; negative begin counts from the end, size -1 means to the end. */
  slice(begin: readonly number[], size?: readonly number[]): Tensor {
    const node = this.use('slice');
    const r = node.shape.length;
    const ints = (v: unknown) => isIntList(v, -Infinity) && (v as unknown[]).length === r;
    if (!ints(begin) || (size !== undefined && !ints(size))) {
      throw new ShapeError(`slice: begin and size must be ${r} integers for ${node.dtype}${fmtShape(node.shape)}, got ${describe(begin)} and ${describe(size)}`);
    }
    const b = begin.map((x, i) => (x < 0 ? x + node.shape[i] : x));
    const s = (size ?? begin.map(() => -1)).map((x, i) => (x === -1 ? node.shape[i] - b[i] : x));
    const ok = b.every((x, i) => x >= 0 && s[i] >= 0 && x + s[i] <= node.shape[i]);
    if (!ok) {
      throw new ShapeError(`slice: begin ${fmtShape(begin)} with size ${fmtShape(size ?? [])} does not fit in ${node.dtype}${fmtShape(node.shape)}`);
    }
    return new Tensor(makeNode('slice', [node], { begin: b, size: s }));
  }
  /** Removes size-1 axes: all of them, or the given ones (which must have size 1). */
  squeeze(axis?: number | readonly number[]): Tensor {
    const node = this.use('squeeze');
    const axes = axis === undefined ? node.shape.flatMap((d, i) => (d === 1 ? [i] : [])) : normalizeAxes(axis, node.shape.length, 'squeeze', typeOf(node));
    for (const a of axes) {
      if (node.shape[a] !== 1) throw new ShapeError(`squeeze: axis ${a} of ${node.dtype}${fmtShape(node.shape)} has size ${node.shape[a]}, not 1`);
    }
    return new Tensor(makeNode('reshape', [node], { shape: node.shape.filter((_, i) => !axes.includes(i)) }));
  }
  /** Inserts a size-1 axis at `axis` (in the result's numbering). */
  unsqueeze(axis: number): Tensor {
    const node = this.use('unsqueeze');
    const a = normalizeAxis(axis, node.shape.length + 1, 'unsqueeze', `the result of unsqueezing ${typeOf(node)}`);
    const shape = [...node.shape];
    shape.splice(a, 0, 1);
    return new Tensor(makeNode('reshape', [node], { shape }));
  }

  // ---- reductions (axis: one axis, a list, or all when omitted) ----
  /** bool sums count (int32). */
  sum(axis?: number | readonly number[], keepdims = false): Tensor {
    return reduce('sum', this, axis, keepdims);
  }
  prod(axis?: number | readonly number[], keepdims = false): Tensor {
    return reduce('prod', this, axis, keepdims);
  }
  max(axis?: number | readonly number[], keepdims = false): Tensor {
    return reduce('max', this, axis, keepdims);
  }
  min(axis?: number | readonly number[], keepdims = false): Tensor {
    return reduce('min', this, axis, keepdims);
  }
  /** float32 mean: sum / count. */
  mean(axis?: number | readonly number[], keepdims = false): Tensor {
    const node = this.use('mean');
    checkFlag(keepdims, 'mean', 'keepdims');
    const x = toFloat(node, 'mean');
    const axes = normalizeAxes(axis, x.shape.length, 'mean', typeOf(node));
    const count = sizeOf(axes.map((a) => x.shape[a]));
    // Over an empty axis this is 0 / 0 = NaN, as NumPy.
    return new Tensor(makeNode('sum', [x], { axes, keepdims })).div(count);
  }
  /** Population variance (ddof = 0, as NumPy's default): mean((x - mean(x))^2). */
  variance(axis?: number | readonly number[], keepdims = false): Tensor {
    const node = this.use('variance');
    checkFlag(keepdims, 'variance', 'keepdims');
    return asCalled('variance', () => {
      const x = new Tensor(toFloat(node, 'variance'));
      const centered = x.sub(x.mean(axis, true));
      return centered.mul(centered).mean(axis, keepdims);
    });
  }
  /** Index of the first maximum along `axis` (of the flattened tensor when omitted). */
  argmax(axis?: number, keepdims = false): Tensor {
    return argReduce('argmax', this, axis, keepdims);
  }
  argmin(axis?: number, keepdims = false): Tensor {
    return argReduce('argmin', this, axis, keepdims);
  }
  softmax(axis = -1): Tensor {
    const node = this.use('softmax');
    return asCalled('softmax', () => {
      const x = new Tensor(toFloat(node, 'softmax'));
      const e = x.sub(x.max(axis, true)).exp();
      return e.div(e.sum(axis, true));
    });
  }
  logSoftmax(axis = -1): Tensor {
    const node = this.use('logSoftmax');
    return asCalled('logSoftmax', () => {
      const x = new Tensor(toFloat(node, 'logSoftmax'));
      const shifted = x.sub(x.max(axis, true));
      return shifted.sub(shifted.exp().sum(axis, true).log());
    });
  }

  /** NumPy matmul: 1-D operands are promoted to matrices and the added axis removed; batch axes broadcast. */
  matmul(x: Tensor): Tensor {
    return matmul(this, x);
  }

  // ---- values ----
  /** The values, row-major, as Float32Array (float32), Int32Array (int32) or Uint8Array (bool). */
  async data(): Promise<TypedArray> {
    return this.#read('data');
  }
  /** The values as nested JS arrays (booleans for bool); a scalar gives a number or boolean. */
  async array(): Promise<NestedArray> {
    return toNested(await this.#read('array'), this.#node.shape, this.#node.dtype);
  }
  /** The single element of a size-1 tensor. */
  async item(): Promise<number | boolean> {
    this.use('item');
    if (this.size !== 1) throw new ShapeError(`item: needs a tensor with exactly one element, got ${this.dtype}${fmtShape(this.#node.shape)}`);
    const v = (await this.#read('item'))[0];
    return this.dtype === 'bool' ? v !== 0 : v;
  }
  async #read(what: string): Promise<TypedArray> {
    this.use(what);
    await evaluateFor(what, [this]);
    const backend = await activeBackend();
    // Checked again after the awaits: a wg.init() may have run meanwhile.
    this.use(what);
    return backend.read(this.#storage!);
  }
  /** Frees the memory behind a computed tensor; the tensor cannot be used afterwards. Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    if (this.#storage) {
      tensorFinalizer.unregister(this);
      forgetRealized(this.#node);
      if (this.#computed) forgetRealized(this.#computed);
      this.#storage.release();
      this.#storage = null;
    }
  }

  /** @internal True when the value is computed or was given as data. */
  get realized(): boolean {
    return this.#storage !== null;
  }

  /**
   * @internal Takes ownership of the storage holding this tensor's value. The tensor then stands for a
   * leaf, so its computation (and any host data it read) can be collected; the computed node stays
   * mapped to the storage for lazy tensors that were built from it before it was computed.
   */
  adopt(storage: Storage): void {
    if (this.#storage) throw new WgfuseError('internal: tensor realized twice');
    this.#storage = storage;
    tensorFinalizer.register(this, storage, this);
    setRealized(this.#node, storage);
    if (this.#node.op !== 'input') {
      this.#computed = this.#node;
      this.#node = makeNode('input', [], {}, { dtype: this.#node.dtype, shape: this.#node.shape });
      setRealized(this.#node, storage);
    }
  }
}

/** Checks the operands of `what` (the first is the tensor the method was called on): type, disposal, device. */
function operands(what: string, xs: readonly unknown[]): Operand[] {
  xs.forEach((x, i) => {
    if (!(x instanceof Tensor) && typeof x !== 'number' && typeof x !== 'boolean') {
      throw new ArgumentError(`${what}: expected a Tensor, a number or a boolean, got ${describeArg(x)}`);
    }
    if (x instanceof Tensor) x.use(what, i === 0 ? 'tensor' : 'operand');
  });
  return xs as Operand[];
}

/**
 * `describe`, but saying so when the value is a Tensor of another copy of wgfuse (two module instances, e.g.
 * the package and a bundle): instanceof fails across copies, and "expected a Tensor, got a Tensor" helps nobody.
 */
export function describeArg(x: unknown): string {
  const d = describe(x);
  if (!(x instanceof Tensor) && d === 'Tensor') return 'a Tensor of another copy of the wgfuse module (use tensors of the module you call)';
  return d;
}

/** Every element an integer >= min; an indexed loop, so the holes of a sparse array count (as undefined). */
function isIntList(v: unknown, min: number): v is number[] {
  if (!Array.isArray(v)) return false;
  for (let i = 0; i < v.length; i++) {
    const d: unknown = v[i];
    if (typeof d !== 'number' || !Number.isInteger(d) || d < min) return false;
  }
  return true;
}

/** Flags such as keepdims are booleans: `1` or `'yes'` would otherwise be read as false. */
function checkFlag(v: unknown, what: string, name: string): void {
  if (v !== undefined && typeof v !== 'boolean') throw new ArgumentError(`${what}: ${name} must be true or false, got ${describe(v)}`);
}

export function binary(op: BinaryOp, a: TensorLike, b: TensorLike, what: string = op): Tensor {
  const ops = operands(what, [a, b]);
  let dtype = commonDType(ops, what);
  if (!COMPARISON.has(op)) rejectBool(dtype, what, ops);
  if (FLOAT_RESULT.has(op)) dtype = 'float32';
  return new Tensor(makeNode(op as OpName, [asNode(ops[0], dtype), asNode(ops[1], dtype)]));
}

function unary(op: NumericUnary, x: Tensor, what: string = op): Tensor {
  const node = x.use(what);
  rejectBool(node.dtype, what, [x]);
  return new Tensor(makeNode(op, [node]));
}

function floatUnary(op: FloatUnary, x: Tensor): Tensor {
  return new Tensor(makeNode(op, [toFloat(x.use(op), op)]));
}

/** float32 view of a numeric node; bool is rejected (math on truth values is a bug more often than not). */
function toFloat(node: Node, what: string): Node {
  if (node.dtype === 'bool') {
    throw new DTypeError(`${what}: not defined for bool${fmtShape(node.shape)}; cast to 'float32' first`);
  }
  return castNode(node, 'float32');
}

function reduce(op: 'sum' | 'prod' | 'max' | 'min', x: Tensor, axis: number | readonly number[] | undefined, keepdims: boolean): Tensor {
  let node = x.use(op);
  checkFlag(keepdims, op, 'keepdims');
  const axes = normalizeAxes(axis, node.shape.length, op, typeOf(node));
  if ((op === 'sum' || op === 'prod') && node.dtype === 'bool') node = castNode(node, 'int32');
  return new Tensor(makeNode(op, [node], { axes, keepdims: keepdims === true }));
}

function argReduce(op: 'argmax' | 'argmin', x: Tensor, axis: number | undefined, keepdims: boolean): Tensor {
  const node = x.use(op);
  checkFlag(keepdims, op, 'keepdims');
  if (axis === undefined) {
    // Over the flattened tensor; keepdims keeps every axis as size 1 (as NumPy).
    const flat = makeNode('reshape', [node], { shape: [sizeOf(node.shape)] });
    const index = makeNode(op, [flat], { axis: 0 });
    return new Tensor(keepdims ? makeNode('reshape', [index], { shape: node.shape.map(() => 1) }) : index);
  }
  const a = normalizeAxis(axis, node.shape.length, op, typeOf(node));
  return new Tensor(makeNode(op, [node], { axis: a, keepdims: keepdims === true }));
}

/** A node's type as messages show it, e.g. `float32[2,3]`. */
function typeOf(node: Node): string {
  return `${node.dtype}${fmtShape(node.shape)}`;
}

function matmul(a: Tensor, b: Tensor): Tensor {
  const an = a.use('matmul');
  if (!(b instanceof Tensor)) throw new ArgumentError(`matmul: expected a Tensor, got ${describeArg(b)}`);
  const bn = b.use('matmul', 'operand');
  if (an.shape.length === 0 || bn.shape.length === 0) {
    throw new ShapeError(`matmul: operands must have at least one axis, got ${an.dtype}${fmtShape(an.shape)} @ ${bn.dtype}${fmtShape(bn.shape)}`);
  }
  const ka = an.shape[an.shape.length - 1];
  const kb = bn.shape.length === 1 ? bn.shape[0] : bn.shape[bn.shape.length - 2];
  if (ka !== kb) {
    throw new ShapeError(`matmul: inner dimensions differ: ${an.dtype}${fmtShape(an.shape)} @ ${bn.dtype}${fmtShape(bn.shape)} (${ka} vs ${kb})`);
  }
  const dtype = commonDType([a, b], 'matmul');
  rejectBool(dtype, 'matmul', [a, b]);
  let lhs = castNode(an, dtype);
  let rhs = castNode(bn, dtype);
  if (an.shape.length === 1) lhs = makeNode('reshape', [lhs], { shape: [1, ka] });
  if (bn.shape.length === 1) rhs = makeNode('reshape', [rhs], { shape: [kb, 1] });
  let out = makeNode('matmul', [lhs, rhs]);
  if (an.shape.length === 1 || bn.shape.length === 1) {
    const s = [...out.shape];
    if (bn.shape.length === 1) s.splice(s.length - 1, 1);
    if (an.shape.length === 1) s.splice(s.length - (bn.shape.length === 1 ? 1 : 2), 1);
    out = makeNode('reshape', [out], { shape: s });
  }
  return new Tensor(out);
}
