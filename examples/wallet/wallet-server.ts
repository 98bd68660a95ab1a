// createWalletServer: a Strata server offering WalletService over a fresh
// in-memory store, with its execution log, ready to listen.
import { createServer, type Server, type ServerOptions } from "../../src/node.ts";
import { ExecutionLog, type ExecutionLogOptions } from "./execution-log.ts";
import { MemoryStore } from "./store.ts";
import { createWalletService, WalletService, type WalletServiceOptions } from "./wallet.ts";

/** Options of createWalletServer. */
export interface WalletServerOptions extends WalletServiceOptions {
  /** Store latency; default 0 to 2 ms per get or put. */
  delayMs?: { min: number; max: number };
  /** Options of the execution log. */
  log?: ExecutionLogOptions;
  /** Options of the Strata server; keyed dispatch is on by default. */
  server?: ServerOptions;
}

/** A wallet server that is not listening yet, with its store and execution log. */
export interface WalletServer {
  server: Server;
  store: MemoryStore;
  log: ExecutionLog;
}

/**
 * Builds a Strata server offering WalletService over a fresh MemoryStore.
 * Call `server.listen("127.0.0.1:0")` to start it.
 */
export function createWalletServer(options: WalletServerOptions = {}): WalletServer {
  const store = new MemoryStore(options.delayMs === undefined ? {} : { delayMs: options.delayMs });
  const log = new ExecutionLog(options.log);
  const server = createServer(options.server).addService(
    WalletService,
    createWalletService(store, log, options.requireKeys === undefined ? {} : { requireKeys: options.requireKeys }),
  );
  return { server, store, log };
}
