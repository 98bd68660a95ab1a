// The greeter example as a user writes it in plain JavaScript against the
// installed package, with reflection and stats on so that `npx strata list`,
// `call`, `bench` and `stats` work against it without .proto files. Prints
// "greeter listening on ADDRESS"; SIGTERM drains it.
import { createServer, RpcError } from "strata-rpc";
import { GreeterService } from "./gen/acme/greet/v1/greeter_pb.js";

const server = createServer({ exposeReflectionService: true, exposeAdminService: true }).addService(GreeterService, {
  sayHello(request) {
    if (request.name.trim() === "") throw RpcError.application(1, "a name is required");
    return { message: `Hello, ${request.name}!` };
  },
});
const address = await server.listen("127.0.0.1:0");
server.closeOnSignals({ graceMs: 1000 });
console.log(`greeter listening on ${address}`);
