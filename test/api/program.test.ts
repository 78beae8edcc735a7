// extractProgram: the data-free graph behind some tensors. It builds the graph's topological order during its
// own walk (graphWithOrder) instead of walking the result again, so that order must be exactly topoOrder's:
// it fixes the argument binding order and the plan-cache key. Checked here on random lazy programs with
// realized values, values realized after lazy tensors were built from them (two nodes, one storage), casts to
// the same dtype, shared subexpressions and repeated outputs.
import fc from 'fast-check';
import { beforeAll, describe, expect, test } from 'vitest';
import * as wg from '../../src/index.js';
import { extractProgram } from '../../src/api/program.js';
import { orderOf, topoOrder } from '../../src/ir/graph.js';
import { structuralHash } from '../../src/ir/hash.js';
import { printGraph } from '../../src/ir/printer.js';

beforeAll(async () => {
  await wg.init({ backend: 'cpu', quiet: true });
});

const stepArb = fc.record({
  kind: fc.constantFrom('unary', 'binary', 'binary', 'reduce', 'view', 'cast', 'realize'),
  a: fc.nat(),
  b: fc.nat(),
  k: fc.nat(3),
});
const programArb = fc.record({
  leaves: fc.integer({ min: 1, max: 3 }),
  steps: fc.array(stepArb, { maxLength: 14 }),
  outputs: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
});

describe('extractProgram', () => {
  test('property: the graph order is topoOrder of its outputs, inputs and arguments line up', async () => {
    await fc.assert(
      fc.asyncProperty(programArb, async (p) => {
        const pool: wg.Tensor[] = Array.from({ length: p.leaves }, (_, i) => wg.tensor([i, 1, 2, 3, 4, 5], [2, 3]));
        for (const s of p.steps) {
          const x = pool[s.a % pool.length];
          const y = pool[s.b % pool.length];
          switch (s.kind) {
            case 'unary':
              pool.push([x.neg(), x.exp(), x.abs(), x.relu()][s.k]);
              break;
            case 'binary':
              pool.push([x.add(y), x.mul(y), x.sub(y), x.maximum(y)][s.k]);
              break;
            case 'reduce':
              pool.push(x.sum(-1, true).add(x));
              break;
            case 'view':
              pool.push(s.k % 2 ? x.T.T : x.reshape([3, 2]).reshape([2, 3]));
              break;
            case 'cast':
              pool.push(x.cast('float32')); // the dtype it has: the same node
              break;
            case 'realize':
              // A lazy tensor built from x before it is realized keeps its computed node; ones built after
              // see its new input leaf: one storage behind two nodes.
              pool.push(x.add(1));
              await wg.evaluate(x);
              break;
          }
        }
        const outs = p.outputs.map((k) => pool[k % pool.length]);
        const { graph, args } = extractProgram(outs.map((t) => t.node));
        const order = orderOf(graph);
        const expected = topoOrder(graph.outputs);
        expect(order.length).toBe(expected.length);
        order.forEach((n, i) => expect(n).toBe(expected[i]));
        expect(graph.inputs).toEqual(expected.filter((n) => n.op === 'input'));
        expect(args.length).toBe(graph.inputs.length);
        graph.inputs.forEach((leaf, i) => {
          expect(args[i].shape).toEqual([...leaf.shape]);
          expect(args[i].dtype).toBe(leaf.dtype);
        });
        // One argument per storage.
        expect(new Set(args).size).toBe(args.length);
        // The same tensors give the same program again.
        expect(printGraph(extractProgram(outs.map((t) => t.node)).graph)).toBe(printGraph(graph));
      }),
      { numRuns: 300 },
    );
  });

  test('two nodes realized by one storage are one argument, placed where the first is met', async () => {
    const x = wg.tensor([1, 2, 3, 4]).exp();
    const before = x.add(1); // reads x's computed node
    await wg.evaluate(x);
    const after = x.mul(2); // reads x's new input leaf
    const { graph, args } = extractProgram([before.node, after.node]);
    expect(args.length).toBe(1);
    expect(graph.inputs.length).toBe(1);
    expect(orderOf(graph)).toEqual(topoOrder(graph.outputs));
    expect(structuralHash(graph)).toBe(structuralHash(extractProgram([before.node, after.node]).graph));
    expect(Array.from(await before.data())).toEqual([1, 2, 3, 4].map((v) => Math.fround(Math.fround(Math.exp(v)) + 1)));
  });
});
