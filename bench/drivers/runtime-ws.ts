// The runtime's own WebSocket client as a benchmark driver (Bun, Deno, and
// Node 22+ have one; Strata's client uses it there): one binary message per
// call on one connection, echoes matched first in, first out.
import type { Driver } from "./driver.ts";

/** Connects the runtime's WebSocket to the raw echo at `address` ("ws://host:port/"). */
export async function runtimeWebSocketDriver(address: string): Promise<Driver> {
  const Native = (globalThis as { WebSocket?: typeof WebSocket }).WebSocket;
  if (Native === undefined) throw new Error("this runtime has no WebSocket of its own (Node 20): use the ws driver");
  const socket = new Native(address);
  socket.binaryType = "arraybuffer";
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener("open", () => resolve(), { once: true });
    socket.addEventListener("error", () => reject(new Error(`WebSocket connection to ${address} failed`)), { once: true });
  });
  const waiting: Array<() => void> = [];
  socket.addEventListener("message", () => waiting.shift()?.());
  return {
    call(payload) {
      socket.send(payload);
      return new Promise<void>((resolve) => waiting.push(resolve));
    },
    close: () =>
      new Promise<void>((resolve) => {
        socket.addEventListener("close", () => resolve(), { once: true });
        socket.close();
      }),
  };
}
