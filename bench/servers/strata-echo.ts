// Benchmark server: the reference Strata server with BenchService (an echo
// of opaque bytes) on 127.0.0.1. See control.ts for its stdin commands.
import { createServer } from "../../src/node.ts";
import { tcpTransport } from "../../src/transport/tcp.ts";
import { tlsTransport } from "../../src/transport/tls.ts";
import { webSocketTransport } from "../../src/transport/websocket.ts";
import { BenchService } from "../../test/gen/stratatest/v1/testing_pb.ts";
import { serveControl } from "./control.ts";
import { tlsOption } from "./tls-option.ts";

// With `--tls FILE` it listens on TLS (spec section 19) instead.
const secure = tlsOption();
// The transport is named, not loaded on first use, so that a bundle (npm run bench:node-js) holds it.
// The idle-connection measurement opens 10,000 connections from one address.
const server = createServer({ ...(process.argv.includes("--websocket") ? { transports: { ws: webSocketTransport() } } : { transport: secure === undefined ? tcpTransport : tlsTransport(secure) }), maxConnectionsPerClient: 0 }).addService(BenchService, {
  benchEcho: (request) => ({ payload: request.payload }),
});
// With `--websocket` it listens on ws://127.0.0.1:PORT/strata (spec section 18) instead.
const webSocket = process.argv.includes("--websocket");
const address = await server.listen(webSocket ? "ws://127.0.0.1:0/strata" : secure === undefined ? "127.0.0.1:0" : "tls:127.0.0.1:0");
serveControl(address, () => server.close({ graceMs: 500 }));
