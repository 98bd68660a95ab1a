// Dead peers under load, over real sockets: a half-open connection found by
// heartbeats alone, and a server process killed with SIGKILL and restarted
// on the same port. Cites [PING-5] [STATUS-12] [HELLO-3] [STATUS-3].
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { createClient, createServer, RpcError, TransportCode, type Client } from "../src/node.ts";
import type { GenService } from "@bufbuild/protobuf/codegenv2";
import { exited, hasExited, lineReader, spawnTs, type LineReader, type TsChild } from "./support/spawn-runtime.ts";
import { startTcpProxy } from "./support/tcp-proxy.ts";
import { TestService, testService } from "./support/test-service.ts";

const test = suite("crash recovery");
type TestMethods = typeof TestService extends GenService<infer M> ? M : never;

const serverScript = new URL("./support/server-process.ts", import.meta.url).pathname;

/** How a call ended, and when (performance.now()). */
interface Outcome {
  ok: boolean;
  error?: RpcError;
  at: number;
}

async function outcome(promise: Promise<unknown>): Promise<Outcome> {
  try {
    await promise;
    return { ok: true, at: performance.now() };
  } catch (error) {
    assert.ok(RpcError.is(error), `expected an RpcError, got ${String(error)}`);
    return { ok: false, error: error as RpcError, at: performance.now() };
  }
}

/** Waits for `check` to hold, polling; throws naming `what` after `timeoutMs`. */
async function waitUntil(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function describe(error: RpcError | undefined): string {
  return error === undefined ? "success" : `${error.layer} ${error.code} (processed ${error.processed}): ${error.rawMessage}`;
}

test("[PING-5] [STATUS-12] half-open connection: pending calls fail within 2x the ping interval", async () => {
  const PING_MS = 200;
  const CALLS = 20;
  const { impl, log } = testService();
  // The server lets the client ping every 200 ms ([PING-8] would raise the interval to 1 s otherwise).
  const server = createServer({ minPingIntervalMs: 50 }).addService(TestService, impl);
  const proxy = await startTcpProxy(await server.listen("127.0.0.1:0"));
  const client = createClient(TestService, { address: proxy.address, pingIntervalMs: PING_MS, timeoutMs: 10_000 });
  try {
    assert.is((await client.echo({ text: "warm-up" })).text, "warm-up");
    const calls = Array.from({ length: CALLS }, (_, i) => outcome(client.echo({ text: `pending ${i}`, delayMs: 5000 })));
    // Every request reached the server's handler: they are pending, not queued in the client.
    await waitUntil(() => log.echoed.length === CALLS + 1, 3000, "the server starts every call");

    const blackholedAt = performance.now();
    proxy.blackhole();
    const results = await Promise.all(calls);
    const slowest = Math.max(...results.map((r) => r.at)) - blackholedAt;

    for (const [i, result] of results.entries()) {
      const error = result.error;
      assert.ok(error !== undefined, `call ${i} succeeded through a dead path`);
      assert.is(error.layer, "transport", `call ${i}: ${describe(error)}`);
      assert.is(error.code, TransportCode.CONNECTION_LOST, `call ${i}: ${describe(error)}`);
      // The request was written and may have run: only "maybe" is honest [STATUS-3].
      assert.is(error.processed, "maybe", `call ${i}: ${describe(error)}`);
      // Found by the heartbeat, not by an EOF the proxy let through.
      assert.ok(error.rawMessage.includes("[PING-5]"), `call ${i}: ${describe(error)}`);
    }
    // At most one interval until the PING, one waiting for any byte after it [PING-5];
    // the slack covers the heartbeat's tick granularity and a loaded machine.
    assert.ok(slowest < 2 * PING_MS + 1000, `the last call failed ${slowest.toFixed(0)} ms after the path died`);
    assert.is(proxy.accepted, 1, "one connection carried every call");
  } finally {
    client.$close();
    await proxy.close(); // the server's side sees its socket close only now
    await server.close({ graceMs: 200 });
  }
});

test("[HELLO-3] [STATUS-3] server killed with SIGKILL under load: calls fail fast, and the first call after restart succeeds", async () => {
  const PING_MS = 500;
  const TIMEOUT_MS = 5000;
  const LONG_CALLS = 40;
  const WORKERS = 8;
  const children: TsChild[] = [];
  let client: Client<TestMethods> | undefined;

  /** Starts server-process.ts on `address`; resolves with the child, its stdout lines and the address it bound. */
  const startServer = async (address: string): Promise<{ child: TsChild; lines: LineReader; bound: string }> => {
    const child = spawnTs(serverScript, [address]);
    children.push(child);
    const lines = lineReader(child);
    return { child, lines, bound: await lines.next(20_000) };
  };

  try {
    const first = await startServer("127.0.0.1:0");
    const port = Number(first.bound.slice(first.bound.lastIndexOf(":") + 1));
    assert.ok(port > 0, `bound address ${first.bound}`);
    const c = createClient(TestService, { address: `127.0.0.1:${port}`, pingIntervalMs: PING_MS, timeoutMs: TIMEOUT_MS });
    client = c;
    assert.is((await c.echo({ text: "warm-up" })).text, "warm-up");

    // Load: long calls that will be pending at the kill, and workers issuing short calls back to back.
    let killed = false;
    let completed = 0;
    const long = Array.from({ length: LONG_CALLS }, (_, i) => outcome(c.echo({ text: `long ${i}`, delayMs: 2000 + 50 * i })));
    const workers = Array.from({ length: WORKERS }, async (_, w) => {
      const failures: Outcome[] = [];
      while (!killed) {
        const result = await outcome(c.echo({ text: `worker ${w}`, delayMs: 5 }));
        if (!result.ok) {
          failures.push(result);
          break;
        }
        completed++;
      }
      return failures;
    });
    // The server has read every long request once a call written after them is answered
    // (one connection, read in order); the workers are running once some calls completed.
    assert.is((await c.echo({ text: "after the long calls" })).text, "after the long calls");
    await waitUntil(() => completed >= 10 * WORKERS, 5000, "the workers complete calls");

    killed = true;
    const killedAt = performance.now();
    assert.ok(first.child.kill("SIGKILL"), "SIGKILL delivered");
    const longResults = await Promise.all(long);
    const workerFailures = (await Promise.all(workers)).flat();

    for (const [i, result] of longResults.entries()) {
      const error = result.error;
      assert.ok(error !== undefined, `long call ${i} succeeded on a killed server`);
      assert.is(error.layer, "transport", `long call ${i}: ${describe(error)}`);
      assert.is(error.code, TransportCode.CONNECTION_LOST, `long call ${i}: ${describe(error)}`);
      // Written before the crash: it may have run, so not "no" [STATUS-3].
      assert.is(error.processed, "maybe", `long call ${i}: ${describe(error)}`);
    }
    for (const result of workerFailures) {
      assert.is(result.error?.layer, "transport", `worker call: ${describe(result.error)}`);
      assert.is(result.error?.code, TransportCode.CONNECTION_LOST, `worker call: ${describe(result.error)}`);
    }
    const slowest = Math.max(...[...longResults, ...workerFailures].map((r) => r.at)) - killedAt;
    assert.ok(slowest < 2 * PING_MS + 1000, `the last call failed ${slowest.toFixed(0)} ms after the kill (timeout ${TIMEOUT_MS} ms)`);
    assert.ok(await exited(first.child, 5000), "the killed server exited");

    // Restart on the same port; the first call must go through on a fresh connection.
    const second = await startServer(`127.0.0.1:${port}`);
    assert.is(second.bound, `127.0.0.1:${port}`);
    const before = performance.now();
    const reply = await outcome(c.echo({ text: "after restart" }));
    const elapsed = performance.now() - before;
    assert.ok(reply.ok, `the first call after the restart failed: ${describe(reply.error)}`);
    assert.ok(elapsed < 1000, `the first call after the restart took ${elapsed.toFixed(0)} ms`);

    // The restarted server closes gracefully on SIGTERM.
    c.$close();
    client = undefined;
    assert.ok(second.child.kill("SIGTERM"), "SIGTERM delivered");
    assert.is(await second.lines.next(5000), "closed", "the server closes gracefully on SIGTERM");
    assert.ok(await exited(second.child, 5000), "the server exits after closing");
  } finally {
    client?.$close();
    for (const child of children) {
      if (!hasExited(child)) {
        child.kill("SIGKILL");
        await exited(child, 5000);
      }
    }
  }
});

test.run();
