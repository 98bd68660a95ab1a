// The example server: `npm run example:server` (address from STRATA_ADDRESS,
// default 127.0.0.1:7400). Ctrl-C or SIGTERM drains it gracefully.
import { createServer, RpcError } from "../../src/node.ts";
import { GreeterService } from "../gen/acme/greet/v1/greeter_pb.ts";

/** The application code for "no name given"; any non-zero number the service documents. */
const EMPTY_NAME = 1;

// Reflection and stats let `strata list`, `strata call` without .proto files and `strata stats` work against it [EXT-7] [EXT-10].
const server = createServer({ exposeReflectionService: true, exposeAdminService: true }).addService(GreeterService, {
  sayHello(request, context) {
    if (request.name.trim() === "") throw RpcError.application(EMPTY_NAME, "a name is required");
    const remaining = context.remainingMs();
    console.log(`SayHello(${JSON.stringify(request.name)}) from ${context.peer}, ${remaining === undefined ? "no deadline" : `${Math.round(remaining)} ms left`}`);
    return { message: `Hello, ${request.name}!` };
  },
});

const address = await server.listen(process.env["STRATA_ADDRESS"] ?? "127.0.0.1:7400");
server.closeOnSignals({ graceMs: 5000 });
console.log(`greeter listening on ${address}`);
