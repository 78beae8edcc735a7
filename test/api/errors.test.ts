// Bad input throws at the call that caused it (synchronously, not at data()), with the right error class and
// a message naming the shapes / dtypes / values involved.
import { beforeAll, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.js';
import { expectThrow } from './helpers.js';

beforeAll(async () => {
  await wg.init({ backend: 'cpu', quiet: true });
});

const f = (shape: number[]) => wg.zeros(shape);
const b = (shape: number[]) => wg.zeros(shape, 'bool');

describe('broadcasting', () => {
  it('mismatched shapes in every binary op', () => {
    for (const op of ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const) {
      expectThrow(() => f([3])[op](f([2])), wg.ShapeError, '[3]', '[2]');
      expectThrow(() => f([2, 3])[op](f([3, 2])), wg.ShapeError, '[2,3]', '[3,2]');
      expectThrow(() => f([4, 1, 3])[op](f([2, 5])), wg.ShapeError, '[4,1,3]', '[2,5]');
    }
  });

  it('int32 and bool operands too', () => {
    expectThrow(() => wg.zeros([5], 'int32').add(wg.zeros([4], 'int32')), wg.ShapeError, '[5]', '[4]');
    expectThrow(() => b([5]).eq(b([4])), wg.ShapeError, '[5]', '[4]');
  });

  it('where', () => {
    expectThrow(() => wg.where(b([3]), f([2]), 0), wg.ShapeError, '[3]', '[2]');
    expectThrow(() => wg.where(b([3]), f([3]), f([4])), wg.ShapeError, '[4]');
    expectThrow(() => wg.where(b([2, 3]), f([3, 2]), f([1])), wg.ShapeError, '[2,3]', '[3,2]');
  });

  it('expand to an incompatible shape', () => {
    expectThrow(() => f([3]).expand([2]), wg.ShapeError, '[3]', '[2]');
    expectThrow(() => f([2, 3]).expand([3]), wg.ShapeError, '[2,3]', '[3]');
    expectThrow(() => f([2, 1]).expand([3, 4]), wg.ShapeError, '[2,1]', '[3,4]');
    expectThrow(() => f([2]).expand([2, -1]), wg.ShapeError, '-1');
    expectThrow(() => f([2]).expand([1.5]), wg.ShapeError, '1.5');
  });

  it('clamp with a bound of the wrong shape', () => {
    expectThrow(() => f([3]).clamp(f([2]), 1), wg.ShapeError, '[3]', '[2]');
  });

  it('layerNorm with a weight of the wrong shape', () => {
    expectThrow(() => wg.layerNorm(f([2, 3]), f([4])), wg.ShapeError, '[4]');
  });

  it('errors inside composite ops name the op the user called', () => {
    expectThrow(() => f([3]).clamp(f([2]), 1), wg.ShapeError, 'clamp');
    expectThrow(() => wg.layerNorm(f([2, 3]), f([4])), wg.ShapeError, 'layerNorm');
  });
});

describe('matmul', () => {
  it('2-D inner-dimension mismatch', () => {
    expectThrow(() => f([2, 3]).matmul(f([2, 3])), wg.ShapeError, '[2,3]', '3', '2');
    expectThrow(() => f([5, 7]).matmul(f([6, 5])), wg.ShapeError, '[5,7]', '[6,5]');
  });

  it('1-D mismatches', () => {
    expectThrow(() => f([3]).matmul(f([4])), wg.ShapeError, '[3]', '[4]');
    expectThrow(() => f([3]).matmul(f([4, 2])), wg.ShapeError, '[3]', '[4,2]');
    expectThrow(() => f([2, 3]).matmul(f([4])), wg.ShapeError, '[2,3]', '[4]');
  });

  it('batched inner-dimension mismatch', () => {
    expectThrow(() => f([2, 3, 4]).matmul(f([2, 5, 6])), wg.ShapeError, '[2,3,4]', '[2,5,6]');
    expectThrow(() => f([4]).matmul(f([2, 5, 6])), wg.ShapeError, '[4]', '[2,5,6]');
  });

  it('batch dimensions that do not broadcast name both operand shapes', () => {
    expectThrow(() => f([2, 3, 4]).matmul(f([3, 4, 5])), wg.ShapeError, '[2,3,4]', '[3,4,5]');
  });

  it('a scalar operand', () => {
    expectThrow(() => f([]).matmul(f([3])), wg.ShapeError, '[]', '[3]');
    expectThrow(() => f([3]).matmul(f([])), wg.ShapeError, '[3]', '[]');
  });

  it('bool operands and non-tensor operands', () => {
    expectThrow(() => b([2, 2]).matmul(b([2, 2])), wg.DTypeError, 'bool');
    expectThrow(() => f([2, 2]).matmul(2 as never), wg.ArgumentError, 'matmul');
  });
});

describe('axes', () => {
  it('out of range, for every op that takes an axis', () => {
    const x = f([2, 3]);
    const cases: [() => unknown, string][] = [
      [() => x.sum(2), '2'],
      [() => x.sum(-3), '-3'],
      [() => x.sum([0, 2]), '2'],
      [() => x.prod(5), '5'],
      [() => x.mean(2), '2'],
      [() => x.max(-3), '-3'],
      [() => x.min(2), '2'],
      [() => x.variance(2), '2'],
      [() => x.argmax(2), '2'],
      [() => x.argmin(-3), '-3'],
      [() => x.softmax(2), '2'],
      [() => x.logSoftmax(-3), '-3'],
      [() => x.squeeze(2), '2'],
      [() => x.unsqueeze(3), '3'],
      [() => x.unsqueeze(-4), '-4'],
      [() => wg.concat([x, x], 2), '2'],
      [() => x.transpose([0, 2]), '2'],
    ];
    for (const [fn, frag] of cases) expectThrow(fn, wg.ShapeError, frag);
  });

  it('axis-out-of-range messages give the valid range (rank)', () => {
    const e = expectThrow(() => f([2, 3]).sum(2), wg.ShapeError, 'sum');
    expect(e.message).toMatch(/-2\.\.1|rank 2/);
  });

  it('axis-out-of-range messages name the tensor shape', () => {
    expectThrow(() => f([2, 3]).sum(2), wg.ShapeError, '[2,3]');
    expectThrow(() => f([2, 3]).argmax(2), wg.ShapeError, '[2,3]');
    expectThrow(() => f([2, 3]).softmax(2), wg.ShapeError, '[2,3]');
    expectThrow(() => wg.concat([f([2, 3]), f([2, 3])], 2), wg.ShapeError, '[2,3]');
    expectThrow(() => f([2, 3]).transpose([0, 2]), wg.ShapeError, '[2,3]');
  });

  it('non-integer axes', () => {
    const x = f([2, 3]);
    expectThrow(() => x.sum(0.5), wg.ShapeError, '0.5');
    expectThrow(() => x.sum(NaN), wg.ShapeError, 'NaN');
    expectThrow(() => x.mean([0, 1.5]), wg.ShapeError, '1.5');
    expectThrow(() => x.argmax(1.5), wg.ShapeError, '1.5');
    expectThrow(() => x.max('0' as never), wg.ShapeError, '"0"');
    expectThrow(() => x.softmax(0.5), wg.ShapeError, '0.5');
    expectThrow(() => x.unsqueeze(0.5), wg.ShapeError, '0.5');
    expectThrow(() => x.squeeze(0.5), wg.ShapeError, '0.5');
    expectThrow(() => wg.concat([x, x], 0.5), wg.ShapeError, '0.5');
  });

  it('repeated axes', () => {
    expectThrow(() => f([2, 3]).sum([1, 1]), wg.ShapeError, 'repeated');
    expectThrow(() => f([2, 3]).sum([1, -1]), wg.ShapeError);
  });

  it('axis errors on a scalar', () => {
    expectThrow(() => f([]).sum(0), wg.ShapeError, '0');
    expectThrow(() => f([]).softmax(), wg.ShapeError);
  });
});

describe('reshape', () => {
  it('a size mismatch names both shapes', () => {
    expectThrow(() => f([2, 3]).reshape([4]), wg.ShapeError, '[2,3]', '[4]');
    expectThrow(() => f([2, 3]).reshape([7]), wg.ShapeError, '[2,3]', '[7]');
    expectThrow(() => f([2, 3]).reshape([]), wg.ShapeError, '[2,3]', '[]');
    expectThrow(() => f([0, 3]).reshape([1]), wg.ShapeError, '[0,3]', '[1]');
  });

  it('-1 that cannot be inferred', () => {
    expectThrow(() => f([2, 3]).reshape([4, -1]), wg.ShapeError, '[2,3]', '[4,-1]');
    expectThrow(() => f([2, 3]).reshape([0, -1]), wg.ShapeError, '[2,3]');
  });

  it('two -1', () => {
    expectThrow(() => f([2, 3]).reshape([-1, -1]), wg.ShapeError, '-1');
    expectThrow(() => f([2, 3]).reshape([-1, 3, -1]), wg.ShapeError, '[-1,3,-1]');
  });

  it('two -1 are rejected even when the size would fit', () => {
    expectThrow(() => wg.tensor([5]).reshape([-1, -1]), wg.ShapeError, '-1');
    expectThrow(() => wg.tensor([5]).reshape([1, -1, -1]), wg.ShapeError, '-1');
  });

  it('bad extents', () => {
    expectThrow(() => f([6]).reshape([-2, -3]), wg.ShapeError, '-2');
    expectThrow(() => f([6]).reshape([1.5, 4]), wg.ShapeError, '1.5');
    expectThrow(() => f([6]).reshape([NaN]), wg.ShapeError, 'NaN');
    expectThrow(() => f([6]).reshape(6 as never), wg.ShapeError, '6');
  });
});

describe('dtypes', () => {
  it('arithmetic on bool', () => {
    for (const op of ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum'] as const) {
      expectThrow(() => b([2])[op](b([2])), wg.DTypeError, op, 'bool', '[2]');
      expectThrow(() => b([3])[op](true), wg.DTypeError, 'bool');
    }
  });

  it('math functions on bool', () => {
    for (const op of ['exp', 'log', 'sqrt', 'rsqrt', 'reciprocal', 'sin', 'cos', 'tanh', 'sigmoid', 'gelu'] as const) {
      expectThrow(() => b([2, 2])[op](), wg.DTypeError, op, 'bool', '[2,2]');
    }
  });

  it('numeric unary ops on bool', () => {
    for (const op of ['neg', 'abs', 'square', 'sign', 'relu', 'floor', 'ceil', 'round'] as const) {
      expectThrow(() => b([4])[op](), wg.DTypeError, op, 'bool', '[4]');
    }
  });

  it('composite ops on bool', () => {
    expectThrow(() => b([3]).softmax(), wg.DTypeError, 'bool');
    expectThrow(() => b([3]).logSoftmax(), wg.DTypeError, 'bool');
    expectThrow(() => wg.layerNorm(b([2, 3])), wg.DTypeError, 'bool', '[2,3]');
    expectThrow(() => b([3]).clamp(false, true), wg.DTypeError, 'bool');
  });

  it('where with a non-bool condition', () => {
    expectThrow(() => wg.where(f([3]), 1, 0), wg.DTypeError, 'float32', '[3]');
    expectThrow(() => wg.where(wg.zeros([2, 2], 'int32'), 1, 0), wg.DTypeError, 'int32', '[2,2]');
    expectThrow(() => wg.where(true as never, 1, 0), wg.ArgumentError, 'where');
  });

  it('where with a bad branch', () => {
    expectThrow(() => wg.where(b([2]), 'x' as never, 0), wg.ArgumentError, 'where');
  });

  it('bad dtype strings', () => {
    expectThrow(() => f([2]).cast('float64' as never), wg.DTypeError, 'float64');
    expectThrow(() => wg.zeros([2], 'int64' as never), wg.DTypeError, 'int64');
    expectThrow(() => wg.ones([2], 'f32' as never), wg.DTypeError, 'f32');
    expectThrow(() => wg.full([2], 1, 'uint8' as never), wg.DTypeError, 'uint8');
    expectThrow(() => wg.tensor([1, 2], undefined, 'float16' as never), wg.DTypeError, 'float16');
  });
});

describe('creation', () => {
  it('non-finite, negative or fractional shape values', () => {
    for (const shape of [[2, NaN], [Infinity], [-1], [2, -3], [1.5], [2, 0.5]]) {
      const frag = String(shape[shape.length - 1]);
      expectThrow(() => wg.zeros(shape), wg.ShapeError, frag);
      expectThrow(() => wg.ones(shape), wg.ShapeError, frag);
      expectThrow(() => wg.full(shape, 1), wg.ShapeError, frag);
      expectThrow(() => wg.rand(shape, 1), wg.ShapeError, frag);
      expectThrow(() => wg.randn(shape, 1), wg.ShapeError, frag);
    }
    expectThrow(() => wg.zeros('3' as never), wg.ShapeError);
    expectThrow(() => wg.zeros([2, '3'] as never), wg.ShapeError, '3');
    expectThrow(() => wg.eye(-1), wg.ShapeError, '-1');
    expectThrow(() => wg.eye(2.5), wg.ShapeError, '2.5');
    expectThrow(() => wg.eye(NaN), wg.ShapeError, 'NaN');
  });

  it('a tensor of more than 2^31-1 elements is rejected at the call', () => {
    expectThrow(() => wg.zeros([65536, 65536]), wg.ShapeError, '[65536,65536]');
    expectThrow(() => wg.zeros([1]).expand([65536, 65536]), wg.ShapeError, '[65536,65536]');
  });

  it('full with a bad value', () => {
    expectThrow(() => wg.full([2], 'a' as never), wg.ArgumentError, '"a"');
    expectThrow(() => wg.full([2], null as never), wg.ArgumentError, 'null');
  });

  it('ragged nested arrays', () => {
    expectThrow(() => wg.tensor([[1, 2], [3]]), wg.ShapeError, 'ragged', '1', '2');
    expectThrow(() => wg.tensor([[1, 2], 3] as never), wg.ShapeError, 'ragged');
    expectThrow(() => wg.tensor([1, [2]] as never), wg.ShapeError, 'ragged');
    expectThrow(() => wg.tensor([[[1], [2]], [[3], [4, 5]]]), wg.ShapeError, 'ragged');
    expectThrow(() => wg.tensor([[], [1]]), wg.ShapeError, 'ragged');
  });

  it('elements that are neither numbers nor booleans are named in the message', () => {
    const e1 = expectThrow(() => wg.tensor(['a'] as never), wg.WgfuseError);
    expect(e1.message).toMatch(/"a"|string/);
    const e2 = expectThrow(() => wg.tensor([1, null] as never), wg.WgfuseError);
    expect(e2.message).toMatch(/null/);
  });

  it('data length vs shape', () => {
    expectThrow(() => wg.tensor([1, 2, 3], [2, 2]), wg.ShapeError, '3', '[2,2]');
    expectThrow(() => wg.tensor(new Float32Array(5), [2, 3]), wg.ShapeError, '5', '[2,3]');
    expectThrow(() => wg.tensor(1, [2]), wg.ShapeError, '[2]');
    expectThrow(() => wg.tensor([[1, 2]], [3]), wg.ShapeError, '[3]');
    expectThrow(() => wg.tensor([1, 2], [2, -1]), wg.ShapeError, '-1');
  });

  it('unsupported typed arrays', () => {
    expectThrow(() => wg.tensor(new Float64Array([1, 2]) as never), wg.ArgumentError, 'Float64Array');
    expectThrow(() => wg.tensor(new Int16Array([1, 2]) as never), wg.ArgumentError, 'Int16Array');
    expectThrow(() => wg.tensor(new Uint8ClampedArray([1, 2]) as never), wg.ArgumentError, 'Uint8ClampedArray');
    expectThrow(() => wg.tensor(new BigInt64Array(2) as never), wg.ArgumentError, 'BigInt64Array');
  });

  it('data that is not numbers at all', () => {
    expectThrow(() => wg.tensor('abc' as never), wg.ArgumentError, '"abc"');
    expectThrow(() => wg.tensor(null as never), wg.ArgumentError, 'null');
    expectThrow(() => wg.tensor(undefined as never), wg.ArgumentError, 'undefined');
    expectThrow(() => wg.tensor({} as never), wg.ArgumentError);
  });

  it('arange with bad arguments', () => {
    expectThrow(() => wg.arange(NaN), wg.ArgumentError, 'NaN');
    expectThrow(() => wg.arange(Infinity), wg.ArgumentError, 'Infinity');
    expectThrow(() => wg.arange(0, 10, 0), wg.ArgumentError, 'step');
    expectThrow(() => wg.arange(0, '5' as never), wg.ArgumentError, '"5"');
  });

  it('rand / randn with a bad seed', () => {
    expectThrow(() => wg.rand([2], 1.5), wg.ArgumentError, '1.5');
    expectThrow(() => wg.randn([2], NaN), wg.ArgumentError, 'NaN');
  });
});

describe('layout', () => {
  it('transpose perm that is not a permutation', () => {
    expectThrow(() => f([2, 3]).transpose([0, 0]), wg.ShapeError, '[0,0]', '[2,3]');
    expectThrow(() => f([2, 3]).transpose([0]), wg.ShapeError, '[2,3]');
    expectThrow(() => f([2, 3]).transpose([1, 0, 2]), wg.ShapeError, '[2,3]');
    expectThrow(() => f([2, 3, 4]).transpose([0, -1, 2]), wg.ShapeError, '[2,3,4]');
    expectThrow(() => f([2, 3]).transpose([0, 1.5]), wg.ShapeError, '1.5');
  });

  it('slice out of range', () => {
    const x = f([4, 5]);
    expectThrow(() => x.slice([5, 0], [1, 1]), wg.ShapeError, '[4,5]');
    expectThrow(() => x.slice([0, 0], [5, 1]), wg.ShapeError, '[4,5]');
    expectThrow(() => x.slice([3, 0], [2, 1]), wg.ShapeError, '[4,5]');
    expectThrow(() => x.slice([-5, 0], [1, 1]), wg.ShapeError, '[4,5]');
    expectThrow(() => x.slice([0, 0], [-2, 1]), wg.ShapeError, '[4,5]');
    expectThrow(() => x.slice([0, 6]), wg.ShapeError, '[4,5]');
  });

  it('slice with the wrong number of entries or non-integers', () => {
    const x = f([4, 5]);
    expectThrow(() => x.slice([0], [1]), wg.ShapeError, '[4,5]');
    expectThrow(() => x.slice([0, 0], [1]), wg.ShapeError, '[4,5]');
    expectThrow(() => x.slice([0.5, 0], [1, 1]), wg.ShapeError, '0.5');
  });

  it('squeeze of an axis whose size is not 1', () => {
    expectThrow(() => f([2, 1, 3]).squeeze(0), wg.ShapeError, '[2,1,3]', '2');
    expectThrow(() => f([2, 1, 3]).squeeze([1, 2]), wg.ShapeError, '[2,1,3]');
    expectThrow(() => f([2, 1, 3]).squeeze(-1), wg.ShapeError, '[2,1,3]');
  });

  it('concat of mismatched shapes', () => {
    expectThrow(() => wg.concat([f([2, 3]), f([2, 4])], 0), wg.ShapeError, '[2,3]', '[2,4]');
    expectThrow(() => wg.concat([f([2, 3]), f([3, 3])], 1), wg.ShapeError, '[2,3]', '[3,3]');
    expectThrow(() => wg.concat([f([2, 3, 4]), f([2, 3, 4]), f([2, 5, 5])], 1), wg.ShapeError, '[2,5,5]');
  });

  it('concat of mismatched ranks is a ShapeError naming the shapes', () => {
    expectThrow(() => wg.concat([f([2, 3]), f([3])], 0), wg.ShapeError, '[2,3]', '[3]');
    expectThrow(() => wg.concat([f([3]), f([1, 3])], 0), wg.ShapeError, '[3]', '[1,3]');
  });

  it('concat of nothing or of non-tensors', () => {
    expectThrow(() => wg.concat([], 0), wg.ArgumentError, 'concat');
    expectThrow(() => wg.concat([f([2]), [1, 2] as never], 0), wg.ArgumentError, 'concat');
    expectThrow(() => wg.concat(f([2]) as never, 0), wg.ArgumentError, 'concat');
  });
});

describe('other arguments', () => {
  it('binary ops with operands that are not tensors, numbers or booleans', () => {
    const x = f([2]);
    expectThrow(() => x.add('1' as never), wg.ArgumentError, '"1"');
    expectThrow(() => x.mul(null as never), wg.ArgumentError, 'null');
    expectThrow(() => x.sub([1, 2] as never), wg.ArgumentError, 'sub');
    expectThrow(() => x.lt(undefined as never), wg.ArgumentError, 'undefined');
    expectThrow(() => x.maximum({} as never), wg.ArgumentError);
  });

  it('clamp with no bound', () => {
    expectThrow(() => f([2]).clamp(), wg.ArgumentError, 'clamp');
    expectThrow(() => f([2]).clamp(null, null), wg.ArgumentError, 'clamp');
  });

  it('layerNorm arguments', () => {
    expectThrow(() => wg.layerNorm(f([])), wg.ArgumentError, 'layerNorm');
    expectThrow(() => wg.layerNorm(f([3]), null, null, -1), wg.ArgumentError, '-1');
    expectThrow(() => wg.layerNorm(f([3]), null, null, NaN), wg.ArgumentError, 'NaN');
    expectThrow(() => wg.layerNorm([1, 2, 3] as never), wg.ArgumentError, 'layerNorm');
  });

  it('max / min / argmax over an empty axis', () => {
    expectThrow(() => f([0, 3]).max(0), wg.ShapeError, '[0,3]');
    expectThrow(() => f([0, 3]).min(), wg.ShapeError, '[0,3]');
    expectThrow(() => f([3, 0]).max(-1), wg.ShapeError, '[3,0]');
    expectThrow(() => f([0, 3]).argmax(0), wg.ShapeError, '[0,3]');
    expectThrow(() => f([0]).argmin(), wg.ShapeError);
    expectThrow(() => f([2, 0]).softmax(), wg.ShapeError, '[2,0]');
  });

  it('errors leave no half-built state: the operands stay usable', async () => {
    const x = wg.tensor([1, 2, 3]);
    expect(() => x.add(wg.tensor([1, 2]))).toThrow(wg.ShapeError);
    expect(Array.from(await x.add(1).data())).toEqual([2, 3, 4]);
  });
});
