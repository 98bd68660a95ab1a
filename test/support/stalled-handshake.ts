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

/**
 * Serves a later connection with `serveLater` (connections are accepted in
 * order, so the stalled one is then the server's), closes `server` with no
 * grace, and resolves with the milliseconds until the stalled connection is cut.
 */
export async function msToCutOnClose(server: { close(options: { graceMs: number }): Promise<void> }, closed: Promise<void>, serveLater: () => Promise<void>): Promise<number> {
  await serveLater();
  const started = performance.now();
  await server.close({ graceMs: 0 });
  await closed;
  return performance.now() - started;
}
