// Raw WebSocket peers for the cases of section 18, on the ws package: what
// the server answers to an upgrade, and the messages and close code of a
// connection driven byte by byte.

import { WebSocket, type RawData } from "ws";
import type { CaseContext } from "./context.ts";

/** A raw WebSocket connection to the target: how the upgrade went, the messages, the close code. */
export interface WebSocketProbe {
  readonly socket: WebSocket;
  /** 101 when it opened, else the HTTP status the server refused with (undefined: no answer). */
  readonly status: Promise<number | undefined>;
  readonly messages: Buffer[];
  readonly closed: Promise<number>;
}

/** Opens a WebSocket to the context's `ws:` target with `protocols` (default ["strata"]) and options. */
export function probeWebSocket(ctx: CaseContext, options: { protocols?: string[]; origin?: string; perMessageDeflate?: boolean } = {}): WebSocketProbe {
  const socket = new WebSocket(ctx.address, options.protocols ?? ["strata"], {
    perMessageDeflate: options.perMessageDeflate ?? false,
    maxPayload: 256 * 1024 * 1024,
    ...(options.origin === undefined ? {} : { origin: options.origin }),
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
