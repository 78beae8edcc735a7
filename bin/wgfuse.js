#!/usr/bin/env node
// Thin launcher: the CLI lives in src/cli and is built to dist/cli.
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => process.exit(code ?? 0),
  (err) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
