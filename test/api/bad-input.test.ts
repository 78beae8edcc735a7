// Bad input, systematically (issue 6): every public function and method, every class of bad argument. Each case
// must fail AT THE CALL (synchronously; for the async calls, the returned promise rejects before anything runs)
// with the right error class and a message that starts with the name of the call and names the value, shape or
// dtype at fault. Never a wrong answer, a TypeError from inside wgfuse, a hang or a driver error.
//
// errors.test.ts holds the older, hand-picked cases (broadcasting, matmul, axes, reshape, dtypes); this file is
// the table behind docs/reliability.md, "Bad input": each case's `cls` is a row there (a test below checks it).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import * as wg from '../../src/index.js';

type ErrorClass = abstract new (...args: never[]) => Error;

interface Case {
  /** The call, as the message must start: `add`, `tensor`, `init`, ... */
  readonly call: string;
  /** The class of bad argument (a row of the table in docs/reliability.md). */
  readonly cls: string;
  readonly run: () => unknown;
  readonly error: ErrorClass;
  /** Fragments the message must contain: the value, shape or dtype at fault. */
  readonly says?: readonly string[];
}

const f = (shape: number[]) => wg.zeros(shape);
const i32 = (shape: number[]) => wg.zeros(shape, 'int32');
const b = (shape: number[]) => wg.zeros(shape, 'bool');
const disposed = (shape = [2, 3]) => {
  const t = wg.tensor(new Float32Array(shape.reduce((p, d) => p * d, 1)), shape);
  t.dispose();
  return t;
};
const sparse = <T,>(items: (T | undefined)[], hole: number): T[] => {
  const a = [...items] as T[];
  delete a[hole];
  return a;
};

/** A second copy of the wgfuse modules (as when a program bundles its own copy): its Tensor is not ours. */
let other: typeof wg;
beforeAll(async () => {
  await wg.init({ backend: 'cpu', quiet: true });
  vi.resetModules();
  other = await import('../../src/index.js');
  expect(other.Tensor).not.toBe(wg.Tensor);
});

/** Runs a case; the error must come from the call itself, not from a later await. */
async function failure(c: Case): Promise<Error> {
  let result: unknown;
  try {
    result = c.run();
  } catch (e) {
    return e as Error;
  }
  if (result instanceof Promise) {
    try {
      await result;
    } catch (e) {
      return e as Error;
    }
  }
  throw new Error(`${c.call} (${c.cls}) did not fail; it returned ${String(result)}`);
}

async function check(c: Case): Promise<void> {
  const e = await failure(c);
  const label = `${c.call} with ${c.cls}: ${e?.name}: ${e?.message}`;
  expect(e, label).toBeInstanceOf(c.error);
  expect(e, label).toBeInstanceOf(wg.WgfuseError); // never a TypeError / RangeError from inside wgfuse
  expect(e.message.startsWith(`${c.call}:`), label).toBe(true);
  for (const s of c.says ?? []) expect(e.message, label).toContain(s);
}

const BINARY = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const;
const UNARY = ['neg', 'abs', 'square', 'sign', 'relu', 'floor', 'ceil', 'round', 'exp', 'log', 'sqrt', 'rsqrt', 'reciprocal', 'sin', 'cos', 'tanh', 'sigmoid', 'gelu'] as const;
const REDUCE = ['sum', 'prod', 'max', 'min', 'mean', 'variance'] as const;
const ARG = ['argmax', 'argmin'] as const;

/** Values that are not a Tensor, a number or a boolean, with what the message shows of each. */
const NOT_OPERANDS: readonly [string, () => unknown, string][] = [
  ['a string operand', () => '1', '"1"'],
  ['a null operand', () => null, 'null'],
  ['an undefined operand', () => undefined, 'undefined'],
  ['an array operand', () => [1, 2], '[1,2]'],
  ['an object operand', () => ({}), 'Object'],
  ['a bigint operand', () => 1n, '1n'],
  ['a symbol operand', () => Symbol('s'), 'Symbol(s)'],
  ['a function operand', () => () => 1, 'a function'],
  ['a typed-array operand', () => new Float32Array(2), 'Float32Array'],
  ['a Tensor of another wgfuse copy', () => other.zeros([2]), 'another copy of the wgfuse module'],
];

// ---------------------------------------------------------------------------------------------------------------
// Operands of elementwise ops: every binary method, clamp's bounds, where's branches, layerNorm's weight and bias.
const operandCases: Case[] = [];
for (const op of BINARY) {
  for (const [cls, value, says] of NOT_OPERANDS) {
    operandCases.push({ call: op, cls, run: () => f([2])[op](value() as never), error: wg.ArgumentError, says: [says] });
  }
  operandCases.push({ call: op, cls: 'a disposed Tensor operand', run: () => f([2, 3])[op](disposed()), error: wg.ArgumentError, says: ['disposed', 'float32[2,3]'] });
  operandCases.push({ call: op, cls: 'operand shapes that do not broadcast', run: () => f([2, 3])[op](f([4, 3])), error: wg.ShapeError, says: ['[2,3]', '[4,3]'] });
}
for (const op of ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum'] as const) {
  operandCases.push({ call: op, cls: 'bool operands to arithmetic', run: () => b([2])[op](b([2])), error: wg.DTypeError, says: ['bool[2]'] });
}
for (const [cls, value, says] of NOT_OPERANDS.filter(([c]) => c !== 'an undefined operand' && c !== 'a null operand')) {
  operandCases.push({ call: 'clamp', cls, run: () => f([2]).clamp(value() as never, 1), error: wg.ArgumentError, says: [says] });
  operandCases.push({ call: 'clamp', cls, run: () => f([2]).clamp(0, value() as never), error: wg.ArgumentError, says: [says] });
  operandCases.push({ call: 'layerNorm', cls, run: () => wg.layerNorm(f([2, 3]), value() as never), error: wg.ArgumentError, says: ['weight', says] });
  operandCases.push({ call: 'layerNorm', cls, run: () => wg.layerNorm(f([2, 3]), null, value() as never), error: wg.ArgumentError, says: ['bias', says] });
}
for (const [cls, value, says] of NOT_OPERANDS) {
  operandCases.push({ call: 'where', cls, run: () => wg.where(b([2]), value() as never, 0), error: wg.ArgumentError, says: ['first branch', says] });
  operandCases.push({ call: 'where', cls, run: () => wg.where(b([2]), 0, value() as never), error: wg.ArgumentError, says: ['second branch', says] });
}
operandCases.push(
  { call: 'clamp', cls: 'no bound at all', run: () => f([2]).clamp(), error: wg.ArgumentError },
  { call: 'clamp', cls: 'a disposed Tensor operand', run: () => f([2]).clamp(disposed([2]), 1), error: wg.ArgumentError, says: ['disposed', 'float32[2]'] },
  { call: 'clamp', cls: 'operand shapes that do not broadcast', run: () => f([3]).clamp(f([2])), error: wg.ShapeError, says: ['[3]', '[2]'] },
  { call: 'where', cls: 'a disposed Tensor operand', run: () => wg.where(b([2]), disposed([2]), 0), error: wg.ArgumentError, says: ['disposed', 'first branch'] },
  { call: 'where', cls: 'a disposed Tensor operand', run: () => wg.where(disposed([2]) as never, 1, 0), error: wg.ArgumentError, says: ['disposed', 'condition'] },
  { call: 'where', cls: 'a condition that is not a Tensor', run: () => wg.where([true, false] as never, 1, 0), error: wg.ArgumentError, says: ['[true,false]'] },
  { call: 'where', cls: 'a condition that is not bool', run: () => wg.where(i32([2]), 1, 0), error: wg.DTypeError, says: ['int32[2]'] },
  { call: 'where', cls: 'operand shapes that do not broadcast', run: () => wg.where(b([2]), f([3]), 0), error: wg.ShapeError, says: ['[2]', '[3]'] },
  { call: 'layerNorm', cls: 'a disposed Tensor operand', run: () => wg.layerNorm(f([2, 3]), disposed([3])), error: wg.ArgumentError, says: ['disposed', 'weight'] },
  { call: 'layerNorm', cls: 'operand shapes that do not broadcast', run: () => wg.layerNorm(f([2, 3]), f([4])), error: wg.ShapeError, says: ['[4]'] },
  { call: 'matmul', cls: 'a non-Tensor operand', run: () => f([2, 2]).matmul([[1, 0], [0, 1]] as never), error: wg.ArgumentError, says: ['[[1,0],[0,1]]'] },
  { call: 'matmul', cls: 'a Tensor of another wgfuse copy', run: () => f([2, 2]).matmul(other.zeros([2, 2]) as never), error: wg.ArgumentError, says: ['another copy'] },
  { call: 'matmul', cls: 'a disposed Tensor operand', run: () => f([3, 2]).matmul(disposed()), error: wg.ArgumentError, says: ['disposed', 'float32[2,3]'] },
  { call: 'matmul', cls: 'a scalar operand', run: () => f([]).matmul(f([3])), error: wg.ShapeError, says: ['float32[]'] },
  { call: 'matmul', cls: 'inner dimensions that differ', run: () => f([2, 3]).matmul(f([4, 2])), error: wg.ShapeError, says: ['[2,3]', '[4,2]', '3 vs 4'] },
  { call: 'matmul', cls: 'batch dimensions that do not broadcast', run: () => f([2, 3, 4]).matmul(f([3, 4, 5])), error: wg.ShapeError, says: ['[2,3,4]', '[3,4,5]'] },
  { call: 'matmul', cls: 'bool operands to arithmetic', run: () => b([2, 2]).matmul(b([2, 2])), error: wg.DTypeError, says: ['bool[2,2]'] },
);

// ---------------------------------------------------------------------------------------------------------------
// The tensor a method is called on was disposed: every method, named in the message, with the tensor's type.
const ALL_METHODS: readonly [string, (t: wg.Tensor) => unknown][] = [
  ...BINARY.map((op) => [op, (t: wg.Tensor) => t[op](1)] as [string, (t: wg.Tensor) => unknown]),
  ...UNARY.map((op) => [op, (t: wg.Tensor) => t[op]()] as [string, (t: wg.Tensor) => unknown]),
  ...REDUCE.map((op) => [op, (t: wg.Tensor) => t[op](0)] as [string, (t: wg.Tensor) => unknown]),
  ...ARG.map((op) => [op, (t: wg.Tensor) => t[op](0)] as [string, (t: wg.Tensor) => unknown]),
  ['clamp', (t) => t.clamp(0, 1)],
  ['cast', (t) => t.cast('int32')],
  ['reshape', (t) => t.reshape([6])],
  ['transpose', (t) => t.transpose()],
  ['T', (t) => t.T],
  ['expand', (t) => t.expand([2, 2, 3])],
  ['slice', (t) => t.slice([0, 0], [1, 1])],
  ['squeeze', (t) => t.squeeze()],
  ['unsqueeze', (t) => t.unsqueeze(0)],
  ['softmax', (t) => t.softmax()],
  ['logSoftmax', (t) => t.logSoftmax()],
  ['matmul', (t) => t.matmul(f([3, 2]))],
  ['data', (t) => t.data()],
  ['array', (t) => t.array()],
  ['item', (t) => t.item()],
];
const disposedCases: Case[] = ALL_METHODS.map(([call, use]) => ({
  call,
  cls: 'a disposed tensor',
  run: () => use(disposed()),
  error: wg.ArgumentError,
  says: ['disposed', 'float32[2,3]'],
}));
disposedCases.push(
  { call: 'evaluate', cls: 'a disposed tensor', run: () => wg.evaluate(f([1]), disposed()), error: wg.ArgumentError, says: ['tensor 1', 'disposed', 'float32[2,3]'] },
  { call: 'compile', cls: 'a disposed tensor', run: () => wg.compile(disposed()), error: wg.ArgumentError, says: ['disposed', 'float32[2,3]'] },
  { call: 'concat', cls: 'a disposed tensor', run: () => wg.concat([f([2, 3]), disposed()]), error: wg.ArgumentError, says: ['tensor 1', 'disposed'] },
  { call: 'layerNorm', cls: 'a disposed tensor', run: () => wg.layerNorm(disposed()), error: wg.ArgumentError, says: ['disposed', 'float32[2,3]'] },
);

// ---------------------------------------------------------------------------------------------------------------
// Axes: every op that takes one.
const AXIS_OPS: readonly [string, (t: wg.Tensor, axis: unknown) => unknown][] = [
  ...[...REDUCE, ...ARG].map((op) => [op, (t: wg.Tensor, a: unknown) => t[op](a as never)] as [string, (t: wg.Tensor, a: unknown) => unknown]),
  ['softmax', (t, a) => t.softmax(a as never)],
  ['logSoftmax', (t, a) => t.logSoftmax(a as never)],
  ['unsqueeze', (t, a) => t.unsqueeze(a as never)],
  ['squeeze', (t, a) => t.reshape([1, 2, 1, 3]).squeeze(a as never)],
  ['concat', (t, a) => wg.concat([t, t], a as never)],
];
const BAD_AXES: readonly [string, unknown, string][] = [
  ['a fractional axis', 0.5, '0.5'],
  ['a NaN axis', NaN, 'NaN'],
  ['an infinite axis', Infinity, 'Infinity'],
  ['a string axis', '0', '"0"'],
  ['an axis past the last', 7, '7'],
  ['an axis before the first', -8, '-8'],
];
const axisCases: Case[] = [];
for (const [call, use] of AXIS_OPS) {
  for (const [cls, axis, says] of BAD_AXES) {
    axisCases.push({ call, cls, run: () => use(f([2, 3]), axis), error: wg.ShapeError, says: [says] });
  }
}
for (const op of REDUCE) {
  axisCases.push(
    { call: op, cls: 'a repeated axis in a list', run: () => f([2, 3])[op]([1, -1]), error: wg.ShapeError, says: ['[1,-1]', 'float32[2,3]'] },
    { call: op, cls: 'a hole in an axis list', run: () => f([2, 3, 4])[op](sparse([0, 1, 2], 1)), error: wg.ShapeError, says: ['undefined'] },
    { call: op, cls: 'an axis list that is not an array', run: () => f([2, 3])[op]({ 0: 1 } as never), error: wg.ShapeError, says: ['Object'] },
  );
}
axisCases.push(
  { call: 'argmax', cls: 'an axis list where one axis is taken', run: () => f([2, 3]).argmax([0] as never), error: wg.ShapeError, says: ['[0]'] },
  { call: 'squeeze', cls: 'squeezing an axis whose size is not 1', run: () => f([2, 1, 3]).squeeze(0), error: wg.ShapeError, says: ['[2,1,3]', 'size 2'] },
  { call: 'squeeze', cls: 'a hole in an axis list', run: () => f([1, 1, 1]).squeeze(sparse([0, 1, 2], 1)), error: wg.ShapeError, says: ['undefined'] },
  { call: 'unsqueeze', cls: 'a missing axis', run: () => f([2]).unsqueeze(undefined as never), error: wg.ShapeError, says: ['undefined'] },
  { call: 'max', cls: 'reducing an empty axis without identity', run: () => f([0, 3]).max(0), error: wg.ShapeError, says: ['[0,3]'] },
  { call: 'argmin', cls: 'reducing an empty axis without identity', run: () => f([3, 0]).argmin(1), error: wg.ShapeError, says: ['[3,0]'] },
);

// ---------------------------------------------------------------------------------------------------------------
// keepdims is a boolean: 1 or 'yes' used to be read as false (sum) or to surface as an internal VerifyError (mean).
const keepdimsCases: Case[] = [];
for (const op of [...REDUCE, ...ARG]) {
  for (const [cls, v, says] of [
    ['a keepdims that is not a boolean', 1, '1'],
    ['a keepdims that is not a boolean', 'true', '"true"'],
    ['a keepdims that is not a boolean', null, 'null'],
  ] as const) {
    keepdimsCases.push({ call: op, cls, run: () => f([2, 3])[op](0, v as never), error: wg.ArgumentError, says: ['keepdims', says] });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Shapes: every function that takes one.
const SHAPE_TAKERS: readonly [string, (shape: unknown) => unknown][] = [
  ['zeros', (s) => wg.zeros(s as never)],
  ['ones', (s) => wg.ones(s as never)],
  ['full', (s) => wg.full(s as never, 1)],
  ['rand', (s) => wg.rand(s as never, 1)],
  ['randn', (s) => wg.randn(s as never, 1)],
  ['tensor', (s) => wg.tensor([1, 2, 3, 4], s as never)],
  ['reshape', (s) => f([4]).reshape(s as never)],
  ['expand', (s) => f([1]).expand(s as never)],
];
const BAD_SHAPES: readonly [string, unknown, string][] = [
  ['a shape that is not an array', 4, '4'],
  ['a shape that is not an array', '4', '"4"'],
  ['a shape that is not an array', null, 'null'],
  ['a shape that is not an array', { 0: 4, length: 1 }, 'Object'],
  ['a NaN extent', [2, NaN], 'NaN'],
  ['an infinite extent', [Infinity], 'Infinity'],
  ['a negative extent', [2, -2], '-2'],
  ['a fractional extent', [2.5, 2], '2.5'],
  ['a string extent', [2, '2'], '"2"'],
  ['a hole in a shape', sparse([2, 1, 2], 1), 'undefined'],
];
const shapeCases: Case[] = [];
for (const [call, make] of SHAPE_TAKERS) {
  for (const [cls, shape, says] of BAD_SHAPES) shapeCases.push({ call, cls, run: () => make(shape), error: wg.ShapeError, says: [says] });
}
for (const [call, make] of SHAPE_TAKERS.filter(([c]) => c !== 'tensor' && c !== 'reshape')) {
  shapeCases.push({ call, cls: 'more than 2^31-1 elements', run: () => make([65536, 32768]), error: wg.ShapeError, says: ['[65536,32768]', '2^31 - 1'] });
}
shapeCases.push(
  { call: 'reshape', cls: 'two -1 extents', run: () => f([4]).reshape([-1, -1]), error: wg.ShapeError, says: ['[-1,-1]'] },
  { call: 'reshape', cls: 'a size that differs', run: () => f([2, 3]).reshape([4]), error: wg.ShapeError, says: ['float32[2,3]', '[4]'] },
  { call: 'expand', cls: 'a shape the tensor does not broadcast to', run: () => f([2, 3]).expand([3, 3]), error: wg.ShapeError, says: ['[2,3]', '[3,3]'] },
  { call: 'tensor', cls: 'data of a length the shape does not hold', run: () => wg.tensor([1, 2, 3], [2, 2]), error: wg.ShapeError, says: ['3 element', '[2,2]'] },
  { call: 'eye', cls: 'a negative extent', run: () => wg.eye(-1), error: wg.ShapeError, says: ['-1'] },
  { call: 'eye', cls: 'a fractional extent', run: () => wg.eye(2, 2.5), error: wg.ShapeError, says: ['m must', '2.5'] },
  { call: 'eye', cls: 'a NaN extent', run: () => wg.eye(NaN), error: wg.ShapeError, says: ['NaN'] },
  { call: 'eye', cls: 'a string extent', run: () => wg.eye('3' as never), error: wg.ShapeError, says: ['"3"'] },
  { call: 'eye', cls: 'more than 2^31-1 elements', run: () => wg.eye(65536), error: wg.ShapeError, says: ['[65536,65536]'] },
  { call: 'arange', cls: 'more than 2^31-1 elements', run: () => wg.arange(1e10), error: wg.ShapeError, says: ['10000000000 elements'] },
);

// ---------------------------------------------------------------------------------------------------------------
// Lists of indices: transpose's perm, slice's begin and size.
const listCases: Case[] = [
  { call: 'transpose', cls: 'a perm of the wrong length', run: () => f([2, 3]).transpose([0]), error: wg.ShapeError, says: ['[0]', 'float32[2,3]'] },
  { call: 'transpose', cls: 'a perm that repeats an axis', run: () => f([2, 3]).transpose([1, 1]), error: wg.ShapeError, says: ['[1,1]', 'float32[2,3]'] },
  { call: 'transpose', cls: 'a perm that is not an array', run: () => f([2, 3]).transpose('10' as never), error: wg.ShapeError, says: ['"10"'] },
  { call: 'transpose', cls: 'a fractional axis', run: () => f([2, 3]).transpose([0, 0.5]), error: wg.ShapeError, says: ['0.5'] },
  { call: 'transpose', cls: 'an axis past the last', run: () => f([2, 3]).transpose([0, 2]), error: wg.ShapeError, says: ['2'] },
  { call: 'transpose', cls: 'a hole in a perm', run: () => f([2, 3, 4]).transpose(sparse([2, 1, 0], 1)), error: wg.ShapeError, says: ['undefined'] },
  { call: 'slice', cls: 'begin of the wrong length', run: () => f([4, 5]).slice([0]), error: wg.ShapeError, says: ['[0]', 'float32[4,5]'] },
  { call: 'slice', cls: 'a fractional begin or size', run: () => f([4, 5]).slice([0, 0.5]), error: wg.ShapeError, says: ['0.5'] },
  { call: 'slice', cls: 'a NaN begin or size', run: () => f([4, 5]).slice([0, 0], [NaN, 1]), error: wg.ShapeError, says: ['NaN'] },
  { call: 'slice', cls: 'a hole in begin or size', run: () => f([4, 5]).slice(sparse([0, 0], 0)), error: wg.ShapeError, says: ['undefined'] },
  { call: 'slice', cls: 'a hole in begin or size', run: () => f([4, 5]).slice([0, 0], sparse([1, 1], 1)), error: wg.ShapeError, says: ['undefined'] },
  { call: 'slice', cls: 'a size that is not an array', run: () => f([4, 5]).slice([0, 0], null as never), error: wg.ShapeError, says: ['null'] },
  { call: 'slice', cls: 'a window outside the tensor', run: () => f([4, 5]).slice([3, 0], [2, 1]), error: wg.ShapeError, says: ['[3,0]', '[2,1]', 'float32[4,5]'] },
  { call: 'slice', cls: 'a window outside the tensor', run: () => f([4, 5]).slice([-5, 0]), error: wg.ShapeError, says: ['[-5,0]'] },
  { call: 'slice', cls: 'a negative size other than -1', run: () => f([4, 5]).slice([0, 0], [-2, 1]), error: wg.ShapeError, says: ['[-2,1]'] },
  { call: 'concat', cls: 'a list that is not an array', run: () => wg.concat(f([2]) as never), error: wg.ArgumentError, says: ['got Tensor'] },
  { call: 'concat', cls: 'an empty list', run: () => wg.concat([]), error: wg.ArgumentError, says: ['[]'] },
  { call: 'concat', cls: 'a hole in a list of tensors', run: () => wg.concat(sparse([f([2]), f([2]), f([2])], 1)), error: wg.ArgumentError, says: ['element 1', 'undefined'] },
  { call: 'concat', cls: 'a list element that is not a Tensor', run: () => wg.concat([f([2]), [1, 2] as never]), error: wg.ArgumentError, says: ['element 1', '[1,2]'] },
  { call: 'concat', cls: 'a Tensor of another wgfuse copy', run: () => wg.concat([f([2]), other.zeros([2]) as never]), error: wg.ArgumentError, says: ['another copy'] },
  { call: 'concat', cls: 'tensors of different ranks', run: () => wg.concat([f([2, 3]), f([3])]), error: wg.ShapeError, says: ['float32[2,3]', 'float32[3]'] },
  { call: 'concat', cls: 'shapes that differ off the axis', run: () => wg.concat([f([2, 3]), f([2, 4])], 0), error: wg.ShapeError, says: ['[2,3]', '[2,4]'] },
];

// ---------------------------------------------------------------------------------------------------------------
// dtypes.
const DTYPE_TAKERS: readonly [string, (d: unknown) => unknown][] = [
  ['zeros', (d) => wg.zeros([2], d as never)],
  ['ones', (d) => wg.ones([2], d as never)],
  ['full', (d) => wg.full([2], 1, d as never)],
  ['tensor', (d) => wg.tensor([1, 2], undefined, d as never)],
  ['cast', (d) => f([2]).cast(d as never)],
];
const dtypeCases: Case[] = [];
for (const [call, make] of DTYPE_TAKERS) {
  for (const [cls, d, says] of [
    ['an unknown dtype name', 'float64', '"float64"'],
    ['an IR short dtype name', 'f32', '"f32"'],
    ['a dtype that is not a string', 32, '32'],
    ['a dtype that is not a string', null, 'null'],
  ] as const) {
    dtypeCases.push({ call, cls, run: () => make(d), error: wg.DTypeError, says: [says] });
  }
}
for (const op of UNARY) dtypeCases.push({ call: op, cls: 'a bool tensor to math', run: () => b([2, 2])[op](), error: wg.DTypeError, says: ['bool[2,2]'] });
for (const op of ['softmax', 'logSoftmax', 'mean', 'variance'] as const) {
  dtypeCases.push({ call: op, cls: 'a bool tensor to math', run: () => b([2, 2])[op](), error: wg.DTypeError, says: ['bool[2,2]'] });
}
dtypeCases.push({ call: 'layerNorm', cls: 'a bool tensor to math', run: () => wg.layerNorm(b([2, 2])), error: wg.DTypeError, says: ['bool[2,2]'] });

// ---------------------------------------------------------------------------------------------------------------
// Data given to wg.tensor.
const deep = (depth: number): unknown => {
  let a: unknown = [1, 2];
  for (let i = 1; i < depth; i++) a = [a, 'x'];
  return a;
};
const dataCases: Case[] = [
  ...(
    [
      ['a string', 'abc', '"abc"'],
      ['null', null, 'null'],
      ['undefined', undefined, 'undefined'],
      ['an object', { 0: 1, length: 1 }, 'Object'],
      ['Map', new Map(), 'Map'],
      ['a function', () => [1], 'a function'],
      ['a symbol', Symbol('d'), 'Symbol(d)'],
      ['a bigint', 5n, '5n'],
      ['ArrayBuffer', new ArrayBuffer(8), 'ArrayBuffer'],
    ] as const
  ).map(([what, data, says]): Case => ({ call: 'tensor', cls: 'data that is not an array or a typed array', run: () => wg.tensor(data as never), error: wg.ArgumentError, says: [says] })),
  ...(['Float64Array', 'Int16Array', 'Uint8ClampedArray', 'BigInt64Array', 'DataView'] as const).map(
    (name): Case => ({
      call: 'tensor',
      cls: 'a typed array of an unsupported type',
      run: () => wg.tensor((name === 'DataView' ? new DataView(new ArrayBuffer(8)) : new (globalThis[name] as new (n: number) => unknown)(2)) as never),
      error: wg.ArgumentError,
      says: [name],
    }),
  ),
  { call: 'tensor', cls: 'ragged nested arrays', run: () => wg.tensor([[1, 2], [3]]), error: wg.ShapeError, says: ['data[1]', 'length 1', 'expected 2'] },
  { call: 'tensor', cls: 'ragged nested arrays', run: () => wg.tensor([[1, 2], 3] as never), error: wg.ShapeError, says: ['data[1]', '3'] },
  { call: 'tensor', cls: 'ragged nested arrays', run: () => wg.tensor([1, [2]] as never), error: wg.ShapeError, says: ['data[1]'] },
  { call: 'tensor', cls: 'ragged nested arrays', run: () => wg.tensor([[[1], [2]], [[3], [4, 5]]]), error: wg.ShapeError, says: ['data[1][1]'] },
  { call: 'tensor', cls: 'a sparse array (a hole)', run: () => wg.tensor(sparse([1, 2, 3], 1)), error: wg.ArgumentError, says: ['data[1]', 'undefined'] },
  { call: 'tensor', cls: 'a sparse array (a hole)', run: () => wg.tensor(sparse([[1, 2], [3, 4], [5, 6]], 1)), error: wg.ArgumentError, says: ['data[1]', 'undefined'] },
  { call: 'tensor', cls: 'a sparse array (a hole)', run: () => wg.tensor([[1, 2], sparse([3, 4], 0)]), error: wg.ArgumentError, says: ['data[1][0]'] },
  { call: 'tensor', cls: 'an element that is not a number or a boolean', run: () => wg.tensor([1, '2'] as never), error: wg.ArgumentError, says: ['data[1]', '"2"'] },
  { call: 'tensor', cls: 'an element that is not a number or a boolean', run: () => wg.tensor([[1, 2], [3, null]] as never), error: wg.ArgumentError, says: ['data[1][1]', 'null'] },
  { call: 'tensor', cls: 'an element that is not a number or a boolean', run: () => wg.tensor([1n, 2n] as never), error: wg.ArgumentError, says: ['data[0]', '1n'] },
  { call: 'tensor', cls: 'an element that is not a number or a boolean', run: () => wg.tensor([new Float32Array(2), new Float32Array(2)] as never), error: wg.ArgumentError, says: ['data[0]', 'Float32Array'] },
  { call: 'tensor', cls: 'an element that is not a number or a boolean', run: () => wg.tensor(deep(50000) as never), error: wg.ArgumentError, says: ['"x"'] },
  { call: 'tensor', cls: 'data of a length the shape does not hold', run: () => wg.tensor(new Float32Array(5), [2, 3]), error: wg.ShapeError, says: ['5 element', '[2,3]'] },
  { call: 'tensor', cls: 'data of a length the shape does not hold', run: () => wg.tensor(7, [2]), error: wg.ShapeError, says: ['1 element', '[2]'] },
  { call: 'tensor', cls: 'int32 data that int32 cannot hold', run: () => wg.tensor([1, NaN], undefined, 'int32'), error: wg.DTypeError, says: ['element 1', 'NaN'] },
  { call: 'tensor', cls: 'int32 data that int32 cannot hold', run: () => wg.tensor([[1, 2], [Infinity, 4]], undefined, 'int32'), error: wg.DTypeError, says: ['data[1][0]', 'Infinity'] },
  { call: 'tensor', cls: 'int32 data that int32 cannot hold', run: () => wg.tensor([3e9], undefined, 'int32'), error: wg.DTypeError, says: ['3000000000'] },
  { call: 'tensor', cls: 'int32 data that int32 cannot hold', run: () => wg.tensor(new Float32Array([-3e9]), undefined, 'int32'), error: wg.DTypeError, says: ['-3000000000'] },
];

// ---------------------------------------------------------------------------------------------------------------
// Numbers: fill values, arange, seeds, eps.
const valueCases: Case[] = [
  { call: 'full', cls: 'a fill value that is not a number or a boolean', run: () => wg.full([2], '1' as never), error: wg.ArgumentError, says: ['"1"'] },
  { call: 'full', cls: 'a fill value that is not a number or a boolean', run: () => wg.full([2], 1n as never), error: wg.ArgumentError, says: ['1n'] },
  { call: 'full', cls: 'a fill value that is not a number or a boolean', run: () => wg.full([2], undefined as never), error: wg.ArgumentError, says: ['undefined'] },
  { call: 'full', cls: 'an int32 fill value that int32 cannot hold', run: () => wg.full([2], NaN, 'int32'), error: wg.DTypeError, says: ['NaN'] },
  { call: 'full', cls: 'an int32 fill value that int32 cannot hold', run: () => wg.full([2], -Infinity, 'int32'), error: wg.DTypeError, says: ['-Infinity'] },
  { call: 'full', cls: 'an int32 fill value that int32 cannot hold', run: () => wg.full([2], 2 ** 31, 'int32'), error: wg.DTypeError, says: ['2147483648'] },
  { call: 'arange', cls: 'a NaN or infinite bound or step', run: () => wg.arange(NaN), error: wg.ArgumentError, says: ['start', 'NaN'] },
  { call: 'arange', cls: 'a NaN or infinite bound or step', run: () => wg.arange(0, Infinity), error: wg.ArgumentError, says: ['stop', 'Infinity'] },
  { call: 'arange', cls: 'a NaN or infinite bound or step', run: () => wg.arange(0, 5, -Infinity), error: wg.ArgumentError, says: ['step', '-Infinity'] },
  { call: 'arange', cls: 'a bound or step that is not a number', run: () => wg.arange(0, '5' as never), error: wg.ArgumentError, says: ['"5"'] },
  { call: 'arange', cls: 'a zero step', run: () => wg.arange(0, 5, 0), error: wg.ArgumentError, says: ['step'] },
  { call: 'rand', cls: 'a seed that is not a 32-bit integer', run: () => wg.rand([2], 1.5), error: wg.ArgumentError, says: ['1.5'] },
  { call: 'randn', cls: 'a seed that is not a 32-bit integer', run: () => wg.randn([2], NaN), error: wg.ArgumentError, says: ['NaN'] },
  { call: 'rand', cls: 'a seed that is not a 32-bit integer', run: () => wg.rand([2], 2 ** 32 + 1), error: wg.ArgumentError, says: ['4294967297'] },
  { call: 'randn', cls: 'a seed that is not a 32-bit integer', run: () => wg.randn([2], -(2 ** 31) - 1), error: wg.ArgumentError, says: ['-2147483649'] },
  { call: 'rand', cls: 'a seed that is not a 32-bit integer', run: () => wg.rand([2], '7' as never), error: wg.ArgumentError, says: ['"7"'] },
  { call: 'layerNorm', cls: 'an eps that is negative, NaN or infinite', run: () => wg.layerNorm(f([3]), null, null, -1), error: wg.ArgumentError, says: ['-1'] },
  { call: 'layerNorm', cls: 'an eps that is negative, NaN or infinite', run: () => wg.layerNorm(f([3]), null, null, NaN), error: wg.ArgumentError, says: ['NaN'] },
  { call: 'layerNorm', cls: 'an eps that is negative, NaN or infinite', run: () => wg.layerNorm(f([3]), null, null, Infinity), error: wg.ArgumentError, says: ['Infinity'] },
  { call: 'layerNorm', cls: 'an x that is not a Tensor', run: () => wg.layerNorm([1, 2, 3] as never), error: wg.ArgumentError, says: ['[1,2,3]'] },
  { call: 'layerNorm', cls: 'a scalar x', run: () => wg.layerNorm(f([])), error: wg.ArgumentError, says: ['float32[]'] },
  { call: 'item', cls: 'a tensor of other than one element', run: () => f([2]).item(), error: wg.ShapeError, says: ['float32[2]'] },
];

// ---------------------------------------------------------------------------------------------------------------
// evaluate, compile, the Tensor constructor, init.
const callCases: Case[] = [
  ...(['evaluate', 'compile'] as const).flatMap((call): Case[] => {
    const fn = (...xs: unknown[]) => (call === 'evaluate' ? wg.evaluate(...(xs as wg.Tensor[])) : wg.compile(...(xs as wg.Tensor[])));
    return [
      { call, cls: 'an argument that is not a Tensor', run: () => fn(f([1]), 3), error: wg.ArgumentError, says: ['argument 1', '3'] },
      { call, cls: 'an array of tensors instead of tensors', run: () => fn([f([1])]), error: wg.ArgumentError, says: ['argument 0', '[Tensor]'] },
      { call, cls: 'a Tensor of another wgfuse copy', run: () => fn(other.zeros([1])), error: wg.ArgumentError, says: ['another copy'] },
    ];
  }),
  { call: 'Tensor', cls: 'calling the Tensor constructor', run: () => new wg.Tensor(5 as never), error: wg.ArgumentError, says: ['wg.tensor'] },
  { call: 'Tensor', cls: 'calling the Tensor constructor', run: () => new wg.Tensor({ op: 'add', shape: [2] } as never), error: wg.ArgumentError, says: ['Object'] },
  { call: 'init', cls: 'options that are not an object', run: () => wg.init('cpu' as never), error: wg.ArgumentError, says: ['"cpu"'] },
  { call: 'init', cls: 'options that are not an object', run: () => wg.init(null as never), error: wg.ArgumentError, says: ['null'] },
  { call: 'init', cls: 'options that are not an object', run: () => wg.init([] as never), error: wg.ArgumentError, says: ['[]'] },
  { call: 'init', cls: 'an unknown option', run: () => wg.init({ backends: 'cpu' } as never), error: wg.ArgumentError, says: ["'backends'", 'backend, device'] },
  { call: 'init', cls: 'an unknown backend', run: () => wg.init({ backend: 'gpu' as never }), error: wg.ArgumentError, says: ['"gpu"'] },
  { call: 'init', cls: 'an unknown backend', run: () => wg.init({ backend: 'CPU' as never }), error: wg.ArgumentError, says: ['"CPU"'] },
  { call: 'init', cls: 'a flag option that is not a boolean', run: () => wg.init({ fusion: 0 as never }), error: wg.ArgumentError, says: ['fusion', '0'] },
  { call: 'init', cls: 'a flag option that is not a boolean', run: () => wg.init({ timing: 'yes' as never }), error: wg.ArgumentError, says: ['timing', '"yes"'] },
  { call: 'init', cls: 'a flag option that is not a boolean', run: () => wg.init({ quiet: 1 as never }), error: wg.ArgumentError, says: ['quiet', '1'] },
  { call: 'init', cls: 'a poolBytes that is not a non-negative integer', run: () => wg.init({ backend: 'cpu', poolBytes: -1 }), error: wg.ArgumentError, says: ['poolBytes', '-1'] },
  { call: 'init', cls: 'a poolBytes that is not a non-negative integer', run: () => wg.init({ poolBytes: NaN }), error: wg.ArgumentError, says: ['NaN'] },
  { call: 'init', cls: 'a poolBytes that is not a non-negative integer', run: () => wg.init({ poolBytes: 1.5 }), error: wg.ArgumentError, says: ['1.5'] },
  { call: 'init', cls: 'a poolBytes that is not a non-negative integer', run: () => wg.init({ poolBytes: '1' as never }), error: wg.ArgumentError, says: ['"1"'] },
  { call: 'init', cls: 'a device that is not a GPUDevice', run: () => wg.init({ backend: 'webgpu', device: {} as never }), error: wg.ArgumentError, says: ['Object'] },
  { call: 'init', cls: 'a device that is not a GPUDevice', run: () => wg.init({ device: 'gpu0' as never }), error: wg.ArgumentError, says: ['"gpu0"'] },
];

const TABLE: readonly [string, readonly Case[]][] = [
  ['operands', operandCases],
  ['disposed tensors', disposedCases],
  ['axes', axisCases],
  ['keepdims', keepdimsCases],
  ['shapes', shapeCases],
  ['index lists', listCases],
  ['dtypes', dtypeCases],
  ['data', dataCases],
  ['numbers', valueCases],
  ['evaluate, compile, Tensor, init', callCases],
];

describe.each(TABLE)('bad input: %s', (_group, cases) => {
  it.each(cases.map((c) => [`${c.call}: ${c.cls}`, c] as const))('%s', async (_name, c) => {
    await check(c);
  });
});

describe('the table', () => {
  it('tries every class on every call it applies to (nothing silently dropped)', () => {
    const all = TABLE.flatMap(([, cases]) => cases);
    expect(all.length).toBeGreaterThan(600);
    // Every public method and function appears.
    const calls = new Set(all.map((c) => c.call));
    const methods = Object.getOwnPropertyNames(wg.Tensor.prototype).filter((m) => !['constructor', 'toString', 'dispose', 'use', 'adopt', 'node', 'shape', 'dtype', 'ndim', 'size', 'disposed', 'realized'].includes(m));
    for (const m of methods) expect(calls, `Tensor.${m} is not in the table`).toContain(m);
    for (const fn of ['tensor', 'zeros', 'ones', 'full', 'arange', 'eye', 'rand', 'randn', 'where', 'concat', 'layerNorm', 'evaluate', 'compile', 'init', 'Tensor']) {
      expect(calls, `wg.${fn} is not in the table`).toContain(fn);
    }
  });

  it('docs/reliability.md lists every class the table tries', () => {
    const here = dirname(fileURLToPath(import.meta.url));
    const doc = readFileSync(join(here, '../../docs/reliability.md'), 'utf8');
    const start = doc.indexOf('## Bad input');
    expect(start, 'docs/reliability.md has a "## Bad input" section').toBeGreaterThanOrEqual(0);
    const rest = doc.slice(start + 1);
    const section = rest.slice(0, rest.search(/^## /m) < 0 ? undefined : rest.search(/^## /m));
    for (const cls of new Set(TABLE.flatMap(([, cases]) => cases.map((c) => c.cls)))) expect(section, `the class "${cls}"`).toContain(cls);
  });
});

describe('after an error, nothing is half-built', () => {
  it('a failed init keeps the backend that was in use', async () => {
    await expect(wg.init({ backend: 'gpu' as never })).rejects.toThrow(wg.ArgumentError);
    await expect(wg.init({ poolBytes: -1 })).rejects.toThrow(wg.ArgumentError);
    expect(wg.backend().name).toBe('cpu');
    expect(Array.from(await wg.tensor([1, 2]).add(1).data())).toEqual([2, 3]);
  });

  it('a backend is needed before wg.backend(): the message says how to get one', async () => {
    expect(() => other.backend()).toThrow(/^backend: no backend chosen yet; call `await wg.init\(\)`/);
  });
});

describe('values that are not errors, and what they give', () => {
  // Not every odd-looking input is a mistake: these are defined and documented (docs/semantics.md), and must be
  // right rather than rejected.
  it('NaN and infinities are float32 data and scalar operands', async () => {
    expect(Array.from(await wg.tensor([NaN, Infinity, -Infinity]).data())).toEqual([NaN, Infinity, -Infinity]);
    expect(Array.from(await wg.tensor([1, 2], undefined, 'int32').add(NaN).data())).toEqual([NaN, NaN]);
    expect(Array.from(await wg.full([2], -Infinity).data())).toEqual([-Infinity, -Infinity]);
  });

  it('int32 data truncates fractions toward zero; bool data is x != 0 (NaN is true)', async () => {
    expect(Array.from(await wg.tensor([2.9, -2.9], undefined, 'int32').data())).toEqual([2, -2]);
    expect(Array.from(await wg.full([1], -7.5, 'int32').data())).toEqual([-7]);
    expect(await wg.tensor([0, NaN, -0.5], undefined, 'bool').array()).toEqual([false, true, true]);
  });

  it('an integer operand beyond int32 is float32, not a wrapped int32', async () => {
    const y = wg.tensor([1], undefined, 'int32').add(2 ** 40);
    expect(y.dtype).toBe('float32');
    expect(Array.from(await y.data())).toEqual([Math.fround(2 ** 40 + 1)]);
  });

  it('arange beyond the int32 range is float32 instead of wrapping around', async () => {
    const y = wg.arange(0, 4e9, 1e9);
    expect(y.dtype).toBe('float32');
    expect(Array.from(await y.data())).toEqual([0, 1e9, 2e9, 3e9]);
    const z = wg.arange(2147483645, 2147483650);
    expect(z.dtype).toBe('float32');
    expect(Array.from(await z.data())).toEqual([2147483645, 2147483646, 2147483647, 2147483648, 2147483649].map(Math.fround));
    const w = wg.arange(2e9, -2e9, -1e9); // int32 throughout: every value fits
    expect(w.dtype).toBe('int32');
    expect(Array.from(await w.data())).toEqual([2e9, 1e9, 0, -1e9]);
  });

  it('seeds are 32 bits: -1 and 2^32 - 1 are the same seed, and both are accepted', async () => {
    expect(Array.from(await wg.rand([3], -1).data())).toEqual(Array.from(await wg.rand([3], 2 ** 32 - 1).data()));
  });

  it('clamp with lo > hi gives hi, as NumPy clip; a NaN bound gives NaN', async () => {
    expect(Array.from(await wg.tensor([0, 5, 10]).clamp(8, 2).data())).toEqual([2, 2, 2]);
    expect(Array.from(await wg.tensor([0, 5]).clamp(NaN, 2).data())).toEqual([NaN, NaN]);
  });

  it('empty arrays and zero extents are tensors with no elements', async () => {
    expect(wg.tensor([]).shape).toEqual([0]);
    expect(wg.tensor([[], []]).shape).toEqual([2, 0]);
    expect(Array.from(await wg.zeros([3, 0]).sum(1).data())).toEqual([0, 0, 0]);
  });

  it('deeply nested arrays are walked without recursion (no stack overflow); high ranks compute', async () => {
    let a: unknown = 1;
    for (let i = 0; i < 50000; i++) a = [a];
    expect(wg.tensor(a as never).size).toBe(1);
    let b: unknown = [2, 3];
    for (let i = 0; i < 199; i++) b = [b];
    const x = wg.tensor(b as never);
    expect(x.ndim).toBe(200);
    expect(Array.from(await x.T.mul(2).reshape([-1]).data())).toEqual([4, 6]);
  });
});
