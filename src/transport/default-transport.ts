// Which transport serves an address: the one its owner passed for every
// address, else one registered for the address's scheme, else the built-in
// in-memory streams. TCP and Unix sockets are registered by the package root
// for Node, Bun and Deno ("strata-rpc"), so that the core never imports a
// runtime's sockets and a bundler has nothing to guess.

import type { TransportFactory } from "./transport.ts";
import { addressScheme } from "./address.ts";
import { memoryTransport } from "./memory.ts";

/** Transports by address scheme, e.g. `{ tcp: tcpTransport, tls: tlsTransport }`; they take precedence over the built-in one. */
export type TransportsByScheme = Readonly<Record<string, TransportFactory>>;

/** How a server or client chooses the transport of each address. */
export interface TransportChoice {
  /** One transport for every address, whatever its scheme. */
  transport?: TransportFactory;
  /** Transports for the schemes they serve. */
  transports?: TransportsByScheme;
}

/**
 * The transport for `address` under `choice`; rejects with a TypeError
 * naming the scheme when nothing serves it (e.g. "tls:" without a TLS
 * transport passed in `transports`, or "tcp:" with the core alone).
 */
export function transportFor(address: string, choice: TransportChoice): Promise<TransportFactory> {
  if (choice.transport !== undefined) return Promise.resolve(choice.transport);
  let scheme: string;
  try {
    scheme = addressScheme(address);
  } catch (error) {
    return Promise.reject(error);
  }
  const registered = choice.transports !== undefined && Object.hasOwn(choice.transports, scheme) ? choice.transports[scheme] : undefined;
  if (registered !== undefined) return Promise.resolve(registered);
  if (scheme === "memory") return Promise.resolve(memoryTransport);
  const known = ["memory", ...Object.keys(choice.transports ?? {})].join(", ");
  const hint =
    scheme === "tcp" || scheme === "unix"
      ? `; import createServer and createClient from "strata-rpc" (Node, Bun, Deno), which include TCP and Unix sockets, or pass { transports: { ${scheme}: tcpTransport } } from "strata-rpc/tcp"`
      : "; pass one in the transports option";
  return Promise.reject(new TypeError(`no transport for "${scheme}:" addresses such as "${address}" (known: ${known})${hint}`));
}
