// Certificates and keys are given as PEM text: a check that what was given
// is some, so that a path or a DER file fails at once with its name rather
// than at listen or connect with an OpenSSL code (spec section 19).

import { isBytes } from "../wire/is-bytes.ts";

/** PEM text or its bytes. */
export type Pem = string | Uint8Array;

/**
 * Returns `value` unchanged when it holds a PEM block; a TypeError naming
 * `what` (e.g. "tlsTransport: cert") otherwise: a path, or DER bytes [TLS-4] [TLS-5].
 */
export function checkedPem<T extends Pem | undefined>(what: string, value: T): T {
  if (value === undefined) return value;
  if (typeof value !== "string" && !isBytes(value)) throw new TypeError(`${what} must be PEM text or its bytes, not ${value === null ? "null" : typeof value}`);
  const text = typeof value === "string" ? value : new TextDecoder("latin1").decode(value.subarray(0, 64 * 1024));
  if (text.includes("-----BEGIN ")) return value;
  // One line of no great length reads as a path given in place of the file's contents.
  if (typeof value === "string" && !value.includes("\n") && value.length < 4096) {
    throw new TypeError(`${what} is not PEM text (no -----BEGIN line): give the file's contents (e.g. readFileSync(${JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value)})), not its path`);
  }
  throw new TypeError(`${what} holds no PEM block (no -----BEGIN line): a PEM file's contents are needed`);
}
