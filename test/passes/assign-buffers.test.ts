// assign-buffers: every memory plan is checked by an independent checker (live ranges recomputed from the
// bindings, a simulation of buffer contents, the reported figures recomputed), on hand-built plans, on plans
// from the real lowering, and on random plans (fast-check), including an exhaustive optimum for small ones.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { DType } from '../../src/ir/dtype.js';
import { makeGraph, type Graph } from '../../src/ir/graph.js';
import { makeNode, type Node } from '../../src/ir/node.js';
import type { OpName } from '../../src/ir/ops.js';
import { lowerGraph } from '../../src/lowering/lower.js';
import type { Binding, Dispatch, MemoryPlan, Plan, Slot } from '../../src/lowering/plan.js';
import { assignBuffers, assignBuffersPass } from '../../src/passes/assign-buffers.js';
import { sizeClass } from '../../src/runtime/webgpu/buffer-pool.js';

// ---------------------------------------------------------------------------------------------------------
// Building plans by hand: slots as [elements, role], dispatches as [slots read, slots written].

type Role = Slot['role'];

function makePlan(slots: readonly (readonly [number, Role])[], steps: readonly (readonly [readonly number[], readonly number[]])[]): Plan {
  const planSlots: Slot[] = slots.map(([size, role], index) => ({ index, dtype: 'float32', size, role }));
  const dispatches: Dispatch[] = steps.map(([reads, writes], i) => {
    const bindings: Binding[] = [...reads.map((slot) => ({ slot, access: 'read' as const })), ...writes.map((slot) => ({ slot, access: 'read_write' as const }))];
    return { kernel: `k${i}`, wgsl: '', entryPoint: 'main', bindings, workgroups: [1, 1, 1], ir: '', bytesRead: 0, bytesWritten: 0 };
  });
  return {
    slots: planSlots,
    inputSlots: planSlots.filter((s) => s.role === 'input').map((s) => s.index),
    outputs: planSlots.filter((s) => s.role === 'output').map((s) => ({ slot: s.index, shape: [s.size], offset: 0, strides: [1] })),
    dispatches,
  };
}

const bytesOf = (slot: Slot) => Math.max(4, slot.size * 4);

// ---------------------------------------------------------------------------------------------------------
// The checker: everything it knows it recomputes from the plan's slots and bindings.

/** Dispatch positions that bind each slot. */
function uses(plan: Plan): number[][] {
  const out: number[][] = plan.slots.map(() => []);
  plan.dispatches.forEach((d, pos) =>
    d.bindings.forEach((b) => {
      out[b.slot].push(pos);
      if (b.result !== undefined) out[b.result].push(pos);
    }),
  );
  return out;
}

/** In-place writes: `operand result` keys, each with the dispatch that writes the result over the operand. */
function inPlacePairs(plan: Plan): Map<string, number> {
  const pairs = new Map<string, number>();
  plan.dispatches.forEach((d, pos) => d.bindings.forEach((b) => b.result !== undefined && pairs.set(`${b.slot} ${b.result}`, pos)));
  return pairs;
}

/** Per slot, the lowest slot of its chain of in-place writes (slots that must be one buffer). */
function inPlaceRoots(plan: Plan): number[] {
  const root = plan.slots.map((s) => s.index);
  const find = (x: number): number => (root[x] === x ? x : find(root[x]));
  for (const key of inPlacePairs(plan).keys()) {
    const [a, b] = key.split(' ').map(Number);
    const [ra, rb] = [find(a), find(b)];
    root[Math.max(ra, rb)] = Math.min(ra, rb);
  }
  return plan.slots.map((s) => find(s.index));
}

function isOutputSlot(plan: Plan, slot: number): boolean {
  return plan.slots[slot].role === 'output' || (plan.slots[slot].role !== 'input' && plan.outputs.some((o) => o.slot === slot));
}

/** Temp bytes live at the busiest dispatch plus every output: no valid assignment can use less. */
function expectedLowerBound(plan: Plan): number {
  const u = uses(plan);
  let outputs = 0;
  for (const s of plan.slots) if (isOutputSlot(plan, s.index)) outputs += bytesOf(s);
  // A chain of in-place writes is one value in memory: live over its members' uses, counted once.
  const roots = inPlaceRoots(plan);
  let busiest = 0;
  for (let d = 0; d < plan.dispatches.length; d++) {
    const live = new Map<number, number>();
    for (const s of plan.slots) {
      if (s.role === 'input' || isOutputSlot(plan, s.index) || u[s.index].length === 0) continue;
      const chain = plan.slots.filter((t) => roots[t.index] === roots[s.index]).flatMap((t) => u[t.index]);
      if (Math.min(...chain) <= d && d <= Math.max(...chain)) live.set(roots[s.index], Math.max(live.get(roots[s.index]) ?? 0, bytesOf(s)));
    }
    busiest = Math.max(busiest, [...live.values()].reduce((a, b) => a + b, 0));
  }
  return outputs + busiest;
}

/** Every way the memory plan can be wrong, as messages (empty when it is right). */
function checkMemory(plan: Plan): string[] {
  const m = plan.memory;
  if (!m) return ['no memory plan'];
  const errors: string[] = [];
  const u = uses(plan);
  if (m.slotBuffer.length !== plan.slots.length) errors.push(`slotBuffer has ${m.slotBuffer.length} entries for ${plan.slots.length} slots`);
  const members: number[][] = m.buffers.map(() => []);
  const pairs = inPlacePairs(plan);
  for (const [key, pos] of pairs) {
    const [a, r] = key.split(' ').map(Number);
    if (m.slotBuffer[a] !== m.slotBuffer[r]) errors.push(`dispatch ${pos} writes slot ${r} in place over slot ${a}, but they have buffers ${m.slotBuffer[a]} and ${m.slotBuffer[r]}`);
    if (plan.dispatches[pos].bindings.some((b) => b.slot === r)) errors.push(`dispatch ${pos} writes slot ${r} in place and also binds it`);
  }
  for (const s of plan.slots) {
    const b = m.slotBuffer[s.index];
    if (s.role === 'input') {
      if (b !== -1) errors.push(`input slot ${s.index} has buffer ${b}`);
      continue;
    }
    if (!Number.isInteger(b) || b < 0 || b >= m.buffers.length) {
      errors.push(`slot ${s.index} has no valid buffer (${b})`);
      continue;
    }
    members[b].push(s.index);
    if (m.buffers[b] < bytesOf(s)) errors.push(`slot ${s.index} (${bytesOf(s)} bytes) is in buffer ${b} of ${m.buffers[b]} bytes`);
  }
  members.forEach((ms, b) => {
    if (ms.length === 0) errors.push(`buffer ${b} holds no slot`);
    if (m.buffers[b] % 4 !== 0 || m.buffers[b] < 4) errors.push(`buffer ${b} has ${m.buffers[b]} bytes`);
    if (ms.length > 1 && ms.some((s) => isOutputSlot(plan, s))) errors.push(`output shares buffer ${b} with slots ${ms.join(',')}`);
    // Slots sharing a buffer: their ranges [first use, last use] must be disjoint (touching counts), except
    // that an in-place write's operand and result touch at exactly the dispatch that writes it.
    for (let i = 0; i < ms.length; i++) {
      for (let j = i + 1; j < ms.length; j++) {
        const [a, c] = [u[ms[i]], u[ms[j]]];
        if (a.length === 0 || c.length === 0) continue;
        if (Math.max(...a) < Math.min(...c) || Math.max(...c) < Math.min(...a)) continue;
        const at = pairs.get(`${ms[i]} ${ms[j]}`) ?? pairs.get(`${ms[j]} ${ms[i]}`);
        const [early, late] = Math.min(...a) <= Math.min(...c) ? [a, c] : [c, a];
        if (at === undefined || Math.max(...early) !== at || Math.min(...late) !== at) errors.push(`slots ${ms[i]} and ${ms[j]} share buffer ${b} while both live`);
      }
    }
  });
  // No dispatch binds one buffer twice (distinct slots, or one slot with a writable binding).
  plan.dispatches.forEach((d, pos) => {
    const seen = new Map<number, Binding>();
    for (const binding of d.bindings) {
      const b = m.slotBuffer[binding.slot];
      if (b === -1) continue;
      const prev = seen.get(b);
      if (prev && (prev.slot !== binding.slot || prev.access === 'read_write' || binding.access === 'read_write')) {
        errors.push(`dispatch ${pos} binds buffer ${b} twice (slots ${prev.slot} and ${binding.slot})`);
      }
      seen.set(b, binding);
    }
  });
  // Simulate the contents: a read must find the slot's own data in its buffer, and so must the caller.
  const holder = new Array<number>(m.buffers.length).fill(-1);
  const written = new Set<number>();
  plan.dispatches.forEach((d, pos) => {
    for (const binding of d.bindings) {
      const b = m.slotBuffer[binding.slot];
      const reads = binding.access === 'read' || binding.result !== undefined;
      if (reads && b >= 0 && written.has(binding.slot) && holder[b] !== binding.slot) {
        errors.push(`dispatch ${pos} reads slot ${binding.slot} but buffer ${b} holds slot ${holder[b]}`);
      }
    }
    for (const binding of d.bindings) {
      const b = m.slotBuffer[binding.slot];
      if (binding.access === 'read_write' && b >= 0) {
        const slot = binding.result ?? binding.slot;
        holder[b] = slot;
        written.add(slot);
      }
    }
  });
  for (const s of plan.slots) {
    const b = m.slotBuffer[s.index];
    if (isOutputSlot(plan, s.index) && written.has(s.index) && holder[b] !== s.index) errors.push(`output slot ${s.index} was overwritten`);
  }
  // The figures.
  const sum = m.buffers.reduce((a, b) => a + b, 0);
  const withoutReuse = plan.slots.filter((s) => s.role !== 'input').reduce((a, s) => a + sizeClass(bytesOf(s)), 0);
  const lb = expectedLowerBound(plan);
  if (m.peakBytes !== sum) errors.push(`peakBytes ${m.peakBytes} is not the buffers' sum ${sum}`);
  if (m.bytesWithoutReuse !== withoutReuse) errors.push(`bytesWithoutReuse ${m.bytesWithoutReuse}, expected ${withoutReuse}`);
  if (m.lowerBound !== lb) errors.push(`lowerBound ${m.lowerBound}, expected ${lb}`);
  if (m.peakBytes > m.bytesWithoutReuse) errors.push(`peakBytes ${m.peakBytes} > bytesWithoutReuse ${m.bytesWithoutReuse}`);
  const classBytes = m.buffers.reduce((a, b) => a + sizeClass(b), 0);
  if (classBytes > m.bytesWithoutReuse) errors.push(`pooled bytes ${classBytes} > bytesWithoutReuse ${m.bytesWithoutReuse}`);
  if (m.peakBytes < lb) errors.push(`peakBytes ${m.peakBytes} below the lower bound ${lb}`);
  return errors;
}

/** Assigns, checks, and checks the 1.1x claim; returns the memory plan. */
function assignAndCheck(plan: Plan, within = 1.1): MemoryPlan {
  const out = assignBuffers(plan);
  expect(checkMemory(out)).toEqual([]);
  expect(out.memory!.peakBytes).toBeLessThanOrEqual(within * out.memory!.lowerBound);
  return out.memory!;
}

/** Buffers holding at least one temp slot. */
function tempBuffers(plan: Plan, m: MemoryPlan): Set<number> {
  return new Set(plan.slots.filter((s) => s.role === 'temp').map((s) => m.slotBuffer[s.index]));
}

// ---------------------------------------------------------------------------------------------------------

describe('the checker', () => {
  // Sharing is wrong here in each of the ways the checker looks for; it must say so.
  const plan = makePlan(
    [
      [4, 'input'],
      [4, 'temp'],
      [4, 'temp'],
      [4, 'temp'],
      [4, 'output'],
    ],
    [
      [[0], [1]],
      [[1], [2]],
      [[2], [3]],
      [[3, 1], [4]],
    ],
  );
  // Ranges: 1 [0,3], 2 [1,2], 3 [2,3]; output 4 from 3 on.
  const good = assignBuffers(plan);
  const withMemory = (memory: Partial<MemoryPlan>) => ({ ...good, memory: { ...good.memory!, ...memory } });

  test('accepts the pass result', () => {
    expect(checkMemory(good)).toEqual([]);
  });
  test('rejects touching ranges in one buffer (a dispatch reading and writing it)', () => {
    const errors = checkMemory(withMemory({ buffers: [16, 16, 16], slotBuffer: [-1, 0, 1, 1, 2], peakBytes: 48 }));
    expect(errors).toContain('slots 2 and 3 share buffer 1 while both live');
    expect(errors).toContain('dispatch 2 binds buffer 1 twice (slots 2 and 3)');
  });
  test('rejects a value overwritten while it is still to be read', () => {
    const errors = checkMemory(withMemory({ buffers: [16, 16, 16], slotBuffer: [-1, 0, 1, 0, 2], peakBytes: 48 }));
    expect(errors).toContain('slots 1 and 3 share buffer 0 while both live');
    expect(errors).toContain('dispatch 3 reads slot 1 but buffer 0 holds slot 3');
  });
  test('rejects an output sharing with a dead temp', () => {
    const errors = checkMemory(withMemory({ buffers: [16, 16, 16], slotBuffer: [-1, 0, 1, 2, 1], peakBytes: 48 }));
    expect(errors).toContain('output shares buffer 1 with slots 2,4');
  });
  test('rejects wrong figures, small buffers and buffers given to inputs', () => {
    expect(checkMemory(withMemory({ lowerBound: 1 })).some((e) => e.includes('lowerBound'))).toBe(true);
    expect(checkMemory(withMemory({ peakBytes: 1 })).some((e) => e.includes('peakBytes'))).toBe(true);
    expect(checkMemory(withMemory({ bytesWithoutReuse: 1 })).some((e) => e.includes('bytesWithoutReuse'))).toBe(true);
    expect(checkMemory(withMemory({ buffers: good.memory!.buffers.map(() => 4) })).some((e) => e.includes('bytes) is in buffer'))).toBe(true);
    expect(checkMemory(withMemory({ slotBuffer: [0, ...good.memory!.slotBuffer.slice(1)] })).some((e) => e.includes('input slot 0'))).toBe(true);
    expect(checkMemory(plan)).toEqual(['no memory plan']);
  });
});

describe('hand-built plans', () => {
  test('a chain alternates two temp buffers; the output has its own', () => {
    const n = 10;
    const slots: [number, Role][] = [[8, 'input'], ...Array.from({ length: n }, () => [8, 'temp'] as [number, Role]), [8, 'output']];
    const steps = Array.from({ length: n + 1 }, (_, i) => [[i], [i + 1]] as const);
    const plan = makePlan(slots, steps);
    const m = assignAndCheck(plan);
    expect(m.buffers).toEqual([32, 32, 32]);
    expect(m.slotBuffer).toEqual([-1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 2]);
    expect(m.peakBytes).toBe(m.lowerBound);
  });

  test('a slot first written at d never shares with a slot read at d', () => {
    // slot 1 is read by dispatch 1, which writes slot 2: touching ranges; slot 3 may take slot 1's buffer.
    const plan = makePlan(
      [
        [4, 'input'],
        [4, 'temp'],
        [4, 'temp'],
        [4, 'temp'],
        [4, 'output'],
      ],
      [
        [[0], [1]],
        [[1], [2]],
        [[2], [3]],
        [[3], [4]],
      ],
    );
    const m = assignAndCheck(plan);
    expect(m.slotBuffer[1]).not.toBe(m.slotBuffer[2]);
    expect(m.slotBuffer[2]).not.toBe(m.slotBuffer[3]);
    expect(m.slotBuffer[1]).toBe(m.slotBuffer[3]);
  });

  test('best fit: a slot takes the smallest free buffer that holds it', () => {
    // Ranges: 1 (1000) [0,2], 2 (100) [1,2], 3 (1) [2,3], 4 (100) [3,4], 5 (1) [4,5], 6 (1000) [5,6].
    // When 4 is placed, the 4000-byte buffer and the 400-byte one are both free: it takes the latter.
    const plan = makePlan(
      [
        [1, 'input'],
        [1000, 'temp'],
        [100, 'temp'],
        [1, 'temp'],
        [100, 'temp'],
        [1, 'temp'],
        [1000, 'temp'],
        [1, 'output'],
      ],
      [
        [[0], [1]],
        [[0], [2]],
        [[1, 2], [3]],
        [[3], [4]],
        [[4], [5]],
        [[5], [6]],
        [[6], [7]],
      ],
    );
    const m = assignAndCheck(plan);
    expect(m.slotBuffer[4]).toBe(m.slotBuffer[2]);
    expect(m.slotBuffer[6]).toBe(m.slotBuffer[1]);
    expect(m.slotBuffer[5]).toBe(m.slotBuffer[3]);
    expect(m.buffers).toEqual([4000, 400, 4, 4]);
    expect(m.peakBytes).toBe(m.lowerBound);
  });

  test('where largest-first loses, the order by first use wins (both are tried)', () => {
    // Ranges: 1 (8 B) [0,1], 2 (8 B) [1,3], 3 (4 B) [2,4], 4 (4 B) [3,4], 5 (8 B) [4,4]. Largest first puts
    // 5 with 1 and needs two 4-byte buffers for 3 and 4 (24 bytes); by first use 3 joins 1, 5 joins 2 (20).
    const plan = makePlan(
      [
        [1, 'input'],
        [2, 'temp'],
        [2, 'temp'],
        [1, 'temp'],
        [1, 'temp'],
        [2, 'temp'],
      ],
      [
        [[], [1]],
        [[1], [2]],
        [[], [3]],
        [[2], [4]],
        [[4, 3], [5]],
      ],
    );
    const m = assignBuffers(plan).memory!;
    expect(checkMemory({ ...plan, memory: m })).toEqual([]);
    expect(m.lowerBound).toBe(16);
    expect(m.peakBytes).toBe(20);
    expect(optimum(plan)).toBe(20);
  });

  test('a free buffer grows rather than a new one being allocated', () => {
    // By first use, 5 (8 B, [4,5]) finds only 4-byte buffers free: growing one costs 4 bytes, a new one 8.
    const plan = makePlan(
      [
        [1, 'input'],
        [1, 'temp'],
        [1, 'temp'],
        [1, 'temp'],
        [1, 'temp'],
        [2, 'temp'],
        [1, 'temp'],
      ],
      [
        [[], [1]],
        [[1], [2]],
        [[], [3]],
        [[2], [4]],
        [[4, 3], [5]],
        [[5], [6]],
      ],
    );
    const m = assignAndCheck(plan);
    expect(m.peakBytes).toBe(16);
    expect(m.peakBytes).toBe(m.lowerBound);
  });

  test('growing sizes along a chain reach the lower bound', () => {
    const sizes = [100, 200, 300, 400, 500, 600];
    const plan = makePlan(
      [[1, 'input'], ...sizes.map((s) => [s, 'temp'] as [number, Role]), [1, 'output']],
      Array.from({ length: sizes.length + 1 }, (_, i) => [[i], [i + 1]] as const),
    );
    const m = assignAndCheck(plan);
    expect(m.lowerBound).toBe(4 * (500 + 600) + 4);
    expect(m.peakBytes).toBe(m.lowerBound);
  });

  test('outputs never share, even with a temp that died before their first write', () => {
    const plan = makePlan(
      [
        [16, 'input'],
        [16, 'temp'],
        [16, 'temp'],
        [16, 'temp'],
        [16, 'output'],
        [16, 'output'],
      ],
      [
        [[0], [1]],
        [[1], [2]],
        [[2], [3]],
        [[3], [4]],
        [[4], [5]],
      ],
    );
    const m = assignAndCheck(plan);
    expect(new Set([m.slotBuffer[4], m.slotBuffer[5]]).size).toBe(2);
    expect(m.slotBuffer.filter((b) => b === m.slotBuffer[4]).length).toBe(1);
    expect(m.slotBuffer.filter((b) => b === m.slotBuffer[5]).length).toBe(1);
    expect(m.peakBytes).toBe(4 * 64);
  });

  test('a slot written by several dispatches (concat) lives from its first write to its last read', () => {
    // 3 is written by dispatches 2 and 3 and read by 4; 1 is read by dispatch 2, 2 by dispatch 3.
    const plan = makePlan(
      [
        [8, 'input'],
        [8, 'temp'],
        [8, 'temp'],
        [16, 'temp'],
        [16, 'output'],
      ],
      [
        [[0], [1]],
        [[0], [2]],
        [[1], [3]],
        [[2], [3]],
        [[3], [4]],
      ],
    );
    const m = assignAndCheck(plan);
    expect(new Set([m.slotBuffer[1], m.slotBuffer[2], m.slotBuffer[3]]).size).toBe(3);
  });

  test('dead values (written, never read) and empty temps (read, never written) get buffers', () => {
    const plan = makePlan(
      [
        [8, 'input'],
        [8, 'temp'], // written at 0, never read
        [0, 'temp'], // never written (empty), read at 1
        [8, 'temp'], // written at 2, may reuse slot 1's buffer
        [8, 'output'],
      ],
      [
        [[0], [1]],
        [[2], [4]],
        [[0], [3]],
      ],
    );
    const m = assignAndCheck(plan);
    expect(m.slotBuffer[3]).toBe(m.slotBuffer[1]);
    expect(m.slotBuffer[2]).toBeGreaterThanOrEqual(0);
  });

  test('a temp no dispatch binds shares freely, but never an output buffer', () => {
    const plan = makePlan(
      [
        [8, 'input'],
        [0, 'temp'], // empty result, never bound
        [8, 'temp'],
        [8, 'output'],
      ],
      [
        [[0], [2]],
        [[2], [3]],
      ],
    );
    const m = assignAndCheck(plan);
    expect(m.slotBuffer[1]).toBe(m.slotBuffer[2]);
    expect(m.buffers.length).toBe(2);
    // With no temp buffer to join, it gets its own (4 bytes: the only cost above the bound).
    const alone = assignBuffers(makePlan([[0, 'temp'], [0, 'output']], []));
    expect(checkMemory(alone)).toEqual([]);
    expect(alone.memory!.buffers).toEqual([4, 4]);
    expect(alone.memory!.lowerBound).toBe(4);
  });

  test('buffers are numbered by the first dispatch that binds them', () => {
    // Largest first creates the 400-byte buffer (slot 2) before the 4-byte one (slot 1): numbering reorders.
    const plan = makePlan(
      [
        [1, 'input'],
        [1, 'temp'],
        [100, 'temp'],
        [1, 'output'],
      ],
      [
        [[0], [1]],
        [[1], [2]],
        [[2], [3]],
      ],
    );
    const m = assignAndCheck(plan, 1);
    expect(m.buffers).toEqual([4, 400, 4]);
    expect(m.slotBuffer).toEqual([-1, 0, 1, 2]);
  });

  test('a plan without dispatches or computed slots needs no memory', () => {
    const m = assignAndCheck(makePlan([[6, 'input']], []));
    expect(m).toEqual({ buffers: [], slotBuffer: [-1], peakBytes: 0, bytesWithoutReuse: 0, lowerBound: 0 });
  });

  test('bool slots take 4 bytes per element; empty slots at least 4', () => {
    const plan = makePlan(
      [
        [3, 'input'],
        [3, 'output'],
        [0, 'output'],
      ],
      [[[0], [1]]],
    );
    const boolPlan: Plan = { ...plan, slots: plan.slots.map((s) => ({ ...s, dtype: 'bool' as DType })) };
    const m = assignAndCheck(boolPlan);
    expect(m.buffers).toEqual([12, 4]);
    expect(m.bytesWithoutReuse).toBe(2 * 256);
  });

  test('a plan that writes an input slot is rejected', () => {
    expect(() => assignBuffers(makePlan([[4, 'input'], [4, 'output']], [[[], [0]]]))).toThrow(/writes input slot 0/);
    expect(() => assignBuffers(makePlan([[4, 'output']], [[[7], [0]]]))).toThrow(/slot 7/);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Plans from the real lowering.

const input = (name: string, shape: number[], dtype: DType = 'float32'): Node => makeNode('input', [], { name }, { dtype, shape });
const UNARY: OpName[] = ['exp', 'neg', 'sin', 'tanh', 'abs'];

function lowered(outputs: Node[]): Plan {
  const graph: Graph = makeGraph(outputs);
  return lowerGraph(graph);
}

describe('plans from the lowering', () => {
  test('a chain of 20 elementwise ops runs in place: one temp buffer', () => {
    let v = input('x', [4, 8]);
    for (let i = 0; i < 20; i++) v = makeNode(UNARY[i % UNARY.length], [v]);
    const plan = lowered([v]);
    expect(plan.dispatches.length).toBe(20);
    const out = assignBuffers(plan);
    const m = assignAndCheck(plan);
    expect(tempBuffers(plan, m).size).toBe(1);
    expect(m.buffers).toEqual([128, 128]);
    expect(m.peakBytes).toBe(m.lowerBound);
    expect(m.bytesWithoutReuse).toBe(20 * 256);
    // The first op reads the caller's input and the last writes the output: the 18 between run in place.
    expect(out.dispatches.map((d) => d.kernel.endsWith('.inplace'))).toEqual([false, ...Array(18).fill(true), false]);
    for (const d of out.dispatches.filter((x) => x.kernel.endsWith('.inplace'))) {
      expect(d.bindings).toHaveLength(1);
      expect(d.bindings[0].access).toBe('read_write');
      expect(d.wgsl).toMatch(/var<storage, read_write> in0/);
      expect(d.wgsl).not.toMatch(/ out/);
    }
  });

  test('no in-place write over a value read later, over an input, or through a broadcast or transposed read', () => {
    const x = input('x', [4, 4]);
    const a = makeNode('exp', [x]);
    const keep = makeNode('neg', [a]); // a is read again below: not in place over a
    const b = makeNode('add', [keep, a]);
    const t = makeNode('add', [b, makeNode('transpose', [b], { perm: [1, 0] })]); // b read transposed too
    const row = makeNode('mul', [t, makeNode('sum', [t], { axes: [0], keepdims: true })]); // broadcast read
    const out = assignBuffers(lowered([makeNode('tanh', [row])]));
    const kernels = out.dispatches.map((d) => d.kernel.replace('.vec4', '')); // vec4 or not is the generator's choice
    // add(keep, a) overwrites keep (dead after it), never a (read again later); the transposed add reads b
    // at two places; mul overwrites t; tanh writes the output. exp reads the caller's input.
    expect(kernels).toEqual([
      'elementwise.exp.float32',
      'elementwise.neg.float32',
      'elementwise.add.float32.inplace',
      'elementwise.add.float32',
      'reduce.sum.float32',
      'elementwise.mul.float32.inplace',
      'elementwise.tanh.float32',
    ]);
    expect(out.dispatches[2].bindings[0]).toMatchObject({ slot: out.dispatches[1].bindings[1].slot, access: 'read_write' });
    expect(checkMemory(out)).toEqual([]);
  });

  test('a diamond keeps both branches and their source apart (sin, the last reader of exp, runs in place)', () => {
    const x = input('x', [16, 16]);
    const a = makeNode('exp', [x]);
    const b = makeNode('neg', [a]);
    const c = makeNode('sin', [a]);
    const d = makeNode('add', [b, c]);
    const plan = lowered([makeNode('sigmoid', [makeNode('tanh', [d])])]);
    const m = assignAndCheck(plan);
    expect(m.peakBytes).toBe(m.lowerBound);
    expect(tempBuffers(plan, m).size).toBe(2);
  });

  test('a concat writes one slot across several dispatches', () => {
    const x = input('x', [2, 3]);
    const y = input('y', [5, 3]);
    const a = makeNode('exp', [x]);
    const b = makeNode('neg', [y]);
    const c = makeNode('concat', [a, b, a], { axis: 0 });
    const plan = lowered([makeNode('relu', [makeNode('sin', [c])])]);
    expect(plan.dispatches.filter((d) => d.kernel.startsWith('concat.part')).length).toBe(3);
    const m = assignAndCheck(plan);
    const concatSlot = plan.dispatches.find((d) => d.kernel.startsWith('concat.part'))!.bindings.at(-1)!.slot;
    // sin, the concat's only reader, overwrites it in place; nothing else shares its buffer.
    const sinSlot = plan.dispatches.find((d) => d.kernel.startsWith('elementwise.sin'))!.inPlace!.resultSlot;
    for (const s of plan.slots) if (s.index !== concatSlot && s.index !== sinSlot && s.role !== 'input') expect(m.slotBuffer[s.index]).not.toBe(m.slotBuffer[concatSlot]);
    expect(m.slotBuffer[sinSlot]).toBe(m.slotBuffer[concatSlot]);
  });

  test('multiple outputs, one of them read by later dispatches', () => {
    const x = input('x', [8, 8]);
    const a = makeNode('exp', [x]);
    const b = makeNode('neg', [a]);
    const c = makeNode('sin', [b]);
    const d = makeNode('cos', [c]);
    const e = makeNode('mul', [d, b]);
    const f = makeNode('tanh', [e]);
    const plan = lowered([b, f, makeNode('sum', [f], { axes: [1] })]);
    expect(plan.slots.filter((s) => s.role === 'output').length).toBe(3);
    const m = assignAndCheck(plan);
    const outBuffers = plan.slots.filter((s) => s.role === 'output').map((s) => m.slotBuffer[s.index]);
    expect(new Set(outBuffers).size).toBe(3);
  });

  test('an output that is a view of an input needs no buffer', () => {
    const x = input('x', [3, 4]);
    const plan = lowered([makeNode('transpose', [x], { perm: [1, 0] })]);
    expect(plan.dispatches.length).toBe(0);
    const m = assignAndCheck(plan);
    expect(m).toEqual({ buffers: [], slotBuffer: [-1], peakBytes: 0, bytesWithoutReuse: 0, lowerBound: 0 });
    // Next to a computed output.
    const both = lowered([makeNode('reshape', [x], { shape: [12] }), makeNode('exp', [makeNode('neg', [x])])]);
    const m2 = assignAndCheck(both);
    expect(m2.buffers).toEqual([48, 48]);
  });

  test('a small MLP with differently sized values stays within 1.1x of the bound', () => {
    const x = input('x', [32, 64]);
    const w1 = input('w1', [64, 128]);
    const w2 = input('w2', [128, 16]);
    const h = makeNode('relu', [makeNode('matmul', [x, w1])]);
    const g = makeNode('gelu', [makeNode('add', [h, makeNode('exp', [h])])]);
    const o = makeNode('matmul', [g, w2]);
    const plan = lowered([makeNode('sum', [makeNode('tanh', [o])], { axes: [0, 1] })]);
    assignAndCheck(plan);
  });

  test('empty results: a temp read while empty, and one no dispatch binds', () => {
    const x = input('x', [0, 3]);
    const reduced = lowered([makeNode('sum', [makeNode('exp', [x])], { axes: [0] })]);
    assignAndCheck(reduced);
    const unbound = lowered([makeNode('neg', [makeNode('exp', [x])])]);
    expect(unbound.dispatches.length).toBe(0);
    const out = assignBuffers(unbound);
    expect(checkMemory(out)).toEqual([]);
    expect(out.memory!.slotBuffer.every((b, i) => (unbound.slots[i].role === 'input' ? b === -1 : b >= 0))).toBe(true);
  });

  test('the pass object: a plan pass, pure and idempotent', () => {
    let v = input('x', [4]);
    for (let i = 0; i < 5; i++) v = makeNode(UNARY[i % UNARY.length], [v]);
    const plan = lowered([v]);
    const snapshot = JSON.stringify(plan);
    expect(assignBuffersPass.name).toBe('assign-buffers');
    expect(assignBuffersPass.description.length).toBeGreaterThan(0);
    const out = assignBuffersPass.run(plan);
    expect(out).not.toBe(plan);
    expect(JSON.stringify(plan)).toBe(snapshot);
    expect(plan.memory).toBeUndefined();
    expect(out.slots).toBe(plan.slots);
    // The in-place dispatches become their variants; running the pass again changes nothing.
    expect(out.dispatches.filter((d) => d.kernel.endsWith('.inplace')).length).toBe(3);
    const again = assignBuffersPass.run(out);
    expect(again.memory).toEqual(out.memory);
    expect(again.dispatches).toEqual(out.dispatches);
    // A plan with nothing to run in place keeps its dispatches.
    const single = lowered([makeNode('exp', [input('y', [4])])]);
    expect(assignBuffersPass.run(single).dispatches).toBe(single.dispatches);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Random plans: slots of random sizes and roles; each dispatch writes one non-input slot (again, for concat)
// and reads distinct slots that are inputs or already written (define before use).

interface Spec {
  slots: { size: number; role: Role }[];
  steps: { write: number; reads: number[] }[];
}

const specArb = (maxSize: number, maxSlots: number, maxSteps: number) =>
  fc.record({
    slots: fc.array(fc.record({ size: fc.nat(maxSize), role: fc.constantFrom<Role>('input', 'temp', 'temp', 'temp', 'output') }), { minLength: 1, maxLength: maxSlots }),
    steps: fc.array(fc.record({ write: fc.nat(), reads: fc.array(fc.nat(), { maxLength: 4 }) }), { maxLength: maxSteps }),
  });

function planFromSpec(spec: Spec, sameSize?: number): Plan {
  const slots = spec.slots.map((s) => [sameSize ?? s.size, s.role] as [number, Role]);
  const targets = slots.map((s, i) => (s[1] === 'input' ? -1 : i)).filter((i) => i >= 0);
  const written = new Set<number>();
  const steps: [number[], number[]][] = [];
  if (targets.length === 0) return makePlan(slots, []);
  for (const step of spec.steps) {
    const target = targets[step.write % targets.length];
    const readable = slots.map((s, i) => i).filter((i) => i !== target && (slots[i][1] === 'input' || written.has(i)));
    const reads = readable.length === 0 ? [] : [...new Set(step.reads.map((r) => readable[r % readable.length]))];
    steps.push([reads, [target]]);
    written.add(target);
  }
  return makePlan(slots, steps);
}

/** The least total any valid assignment reaches (exhaustive over partitions of the bound temps). */
function optimum(plan: Plan): number {
  const u = uses(plan);
  // Temps no dispatch binds overlap nothing: they may join any buffer large enough.
  const temps = plan.slots.filter((s) => s.role === 'temp');
  const range = (s: Slot) => [Math.min(...u[s.index]), Math.max(...u[s.index])];
  const overlap = (a: Slot, b: Slot) => {
    if (u[a.index].length === 0 || u[b.index].length === 0) return false;
    const [af, al] = range(a);
    const [bf, bl] = range(b);
    return !(al < bf || bl < af);
  };
  const outputs = plan.slots.filter((s) => s.role === 'output').reduce((a, s) => a + bytesOf(s), 0);
  let best = Infinity;
  const groups: Slot[][] = [];
  const go = (i: number) => {
    if (i === temps.length) {
      best = Math.min(best, groups.reduce((a, g) => a + Math.max(...g.map(bytesOf)), 0));
      return;
    }
    const s = temps[i];
    for (const g of groups) {
      if (g.some((t) => overlap(s, t))) continue;
      g.push(s);
      go(i + 1);
      g.pop();
    }
    groups.push([s]);
    go(i + 1);
    groups.pop();
  };
  go(0);
  return outputs + best;
}

describe('random plans (fast-check)', () => {
  test('every assignment is valid and its figures are right', () => {
    fc.assert(
      fc.property(specArb(5000, 24, 40), (spec) => {
        const plan = planFromSpec(spec);
        const out = assignBuffers(plan);
        expect(checkMemory(out)).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });

  test('with one slot size the assignment reaches the lower bound (interval colouring)', () => {
    fc.assert(
      fc.property(specArb(0, 24, 40), fc.integer({ min: 1, max: 4096 }), (spec, size) => {
        const plan = planFromSpec(spec, size);
        const m = assignBuffers(plan).memory!;
        expect(checkMemory({ ...plan, memory: m })).toEqual([]);
        // A plan whose temps are all never bound still gives them one buffer, above the bound.
        const u = uses(plan);
        const temps = plan.slots.filter((s) => s.role === 'temp');
        const onlyUnbound = temps.length > 0 && temps.every((s) => u[s.index].length === 0);
        expect(m.peakBytes).toBe(m.lowerBound + (onlyUnbound ? bytesOf(temps[0]) : 0));
      }),
      { numRuns: 300 },
    );
  });

  test('in-place offers: taken exactly where the operand dies there and both are temps of one size', () => {
    fc.assert(
      fc.property(specArb(64, 16, 30), fc.integer({ min: 1, max: 8 }), (spec, size) => {
        // Every dispatch whose first read is a non-input slot offers to write its result over it.
        const base = planFromSpec(spec, spec.slots.length % 2 === 0 ? size : undefined);
        const dispatches = base.dispatches.map((d) => {
          const read = d.bindings.find((b) => b.access === 'read' && base.slots[b.slot].role !== 'input');
          const write = d.bindings.at(-1)!;
          if (!read) return d;
          const bindings = d.bindings.filter((b) => b !== write).map((b) => (b === read ? { ...b, access: 'read_write' as const, result: write.slot } : b));
          return { ...d, inPlace: { operandSlot: read.slot, resultSlot: write.slot, wgsl: 'variant', bindings } };
        });
        const plan = { ...base, dispatches };
        const out = assignBuffers(plan);
        expect(checkMemory(out)).toEqual([]);
        const u = uses(plan);
        plan.dispatches.forEach((d, pos) => {
          if (!d.inPlace) return;
          const { operandSlot: a, resultSlot: r } = d.inPlace;
          const temp = (x: number) => plan.slots[x].role === 'temp' && !isOutputSlot(plan, x);
          const want = temp(a) && temp(r) && Math.max(...u[a]) === pos && Math.min(...u[r]) === pos && bytesOf(plan.slots[a]) === bytesOf(plan.slots[r]);
          expect(out.dispatches[pos].wgsl === 'variant').toBe(want);
          if (want) expect(out.memory!.slotBuffer[r]).toBe(out.memory!.slotBuffer[a]);
        });
      }),
      { numRuns: 500 },
    );
  });

  test('small plans: lower bound <= optimum <= peak, and peak stays near the optimum', () => {
    fc.assert(
      fc.property(specArb(1000, 8, 12), (spec) => {
        const plan = planFromSpec(spec);
        const m = assignBuffers(plan).memory!;
        const best = optimum(plan);
        expect(m.lowerBound).toBeLessThanOrEqual(best);
        expect(best).toBeLessThanOrEqual(m.peakBytes);
        expect(m.peakBytes).toBeLessThanOrEqual(1.25 * best);
      }),
      { numRuns: 500 },
    );
  });
});
