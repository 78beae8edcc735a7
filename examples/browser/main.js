// The wgfuse browser demo: the image pipeline and a matmul + epilogue on the page's WebGPU (navigator.gpu),
// each checked against wgfuse's CPU reference executor. Served by `npm run serve:examples`.
//
// When it is done the page sets `window.__wgfuseResults` (plain numbers and strings, `errors` included)
// and `window.__wgfuseOutputs` (the input and output arrays); test/browser/browser.test.ts reads both.
import * as wg from '../../dist/browser/wgfuse.js';
// Compiler internals for the unfused dispatch count, the IR and the CPU reference (not a stable API).
import { compileGraph, executeGraph, extractProgram, printGraph } from '../../dist/browser/wgfuse-internals.js';
import { makeImage } from './image.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const errors = [];
window.addEventListener('error', (e) => errors.push(`uncaught: ${e.message}`));
window.addEventListener('unhandledrejection', (e) => errors.push(`unhandled rejection: ${e.reason?.message ?? e.reason}`));

/** Absolute error allowed against the CPU reference (GPU sqrt, pow and sums differ in the last bits). */
const IMAGE_TOLERANCE = 1e-4;
const MATMUL_TOLERANCE = 1e-4;

// ?backend=cpu runs everything on the CPU reference (for comparison); the default asks for WebGPU.
const requested = params.get('backend') === 'cpu' ? 'cpu' : 'webgpu';

/** The image pipeline of `wgfuse demo`: per-channel mean/std, normalise, gain, bias, clamp, gamma. */
function pipeline(x) {
  const mean = x.mean([1, 2], true);
  const std = x.variance([1, 2], true).sqrt();
  return x.sub(mean).div(std.add(1e-6)).mul(0.25).add(0.5).clamp(0, 1).pow(0.8);
}

/** The CPU reference of a lazy tensor, computed before it is evaluated (afterwards it is a leaf). */
function reference(t) {
  const { graph, args } = extractProgram([t.node]);
  return executeGraph(
    graph,
    args.map((a) => a.host),
  )[0];
}

function maxAbsError(got, want) {
  if (got.length !== want.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i] - want[i]);
    if (!(e <= worst)) worst = e; // NaN counts as the worst
  }
  return worst;
}

/** Host data from a small LCG, independent of wgfuse's own generator. */
function hostRandom(n, seed, lo = -1, hi = 1) {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + ((s >>> 8) / 16777216) * (hi - lo);
  }
  return out;
}

let activeBackend = requested;
async function useBackend(fusion) {
  try {
    return await wg.init({ backend: activeBackend, fusion, timing: true, quiet: true });
  } catch (e) {
    // No WebGPU here: report it and show the CPU reference instead.
    errors.push(`init: ${e.message}`);
    activeBackend = 'cpu';
    return await wg.init({ backend: 'cpu', fusion, quiet: true });
  }
}

/** One evaluation after a warm-up (which compiles the plan and its pipelines), with its telemetry. */
async function timedRun(build) {
  const warm = build();
  await warm.data();
  warm.dispose();
  wg.resetTelemetry();
  const t = build();
  const t0 = performance.now();
  const values = await t.data();
  const wallMs = performance.now() - t0;
  const tel = wg.telemetry();
  t.dispose();
  const timed = tel.kernelTimes.length > 0;
  return {
    values,
    wallMs,
    executed: tel.dispatches,
    gpuMs: timed ? tel.kernelTimes.reduce((s, k) => s + k.gpuNs, 0) / 1e6 : null,
    kernelTimes: tel.kernelTimes.map((k) => ({ kernel: k.kernel, count: k.count, gpuMs: k.gpuNs / 1e6 })),
  };
}

function drawPlanes(canvas, planes, width, height) {
  const rgba = new Uint8ClampedArray(4 * width * height);
  const plane = width * height;
  for (let i = 0; i < plane; i++) {
    rgba[4 * i] = Math.round(planes[i] * 255);
    rgba[4 * i + 1] = Math.round(planes[plane + i] * 255);
    rgba[4 * i + 2] = Math.round(planes[2 * plane + i] * 255);
    rgba[4 * i + 3] = 255;
  }
  drawRGBA(canvas, rgba, width, height);
}

function drawRGBA(canvas, rgba, width, height) {
  canvas.width = width;
  canvas.height = height;
  canvas.getContext('2d').putImageData(new ImageData(rgba, width, height), 0, 0);
}

/** A diverging heat map of a [rows, cols] matrix (blue negative, white zero, red positive). */
function drawHeatmap(canvas, values, rows, cols) {
  let peak = 1e-12;
  for (const v of values) peak = Math.max(peak, Math.abs(v));
  const rgba = new Uint8ClampedArray(4 * rows * cols);
  for (let i = 0; i < rows * cols; i++) {
    const t = values[i] / peak;
    const a = Math.round(255 * (1 - Math.abs(t)));
    rgba.set(t >= 0 ? [255, a, a, 255] : [a, a, 255, 255], 4 * i);
  }
  drawRGBA(canvas, rgba, cols, rows);
}

const ms = (x) => (x === null ? 'n/a (no timestamp-query)' : `${x.toFixed(2)} ms`);
const sci = (x) => (Number.isFinite(x) ? x.toExponential(2) : String(x));

function badge(el, pass) {
  el.textContent = pass ? 'PASS' : 'FAIL';
  el.className = `badge ${pass ? 'pass' : 'fail'}`;
}

function row(table, label, ...cells) {
  const tr = table.insertRow();
  const th = document.createElement('th');
  th.textContent = label;
  tr.append(th);
  for (const c of cells) tr.insertCell().textContent = c;
}

async function imagePanel() {
  const [width, height] = params.get('size') === '4k' ? [3840, 2160] : [512, 384];
  const img = makeImage(width, height);
  drawRGBA($('original'), img.rgba, width, height);
  $('image-title').textContent = `Image pipeline: ${width}x${height} RGB, the channels as a batch of 3`;
  const build = () => pipeline(wg.tensor(img.planes, [3, height, width]));

  const runs = {};
  let fusedPlan = null;
  let unfusedPlanned = 0;
  for (const fusion of [false, true]) {
    await useBackend(fusion);
    runs[fusion ? 'fused' : 'unfused'] = await timedRun(build);
    if (fusion) {
      const t = build();
      fusedPlan = wg.compile(t);
      unfusedPlanned = compileGraph(extractProgram([t.node]).graph, { fusion: false }).plan.dispatches.length;
      t.dispose();
    }
  }
  const probe = build();
  const { graph } = extractProgram([probe.node]);
  const ref = reference(probe);
  probe.dispose();
  const err = { unfused: maxAbsError(runs.unfused.values, ref), fused: maxAbsError(runs.fused.values, ref) };
  const pass = err.unfused <= IMAGE_TOLERANCE && err.fused <= IMAGE_TOLERANCE;
  drawPlanes($('processed'), runs.fused.values, width, height);

  const table = $('image-stats');
  row(table, '', 'unfused', 'fused');
  row(table, 'dispatches', String(unfusedPlanned), String(fusedPlan.dispatches.length));
  row(table, 'GPU time (timestamp queries)', ms(runs.unfused.gpuMs), ms(runs.fused.gpuMs));
  row(table, 'wall time (await data())', `${runs.unfused.wallMs.toFixed(2)} ms`, `${runs.fused.wallMs.toFixed(2)} ms`);
  row(table, 'max abs error vs CPU reference', sci(err.unfused), sci(err.fused));
  badge($('image-badge'), pass);

  $('plan').textContent = fusedPlan.dispatches
    .map((d, i) => `dispatch ${i}: ${d.kernel}  workgroups [${d.workgroups.join(', ')}]  reads ${d.bytesRead} B, writes ${d.bytesWritten} B\n${d.ir.replace(/^/gm, '    ')}`)
    .join('\n');
  $('ir').textContent = printGraph(compileGraph(graph).graph);

  return {
    width,
    height,
    channels: 3,
    dispatches: { unfused: unfusedPlanned, fused: fusedPlan.dispatches.length },
    executed: { unfused: runs.unfused.executed, fused: runs.fused.executed },
    gpuMs: { unfused: runs.unfused.gpuMs, fused: runs.fused.gpuMs },
    wallMs: { unfused: runs.unfused.wallMs, fused: runs.fused.wallMs },
    kernels: fusedPlan.dispatches.map((d) => d.kernel),
    kernelTimes: runs.fused.kernelTimes,
    maxAbsError: err,
    tolerance: IMAGE_TOLERANCE,
    pass,
    output: runs.fused.values,
    input: img.planes,
  };
}

async function matmulPanel() {
  const [m, k, n] = [128, 96, 64];
  const X = hostRandom(m * k, 1);
  const W = hostRandom(n * k, 2, -0.25, 0.25);
  const B = hostRandom(n, 3, -0.5, 0.5);
  const build = () => wg.tensor(X, [m, k]).matmul(wg.tensor(W, [n, k]).T).add(wg.tensor(B, [n])).relu();
  $('matmul-title').textContent = `relu(x @ w.T + b): x ${m}x${k}, w ${n}x${k}, b ${n}`;

  const y = build();
  const plan = wg.compile(y);
  const unfused = compileGraph(extractProgram([y.node]).graph, { fusion: false }).plan.dispatches.length;
  const ref = reference(y);
  const got = await y.data();
  y.dispose();
  const err = maxAbsError(got, ref);
  let peak = 0;
  for (const v of ref) peak = Math.max(peak, Math.abs(v));
  const pass = err <= MATMUL_TOLERANCE * Math.max(1, peak);
  drawHeatmap($('matmul-out'), got, m, n);

  const table = $('matmul-stats');
  row(table, 'dispatches (unfused -> fused)', `${unfused} -> ${plan.dispatches.length}`);
  row(table, 'kernels', plan.dispatches.map((d) => d.kernel).join(', '));
  row(table, 'max abs error vs CPU reference', `${sci(err)} (largest |value| ${peak.toFixed(3)})`);
  badge($('matmul-badge'), pass);
  $('matmul-ir').textContent = plan.dispatches.map((d) => `${d.kernel}\n${d.ir.replace(/^/gm, '    ')}`).join('\n');
  return { m, k, n, dispatches: { unfused, fused: plan.dispatches.length }, kernels: plan.dispatches.map((d) => d.kernel), maxAbsError: err, peak, tolerance: MATMUL_TOLERANCE, pass, output: got };
}

async function main() {
  const started = performance.now();
  const results = { done: false, ok: false, backend: null, adapter: null, image: null, matmul: null, errors };
  const outputs = {};
  try {
    const info = await useBackend(true);
    results.backend = info.name;
    results.adapter = info.adapter ?? null;
    $('backend').textContent = `backend: ${info.name}${info.adapter ? ` on ${info.adapter}` : ''}${'gpu' in navigator ? '' : ' (this browser has no navigator.gpu)'}`;
    for (const [name, panel] of [['image', imagePanel], ['matmul', matmulPanel]]) {
      try {
        const { output, input, ...numbers } = await panel();
        results[name] = numbers;
        outputs[name] = output;
        if (input) outputs[`${name}Input`] = input;
      } catch (e) {
        errors.push(`${name}: ${e?.stack ?? e}`);
        $(`${name}-error`).textContent = String(e?.message ?? e);
      }
    }
    results.backend = wg.backend().name; // the CPU if WebGPU failed on the way
  } catch (e) {
    errors.push(`demo: ${e?.stack ?? e}`);
  }
  results.ok = errors.length === 0 && !!results.image?.pass && !!results.matmul?.pass;
  results.totalMs = performance.now() - started;
  results.done = true;
  $('status').textContent = results.ok ? `done in ${(results.totalMs / 1000).toFixed(1)} s` : `finished with problems: ${errors.join('; ') || 'a check failed'}`;
  window.__wgfuseOutputs = outputs;
  window.__wgfuseResults = results;
  document.body.dataset.status = 'done';
}

main();
