// The `wgfuse` command line. Argument parsing is commander's job; each command lives in its own file.
import { Command, CommanderError } from 'commander';
import { demoCommand } from './demo.js';
import { infoCommand } from './info.js';
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
    .description('run the demo workloads and check them against plain-JS references')
    .option('--backend <name>', "auto, webgpu or cpu", 'auto')
    .option('--show-ir', 'print the IR of the first workload')
    .action(async (opts: { backend: 'auto' | 'webgpu' | 'cpu'; showIr?: boolean }) => {
      code = await demoCommand(opts);
    });

  program
    .command('info')
    .description('print the WebGPU adapter, its features and the limits granted')
    .action(async () => {
      console.log(await infoCommand());
    });

  program.addCommand(dumpIrCommand((c) => (code = c)));

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
