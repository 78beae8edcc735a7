// The one text form of the IR, used by golden tests, dump-ir and error messages:
//   %3 = matmul %0, %2 {transB} : f32[128,256]
// Values are numbered densely in topoOrder, so one graph always prints to one text; parseGraph inverts it.
import { isDType, SHORT_NAME, type DType } from './dtype.js';
import { orderOf, type Graph } from './graph.js';
import type { Node } from './node.js';
import type { AttrValue, Attrs } from './ops.js';
import { fmtShape, type Shape } from './shape.js';

export function printGraph(graph: Graph): string {
  const order = orderOf(graph);
  const names = numberValues(order);
  let text = '';
  for (const node of order) text += printNode(node, names) + '\n';
  return text + printReturn(graph.outputs, names) + '\n';
}

/** The value number of each node, by position in `order` (the numbering printGraph uses for topoOrder). */
export function numberValues(order: readonly Node[]): Map<Node, number> {
  const names = new Map<Node, number>();
  for (let i = 0; i < order.length; i++) names.set(order[i], i);
  return names;
}

/** One definition line; `%?` stands for an operand `names` does not number. */
export function printNode(node: Node, names: ReadonlyMap<Node, number>): string {
  const operands = node.inputs.map((x) => valueName(x, names)).join(', ');
  return `${valueName(node, names)} = ${node.op}${operands && ' ' + operands}${printAttrsPart(node.attrs)} : ${printType(node)}`;
}

function printReturn(outputs: readonly Node[], names: ReadonlyMap<Node, number>): string {
  return outputs.length === 0 ? 'return' : `return ${outputs.map((x) => valueName(x, names)).join(', ')}`;
}

/** A node out of context, operands shown as their types: `add f32[2,3], f32[3] : f32[2,3]`. */
export function describeNode(node: Node): string {
  const operands = node.inputs.map(printType).join(', ');
  return `${node.op}${operands && ' ' + operands}${printAttrsPart(node.attrs)} : ${printType(node)}`;
}

/** `f32[2,3]`; an unknown dtype (only in hand-built nodes that verify reports) prints as it is. */
export function printType(t: { readonly dtype: DType; readonly shape: Shape }): string {
  return `${isDType(t.dtype) ? SHORT_NAME[t.dtype] : String(t.dtype)}${fmtShape(t.shape)}`;
}

/** `{perm=[1,0], transB}`; `{}` when empty. */
export function printAttrs(attrs: Attrs): string {
  const parts = Object.keys(attrs).map((key) => (attrs[key] === true ? key : `${key}=${printAttrValue(attrs[key])}`));
  return `{${parts.join(', ')}}`;
}

function printAttrValue(v: AttrValue): string {
  if (typeof v === 'number') return printNumber(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(printNumber).join(',')}]`;
  return String(v);
}

/** Shortest round-trip form; String() would print -0 as `0`. NaN and ±Infinity print as their JS names. */
function printNumber(v: number): string {
  return Object.is(v, -0) ? '-0' : String(v);
}

function printAttrsPart(attrs: Attrs): string {
  return Object.keys(attrs).length === 0 ? '' : ' ' + printAttrs(attrs);
}

function valueName(node: Node, names: ReadonlyMap<Node, number>): string {
  return `%${names.get(node) ?? '?'}`;
}
