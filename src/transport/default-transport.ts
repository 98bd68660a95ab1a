// Which transport serves an address: the one its owner passed for every
// address, else one registered for the address's scheme, else a built-in
// one — TCP and Unix sockets (loaded on first use) and in-memory streams.

import type { TransportFactory } from "./transport.ts";
import { addressScheme } from "./address.ts";
import { memoryTransport } from "./memory.ts";

/** Transports by address scheme, e.g. `{ tls: tlsTransport }`; they take precedence over the built-in ones. */
export type TransportsByScheme = Readonly<Record<string, TransportFactory>>;

/** How a server or client chooses the transport of each address. */
export interface TransportChoice {
  /** One transport for every address, whatever its scheme. */
  transport?: TransportFactory;
  /** Transports for the schemes they serve. */
  transports?: TransportsByScheme;
}

let loaded: Promise<TransportFactory> | undefined;

/**
 * Loads the TCP transport on first use. The specifier is not a literal so
 * that neither the core's type-check (which has no runtime types) nor a
 * browser bundler pulls in node:net; servers and clients that run where
 * node:net does not exist pass their own `transport` instead.
 */
export function defaultTransport(): Promise<TransportFactory> {
  if (loaded === undefined) {
    const specifier = "./tcp.ts";
    loaded = import(specifier).then((module: { tcpTransport: TransportFactory }) => module.tcpTransport);
  }
  return loaded;
}

/**
 * The transport for `address` under `choice`; rejects with a TypeError
 * naming the scheme when nothing serves it (e.g. "tls:" without a TLS
 * transport passed in `transports`).
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
  if (scheme === "tcp" || scheme === "unix") return defaultTransport();
  if (scheme === "memory") return Promise.resolve(memoryTransport);
  const known = ["tcp", "unix", "memory", ...Object.keys(choice.transports ?? {})].join(", ");
  return Promise.reject(new TypeError(`no transport for "${scheme}:" addresses such as "${address}" (known: ${known}); pass one in the transports option`));
}
