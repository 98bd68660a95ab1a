// The raw TCP driver: length-prefixed frames on one node:net socket,
// answers matched first in, first out. No ids, no headers: the floor.
import * as net from "node:net";
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
  let pending: Buffer | undefined;
  socket.on("data", (chunk: Buffer) => {
    const data = pending === undefined ? chunk : Buffer.concat([pending, chunk]);
    pending = undefined;
    let offset = 0;
    while (data.length - offset >= 4) {
      const end = offset + 4 + data.readUInt32BE(offset);
      if (end > data.length) break;
      offset = end;
      waiting.shift()?.();
    }
    if (offset < data.length) pending = Buffer.from(data.subarray(offset));
  });
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
