// assign-buffers: a pass over PLANS, not graphs. It runs after lowering and decides which device buffer each
// slot of a plan uses, so that temporaries whose lifetimes do not overlap share one buffer. It reads only the
// slots (role, size) and the dispatches' bindings (slot, access), and returns a new plan with `memory` set.
//
// Liveness, over the dispatch order (positions 0..n-1), ranges inclusive at both ends:
// - temp: from the first dispatch that binds it (its first write, since plans define before use) to the last
//   dispatch that binds it (its last read; a slot written but never read lives over its writes; a concat's
//   slot is written by several dispatches and its range covers them all).
// - output: handed to the caller, so its buffer is never shared with any other slot, before or after its
//   first write. Every output slot gets a buffer of its own (also an empty output that no dispatch writes).
// - input: bound to the arguments: `slotBuffer` is -1.
// - a temp that no dispatch binds (only empty results, e.g. `exp` of an empty tensor read by nothing that
//   runs) has no live range: it shares freely with any temp (it is never bound, so no dispatch can see the
//   sharing), placed like the others below; in real plans it is empty (4 bytes) and joins an existing temp
//   buffer at no cost, or gets its own 4 bytes when the plan has no other temp. Every non-input slot thus
//   has a buffer at least as large as the slot, as the runtime expects.
// Touching ranges overlap: a slot first written at dispatch d never shares with a slot read at d, so no
// dispatch binds one buffer twice (WebGPU forbids a buffer in a writable binding and any other binding of
// the same dispatch).
//
// Algorithm: TFLite's greedy by size, "shared objects" flavour (Pisarchyk & Lee 2020): separate buffers
// rather than offsets in one arena, whose offsets WebGPU would align to 256 bytes (design-references.md).
// Temps are taken largest first; each goes to the best-fitting buffer none of whose slots overlaps it in
// time: the smallest buffer that already holds its bytes, else the largest one, which grows least (growing
// costs less than a new buffer), else a new buffer. Like XLA, a second order is tried as well (by first use,
// which is optimal when all temps have one size: interval colouring; it is the order in which buffers grow,
// since largest first always finds them large enough) and the smaller total is kept. Buffers are numbered
// by the first dispatch that uses them.
// Quality: the lower bound below is not always reachable with shared objects and this is a heuristic. The
// tests require peakBytes <= 1.1 * lowerBound on every plan they build (chains, diamond, concat, several
// outputs, a small MLP: all reach the bound exactly or within 1.1x); on random small plans the result stays
// within 1.25x of an exhaustive optimum (1.07x seen). Random sizes with long, heavily overlapping lifetimes
// can end near 1.5x of the bound.
//
// Bytes and size classes: a slot's bytes are elements * 4 (bool is a u32 per element), at least 4. Buffers
// here are EXACT: a buffer's bytes are those of its largest slot (a multiple of 4, as storage bindings need).
// The pool rounds each to a size class at run time (at least 256 bytes, at most 25% more). This keeps every
// figure in one unit, so `peakBytes` (sum of the buffers) is compared honestly with `lowerBound`:
// - lowerBound = (sum of the output slots' bytes) + max over dispatches d of the bytes of temps live at d.
//   Raw bytes, not classes. Outputs count in full at every position because the rule above gives each its
//   own buffer for the whole evaluation; temps live at one dispatch pairwise overlap, so they need distinct
//   buffers. No assignment obeying these rules can use less. (A temp that no dispatch binds is never live and
//   counts nowhere; if no other temp buffer exists it costs its own 4 bytes above the bound.)
// - bytesWithoutReuse = sum of sizeClass(bytes) over temp and output slots: what the backend allocated before
//   this pass (one pooled buffer per slot, class sizes). Device memory with this plan is
//   sum(buffers.map(sizeClass)), which is never more than bytesWithoutReuse (each buffer's bytes are those of
//   a distinct slot).
//
// In place: WebGPU forbids binding one buffer twice in a dispatch when one binding is writable, so writing a
// result into its operand's buffer (XLA's in-place elementwise reuse) needs a kernel that loads and stores
// through ONE read_write binding. The lowering attaches such a variant to elementwise dispatches where it is
// sound (`Dispatch.inPlace`: each thread reads that operand only at the element it writes). This pass takes
// the variant when the operand is a temp whose last use is this dispatch and the result is a temp first
// written here, of the same bytes: the dispatch becomes the variant (its kernel name gains `.inplace`, the
// operand's binding names the result slot in `result`), and the two slots are packed as ONE interval, so they
// share a buffer. A chain of unfused elementwise ops thus runs in one buffer. The lower bound counts such a
// pair once (it is the bound for plans that run in place wherever the lowering allows).
import { WgfuseError } from '../ir/errors.js';
import type { Dispatch, MemoryPlan, Plan, Slot } from '../lowering/plan.js';
import { sizeClass } from '../runtime/webgpu/buffer-pool.js';

/** A pass over plans (the graph passes in pass.ts map graphs to graphs; this maps plans to plans). */
export interface PlanPass {
  readonly name: string;
  readonly description: string;
  run(plan: Plan): Plan;
}

export const assignBuffersPass: PlanPass = {
  name: 'assign-buffers',
  description: 'shares device buffers between temporaries whose lifetimes do not overlap (greedy by size, best fit)',
  run: (plan) => assignBuffers(plan),
};

/** Bytes a slot occupies on the device: 4 per element (bool included), at least 4. */
export function slotBytes(slot: Slot): number {
  return Math.max(4, slot.size * 4);
}

/**
 * Sets `plan.memory` (which buffer each slot uses and the figures to judge it by) and turns the dispatches
 * that run in place into their in-place variants. Pure.
 */
export function assignBuffers(plan: Plan): Plan {
  const { memory, dispatches } = planMemory(plan);
  const same = dispatches.every((d, i) => d === plan.dispatches[i]);
  return { ...plan, dispatches: same ? plan.dispatches : dispatches, memory };
}

/** Temp slots packed as one (a slot and those written in place over it), with their live range (inclusive). */
interface Interval {
  /** The lowest slot index, which orders ties. */
  readonly slot: number;
  readonly slots: readonly number[];
  readonly bytes: number;
  readonly first: number;
  readonly last: number;
}

interface Buffer {
  bytes: number;
  /** Disjoint intervals sorted by `first` (hence also by `last`). */
  readonly intervals: Interval[];
  readonly slots: number[];
}

function planMemory(plan: Plan): { memory: MemoryPlan; dispatches: readonly Dispatch[] } {
  const n = plan.slots.length;
  const first = new Array<number>(n).fill(-1);
  const last = new Array<number>(n).fill(-1);
  const use = (slot: number, pos: number) => {
    if (first[slot] < 0) first[slot] = pos;
    last[slot] = pos;
  };
  plan.dispatches.forEach((d, pos) => {
    for (const b of d.bindings) {
      const slot = plan.slots[b.slot];
      if (!slot) throw new WgfuseError(`internal: dispatch ${pos} (${d.kernel}) binds slot ${b.slot}, which the plan does not have`);
      if (slot.role === 'input' && b.access === 'read_write') {
        throw new WgfuseError(`internal: dispatch ${pos} (${d.kernel}) writes input slot ${b.slot}, which belongs to the caller`);
      }
      use(b.slot, pos);
      if (b.result !== undefined) use(b.result, pos);
    }
  });
  // The lowering marks output slots; a slot named by plan.outputs is handed out whatever its role says.
  const isOutput = new Array<boolean>(n).fill(false);
  for (const s of plan.slots) if (s.role === 'output') isOutput[s.index] = true;
  for (const o of plan.outputs) if (plan.slots[o.slot]?.role !== 'input') isOutput[o.slot] = true;

  // In place: union the slots that must share a buffer (root: the slot written first).
  const root = plan.slots.map((s) => s.index);
  const find = (x: number): number => (root[x] === x ? x : (root[x] = find(root[x])));
  const isTemp = (slot: number) => plan.slots[slot].role !== 'input' && !isOutput[slot];
  const dispatches = plan.dispatches.map((d, pos) => {
    for (const b of d.bindings) if (b.result !== undefined) root[find(b.result)] = find(b.slot);
    const v = d.inPlace;
    if (!v) return d;
    const { operandSlot: a, resultSlot: r } = v;
    const fits = isTemp(a) && isTemp(r) && last[a] === pos && first[r] === pos && slotBytes(plan.slots[a]) === slotBytes(plan.slots[r]);
    if (!fits) return d;
    root[find(r)] = find(a);
    const { inPlace: _chosen, ...rest } = d;
    return { ...rest, kernel: `${d.kernel}.inplace`, wgsl: v.wgsl, bindings: v.bindings };
  });

  // Temps, with their ranges; one that no dispatch binds has none (first = last = Infinity) and overlaps
  // nothing, so it goes where it fits, like any other temp, and sorts last by first use.
  const merged = new Map<number, { slots: number[]; bytes: number; first: number; last: number }>();
  let outputBytes = 0;
  for (const s of plan.slots) {
    if (isOutput[s.index]) outputBytes += slotBytes(s);
    else if (s.role !== 'input') {
      const bound = first[s.index] >= 0;
      const key = find(s.index);
      const m = merged.get(key) ?? { slots: [], bytes: 0, first: Infinity, last: -Infinity };
      m.slots.push(s.index);
      m.bytes = Math.max(m.bytes, slotBytes(s));
      m.first = Math.min(m.first, bound ? first[s.index] : Infinity);
      m.last = Math.max(m.last, bound ? last[s.index] : Infinity);
      merged.set(key, m);
    }
  }
  const temps: Interval[] = [...merged.values()].map((m) => ({ slot: Math.min(...m.slots), ...m }));

  // Two orders, keep the smaller total (the first on a tie).
  const byFirst = (a: Interval, b: Interval) => (a.first === b.first ? 0 : a.first < b.first ? -1 : 1);
  const bySize = [...temps].sort((a, b) => b.bytes - a.bytes || byFirst(a, b) || a.slot - b.slot);
  const byStart = [...temps].sort((a, b) => byFirst(a, b) || b.bytes - a.bytes || a.slot - b.slot);
  const candidates = [pack(bySize), pack(byStart)];
  const packed = candidates.reduce((best, c) => (total(c) < total(best) ? c : best));

  const buffers: Buffer[] = [...packed];
  for (const s of plan.slots) if (isOutput[s.index]) buffers.push({ bytes: slotBytes(s), intervals: [], slots: [s.index] });

  // Number buffers by the first dispatch that binds one of their slots (never-bound ones last).
  const keyed = buffers.map((b) => ({
    b,
    use: b.slots.reduce((m, s) => Math.min(m, first[s] < 0 ? Infinity : first[s]), Infinity),
    lowest: b.slots.reduce((m, s) => Math.min(m, s), Infinity),
  }));
  keyed.sort((x, y) => (x.use === y.use ? 0 : x.use < y.use ? -1 : 1) || x.lowest - y.lowest);
  const ordered = keyed.map((k) => k.b);

  const slotBuffer = new Array<number>(n).fill(-1);
  ordered.forEach((b, i) => b.slots.forEach((s) => (slotBuffer[s] = i)));

  // Lower bound: outputs for the whole evaluation, plus the most temp bytes live at one dispatch.
  const delta = new Array<number>(plan.dispatches.length + 1).fill(0);
  for (const iv of temps) {
    if (iv.first === Infinity) continue;
    delta[iv.first] += iv.bytes;
    delta[iv.last + 1] -= iv.bytes;
  }
  let running = 0;
  let tempPeak = 0;
  for (let d = 0; d < plan.dispatches.length; d++) {
    running += delta[d];
    tempPeak = Math.max(tempPeak, running);
  }

  let bytesWithoutReuse = 0;
  for (const s of plan.slots) if (s.role !== 'input') bytesWithoutReuse += sizeClass(slotBytes(s));

  const memory = {
    buffers: ordered.map((b) => b.bytes),
    slotBuffer,
    peakBytes: total(buffers),
    bytesWithoutReuse,
    lowerBound: outputBytes + tempPeak,
  };
  return { memory, dispatches };
}

/** Greedy best fit of temps, in the given order, into shared buffers. */
function pack(order: readonly Interval[]): Buffer[] {
  const buffers: Buffer[] = [];
  for (const iv of order) {
    let fit: Buffer | null = null; // smallest free buffer already large enough
    let grow: Buffer | null = null; // largest free buffer that is too small
    for (const buf of buffers) {
      if (overlaps(buf, iv)) continue;
      if (buf.bytes >= iv.bytes) {
        if (!fit || buf.bytes < fit.bytes) fit = buf;
      } else if (!grow || buf.bytes > grow.bytes) grow = buf;
    }
    const target = fit ?? grow;
    if (target) {
      target.bytes = Math.max(target.bytes, iv.bytes);
      insert(target, iv);
    } else buffers.push({ bytes: iv.bytes, intervals: iv.first === Infinity ? [] : [iv], slots: [...iv.slots] });
  }
  return buffers;
}

/** Whether an interval intersects one of the buffer's (binary search: they are disjoint and sorted). */
function overlaps(buf: Buffer, iv: Interval): boolean {
  if (iv.first === Infinity) return false;
  const i = firstEndingAtOrAfter(buf.intervals, iv.first);
  return i < buf.intervals.length && buf.intervals[i].first <= iv.last;
}

function insert(buf: Buffer, iv: Interval): void {
  if (iv.first !== Infinity) buf.intervals.splice(firstEndingAtOrAfter(buf.intervals, iv.first), 0, iv);
  buf.slots.push(...iv.slots);
}

/** Index of the first interval whose `last` is >= pos (intervals.length if none). */
function firstEndingAtOrAfter(intervals: readonly Interval[], pos: number): number {
  let lo = 0;
  let hi = intervals.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (intervals[mid].last < pos) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function total(buffers: readonly Buffer[]): number {
  return buffers.reduce((acc, b) => acc + b.bytes, 0);
}
