// A TypeScript consumer, type-checked with --module nodenext --strict: every
// layer's subpath resolves to declarations, and the types carry through a
// call.
import { createClient, createServer, RpcError, type HandlerContext } from "strata-rpc";
import { createServer as createCoreServer, memoryTransport } from "strata-rpc/core";
import { encodeFrame, FrameType } from "strata-rpc/wire";
import { dispatchCodeName } from "strata-rpc/status";
import { DispatchCode } from "strata-rpc";
import type { ServerOptions } from "strata-rpc/server";
import type { ClientOptions } from "strata-rpc/client";
import type { TransportFactory } from "strata-rpc/transport";
import { tcpTransport } from "strata-rpc/tcp";
import { tlsTransport, type TlsOptions } from "strata-rpc/tls";
import { GreeterService } from "./gen/scratch/v1/work_pb.js";

const options: ServerOptions = { maxConcurrentRequests: 10 };
const server = createServer(options).addService(GreeterService, {
  sayHello(request, context: HandlerContext) {
    const name: string = request.name;
    if (name === "") throw RpcError.application(1, `no name from ${context.peer}`);
    return { message: `Hello, ${name}!` };
  },
});
const transport: TransportFactory = tcpTransport;
const clientOptions: ClientOptions = { address: "127.0.0.1:7400", transport };
const client = createClient(GreeterService, clientOptions);
export async function greet(name: string): Promise<string> {
  const answer = await client.sayHello({ name }, { timeoutMs: 1000 });
  return answer.message;
}
export const frame: Uint8Array = encodeFrame({ type: FrameType.PING }, new Uint8Array(8));
export const notFound: string = dispatchCodeName(DispatchCode.UNKNOWN_SERVICE);
export const core = createCoreServer({ transports: { memory: memoryTransport } });
const tlsOptions: TlsOptions = { clientCertificate: "none", serverName: "billing.internal" };
export const tls: TransportFactory = tlsTransport(tlsOptions);
export { server };
