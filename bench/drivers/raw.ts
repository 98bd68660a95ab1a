// The raw TCP driver: length-prefixed frames on one node:net socket,
// answers matched first in, first out. No ids, no headers: the least work per call.
// Writes are batched the way Strata's TCP transport batches them (corked
// for the rest of the tick, sent at once past 4 KiB), so that with many
// calls in flight the anchor is not held back by one system call per call.
import * as net from "node:net";
import * as tls from "node:tls";
import { lengthPrefixedReader } from "../servers/length-prefixed.ts";
import type { Driver } from "./driver.ts";

/** Connects to the raw echo server at `address` ("host:port", or "tls:host:port" trusting `ca`). */
export async function rawDriver(address: string, ca?: string): Promise<Driver> {
  const secure = address.startsWith("tls:");
  const hostPort = secure ? address.slice(4) : address;
  const colon = hostPort.lastIndexOf(":");
  const target = { host: hostPort.slice(0, colon), port: Number(hostPort.slice(colon + 1)) };
  const socket = secure ? tls.connect({ ...target, ca, noDelay: true } as tls.ConnectionOptions) : net.connect({ ...target, noDelay: true });
  await new Promise<void>((resolve, reject) => {
    socket.once(secure ? "secureConnect" : "connect", resolve);
    socket.once("error", reject);
  });
  const waiting: Array<() => void> = [];
  let corked = false;
  let corkedBytes = 0;
  const uncork = () => {
    corked = false;
    corkedBytes = 0;
    socket.uncork();
  };
  socket.on("data", lengthPrefixedReader(() => waiting.shift()?.()));
  return {
    call(payload) {
      const frame = Buffer.allocUnsafe(4 + payload.length);
      frame.writeUInt32BE(payload.length, 0);
      frame.set(payload, 4);
      if (!corked) {
        corked = true;
        socket.cork();
        process.nextTick(uncork);
      }
      socket.write(frame);
      corkedBytes += frame.length;
      if (corkedBytes >= 4096) {
        corkedBytes = 0;
        socket.uncork();
        socket.cork();
      }
      return new Promise<void>((resolve) => waiting.push(resolve));
    },
    close: () => new Promise<void>((resolve) => socket.end(resolve)),
  };
}
