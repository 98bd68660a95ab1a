// One call at a time over every transport, on real sockets: no call may wait
// for the peer's delayed ACK. A socket that keeps Nagle's algorithm on holds
// the second write of a message until the first is acknowledged, which on
// Linux is about 40 ms when the peer delays its ACK: a call then takes
// 40 ms instead of well under 1 ms, for some payload sizes only (one write
// or two). Both directions, payloads from 64 B to 100 kB, one server serving
// tcp:, tls:, ws: and wss: at once. The bound is generous (a stall is 40 ms,
// a call here is under 1 ms); it catches stalls, not slowness. Runs on Node,
// Bun and Deno.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { createClient, createServer, tlsTransport, webSocketTransport, type Client, type Server, type TransportFactory } from "../src/node.ts";
import { certificatesProblem, testCertificates } from "../conformance/runner/certificates.ts";
import { TestService, testService } from "./support/test-service.ts";
import type { GenService } from "@bufbuild/protobuf/codegenv2";

const test = suite("call latency");
type TestMethods = typeof TestService extends GenService<infer M> ? M : never;

/** Sizes of the request's text and of the response's payload: one segment, several, one write or more. */
const SIZES = [64, 1000, 1500, 4096, 20_000, 100_000];
/** Sequential calls per size; the median is taken, so a slow moment of the machine does not decide. */
const CALLS = 15;
/** A delayed ACK holds a write for 40 ms on Linux; a call here takes well under 1 ms. */
const STALL_MS = 20;

/** The median time of CALLS sequential calls with `size` bytes each way, in ms. */
async function medianCallMs(client: Client<TestMethods>, size: number): Promise<number> {
  const text = "x".repeat(size);
  const times: number[] = [];
  for (let i = 0; i < CALLS; i++) {
    const started = performance.now();
    const reply = await client.echo({ text, payloadSize: size });
    times.push(performance.now() - started);
    assert.is(reply.payload.length, size);
  }
  return times.sort((a, b) => a - b)[Math.floor(CALLS / 2)]!;
}

test("sequential calls over tcp:, tls:, ws: and wss: never wait for a delayed ACK, whatever the payload size", async () => {
  const problem = certificatesProblem();
  if (problem !== undefined) console.log(`\n  SKIPPED: tls: and wss: here need ${problem}\n`);
  const certs = problem === undefined ? testCertificates() : undefined;
  const server: Server = createServer({
    transports: certs === undefined ? { ws: webSocketTransport() } : { tls: tlsTransport(certs.server), ws: webSocketTransport(), wss: webSocketTransport(certs.server) },
  }).addService(TestService, testService().impl);
  const clients: Array<{ name: string; client: Client<TestMethods> }> = [];
  try {
    const listening = ["127.0.0.1:0", "ws://127.0.0.1:0/strata", ...(certs === undefined ? [] : ["tls:127.0.0.1:0", "wss://127.0.0.1:0/strata"])];
    for (const listen of listening) {
      const address = await server.listen(listen);
      // ws: on the runtime's default client (its own WebSocket where it has one); wss: through `ws`, which takes the test CA.
      const transports: Record<string, TransportFactory> = certs === undefined ? {} : { tls: tlsTransport({ ca: certs.ca }), wss: webSocketTransport({ clientTls: { ca: certs.ca } }) };
      clients.push({ name: address.split(":")[0] === "127.0.0.1" ? "tcp" : address.split(":")[0]!, client: createClient(TestService, { address, transports, timeoutMs: 10_000 }) });
    }
    const stalls: string[] = [];
    for (const { name, client } of clients) {
      await client.echo({ text: "warm-up" });
      for (const size of SIZES) {
        const median = await medianCallMs(client, size);
        if (median >= STALL_MS) stalls.push(`${name}, ${size} B each way: ${median.toFixed(1)} ms per call (median of ${CALLS})`);
      }
    }
    assert.equal(stalls, [], "calls waited for a delayed ACK");
  } finally {
    for (const { client } of clients) client.$close();
    await server.close({ graceMs: 200 });
  }
});

test.run();
