// A client that is never closed does not keep its process alive once no call
// is pending: its socket and heartbeat timer are unreferenced while idle,
// referenced while a call waits. A child process makes calls to a server in
// this process and must exit by itself while the server still runs. Cites
// [PING-4].
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { createServer } from "../src/node.ts";
import { TestService, testService } from "./support/test-service.ts";
import { exited, hasExited, lineReader, spawnTs, stderrOf } from "./support/spawn-runtime.ts";

const test = suite("process exit");
const script = new URL("./support/unclosed-client.ts", import.meta.url).pathname;

const onNode = (globalThis as { Bun?: unknown; Deno?: unknown }).Bun === undefined && (globalThis as { Deno?: unknown }).Deno === undefined;

for (const listen of ["127.0.0.1:0", "ws://127.0.0.1:0/strata"]) {
test(`[PING-4] a program that calls ${listen.split(":")[0] === "ws" ? "over WebSocket" : "over TCP"} and never closes its client exits on its own; a pending call keeps it alive until answered`, async () => {
  if (listen.startsWith("ws:") && !onNode) {
    // Bun's and Deno's own WebSocket have no unref: an unclosed WebSocket client keeps their process alive.
    console.log("\n  SKIPPED on this runtime: its WebSocket cannot be unreferenced; close WebSocket clients (Node's ws can)\n");
    return;
  }
  const { impl } = testService();
  const server = createServer().addService(TestService, impl);
  const address = await server.listen(listen);
  const child = spawnTs(script, [address]);
  try {
    const lines = lineReader(child);
    assert.is(await lines.next(20_000), "held", "the call held by the server was answered before the program exited");
    assert.is(await lines.next(5_000), "quick");
    // The connection stays open on the server's side; the child must still go.
    assert.ok(await exited(child, 10_000), `the child did not exit within 10 s of its last call; stderr: ${stderrOf(child)}`);
    assert.is(child.exitCode, 0, stderrOf(child));
  } finally {
    if (!hasExited(child)) {
      child.kill("SIGKILL");
      await exited(child, 5000);
    }
    await server.close({ graceMs: 0 });
  }
});
}

test.run();
