// `wgfuse dump-ir`, run in-process through runDumpIr (the same commander command main.ts registers): every
// --emit mode, the dump headers, --passes subsets, the pass log, --svg, programs in JS and TS, and errors that
// are one line with a position and never a stack trace.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as wg from '../../src/index.js';
import { extractProgram } from '../../src/api/program.js';
import { graphToDot } from '../../src/cli/dot.js';
import { formatPlan, loadProgram, runDumpIr, runPipeline } from '../../src/cli/dump-ir.js';
import { main } from '../../src/cli/main.js';
import { makeGraph, topoOrder } from '../../src/ir/graph.js';
import { structuralHash } from '../../src/ir/hash.js';
import { makeNode } from '../../src/ir/node.js';
import { parseGraph } from '../../src/ir/parser.js';
import { printGraph } from '../../src/ir/printer.js';
import { compileGraph } from '../../src/lowering/compile.js';
import type { Plan } from '../../src/lowering/plan.js';
import { runPasses } from '../../src/passes/manager.js';
import { DEFAULT_PIPELINE, PASSES, passByName, parsePassList } from '../../src/passes/pipeline.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
const fixture = (name: string) => join(FIXTURES, name);
const MLP = fixture('mlp.ir');
const TWO = fixture('two-outputs.ir');

const HEADER = /^\/\/ ----- IR after ([a-z-]+) \((\d+) nodes?, (changed|unchanged)\) -----$/;
const STACK_FRAME = /^\s+at /m;

/** The registry name of a pass object (what the headers print). */
const nameOf = (p: (typeof DEFAULT_PIPELINE)[number]) => Object.keys(PASSES).find((k) => PASSES[k] === p)!;

const parseFixture = (name: string) => parseGraph(readFileSync(fixture(name), 'utf8'));

let tmp: string;
beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'wgfuse-dump-ir-'));
  await wg.init({ backend: 'cpu', quiet: true });
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('pass registry', () => {
  it('registers every pass under the name it gives itself, and the default pipeline only uses registered passes', () => {
    for (const [key, pass] of Object.entries(PASSES)) expect(pass.name, `PASSES['${key}']`).toBe(key);
    for (const pass of DEFAULT_PIPELINE) expect(Object.values(PASSES), pass.name).toContain(pass);
    expect(passByName('fold-transposes')).toBe(PASSES['fold-transposes']);
  });
  it('names every valid pass when asked for an unknown one', () => {
    expect(() => passByName('fold-transpose')).toThrow(/unknown pass 'fold-transpose'; valid passes: /);
    try {
      passByName('nope');
    } catch (e) {
      for (const name of Object.keys(PASSES)) expect((e as Error).message).toContain(name);
    }
    expect(parsePassList('')).toEqual([]);
    expect(parsePassList(' cse , dce ')).toEqual([PASSES.cse, PASSES.dce]);
  });
});

describe('dump-ir --emit=ir', () => {
  it('prints the IR after the default pipeline, as the pass manager computes it', async () => {
    const r = await runDumpIr([MLP]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const want = printGraph(runPasses(parseFixture('mlp.ir'), DEFAULT_PIPELINE).graph);
    expect(r.stdout).toBe(want);
  });
  it('runs only the passes --passes names, in that order, and none for --passes=', async () => {
    const none = await runDumpIr([MLP, '--passes=']);
    expect(none.code).toBe(0);
    expect(none.stdout).toBe(printGraph(parseFixture('mlp.ir')));

    const fold = await runDumpIr([MLP, '--passes=fold-transposes']);
    expect(fold.code).toBe(0);
    expect(fold.stdout).toBe(printGraph(runPasses(parseFixture('mlp.ir'), [PASSES['fold-transposes']]).graph));
    expect(fold.stdout).toContain('{transB}');
    expect(fold.stdout).not.toContain('transpose');
  });
  it('prints a header and the IR after every pass with --print-after-all', async () => {
    const r = await runDumpIr([MLP, '--print-after-all']);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    const headers = lines.filter((l) => l.startsWith('// ----- IR after'));
    expect(headers.map((h) => HEADER.exec(h)?.[1])).toEqual(DEFAULT_PIPELINE.map(nameOf));
    // Each dump is the pass's IR: it parses, and the header counts its nodes.
    const sections = r.stdout.split(/^\/\/ ----- .* -----$/m).slice(1);
    expect(sections.length).toBe(DEFAULT_PIPELINE.length + 1); // the dumps, then the final IR
    let graph = parseFixture('mlp.ir');
    DEFAULT_PIPELINE.forEach((pass, i) => {
      const { graph: next, log } = runPasses(graph, [pass]);
      const [, , nodes, changed] = HEADER.exec(headers[i])!;
      expect(sections[i].trim() + '\n').toBe(printGraph(next));
      expect(Number(nodes)).toBe(topoOrder(next.outputs).length);
      expect(changed).toBe(log[0].changed ? 'changed' : 'unchanged');
      graph = next;
    });
    expect(r.stdout).toContain('// ----- final IR');
  });
  it('prints only the passes --print-after names', async () => {
    const r = await runDumpIr([MLP, '--passes=canonicalize,fold-transposes,cse', '--print-after=fold-transposes']);
    expect(r.code).toBe(0);
    const headers = r.stdout.split('\n').filter((l) => HEADER.test(l));
    const folded = printGraph(runPasses(parseFixture('mlp.ir'), [PASSES.canonicalize, PASSES['fold-transposes']]).graph);
    const nodes = folded.split('\n').length - 2;
    expect(headers).toEqual([`// ----- IR after fold-transposes (${nodes} nodes, changed) -----`]);
  });
  it('prints only the passes that changed the graph with --print-after-change', async () => {
    const r = await runDumpIr([MLP, '--passes=canonicalize,fold-transposes,detect-syrk', '--print-after-change']);
    expect(r.code).toBe(0);
    const headers = r.stdout.split('\n').filter((l) => l.startsWith('// ----- IR after'));
    expect(headers).toEqual(['// ----- IR after fold-transposes (6 nodes, changed) -----']);
    const limited = await runDumpIr([MLP, '--passes=canonicalize,fold-transposes', '--print-after=canonicalize', '--print-after-change']);
    expect(limited.stdout).not.toContain('// ----- IR after');
  });
  it('prints the pass log with --log: nodes before and after, and what fired', async () => {
    const r = await runDumpIr([MLP, '--passes=canonicalize,fold-transposes', '--log']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('// ----- pass log -----');
    expect(r.stdout).toMatch(/^canonicalize\s+7 -> 7 nodes\s+unchanged/m);
    expect(r.stdout).toMatch(/^fold-transposes\s+7 -> 6 nodes\s+changed/m);
    expect(r.stdout).toMatch(/^ {2}fold %2 into %3 as transB \(operand B\)$/m);
  });
});

describe('dump-ir --emit=plan, wgsl, dot, json', () => {
  it('--emit=plan lists each dispatch with kernel, workgroups, bindings, bytes and IR, then the slots', async () => {
    const r = await runDumpIr([MLP, '--passes=fold-transposes', '--emit=plan']);
    expect(r.stderr).toBe('');
    const { plan, graph } = compileGraph(parseFixture('mlp.ir'), { passes: [PASSES['fold-transposes']] });
    expect(r.stdout.split('\n')[0]).toBe(`// ----- plan ${structuralHash(graph)}: ${plan.dispatches.length} dispatches, ${plan.slots.length} slots -----`);
    plan.dispatches.forEach((d, i) => {
      expect(r.stdout).toContain(`dispatch ${i}: ${d.kernel}\n  workgroups  ${d.workgroups.join(' x ')}\n`);
      // `>sN`: the binding also holds slot N, written in place over it.
      expect(r.stdout).toContain(`  bindings    ${d.bindings.map((b, j) => `@${j}=s${b.slot}:${b.access}${b.result === undefined ? '' : `>s${b.result}`}`).join(' ')}\n`);
      expect(r.stdout).toContain(`  bytes       read ${d.bytesRead}, written ${d.bytesWritten}\n`);
      for (const line of d.ir.split('\n').filter(Boolean)) expect(r.stdout).toContain(line);
    });
    for (const s of plan.slots) expect(r.stdout).toMatch(new RegExp(`^  s${s.index}  ${s.role}`, 'm'));
    expect(r.stdout).toContain('outputs\n  out0  s');
    expect(r.stdout.includes('\nmemory\n')).toBe(plan.memory !== undefined);
    // The MLP's bias add runs in place over the matmul's result (fold-transposes alone fuses nothing).
    expect(plan.dispatches.some((d) => d.bindings.some((b) => b.result !== undefined))).toBe(true);
  });
  it('prints the memory report when the plan has one', () => {
    const plan: Plan = {
      slots: [
        { index: 0, dtype: 'float32', size: 4, role: 'input' },
        { index: 1, dtype: 'float32', size: 4, role: 'temp' },
        { index: 2, dtype: 'float32', size: 4, role: 'output' },
      ],
      inputSlots: [0],
      outputs: [{ slot: 2, shape: [4], offset: 0, strides: [1] }],
      dispatches: [],
      memory: { buffers: [16, 16], slotBuffer: [-1, 0, 1], peakBytes: 32, bytesWithoutReuse: 512, lowerBound: 32 },
    };
    const text = formatPlan(plan, 'k');
    expect(text).toContain('memory\n  peak bytes          32 B in 2 buffers\n  bytes without reuse 512 B\n  lower bound         32 B\n');
    expect(text).toMatch(/^ {2}s1 {2}temp .* buffer 0$/m);
    expect(formatPlan({ ...plan, memory: undefined }, 'k')).not.toContain('memory');
  });
  it('--emit=wgsl prints every kernel after a header naming it', async () => {
    const r = await runDumpIr([TWO, '--passes=', '--emit=wgsl']);
    expect(r.code).toBe(0);
    const plan = compileGraph(parseFixture('two-outputs.ir'), { passes: [] }).plan;
    const headers = r.stdout.split('\n').filter((l) => l.startsWith('// ----- dispatch'));
    expect(headers.length).toBe(plan.dispatches.length);
    plan.dispatches.forEach((d, i) => {
      expect(headers[i]).toMatch(new RegExp(`^// ----- dispatch ${i}: ${d.kernel.replace(/\./g, '\\.')} \\(entry ${d.entryPoint}, `));
      expect(r.stdout).toContain(d.wgsl);
    });
    expect(r.stdout).toContain('@compute');
  });
  it('--emit=dot draws one node per value and one edge per operand', async () => {
    const r = await runDumpIr([MLP, '--passes=', '--emit=dot']);
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith('digraph wgfuse {')).toBe(true);
    expect(r.stdout.trimEnd().endsWith('}')).toBe(true);
    const graph = parseFixture('mlp.ir');
    const order = topoOrder(graph.outputs);
    expect(r.stdout.match(/^\s+n\d+ \[label=/gm)?.length).toBe(order.length);
    expect(r.stdout.match(/->/g)?.length).toBe(order.reduce((n, x) => n + x.inputs.length, 0));
    expect(r.stdout).toContain('n3 [label="%3 = matmul\\nf32[8,4]"');
    expect(r.stdout).toContain('label="%1 = input {name=\\"w\\"}\\nf32[4,16]"');
    expect(r.stdout).not.toContain('subgraph');
  });
  it('draws the nodes of one fused group as one cluster', () => {
    const x = makeNode('input', [], {}, { dtype: 'float32', shape: [4] });
    const a = makeNode('exp', [x], { group: 0 });
    const b = makeNode('neg', [a], { group: 0 });
    const c = makeNode('sum', [b], { axes: [0], group: 1 });
    const dot = graphToDot(makeGraph([c, a]));
    const clusters = [...dot.matchAll(/subgraph (cluster_group_\d+) \{([^}]*)\}/g)].map((m) => [m[1], m[2].match(/n\d+ \[/g)?.join(' ')]);
    expect(clusters).toEqual([
      ['cluster_group_0', 'n1 [ n2 ['],
      ['cluster_group_1', 'n3 ['],
    ]);
    expect(dot).toContain('output 1');
    expect(dot).not.toContain('group=');
  });
  it('--emit=json holds the pass log, the dumps, the final IR and the plan', async () => {
    const r = await runDumpIr([MLP, '--passes=canonicalize,fold-transposes', '--emit=json', '--print-after-all', '--log']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { passes: string[]; log: { pass: string; fired: string[] }[]; dumps: { pass: string; ir: string }[]; ir: string; plan: Plan };
    expect(out.passes).toEqual(['canonicalize', 'fold-transposes']);
    expect(out.log.map((e) => e.pass)).toEqual(['canonicalize', 'fold-transposes']);
    expect(out.log[1].fired.length).toBeGreaterThan(0);
    expect(out.dumps.map((d) => d.pass)).toEqual(['canonicalize', 'fold-transposes']);
    const graph = runPasses(parseFixture('mlp.ir'), [PASSES.canonicalize, PASSES['fold-transposes']]).graph;
    expect(out.ir).toBe(printGraph(graph));
    expect(out.plan).toEqual(JSON.parse(JSON.stringify(compileGraph(graph, { passes: [] }).plan)));
  });
  it('--svg renders the final graph to an SVG file', async () => {
    const svg = join(tmp, 'mlp.svg');
    const r = await runDumpIr([MLP, '--passes=fold-transposes', '--emit=ir', '--svg', svg]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const text = readFileSync(svg, 'utf8');
    expect(text.startsWith('<svg') || text.startsWith('<?xml')).toBe(true);
    expect(text).toContain('matmul {transB}');
  }, 60_000);
});

describe('dump-ir on programs', () => {
  it('compiles a .mjs program to the same plan as wg.compile', async () => {
    const r = await runDumpIr([fixture('program.mjs'), '--emit=json']);
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as { ir: string; plan: Plan };
    const [t] = await loadProgram(fixture('program.mjs'));
    expect(out.plan).toEqual(JSON.parse(JSON.stringify(wg.compile(t))));
    expect(out.ir).toBe(printGraph(runPasses(extractProgram([t.node]).graph, DEFAULT_PIPELINE).graph));
  });
  it('accepts an async `main` returning several tensors', async () => {
    const r = await runDumpIr([fixture('program-main.mjs'), '--passes=']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^%0 = rand \{dist="normal", seed=7\} : f32\[6,10\]$/m);
    expect(r.stdout).toMatch(/^return %\d+, %\d+$/m);
    expect(r.stdout).toMatch(/= argmax %0 \{axis=1\} : i32\[6\]$/m);
  });
  it('loads a TypeScript program', async () => {
    const r = await runDumpIr([fixture('program.ts'), '--passes=']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('%0 = rand {dist="normal", seed=2} : f32[3,5]\n%1 = exp %0 : f32[3,5]\n%2 = sum %1 {axes=[1]} : f32[3]\nreturn %2\n');
  });
  it('says what a program must export and return', async () => {
    const bad = await runDumpIr([fixture('not-a-tensor.mjs')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/not-a-tensor\.mjs: the program must return a Tensor or an array of Tensors, but it returned 42/);
    const none = await runDumpIr([fixture('no-export.mjs')]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/must export a default function or a function named 'main'.*; it exports shape/);
    const missing = await runDumpIr([join(tmp, 'missing.mjs')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/missing\.mjs: cannot load the program: /);
    for (const r of [bad, none, missing]) expect(r.stderr).not.toMatch(STACK_FRAME);
  });
});

describe('dump-ir errors', () => {
  it('reports a malformed .ir file as FILE:LINE:COL: message, the line and a caret, without a stack trace', async () => {
    const file = fixture('malformed.ir');
    const r = await runDumpIr([file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `${file}:3:17: %7 is not defined (a value must be defined before it is used)\n` + '  3 | %2 = matmul %0, %7 : f32[8,4]\n' + '    |                 ^~\n',
    );
  });
  it('lists the valid passes for an unknown pass name, in --passes and in --print-after', async () => {
    for (const args of [['--passes=cse,fuse-everything'], ['--print-after=fuse-everything']]) {
      const r = await runDumpIr([MLP, ...args]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^wgfuse dump-ir: unknown pass 'fuse-everything'; valid passes: /);
      for (const name of Object.keys(PASSES)) expect(r.stderr).toContain(name);
      expect(r.stderr).not.toMatch(STACK_FRAME);
    }
  });
  it('rejects a missing file, an unknown file type and an unknown --emit', async () => {
    const missing = await runDumpIr([join(tmp, 'nothing.ir')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot read .*nothing\.ir/);
    const txt = await runDumpIr([join(tmp, 'graph.txt')]);
    expect(txt.code).toBe(1);
    expect(txt.stderr).toMatch(/unknown file type '\.txt'; expected an IR file \(\.ir\) or a program \(\.js, \.mjs, \.ts\)/);
    const emit = await runDumpIr([MLP, '--emit=svg']);
    expect(emit.code).toBe(1);
    expect(emit.stderr).toMatch(/Allowed choices are ir, plan, wgsl, dot, json/);
    for (const r of [missing, txt, emit]) expect(r.stderr).not.toMatch(STACK_FRAME);
  });
  it('names the pass whose result the pass manager rejects, after the dumps before it', () => {
    const graph = parseFixture('mlp.ir');
    const swapped = makeGraph([makeNode('relu', [makeNode('input', [], {}, { dtype: 'float32', shape: [8, 4] })])]);
    const bad = { name: 'bad', description: 'replaces the graph, inputs included', run: () => ({ graph: swapped, fired: [] }) };
    const dumps: string[] = [];
    expect(() => runPipeline(graph, [PASSES.canonicalize, bad], 'all', (d) => dumps.push(d.pass))).toThrow(
      /^pass bad failed: internal: pass bad changed the graph's inputs$/,
    );
    expect(dumps).toEqual(['canonicalize']);
  });
  it('documents the program convention in --help', async () => {
    const r = await runDumpIr(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--print-after-all');
    expect(r.stdout).toContain('export default (wg) =>');
    expect(r.stdout).toContain(`Pass names: ${Object.keys(PASSES).join(', ')}`);
  });
});

describe('wgfuse main', () => {
  it('routes dump-ir to the command and returns its exit code', async () => {
    let out = '';
    let err = '';
    const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
    const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
    try {
      expect(await main(['dump-ir', MLP, '--passes='])).toBe(0);
      expect(out).toBe(printGraph(parseFixture('mlp.ir')));
      expect(await main(['dump-ir', fixture('malformed.ir')])).toBe(1);
      expect(err).toMatch(/malformed\.ir:3:17: /);
    } finally {
      o.mockRestore();
      e.mockRestore();
    }
  });
});
