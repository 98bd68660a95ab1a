// Sizes for property generators that cover the whole legal range of an
// input, up to its declared limit, not only small values.
import fc from "fast-check";

/**
 * A length from 0 to `max`, biased to where implementations go wrong: short,
 * the varint length steps (127/128, 16383/16384), common buffer sizes (64,
 * 1024, 4096, 8192), one below `max`, `max` itself, and anywhere in between.
 */
export function lengthUpTo(max: number, min = 0): fc.Arbitrary<number> {
  const edges = [0, 1, 31, 32, 33, 64, 65, 127, 128, 129, 1024, 2048, 4096, 8191, 8192, 8193, 16383, 16384, max - 1, max].filter((n) => n >= min && n <= max);
  return fc.oneof(
    { weight: 5, arbitrary: fc.integer({ min, max: Math.max(min, Math.min(min + 40, max)) }) },
    { weight: 2, arbitrary: fc.constantFrom(...edges) },
    { weight: 2, arbitrary: fc.integer({ min, max }) },
  );
}
