// The wallet example client: `npm run example:wallet:client` (server address
// from STRATA_ADDRESS, default 127.0.0.1:7401). Runs the demo of demo.ts.
import { RpcError } from "../../src/node.ts";
import { runDemo } from "./demo.ts";

try {
  const result = await runDemo(process.env["STRATA_ADDRESS"] ?? "127.0.0.1:7401");
  if (!result.ok) process.exitCode = 1;
} catch (error) {
  const e = RpcError.from(error);
  console.error(`call failed: layer=${e.layer} code=${e.code} processed=${e.processed}: ${e.rawMessage}`);
  process.exitCode = 1;
}
