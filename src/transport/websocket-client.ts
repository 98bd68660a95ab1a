// Connecting to "ws://host:port/path" and "wss://host:port/path" (spec
// section 18) from any runtime: the runtime's own WebSocket where there is
// one that does not stall (browsers, Bun, Node 22+), else the `ws` package
// (Node 20, Deno), loaded only then. Runtime-neutral: a browser bundle holds this file.

import type { ConnectOptions, Transport, TransportFactory } from "./transport.ts";
import { setTimer } from "../util/timer.ts";
import { MAX_WEBSOCKET_MESSAGE, WEBSOCKET_SUBPROTOCOL, WebSocketStream, type WebSocketLike } from "./websocket-stream.ts";

const DEFAULT_HIGH_WATER_MARK = 1024 * 1024;

/** TLS options of a `wss:` client that does not trust the runtime's CAs alone; they need the `ws` package (Node, Bun, Deno). */
export interface WebSocketClientTls {
  /** Trust anchors for the server's certificate, PEM [TLS-4]. */
  ca?: string | Uint8Array;
  /** A client certificate and its key, PEM [TLS-5]. */
  cert?: string | Uint8Array;
  key?: string | Uint8Array;
  /** The name the server's certificate must carry, and the SNI sent, when it is not the address's host [TLS-4]. */
  serverName?: string;
}

/** Options of the WebSocket client transport. */
export interface WebSocketClientOptions {
  /** For `wss:` with a private CA or a client certificate: connects through `ws`, which can take them. */
  tls?: WebSocketClientTls;
  /**
   * Headers for the upgrade request, e.g. a proxy's stickiness cookie;
   * connects through `ws` (a browser sends its cookies itself, and cannot
   * set headers).
   */
  headers?: Readonly<Record<string, string>>;
}

/** Parses "ws://host:port/path" or "wss://…" (port 0 only to listen on); throws a TypeError naming the problem. */
export function parseWebSocketAddress(address: string, { listening = false } = {}): URL {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new TypeError(`invalid address "${address}": expected ws://host:port/path or wss://host:port/path`);
  }
  if (url.protocol !== "ws:" && url.protocol !== "wss:") throw new TypeError(`invalid address "${address}": expected ws:// or wss://`);
  if (url.hostname === "") throw new TypeError(`invalid address "${address}": no host`);
  if (!listening && /^wss?:\/\/[^/]*:0(\/|$)/.test(address)) throw new TypeError(`invalid address "${address}": port 0 can be listened on, not connected to`);
  return url;
}

type WsModule = { WebSocket: new (url: string, protocols: string[], options: object) => WebSocketLike };

async function loadWs(): Promise<WsModule> {
  try {
    // Never reached in a browser, which has WebSocket; a browser bundle gets ws's browser stub here.
    const module = (await import("ws")) as unknown as WsModule & { default?: WsModule };
    return module.WebSocket !== undefined ? module : module.default!;
  } catch {
    throw new Error('ws: addresses on this runtime need the ws package (an optional dependency of strata-rpc): npm install ws');
  }
}

/**
 * The runtime's own WebSocket, unless it stalls calls: Deno's keeps Nagle's
 * algorithm on (and offers no way to turn it off), so a message written in two
 * parts waits for the server's delayed ACK, about 40 ms per call; `ws` over
 * Deno's node:net sets TCP_NODELAY.
 */
function nativeWebSocket(): (new (url: string, protocols: string[]) => WebSocketLike) | undefined {
  const g = globalThis as { WebSocket?: new (url: string, protocols: string[]) => WebSocketLike; Deno?: unknown };
  return g.Deno === undefined ? g.WebSocket : undefined;
}

/** Opens a WebSocket requesting subprotocol strata and checks the server chose it [WS-1]. */
async function connect(address: string, options: ConnectOptions, clientOptions: WebSocketClientOptions): Promise<Transport> {
  const url = parseWebSocketAddress(address);
  const Native = nativeWebSocket();
  let socket: WebSocketLike;
  if (Native !== undefined && clientOptions.tls === undefined && clientOptions.headers === undefined) {
    // Bun's offers permessage-deflate unless told not to; a browser's always does, and the server refuses it [WS-4].
    socket = typeof (globalThis as { Bun?: unknown }).Bun === "object"
      ? new (Native as unknown as new (url: string, options: object) => WebSocketLike)(url.href, { protocols: [WEBSOCKET_SUBPROTOCOL], perMessageDeflate: false })
      : new Native(url.href, [WEBSOCKET_SUBPROTOCOL]);
  } else {
    const { WebSocket } = await loadWs();
    const { serverName, ...trust } = clientOptions.tls ?? {};
    socket = new WebSocket(url.href, [WEBSOCKET_SUBPROTOCOL], {
      perMessageDeflate: false,
      maxPayload: MAX_WEBSOCKET_MESSAGE,
      ...trust,
      ...(serverName === undefined ? {} : { servername: serverName }),
      ...(clientOptions.headers === undefined ? {} : { headers: clientOptions.headers }),
    });
  }
  const info = { peer: url.host, secure: url.protocol === "wss:", protocol: WEBSOCKET_SUBPROTOCOL };
  return new Promise<Transport>((resolve, reject) => {
    let settled = false;
    const timer = options.timeoutMs === undefined ? undefined : setTimer(() => fail(new Error(`connecting to ${address} timed out after ${options.timeoutMs} ms`)), options.timeoutMs);
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      timer?.clear();
      try {
        socket.close();
      } catch {
        // never opened
      }
      reject(error);
    };
    socket.addEventListener("open" as "error", () => {
      if (settled) return;
      if (socket.protocol !== WEBSOCKET_SUBPROTOCOL) return fail(new Error(`${address} did not select the WebSocket subprotocol "${WEBSOCKET_SUBPROTOCOL}" (selected "${socket.protocol}") [WS-1]`));
      const extensions = (socket as { extensions?: string }).extensions;
      if (extensions !== undefined && extensions !== "") return fail(new Error(`${address} accepted the WebSocket extensions "${extensions}": a Strata server accepts none [WS-4]`));
      settled = true;
      timer?.clear();
      // Made in the open event itself: messages that follow in the same turn find its listeners [WS-2].
      resolve(new WebSocketStream(socket, info, options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK));
    });
    socket.addEventListener("error", (event) => fail(new Error(`WebSocket connection to ${address} failed${(event as { message?: string }).message ? `: ${(event as { message?: string }).message}` : ""}`)));
    socket.addEventListener("close", ({ code }) => fail(new Error(`WebSocket connection to ${address} closed with code ${code} before it opened`)));
  });
}

/** A transport that connects to `ws:` and `wss:` addresses [WS-1]; it cannot listen (use webSocketTransport from strata-rpc on Node, Bun or Deno). */
export function webSocketClientTransport(clientOptions: WebSocketClientOptions = {}): TransportFactory {
  return {
    connect: (address, options = {}) => connect(address, options, clientOptions),
    listen: (address) => Promise.reject(new TypeError(`this WebSocket transport only connects; to listen on "${address}" use webSocketTransport from "strata-rpc" (Node, Bun, Deno)`)),
  };
}
