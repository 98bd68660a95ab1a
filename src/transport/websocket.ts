// Strata over WebSocket for Node, Bun and Deno (spec section 18): listening
// on "ws://host:port/path" (and "wss://" with a certificate) with the `ws`
// package, an optional dependency loaded when a WebSocket address is first
// used; connecting as webSocketClientTransport does.

import * as http from "node:http";
import * as https from "node:https";
import type * as net from "node:net";
import * as tls from "node:tls";
import type { ListenOptions, Transport, TransportFactory, TransportListener } from "./transport.ts";
import { formatHostPort } from "./address.ts";
import { parseWebSocketAddress, webSocketClientTransport, type WebSocketClientTls } from "./websocket-client.ts";
import { MAX_WEBSOCKET_MESSAGE, WEBSOCKET_SUBPROTOCOL, WebSocketStream, type WebSocketLike } from "./websocket-stream.ts";
import { checkedPem, type Pem } from "./pem.ts";
import { checkClientCertificateMode, clientCertificateOptions, refusesClient, verifiedPeerCertificate, type ClientCertificateMode } from "./client-certificate.ts";
import { HandshakingSockets } from "./handshaking-sockets.ts";

const DEFAULT_HIGH_WATER_MARK = 1024 * 1024;
const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

/** Options of the WebSocket transport. */
export interface WebSocketOptions {
  /**
   * Origins whose pages may connect (e.g. "https://app.example"), or "*":
   * an upgrade with any other Origin is refused 403; one without an Origin
   * (not a browser) is accepted [WS-5]. None by default.
   */
  allowedOrigins?: readonly string[] | "*";
  /** A `wss:` listener's certificate and key, PEM [TLS-4]. */
  cert?: Pem;
  key?: Pem;
  /**
   * A `wss:` listener: whether clients present a certificate, "none" (the
   * default), "request" (one presented must verify) or "require", as
   * tlsTransport's option of that name [TLS-5].
   */
  clientCertificate?: ClientCertificateMode;
  /** A `wss:` listener: the trust anchors client certificates are verified against, PEM [TLS-5]. */
  clientCa?: Pem | readonly Pem[];
  /** Client side of `wss:`: a private CA or a client certificate [TLS-4] [TLS-5]. */
  clientTls?: WebSocketClientTls;
  /** Client side: headers for the upgrade request, e.g. an L7 proxy's stickiness cookie. */
  clientHeaders?: Readonly<Record<string, string>>;
}

type WsServerModule = typeof import("ws");

async function loadWs(): Promise<WsServerModule> {
  try {
    const module = (await import("ws")) as WsServerModule & { default?: WsServerModule };
    return module.WebSocketServer !== undefined ? module : module.default!;
  } catch {
    throw new Error("listening on ws: addresses needs the ws package (an optional dependency of strata-rpc): npm install ws");
  }
}

/** Refuses an upgrade with a plain HTTP answer and no WebSocket [WS-1] [WS-5] [WS-8]. */
export function refuseUpgrade(socket: net.Socket, status: number, reason: string, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
}

/**
 * The path of an HTTP request target: origin form ("/strata?x", "//") or
 * absolute form ("http://host/strata"), without its query; undefined for
 * anything else ("*", "http://["), which a peer may send and must not make
 * the listener throw [WS-8] [WS-9].
 */
export function pathOfTarget(target: string | undefined): string | undefined {
  if (target === undefined || target === "") return undefined;
  try {
    return target.startsWith("/") ? new URL(`http://x${target}`).pathname : /^https?:\/\//i.test(target) ? new URL(target).pathname : undefined;
  } catch {
    return undefined;
  }
}

/** Listens for WebSocket upgrades on the address's host, port and path [WS-1] [WS-4] [WS-5]. */
async function listen(address: string, options: ListenOptions, accept: (transport: Transport) => void, wsOptions: WebSocketOptions, clientCertificate: ClientCertificateMode): Promise<TransportListener> {
  const url = parseWebSocketAddress(address, { listening: true });
  // URL drops a port that is the scheme's default, and keeps "0" as given.
  const port = Number(url.port || (url.protocol === "wss:" ? 443 : 80));
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const path = url.pathname;
  const secure = url.protocol === "wss:";
  if (secure && (wsOptions.cert === undefined || wsOptions.key === undefined)) {
    throw new TypeError(`listening on "${address}" needs a certificate and its key: pass { transports: { wss: webSocketTransport({ cert, key }) } } [TLS-4]`);
  }
  const { WebSocketServer } = await loadWs();
  const highWaterMark = options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
  const sockets = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false, // [WS-4]
    maxPayload: MAX_WEBSOCKET_MESSAGE, // [WS-3]
    handleProtocols: (offered: Set<string>) => (offered.has(WEBSOCKET_SUBPROTOCOL) ? WEBSOCKET_SUBPROTOCOL : false),
  });
  const answerPlainHttp = (_request: http.IncomingMessage, response: http.ServerResponse) => {
    response.writeHead(426, { "Content-Type": "text/plain", Upgrade: "websocket", Connection: "close" });
    response.end(`This port speaks Strata RPC over WebSocket (subprotocol ${WEBSOCKET_SUBPROTOCOL}) at ${path}\n`);
  };
  const handshakeTimeoutMs = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  const server = secure
    ? https.createServer(
        {
          cert: wsOptions.cert as string,
          key: wsOptions.key as string,
          ...(wsOptions.clientCa === undefined ? {} : { ca: wsOptions.clientCa as string | string[] }),
          ...clientCertificateOptions(clientCertificate),
          minVersion: "TLSv1.2", // [TLS-2]
          handshakeTimeout: handshakeTimeoutMs, // [TLS-7]
        },
        answerPlainHttp,
      )
    : http.createServer(answerPlainHttp);
  // A handshake that fails or times out ends its TCP connection at once, not left to the WS-6 timer [TLS-7].
  if (secure) server.on("tlsClientError", (_error: Error, socket: net.Socket) => socket.destroy());
  if (secure && clientCertificate !== "none") {
    // Bun's node:https is not built on node:tls: its sockets show neither the certificate to check nor the identity [TLS-6].
    if (!(server instanceof tls.Server)) {
      throw new TypeError(`listening on "${address}" with clientCertificate "${clientCertificate}" needs an HTTPS server built on node:tls, which shows the client's certificate (Node, Deno); this runtime's is not: listen on a tls: address to authenticate clients [TLS-5] [TLS-6]`);
    }
    // Before HTTP reads a byte of it: a client refused for its certificate gets no answer at all [TLS-5].
    server.prependListener("secureConnection", (socket: tls.TLSSocket) => {
      if (refusesClient(socket, clientCertificate)) socket.destroy();
    });
  }
  // Slow upgrade requests are bounded like any handshake [PREFACE-6] [TLS-7].
  server.headersTimeout = handshakeTimeoutMs;
  server.requestTimeout = handshakeTimeoutMs;
  // Node looks at those two only every 30 s, and not every runtime at all: each TCP connection gets a
  // timer of its own from accept, cleared once its upgrade is done [WS-6].
  const upgrading = new HandshakingSockets(handshakeTimeoutMs);
  server.on("connection", (socket: net.Socket) => upgrading.add(socket));
  const upgraded = (socket: net.Socket) => upgrading.done(socket);
  server.on("upgrade", (request: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    socket.on("error", () => socket.destroy());
    const requestPath = pathOfTarget(request.url);
    if (requestPath === undefined) return refuseUpgrade(socket, 400, "Bad Request", "the request target is not a path or an absolute URL\n");
    if (requestPath !== path) return refuseUpgrade(socket, 404, "Not Found", `no Strata WebSocket at ${requestPath}; it is at ${path}\n`);
    const offered = String(request.headers["sec-websocket-protocol"] ?? "").split(",").map((p) => p.trim());
    if (!offered.includes(WEBSOCKET_SUBPROTOCOL)) return refuseUpgrade(socket, 400, "Bad Request", `request the WebSocket subprotocol "${WEBSOCKET_SUBPROTOCOL}" [WS-1]\n`);
    const origin = request.headers.origin;
    const allowed = wsOptions.allowedOrigins;
    if (origin !== undefined && allowed !== "*" && !(allowed ?? []).includes(origin)) return refuseUpgrade(socket, 403, "Forbidden", `origin ${origin} is not allowed [WS-5]\n`);
    sockets.handleUpgrade(request, socket, head, (ws) => {
      const remote = request.socket;
      // A listener that asks for no certificate has none verified (and Bun's sockets could not tell) [TLS-6].
      const peerCertificate = secure && clientCertificate !== "none" ? verifiedPeerCertificate(remote as tls.TLSSocket) : undefined;
      const info = {
        peer: formatHostPort(remote.remoteAddress ?? "unknown", remote.remotePort ?? 0),
        ...(remote.remoteAddress !== undefined ? { remoteAddress: remote.remoteAddress } : {}),
        secure,
        protocol: WEBSOCKET_SUBPROTOCOL,
        ...(peerCertificate !== undefined ? { peerCertificate } : {}),
        ...(request.headers.cookie !== undefined ? { cookie: request.headers.cookie } : {}),
      };
      remote.setNoDelay(true);
      // From here the server's own handshake timer bounds the preface and HELLO [PREFACE-6].
      upgraded(remote);
      accept(new WebSocketStream(ws as unknown as WebSocketLike, info, highWaterMark));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port, backlog: options.backlog ?? 511 }, () => {
      server.removeListener("error", reject);
      resolve();
    });
  });
  const bound = server.address() as net.AddressInfo;
  return {
    address: `${url.protocol}//${formatHostPort(bound.address, bound.port)}${path}`,
    close: () =>
      new Promise<void>((done) => {
        sockets.close();
        server.close(() => done());
        // Upgrades still in progress would hold the close up until their timers fire.
        upgrading.destroyAll();
      }),
  };
}

/**
 * WebSocket addresses, "ws://host:port/path" and "wss://…", both ways: it
 * listens with the `ws` package on Node, Bun and Deno (with `cert` and
 * `key` for wss:), and connects as webSocketClientTransport [WS-1] [WS-5].
 */
export function webSocketTransport(options: WebSocketOptions = {}): TransportFactory {
  const clientCertificate = checkClientCertificateMode("webSocketTransport", options.clientCertificate, options.clientCa, "clientCa");
  checkedPem("webSocketTransport: cert", options.cert);
  checkedPem("webSocketTransport: key", options.key);
  for (const [i, ca] of (Array.isArray(options.clientCa) ? options.clientCa : [options.clientCa]).entries()) checkedPem(`webSocketTransport: clientCa${Array.isArray(options.clientCa) ? `[${i}]` : ""}`, ca as Pem | undefined);
  const tls = options.clientTls;
  if (tls !== undefined) {
    for (const [i, ca] of (Array.isArray(tls.ca) ? tls.ca : [tls.ca]).entries()) checkedPem(`webSocketTransport: clientTls.ca${Array.isArray(tls.ca) ? `[${i}]` : ""}`, ca as Pem | undefined);
    checkedPem("webSocketTransport: clientTls.cert", tls.cert);
    checkedPem("webSocketTransport: clientTls.key", tls.key);
  }
  const client = webSocketClientTransport({
    ...(options.clientTls === undefined ? {} : { tls: options.clientTls }),
    ...(options.clientHeaders === undefined ? {} : { headers: options.clientHeaders }),
  });
  return {
    connect: (address, connectOptions) => client.connect(address, connectOptions),
    listen: (address, listenOptions, accept) => listen(address, listenOptions, accept, options, clientCertificate),
  };
}
