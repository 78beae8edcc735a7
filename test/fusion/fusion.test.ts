// The fusion passes end to end: the programs the issue names compile to at most the dispatch counts it
// names, and every fused plan computes what the unfused graph computes, on the CPU reference and WebGPU.
import { describe, expect, it } from 'vitest';
import * as wg from '../../src/index.js';
import type { Tensor } from '../../src/api/tensor.js';
import { extractProgram } from '../../src/api/program.js';
import { lowerGraph } from '../../src/lowering/lower.js';
import { runPasses } from '../../src/passes/manager.js';
import { fuseEpilogue } from '../../src/passes/fuse-epilogue.js';
import { fuseReduction } from '../../src/passes/fuse-reduction.js';
import { fuseElementwise } from '../../src/passes/fuse-elementwise.js';
import { printGraph } from '../../src/ir/printer.js';
import { executeGraph } from '../../src/runtime/cpu/executor.js';
import { expectClose, TRANSCENDENTAL } from '../webgpu/differential.js';
import { graphBackend } from '../webgpu/gpu.js';

const FUSION = [fuseEpilogue, fuseReduction, fuseElementwise];
// The graphs given to it are already fused: it lowers them as they are.
const backend = graphBackend();

async function fused(what: string, out: Tensor, maxDispatches: number) {
  const { graph, args } = extractProgram([out.node]);
  const { graph: after, log } = runPasses(graph, FUSION);
  const plan = lowerGraph(after);
  const want = executeGraph(graph, args.map((a) => a.host!));
  const cpuAfter = executeGraph(after, args.map((a) => a.host!));
  expectClose(cpuAfter[0], want[0], { rel: 0, abs: 0 }, `${what}: CPU reference after fusion`);
  const [res] = await backend().run(after, args);
  const got = await backend().read(res);
  expectClose(got, want[0], TRANSCENDENTAL, `${what}: WebGPU fused`);
  expect(plan.dispatches.length, `${what}\n${printGraph(after)}\n${log.flatMap((l) => l.fired).join('\n')}`).toBeLessThanOrEqual(maxDispatches);
  if (process.env.SHOW_FUSION) console.log(what, plan.dispatches.map((d) => d.kernel), '\n' + printGraph(after));
  return plan;
}

const rnd = (shape: number[], seed: number) => wg.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i * 12.9898 + seed) * 2), shape);

describe('fused dispatch counts', () => {
  it('relu(x @ w.T + b) is one dispatch', async () => {
    await fused('mlp', rnd([33, 20], 1).matmul(rnd([17, 20], 2).T).add(rnd([17], 3)).relu(), 1);
  });
  it('softmax and logSoftmax over the last axis: at most 2', async () => {
    await fused('softmax', rnd([9, 37], 4).softmax(-1), 2);
    await fused('logSoftmax', rnd([9, 37], 5).logSoftmax(-1), 2);
    await fused('softmax axis 0', rnd([70, 5], 6).softmax(0), 2);
  });
  it('layerNorm over the last axis: at most 2', async () => {
    await fused('layerNorm', wg.layerNorm(rnd([6, 300], 7), rnd([300], 8), rnd([300], 9)), 2);
  });
  it('a chain of 10 elementwise ops is one dispatch', async () => {
    let x = rnd([1000], 10);
    x = x.mul(1.5).add(0.25).tanh().mul(x).sub(1).abs().sqrt().neg().exp().add(2);
    await fused('chain', x, 1);
  });
  it('the image pipeline with per-image mean and std: at most 3', async () => {
    const x = rnd([3, 20, 30], 11).add(2);
    const mean = x.mean([1, 2], true);
    const std = x.variance([1, 2], true).sqrt();
    await fused('image', x.sub(mean).div(std).mul(0.25).add(0.5).clamp(0, 1).pow(0.8), 3);
  });
  it('covariance ((x - mean0)^T (x - mean0)) / (n - 1): at most 3', async () => {
    const x = rnd([50, 7], 12);
    const c = x.sub(x.mean(0, true));
    await fused('covariance', c.T.matmul(c).div(49), 3);
  });
});
