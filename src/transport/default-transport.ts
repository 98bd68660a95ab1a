import type { TransportFactory } from "./transport.ts";

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
