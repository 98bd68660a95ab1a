// Benchmark anchor: @grpc/grpc-js unary echo of opaque bytes (no protobuf
// on either side, the same work as BenchService). See control.ts for stdin.
import * as grpc from "@grpc/grpc-js";
import { serveControl } from "./control.ts";

/** The echo method, bytes in and out. Shared with the grpc driver. */
export const echoMethod = {
  path: "/bench.Echo/Echo",
  requestStream: false,
  responseStream: false,
  requestSerialize: (value: Buffer) => value,
  requestDeserialize: (value: Buffer) => value,
  responseSerialize: (value: Buffer) => value,
  responseDeserialize: (value: Buffer) => value,
} as const;

if (/grpc-echo\.m?[jt]s$/.test(process.argv[1] ?? "")) {
  const server = new grpc.Server();
  server.addService({ echo: echoMethod }, {
    echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => callback(null, call.request),
  });
  server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, port) => {
    if (error) throw error;
    serveControl(`127.0.0.1:${port}`, () => new Promise((resolve) => server.tryShutdown(() => resolve())));
  });
}
