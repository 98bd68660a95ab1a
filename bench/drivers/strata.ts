// The Strata driver: createClient over BenchService.
import { createClient } from "../../src/node.ts";
import { tcpTransport } from "../../src/transport/tcp.ts";
import { tlsTransport } from "../../src/transport/tls.ts";
import { webSocketTransport } from "../../src/transport/websocket.ts";
import { BenchService } from "../../test/gen/stratatest/v1/testing_pb.ts";
import type { Driver } from "./driver.ts";

/** Connects a Strata client to the BenchService at `address` ("host:port", "tls:host:port" trusting `ca`, or "ws://host:port/path"). */
export async function strataDriver(address: string, ca?: string): Promise<Driver> {
  const transport = address.startsWith("ws:") ? webSocketTransport() : address.startsWith("tls:") ? tlsTransport({ ...(ca === undefined ? {} : { ca }) }) : tcpTransport;
  const client = createClient(BenchService, { address, transport });
  await client.benchEcho({ payload: new Uint8Array(0) });
  return {
    // The call's own promise, as the raw drivers return theirs: no async wrapper adding its own.
    call: (payload) => client.benchEcho({ payload }),
    close: () => client.$close(),
  };
}
