// The `wgfuse` command line. Argument parsing is commander's job; each command lives in its own file.
import { Command, CommanderError } from 'commander';
import { demoCommand } from './demo.js';
import { infoCommand } from './info.js';
import { benchCli } from './bench.js';
import { dumpIrCommand } from './dump-ir.js';
import { WgfuseError } from '../ir/errors.js';

export async function main(argv: readonly string[]): Promise<number> {
  let code = 0;
  const program = new Command('wgfuse')
    .description('wgfuse: a tensor compiler for WebGPU')
    .exitOverride()
    .showHelpAfterError();

  program
    .command('demo')
    .description('run the demo workloads unfused and fused, time them and check them against the CPU reference')
    .option('--backend <name>', 'auto, webgpu or cpu', 'auto')
    .option('--size <size>', 'small (a software adapter runs it in seconds) or large (real sizes, for a GPU)', 'small')
    .option('--runs <n>', 'timed runs per workload (the median is reported)', '5')
    .option('--show-ir', 'print the fused IR of the first workload')
    .action(async (opts: { backend: 'auto' | 'webgpu' | 'cpu'; size: string; runs: string; showIr?: boolean }) => {
      if (opts.size !== 'small' && opts.size !== 'large') throw new WgfuseError(`demo: --size must be small or large, got ${opts.size}`);
      code = await demoCommand({ backend: opts.backend, size: opts.size, runs: Number(opts.runs), showIr: opts.showIr });
    });

  program
    .command('info')
    .description('print the WebGPU adapter, its features and the limits granted')
    .action(async () => {
      console.log(await infoCommand());
    });

  program.addCommand(dumpIrCommand((c) => (code = c)));

  program.addCommand(benchCli((c) => (code = c)));

  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof WgfuseError) {
      console.error(`wgfuse: ${err.message}`);
      return 1;
    }
    if (err instanceof Error && 'code' in err && err.code === 'ENOENT') {
      console.error(`wgfuse: ${err.message}`);
      return 1;
    }
    throw err;
  }
  return code;
}
