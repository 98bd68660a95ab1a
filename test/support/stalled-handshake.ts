// A TCP connection that starts a handshake (TLS, or a WebSocket upgrade) and
// never finishes it, for tests of what a closing server does with it.
import * as net from "node:net";

/** Connects to `port`, writes `start`, and resolves once connected; `closed` settles when the server cuts it. */
export async function stalledHandshake(port: number, start: Uint8Array | string): Promise<{ closed: Promise<void> }> {
  const socket = net.connect(port, "127.0.0.1");
  socket.on("error", () => {});
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  socket.write(start);
  return { closed };
}
