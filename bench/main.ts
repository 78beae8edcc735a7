// Entry of the benchmark bundle for the GPU machine (which has production node_modules only, so the peers,
// devDependencies, travel inside the bundle):
//   ../shared/tools/gpu-prep bench/main.ts=bench.mjs        # here: builds .gpu/bench.mjs with esbuild
//   source .gpu/env.sh && node .gpu/bench.mjs --out $OUT    # there
// It takes the same options as `npx wgfuse bench` (src/cli/bench.ts); see bench/README.md.
import { CommanderError } from 'commander';
import { benchCli } from '../src/cli/bench.js';
import { WgfuseError } from '../src/ir/errors.js';

let code = 0;
const command = benchCli((c) => (code = c));
try {
  await command.parseAsync(process.argv.slice(2), { from: 'user' });
} catch (err) {
  if (err instanceof CommanderError) code = err.exitCode;
  else if (err instanceof WgfuseError) {
    console.error(`wgfuse: ${err.message}`);
    code = 1;
  } else {
    console.error(err);
    code = 1;
  }
}
// The peers keep devices (and so the event loop) alive: exit explicitly.
process.exit(code);
