// Compile-time benchmark: how long the compiler takes on a ~1,000-node program built through the public API
// (mixed elementwise ops, reductions and matmuls: a stack of small transformer-like blocks).
//
// Run (from the repository root; Node 20 cannot run .ts itself and tsx is not a dependency):
//
//   npx tsc -p tsconfig.json --outDir /tmp/wgbench; \
//     ln -sfn "$PWD/node_modules" /tmp/wgbench/node_modules; \
//     echo '{"type":"module"}' > /tmp/wgbench/package.json; \
//     node /tmp/wgbench/bench/compile-time.js
//
// (tsc emits even when some other file of the project has a type error, hence `;` rather than `&&`. The
// node_modules link lets the compiled ESM find immer and the other dependencies; the package.json makes
// Node load the .js files as ES modules.) Options: `--runs N` (default 20), `--blocks N` (default 18: 1,026 nodes),
// `--no-gpu` (skip the WebGPU backend part).
//
// What it measures, each as the median of N runs after warm-up (wall time; for compileGraph also the CPU time
// the process spent on all its threads, garbage collection included):
//   1. compileGraph(graph): every graph pass of the default pipeline, lowering to a plan (WGSL generation
//      included) and buffer assignment; not pipeline creation (no device is involved). Per-pass medians
//      come from the pass manager's log; "lowering + assign-buffers" is the rest.
//   2. wg.compile(...) with no backend chosen: extractProgram + compileGraph, for the first program and for a
//      second program of the same structure built afresh. This path has NO plan cache, so the second call
//      costs as much as the first.
//   3. wg.compile(...) with the WebGPU backend (when an adapter exists): the first call misses the backend's
//      plan cache (compileGraph runs), a second program of the same structure hits it (extractProgram and
//      the graph's structural code only). Telemetry's planCacheHits/Misses confirm which.
import * as os from 'node:os';
import * as wg from '../src/index.js';
import type { Tensor } from '../src/index.js';
import { extractProgram } from '../src/api/program.js';
import { topoOrder } from '../src/ir/graph.js';
import { compileGraph } from '../src/lowering/compile.js';
import { median } from './stats.js';

const argv = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const RUNS = option('--runs', 20);
const BLOCKS = option('--blocks', 18);
const WARMUP = 3;
const useGpu = !argv.includes('--no-gpu');

let seed = 1;
function data(shape: number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const s = seed++;
  return wg.tensor(Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + s * 78.233)), shape);
}

/**
 * One block, about 45 nodes: layerNorm, a projection with bias and gelu, a softmax over features, a second
 * projection back, a residual, a per-row variance gate and a Gram matrix of the block's output.
 */
function block(x: Tensor, d: number, h: number): { y: Tensor; side: Tensor } {
  const n = wg.layerNorm(x, data([d]), data([d]));
  const a = n.matmul(data([h, d]).T).add(data([h])).gelu();
  const p = a.softmax(-1);
  const back = p.matmul(data([h, d])).mul(0.5);
  const gate = x.variance(-1, true).add(1).rsqrt();
  const y = x.add(back).mul(gate).tanh();
  const gram = y.T.matmul(y).div(x.shape[0]).sum(0);
  return { y, side: gram.max().add(a.mean(0).min()) };
}

function program(blocks: number): Tensor[] {
  seed = 1; // the same data pattern every time: only the structure matters here
  const d = 32;
  const h = 48;
  let x = data([16, d]);
  const sides: Tensor[] = [];
  for (let b = 0; b < blocks; b++) {
    const { y, side } = block(x, d, h);
    x = y;
    sides.push(side);
  }
  return [x, sides.reduce((acc, s) => acc.add(s))];
}

/**
 * Wall time, and the CPU time the process spent on all its threads (user + system; V8's parallel garbage
 * collector included, so it can exceed the wall time).
 */
function time<T>(f: () => T): { ms: number; cpuMs: number; value: T } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = f();
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { ms, cpuMs: (c.user + c.system) / 1000, value };
}

function fmt(ms: number): string {
  return `${ms.toFixed(2)} ms`;
}

async function main(): Promise<void> {
  const outs = program(BLOCKS);
  const { graph, args } = extractProgram(outs.map((t) => t.node));
  const layouts = args.map((a) => a.layout);
  const nodes = topoOrder(graph.outputs).length;
  const counts = new Map<string, number>();
  for (const n of topoOrder(graph.outputs)) counts.set(n.op, (counts.get(n.op) ?? 0) + 1);
  const kinds = [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([op, k]) => `${op} ${k}`).join(', ');

  console.log(`wgfuse compile-time benchmark: node ${process.version}, ${process.platform}/${process.arch}`);
  console.log(`program: ${BLOCKS} blocks, ${nodes} nodes (${graph.inputs.length} inputs, ${graph.outputs.length} outputs)`);
  console.log(`ops: ${kinds}`);

  // 1. compileGraph
  for (let i = 0; i < WARMUP; i++) compileGraph(graph, { inputLayouts: layouts });
  const totals: number[] = [];
  const cpuTotals: number[] = [];
  const perPass = new Map<string, number[]>();
  let last = compileGraph(graph, { inputLayouts: layouts });
  for (let r = 0; r < RUNS; r++) {
    const { ms, cpuMs, value } = time(() => compileGraph(graph, { inputLayouts: layouts }));
    totals.push(ms);
    cpuTotals.push(cpuMs);
    last = value;
    const seen = new Map<string, number>();
    for (const entry of value.log) {
      // A pass that runs twice (canonicalize, cse) is reported as name#2 the second time.
      const k = (seen.get(entry.pass) ?? 0) + 1;
      seen.set(entry.pass, k);
      const key = k === 1 ? entry.pass : `${entry.pass}#${k}`;
      if (!perPass.has(key)) perPass.set(key, []);
      perPass.get(key)!.push(entry.ms);
    }
  }
  const plan = last.plan;
  console.log(`\n1. compileGraph (passes + lowering + WGSL + buffer assignment), median of ${RUNS} after ${WARMUP} warm-up runs: ${fmt(median(totals))}`);
  console.log(`   min ${fmt(Math.min(...totals))}, max ${fmt(Math.max(...totals))}; CPU time of this process (all threads, the garbage collector's included): median ${fmt(median(cpuTotals))}, min ${fmt(Math.min(...cpuTotals))}`);
  console.log(`   load average while measuring: ${os.loadavg()[0].toFixed(2)} on ${os.cpus().length} cores`);
  console.log(`   result: ${topoOrder(last.graph.outputs).length} nodes after the passes, ${plan.dispatches.length} dispatches, ${plan.slots.length} slots, peak ${plan.memory?.peakBytes} B (lower bound ${plan.memory?.lowerBound} B)`);
  let passSum = 0;
  for (const [pass, ms] of perPass) {
    const m = median(ms);
    passSum += m;
    console.log(`   ${pass.padEnd(20)} ${fmt(m)}`);
  }
  console.log(`   ${'lowering + assign'.padEnd(20)} ${fmt(median(totals) - passSum)} (the rest of the median)`);

  // 2. wg.compile without a backend: no cache.
  const firsts: number[] = [];
  const seconds: number[] = [];
  for (let r = 0; r < Math.max(5, Math.floor(RUNS / 2)); r++) {
    const a = program(BLOCKS);
    firsts.push(time(() => wg.compile(...a)).ms);
    const b = program(BLOCKS);
    seconds.push(time(() => wg.compile(...b)).ms);
  }
  console.log(`\n2. wg.compile with no backend chosen (extractProgram + compileGraph; this path has no plan cache)`);
  console.log(`   first program ${fmt(median(firsts))}, second program of the same structure ${fmt(median(seconds))} (medians of ${firsts.length})`);

  // 3. wg.compile through the WebGPU backend's plan cache.
  if (!useGpu) return;
  try {
    await wg.init({ backend: 'webgpu', quiet: true });
  } catch (e) {
    console.log(`\n3. skipped: no WebGPU backend (${e instanceof Error ? e.message : String(e)})`);
    return;
  }
  const missMs: number[] = [];
  const hitMs: number[] = [];
  const extractMs: number[] = [];
  for (let r = 0; r < Math.max(5, Math.floor(RUNS / 2)); r++) {
    wg.resetTelemetry();
    // A structure the backend has not seen: one more block than any before (a fresh miss every round).
    const fresh = program(BLOCKS + 1 + r);
    const miss = time(() => wg.compile(...fresh)).ms;
    const again = program(BLOCKS + 1 + r);
    extractMs.push(time(() => extractProgram(again.map((t) => t.node))).ms);
    const hit = time(() => wg.compile(...again)).ms;
    const t = wg.telemetry();
    if (t.planCacheMisses !== 1 || t.planCacheHits !== 1) throw new Error(`expected 1 miss and 1 hit, telemetry says ${t.planCacheMisses} and ${t.planCacheHits}`);
    missMs.push(miss);
    hitMs.push(hit);
  }
  console.log(`\n3. wg.compile through the WebGPU backend (plan cache keyed by the structural code; ${BLOCKS + 1}..${BLOCKS + missMs.length} blocks)`);
  console.log(`   first (cache miss: compileGraph runs) ${fmt(median(missMs))}, second of the same structure (cache hit) ${fmt(median(hitMs))}`);
  console.log(`   of which extractProgram alone ${fmt(median(extractMs))}; telemetry: 1 miss and 1 hit per round, every round`);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
