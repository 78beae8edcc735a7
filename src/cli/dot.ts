// Graphviz dot for a graph, as `wgfuse dump-ir --emit=dot` prints it and `--svg` renders it. Nodes are named
// and numbered as printGraph numbers them (`%3`), so a picture and an IR dump can be read side by side.
// Nodes sharing a `group` attribute (one fused kernel, see the fusion passes) are drawn as one cluster.
// Dot pictures only read well for small graphs (XLA says the same of its renderings); for large ones, use
// --passes or the plan to narrow down first.
import { orderOf, type Graph } from '../ir/graph.js';
import type { Node } from '../ir/node.js';
import { OPS } from '../ir/ops.js';
import { numberValues, printAttrs, printType } from '../ir/printer.js';

export interface DotOptions {
  /** Shown as the graph's label (e.g. the file name and the passes run). */
  readonly title?: string;
}

/** Operand order does not matter for these; other ops with two or more operands label their edges. */
const COMMUTATIVE = new Set(['add', 'mul', 'maximum', 'minimum', 'eq', 'ne', 'and', 'or']);
const GENERATED = new Set(['const', 'iota', 'rand']);

/** A color per cluster, cycled; light fills keep the labels readable. */
const CLUSTER_FILLS = ['#e8f0fe', '#fef7e0', '#e6f4ea', '#fce8e6', '#f3e8fd', '#e4f7fb'];

export function graphToDot(graph: Graph, options: DotOptions = {}): string {
  const order = orderOf(graph);
  const names = numberValues(order);
  const id = (n: Node) => `n${names.get(n)}`;
  const outputIndex = new Map<Node, number[]>();
  graph.outputs.forEach((o, i) => outputIndex.set(o, [...(outputIndex.get(o) ?? []), i]));

  const lines: string[] = ['digraph wgfuse {'];
  lines.push('  rankdir=TB;');
  lines.push('  node [fontname="monospace", fontsize=10];');
  lines.push('  edge [fontname="monospace", fontsize=9, color="#555555"];');
  if (options.title) lines.push(`  label=${quote(options.title)}; labelloc=t; fontname="monospace";`);

  // Group members go into their cluster; everything else is declared at the top level.
  const groups = new Map<number, Node[]>();
  const ungrouped: Node[] = [];
  for (const n of order) {
    const g = n.attrs.group;
    if (typeof g === 'number') groups.set(g, [...(groups.get(g) ?? []), n]);
    else ungrouped.push(n);
  }
  const declare = (n: Node, indent: string) => `${indent}${id(n)} [${nodeAttrs(n, names.get(n)!, outputIndex.get(n))}];`;
  for (const n of ungrouped) lines.push(declare(n, '  '));
  [...groups.keys()]
    .sort((a, b) => a - b)
    .forEach((g, i) => {
      const members = groups.get(g)!;
      lines.push(`  subgraph cluster_group_${g} {`);
      lines.push(`    label=${quote(`group ${g} (${members.length} op${members.length === 1 ? '' : 's'})`)};`);
      lines.push(`    style="filled,rounded"; fillcolor=${quote(CLUSTER_FILLS[i % CLUSTER_FILLS.length])}; color="#7f8c9d";`);
      for (const n of members) lines.push(declare(n, '    '));
      lines.push('  }');
    });

  for (const n of order) {
    const labelled = n.inputs.length >= 2 && !COMMUTATIVE.has(n.op);
    n.inputs.forEach((operand, i) => {
      const attrs: string[] = [];
      if (labelled) attrs.push(`label=${quote(String(i))}`);
      if (GENERATED.has(operand.op)) attrs.push('style=dashed');
      lines.push(`  ${id(operand)} -> ${id(n)}${attrs.length ? ` [${attrs.join(', ')}]` : ''};`);
    });
  }
  lines.push('}');
  return lines.join('\n') + '\n';
}

function nodeAttrs(n: Node, number: number, outputs: number[] | undefined): string {
  const { group, ...rest } = n.attrs;
  void group;
  const attrText = Object.keys(rest).length > 0 ? ' ' + printAttrs(rest) : '';
  const label = `%${number} = ${n.op}${attrText}\n${printType(n)}${outputs ? `\noutput ${outputs.join(', ')}` : ''}`;
  const attrs = [`label=${quote(label)}`];
  const kind = OPS[n.op].kind;
  if (n.op === 'input') attrs.push('shape=ellipse', 'style=filled', 'fillcolor="#d2e3fc"');
  else if (GENERATED.has(n.op)) attrs.push('shape=note', 'color="#999999"', 'fontcolor="#555555"');
  else if (kind === 'layout') attrs.push('shape=box', 'style="rounded,dashed"');
  else if (kind === 'matmul' || kind === 'reduce' || kind === 'argreduce') attrs.push('shape=box', 'style="filled,bold"', 'fillcolor="#ffffff"');
  else attrs.push('shape=box', 'style=filled', 'fillcolor="#ffffff"');
  if (outputs) attrs.push('peripheries=2');
  return attrs.join(', ');
}

/** A dot string literal: quotes and backslashes escaped, line breaks as dot's `\n`. */
export function quote(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}
