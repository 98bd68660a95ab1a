// The example client: `npm run example:client -- Ada` (server address from
// STRATA_ADDRESS, default 127.0.0.1:7400). Shows a call, an application
// error, and the same call as a result value instead of an exception.
import { createClient, RpcError } from "../../src/node.ts";
import { GreeterService } from "../gen/acme/greet/v1/greeter_pb.ts";

const client = createClient(GreeterService, { address: process.env["STRATA_ADDRESS"] ?? "127.0.0.1:7400", timeoutMs: 2000 });
const name = process.argv[2] ?? "Ada";

try {
  const reply = await client.sayHello({ name }, { metadata: { "trace-id": "example-1" } });
  console.log(reply.message);

  await client.sayHello({ name: "" }).catch((error: unknown) => {
    const e = RpcError.from(error);
    console.log(`expected failure: layer=${e.layer} code=${e.code} message=${JSON.stringify(e.rawMessage)} processed=${e.processed}`);
  });

  const result = await client.$result.sayHello({ name: "Grace" });
  console.log(`as a result: ok=${result.ok} dispatch=${result.dispatch?.code} application=${result.application?.code} value=${JSON.stringify(result.value?.message)}`);
} catch (error) {
  const e = RpcError.from(error);
  console.error(`call failed: layer=${e.layer} code=${e.code} processed=${e.processed}: ${e.rawMessage}`);
  process.exitCode = 1;
} finally {
  client.$close();
}
