// The raw WebSocket driver: one binary message per call on one `ws`
// connection, echoes matched first in, first out; no framing of its own.
import { WebSocket } from "ws";
import type { Driver } from "./driver.ts";

/** Connects to the raw WebSocket echo at `address` ("ws://host:port/"). */
export async function rawWebSocketDriver(address: string): Promise<Driver> {
  const socket = new WebSocket(address, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", reject);
  });
  const waiting: Array<() => void> = [];
  socket.on("message", () => waiting.shift()?.());
  return {
    call(payload) {
      socket.send(payload, { binary: true });
      return new Promise<void>((resolve) => waiting.push(resolve));
    },
    close: () =>
      new Promise<void>((resolve) => {
        socket.once("close", () => resolve());
        socket.close();
      }),
  };
}
