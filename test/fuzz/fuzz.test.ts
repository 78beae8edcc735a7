// Differential fuzzing: random well-typed programs over the public API (generator.ts), each run on the CPU
// reference, on WebGPU unfused and on WebGPU with every pass (harness.ts); all must agree within the bounds
// of the error model (error-model.ts, rules.ts). A failure is shrunk by fast-check to a minimal program and
// printed in the IR text format. See docs/reliability.md, "Differential fuzzing".
//
// CI runs FUZZ_RUNS programs (default below) from a fixed seed; `npm run fuzz -- --runs N [--seed S]` runs
// any number (scripts/fuzz.mjs sets FUZZ_RUNS, FUZZ_SEED and FUZZ_LOG). FUZZ_PATH replays one counterexample
// (fast-check's path, printed with a failure).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkProgram, initGpu, Mismatch, type Gpu } from './harness.js';
import { programArb, type Program } from './generator.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const SEED = Number(process.env.FUZZ_SEED ?? 20250618);
const PATH = process.env.FUZZ_PATH;
/** Print a progress line every this many programs (0: never). */
const LOG_EVERY = Number(process.env.FUZZ_LOG ?? 0);
/** A fresh device every this many programs, so caches stay small over long runs. */
const REFRESH_EVERY = 500;

interface Tally {
  programs: number;
  skippedPrograms: number;
  compared: number;
  skippedOutputs: number;
  exactFloat: number;
  byDType: Record<string, number>;
  ops: Map<string, number>;
  fusedKernels: number;
  dispatchesSaved: number;
  viewInputs: number;
}

describe('differential fuzzing: CPU reference, WebGPU unfused, WebGPU fused', () => {
  it(`${RUNS} random programs agree (seed ${SEED})`, { timeout: Math.max(120_000, RUNS * 3_000) }, async () => {
    let gpu: Gpu = await initGpu();
    const tally: Tally = { programs: 0, skippedPrograms: 0, compared: 0, skippedOutputs: 0, exactFloat: 0, byDType: {}, ops: new Map(), fusedKernels: 0, dispatchesSaved: 0, viewInputs: 0 };
    const started = performance.now();
    let runs = 0;

    const property = fc.asyncProperty(programArb, async (p: Program) => {
      if (++runs % REFRESH_EVERY === 0) gpu = await initGpu(gpu);
      let outcome;
      try {
        outcome = await checkProgram(p, gpu);
      } catch (err) {
        if (fc.PreconditionFailure.isFailure(err)) tally.skippedPrograms++;
        throw err;
      }
      tally.programs++;
      tally.compared += outcome.compared;
      tally.skippedOutputs += outcome.skipped;
      tally.exactFloat += outcome.exactFloat;
      for (const d of outcome.dtypes) tally.byDType[d] = (tally.byDType[d] ?? 0) + 1;
      for (const op of outcome.ops) tally.ops.set(op.replace(/\(.*$/, ''), (tally.ops.get(op.replace(/\(.*$/, '')) ?? 0) + 1);
      tally.fusedKernels += outcome.fusedKernels.length;
      tally.dispatchesSaved += outcome.unfusedDispatches - outcome.fusedDispatches;
      tally.viewInputs += outcome.viewInputs;
      if (LOG_EVERY > 0 && tally.programs % LOG_EVERY === 0) {
        const s = (performance.now() - started) / 1000;
        console.log(`fuzz seed ${SEED}: ${tally.programs} programs checked (${tally.skippedPrograms} drawn and skipped) in ${s.toFixed(0)} s, ${(tally.programs / s).toFixed(1)}/s`);
      }
    });

    const details = await fc.check(property, { seed: SEED, numRuns: RUNS, path: PATH, endOnFailure: PATH !== undefined, maxSkipsPerRun: 2 });
    const seconds = (performance.now() - started) / 1000;
    if (details.failed) {
      const counterexample = details.counterexample?.[0];
      const e = details.errorInstance;
      // A Mismatch says all in its message; anything else (a build or runtime error) needs its stack.
      const error = e instanceof Mismatch ? e.message : e instanceof Error ? (e.stack ?? `${e.name}: ${e.message}`) : String(e);
      expect.fail(
        [
          `differential fuzzing found a mismatch after ${details.numRuns} programs (seed ${details.seed}, path ${details.counterexamplePath}, ${details.numShrinks} shrinks)`,
          `replay: FUZZ_SEED=${details.seed} FUZZ_PATH=${details.counterexamplePath} npx vitest run test/fuzz/fuzz.test.ts`,
          `recipe: ${JSON.stringify(counterexample)}`,
          '',
          error,
        ].join('\n'),
      );
    }
    const ops = [...tally.ops.entries()].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`);
    console.log(
      [
        `fuzz seed ${SEED}: ${tally.programs} programs agreed three ways in ${seconds.toFixed(1)} s (${(tally.programs / seconds).toFixed(1)}/s); ${tally.skippedPrograms} drawn programs skipped (no output could be bounded)`,
        `  outputs compared ${tally.compared} (${Object.entries(tally.byDType).map(([d, n]) => `${d} ${n}`).join(', ')}; float32 exactly: ${tally.exactFloat}), not comparable ${tally.skippedOutputs}`,
        `  fused kernels ${tally.fusedKernels}, dispatches saved by fusion ${tally.dispatchesSaved}, strided view inputs ${tally.viewInputs}`,
        `  steps: ${ops.join(', ')}`,
      ].join('\n'),
    );
    if (PATH !== undefined) return;
    // The generator must keep producing what the fuzzer claims to cover, or a pass means little.
    expect(tally.programs, 'programs checked').toBeGreaterThanOrEqual(RUNS);
    expect(tally.byDType.int32 ?? 0, 'int32 outputs compared').toBeGreaterThan(RUNS / 20);
    expect(tally.byDType.bool ?? 0, 'bool outputs compared').toBeGreaterThan(RUNS / 20);
    expect(tally.fusedKernels, 'fused kernels').toBeGreaterThan(RUNS / 4);
    // The error model must keep most outputs comparable, and many float32 ones exactly.
    expect(tally.skippedOutputs, 'outputs the error model could not bound').toBeLessThan(tally.compared / 5);
    expect(tally.exactFloat, 'float32 outputs compared exactly').toBeGreaterThan(RUNS / 10);
    expect(tally.ops.get('matmul:batched') ?? 0, 'batched matmuls').toBeGreaterThan(0);
    expect(tally.viewInputs, 'strided views of earlier results read as inputs').toBeGreaterThan(0);
  });
});
