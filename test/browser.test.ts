// The browser build in real headless Chromium (Debian's, through
// playwright-core): a page bundled from test/browser/page.ts with esbuild
// for the browser (no Node built-ins) calls a real server over WebSocket
// with every call mode, and an Origin the server allows; and refuses a server
// that accepts the compression a browser offers [WS-1] [WS-4] [WS-5].
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { createServer, errorDetail, RpcError, webSocketTransport } from "../src/node.ts";
import { EchoResponseSchema } from "./gen/stratatest/v1/testing_pb.ts";
import { TestService, testService } from "./support/test-service.ts";
import { chromiumProblem, startPageHost } from "./support/chromium-page.ts";

const test = suite("browser");
test("[WS-1] [WS-4] [WS-5] the browser build in headless Chromium: unary, oneway, acked, batch, keys, cancel, an error with details; a server accepting permessage-deflate is refused", async () => {
  const problem = chromiumProblem();
  if (problem !== undefined) {
    console.log(`\n  SKIPPED: the browser test needs ${problem}\n`);
    return;
  }
  const host = await startPageHost(new URL("./browser/page.ts", import.meta.url));
  assert.not.match(host.script, /from\s*["']node:/, "the browser bundle imports no Node built-in");
  const { impl } = testService();
  const server = createServer({ transports: { ws: webSocketTransport({ allowedOrigins: [host.origin] }) } }).addService(TestService, {
    ...impl,
    echo: (request, context) => {
      if (request.appCode === 9) throw RpcError.application(9, request.appMessage, [errorDetail(EchoResponseSchema, { text: "why" })]);
      return impl.echo!(request, context);
    },
  });
  const address = await server.listen("ws://127.0.0.1:0/strata");
  // Not a Strata server: a ws server that accepts the permessage-deflate a browser always offers.
  const { WebSocketServer } = await import("ws");
  const deflating = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: true, handleProtocols: () => "strata" });
  await new Promise((resolve) => deflating.once("listening", resolve));
  try {
    const refused = await host.open(`server=${encodeURIComponent(`ws://127.0.0.1:${(deflating.address() as { port: number }).port}/strata`)}`);
    assert.match(String(refused.failure), /CONNECT_FAILED.*accepted the WebSocket extensions "permessage-deflate.*\[WS-4\]/s, "a client refuses a server that accepts an extension [WS-4]");
    const results = await host.open(`server=${encodeURIComponent(address)}`);
    assert.is(results.failure, undefined, String(results.failure));
    assert.is(results.unary, "from the page");
    assert.is(results.oneway, true);
    assert.is(results.acked, "acked");
    assert.equal(results.batch, ["b1", "b2"]);
    assert.equal(results.keys, ["a", "b", "c"]);
    assert.is(results.cancel, "CANCELLED");
    assert.equal(results.error, { layer: "application", code: 9, message: "declined", details: ["why"] });
    assert.match(String(results.tcpAddress), "a web page reaches a Strata server only through ws:// and wss:// addresses", "a host:port address in a page says what a page can use");
    assert.ok((results.callsPerSecond as number) > 0);
    console.log(`  headless Chromium: ${Math.round(results.callsPerSecond as number)} calls/s at 100 in flight (a test figure, not a benchmark)`);
  } finally {
    await host.close();
    await server.close();
    for (const peer of deflating.clients) peer.terminate();
    await new Promise((resolve) => deflating.close(resolve));
  }
});

test.run();
