// `wgfuse dump-ir FILE`: what the compiler does to a program, pass by pass, down to the WGSL it runs.
//
// FILE is an IR text file (`.ir`) or a program that uses the public API (`.js`, `.mjs`; `.ts`/`.mts` when
// TypeScript can be loaded, see loadProgram). A program exports a default function (or one named `main`)
// that takes the wgfuse module and returns a Tensor or an array of Tensors:
//
//     export default (wg) => wg.randn([64, 32]).matmul(wg.randn([32, 16])).relu();
//
// The graph goes through the same steps as `wg.compile`: extractProgram (programs only), the passes
// (DEFAULT_PIPELINE unless --passes says otherwise; run here one at a time through the pass manager so each
// can be dumped), then compileGraph's lowering and buffer assignment with the arguments' layouts.
//
// Output conventions (docs/dump-ir.md has the full description):
// - dumps after passes start with an MLIR-like header that the IR parser reads as a comment:
//   `// ----- IR after fold-transposes (7 nodes, changed) -----`
// - --emit=ir prints the final IR in the canonical text format; anything printed before it (dumps, --log)
//   is separated by a `// ----- final IR ... -----` header. --emit=json puts everything (log, dumps, IR,
//   plan) in one JSON object on stdout, so stdout stays valid JSON.
// - errors go to stderr with exit code 1: a malformed .ir file or a failing program as a diagnostic
//   (`FILE:LINE:COL: message`, the source line, a caret; see diagnostic.ts), anything else as one line (the
//   valid names for an unknown pass, ...). Stack traces appear only for internal errors (bugs in wgfuse).
import { rm, writeFile, readFile } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import * as wg from '../index.js';
import { extractProgram } from '../api/program.js';
import { Tensor } from '../api/tensor.js';
import { ParseError, WgfuseError } from '../ir/errors.js';
import { orderOf, type Graph } from '../ir/graph.js';
import { structuralHash } from '../ir/hash.js';
import { parseGraph } from '../ir/parser.js';
import { printGraph } from '../ir/printer.js';
import { describe, fmtShape } from '../ir/shape.js';
import { verifyGraph } from '../ir/verify.js';
import { compileGraph } from '../lowering/compile.js';
import type { InputLayout } from '../lowering/lower.js';
import type { Plan } from '../lowering/plan.js';
import { runPasses, type PassLog } from '../passes/manager.js';
import type { Pass } from '../passes/pass.js';
import { DEFAULT_PIPELINE, PASSES, parsePassList } from '../passes/pipeline.js';
import { formatDiagnostic, locateInStack, locateSyntaxError } from './diagnostic.js';
import { graphToDot } from './dot.js';

export const EMIT_KINDS = ['ir', 'plan', 'wgsl', 'dot', 'json'] as const;
export type EmitKind = (typeof EMIT_KINDS)[number];

export interface DumpIrOptions {
  readonly printAfterAll?: boolean;
  /** Print only the dumps of passes that changed the graph (alone: after every pass that changed it). */
  readonly printAfterChange?: boolean;
  /** Comma-separated pass names after which to print the IR. */
  readonly printAfter?: string;
  /** Comma-separated pass names to run, in order ('' runs none); default: DEFAULT_PIPELINE. */
  readonly passes?: string;
  readonly emit?: EmitKind;
  /** Render the final graph's dot to this SVG file. */
  readonly svg?: string;
  /** Print the pass manager's log (nodes before/after, what fired). */
  readonly log?: boolean;
}

/** Where the command writes; the CLI passes process.stdout/stderr, tests collect strings. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}

export interface DumpIrResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A user-facing failure: printed as one line (no stack), exit code 1. */
class CliError extends Error {}

/** A failure at a place in the user's file: printed as a diagnostic (position, source line, caret), exit code 1. */
class SourceError extends CliError {
  constructor(readonly diagnostic: string) {
    super(diagnostic.split('\n')[0]);
  }
}

const PROGRAM_HELP = `
FILE is an IR text file (.ir) or a program using the public API (.js or .mjs; .ts or .mts when the
'typescript' package is installed). A program exports a default function, or a function named 'main',
that receives the wgfuse module and returns a Tensor or an array of Tensors (it may be async):

  // model.mjs
  export default (wg) => {
    const x = wg.randn([64, 32], 1);
    const w = wg.randn([16, 32], 2);
    return x.matmul(w.transpose()).add(wg.randn([16], 3)).relu();
  };

Use the wg argument rather than importing wgfuse yourself: it is the module dump-ir compiles with.
Tensors made from data (wg.tensor) become the program's inputs; nothing is evaluated.

Pass names: ${Object.keys(PASSES).join(', ') || '(none registered yet)'}
Default pipeline: ${DEFAULT_PIPELINE.map(registryName).join(', ') || '(empty)'}

Examples:
  wgfuse dump-ir model.mjs --emit=plan
  wgfuse dump-ir graph.ir --print-after-change --log
  wgfuse dump-ir graph.ir --passes=fold-transposes,detect-syrk --emit=dot --svg graph.svg
`;

/** The `dump-ir` command, for main.ts; `onExit` gets the exit code when the command has run. */
export function dumpIrCommand(onExit: (code: number) => void, io: Io = processIo()): Command {
  return new Command('dump-ir')
    .description('print a program or .ir file after each compiler pass, as IR, a plan, WGSL, dot or JSON')
    .argument('<file>', 'a .ir file or a .js/.mjs program (see below)')
    .option('--print-after-all', 'print the IR after every pass')
    .option('--print-after <passes>', 'print the IR after these passes (comma-separated)')
    .option('--print-after-change', 'print the IR only after passes that changed it (with --print-after: only those of its passes)')
    .option('--passes <passes>', 'run these passes in this order (comma-separated; empty for none) instead of the default pipeline')
    .addOption(new Option('--emit <kind>', 'what to print at the end').choices(EMIT_KINDS).default('ir'))
    .option('--svg <file>', 'also render the final graph (as --emit=dot) to an SVG file')
    .option('--log', 'print the pass log: nodes before/after and what fired, per pass')
    .addHelpText('after', PROGRAM_HELP)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .action(async (file: string, opts: DumpIrOptions) => {
      onExit(await dumpIr(file, opts, io));
    });
}

/** Runs `wgfuse dump-ir ARGS...` in-process (argv: what follows `dump-ir`) and collects its output. */
export async function runDumpIr(argv: readonly string[]): Promise<DumpIrResult> {
  let stdout = '';
  let stderr = '';
  const io: Io = { out: (s) => (stdout += s), err: (s) => (stderr += s) };
  let code = 0;
  const command = dumpIrCommand((c) => (code = c), io);
  try {
    await command.parseAsync([...argv], { from: 'user' });
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    code = err.exitCode;
  }
  return { code, stdout, stderr };
}

/** The whole command once its arguments are parsed; returns the exit code. */
export async function dumpIr(file: string, options: DumpIrOptions, io: Io): Promise<number> {
  try {
    await dump(file, options, io);
    return 0;
  } catch (err) {
    io.err(formatError(file, err));
    return 1;
  }
}

function formatError(file: string, err: unknown): string {
  if (err instanceof SourceError) return err.diagnostic;
  if (err instanceof ParseError) return `${file}:${err.message}\n`;
  if (err instanceof CliError || err instanceof WgfuseError) return `wgfuse dump-ir: ${err.message}\n`;
  if (err instanceof Error && 'code' in err && (err.code === 'ENOENT' || err.code === 'EISDIR' || err.code === 'EACCES')) {
    return `wgfuse dump-ir: cannot read ${file}: ${err.message}\n`;
  }
  const stack = err instanceof Error ? (err.stack ?? err.message) : String(err);
  return `wgfuse dump-ir: internal error (a bug in wgfuse): ${stack}\n`;
}

/** The graph to compile, and how its arguments lie in their buffers. */
export interface LoadedInput {
  readonly graph: Graph;
  readonly inputLayouts: readonly (InputLayout | null)[];
}

export async function loadInput(file: string): Promise<LoadedInput> {
  const ext = extname(file).toLowerCase();
  if (ext === '.ir') {
    const text = await readFile(file, 'utf8');
    let graph: Graph;
    try {
      graph = parseGraph(text);
    } catch (err) {
      if (err instanceof ParseError) throw new SourceError(formatDiagnostic(file, text, err, err.reason));
      throw err;
    }
    verifyGraph(graph);
    return { graph, inputLayouts: graph.inputs.map(() => null) };
  }
  if (ext === '.js' || ext === '.mjs' || ext === '.ts' || ext === '.mts') {
    const outputs = await loadProgram(file);
    const { graph, args } = extractProgram(
      outputs.map((t, i) => t.use('dump-ir', `returned tensor ${i}`)),
      'dump-ir',
    );
    return { graph, inputLayouts: args.map((a) => a.layout) };
  }
  throw new CliError(`${file}: unknown file type '${ext || '(none)'}'; expected an IR file (.ir) or a program (.js, .mjs, .ts)`);
}

/** Imports a program and calls its default export (or `main`) with the wgfuse module. */
export async function loadProgram(file: string): Promise<Tensor[]> {
  // TypeScript programs run transpiled; Node's source maps make their stack frames name the .ts lines.
  const sourceMaps = (process as { sourceMapsEnabled?: boolean }).sourceMapsEnabled ?? false;
  const ts = isTs(file);
  if (ts) process.setSourceMapsEnabled(true);
  try {
    return await runProgram(file);
  } finally {
    if (ts) process.setSourceMapsEnabled(sourceMaps);
  }
}

async function runProgram(file: string): Promise<Tensor[]> {
  let mod: Record<string, unknown>;
  try {
    mod = await importProgram(file);
  } catch (err) {
    if (err instanceof CliError) throw err;
    // A syntax error, a missing import, or an exception at the program's top level: the program's problem.
    const at = locateInStack(err, file);
    // A syntax error has no frame in the program: Node knows where it is but keeps it off the error object.
    const syntax = at || isTs(file) ? null : locateSyntaxError(file);
    if (syntax) throw await programError(file, syntax.at, `cannot load the program: ${syntax.message}`);
    throw await programError(file, at, `cannot load the program: ${errorText(err)}`);
  }
  const fn = typeof mod.default === 'function' ? mod.default : typeof mod.main === 'function' ? mod.main : undefined;
  if (!fn) {
    const found = Object.keys(mod).length > 0 ? `it exports ${Object.keys(mod).join(', ')}` : 'it exports nothing';
    throw new CliError(`${file}: a program must export a default function or a function named 'main' that takes the wgfuse module and returns Tensors; ${found}`);
  }
  let result: unknown;
  try {
    result = await (fn as (m: typeof wg) => unknown)(wg);
  } catch (err) {
    // Where in the program: the program's own frame of the stack (a wgfuse error is raised inside wgfuse, at
    // the program's call). The stack itself is not printed: it shows wgfuse's internals, not the user's mistake.
    const what = err instanceof WgfuseError ? 'the program failed' : 'the program threw';
    throw await programError(file, locateInStack(err, file), `${what}: ${errorText(err)}`);
  }
  const list = Array.isArray(result) ? result : [result];
  list.forEach((t, i) => {
    if (!(t instanceof Tensor)) {
      const where = Array.isArray(result) ? `element ${i} of the returned array is` : 'it returned';
      throw new CliError(
        `${file}: the program must return a Tensor or an array of Tensors, but ${where} ${describe(t)} (build tensors with the wg argument, not a separately imported wgfuse)`,
      );
    }
  });
  if (list.length === 0) throw new CliError(`${file}: the program returned an empty array; return at least one Tensor`);
  return list as Tensor[];
}

function isTs(file: string): boolean {
  return /\.m?ts$/i.test(file);
}

/** `Name: message` for an Error (never its stack), else the thrown value, said to be no Error. */
function errorText(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return `${typeof err === 'string' ? JSON.stringify(err) : String(err)} (a thrown ${err === null ? 'null' : typeof err}, not an Error)`;
}

/** A diagnostic at `at` in the program when it is known, else a one-line error naming the file. */
async function programError(file: string, at: { line: number; column: number; length?: number } | null, message: string): Promise<CliError> {
  if (!at) return new CliError(`${file}: ${message}`);
  let text: string | null = null;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    // The position alone still helps.
  }
  return new SourceError(formatDiagnostic(file, text, at, message));
}

async function importProgram(file: string): Promise<Record<string, unknown>> {
  const path = resolve(file);
  const ext = extname(path).toLowerCase();
  if (ext === '.js' || ext === '.mjs') return (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  // TypeScript: Node's own type stripping where the runtime has it, else the compiler's transpileModule into a
  // temporary .mjs beside the source (so the program's relative imports of .js files still resolve).
  if ((process as { features?: { typescript?: unknown } }).features?.typescript) {
    return (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  }
  let ts: typeof import('typescript');
  try {
    ts = (await import('typescript')).default;
  } catch {
    throw new CliError(
      `${file}: cannot load a TypeScript program: this Node (${process.version}) cannot strip types and the 'typescript' package is not installed; compile it to .js/.mjs, or install typescript`,
    );
  }
  const source = await readFile(path, 'utf8');
  const out = ts.transpileModule(source, {
    fileName: path,
    reportDiagnostics: true,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, sourceMap: false, inlineSourceMap: true },
  });
  // transpileModule reports syntax errors only (no type checking): the first one, where it is.
  const syntax = (out.diagnostics ?? []).find((d) => d.category === ts.DiagnosticCategory.Error && d.file && d.start !== undefined);
  if (syntax) {
    const { line, character } = syntax.file!.getLineAndCharacterOfPosition(syntax.start!);
    const message = ts.flattenDiagnosticMessageText(syntax.messageText, ' ');
    throw new SourceError(formatDiagnostic(file, source, { line: line + 1, column: character + 1, length: syntax.length }, `cannot load the program: SyntaxError: ${message}`));
  }
  const temp = join(dirname(path), `.${basename(path, ext)}.wgfuse-${process.pid}-${Date.now()}.mjs`);
  await writeFile(temp, out.outputText);
  try {
    return (await import(pathToFileURL(temp).href)) as Record<string, unknown>;
  } finally {
    await rm(temp, { force: true });
  }
}

/** What one pass did, with the IR after it when it was asked for. */
export interface PassDump {
  readonly pass: string;
  readonly nodes: number;
  readonly changed: boolean;
  readonly ir: string;
}

export interface CompiledInput {
  readonly graph: Graph;
  readonly log: readonly PassLog[];
  readonly dumps: readonly PassDump[];
}

/**
 * Runs `passes` through the pass manager one at a time, so a dump appears as soon as its pass is done
 * (and the dumps before a failing pass are still there to read); `onDump` gets each requested one.
 */
export function runPipeline(
  graph: Graph,
  passes: readonly Pass[],
  printAfter: ReadonlySet<Pass> | 'all',
  onDump: (d: PassDump) => void = () => {},
  onlyChanged = false,
): CompiledInput {
  const log: PassLog[] = [];
  const dumps: PassDump[] = [];
  let current = graph;
  for (const pass of passes) {
    let result;
    try {
      result = runPasses(current, [pass]);
    } catch (err) {
      if (err instanceof WgfuseError) throw new CliError(`pass ${registryName(pass)} failed: ${err.message}`);
      throw err;
    }
    log.push(...result.log);
    current = result.graph;
    const entry = result.log[0];
    if ((printAfter === 'all' || printAfter.has(pass)) && (entry.changed || !onlyChanged)) {
      const dump = { pass: registryName(pass), nodes: entry.nodesAfter, changed: entry.changed, ir: printGraph(current) };
      dumps.push(dump);
      onDump(dump);
    }
  }
  return { graph: current, log, dumps };
}

/** The name a pass is registered under (what --passes takes), falling back to its own name. */
function registryName(pass: Pass): string {
  return Object.keys(PASSES).find((k) => PASSES[k] === pass) ?? pass.name;
}

export function dumpHeader(d: PassDump): string {
  return `// ----- IR after ${d.pass} (${d.nodes} node${d.nodes === 1 ? '' : 's'}, ${d.changed ? 'changed' : 'unchanged'}) -----`;
}

async function dump(file: string, options: DumpIrOptions, io: Io): Promise<void> {
  const emit = options.emit ?? 'ir';
  // Check every name before doing any work, so a typo costs nothing.
  const passes = options.passes === undefined ? [...DEFAULT_PIPELINE] : parsePassList(options.passes);
  const printAfter: ReadonlySet<Pass> | 'all' =
    options.printAfterAll || (options.printAfterChange && options.printAfter === undefined) ? 'all' : new Set(parsePassList(options.printAfter ?? ''));
  if (printAfter !== 'all') {
    for (const p of printAfter) {
      if (!passes.includes(p)) io.err(`wgfuse dump-ir: note: --print-after names ${registryName(p)}, which this run does not include\n`);
    }
  }
  const { graph: input, inputLayouts } = await loadInput(file);

  const json = emit === 'json';
  let printed = false;
  const { graph, log, dumps } = runPipeline(
    input,
    passes,
    printAfter,
    (d) => {
      if (json) return;
      io.out(`${dumpHeader(d)}\n${d.ir}\n`);
      printed = true;
    },
    options.printAfterChange === true,
  );
  if (options.log && !json) {
    io.out(formatLog(log));
    printed = true;
  }

  const needsPlan = emit === 'plan' || emit === 'wgsl' || emit === 'json';
  // Lowering and buffer assignment exactly as wg.compile and the backends do them (the passes already ran).
  const plan = needsPlan ? compileGraph(graph, { passes: [], inputLayouts }).plan : null;
  const nodes = orderOf(graph).length;
  switch (emit) {
    case 'ir':
      if (printed) io.out(`// ----- final IR (${nodes} node${nodes === 1 ? '' : 's'}, ${passes.length} pass${passes.length === 1 ? '' : 'es'} run) -----\n`);
      io.out(printGraph(graph));
      break;
    case 'plan':
      io.out(formatPlan(plan!, structuralHash(graph)));
      break;
    case 'wgsl':
      io.out(formatWgsl(plan!));
      break;
    case 'dot':
      io.out(graphToDot(graph, { title: dotTitle(file, passes) }));
      break;
    case 'json':
      io.out(
        JSON.stringify(
          { file, passes: passes.map(registryName), log, dumps, ir: printGraph(graph), plan },
          null,
          2,
        ) + '\n',
      );
      break;
  }
  if (options.svg) await writeSvg(options.svg, graphToDot(graph, { title: dotTitle(file, passes) }));
}

function dotTitle(file: string, passes: readonly Pass[]): string {
  return `${basename(file)} after ${passes.length === 0 ? 'no passes' : passes.map(registryName).join(', ')}`;
}

async function writeSvg(path: string, dot: string): Promise<void> {
  const { instance } = await import('@viz-js/viz');
  const viz = await instance();
  let svg: string;
  try {
    svg = viz.renderString(dot, { format: 'svg', engine: 'dot' });
  } catch (err) {
    throw new Error(`graphviz could not render the generated dot: ${(err as Error).message}`);
  }
  await writeFile(path, svg);
}

/** The pass log, one block per pass: `fold-transposes  9 -> 9 nodes  changed  0.21 ms`, then what fired. */
export function formatLog(log: readonly PassLog[]): string {
  const width = Math.max(4, ...log.map((e) => e.pass.length));
  let text = '// ----- pass log -----\n';
  if (log.length === 0) text += '(no passes run)\n';
  for (const e of log) {
    text += `${e.pass.padEnd(width)}  ${e.nodesBefore} -> ${e.nodesAfter} nodes  ${e.changed ? 'changed  ' : 'unchanged'}  ${e.ms.toFixed(2)} ms\n`;
    for (const f of e.fired) text += `  ${f}\n`;
  }
  return text;
}

const KiB = 1024;
function bytes(n: number): string {
  if (n < KiB) return `${n} B`;
  if (n < KiB * KiB) return `${n} B (${(n / KiB).toFixed(1)} KiB)`;
  return `${n} B (${(n / KiB / KiB).toFixed(2)} MiB)`;
}

/**
 * Every dispatch (index, kernel, workgroups, bindings, bytes, the IR it computes), the slots, the outputs,
 * memory; `key` (the structural hash of the graph it computes) names the plan in the header.
 */
export function formatPlan(plan: Plan, key: string): string {
  const lines: string[] = [];
  const n = plan.dispatches.length;
  lines.push(`// ----- plan ${key}: ${n} dispatch${n === 1 ? '' : 'es'}, ${plan.slots.length} slot${plan.slots.length === 1 ? '' : 's'} -----`);
  plan.dispatches.forEach((d, i) => {
    lines.push(`dispatch ${i}: ${d.kernel}`);
    lines.push(`  workgroups  ${d.workgroups.join(' x ')}`);
    lines.push(`  bindings    ${d.bindings.map((b, j) => `@${j}=s${b.slot}:${b.access}${b.result === undefined ? '' : `>s${b.result}`}`).join(' ')}`);
    lines.push(`  bytes       read ${d.bytesRead}, written ${d.bytesWritten}`);
    const ir = d.ir.split('\n').filter((l) => l !== '');
    ir.forEach((l, j) => lines.push(`  ${j === 0 ? 'ir        ' : '          '}  ${l}`));
  });
  lines.push('slots');
  const buffers = plan.memory?.slotBuffer;
  for (const s of plan.slots) {
    const where = buffers && buffers[s.index] >= 0 ? `  buffer ${buffers[s.index]}` : '';
    lines.push(`  s${s.index}  ${s.role.padEnd(6)}  ${s.dtype.padEnd(7)}  ${s.size} element${s.size === 1 ? '' : 's'} (${s.size * 4} B)${where}`);
  }
  lines.push('outputs');
  plan.outputs.forEach((o, i) => {
    lines.push(`  out${i}  s${o.slot}  shape ${fmtShape(o.shape)}  offset ${o.offset}  strides [${o.strides.join(',')}]`);
  });
  if (plan.inputSlots.length > 0) lines.push(`inputs  ${plan.inputSlots.map((s, i) => `in${i}=s${s}`).join(' ')}`);
  const m = plan.memory;
  if (m) {
    lines.push('memory');
    lines.push(`  peak bytes          ${bytes(m.peakBytes)} in ${m.buffers.length} buffer${m.buffers.length === 1 ? '' : 's'}`);
    lines.push(`  bytes without reuse ${bytes(m.bytesWithoutReuse)}`);
    lines.push(`  lower bound         ${bytes(m.lowerBound)}`);
    if (m.buffers.length > 0) lines.push(`  buffers             ${m.buffers.map((b, i) => `b${i}=${b}`).join(' ')}`);
  }
  return lines.join('\n') + '\n';
}

/** Every kernel's WGSL, each after a header naming the dispatch, its kernel and the IR it computes. */
export function formatWgsl(plan: Plan): string {
  if (plan.dispatches.length === 0) return '// (no dispatches: every output is an input or a view of one)\n';
  return plan.dispatches
    .map((d, i) => {
      const head = `// ----- dispatch ${i}: ${d.kernel} (entry ${d.entryPoint}, workgroups ${d.workgroups.join('x')}, bindings ${d.bindings.map((b) => `s${b.slot}:${b.access}${b.result === undefined ? '' : `>s${b.result}`}`).join(' ')}) -----`;
      const ir = d.ir
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => `// computes: ${l}`)
        .join('\n');
      return `${head}\n${ir}\n${d.wgsl.endsWith('\n') ? d.wgsl : d.wgsl + '\n'}`;
    })
    .join('\n');
}

function processIo(): Io {
  return { out: (s) => void process.stdout.write(s), err: (s) => void process.stderr.write(s) };
}

