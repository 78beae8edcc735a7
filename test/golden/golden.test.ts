// Golden tests for the passes: test/golden/PASS/NAME.in.ir is the input, NAME.out.ir the IR the pass must
// print. A folder is named after a registered pass (src/passes/pipeline.ts); `pipeline` runs the whole
// DEFAULT_PIPELINE. For every case:
//   1. text: parse the input, run the pass, printGraph, compare with NAME.out.ir (leading comment lines of
//      the .out.ir are a description and are not compared);
//   2. meaning: run the input and the output graph on the same seeded random arguments with the CPU reference
//      (float32 within a tight tolerance, since a pass may reassociate; int32 and bool exact), then lower both
//      and run them on WebGPU, where each must match the CPU reference of the input. A pass that changes what
//      a graph computes fails here even when its text matches.
// Every folder needs at least MIN_CASES cases and MIN_NEGATIVE negative ones (NAME.out.ir prints the same as
// NAME.in.ir: the pass must leave the graph alone), and every registered pass needs a folder.
//
// UPDATE_GOLDEN=1 npx vitest run test/golden   writes every NAME.out.ir from what the pass prints now (and
// says which files changed); the meaning checks still run. Review the diff before committing it.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TypedArray } from '../../src/ir/dtype.js';
import type { Graph } from '../../src/ir/graph.js';
import { fnv1a64 } from '../../src/ir/hash.js';
import { parseGraph } from '../../src/ir/parser.js';
import { printGraph } from '../../src/ir/printer.js';
import { sizeOf } from '../../src/ir/shape.js';
import { verifyGraph } from '../../src/ir/verify.js';
import { lowerGraph } from '../../src/lowering/lower.js';
import { runPasses } from '../../src/passes/manager.js';
import type { Pass } from '../../src/passes/pass.js';
import { DEFAULT_PIPELINE, PASSES } from '../../src/passes/pipeline.js';
import { executeGraph } from '../../src/runtime/cpu/executor.js';
import { Storage } from '../../src/runtime/storage.js';
import { WebGpuBackend } from '../../src/runtime/webgpu/backend.js';
import { expectClose, type Tolerance } from '../webgpu/differential.js';
import { testGpu } from '../webgpu/gpu.js';
import { mulberry32 as generator } from '../seeded.js';

const GOLDEN_DIR = dirname(fileURLToPath(import.meta.url));
const UPDATE = process.env.UPDATE_GOLDEN === '1';
const MIN_CASES = 6;
const MIN_NEGATIVE = 2;

/** Input graph vs pass output on the CPU: a pass may reassociate float math, never change int/bool results. */
const CPU_FLOAT: Tolerance = { rel: 1e-5, abs: 1e-6 };
/** GPU vs CPU reference: f32 accumulation and WGSL's transcendental functions. */
const GPU_FLOAT: Tolerance = { rel: 1e-4, abs: 1e-4 };
const EXACT: Tolerance = { rel: 0, abs: 0 };

interface Case {
  readonly name: string;
  readonly inPath: string;
  readonly outPath: string;
}

function foldersOf(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
}

function casesOf(folder: string): Case[] {
  const dir = join(GOLDEN_DIR, folder);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.in.ir'))
    .sort()
    .map((f) => {
      const name = f.slice(0, -'.in.ir'.length);
      return { name, inPath: join(dir, f), outPath: join(dir, `${name}.out.ir`) };
    });
}

function passesFor(folder: string): readonly Pass[] | undefined {
  if (folder === 'pipeline') return DEFAULT_PIPELINE;
  return Object.hasOwn(PASSES, folder) ? [PASSES[folder]] : undefined;
}

/** The leading comment lines (`//` or `#`) of a golden file: a description kept across updates. */
function splitHeader(text: string): { header: string; body: string } {
  const lines = text.split('\n');
  let i = 0;
  while (i < lines.length && /^\s*(\/\/|#)/.test(lines[i])) i++;
  return { header: lines.slice(0, i).map((l) => l + '\n').join(''), body: lines.slice(i).join('\n') };
}

function canonical(text: string): string {
  return printGraph(parseGraph(text));
}

/** True when `text` parses and prints as `printed` (a golden file that is right but not in canonical form). */
function sameGraph(text: string, printed: string): boolean {
  try {
    return canonical(text) === printed;
  } catch {
    return false;
  }
}


/** float32 in [-2, 2] without exact zeros, int32 in [-5, 5], bool 0/1; one array per graph input. */
function randomArguments(graph: Graph, seed: number): TypedArray[] {
  const next = generator(seed);
  return graph.inputs.map((n) => {
    const count = sizeOf(n.shape);
    switch (n.dtype) {
      case 'float32':
        return Float32Array.from({ length: count }, () => {
          const v = Math.fround(next() * 4 - 2);
          return v === 0 ? 0.5 : v;
        });
      case 'int32':
        return Int32Array.from({ length: count }, () => Math.floor(next() * 11) - 5);
      case 'bool':
        return Uint8Array.from({ length: count }, () => (next() < 0.5 ? 1 : 0));
    }
  });
}

function seedOf(folder: string, name: string): number {
  return parseInt(fnv1a64(`${folder}/${name}`).slice(-8), 16);
}

function compareAll(got: readonly TypedArray[], want: readonly TypedArray[], graph: Graph, float: Tolerance, what: string): void {
  expect(got.length, `${what}: number of outputs`).toBe(want.length);
  want.forEach((w, i) => expectClose(got[i], w, graph.outputs[i].dtype === 'float32' ? float : EXACT, `${what}, output ${i}`));
}

let gpu: WebGpuBackend | null = null;

beforeAll(async () => {
  const ctx = await testGpu();
  // fusion: false: the backend lowers each graph as it is (its groups included) instead of running the
  // default pipeline over it again, so the output graph of a single pass is what runs.
  gpu = ctx ? new WebGpuBackend(ctx, { fusion: false }) : null;
  if (!gpu) console.warn('golden: no WebGPU adapter; the WebGPU half of the meaning checks is skipped (CI=true makes this an error)');
});
afterAll(() => gpu?.destroy());

async function runOnGpu(backend: WebGpuBackend, graph: Graph, args: readonly TypedArray[]): Promise<TypedArray[]> {
  const storages = graph.inputs.map((n, i) => Storage.fromHost(n.dtype, n.shape, args[i]));
  try {
    const outputs = await backend.run(graph, storages);
    try {
      return await Promise.all(outputs.map((o) => backend.read(o)));
    } finally {
      outputs.forEach((o) => o.release());
    }
  } finally {
    storages.forEach((s) => s.release());
  }
}

const folders = foldersOf(GOLDEN_DIR);

describe('golden folders', () => {
  it('are each named after a registered pass, or `pipeline`', () => {
    const unknown = folders.filter((f) => passesFor(f) === undefined);
    expect(unknown, `test/golden folders with no registered pass of that name (registered: ${Object.keys(PASSES).join(', ')})`).toEqual([]);
  });
  it('exist for every registered pass and for the pipeline', () => {
    const missing = [...Object.keys(PASSES), 'pipeline'].filter((p) => !folders.includes(p));
    expect(missing, 'registered passes without a test/golden/PASS folder').toEqual([]);
  });
});

for (const folder of folders) {
  const passes = passesFor(folder);
  describe(`golden ${folder}`, () => {
    const cases = casesOf(folder);
    const inNames = new Set(cases.map((c) => c.name));

    for (const c of cases) {
      it(c.name, async () => {
        if (!passes) throw new Error(`no registered pass is called '${folder}'`);
        const input = parseGraph(readFileSync(c.inPath, 'utf8'));
        verifyGraph(input);
        const { graph: output } = runPasses(input, passes);
        const actual = printGraph(output);

        if (UPDATE) {
          const old = existsSync(c.outPath) ? readFileSync(c.outPath, 'utf8') : null;
          const header = old === null ? '' : splitHeader(old).header;
          if (old !== header + actual) {
            writeFileSync(c.outPath, header + actual);
            console.log(`golden: wrote ${folder}/${c.name}.out.ir (UPDATE_GOLDEN=1)`);
          }
        } else {
          if (!existsSync(c.outPath)) throw new Error(`missing ${folder}/${c.name}.out.ir: write it with UPDATE_GOLDEN=1 npx vitest run test/golden, then review it`);
          const expected = splitHeader(readFileSync(c.outPath, 'utf8')).body;
          if (actual !== expected && sameGraph(expected, actual)) {
            throw new Error(`${folder}/${c.name}.out.ir means the same graph but is not in canonical form; regenerate it with UPDATE_GOLDEN=1`);
          }
          expect(actual, `${folder}/${c.name}: IR after ${folder}`).toBe(expected);
        }

        // Meaning: the same arguments give the same results before and after, on the CPU and on WebGPU.
        const args = randomArguments(input, seedOf(folder, c.name));
        const before = executeGraph(input, args);
        const after = executeGraph(output, args);
        compareAll(after, before, input, CPU_FLOAT, `${folder}/${c.name}: CPU, output graph vs input graph`);
        if (gpu) {
          for (const [label, graph] of [
            ['input', input],
            ['output', output],
          ] as const) {
            const plan = lowerGraph(graph);
            expect(plan.outputs.length).toBe(graph.outputs.length);
            const got = await runOnGpu(gpu, graph, args);
            compareAll(got, before, input, GPU_FLOAT, `${folder}/${c.name}: WebGPU on the ${label} graph vs the CPU reference`);
          }
        }
      });
    }

    it(`has at least ${MIN_CASES} cases, ${MIN_NEGATIVE} of them negative, and no .out.ir without its .in.ir`, () => {
      const files = readdirSync(join(GOLDEN_DIR, folder));
      const orphans = files.filter((f) => f.endsWith('.out.ir') && !inNames.has(f.slice(0, -'.out.ir'.length)));
      expect(orphans, `${folder}: .out.ir files without a .in.ir`).toEqual([]);
      const stray = files.filter((f) => !f.endsWith('.in.ir') && !f.endsWith('.out.ir'));
      expect(stray, `${folder}: files that are neither NAME.in.ir nor NAME.out.ir`).toEqual([]);
      expect(cases.length, `${folder}: number of cases`).toBeGreaterThanOrEqual(MIN_CASES);
      // Read after the cases ran, so a run with UPDATE_GOLDEN=1 counts what it wrote.
      // The case tests hold every .out.ir to printGraph's exact text (canonical form), so comparing it with
      // the input printed canonically is comparing both printed canonically.
      const negative = cases.filter((c) => existsSync(c.outPath) && canonical(readFileSync(c.inPath, 'utf8')) === splitHeader(readFileSync(c.outPath, 'utf8')).body);
      expect(negative.length, `${folder}: negative cases (the output prints the same as the input): ${negative.map((c) => c.name).join(', ') || 'none'}`).toBeGreaterThanOrEqual(
        MIN_NEGATIVE,
      );
    });
  });
}
