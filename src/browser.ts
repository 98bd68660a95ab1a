// strata-rpc for web pages (spec section 18): the runtime-neutral core with
// WebSocket clients for "ws://" and "wss://" addresses, the browser's own
// WebSocket underneath. No Node built-ins: `npm run build:browser` bundles
// it to dist/browser/strata-rpc.js.

import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import { createClient as createCoreClient, type Client, type ClientOptions } from "./client/client.ts";
import { webSocketClientTransport } from "./transport/websocket-client.ts";

export * from "./index.ts";

const webSocket = webSocketClientTransport();

/** A client for `ws://` and `wss://` addresses from a web page, on the browser's WebSocket [WS-1]. */
export function createClient<S extends GenServiceMethods>(service: GenService<S>, options: ClientOptions): Client<S> {
  return createCoreClient(service, { ...options, transports: { ws: webSocket, wss: webSocket, ...options.transports } });
}
