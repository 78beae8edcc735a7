// `npm run fuzz -- --runs N [--seed S] [--log K] [--path P]`: the differential fuzzer
// (test/fuzz/fuzz.test.ts) on any number of random programs. Node cannot run the TypeScript sources and
// vitest can, so this runs vitest on that one file with the settings in environment variables.
//   --runs N   programs to check (default 1000)
//   --seed S   fast-check seed (default: from the clock, printed so a run can be repeated)
//   --log K    a progress line every K programs (default 500)
//   --path P   replay one counterexample (the path a failure prints, with its seed)
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '1000' },
    seed: { type: 'string' },
    log: { type: 'string', default: '500' },
    path: { type: 'string' },
  },
});

function count(name, text, min = 0) {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) {
    console.error(`fuzz: --${name} must be an integer >= ${min}, got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return n;
}

const runs = count('runs', values.runs, 1);
const seed = values.seed === undefined ? Date.now() % 2 ** 31 : count('seed', values.seed);
const log = count('log', values.log);
console.log(`fuzz: ${runs} programs from seed ${seed}${values.path ? `, replaying path ${values.path}` : ''}`);

const vitest = join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');
const env = { ...process.env, FUZZ_RUNS: String(runs), FUZZ_SEED: String(seed), FUZZ_LOG: String(log) };
if (values.path) env.FUZZ_PATH = values.path;
const result = spawnSync(process.execPath, [vitest, 'run', 'test/fuzz/fuzz.test.ts'], { stdio: 'inherit', env });
process.exit(result.status ?? 1);
