#!/usr/bin/env node
// The browser build: ESM bundles of wgfuse with no Node built-ins and without the `webgpu` package.
//
//   node scripts/build-browser.mjs      (npm run build:browser)
//
// writes dist/browser/:
//   wgfuse.js            the public API (what `import * as wg from 'wgfuse'` gives); `wg.init()` uses navigator.gpu
//   wgfuse-internals.js  compiler internals the demo page uses (compileGraph, extractProgram, executeGraph,
//                        printGraph); not a stable API
//   chunks/*.js          code the two entries share (one copy of wgfuse's state: backends, realized values)
//   meta.json            esbuild's metafile: every input and what each output imports
//
// src/api/context.ts reaches Node's WebGPU (src/runtime/node-gpu.ts) through a dynamic import of a variable,
// which esbuild leaves alone, so neither that file nor `webgpu` is bundled. The plugin below fails the build
// if anything imports a Node built-in or the `webgpu` package statically.
import * as esbuild from 'esbuild';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'browser');

const INTERNALS = `
export { compileGraph } from './lowering/compile.js';
export { extractProgram } from './api/program.js';
export { executeGraph } from './runtime/cpu/executor.js';
export { printGraph } from './ir/printer.js';
`;

const builtins = new Set(builtinModules);

/** Fails on `node:*`, bare Node built-ins (`fs`, `path`, ...) and the `webgpu` package. */
const browserOnly = {
  name: 'browser-only',
  setup(build) {
    build.onResolve({ filter: /^wgfuse-internals$/ }, () => ({ path: 'wgfuse-internals', namespace: 'wgfuse-internals' }));
    build.onLoad({ filter: /.*/, namespace: 'wgfuse-internals' }, () => ({
      contents: INTERNALS,
      loader: 'ts',
      resolveDir: join(root, 'src'),
    }));
    build.onResolve({ filter: /.*/ }, (args) => {
      const bare = args.path.startsWith('node:') ? args.path.slice(5) : args.path;
      const name = bare.split('/')[0];
      if (args.path.startsWith('node:') || builtins.has(name) || name === 'webgpu') {
        const from = args.importer ? relative(root, args.importer) : '(entry)';
        return { errors: [{ text: `${from} imports ${JSON.stringify(args.path)}, which does not exist in a browser` }] };
      }
      return undefined;
    });
  },
};

export async function buildBrowser({ quiet = false } = {}) {
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: { wgfuse: 'src/index.ts', 'wgfuse-internals': 'wgfuse-internals' },
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    chunkNames: 'chunks/[name]-[hash]',
    sourcemap: 'linked',
    metafile: true,
    legalComments: 'none',
    logLevel: quiet ? 'error' : 'warning',
    plugins: [browserOnly],
  });
  writeFileSync(join(outdir, 'meta.json'), JSON.stringify(result.metafile, null, 1));
  return result.metafile;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = performance.now();
  const metafile = await buildBrowser();
  const js = Object.entries(metafile.outputs).filter(([file]) => file.endsWith('.js'));
  const total = js.reduce((sum, [, o]) => sum + o.bytes, 0);
  for (const [file, o] of js) console.log(`  ${file.padEnd(44)} ${(o.bytes / 1024).toFixed(1).padStart(7)} KiB`);
  console.log(
    `dist/browser: ${js.length} files, ${(total / 1024).toFixed(1)} KiB of JavaScript from ${Object.keys(metafile.inputs).length} inputs ` +
      `(${(performance.now() - started).toFixed(0)} ms)`,
  );
}
