// The shared rewriting helpers and the compile-time shortcuts behind them: rebuilt nodes keep their type
// without re-inference only when that is sound, the per-graph topological order is cached per graph object,
// and compileGraph verifies only when asked.
import { describe, expect, test } from 'vitest';
import { VerifyError } from '../../src/ir/errors.js';
import { makeGraph, orderOf, topoOrder, type Graph } from '../../src/ir/graph.js';
import { makeNode } from '../../src/ir/node.js';
import { parseGraph } from '../../src/ir/parser.js';
import { compileGraph } from '../../src/lowering/compile.js';
import type { Pass } from '../../src/passes/pass.js';
import { withAttrs, withGroup, withInputs } from '../../src/passes/rewrite.js';

const f32 = (shape: number[]) => makeNode('input', [], {}, { dtype: 'float32', shape });

describe('withInputs / withAttrs / withGroup', () => {
  test('operands of a new shape give a re-inferred type', () => {
    const a = f32([2, 3]);
    const b = f32([3]);
    const add = makeNode('add', [a, b]);
    const wider = withInputs(add, [f32([4, 3]), b]);
    expect(wider.shape).toEqual([4, 3]);
    const int = withInputs(makeNode('neg', [a]), [makeNode('input', [], {}, { dtype: 'int32', shape: [2, 3] })]);
    expect(int.dtype).toBe('int32');
  });

  test('an operand change that breaks the op is still an error (no shortcut past inference)', () => {
    const add = makeNode('add', [f32([2, 3]), f32([3])]);
    expect(() => withInputs(add, [f32([2, 3]), f32([4])])).toThrow(/add/);
  });

  test('an attribute that inference reads is re-inferred; group is not', () => {
    const a = f32([2, 3]);
    const w = f32([3, 3]);
    const mm = makeNode('matmul', [a, makeNode('transpose', [w], { perm: [1, 0] })]);
    const sum = makeNode('sum', [a], { axes: [1] });
    const keep = withAttrs(sum, sum.inputs, (d) => {
      d.keepdims = true;
    });
    expect(keep.shape).toEqual([2, 1]);
    const grouped = withGroup(mm, mm.inputs, 3);
    expect(grouped.attrs).toEqual({ group: 3 });
    expect(grouped.shape).toEqual(mm.shape);
    expect(withGroup(grouped, grouped.inputs, undefined).attrs).toEqual({});
  });

  test('a bad group value is rejected like any attribute', () => {
    const n = makeNode('neg', [f32([2])]);
    expect(() => withGroup(n, n.inputs, 1.5)).toThrow(VerifyError);
  });

  test('unchanged operands give the same node object', () => {
    const n = makeNode('neg', [f32([2])]);
    expect(withInputs(n, [...n.inputs])).toBe(n);
  });
});

describe('orderOf', () => {
  test('equals topoOrder of the outputs and is computed once per graph object', () => {
    const g = parseGraph('%0 = input : f32[2]\n%1 = neg %0 : f32[2]\n%2 = abs %1 : f32[2]\nreturn %2, %1\n');
    expect(orderOf(g)).toEqual(topoOrder(g.outputs));
    expect(orderOf(g)).toBe(orderOf(g));
    const other: Graph = makeGraph([g.outputs[1]]);
    expect(orderOf(other).length).toBe(2);
  });
});

describe('compileGraph verification', () => {
  // A deliberately broken pass: it returns a graph whose node claims a type its op does not produce.
  const breaking: Pass = {
    name: 'break-types',
    description: 'test only',
    run(graph) {
      const out = graph.outputs[0];
      const liar = Object.freeze({ ...out, id: out.id + 100000, shape: Object.freeze([7]) });
      return { graph: { inputs: graph.inputs, outputs: [liar] }, fired: ['lie'] };
    },
  };
  const g = parseGraph('%0 = input : f32[2]\n%1 = neg %0 : f32[2]\nreturn %1\n');

  test('verify: true catches a pass that breaks the IR', () => {
    expect(() => compileGraph(g, { passes: [breaking], verify: true })).toThrow(VerifyError);
  });

  test('by default (the evaluation path) the verifier does not run', () => {
    // The lie goes through unchecked: the compiled graph still carries it.
    const ran = compileGraph(g, { passes: [breaking] });
    expect(ran.graph.outputs[0].shape).toEqual([7]);
  });
});
