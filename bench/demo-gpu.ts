// Entry of the demo bundle for the GPU machine (no npm there): the demo at its large sizes, as
// `npx wgfuse demo --size large` runs it (only the demo is bundled, not the rest of the CLI).
//   ../shared/tools/gpu-prep bench/demo-gpu.ts=demo.mjs     # here
//   source .gpu/env.sh && node .gpu/demo.mjs                 # there
// wgfuse reaches Node's `webgpu` package through a dynamic import that a single-file bundle cannot follow,
// so this entry selects the GPU itself and hands it over as navigator.gpu, which wg.init tries first.
import { demoCommand } from '../src/cli/demo.js';
import { selectNodeGpu } from '../src/runtime/node-gpu.js';

const selection = await selectNodeGpu({ software: 'never' });
if (!selection.gpu) throw new Error(`no hardware WebGPU adapter: ${selection.reason}`);
console.log(`GPU: ${selection.reason}`);
Object.defineProperty(globalThis, 'navigator', { value: { gpu: selection.gpu }, configurable: true });
process.exitCode = await demoCommand({ backend: 'webgpu', size: 'large', runs: 3, showIr: false });
