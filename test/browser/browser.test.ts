// End to end in a browser: builds dist/browser/ with scripts/build-browser.mjs, serves examples/ with
// scripts/serve-examples.mjs, drives Debian's Chromium (/usr/bin/chromium) through playwright-core on real
// WebGPU (SwiftShader, a software Vulkan driver), loads the demo page and checks its numbers: the backend,
// fused vs unfused dispatch counts, both panels against the CPU reference in the page, the page's GPU
// output against the CPU reference recomputed here in Node from the same generated image, and a
// screenshot (test-results/browser-demo.png) that is not blank.
//
// playwright-core never downloads a browser: it starts the executable given here. Outside CI a machine
// without Chromium skips the browser half (install Debian's `chromium`); with CI=true a missing Chromium or
// a missing WebGPU adapter fails.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as wg from '../../src/index.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const inCI = process.env.CI === 'true';
const haveChromium = existsSync(CHROMIUM);

/**
 * What works here (Chromium 156, no GPU, running as root): `--enable-unsafe-webgpu` is required (without it
 * requestAdapter() gives null on Linux); `--use-webgpu-adapter=swiftshader` picks the SwiftShader adapter
 * explicitly. Neither `--disable-gpu` nor `--use-angle=swiftshader` is needed: WebGPU lives in the GPU
 * process. The network flags keep Chromium from calling out of this closed network. playwright-core adds
 * --headless itself and passes the new empty user-data-dir to launchPersistentContext.
 */
const CHROMIUM_ARGS = [
  '--enable-unsafe-webgpu',
  '--use-webgpu-adapter=swiftshader',
  '--no-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

interface DemoResults {
  done: boolean;
  ok: boolean;
  backend: string | null;
  adapter: string | null;
  errors: string[];
  totalMs: number;
  image: {
    width: number;
    height: number;
    channels: number;
    dispatches: { unfused: number; fused: number };
    executed: { unfused: number; fused: number };
    gpuMs: { unfused: number | null; fused: number | null };
    wallMs: { unfused: number; fused: number };
    kernels: string[];
    maxAbsError: { unfused: number; fused: number };
    tolerance: number;
    pass: boolean;
  } | null;
  matmul: {
    m: number;
    k: number;
    n: number;
    dispatches: { unfused: number; fused: number };
    kernels: string[];
    maxAbsError: number;
    peak: number;
    tolerance: number;
    pass: boolean;
  } | null;
}

interface Metafile {
  inputs: Record<string, { bytes: number; imports: { path: string; kind: string; external?: boolean }[] }>;
  outputs: Record<string, { bytes: number; imports: { path: string; kind: string; external?: boolean }[]; entryPoint?: string }>;
}

let metafile: Metafile;

beforeAll(() => {
  // Always rebuild (well under a second), so the page runs the current src/.
  const build = spawnSync(process.execPath, [join(root, 'scripts', 'build-browser.mjs')], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  if (build.status !== 0) throw new Error(`scripts/build-browser.mjs failed (${build.status}):\n${build.stdout}\n${build.stderr}`);
  metafile = JSON.parse(readFileSync(join(root, 'dist', 'browser', 'meta.json'), 'utf8')) as Metafile;
});

describe('the browser bundle (dist/browser/)', () => {
  it('has no Node built-ins and not the webgpu package', () => {
    const inputs = Object.keys(metafile.inputs);
    expect(inputs).toContain('src/index.ts');
    expect(inputs.filter((p) => p.startsWith('node:') || /(^|\/)node_modules\/webgpu\//.test(p))).toEqual([]);
    // Node-only code (Dawn, the CLI) is not bundled.
    expect(inputs.filter((p) => p.startsWith('src/runtime/node') || p.startsWith('src/cli/'))).toEqual([]);
    for (const [file, input] of Object.entries(metafile.inputs)) {
      const bad = input.imports.filter((i) => i.path.startsWith('node:') || i.path === 'webgpu' || i.external);
      expect(bad, `${file} imports`).toEqual([]);
    }
    for (const [file, output] of Object.entries(metafile.outputs)) {
      // Only the shared chunks are imported (context.ts's import of Node's path through a variable is not
      // followed, so it is not listed here).
      const bad = output.imports.filter((i) => !i.path.startsWith('dist/browser/chunks/'));
      expect(bad, `${file} imports`).toEqual([]);
    }
    const js = Object.keys(metafile.outputs).filter((f) => f.endsWith('.js'));
    expect(js).toEqual(expect.arrayContaining(['dist/browser/wgfuse.js', 'dist/browser/wgfuse-internals.js']));
    for (const file of js) {
      const text = readFileSync(join(root, file), 'utf8');
      expect(text, file).not.toMatch(/\bfrom\s*["'](node:|webgpu["'])|\brequire\(\s*["']/);
    }
  });

  it('exports the public API', () => {
    const exports = (metafile.outputs['dist/browser/wgfuse.js'] as unknown as { exports: string[] }).exports;
    expect(exports).toEqual(expect.arrayContaining(['init', 'tensor', 'compile', 'telemetry', 'Tensor', 'backend']));
  });
});

// Outside CI a machine without Chromium skips this part; with CI=true beforeAll fails instead.
describe.skipIf(!haveChromium && !inCI)('the demo page in headless Chromium on WebGPU (SwiftShader)', () => {
  let server: ChildProcess | undefined;
  let context: BrowserContext | undefined;
  let page: Page;
  let url = '';
  let userDataDir = '';
  const log: string[] = [];

  // A failed setup (no Chromium in CI, a server or browser that does not start) fails every test below with
  // its message, so the report counts them as failures rather than skips.
  let setupError: Error | undefined;
  const ready = () => {
    if (setupError) throw setupError;
  };

  beforeAll(async () => {
    try {
      await setup();
    } catch (e) {
      setupError = e as Error;
    }
  }, 60_000);

  async function setup() {
    if (!haveChromium) throw new Error(`CI=true but there is no Chromium at ${CHROMIUM} (install Debian's chromium)`);
    const started = spawn(process.execPath, [join(root, 'scripts', 'serve-examples.mjs')], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    server = started;
    url = await new Promise<string>((ok, fail) => {
      let out = '';
      const timer = setTimeout(() => fail(new Error(`the server did not start:\n${out}`)), 10_000);
      const onData = (chunk: Buffer) => {
        out += chunk.toString();
        const m = /serving (http:\/\/\S+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          ok(m[1]);
        }
      };
      started.stdout!.on('data', onData);
      started.stderr!.on('data', onData);
      started.on('exit', (code) => fail(new Error(`the server exited (${code}):\n${out}`)));
    });

    userDataDir = mkdtempSync(join(tmpdir(), 'wgfuse-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 900 },
      timeout: 30_000,
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (m) => log.push(`console.${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
    await page.goto(url, { waitUntil: 'load', timeout: 20_000 });
  }

  afterAll(async () => {
    await context?.close();
    server?.kill();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  });

  const results = async (): Promise<DemoResults> => {
    ready();
    try {
      await page.waitForFunction(() => (window as unknown as { __wgfuseResults?: unknown }).__wgfuseResults !== undefined, null, { timeout: 60_000 });
    } catch (e) {
      throw new Error(`the page did not finish: ${(e as Error).message}\npage log:\n${log.join('\n')}`);
    }
    return page.evaluate(() => (window as unknown as { __wgfuseResults: DemoResults }).__wgfuseResults);
  };

  it('gets a WebGPU adapter from navigator.gpu', async () => {
    ready();
    const adapter = await page.evaluate(async () => {
      const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
      if (!gpu) return { error: `no navigator.gpu (isSecureContext ${isSecureContext})` };
      const a = await gpu.requestAdapter();
      if (!a) return { error: 'requestAdapter() returned null' };
      return { vendor: a.info.vendor, architecture: a.info.architecture, timestamps: a.features.has('timestamp-query') };
    });
    expect(adapter).not.toHaveProperty('error');
    expect(adapter).toMatchObject({ architecture: 'swiftshader' });
  });

  it('runs both panels on WebGPU and they match the CPU reference', { timeout: 75_000 }, async () => {
    const r = await results();
    expect(r.errors, `page errors; log:\n${log.join('\n')}`).toEqual([]);
    expect(r.backend).toBe('webgpu');
    expect(r.adapter).toMatch(/swiftshader/i);
    expect(r.ok).toBe(true);

    const image = r.image!;
    expect(image).toMatchObject({ width: 512, height: 384, channels: 3, pass: true });
    expect(image.dispatches.fused).toBeLessThan(image.dispatches.unfused);
    // One row program: per-image mean and std, then the map. A single image of 196,608 elements is a long
    // row, split across workgroups: partial sums, partial squared deviations, then the map.
    expect(image.dispatches.fused).toBeLessThanOrEqual(3);
    // What ran is what was planned.
    expect(image.executed).toEqual(image.dispatches);
    expect(image.maxAbsError.fused).toBeLessThanOrEqual(1e-4);
    expect(image.maxAbsError.unfused).toBeLessThanOrEqual(1e-4);
    // SwiftShader has timestamp queries, so the page shows GPU times.
    expect(image.gpuMs.fused).toBeGreaterThan(0);
    expect(image.gpuMs.unfused).toBeGreaterThan(0);

    const mm = r.matmul!;
    expect(mm.pass).toBe(true);
    expect(mm.maxAbsError).toBeLessThanOrEqual(1e-4);
    expect(mm.peak).toBeGreaterThan(0.5); // relu left real values
    expect(mm.dispatches.fused).toBeLessThan(mm.dispatches.unfused);
    expect(mm.kernels).toEqual([expect.stringMatching(/^fused\.matmul/)]);

    // The page shows the numbers and the IR.
    await expect.poll(() => page.textContent('#image-badge')).toBe('PASS');
    expect(await page.textContent('#matmul-badge')).toBe('PASS');
    expect(await page.textContent('#plan')).toContain('= pow ');
    expect(await page.textContent('#ir')).toMatch(/^%0 = input : f32\[3,384,512\]/);
  });

  it('computes what the CPU reference computes in Node from the same generated image', { timeout: 75_000 }, async () => {
    const r = await results();
    const encoded = await page.evaluate(() => {
      const out = (window as unknown as { __wgfuseOutputs: Record<string, Float32Array> }).__wgfuseOutputs;
      const b64 = (a: Float32Array) => {
        const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
        let s = '';
        for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
        return btoa(s);
      };
      return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, b64(v)]));
    });
    const decode = (s: string) => {
      const buf = Buffer.from(s, 'base64');
      return new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    };
    const { width, height } = r.image!;
    const { makeImage } = (await import(pathToFileURL(join(root, 'examples', 'browser', 'image.js')).href)) as {
      makeImage: (w: number, h: number) => { planes: Float32Array };
    };
    const { planes } = makeImage(width, height);
    const pageInput = decode(encoded.imageInput);
    expect(pageInput.length).toBe(3 * width * height);
    expect(maxAbsDiff(pageInput, planes)).toBeLessThanOrEqual(1e-6);

    await wg.init({ backend: 'cpu', quiet: true });
    const x = wg.tensor(planes, [3, height, width]);
    const mean = x.mean([1, 2], true);
    const std = x.variance([1, 2], true).sqrt();
    const want = await x.sub(mean).div(std.add(1e-6)).mul(0.25).add(0.5).clamp(0, 1).pow(0.8).data();
    const got = decode(encoded.image);
    expect(maxAbsDiff(got, want as Float32Array)).toBeLessThanOrEqual(1e-4);
    // Not a trivial image: the pipeline spreads the hazy input over most of [0, 1].
    let [lo, hi] = [Infinity, -Infinity];
    for (const v of got) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
    expect(hi - lo).toBeGreaterThan(0.5);
  });

  it('saves a screenshot that is not blank', { timeout: 60_000 }, async () => {
    await results();
    const dir = join(root, 'test-results');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'browser-demo.png');
    const png = await page.screenshot({ fullPage: true });
    writeFileSync(file, png);
    expect(existsSync(file)).toBe(true);
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(png.length).toBeGreaterThan(100_000); // a blank page of this size compresses to a few KB

    // Each canvas shows a picture: many distinct colours and a real spread of brightness.
    const stats = await page.evaluate(() =>
      ['original', 'processed', 'matmul-out'].map((id) => {
        const canvas = document.getElementById(id) as HTMLCanvasElement;
        const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
        const colours = new Set<number>();
        let sum = 0;
        let sumSq = 0;
        const n = data.length / 4;
        for (let i = 0; i < data.length; i += 4) {
          colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
          const y = 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2];
          sum += y;
          sumSq += y * y;
        }
        return { id, width: canvas.width, height: canvas.height, colours: colours.size, std: Math.sqrt(sumSq / n - (sum / n) ** 2) };
      }),
    );
    for (const s of stats) {
      expect(s.width * s.height, s.id).toBeGreaterThan(0);
      expect(s.colours, s.id).toBeGreaterThan(100);
      expect(s.std, s.id).toBeGreaterThan(10);
    }
    // The processed image has more contrast than the hazy original.
    expect(stats[1].std).toBeGreaterThan(stats[0].std * 1.3);
    // And the canvases are on screen, not only in memory.
    const shot = await page.locator('#processed').screenshot();
    expect(shot.length).toBeGreaterThan(20_000);
  });
});

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i] - b[i]);
    if (!(e <= worst)) worst = e;
  }
  return worst;
}
