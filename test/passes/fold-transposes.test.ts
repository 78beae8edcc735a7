// fold-transposes: golden IR cases (test/golden/fold-transposes/NAME.in.ir -> NAME.out.ir, exactly as
// printGraph prints the pass's result), the notes it leaves, and bit-for-bit equal results before and after
// on random data (float32 over many magnitudes, so a changed summation order would show; int32 over the full
// range, so wrap-around is exercised).
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it, test } from 'vitest';
import type { TypedArray } from '../../src/ir/dtype.js';
import { makeGraph, topoOrder, type Graph } from '../../src/ir/graph.js';
import { makeNode, type Node } from '../../src/ir/node.js';
import { parseGraph } from '../../src/ir/parser.js';
import { printGraph } from '../../src/ir/printer.js';
import { sizeOf } from '../../src/ir/shape.js';
import { foldTransposes, swapsLastTwo } from '../../src/passes/fold-transposes.js';
import { runPasses } from '../../src/passes/manager.js';
import { executeGraph } from '../../src/runtime/cpu/executor.js';
import { mulberry32 as rng } from '../seeded.js';

const DIR = fileURLToPath(new URL('../golden/fold-transposes/', import.meta.url));
const CASES = readdirSync(DIR)
  .filter((f) => f.endsWith('.in.ir'))
  .map((f) => f.slice(0, -'.in.ir'.length))
  .sort();
/** Cases named `no-*` are negative: the pass must not change the graph at all. */
const isNegative = (name: string) => name.startsWith('no-');
const read = (name: string, ext: 'in' | 'out') => readFileSync(`${DIR}${name}.${ext}.ir`, 'utf8');


/** Random arguments for the graph's inputs: f32 of mixed sign over 2^-20..2^20, full-range i32, 0/1 bools. */
function randomArgs(graph: Graph, seed: number): TypedArray[] {
  const next = rng(seed);
  return graph.inputs.map((n) => {
    const len = sizeOf(n.shape);
    if (n.dtype === 'float32') return Float32Array.from({ length: len }, () => (next() - 0.5) * 2 ** Math.floor(next() * 41 - 20));
    if (n.dtype === 'int32') return Int32Array.from({ length: len }, () => (next() * 2 ** 32) | 0);
    return Uint8Array.from({ length: len }, () => (next() < 0.5 ? 1 : 0));
  });
}

/** The bytes of each output: equal bytes means bit-for-bit equal values (NaN payloads and -0 included). */
function bits(values: readonly TypedArray[]): number[][] {
  return values.map((v) => Array.from(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)));
}

function expectSameResults(before: Graph, after: Graph, seeds = [1, 2, 3]): void {
  expect(after.inputs).toEqual(before.inputs);
  for (const seed of seeds) {
    const args = randomArgs(before, seed);
    expect(bits(executeGraph(after, args)), `seed ${seed}`).toEqual(bits(executeGraph(before, args)));
  }
}

describe('golden cases', () => {
  it('has at least 6 cases, 2 of them negative, each explaining itself and with an expected output', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(6);
    expect(CASES.filter(isNegative).length).toBeGreaterThanOrEqual(2);
    for (const name of CASES) {
      expect(read(name, 'in').split('\n')[0], name).toMatch(/^# why: \S/);
      expect(() => read(name, 'out'), name).not.toThrow();
    }
  });

  test.each(CASES)('%s', (name) => {
    const input = parseGraph(read(name, 'in'));
    const { graph, log } = runPasses(input, [foldTransposes]); // the manager verifies the result
    expect(printGraph(graph)).toBe(read(name, 'out'));
    if (isNegative(name)) {
      expect(graph, 'a negative case must come back as the very same graph').toBe(input);
      expect(log[0].fired.filter((f) => f.startsWith('fold'))).toEqual([]);
    } else {
      expect(graph).not.toBe(input);
      expect(log[0].fired.some((f) => f.startsWith('fold'))).toBe(true);
    }
    // No swap-transpose feeds a matmul any more.
    for (const n of topoOrder(graph.outputs)) {
      if (n.op === 'matmul' || n.op === 'syrk') for (const i of n.inputs) expect(i.op === 'transpose' && swapsLastTwo(i.attrs.perm as number[])).toBe(false);
    }
  });

  test.each(CASES)('%s: same results before and after, bit for bit', (name) => {
    const input = parseGraph(read(name, 'in'));
    expectSameResults(input, foldTransposes.run(input).graph);
  });
});

describe('notes', () => {
  const fired = (name: string) => foldTransposes.run(parseGraph(read(name, 'in'))).fired;
  it('say which operand of which matmul took which flag', () => {
    expect(fired('fold-transb')).toEqual(['fold %2 into %3 as transB (operand B)']);
    expect(fired('fold-transa-batched')).toEqual(['fold %1 into %3 as transA (operand A)']);
    expect(fired('same-transpose-both-operands')).toEqual(['fold %1 into %2 as transA (operand A)', 'fold %1 into %2 as transB (operand B)']);
    expect(fired('syrk-operand')).toEqual(['fold %1 into %2 as transA (operand X)', 'fold %1 into %3 cancelling transA (operand X)']);
  });
  it('say when a fold cancels a flag', () => {
    expect(fired('toggle-off')).toEqual(['fold %1 into %3 cancelling transA (operand A)']);
    expect(fired('double-transpose')).toEqual(['fold %3 into %4 as transB (operand B)', 'fold %2 into %4 cancelling transB (operand B)']);
  });
  it('say why a transpose in front of a matmul stays, and nothing about other consumers', () => {
    expect(fired('no-batch-axes-moved')).toEqual([
      'keep %1 feeding %4 operand A: perm [1,0,2] moves more than the last two axes',
      'keep %3 feeding %4 operand B: perm [2,0,1] moves more than the last two axes',
    ]);
    expect(fired('no-transpose-into-add')).toEqual([]);
  });
});

const input = (dtype: 'float32' | 'int32', ...shape: number[]) => makeNode('input', [], {}, { dtype, shape });
const swap = (x: Node) => {
  const r = x.shape.length;
  return makeNode('transpose', [x], { perm: x.shape.map((_, i) => (i < r - 2 ? i : 2 * r - 3 - i)) });
};

describe('behaviour', () => {
  it('recognises exactly the swaps of the last two axes', () => {
    expect([[1, 0], [0, 2, 1], [0, 1, 3, 2]].map(swapsLastTwo)).toEqual([true, true, true]);
    expect([[0, 1], [1, 0, 2], [2, 1, 0], [1, 2, 0], [1, 0, 3, 2], [0]].map(swapsLastTwo)).toEqual([false, false, false, false, false, false]);
  });

  it('keeps a transpose that is also an output as the same node, and the matmul reads its operand', () => {
    const g = parseGraph(read('transpose-also-output', 'in'));
    const [mm, t] = g.outputs;
    const out = foldTransposes.run(g).graph;
    expect(out.outputs[1]).toBe(t); // untouched: same node object
    expect(out.outputs[0].op).toBe('matmul');
    expect(out.outputs[0].inputs).toEqual([mm.inputs[0], t.inputs[0]]);
    expect(out.outputs[0].attrs).toEqual({ transB: true });
  });

  it('drops the fusion group of a matmul it rewrites', () => {
    const x = input('float32', 3, 4);
    const w = input('float32', 5, 4);
    const mm = makeNode('matmul', [x, swap(w)], { group: 7 });
    const out = foldTransposes.run(makeGraph([mm])).graph.outputs[0];
    expect(out.attrs).toEqual({ transB: true });
  });

  it('is idempotent: a second run changes nothing and folds nothing', () => {
    for (const name of CASES) {
      const once = foldTransposes.run(parseGraph(read(name, 'in'))).graph;
      const twice = foldTransposes.run(once);
      expect(twice.graph, name).toBe(once);
      expect(twice.fired.filter((f) => f.startsWith('fold')), name).toEqual([]);
    }
  });

  it('on random matmul chains: no swap feeds a matmul afterwards, results are bit for bit the same', () => {
    // A chain of matmuls of [b, s, s] matrices; each operand is a fresh input or the previous result, behind
    // zero to three transposes, each a swap or a batch-moving perm; flags at random.
    const step = fc.record({ fresh: fc.boolean(), left: fc.boolean(), tA: fc.boolean(), tB: fc.boolean(), perms: fc.array(fc.constantFrom(0, 1, 2), { maxLength: 3 }) });
    fc.assert(
      fc.property(fc.constantFrom<'float32' | 'int32'>('float32', 'int32'), fc.array(step, { minLength: 1, maxLength: 5 }), fc.nat(), (dtype, steps, seed) => {
        const PERMS = [[0, 2, 1], [1, 0, 2], [2, 1, 0]];
        let acc = input(dtype, 3, 3, 3);
        for (const s of steps) {
          let operand = s.fresh ? input(dtype, 3, 3, 3) : acc;
          for (const p of s.perms) operand = makeNode('transpose', [operand], { perm: PERMS[p] });
          acc = makeNode('matmul', s.left ? [operand, acc] : [acc, operand], { transA: s.tA, transB: s.tB });
        }
        const before = makeGraph([acc]);
        const after = runPasses(before, [foldTransposes]).graph;
        for (const n of topoOrder(after.outputs)) {
          if (n.op === 'matmul') for (const i of n.inputs) expect(i.op === 'transpose' && swapsLastTwo(i.attrs.perm as number[])).toBe(false);
        }
        expectSameResults(before, after, [seed]);
      }),
      { numRuns: 150, seed: 4242 },
    );
  });
});
