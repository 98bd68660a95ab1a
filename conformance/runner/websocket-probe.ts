// Raw WebSocket peers for the cases of sections 18 and 19, on the ws
// package: what the server answers to an upgrade, and the messages and
// close code of a connection driven byte by byte; over wss with the suite's
// CA, expected name and client certificate.

import * as net from "node:net";
import * as tls from "node:tls";
import { WebSocket, type RawData } from "ws";
import type { KeyPair } from "./certificates.ts";
import type { CaseContext } from "./context.ts";

/** A raw WebSocket connection to the target: how the upgrade went, the messages, the close code. */
export interface WebSocketProbe {
  readonly socket: WebSocket;
  /** 101 when it opened, else the HTTP status the server refused with (undefined: no answer). */
  readonly status: Promise<number | undefined>;
  readonly messages: Buffer[];
  readonly closed: Promise<number>;
}

/**
 * The TLS options of a raw probe to a `wss:` target: the suite's trust
 * anchors and expected name, and `client` (default: the suite's client
 * certificate; `null`: none) [TLS-4] [TLS-5].
 */
function probeTls(ctx: CaseContext, client: KeyPair | null | undefined): { ca?: string; servername?: string; cert?: string; key?: string } {
  const suite = ctx.tls;
  if (!ctx.address.startsWith("wss:") || suite === undefined) return {};
  const certificate = client === null ? undefined : (client ?? suite.client);
  return { ...(suite.ca === undefined ? {} : { ca: suite.ca }), ...(suite.serverName === undefined ? {} : { servername: suite.serverName }), ...(certificate ?? {}) };
}

/**
 * Opens a WebSocket to the context's `ws:` or `wss:` target (to `url`
 * instead, when given) with `protocols` (default ["strata"]) and options;
 * over wss with the suite's TLS material, presenting `client` [WS-1].
 */
export function probeWebSocket(ctx: CaseContext, options: { protocols?: string[]; origin?: string; perMessageDeflate?: boolean; client?: KeyPair | null; url?: string } = {}): WebSocketProbe {
  const socket = new WebSocket(options.url ?? ctx.address, options.protocols ?? ["strata"], {
    perMessageDeflate: options.perMessageDeflate ?? false,
    maxPayload: 256 * 1024 * 1024,
    ...(options.origin === undefined ? {} : { origin: options.origin }),
    ...probeTls(ctx, options.client),
  });
  const messages: Buffer[] = [];
  socket.on("message", (data: RawData, isBinary: boolean) => messages.push(isBinary ? (data as Buffer) : Buffer.from(`text:${String(data)}`)));
  const status = new Promise<number | undefined>((resolve) => {
    socket.once("open", () => resolve(101));
    socket.once("unexpected-response", (_request, response) => {
      resolve(response.statusCode);
      socket.terminate();
    });
    socket.once("error", () => resolve(undefined));
  });
  const closed = new Promise<number>((resolve) => socket.once("close", (code: number) => resolve(code)));
  return { socket, status, messages, closed };
}

/**
 * Opens a TCP connection to the context's `ws:` or `wss:` target (over wss,
 * completes TLS with the suite's material), sends the first line and one
 * header of an upgrade request and nothing more, and resolves with the
 * milliseconds from the TCP connect until the server closed it, or
 * undefined when it was still open after `waitMs` [WS-6].
 */
export function stalledUpgrade(ctx: CaseContext, waitMs: number): Promise<number | undefined> {
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = rawConnection(ctx, (url) => `GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\n`);
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(undefined);
    }, waitMs);
    socket.on("error", () => {}); // a reset is a close too
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(performance.now() - started);
    });
  });
}

/** A TCP connection to the target (over wss, TLS with the suite's material) that writes `request(url)` once connected. */
function rawConnection(ctx: CaseContext, request: (url: URL) => string): net.Socket {
  const url = new URL(ctx.address);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const secure = url.protocol === "wss:";
  const port = Number(url.port || (secure ? 443 : 80));
  const socket: net.Socket = secure ? tls.connect({ host, port, ...probeTls(ctx, undefined) }, () => socket.write(request(url))) : net.connect({ host, port }, () => socket.write(request(url)));
  return socket;
}

/** What an upgrade request of upgradeWithTarget carries besides its target. */
export interface UpgradeHeaders {
  /** Whether it requests the subprotocol strata (default true) [WS-1]. */
  subprotocol?: boolean;
  /** An Origin header to send [WS-5]. */
  origin?: string;
}

/**
 * Sends a whole upgrade request with `target` as its request target, byte
 * for byte (`//`, `*`: what no WebSocket client would send), and resolves
 * with the HTTP status of the answer, or undefined when the connection ended
 * without one or none came in `waitMs` [WS-8] [WS-9].
 */
export function upgradeWithTarget(ctx: CaseContext, target: string, { subprotocol = true, origin }: UpgradeHeaders = {}, waitMs = 5000): Promise<number | undefined> {
  return new Promise((resolve) => {
    let answer = "";
    const socket = rawConnection(ctx, (url) =>
      [
        `GET ${target} HTTP/1.1`,
        `Host: ${url.host}`,
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        ...(subprotocol ? ["Sec-WebSocket-Protocol: strata"] : []),
        ...(origin === undefined ? [] : [`Origin: ${origin}`]),
        "",
        "",
      ].join("\r\n"),
    );
    const finish = (status: number | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(status);
    };
    const timer = setTimeout(() => finish(undefined), waitMs);
    socket.on("data", (chunk: Buffer) => {
      answer += chunk.toString("latin1");
      const line = /^HTTP\/1\.[01] (\d{3})/.exec(answer);
      if (line !== null) finish(Number(line[1]));
    });
    socket.on("error", () => {}); // a reset is an end too
    socket.on("close", () => finish(undefined));
  });
}
