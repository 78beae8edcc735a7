// The structural hash keys the plan cache: two graphs hash alike exactly when they print alike. Tensor data is
// never part of the IR, so the same program run on new data finds its compiled plan again.
import type { Graph } from './graph.js';
import { printGraph } from './printer.js';

export function structuralHash(graph: Graph): string {
  return fnv1a64(printGraph(graph));
}

const encoder = new TextEncoder();

/**
 * 64-bit FNV-1a over the UTF-8 bytes of `text`, as 16 hex digits. The state is kept as two u32 halves, which
 * is several times faster than BigInt arithmetic.
 */
export function fnv1a64(text: string): string {
  let hi = 0xcbf29ce4;
  let lo = 0x84222325;
  for (const byte of encoder.encode(text)) {
    lo ^= byte;
    // h *= 0x100000001b3 (mod 2^64), i.e. h*0x1b3 + (h << 40). lo*0x1b3 < 2^41 is exact in a double; h << 40
    // only adds lo's low 24 bits, shifted by 8, to the high half.
    const low = (lo >>> 0) * 0x1b3;
    const carry = Math.floor(low / 0x100000000);
    hi = (Math.imul(hi, 0x1b3) + carry + (lo << 8)) >>> 0;
    lo = low >>> 0;
  }
  return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
}
