// Compiler-style diagnostics for the CLI: `FILE:LINE:COL: message`, then the offending source line with a caret
// under the token at fault. Used by dump-ir for malformed .ir files and for programs that fail (a syntax error,
// an exception, a wgfuse error at one of the program's calls): the user sees where, never a stack trace.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface SourceLocation {
  /** 1-based. */
  readonly line: number;
  /** 1-based, counting a tab as one column. */
  readonly column: number;
  /** Characters to underline (at least 1). */
  readonly length?: number;
}

/** Longest stretch of a source line shown; longer lines are cut around the column. */
const WIDTH = 100;

/**
 * `FILE:LINE:COL: message` and, when the line exists in `text`, the line and a caret under the offending text.
 * Control characters (binary garbage) are shown as '?', so the echo is one terminal line and the caret lines up.
 */
export function formatDiagnostic(file: string, text: string | null, at: SourceLocation, message: string): string {
  const head = `${file}:${at.line}:${at.column}: ${message}\n`;
  if (text === null) return head;
  const lines = text.split('\n');
  if (at.line < 1 || at.line > lines.length) return head;
  let source = lines[at.line - 1].replace(/\r$/, '');
  if (at.line === 1 && source.charCodeAt(0) === 0xfeff) source = source.slice(1);
  source = source.replace(/[\u0000-\u001f\u007f-\u009f\ufffd]/g, '?');
  let col = Math.min(Math.max(1, at.column), source.length + 1);
  let length = Math.max(1, Math.min(at.length ?? 1, source.length + 1 - col, WIDTH));
  // Cut long lines to a window that holds the column.
  let prefix = '';
  if (source.length > WIDTH) {
    const start = Math.max(0, Math.min(col - 1 - WIDTH / 2, source.length - WIDTH));
    prefix = start > 0 ? '...' : '';
    const suffix = start + WIDTH < source.length ? '...' : '';
    source = prefix + source.slice(start, start + WIDTH) + suffix;
    col = col - start + prefix.length;
    length = Math.min(length, WIDTH - (col - 1 - prefix.length));
  }
  const gutter = String(at.line);
  const pad = ' '.repeat(gutter.length);
  const caret = ' '.repeat(col - 1) + '^' + '~'.repeat(Math.max(0, length - 1));
  return `${head}  ${gutter} | ${source}\n  ${pad} | ${caret}\n`;
}

/**
 * Where in `file` an exception was raised: the first frame of its stack inside that file (the program's own
 * line, even when the throw happened inside wgfuse, which the program called). Null when no frame is in it.
 */
export function locateInStack(err: unknown, file: string): SourceLocation | null {
  const stack = err instanceof Error && typeof err.stack === 'string' ? err.stack : '';
  const want = resolve(file);
  for (const line of stack.split('\n')) {
    const m = /^\s+at (?:.*? \()?(.+?):(\d+):(\d+)\)?$/.exec(line);
    if (!m) continue;
    let path = m[1];
    if (path.startsWith('file://')) {
      try {
        path = fileURLToPath(path);
      } catch {
        continue;
      }
    }
    if (resolve(path) === want) return { line: Number(m[2]), column: Number(m[3]) };
  }
  return null;
}

/**
 * Where the syntax error of a JavaScript module is, and Node's message for it. Node reports the position only on
 * stderr (`FILE:LINE`, the line and a caret), not on the SyntaxError object, so ask `node --check`. Null when the
 * file has no syntax error.
 */
export function locateSyntaxError(file: string): { at: SourceLocation; message: string } | null {
  const r = spawnSync(process.execPath, ['--check', resolve(file)], { encoding: 'utf8', timeout: 20_000 });
  if (r.status === 0 || typeof r.stderr !== 'string') return null;
  const lines = r.stderr.split('\n');
  const i = lines.findIndex((l) => /:\d+$/.test(l) && resolve(l.replace(/:\d+$/, '').replace(/^file:\/\//, '')) === resolve(file));
  if (i < 0) return null;
  const line = Number(/:(\d+)$/.exec(lines[i])![1]);
  const caret = lines[i + 2] ?? '';
  const column = caret.indexOf('^') + 1;
  const message = lines.find((l) => /^[A-Za-z]*Error: /.test(l)) ?? 'SyntaxError';
  return { at: { line, column: Math.max(1, column), length: column > 0 ? /^\^+/.exec(caret.slice(column - 1))![0].length : 1 }, message };
}
