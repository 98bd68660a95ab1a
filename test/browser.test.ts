// The browser build in real headless Chromium (Debian's, through
// playwright-core): a page bundled from test/browser/page.ts with esbuild
// for the browser (no Node built-ins) calls a real server over WebSocket
// with every call mode, and an Origin the server allows [WS-1] [WS-5].
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { existsSync } from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { build } from "esbuild";
import { createServer, errorDetail, RpcError, webSocketTransport } from "../src/node.ts";
import { EchoResponseSchema } from "./gen/stratatest/v1/testing_pb.ts";
import { TestService, testService } from "./support/test-service.ts";

const test = suite("browser");
const CHROMIUM = "/usr/bin/chromium";

/** The page's script, bundled for the browser: a Node built-in anywhere in it fails the build. */
async function pageScript(): Promise<string> {
  const result = await build({
    entryPoints: [new URL("./browser/page.ts", import.meta.url).pathname],
    bundle: true,
    platform: "browser",
    format: "esm",
    target: "chrome120",
    write: false,
    logLevel: "silent",
  });
  return result.outputFiles[0]!.text;
}

test("[WS-1] [WS-5] the browser build in headless Chromium: unary, oneway, acked, batch, keys, cancel, an error with details", async () => {
  if (!existsSync(CHROMIUM)) {
    console.log(`\n  SKIPPED: the browser test needs Chromium at ${CHROMIUM}: apt-get install -y chromium\n`);
    return;
  }
  const script = await pageScript();
  assert.not.match(script, /from\s*["']node:/, "the browser bundle imports no Node built-in");
  const web = http.createServer((request, response) => {
    if (request.url?.startsWith("/page.js")) return void response.writeHead(200, { "Content-Type": "text/javascript" }).end(script);
    response.writeHead(200, { "Content-Type": "text/html" }).end('<!doctype html><meta charset="utf-8"><script type="module" src="/page.js"></script>');
  });
  await new Promise<void>((resolve) => web.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${(web.address() as AddressInfo).port}`;
  const { impl } = testService();
  const server = createServer({ transports: { ws: webSocketTransport({ allowedOrigins: [origin] }) } }).addService(TestService, {
    ...impl,
    echo: (request, context) => {
      if (request.appCode === 9) throw RpcError.application(9, request.appMessage, [errorDetail(EchoResponseSchema, { text: "why" })]);
      return impl.echo!(request, context);
    },
  });
  const address = await server.listen("ws://127.0.0.1:0/strata");
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync"] });
  try {
    const page = await browser.newPage();
    const logged: string[] = [];
    page.on("console", (message) => logged.push(message.text()));
    page.on("pageerror", (error) => logged.push(String(error)));
    await page.goto(`${origin}/?server=${encodeURIComponent(address)}`);
    await page.waitForFunction(() => (window as unknown as { done?: Promise<void> }).done !== undefined, undefined, { timeout: 10_000 });
    await page.evaluate(() => (window as unknown as { done: Promise<void> }).done);
    const results = (await page.evaluate(() => (window as unknown as { results: Record<string, unknown> }).results)) as Record<string, unknown>;
    assert.is(results.failure, undefined, `${String(results.failure)}\n${logged.join("\n")}`);
    assert.is(results.unary, "from the page");
    assert.is(results.oneway, true);
    assert.is(results.acked, "acked");
    assert.equal(results.batch, ["b1", "b2"]);
    assert.equal(results.keys, ["a", "b", "c"]);
    assert.is(results.cancel, "CANCELLED");
    assert.equal(results.error, { layer: "application", code: 9, message: "declined", details: ["why"] });
    assert.ok((results.callsPerSecond as number) > 0);
    console.log(`  headless Chromium: ${Math.round(results.callsPerSecond as number)} calls/s at 100 in flight (a test figure, not a benchmark)`);
  } finally {
    await browser.close();
    await server.close();
    web.close();
  }
});

test.run();
