// The client's half of bearer-token authentication: the metadata entry that
// the server's bearerAuth interceptor reads.

import type { MetadataEntry } from "../wire/index.ts";

const utf8 = new TextEncoder();

/** The metadata entry `authorization: Bearer <token>`, which a server's bearerAuth verifies [META-1] [STATUS-13]. */
export function bearer(token: string): MetadataEntry {
  if (typeof token !== "string" || token.trim() === "") throw new TypeError("bearer(token): the token must be a non-empty string");
  return { key: "authorization", value: utf8.encode(`Bearer ${token}`) };
}
