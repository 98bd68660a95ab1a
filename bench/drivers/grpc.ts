// The grpc-js driver: unary calls of the bytes echo on one channel.
import * as grpc from "@grpc/grpc-js";
import { echoMethod } from "../servers/grpc-echo.ts";
import type { Driver } from "./driver.ts";

/** Connects a grpc-js client to the echo server at `address`. */
export async function grpcDriver(address: string): Promise<Driver> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  const call = (payload: Uint8Array) =>
    new Promise<void>((resolve, reject) => {
      const buffer = Buffer.from(payload.buffer, payload.byteOffset, payload.length);
      client.makeUnaryRequest(echoMethod.path, echoMethod.requestSerialize, echoMethod.responseDeserialize, buffer, (error) => {
        if (error) reject(error);
        else resolve();
      });
    });
  await call(new Uint8Array(0));
  return {
    call,
    close: async () => client.close(),
  };
}
