// What every command that talks to a server shares: the address, the
// deadline, -v, which logs each frame and the timings to stderr, and for a
// TLS server (tls: or wss:) the CA, client certificate and name to expect.
import { readFileSync } from "node:fs";
import { checkedPem } from "../transport/pem.ts";
import { SOCKET_TRANSPORTS, tlsTransport, webSocketTransport, type ClientOptions } from "../node.ts";
import type { TransportsByScheme } from "../transport/default-transport.ts";
import { loggingTransport } from "./frame-log.ts";

/** How a command's <address> argument is described in its help. */
export const ADDRESS_HELP = 'the server: "host:port", "tls:host:port", "ws://host:port/path", "wss://host:port/path" or "unix:/path"';

/** The TLS flags, as the conformance command names them too: files of PEM, and a name. */
export interface TlsFlags {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly serverName?: string;
}

/** The address and the flags that shape the connection to it. */
export interface ConnectionFlags {
  readonly address: string;
  readonly timeoutMs: number;
  readonly verbose: boolean;
  /** Writes a line to stderr when -v is on. */
  log(line: string): void;
  /** createClient's options for these flags [PING-4]. */
  clientOptions(): ClientOptions;
}

/** The default deadline of a command's calls: long enough for a slow server, short enough to notice a dead one. */
export const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * The transports of `address` for these TLS flags: undefined when there are
 * none; else tls: and wss: trusting `ca` (instead of the public CAs),
 * presenting `cert`, expecting `serverName` [TLS-4] [TLS-5]. Throws, naming
 * the flag, for flags without a TLS address or a file that cannot be read.
 */
function tlsTransports(address: string, flags: TlsFlags): TransportsByScheme | undefined {
  const given = (["ca", "cert", "key", "serverName"] as const).filter((name) => flags[name] !== undefined);
  if (given.length === 0) return undefined;
  const flag = (name: string) => `--${name === "serverName" ? "server-name" : name}`;
  if (!/^(tls:|wss:)/.test(address)) throw new Error(`${flag(given[0]!)} is for a TLS server: give its address as tls:host:port or wss://host:port/path`);
  if ((flags.cert === undefined) !== (flags.key === undefined)) throw new Error("--cert and --key go together");
  const pem = (name: "ca" | "cert" | "key") => {
    const file = flags[name];
    if (file === undefined) return undefined;
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (error) {
      throw new Error(`${flag(name)} ${file}: ${(error as Error).message}`);
    }
    return checkedPem(`${flag(name)} ${file}`, text);
  };
  const ca = pem("ca");
  const cert = pem("cert");
  const trust = {
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined ? {} : { cert, key: pem("key")! }),
    ...(flags.serverName === undefined ? {} : { serverName: flags.serverName }),
  };
  return { ...SOCKET_TRANSPORTS, tls: tlsTransport(trust), wss: webSocketTransport({ clientTls: trust }) };
}

/** Connection flags for `address`; with `verbose`, every transport logs its frames [FRAME-1]; with TLS flags, tls: and wss: use them [TLS-4]. */
export function connectionFlags(address: string, timeoutMs: number, verbose: boolean, tls: TlsFlags = {}): ConnectionFlags {
  const log = verbose ? (line: string) => process.stderr.write(`* ${line}\n`) : () => {};
  const chosen = tlsTransports(address, tls);
  const transports = verbose
    ? Object.fromEntries(Object.entries(chosen ?? SOCKET_TRANSPORTS).map(([scheme, factory]) => [scheme, loggingTransport(factory, log)]))
    : chosen;
  return {
    address,
    timeoutMs,
    verbose,
    log,
    clientOptions: () => ({ address, timeoutMs, ...(transports === undefined ? {} : { transports }) }),
  };
}

/** The connection flags of a command from commander's parsed options (--timeout, -v, --ca, --cert, --key, --server-name) [PING-4]. */
export function connectionFlagsOf(address: string, options: Record<string, unknown>): ConnectionFlags {
  const text = (name: string) => options[name] as string | undefined;
  return connectionFlags(address, options["timeout"] as number, options["verbose"] as boolean, { ca: text("ca"), cert: text("cert"), key: text("key"), serverName: text("serverName") });
}
