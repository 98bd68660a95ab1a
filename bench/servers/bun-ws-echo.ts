// Benchmark anchor for WebSocket on Bun: Bun's own server (Bun.serve with
// websocket handlers) echoing every binary message as it is, no
// per-message deflate, on ws://127.0.0.1:PORT/. The counterpart of
// raw-ws-echo.ts (the `ws` package), to tell which serves better on Bun.
// See control.ts for stdin.
import { serveControl } from "./control.ts";

/** What this file uses of Bun's server API; Bun's types are not installed. */
interface BunServerApi {
  serve(options: {
    hostname: string;
    port: number;
    fetch(request: Request, server: { upgrade(request: Request): boolean }): Response | undefined;
    websocket: { perMessageDeflate: boolean; message(socket: { send(data: string | Uint8Array): number }, data: string | Uint8Array): void };
  }): { port: number; stop(closeActive?: boolean): Promise<void> };
}

const bun = (globalThis as { Bun?: BunServerApi }).Bun;
if (bun === undefined) throw new Error("bun-ws-echo.ts runs on Bun only");
const server = bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch: (request, upgrading) => (upgrading.upgrade(request) ? undefined : new Response("WebSocket only", { status: 426 })),
  websocket: { perMessageDeflate: false, message: (socket, data) => void socket.send(data) },
});
serveControl(`ws://127.0.0.1:${server.port}/`, () => server.stop(true));
