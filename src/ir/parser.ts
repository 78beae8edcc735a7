// Reads the IR text format back into a graph: the inverse of printGraph. Every node goes through makeNode,
// so hand-written IR gets the same attribute and type checks as IR built by the API. Every malformed input
// ends in a ParseError at the 1-based line and column of the offending token.
import { FROM_SHORT_NAME } from './dtype.js';
import { ParseError, WgfuseError } from './errors.js';
import { makeGraph, topoOrder, type Graph } from './graph.js';
import { makeNode, type Node } from './node.js';
import { attrSchema, isOpName, OPS, type AttrValue, type OpName, type TypeInfo } from './ops.js';
import { shapesEqual } from './shape.js';
import { printType } from './printer.js';

type TokenKind = 'value' | 'ident' | 'number' | 'string' | 'punct' | 'end';

interface Token {
  readonly kind: TokenKind;
  readonly text: string;
  readonly column: number;
}

/** Where a value was defined, for "already defined" and "never used" messages. */
interface Definition {
  readonly node: Node;
  readonly line: number;
  readonly column: number;
}

// One sticky pattern, one group per token kind, in KINDS order. A number is what String(number) prints
// (and `.5`, `1.`); NaN and Infinity lex as identifiers.
const TOKEN =
  /(%[A-Za-z0-9_.]+)|([A-Za-z_][A-Za-z0-9_]*)|(-Infinity|-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|("(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*")|([=,{}[\]:])/y;
const KINDS: readonly TokenKind[] = ['value', 'ident', 'number', 'string', 'punct'];

export function parseGraph(text: string): Graph {
  // A byte-order mark, as some editors write at the start of a UTF-8 file, is not part of the text.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const defs = new Map<string, Definition>();
  const lines = text.split('\n');
  let outputs: Node[] | undefined;
  let returnLine = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const cur = new Cursor(line.endsWith('\r') ? line.slice(0, -1) : line, i + 1);
    const first = cur.peek();
    if (first.kind === 'end') continue;
    const isReturn = first.kind === 'ident' && first.text === 'return';
    if (outputs && isReturn) cur.fail(first, `duplicate 'return' (the first is on line ${returnLine})`);
    if (outputs) cur.fail(first, `expected nothing after 'return' on line ${returnLine}; it must be the last statement`);
    if (isReturn) {
      outputs = parseReturn(cur, defs);
      returnLine = i + 1;
    } else if (first.kind === 'value') {
      parseDefinition(cur, defs);
    } else {
      cur.fail(first, `expected a definition '%name = op ...' or 'return', got ${describeToken(first)}`);
    }
  }
  if (!outputs) {
    throw new ParseError("expected a 'return' line listing the outputs, got the end of the text", lines.length, lines[lines.length - 1].length + 1);
  }
  checkAllUsed(defs, outputs);
  return makeGraph(outputs);
}

/** Rejects values the outputs do not read: a dead `input` would silently drop out of the argument binding order. */
function checkAllUsed(defs: ReadonlyMap<string, Definition>, outputs: readonly Node[]): void {
  const live = new Set(topoOrder(outputs));
  for (const [name, def] of defs) {
    if (!live.has(def.node)) throw new ParseError(`${name} is never used: every value must reach 'return'`, def.line, def.column, name.length);
  }
}

function parseReturn(cur: Cursor, defs: ReadonlyMap<string, Definition>): Node[] {
  cur.next();
  const outputs = cur.peek().kind === 'end' ? [] : parseValueList(cur, defs);
  cur.expectEnd();
  return outputs;
}

function parseDefinition(cur: Cursor, defs: Map<string, Definition>): void {
  const nameTok = cur.next();
  const earlier = defs.get(nameTok.text);
  if (earlier) cur.fail(nameTok, `${nameTok.text} is already defined on line ${earlier.line}`);
  cur.expectPunct('=', `'=' after ${nameTok.text}`);
  const opTok = cur.next();
  if (opTok.kind !== 'ident') cur.fail(opTok, `expected an op name, got ${describeToken(opTok)}`);
  if (!isOpName(opTok.text)) cur.fail(opTok, `unknown op '${opTok.text}'`);
  const op = opTok.text;
  const inputs = cur.peek().kind === 'value' ? parseValueList(cur, defs) : [];
  const attrs = cur.peekPunct('{') ? parseAttrs(cur, op) : {};
  cur.expectPunct(':', `':' and the result type`);
  const typeTok = cur.peek();
  const type = parseType(cur);
  cur.expectEnd();

  // Leaves take the annotated type; for other ops it is checked against inference here, so the error can
  // point at the type rather than the op.
  const leaf = OPS[op].kind === 'leaf';
  let node: Node;
  try {
    node = makeNode(op, inputs, attrs, leaf ? type : undefined);
  } catch (e) {
    if (e instanceof WgfuseError) cur.fail(opTok, e.message);
    throw e;
  }
  if (!leaf && (node.dtype !== type.dtype || !shapesEqual(node.shape, type.shape))) {
    cur.fail(typeTok, `${op}: annotated type ${printType(type)} differs from the inferred ${printType(node)}`);
  }
  defs.set(nameTok.text, { node, line: cur.line, column: nameTok.column });
}

/** `%a, %b, ...`: at least one value, each defined earlier. */
function parseValueList(cur: Cursor, defs: ReadonlyMap<string, Definition>): Node[] {
  const nodes: Node[] = [];
  do {
    const tok = cur.next();
    if (tok.kind !== 'value') cur.fail(tok, `expected a value such as %0, got ${describeToken(tok)}`);
    const def = defs.get(tok.text);
    if (!def) cur.fail(tok, `${tok.text} is not defined (a value must be defined before it is used)`);
    nodes.push(def.node);
  } while (cur.acceptPunct(','));
  return nodes;
}

/** `{key=value, flag}`: keys must be in the op's schema; a bare key is a true flag. */
function parseAttrs(cur: Cursor, op: OpName): Record<string, AttrValue> {
  cur.next();
  const schema = attrSchema(op);
  const attrs: Record<string, AttrValue> = {};
  if (cur.acceptPunct('}')) return attrs;
  do {
    const key = cur.next();
    if (key.kind !== 'ident') cur.fail(key, `expected an attribute name, got ${describeToken(key)}`);
    if (!Object.hasOwn(schema, key.text)) {
      const known = Object.keys(schema);
      cur.fail(key, `${op} has no attribute '${key.text}'${known.length ? ` (it takes ${known.join(', ')})` : ' (it takes none)'}`);
    }
    if (Object.hasOwn(attrs, key.text)) cur.fail(key, `duplicate attribute '${key.text}'`);
    attrs[key.text] = cur.acceptPunct('=') ? parseAttrValue(cur) : true;
  } while (cur.acceptPunct(','));
  cur.expectPunct('}', `',' or '}'`);
  return attrs;
}

function parseAttrValue(cur: Cursor): AttrValue {
  const tok = cur.next();
  const num = numberOf(tok);
  if (num !== undefined) return num;
  if (tok.kind === 'string') return JSON.parse(tok.text) as string;
  if (tok.kind === 'ident' && (tok.text === 'true' || tok.text === 'false')) return tok.text === 'true';
  if (tok.kind === 'punct' && tok.text === '[') {
    const list: number[] = [];
    if (cur.acceptPunct(']')) return list;
    do {
      const item = cur.next();
      const v = numberOf(item);
      if (v === undefined) cur.fail(item, `expected a number, got ${describeToken(item)}`);
      list.push(v);
    } while (cur.acceptPunct(','));
    cur.expectPunct(']', `',' or ']'`);
    return list;
  }
  return cur.fail(tok, `expected an attribute value (a number, a string, true, false or [1,2]), got ${describeToken(tok)}`);
}

/** `f32[2,3]`, `i32[]`, `bool[4]`. */
function parseType(cur: Cursor): TypeInfo {
  const tok = cur.next();
  if (tok.kind !== 'ident' || !Object.hasOwn(FROM_SHORT_NAME, tok.text)) {
    cur.fail(tok, `expected a result type such as f32[2,3] (f32, i32 or bool), got ${describeToken(tok)}`);
  }
  cur.expectPunct('[', `'[' after the dtype`);
  const shape: number[] = [];
  if (!cur.acceptPunct(']')) {
    do {
      const dim = cur.next();
      const v = dim.kind === 'number' ? Number(dim.text) : NaN;
      if (!Number.isInteger(v) || v < 0) cur.fail(dim, `expected a non-negative integer dimension, got ${describeToken(dim)}`);
      shape.push(v);
    } while (cur.acceptPunct(','));
    cur.expectPunct(']', `',' or ']'`);
  }
  return { dtype: FROM_SHORT_NAME[tok.text], shape };
}

function numberOf(tok: Token): number | undefined {
  const isNumber = tok.kind === 'number' || (tok.kind === 'ident' && (tok.text === 'NaN' || tok.text === 'Infinity'));
  return isNumber ? Number(tok.text) : undefined;
}

function describeToken(tok: Token): string {
  if (tok.kind === 'end') return 'the end of the line';
  return tok.kind === 'string' ? `the string ${tok.text}` : `'${tok.text}'`;
}

/** The tokens of one line, ending in an `end` token placed just after the last real one. */
class Cursor {
  private readonly tokens: Token[] = [];
  private pos = 0;

  constructor(
    text: string,
    readonly line: number,
  ) {
    let i = 0;
    let end = 1;
    while (i < text.length) {
      const c = text[i];
      if (c === ' ' || c === '\t') {
        i++;
        continue;
      }
      if (c === '#' || text.startsWith('//', i)) break;
      TOKEN.lastIndex = i;
      const m = TOKEN.exec(text);
      if (m) {
        let group = 1;
        while (m[group] === undefined) group++;
        this.tokens.push({ kind: KINDS[group - 1], text: m[0], column: i + 1 });
        i += m[0].length;
        end = i + 1;
        continue;
      }
      if (c === '"') this.fail({ kind: 'string', text: c, column: i + 1 }, 'malformed or unterminated string literal');
      if (c === '%') this.fail({ kind: 'value', text: c, column: i + 1 }, "expected a value name after '%', such as %0 or %x");
      this.fail({ kind: 'punct', text: c, column: i + 1 }, `unexpected character ${JSON.stringify(c)}`);
    }
    this.tokens.push({ kind: 'end', text: '', column: end });
  }

  peek(): Token {
    return this.tokens[this.pos];
  }

  next(): Token {
    const tok = this.tokens[this.pos];
    if (tok.kind !== 'end') this.pos++;
    return tok;
  }

  peekPunct(p: string): boolean {
    const tok = this.peek();
    return tok.kind === 'punct' && tok.text === p;
  }

  acceptPunct(p: string): boolean {
    if (!this.peekPunct(p)) return false;
    this.pos++;
    return true;
  }

  expectPunct(p: string, what: string): void {
    if (!this.acceptPunct(p)) this.fail(this.peek(), `expected ${what}, got ${describeToken(this.peek())}`);
  }

  expectEnd(): void {
    const tok = this.peek();
    if (tok.kind !== 'end') this.fail(tok, `expected the end of the line, got ${describeToken(tok)}`);
  }

  fail(tok: Token, message: string): never {
    throw new ParseError(message, this.line, tok.column, Math.max(1, tok.text.length));
  }
}
