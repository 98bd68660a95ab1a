// Which transport serves an address: the one its owner passed for every
// address, else one registered for the address's scheme, else the built-in
// in-memory streams. TCP and Unix sockets are registered by the package root
// for Node, Bun and Deno ("strata-rpc"), so that the core never imports a
// runtime's sockets and a bundler has nothing to guess.

import type { TransportFactory } from "./transport.ts";
import { addressScheme, parseSocketAddress, parseTlsAddress } from "./address.ts";
import { memoryTransport } from "./memory.ts";
import { parseWebSocketAddress } from "./websocket-client.ts";

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
 * The transport for `address` under `choice`, chosen at once; throws a
 * TypeError naming the scheme when nothing serves it (e.g. "tls:" without a
 * TLS transport passed in `transports`, or "tcp:" with the core alone).
 */
export function transportForNow(address: string, choice: TransportChoice): TransportFactory {
  if (choice.transport !== undefined) return choice.transport;
  const scheme = addressScheme(address);
  const registered = choice.transports !== undefined && Object.hasOwn(choice.transports, scheme) ? choice.transports[scheme] : undefined;
  if (registered !== undefined) return registered;
  if (scheme === "memory") return memoryTransport;
  const known = ["memory", ...Object.keys(choice.transports ?? {})].join(", ");
  // A web page has no sockets of its own to offer: the Node hint would mislead there.
  const inPage = typeof (globalThis as { document?: unknown }).document === "object" && typeof (globalThis as { process?: unknown }).process === "undefined";
  const hint =
    (scheme === "tcp" || scheme === "unix") && inPage
      ? "; a web page reaches a Strata server only through ws:// and wss:// addresses [WS-1]"
      : scheme === "tcp" || scheme === "unix"
      ? `; import createServer and createClient from "strata-rpc" (Node, Bun, Deno), which include TCP and Unix sockets, or pass { transports: { ${scheme}: tcpTransport } } from "strata-rpc/tcp"`
      : `; pass one in the transports option${/^[a-z][a-z0-9+.-]*:[^/]*$/.test(address) ? ", or, for TCP, write host:port with a numeric port" : ""}`;
  throw new TypeError(`no transport for "${scheme}:" addresses such as "${address}" (known: ${known})${hint}`);
}

/** transportForNow as a promise: rejects instead of throwing. */
export function transportFor(address: string, choice: TransportChoice): Promise<TransportFactory> {
  try {
    return Promise.resolve(transportForNow(address, choice));
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * The transport a client connects to `address` with, after checking what
 * can be checked before connecting: the scheme has a transport, and a TCP,
 * TLS or Unix address is well formed, with a port from 1 to 65535 (a port of 0
 * can be listened on, not connected to). Throws a TypeError naming the
 * problem. With `choice.transport` (one transport for every address), that
 * transport owns the address's syntax and only emptiness is checked.
 */
export function clientTransportFor(address: string, choice: TransportChoice): TransportFactory {
  if (typeof address !== "string" || address === "") throw new TypeError(`invalid address ${JSON.stringify(address)}: empty`);
  const factory = transportForNow(address, choice);
  if (choice.transport !== undefined) return factory;
  const scheme = addressScheme(address);
  if (scheme === "ws" || scheme === "wss") parseWebSocketAddress(address);
  if (scheme === "tcp" || scheme === "unix" || scheme === "tls") {
    const parsed = scheme === "tls" ? parseTlsAddress(address) : parseSocketAddress(address);
    if ("port" in parsed && parsed.port === 0) throw new TypeError(`invalid address "${address}": port 0 can be listened on, not connected to`);
  }
  return factory;
}
