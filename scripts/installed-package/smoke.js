// A server and a client in plain JavaScript, as a user writes them against
// the installed package; run by Node, Bun and Deno. Prints what it checked;
// exits 1 with the reason on the first failure.
import { threadId } from "node:worker_threads";
import { createClient, createServer, RpcError } from "strata-rpc";
import { GreeterService, WorkService } from "./gen/scratch/v1/work_pb.js";

const runtime = typeof Bun !== "undefined" ? `bun ${Bun.version}` : typeof Deno !== "undefined" ? `deno ${Deno.version.deno}` : `node ${process.version}`;
const checked = [];
function expect(condition, what) {
  if (!condition) throw new Error(`${runtime}: ${what}`);
  checked.push(what);
}

const server = createServer()
  .addService(GreeterService, {
    sayHello(request) {
      if (request.name === "") throw RpcError.application(1, "a name is required");
      return { message: `Hello, ${request.name}!` };
    },
  })
  .addIsolatedService(WorkService, new URL("./handlers.js", import.meta.url), { workers: 1 });
const address = await server.listen("127.0.0.1:0");
const greeter = createClient(GreeterService, { address });
const work = createClient(WorkService, { address });
try {
  const hello = await greeter.sayHello({ name: "scratch" }, { timeoutMs: 5000 });
  expect(hello.message === "Hello, scratch!", `unary call over TCP answered "${hello.message}"`);
  const failure = await greeter.sayHello({ name: "" }).then(() => undefined, (error) => error);
  expect(RpcError.is(failure) && failure.layer === "application" && failure.code === 1, `an application error arrives as code 1 (${failure?.message})`);
  const sum = await work.sum({ n: 1000 }, { timeoutMs: 10_000 });
  expect(sum.sum === 500500n && sum.threadId !== threadId, `isolated handler ran in worker thread ${sum.threadId} and summed to ${sum.sum}`);
} finally {
  await greeter.$close();
  await work.$close();
  await server.close({ graceMs: 1000 });
}
console.log(`${runtime}: ${checked.join("; ")}`);
