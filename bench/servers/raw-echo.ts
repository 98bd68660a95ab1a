// Benchmark anchor: the least a Node server can do per call. A node:net
// echo of length-prefixed frames (4-byte big-endian size, then the bytes),
// with Nagle off and one write batch per read; with `--tls FILE`, the same
// over node:tls. See control.ts for stdin.
import * as net from "node:net";
import * as tls from "node:tls";
import { serveControl } from "./control.ts";
import { lengthPrefixedReader } from "./length-prefixed.ts";
import { tlsOption } from "./tls-option.ts";

const secure = tlsOption();
const echo = (socket: net.Socket) => {
  const read = lengthPrefixedReader((frame) => socket.write(frame));
  socket.on("data", (chunk: Buffer) => {
    socket.cork();
    read(chunk);
    socket.uncork();
  });
  socket.on("error", () => socket.destroy());
};
const server = secure === undefined ? net.createServer({ noDelay: true }, echo) : tls.createServer({ ...secure, noDelay: true }, echo);
server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as net.AddressInfo;
  serveControl(`${secure === undefined ? "" : "tls:"}127.0.0.1:${port}`, () => new Promise((resolve) => server.close(() => resolve())));
});
