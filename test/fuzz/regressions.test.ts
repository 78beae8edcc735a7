// Regression tests for the bugs the differential fuzzer found (docs/reliability.md, "Differential fuzzing").
// Each case is the minimal program fast-check shrank to, in the IR text format the fuzzer prints, run the
// fuzzer's three ways on fixed arguments: the CPU reference, WebGPU unfused, and WebGPU with every pass.
// Bugs in a pass become golden cases under test/golden/<pass>/ instead; those here were in lowering, in a
// kernel generator or in the API.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.js';
import type { TypedArray } from '../../src/ir/dtype.js';
import { parseGraph } from '../../src/ir/parser.js';
import { executeGraph } from '../../src/runtime/cpu/executor.js';
import { Storage } from '../../src/runtime/storage.js';
import { WebGpuBackend } from '../../src/runtime/webgpu/backend.js';
import { expectClose } from '../webgpu/differential.js';
import { testGpu } from '../webgpu/gpu.js';

let fused: WebGpuBackend | null = null;
let unfused: WebGpuBackend | null = null;

beforeAll(async () => {
  const ctx = await testGpu();
  if (!ctx) return;
  fused = new WebGpuBackend(ctx);
  unfused = new WebGpuBackend(ctx, { fusion: false });
});
afterAll(() => fused?.destroy());

async function runOn(backend: WebGpuBackend, text: string, args: readonly TypedArray[]): Promise<TypedArray[]> {
  const graph = parseGraph(text);
  const storages = graph.inputs.map((n, i) => Storage.fromHost(n.dtype, n.shape, args[i]));
  const outs = await backend.run(graph, storages);
  try {
    return await Promise.all(outs.map((o) => backend.read(o)));
  } finally {
    outs.forEach((o) => o.release());
    storages.forEach((s) => s.release());
  }
}

/**
 * The CPU reference, then WebGPU unfused and fused. Exact unless `rel` is given (for transcendental
 * functions, whose last bits differ).
 */
async function expectThreeWays(text: string, args: readonly TypedArray[], want: readonly (readonly number[])[], rel = 0): Promise<void> {
  const cpu = executeGraph(parseGraph(text), args);
  const ways: [string, () => Promise<TypedArray[]>][] = [['CPU reference', async () => cpu]];
  // Without an adapter only the CPU runs (testGpu fails in CI instead).
  if (fused && unfused) {
    ways.push(['WebGPU unfused', () => runOn(unfused!, text, args)], ['WebGPU fused', () => runOn(fused!, text, args)]);
  }
  for (const [way, run] of ways) {
    const got = await run();
    expect(got.length, `${way}: outputs`).toBe(want.length);
    // As the fuzzer compares: NaN meets NaN, and -0 equals 0.
    got.forEach((g, k) => expectClose(Float64Array.from(g) as never, Float64Array.from(want[k]) as never, { rel, abs: 0 }, `${way}, output ${k}`));
  }
}

describe('fuzzer regressions', () => {
  // Seed 20250618: a fused row kernel (a cast and a prod) over an empty axis was skipped as "nothing to
  // compute", since its input is empty, and the output kept whatever its pooled buffer held (1.0f's bits
  // read as int32: 1065353216). A sum or prod over an empty axis still writes its identity.
  it('a fused sum or prod over an empty axis writes the identity', async () => {
    const prod = `
%0 = input : f32[1,0]
%1 = cast %0 {to="bool"} : bool[1,0]
%2 = cast %1 {to="int32"} : i32[1,0]
%3 = prod %2 {axes=[1]} : i32[1]
return %3, %1
`;
    await expectThreeWays(prod, [new Float32Array(0)], [[1], []]);
    // Leave a non-zero value in the pool first, so an unwritten output cannot pass for a sum's 0.
    await expectThreeWays('%0 = input : f32[3]\n%1 = exp %0 : f32[3]\nreturn %1\n', [new Float32Array([0, 0, 0])], [[1, 1, 1]]);
    const sum = `
%0 = input : f32[3,0]
%1 = abs %0 : f32[3,0]
%2 = sum %1 {axes=[1]} : f32[3]
return %2
`;
    await expectThreeWays(sum, [new Float32Array(0)], [[0, 0, 0]]);
  });

  // Seed 20250618: lt/le/gt/ge of two bool tensors generated `bool < bool`, which WGSL rejects (no ordering
  // of bools): the kernel did not compile. They compare as 0/1, as the CPU reference does.
  // Seed 121: a fused group whose stored value is empty ([2,0,2,2], where a [2,2] mask broadcasts into it)
  // was lowered over [2,2], the member with the most elements, and bound the 4-byte empty input as a vec4
  // array, which the device rejected. The space is the shape every member broadcasts to: empty, no dispatch.
  it('an empty fused result with a non-empty operand broadcast into it runs nothing', async () => {
    const text = `
%0 = input : f32[2,2]
%1 = const {value=0} : f32[]
%2 = gt %0, %1 : bool[2,2]
%3 = input : f32[2,0,2,2]
%4 = const {value=2} : f32[]
%5 = where %2, %3, %4 : f32[2,0,2,2]
%6 = neg %0 : f32[2,2]
return %5, %6
`;
    await expectThreeWays(text, [Float32Array.from([1, -2, 3, -4]), new Float32Array(0)], [[], [-1, 2, -3, 4]]);
  });

  it('ordering comparisons of bools compile and compare false < true', async () => {
    const text = `
%0 = input : bool[4]
%1 = input : bool[4]
%2 = lt %0, %1 : bool[4]
%3 = le %0, %1 : bool[4]
%4 = gt %0, %1 : bool[4]
%5 = ge %0, %1 : bool[4]
%6 = eq %0, %1 : bool[4]
return %2, %3, %4, %5, %6
`;
    const a = Uint8Array.from([0, 0, 1, 1]);
    const b = Uint8Array.from([0, 1, 0, 1]);
    await expectThreeWays(text, [a, b], [
      [0, 1, 0, 0],
      [1, 1, 0, 1],
      [0, 0, 1, 0],
      [1, 0, 1, 1],
      [1, 0, 0, 1],
    ]);
  });

  // Seeds 104, 105, 106: SwiftShader gives exp(NaN) = +inf and log(NaN) = 89.13, so sigmoid(NaN) = 0 and a
  // NaN reaching exp through a matmul became +-inf. WGSL leaves NaN inputs to builtins to the implementation;
  // wgfuse's semantics (docs/semantics.md) pass NaN through, as the CPU reference does.
  it('exp, log and sigmoid pass NaN through, alone and in fused kernels', async () => {
    const nan = Float32Array.from([0.5, NaN, -1, NaN]);
    const elementwise = `
%0 = input : f32[4]
%1 = exp %0 : f32[4]
%2 = abs %0 : f32[4]
%3 = log %2 : f32[4]
%4 = sigmoid %0 : f32[4]
return %1, %3, %4
`;
    const cpu = executeGraph(parseGraph(elementwise), [nan]);
    expect(cpu.map((a) => Array.from(a).map(Number.isNaN))).toEqual([
      [false, true, false, true],
      [false, true, false, true],
      [false, true, false, true],
    ]);
    await expectThreeWays(
      elementwise,
      [nan],
      cpu.map((a) => Array.from(a)),
      1e-5,
    );
    const epilogue = `
%0 = input : f32[2,3]
%1 = input : f32[3,1]
%2 = matmul %0, %1 : f32[2,1]
%3 = exp %2 : f32[2,1]
%4 = sigmoid %2 : f32[2,1]
return %3, %4
`;
    const a = Float32Array.from([1, 0.5, -1, 0.25, 0.5, 0.5]);
    const w = Float32Array.from([0.5, NaN, 0]);
    await expectThreeWays(epilogue, [a, w], [
      [NaN, NaN],
      [NaN, NaN],
    ]);
  });

  // Seed 108: x * 0 (a NaN from a matmul, times a literal 0) gave 0: SPIR-V optimizers fold x * 0.0 and
  // 0.0 / x to 0.0 when the zero is a literal. Probing the same pattern found pow(+-1, +-inf), whose
  // exp2(NaN) SwiftShader returns as +inf (Math.pow, the reference, gives NaN).
  it('x * 0, 0 * x and 0 / x keep NaN and infinities; pow(+-1, +-inf) is NaN', async () => {
    const text = `
%0 = input : f32[5]
%1 = const {value=0} : f32[]
%2 = mul %0, %1 : f32[5]
%3 = const {value=-0} : f32[]
%4 = mul %3, %0 : f32[5]
%5 = div %1, %0 : f32[5]
%6 = const {value=1} : f32[]
%7 = pow %6, %0 : f32[5]
%8 = const {value=-1} : f32[]
%9 = pow %8, %0 : f32[5]
return %2, %4, %5, %7, %9
`;
    const x = Float32Array.from([NaN, Infinity, -Infinity, 0, 2]);
    await expectThreeWays(text, [x], [
      [NaN, NaN, NaN, 0, 0],
      [NaN, NaN, NaN, 0, 0],
      [NaN, 0, 0, NaN, 0],
      [NaN, NaN, NaN, 1, 1],
      [NaN, NaN, NaN, 1, 1],
    ]);
  });

  // Seed 401: maximum(m - x, x) at x = NaN gave m in a fused kernel (the fuzzer's program: a matmul of a
  // cast(eq(...)) mask, minus x, then maximum with x). wg_max returned `a + b` for a NaN operand, here
  // (m - x) + x, which SwiftShader folds to m (WGSL lets implementations reassociate). The max/min helpers and
  // wg_pow now return the NaN operand itself. The same fold took earlier the blame for maximum(x - x, x) at
  // x = -inf giving -inf.
  it('maximum, minimum and pow of (m - x) and x keep a NaN of x when fused', async () => {
    const fuzzer = `
%0 = input : f32[1,7]
%1 = const {value=2} : f32[]
%2 = eq %0, %1 : bool[1,7]
%3 = cast %2 {to="float32"} : f32[1,7]
%4 = input : f32[7,1]
%5 = matmul %3, %4 : f32[1,1]
%6 = reshape %5 {shape=[1]} : f32[1]
%7 = sub %6, %0 : f32[1,7]
%8 = maximum %7, %0 : f32[1,7]
return %8
`;
    const x = Float32Array.from([NaN, NaN, 0.75, -1.25, 2, NaN, 0.25]);
    const w = Float32Array.from([1.25, 1.5, 1.5, -0.25, 1.75, -1.5, -1.5]);
    await expectThreeWays(fuzzer, [x, w], [[NaN, NaN, 1, 3, 2, NaN, 1.5]]);
    const text = `
%0 = input : f32[1]
%1 = input : f32[5]
%2 = sub %0, %1 : f32[5]
%3 = maximum %2, %1 : f32[5]
%4 = minimum %2, %1 : f32[5]
%5 = sub %1, %1 : f32[5]
%6 = maximum %5, %1 : f32[5]
return %3, %4, %6
`;
    const m = Float32Array.from([1.5]);
    const x2 = Float32Array.from([NaN, 0.5, -2, 1, -Infinity]);
    await expectThreeWays(text, [m, x2], [
      [NaN, 1, 3.5, 1, Infinity],
      [NaN, 0.5, -2, 0.5, -Infinity],
      [NaN, 0.5, 0, 1, NaN],
    ]);
    const pow = '%0 = input : f32[1]\n%1 = input : f32[5]\n%2 = sub %0, %1 : f32[5]\n%3 = pow %2, %1 : f32[5]\nreturn %3\n';
    await expectThreeWays(pow, [m, x2], [[NaN, 1, 3.5 ** -2, 0.5, 0]], 1e-5);
  });

  // Found probing seed 401: SwiftShader folds (a - b) + b, (a * b) / b and (a / b) * b to a inside one kernel,
  // so a NaN or infinite b (or 0, in the last two) gave a where IEEE gives NaN. The kernel generator keeps
  // the NaN where it sees such a cancellation (cancelledOperand in src/shaders/expr.ts).
  it('(a - b) + b, (a * b) / b and (a / b) * b keep NaN for a NaN or infinite b when fused', async () => {
    const text = `
%0 = input : f32[6]
%1 = input : f32[6]
%2 = sub %0, %1 : f32[6]
%3 = add %2, %1 : f32[6]
%4 = add %1, %2 : f32[6]
%5 = mul %0, %1 : f32[6]
%6 = div %5, %1 : f32[6]
%7 = mul %1, %0 : f32[6]
%8 = div %7, %1 : f32[6]
%9 = div %0, %1 : f32[6]
%10 = mul %9, %1 : f32[6]
%11 = mul %1, %9 : f32[6]
%12 = sum %3 {axes=[0]} : f32[]
return %3, %4, %6, %8, %10, %11, %12
`;
    const a = Float32Array.from([1.5, 1.5, 1.5, -Infinity, NaN, 1.5]);
    const b = Float32Array.from([NaN, Infinity, -Infinity, 4, 2, 0.5]);
    const want = [NaN, NaN, NaN, -Infinity, NaN, 1.5];
    await expectThreeWays(text, [a, b], [want, want, want, want, want, want, [NaN]]);
  });

  // Seed 118: pow(-0, -1) was +inf on WebGPU (wg_pow's zero branch ignored the sign of the zero); Math.pow,
  // the reference, gives -inf: +-0 to an odd integral power keeps the zero's sign.
  it('pow of a signed zero to an odd power keeps the sign', async () => {
    const text = `
%0 = input : f32[6]
%1 = input : f32[6]
%2 = pow %0, %1 : f32[6]
%3 = const {value=-1} : f32[]
%4 = maximum %2, %3 : f32[6]
return %2, %4
`;
    const x = Float32Array.from([-0, -0, -0, 0, -0, -0]);
    const y = Float32Array.from([-1, -3, -2, -1, 3, 0.5]);
    await expectThreeWays(text, [x, y], [
      [-Infinity, -Infinity, Infinity, Infinity, -0, 0],
      [-1, -1, Infinity, Infinity, 0, 0],
    ]);
  });

  // Seed 110: a row kernel with argmax stages over float32 and int32 rows declared its comparison helper
  // twice under one name (`row_argmax_better`), so the kernel did not compile.
  it('one row kernel takes argmax of float32 and int32 rows', async () => {
    const chained = `
%0 = input : f32[1,2]
%1 = argmax %0 {axis=0, keepdims} : i32[1,2]
%2 = argmax %1 {axis=0} : i32[2]
return %2
`;
    await expectThreeWays(chained, [Float32Array.from([0.5, -1])], [[0, 0]]);
    const sameRows = `
%0 = input : f32[2,3]
%1 = argmax %0 {axis=1} : i32[2]
%2 = cast %0 {to="int32"} : i32[2,3]
%3 = argmax %2 {axis=1} : i32[2]
%4 = argmin %0 {axis=1} : i32[2]
%5 = argmin %2 {axis=1} : i32[2]
return %1, %3, %4, %5
`;
    const x = Float32Array.from([0.5, 2.75, 2.25, -1.5, -1.25, 3]);
    await expectThreeWays(sameRows, [x], [
      [1, 2],
      [1, 2],
      [0, 0],
      [0, 0],
    ]);
  });

  // Seed 20250618: `x.cast(dtype it has)` is a new Tensor on the same node; evaluating it together with the
  // tensor it came from adopted two results for one node and threw "internal: a node was realized with two
  // different storages". Both now share one result.
  it('evaluating two tensors of one node gives both the value', async () => {
    await wg.init({ backend: fused ? 'webgpu' : 'cpu', quiet: true });
    const x = wg.tensor(new Float32Array([0, 1.5, -2, 0]), [2, 2]);
    const c1 = x.cast('bool');
    const c2 = c1.cast('bool');
    expect(c2.node).toBe(c1.node);
    await wg.evaluate(c2, c1);
    expect(Array.from(await c1.data())).toEqual([0, 1, 1, 0]);
    expect(Array.from(await c2.data())).toEqual([0, 1, 1, 0]);
    // Each holds its own reference: disposing one leaves the other readable.
    c2.dispose();
    expect(Array.from(await c1.data())).toEqual([0, 1, 1, 0]);
    c1.dispose();
    x.dispose();
  });
});
