// The request body given with -d, as curl and grpcurl take it: JSON text,
// `@file` to read a file, `@-` to read standard input.
import { readFileSync } from "node:fs";

/** The JSON text `-d` names: the argument itself, a file's contents (@file) or stdin (@-). */
export function readRequestText(data: string): string {
  if (data === "@-") return readFileSync(0, "utf8");
  if (data.startsWith("@")) {
    try {
      return readFileSync(data.slice(1), "utf8");
    } catch (error) {
      throw new Error(`-d ${data}: cannot read ${data.slice(1)}: ${(error as Error).message}`);
    }
  }
  return data;
}

/** Parses `text` as JSON, or throws an error that says where it came from and why it is not JSON. */
export function parseRequestJson(text: string, origin: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${origin} is not JSON: ${(error as Error).message}`);
  }
}

/** Metadata from repeated `-H "key: value"` flags, in order [META-1]. */
export function parseHeaders(headers: readonly string[]): Array<{ key: string; value: Uint8Array }> {
  const utf8 = new TextEncoder();
  return headers.map((header) => {
    const colon = header.indexOf(":");
    if (colon <= 0) throw new Error(`-H takes "key: value", got "${header}"`);
    return { key: header.slice(0, colon).trim().toLowerCase(), value: utf8.encode(header.slice(colon + 1).trim()) };
  });
}
