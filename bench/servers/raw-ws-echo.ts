// Benchmark anchor for WebSocket: a `ws` server that echoes every binary
// message as it is, perMessageDeflate off, on ws://127.0.0.1:PORT/. The
// least a Node WebSocket server can do per call. See control.ts for stdin.
import { WebSocketServer, type RawData, type WebSocket } from "ws";
import { serveControl } from "./control.ts";

const server = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
server.on("connection", (socket: WebSocket) => {
  socket.on("message", (data: RawData) => socket.send(data, { binary: true }));
});
server.once("listening", () => {
  const { port } = server.address() as { port: number };
  serveControl(`ws://127.0.0.1:${port}/`, () => new Promise((resolve) => server.close(() => resolve())));
});
