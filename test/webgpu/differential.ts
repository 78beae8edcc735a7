// Differential checks: the same lazy program computed by the CPU reference executor (directly, on the
// program's host arguments) and by the active WebGPU backend, compared element by element.
import { expect } from 'vitest';
import { extractProgram } from '../../src/api/program.js';
import type { Tensor } from '../../src/api/tensor.js';
import type { TypedArray } from '../../src/ir/dtype.js';
import { fmtShape } from '../../src/ir/shape.js';
import { executeGraph } from '../../src/runtime/cpu/executor.js';

export interface Tolerance {
  /** Relative error allowed for float32 results. */
  rel: number;
  /** Absolute error allowed near zero. */
  abs: number;
}

export const EXACT: Tolerance = { rel: 0, abs: 0 };
export const ARITH: Tolerance = { rel: 2e-6, abs: 1e-6 };
export const TRANSCENDENTAL: Tolerance = { rel: 2e-5, abs: 2e-6 };

/** The CPU reference's values for these tensors (every argument must have host data). */
export function reference(...tensors: Tensor[]): TypedArray[] {
  const { graph, args } = extractProgram(tensors.map((t) => t.node));
  return executeGraph(
    graph,
    args.map((a) => {
      if (!a.host) throw new Error('reference: an argument has no host data');
      return a.host;
    }),
  );
}

export function expectClose(got: TypedArray, want: TypedArray, tol: Tolerance, what: string): void {
  expect(got.constructor.name, what).toBe(want.constructor.name);
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const g = got[i];
    const w = want[i];
    if (Number.isNaN(w)) {
      if (!Number.isNaN(g)) expect.fail(`${what}: element ${i}: got ${g}, want NaN`);
      continue;
    }
    if (g === w) continue;
    const err = Math.abs(g - w);
    if (!(err <= tol.abs + tol.rel * Math.abs(w))) expect.fail(`${what}: element ${i}: got ${g}, want ${w} (error ${err}, allowed ${tol.abs + tol.rel * Math.abs(w)})`);
  }
}

/** Computes `t` on the CPU reference and on the active backend and compares. */
export async function expectMatchesReference(t: Tensor, tol: Tolerance, what = `${t.dtype}${fmtShape(t.shape)}`): Promise<void> {
  const [want] = reference(t);
  const got = await t.data();
  expectClose(got, want, t.dtype === 'float32' ? tol : EXACT, what);
}
