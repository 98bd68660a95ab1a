/**
 * Frame size limits a receiver enforces: what it declared in its HELLO
 * [LIMIT-2] [LIMIT-3].
 */
export interface FrameLimits {
  /** Largest header size accepted, in bytes [LIMIT-2]. */
  readonly maxHeaderSize: number;
  /** Largest body size accepted, in bytes, also after decompression [LIMIT-3]. */
  readonly maxBodySize: number;
}

/**
 * The limits every receiver accepts, and that bound every frame sent before
 * the peer's HELLO has arrived. Implements [LIMIT-1].
 */
export const BASELINE_LIMITS: FrameLimits = Object.freeze({
  maxHeaderSize: 4096,
  maxBodySize: 65536,
});

/** The limits a zero field in a HELLO stands for [HELLO-6]. */
export const DEFAULT_LIMITS: FrameLimits = Object.freeze({
  maxHeaderSize: 16384,
  maxBodySize: 4 * 1024 * 1024,
});

/** The largest request id, so that ids stay exact as IEEE doubles [ID-4]. */
export const MAX_REQUEST_ID = Number.MAX_SAFE_INTEGER;

/** The largest PING payload, in bytes [PING-1]. */
export const MAX_PING_PAYLOAD = 64;

/**
 * Resolves one declared limit: zero means the default, a value below the
 * baseline counts as the baseline. Implements [HELLO-6].
 */
export function resolveLimit(declared: number, baseline: number, fallback: number): number {
  if (declared === 0) return fallback;
  return declared < baseline ? baseline : declared;
}

/** Resolves the limits a peer declared in its HELLO [HELLO-6]. */
export function resolveFrameLimits(declared: { maxHeaderSize: number; maxBodySize: number }): FrameLimits {
  return {
    maxHeaderSize: resolveLimit(declared.maxHeaderSize, BASELINE_LIMITS.maxHeaderSize, DEFAULT_LIMITS.maxHeaderSize),
    maxBodySize: resolveLimit(declared.maxBodySize, BASELINE_LIMITS.maxBodySize, DEFAULT_LIMITS.maxBodySize),
  };
}

/**
 * The limits to declare and enforce: the defaults, the configured values,
 * then the HELLO-6 reading (0 = default, below the baseline = the baseline),
 * so that what is enforced is what a peer reads from the HELLO [HELLO-6].
 */
export function checkedLimits(configured: Partial<FrameLimits> | undefined): FrameLimits {
  const merged = { ...DEFAULT_LIMITS, ...configured };
  for (const [name, value] of Object.entries(merged)) {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
      throw new RangeError(`limits.${name} must be an integer from 0 to 4294967295, got ${value}`);
    }
  }
  return resolveFrameLimits(merged);
}
