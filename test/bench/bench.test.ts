// The benchmark harness at smoke sizes, in-process on the test adapter (SwiftShader in CI): every workload
// runs on every engine that starts here, every result passes its check, and the reports are written; then a
// PyTorch peer file (made up here: CI has no torch) is merged into them.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { benchCommand, makeWorkloads, type BenchReport } from '../../src/cli/bench.js';
import { testGpu } from '../webgpu/gpu.js';

const gpu = await testGpu();
gpu?.device.destroy(); // only asked whether an adapter exists: the harness acquires its own

describe.skipIf(!gpu)('wgfuse bench --smoke', () => {
  let out: string;
  let code: number;
  let dir: string;
  let report: BenchReport;
  const lines: string[] = [];

  beforeAll(async () => {
    out = mkdtempSync(join(tmpdir(), 'wgfuse-bench-'));
    code = await benchCommand({ smoke: true, runs: 2, out }, (l) => lines.push(l));
    const reportLine = lines.find((l) => l.startsWith('report: '))!;
    dir = join(reportLine.slice('report: '.length).split(' ')[0], '..');
    report = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as BenchReport;
  }, 180_000);

  afterAll(() => {
    if (out) rmSync(out, { recursive: true, force: true });
  });

  it('passes every check and exits 0', () => {
    expect(report.failures, lines.join('\n')).toEqual([]);
    expect(code).toBe(0);
    expect(report.mode).toBe('smoke');
    expect(report.limits.copy?.gbps).toBeGreaterThan(0);
  });

  it('runs every workload on every engine that started, each checked', () => {
    const ids = makeWorkloads(true).map((w) => w.id);
    expect(report.workloads.map((w) => w.id)).toEqual(ids);
    const started = report.engines.filter((e) => e.status === 'ok').map((e) => e.name);
    // wgfuse must run; the peers (devDependencies) run here too: SwiftShader is enough for both.
    expect(started).toEqual(['wgfuse', 'wgfuse-unfused', 'tfjs', 'jax-js']);
    for (const w of report.workloads) {
      for (const engine of started) {
        const r = w.results.find((x) => x.engine === engine);
        expect(r?.status, `${engine} ${w.id}: ${r?.note ?? ''}`).toBe('ok');
        expect(r!.check?.ok, `${engine} ${w.id}`).toBe(true);
        expect(r!.wallMs).toBeGreaterThan(0);
        expect(r!.wallMsAll).toHaveLength(2);
      }
      const fused = w.results.find((x) => x.engine === 'wgfuse')!;
      const unfused = w.results.find((x) => x.engine === 'wgfuse-unfused')!;
      expect(fused.dispatches).toBeGreaterThan(0);
      expect(fused.dispatches!).toBeLessThanOrEqual(unfused.dispatches!);
      expect(fused.bytesMoved).toBeGreaterThan(0);
      // At smoke sizes wgfuse is checked against the CPU reference executor over the whole output.
      expect(fused.check!.kind).toBe('cpu-reference');
      // wgfuse runs through wg.jit, and its lazy path is timed beside it; the peers have no lazy time.
      expect(fused.lazyWallMs).toBeGreaterThan(0);
      expect(w.results.find((x) => x.engine === 'tfjs')!.lazyWallMs).toBeUndefined();
      // Timed runs replay the cached plan: no compile, no new buffers.
      expect(fused.diagnostics?.planCacheMisses).toBe(0);
    }
  });

  it('writes the Markdown report and the chart', () => {
    const md = readFileSync(join(dir, 'results.md'), 'utf8');
    for (const w of report.workloads) expect(md).toContain(`\`${w.id}\``);
    expect(md).toContain('**All checks passed.**');
    expect(md).toContain('x tfjs');
    expect(md).toContain('wgfuse without `wg.jit`');
    const svg = readFileSync(join(dir, 'chart.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('vs wgfuse-unfused');
  });

  it('merges a PyTorch peer file into the report', async () => {
    const first = report.workloads[0];
    const torchFile = join(out, 'torch.json');
    const check = { kind: 'float64-full', ok: true, error: 1e-7, tolerance: 1e-4, detail: 'made up' };
    writeFileSync(
      torchFile,
      JSON.stringify({
        schema: 'wgfuse-bench-torch/1',
        device: 'Test GPU',
        torch: '0.0-test',
        cuda: null,
        limits: { copyGBps: 1000, gemmTflops: 10, gemmShape: '256^3' },
        workloads: [{ id: first.id, results: [{ engine: 'torch', status: 'ok', wallMs: 0.5, gpuMs: 0.4, check }] }],
      }),
    );
    const merged: string[] = [];
    expect(await benchCommand({ mergeTorch: torchFile, report: dir }, (l) => merged.push(l))).toBe(0);
    const after = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as BenchReport;
    expect(after.limits.torch?.gemmTflops).toBe(10);
    expect(after.workloads[0].results.map((r) => r.engine)).toContain('torch');
    const md = readFileSync(join(dir, 'results.md'), 'utf8');
    expect(md).toContain('x torch');
    expect(md).toContain('cuBLAS');
    // A mismatch in the peer's file fails the merge.
    writeFileSync(
      torchFile,
      JSON.stringify({
        schema: 'wgfuse-bench-torch/1',
        device: 'Test GPU',
        torch: '0.0-test',
        cuda: null,
        workloads: [{ id: first.id, results: [{ engine: 'torch', status: 'mismatch', wallMs: 0.5, check: { ...check, ok: false } }] }],
      }),
    );
    expect(await benchCommand({ mergeTorch: torchFile, report: dir }, () => {})).toBe(1);
  });

  it("merges another run's engines into the report (a second device call)", async () => {
    const before = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as BenchReport;
    const [first, second] = before.workloads;
    // (TensorFlow.js's backend cannot start twice in one process; the engine here is wgfuse-unfused.)
    const out2 = join(out, 'second');
    const lines2: string[] = [];
    expect(await benchCommand({ smoke: true, runs: 2, out: out2, exceptEngines: ['wgfuse', 'tfjs', 'jax-js'], only: `^${first.id}$` }, (l) => lines2.push(l))).toBe(0);
    const otherFile = join(lines2.find((l) => l.startsWith('report: '))!.slice('report: '.length).split(' ')[0], '..', 'results.json');
    const other = JSON.parse(readFileSync(otherFile, 'utf8')) as BenchReport;
    const fresh = other.workloads[0].results.find((r) => r.engine === 'wgfuse-unfused')!;
    expect(fresh.status, fresh.note).toBe('ok');
    const log: string[] = [];
    expect(await benchCommand({ mergeResults: otherFile, report: dir }, (l) => log.push(l))).toBe(0);
    const after = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as BenchReport;
    const unfusedOf = (r: BenchReport, i: number) => r.workloads[i].results.filter((x) => x.engine === 'wgfuse-unfused');
    // The merged workload's wgfuse-unfused result is the second run's; the others and the other engines are untouched.
    expect(unfusedOf(after, 0)).toEqual([fresh]);
    expect(unfusedOf(after, 1)).toEqual(unfusedOf(before, 1));
    expect(after.workloads[0].results.find((x) => x.engine === 'wgfuse')).toEqual(first.results.find((x) => x.engine === 'wgfuse'));
    expect(after.workloads[1].results).toHaveLength(second.results.length);
    expect(after.engines.map((e) => e.name)).toEqual(before.engines.map((e) => e.name));
    expect(after.merged).toEqual([{ file: otherFile, created: other.created, engines: ['wgfuse-unfused'] }]);
    expect(readFileSync(join(dir, 'results.md'), 'utf8')).toContain(`- **wgfuse-unfused**: measured in another run of the harness on this device (started ${other.created})`);
    expect(other.engines.map((e) => e.name)).toEqual(['wgfuse-unfused']);
    await expect(benchCommand({ smoke: true, exceptEngines: ['wgfuse', 'nope'] })).rejects.toThrow(/unknown engine nope/);
    await expect(benchCommand({ smoke: true, engines: ['tfjs'], exceptEngines: ['tfjs'] })).rejects.toThrow(/leaves no engine/);
    // A run of other sizes, another device or another method is refused.
    writeFileSync(otherFile, JSON.stringify({ ...other, mode: 'full' }));
    await expect(benchCommand({ mergeResults: otherFile, report: dir }, () => {})).rejects.toThrow(/cannot merge .*full sizes.* smoke sizes/);
    writeFileSync(otherFile, JSON.stringify({ ...other, runs: 20 }));
    await expect(benchCommand({ mergeResults: otherFile, report: dir }, () => {})).rejects.toThrow(/cannot merge .*20 runs after .* 2 runs after/);
  }, 120_000);
});
