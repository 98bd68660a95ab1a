// What every command that talks to a server shares: the address, the
// deadline, and -v, which logs each frame and the timings to stderr.
import { SOCKET_TRANSPORTS, type ClientOptions } from "../node.ts";
import { loggingTransport } from "./frame-log.ts";

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

/** Connection flags for `address`; with `verbose`, TCP and Unix sockets log their frames [FRAME-1]. */
export function connectionFlags(address: string, timeoutMs: number, verbose: boolean): ConnectionFlags {
  const log = verbose ? (line: string) => process.stderr.write(`* ${line}\n`) : () => {};
  const transports = verbose
    ? Object.fromEntries(Object.entries(SOCKET_TRANSPORTS).map(([scheme, factory]) => [scheme, loggingTransport(factory, log)]))
    : undefined;
  return {
    address,
    timeoutMs,
    verbose,
    log,
    clientOptions: () => ({ address, timeoutMs, ...(transports === undefined ? {} : { transports }) }),
  };
}

/** The connection flags of a command from commander's parsed options (--timeout, -v) [PING-4]. */
export function connectionFlagsOf(address: string, options: Record<string, unknown>): ConnectionFlags {
  return connectionFlags(address, options["timeout"] as number, options["verbose"] as boolean);
}
