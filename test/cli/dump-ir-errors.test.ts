// Malformed input to `wgfuse dump-ir` (issue 6): every class of bad .ir file, and programs that fail, through
// the CLI command. Each must exit non-zero with a compiler-style diagnostic on stderr: `FILE:LINE:COL: message`,
// then the offending line with a caret under the offending text, and never a stack trace.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as wg from '../../src/index.js';
import { runDumpIr } from '../../src/cli/dump-ir.js';
import { main } from '../../src/cli/main.js';

const STACK_FRAME = /^\s+at /m;

let tmp: string;
beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'wgfuse-dump-ir-errors-'));
  await wg.init({ backend: 'cpu', quiet: true });
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let counter = 0;
function write(name: string, content: string | Uint8Array): string {
  const file = join(tmp, `${counter++}-${name}`);
  writeFileSync(file, content);
  return file;
}

/**
 * Runs dump-ir on `file` and checks the diagnostic: exit code 1, nothing on stdout, the first stderr line
 * `FILE:LINE:COL: ...fragment...`, the source line echoed with a caret at COL (when `echo` is given: the line
 * as shown, control characters as '?'), and no stack frame anywhere.
 */
async function diagnose(file: string, line: number, col: number, fragment: string | RegExp, echo?: string): Promise<string> {
  const r = await runDumpIr([file]);
  expect(r.code, r.stderr).toBe(1);
  expect(r.stdout).toBe('');
  expect(r.stderr).not.toMatch(STACK_FRAME);
  const lines = r.stderr.split('\n');
  expect(lines[0].startsWith(`${file}:${line}:${col}: `), r.stderr).toBe(true);
  if (typeof fragment === 'string') expect(lines[0]).toContain(fragment);
  else expect(lines[0]).toMatch(fragment);
  if (echo !== undefined) {
    expect(lines[1]).toBe(`  ${line} | ${echo}`);
    const bar = lines[2].indexOf('|');
    expect(lines[2].slice(0, bar)).toBe(' '.repeat(2 + String(line).length + 1));
    expect(lines[2].indexOf('^') - bar - 2, r.stderr).toBe(col - 1);
    expect(lines.length).toBe(4); // three lines and the final newline
  }
  return r.stderr;
}

const D = '%0 = input : f32[2,3]';

describe('malformed .ir files', () => {
  // [class, text, line, column, message fragment, the echoed line (default: that line of the text)]
  const cases: [string, string, number, number, string][] = [
    // lexical
    ['an unexpected character', `${D}\n%1 = neg %0 : f32[2,3] ?\nreturn %1`, 2, 24, 'unexpected character "?"'],
    ['an unterminated string', '%0 = input {name="x} : f32[2]\nreturn %0', 1, 18, 'malformed or unterminated string literal'],
    ['a bare %', `${D}\n%1 = neg % : f32[2,3]\nreturn %1`, 2, 10, "expected a value name after '%'"],
    ['a number where a name belongs', `${D}\n%1 = 12 %0 : f32[2,3]\nreturn %1`, 2, 6, "expected an op name, got '12'"],
    ['a missing =', '%0 input : f32[2]\nreturn %0', 1, 4, "expected '=' after %0"],
    ['a line that is not a definition', `${D}\nneg %0 : f32[2,3]\nreturn %0`, 2, 1, "expected a definition '%name = op ...' or 'return'"],
    // ops
    ['an unknown op', `${D}\n%1 = frobnicate %0 : f32[2,3]\nreturn %1`, 2, 6, "unknown op 'frobnicate'"],
    ['an op name in the wrong case', `${D}\n%1 = Neg %0 : f32[2,3]\nreturn %1`, 2, 6, "unknown op 'Neg'"],
    // attributes
    ['an unknown attribute', `${D}\n%1 = neg %0 {axis=1} : f32[2,3]\nreturn %1`, 2, 14, "neg has no attribute 'axis'"],
    ['a missing attribute', `${D}\n%1 = reshape %0 : f32[6]\nreturn %1`, 2, 6, "reshape: missing attribute 'shape'"],
    ['an attribute of the wrong type', `${D}\n%1 = sum %0 {axes=[0.5]} : f32[3]\nreturn %1`, 2, 6, "sum: attribute 'axes' must be ints, got [0.5]"],
    ['an attribute value that is not a value', `${D}\n%1 = sum %0 {axes=all} : f32[]\nreturn %1`, 2, 19, "expected an attribute value"],
    ['a duplicate attribute', `${D}\n%1 = sum %0 {axes=[0], axes=[1]} : f32[3]\nreturn %1`, 2, 24, "duplicate attribute 'axes'"],
    ['an unclosed attribute list', `${D}\n%1 = sum %0 {axes=[0] : f32[3]\nreturn %1`, 2, 23, "expected ',' or '}', got ':'"],
    ['an out-of-range attribute', `${D}\n%1 = sum %0 {axes=[5]} : f32[2]\nreturn %1`, 2, 6, 'sum: axis 5 is out of range'],
    ['an attribute a leaf rejects', '%0 = rand {dist="gaussian", seed=1} : f32[2]\nreturn %0', 1, 6, 'rand: produces float32 with dist "uniform" or "normal"'],
    // types
    ['an annotated shape that differs from the inferred', `${D}\n%1 = neg %0 : f32[3,2]\nreturn %1`, 2, 15, 'neg: annotated type f32[3,2] differs from the inferred f32[2,3]'],
    ['an annotated dtype that differs from the inferred', `${D}\n%1 = lt %0, %0 : f32[2,3]\nreturn %1`, 2, 18, 'differs from the inferred bool[2,3]'],
    ['an unknown dtype', '%0 = input : f64[2]\nreturn %0', 1, 14, "expected a result type such as f32[2,3] (f32, i32 or bool), got 'f64'"],
    ['a negative extent', '%0 = input : f32[2,-1]\nreturn %0', 1, 20, "expected a non-negative integer dimension, got '-1'"],
    ['a tensor too large for u32 indexing', '%0 = input : f32[65536,65536]\nreturn %0', 1, 6, '2^31 - 1'],
    ['operand dtypes an op rejects', '%0 = input : i32[2]\n%1 = exp %0 : i32[2]\nreturn %1', 2, 6, 'exp: operand has dtype int32[2]; exp accepts float32'],
    ['operands that do not broadcast', `${D}\n%1 = input : f32[3,2]\n%2 = add %0, %1 : f32[2,3]\nreturn %2`, 3, 6, 'add: shapes [2,3] and [3,2] cannot be broadcast'],
    ['a matmul with inner dimensions that differ', `${D}\n%1 = matmul %0, %0 : f32[2,3]\nreturn %1`, 2, 6, 'matmul: inner dimensions differ'],
    // values
    ['an undefined value', `${D}\n%1 = neg %x : f32[2,3]\nreturn %1`, 2, 10, '%x is not defined'],
    ['a forward reference (a cycle needs one)', `${D}\n%1 = add %0, %2 : f32[2,3]\n%2 = neg %1 : f32[2,3]\nreturn %2`, 2, 14, '%2 is not defined (a value must be defined before it is used)'],
    ['a value that reads itself', `${D}\n%1 = neg %1 : f32[2,3]\nreturn %1`, 2, 10, '%1 is not defined'],
    ['a duplicate definition', `${D}\n%0 = neg %0 : f32[2,3]\nreturn %0`, 2, 1, '%0 is already defined on line 1'],
    ['a value never used', `${D}\n%1 = input : f32[2]\nreturn %1`, 1, 1, "%0 is never used: every value must reach 'return'"],
    ['an undefined output', `${D}\nreturn %0, %9`, 2, 12, '%9 is not defined'],
    // arity
    ['too few operands', `${D}\n%1 = add %0 : f32[2,3]\nreturn %1`, 2, 6, 'add: expects 2 operand(s), got 1'],
    ['too many operands', `${D}\n%1 = neg %0, %0 : f32[2,3]\nreturn %1`, 2, 6, 'neg: expects 1 operand(s), got 2'],
    ['operands given to a leaf', `${D}\n%1 = input %0 : f32[2,3]\nreturn %1`, 2, 6, 'input: expects 0 operand(s), got 1'],
    ['a missing comma between operands', `${D}\n%1 = add %0 %0 : f32[2,3]\nreturn %1`, 2, 13, "expected ':' and the result type, got '%0'"],
    // structure
    ['no return', `${D}\n%1 = neg %0 : f32[2,3]`, 2, 23, "expected a 'return' line"],
    ['a statement after return', `${D}\nreturn %0\n%1 = neg %0 : f32[2,3]`, 3, 1, "expected nothing after 'return' on line 2"],
    ['two returns', `${D}\nreturn %0\nreturn %0`, 3, 1, "duplicate 'return' (the first is on line 2)"],
    ['CRLF line endings do not shift columns', `${D}\r\n%1 = frob %0 : f32[2,3]\r\nreturn %1\r\n`, 2, 6, "unknown op 'frob'"],
    ['a tab counts as one column', `${D}\n\t%1 = frob %0 : f32[2,3]\nreturn %1`, 2, 7, "unknown op 'frob'"],
  ];

  it.each(cases)('%s', async (_cls, text, line, col, fragment) => {
    const file = write('case.ir', text);
    const echo = text.split('\n')[line - 1].replace(/\r$/, '').replace(/\t/g, '?');
    await diagnose(file, line, col, fragment, echo);
  });

  it('an empty file', async () => {
    await diagnose(write('empty.ir', ''), 1, 1, "expected a 'return' line listing the outputs, got the end of the text", '');
  });

  it('a file of blank lines and comments only', async () => {
    await diagnose(write('comments.ir', '# nothing here\n\n// nor here\n'), 4, 1, "expected a 'return' line", '');
  });

  it('binary garbage: NUL and invalid UTF-8 are shown as ?, the caret still lines up', async () => {
    const bytes = Uint8Array.from([0x25, 0x30, 0x20, 0x3d, 0x20, 0x00, 0xff, 0xfe, 0x01, 0x0a, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a]);
    await diagnose(write('garbage.ir', bytes), 1, 6, 'unexpected character "\\u0000"', '%0 = ????');
  });

  it('a PNG given as IR', async () => {
    const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52]);
    await diagnose(write('image.ir', png), 1, 1, 'unexpected character', '?PNG');
  });

  it('a very long line is cut around the column, the caret still under the culprit', async () => {
    const long = `%0 = input {name="${'a'.repeat(300)}"} : f32[2] ?`;
    const stderr = await diagnose(write('long.ir', `${long}\nreturn %0`), 1, long.length, 'unexpected character "?"');
    const [, echo, caret] = stderr.split('\n');
    expect(echo.length).toBeLessThan(120);
    expect(echo.startsWith('  1 | ...')).toBe(true);
    expect(echo[caret.indexOf('^')]).toBe('?');
  });

  it('a byte-order mark at the start is not an error', async () => {
    const r = await runDumpIr([write('bom.ir', `\ufeff${D}\nreturn %0\n`), '--passes=']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('%0 = input : f32[2,3]\nreturn %0\n');
  });

  it('random edits of a valid file never escape as a stack trace', async () => {
    const valid = `${D}\n%1 = input : f32[3]\n%2 = add %0, %1 : f32[2,3]\n%3 = sum %2 {axes=[1], keepdims} : f32[2,1]\n%4 = exp %3 : f32[2,1]\nreturn %4, %2`;
    let seed = 12345;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const junk = '%=,{}[]:"#/-. 0123456789aefNIrx\n\u0000\ufffd';
    for (let n = 0; n < 60; n++) {
      let text = valid;
      for (let k = 0; k < 3; k++) {
        const at = Math.floor(next() * text.length);
        text = text.slice(0, at) + junk[Math.floor(next() * junk.length)] + text.slice(at + Math.floor(next() * 3));
      }
      const r = await runDumpIr([write('edit.ir', text)]);
      expect(r.stderr, text).not.toMatch(STACK_FRAME);
      expect(r.stderr, text).not.toContain('internal error');
      if (r.code !== 0) expect(r.stderr, text).toMatch(/^.*edit\.ir:\d+:\d+: /);
    }
  });
});

describe('programs that fail', () => {
  it('an exception in the program: its line and column, not the stack', async () => {
    const file = write('throws.mjs', 'export default (wg) => {\n  const x = wg.zeros([2]);\n  return x.nope();\n};\n');
    await diagnose(file, 3, 12, 'the program threw: TypeError: x.nope is not a function', '  return x.nope();');
  });

  it('a wgfuse error at one of its calls: the line of that call', async () => {
    const file = write('shape.mjs', 'export default (wg) => {\n  const x = wg.zeros([3]);\n  return x.add(wg.zeros([2]));\n};\n');
    await diagnose(file, 3, 12, 'the program failed: ShapeError: add: shapes [3] and [2] cannot be broadcast', '  return x.add(wg.zeros([2]));');
  });

  it('an async program that rejects', async () => {
    const file = write('async.mjs', 'export async function main(wg) {\n  await null;\n  throw new RangeError("too far");\n}\n');
    await diagnose(file, 3, 9, 'the program threw: RangeError: too far', '  throw new RangeError("too far");');
  });

  it('an exception at the top level of the module', async () => {
    const file = write('top.mjs', 'const n = 1;\nthrow new Error(`top ${n}`);\nexport default () => null;\n');
    await diagnose(file, 2, 7, 'cannot load the program: Error: top 1', 'throw new Error(`top ${n}`);');
  });

  it('a syntax error', async () => {
    const file = write('syntax.mjs', 'export default (wg) => {\n  const = 5;\n};\n');
    await diagnose(file, 2, 9, /cannot load the program: SyntaxError: /, '  const = 5;');
  });

  it('a thrown value that is not an Error (it has no position): named, without a stack', async () => {
    const file = write('string.mjs', 'export default () => {\n  throw "boom";\n};\n');
    const r = await runDumpIr([file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`wgfuse dump-ir: ${file}: the program threw: "boom" (a thrown string, not an Error)\n`);
  });

  it('a TypeScript program that throws: the line in the .ts source', async () => {
    const file = write('throws.ts', 'interface Box { v: number }\ntype W = unknown;\nexport default (wg: W) => {\n  const b: Box | undefined = undefined;\n  return (b as Box).v.toFixed(2);\n};\n');
    await diagnose(file, 5, 21, "the program threw: TypeError: Cannot read properties of undefined (reading 'v')", '  return (b as Box).v.toFixed(2);');
  });

  it('a TypeScript program with a wgfuse error', async () => {
    const file = write('shape.ts', 'export default (wg: any) => {\n  const s: number[] = [2, 3];\n  return wg.zeros(s).matmul(wg.zeros(s));\n};\n');
    await diagnose(file, 3, 22, 'the program failed: ShapeError: matmul: inner dimensions differ', '  return wg.zeros(s).matmul(wg.zeros(s));');
  });

  it('a TypeScript program with a syntax error', async () => {
    const file = write('syntax.ts', 'export default (wg: any) => {\n  let x: = 1;\n};\n');
    await diagnose(file, 2, 10, /cannot load the program: SyntaxError: /, '  let x: = 1;');
  });

  it('through `wgfuse dump-ir` (main): exit code 1 and the diagnostic on stderr', async () => {
    const file = write('main.ir', `${D}\n%1 = frob %0 : f32[2,3]\nreturn %1`);
    let err = '';
    const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
    try {
      expect(await main(['dump-ir', file])).toBe(1);
    } finally {
      e.mockRestore();
    }
    expect(err).toBe(`${file}:2:6: unknown op 'frob'\n  2 | %1 = frob %0 : f32[2,3]\n    |      ^~~~\n`);
  });
});
