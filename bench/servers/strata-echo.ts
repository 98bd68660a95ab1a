// Benchmark server: the reference Strata server with BenchService (an echo
// of opaque bytes) on 127.0.0.1. See control.ts for its stdin commands.
import { createServer } from "../../src/index.ts";
import { tcpTransport } from "../../src/transport/tcp.ts";
import { BenchService } from "../../src/gen/strata/testing/v1/testing_pb.ts";
import { serveControl } from "./control.ts";

// The transport is named, not loaded on first use, so that a bundle (npm run bench:node-js) holds it.
const server = createServer({ transport: tcpTransport }).addService(BenchService, {
  benchEcho: (request) => ({ payload: request.payload }),
});
const address = await server.listen("127.0.0.1:0");
serveControl(address, () => server.close({ graceMs: 500 }));
