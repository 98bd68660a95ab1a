// WebSocket front ends that get section 18 wrong on purpose, each in one way
// an implementer could, in front of the reference server listening on
// WebSocket: text messages ignored instead of closing, upgrades accepted
// without the subprotocol, permessage-deflate accepted, any Origin
// accepted, the server's messages joined past 1 MiB, stalled upgrades left
// open, upgrades for other targets dropped unanswered, a query taken as part
// of the path, the subprotocol checked before the target, the close held back
// after the last bytes or sent without reading until its answer. Each is a ws-to-ws proxy, so the reference server
// itself stays correct.

import * as http from "node:http";
import type * as net from "node:net";
import { WebSocket, WebSocketServer, type RawData } from "ws";
import { pathOfTarget, refuseUpgrade } from "../../src/transport/websocket.ts";
import type { Mutant, WebSocketDeviation } from "./mutating-proxy.ts";

/**
 * A front end at ws://127.0.0.1:PORT/strata relaying each connection to
 * `upstream` with `deviation`; a connection whose upgrade is not done
 * `handshakeTimeoutMs` after accept is closed, unless the deviation says not [WS-6].
 */
export async function startWebSocketFront(upstream: string, deviation: WebSocketDeviation, handshakeTimeoutMs = 10_000): Promise<{ address: string; close(): Promise<void> }> {
  const web = http.createServer((_request, response) => response.writeHead(426).end());
  if (!deviation.unboundedUpgrade) {
    web.on("connection", (socket: net.Socket) => {
      const timer = setTimeout(() => {
        if (!upgraded.has(socket)) socket.destroy();
      }, handshakeTimeoutMs);
      socket.once("close", () => clearTimeout(timer));
    });
  }
  const upgraded = new WeakSet<net.Socket>();
  const front = new WebSocketServer({
    noServer: true,
    perMessageDeflate: deviation.deflate ?? false,
    maxPayload: 1024 * 1024,
    handleProtocols: (offered: Set<string>) => (offered.has("strata") || deviation.anySubprotocol ? "strata" : false),
    verifyClient: (info: { origin?: string; req: { headers: Record<string, string | string[] | undefined> } }, done: (ok: boolean, status?: number) => void) => {
      if (!offersStrata(info.req.headers) && !deviation.anySubprotocol) return done(false, 400);
      if (info.origin !== undefined && info.origin !== "" && !deviation.anyOrigin) return done(false, 403);
      done(true);
    },
  });
  web.on("upgrade", (request: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    socket.on("error", () => {});
    const target = request.url ?? "";
    const path = deviation.queryInPath ? (target.startsWith("/") ? target : undefined) : pathOfTarget(target);
    if (deviation.subprotocolBeforeTarget && !offersStrata(request.headers)) return refuseUpgrade(socket, 400, "Bad Request", "");
    if (path !== "/strata") {
      // As a listener whose URL parser threw would [WS-8].
      if (deviation.dropOtherTargets) return socket.destroy();
      return path === undefined ? refuseUpgrade(socket, 400, "Bad Request", "") : refuseUpgrade(socket, 404, "Not Found", ""); // [WS-8] [WS-9]
    }
    front.handleUpgrade(request, socket, head, (client) => front.emit("connection", client, request));
  });
  await new Promise<void>((resolve) => web.listen(0, "127.0.0.1", () => resolve()));
  front.on("connection", (client: WebSocket, request: http.IncomingMessage) => {
    upgraded.add(request.socket);
    const server = new WebSocket(upstream, ["strata"], { perMessageDeflate: false, maxPayload: 256 * 1024 * 1024 });
    const early: Array<{ data: RawData; isBinary: boolean }> = [];
    server.once("open", () => {
      for (const m of early.splice(0)) server.send(m.data, { binary: m.isBinary });
    });
    client.on("message", (data: RawData, isBinary: boolean) => {
      if (!isBinary && deviation.ignoreText) return;
      if (server.readyState === WebSocket.OPEN) server.send(data, { binary: isBinary });
      else early.push({ data, isBinary });
    });
    let joined: Buffer[] = [];
    server.on("message", (data: RawData) => {
      if (!deviation.joinMessages) return client.send(data, { binary: true });
      if (joined.push(data as Buffer) === 1) setTimeout(() => {
        const all = Buffer.concat(joined);
        joined = [];
        if (client.readyState === WebSocket.OPEN) client.send(all, { binary: true });
      }, 20);
    });
    client.on("close", (code: number) => server.close(code >= 1000 && code < 5000 && code !== 1005 && code !== 1006 ? code : 1000));
    server.on("close", (code: number) => {
      const close = () => client.close(code >= 1000 && code < 5000 && code !== 1005 && code !== 1006 ? code : 1000);
      if (deviation.closeLate) setTimeout(close, 1500);
      else close();
      // Ends TCP with the close frame instead of reading until the answer.
      if (deviation.noCloseHandshake) client.terminate();
    });
    client.on("error", () => server.terminate());
    server.on("error", () => client.terminate());
  });
  const port = (web.address() as net.AddressInfo).port;
  return {
    address: `ws://127.0.0.1:${port}/strata`,
    close: () =>
      new Promise<void>((resolve) => {
        front.close();
        web.closeAllConnections();
        web.close(() => resolve());
      }),
  };
}

/** Whether an upgrade request offers the subprotocol strata [WS-1]. */
function offersStrata(headers: http.IncomingHttpHeaders | Record<string, string | string[] | undefined>): boolean {
  return String(headers["sec-websocket-protocol"] ?? "").split(",").map((p) => p.trim()).includes("strata");
}

const mutant = (name: string, description: string, caughtBy: string[], deviation: WebSocketDeviation, uncaughtOnBun?: string): Mutant => ({
  name,
  description,
  caughtBy,
  webSocket: deviation,
  ...(uncaughtOnBun === undefined ? {} : { uncaughtOnBun }),
});

/** Mutants that break section 18; each runs over WebSocket. */
export const webSocketMutants: Mutant[] = [
  mutant("ws-text-ignored", "drops text messages instead of closing with 1003 [WS-2]", ["websocket/text-message-closes-1003"], { ignoreText: true }),
  mutant("ws-any-subprotocol", "accepts upgrades that do not request strata [WS-1]", ["websocket/subprotocol-required"], { anySubprotocol: true }),
  mutant("ws-deflate", "accepts permessage-deflate [WS-4]", ["websocket/no-compression"], { deflate: true }),
  mutant("ws-any-origin", "accepts upgrades from any Origin [WS-5]", ["websocket/foreign-origin-refused"], { anyOrigin: true }),
  mutant("ws-messages-joined", "joins the server's messages into ones larger than 1 MiB [WS-3]", ["websocket/message-sizes"], { joinMessages: true }),
  mutant("ws-close-late", "holds its close frame back 1.5 s after the last bytes, as if [FRAME-18]'s wait came first [WS-7]", ["websocket/close-follows-goaway"], { closeLate: true }),
  mutant("ws-close-unanswered", "ends TCP as soon as its close frame is out, not reading until the peer's answer [WS-7]", ["websocket/close-reads-until-answer"], { noCloseHandshake: true }, "Bun's ws client shows no TCP socket to stop reading from"),
  mutant("ws-other-target-dropped", "ends the connection of an upgrade for another path or no path (//, *) without an HTTP answer [WS-8]", ["websocket/odd-request-targets-refused"], { dropOtherTargets: true }),
  mutant("ws-query-in-path", "compares the whole request target with its path, query included, so /strata?x=1 is another path [WS-9]", ["websocket/target-path-rules"], { queryInPath: true }),
  mutant("ws-subprotocol-before-target", "checks the subprotocol before the target, answering 400, not 404, to an upgrade for another path that lacks it [WS-9]", ["websocket/target-path-rules"], { subprotocolBeforeTarget: true }),
  mutant("ws-upgrade-unbounded", "leaves a stalled upgrade to the HTTP server's own timeouts [WS-6]", ["websocket/upgrade-bounded-by-handshake-timer"], { unboundedUpgrade: true }),
];
