import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Dawn's native addon is loaded once per process; forks keep each test file in its own process.
    pool: 'forks',
    // One test file at a time: two processes driving Dawn over SwiftShader at once on a 2-core machine
    // occasionally crashed or stalled a worker (seen twice in about ten full runs); sequential files never did.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // In CI the JSON report gives .ci/run its closing "N passed, N failed" line.
    reporters: process.env.CI === 'true' ? ['default', ['json', { outputFile: '.vitest-report.json' }]] : ['default'],
  },
});
