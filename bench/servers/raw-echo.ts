// Benchmark anchor: the least a Node server can do per call. A node:net
// echo of length-prefixed frames (4-byte big-endian size, then the bytes),
// with Nagle off and one write batch per read. See control.ts for stdin.
import * as net from "node:net";
import { serveControl } from "./control.ts";

const server = net.createServer({ noDelay: true }, (socket) => {
  let pending: Buffer | undefined;
  socket.on("data", (chunk: Buffer) => {
    let data = pending === undefined ? chunk : Buffer.concat([pending, chunk]);
    pending = undefined;
    socket.cork();
    let offset = 0;
    while (data.length - offset >= 4) {
      const end = offset + 4 + data.readUInt32BE(offset);
      if (end > data.length) break;
      socket.write(data.subarray(offset, end));
      offset = end;
    }
    socket.uncork();
    if (offset < data.length) pending = Buffer.from(data.subarray(offset));
    data = Buffer.alloc(0);
  });
  socket.on("error", () => socket.destroy());
});
server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as net.AddressInfo;
  serveControl(`127.0.0.1:${port}`, () => new Promise((resolve) => server.close(() => resolve())));
});
