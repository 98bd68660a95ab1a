// Benchmark anchor: the least a Node server can do per call. A node:net
// echo of length-prefixed frames (4-byte big-endian size, then the bytes),
// with Nagle off and one write batch per read. See control.ts for stdin.
import * as net from "node:net";
import { serveControl } from "./control.ts";
import { lengthPrefixedReader } from "./length-prefixed.ts";

const server = net.createServer({ noDelay: true }, (socket) => {
  const read = lengthPrefixedReader((frame) => socket.write(frame));
  socket.on("data", (chunk: Buffer) => {
    socket.cork();
    read(chunk);
    socket.uncork();
  });
  socket.on("error", () => socket.destroy());
});
server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as net.AddressInfo;
  serveControl(`127.0.0.1:${port}`, () => new Promise((resolve) => server.close(() => resolve())));
});
