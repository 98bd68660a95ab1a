// Collecting garbage on demand, and how much memory buffers hold, on Node,
// Bun and Deno alike, for tests that check what the server keeps alive.
import * as v8 from "node:v8";
import * as vm from "node:vm";

interface BunGlobal {
  gc(sync: boolean): void;
}
const bun = (globalThis as { Bun?: BunGlobal }).Bun;

/** A function that runs a full garbage collection now. */
export function garbageCollector(): () => void {
  if (bun !== undefined) return () => bun.gc(true);
  v8.setFlagsFromString("--expose-gc");
  return vm.runInNewContext("gc") as () => void;
}

/** Bytes held outside the JS heap (ArrayBuffers among them); on Bun, which reports none, the process's RSS. */
export function bufferBytes(): number {
  const usage = process.memoryUsage();
  return bun !== undefined ? usage.rss : usage.external;
}

/**
 * Bytes the process holds in its JS heap and in buffers. Bun's heapUsed
 * counts its buffers already (its external is part of it); its RSS is no
 * measure, as freed memory is not given back to the system.
 */
export function heldBytes(): number {
  const usage = process.memoryUsage();
  return bun !== undefined ? usage.heapUsed : usage.heapUsed + usage.external;
}

/**
 * Whether the process holds at least `bytes` more than `before` (a heldBytes()
 * reading) that garbage collection does not free: collects only when the
 * reading without it is that high already. Buffers a collection frees are
 * given back on other threads, and counted until then: the reading is taken
 * again, collecting each time, for up to 20 rounds of 10 ms while it stays high.
 */
export async function holdsMoreThan(collect: () => void, before: number, bytes: number): Promise<boolean> {
  for (let round = 0; heldBytes() - before >= bytes; round++) {
    if (round === 20) return true;
    if (round > 0) await new Promise((resolve) => setTimeout(resolve, 10));
    collect();
  }
  return false;
}
