// The raw TCP driver: length-prefixed frames on one node:net socket,
// answers matched first in, first out. No ids, no headers: the floor.
import * as net from "node:net";
import { lengthPrefixedReader } from "../servers/length-prefixed.ts";
import type { Driver } from "./driver.ts";

/** Connects to the raw echo server at `address` ("host:port"). */
export async function rawDriver(address: string): Promise<Driver> {
  const colon = address.lastIndexOf(":");
  const socket = net.connect({ host: address.slice(0, colon), port: Number(address.slice(colon + 1)), noDelay: true });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  const waiting: Array<() => void> = [];
  socket.on("data", lengthPrefixedReader(() => waiting.shift()?.()));
  return {
    call(payload) {
      const frame = Buffer.allocUnsafe(4 + payload.length);
      frame.writeUInt32BE(payload.length, 0);
      frame.set(payload, 4);
      socket.write(frame);
      return new Promise<void>((resolve) => waiting.push(resolve));
    },
    close: () => new Promise<void>((resolve) => socket.end(resolve)),
  };
}
