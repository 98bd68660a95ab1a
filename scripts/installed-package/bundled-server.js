// Bundled by esbuild with the worker entry and the handler module beside it,
// then run from a directory without node_modules: a server with an isolated
// service, called by a client in the same bundle.
import { threadId } from "node:worker_threads";
import { createClient, createServer } from "strata-rpc";
import { WorkService } from "./gen/scratch/v1/work_pb.js";

const server = createServer().addIsolatedService(WorkService, new URL("./handlers.js", import.meta.url), { workers: 1 });
const address = await server.listen("127.0.0.1:0");
const client = createClient(WorkService, { address });
try {
  const answer = await client.sum({ n: 100 }, { timeoutMs: 10_000 });
  if (answer.sum !== 5050n || answer.threadId === threadId) throw new Error(`bundle: wrong answer ${answer.sum} from thread ${answer.threadId}`);
  console.log(`esbuild bundle: isolated handler in worker thread ${answer.threadId} summed to ${answer.sum}, without node_modules`);
} finally {
  await client.$close();
  await server.close({ graceMs: 1000 });
}
