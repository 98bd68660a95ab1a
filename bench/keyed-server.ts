// The server process of bench/keyed.ts: the reference server with the
// conformance service on 127.0.0.1; prints its address, stops on SIGTERM.
import { createServer } from "../src/node.ts";
import { tcpTransport } from "../src/transport/tcp.ts";
import { conformanceService } from "../conformance/reference/conformance-service.ts";

const { service, impl } = conformanceService();
const server = createServer({ maxKeyQueueLength: 0, transport: tcpTransport }).addBuiltinService(service, impl);
const address = await server.listen("127.0.0.1:0");
server.closeOnSignals({ graceMs: 1000 });
process.stdout.write(`${address}\n`);
