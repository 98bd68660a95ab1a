// Benchmark anchor for WebSocket on Deno: Deno's own server (Deno.serve and
// Deno.upgradeWebSocket) echoing every binary message as it is, on
// ws://127.0.0.1:PORT/ (Deno's server negotiates no extension). The
// counterpart of raw-ws-echo.ts (the `ws` package), to tell which serves
// better on Deno. See control.ts for stdin.
import { serveControl } from "./control.ts";

/** What this file uses of Deno's server API; Deno's types are not installed. */
interface DenoServerApi {
  serve(options: { hostname: string; port: number; onListen(address: { port: number }): void }, handler: (request: Request) => Response): { shutdown(): Promise<void> };
  upgradeWebSocket(request: Request): { socket: WebSocket; response: Response };
}

const deno = (globalThis as { Deno?: DenoServerApi }).Deno;
if (deno === undefined) throw new Error("deno-ws-echo.ts runs on Deno only");
const server = deno.serve(
  {
    hostname: "127.0.0.1",
    port: 0,
    onListen: ({ port }) => serveControl(`ws://127.0.0.1:${port}/`, () => server.shutdown()),
  },
  (request) => {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") return new Response("WebSocket only", { status: 426 });
    const { socket, response } = deno.upgradeWebSocket(request);
    socket.binaryType = "arraybuffer";
    socket.onmessage = (event) => socket.send(event.data as ArrayBuffer);
    return response;
  },
);
