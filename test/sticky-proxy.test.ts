// Behind a real L7 proxy (Debian's HAProxy, started by the test on a free
// loopback port): WebSocket connections to two Strata servers are balanced
// round robin, and a client that carries the proxy's cookie comes back to
// the same server every time it reconnects: a browser (headless Chromium)
// does so by itself; a Node client by sending the cookie header (spec
// section 18: the field's cookie stickiness).
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WebSocket } from "ws";
import { createClient, createServer, webSocketTransport, type Server } from "../src/node.ts";
import { TestService, testService } from "./support/test-service.ts";
import { chromiumProblem, startPageHost } from "./support/chromium-page.ts";

const test = suite("sticky proxy");
const haproxyMissing = spawnSync("haproxy", ["-v"]).error !== undefined;
if (haproxyMissing) console.log("\n  SKIPPED: the L7 proxy tests need HAProxy: apt-get install -y haproxy\n");

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** Two Strata servers on WebSocket whose Echo answers with the server's name, and HAProxy in front with cookie stickiness. */
async function startCluster(allowedOrigins: readonly string[] = []) {
  const servers: Server[] = [];
  const ports: number[] = [];
  for (const name of ["s1", "s2"]) {
    const { impl } = testService();
    const server = createServer({ transports: { ws: webSocketTransport({ allowedOrigins }) } }).addService(TestService, { ...impl, echo: () => ({ text: name }) });
    const address = await server.listen("ws://127.0.0.1:0/strata");
    servers.push(server);
    ports.push(Number(new URL(address).port));
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "strata-haproxy-"));
  const config = join(dir, "haproxy.cfg");
  writeFileSync(config, [
    "global", "  maxconn 256",
    "defaults", "  mode http", "  timeout connect 2s", "  timeout client 30s", "  timeout server 30s", "  timeout tunnel 1h",
    "frontend strata", `  bind 127.0.0.1:${port}`, "  default_backend servers",
    "backend servers", "  balance roundrobin", "  cookie STRATA_SERVER insert indirect nocache",
    `  server s1 127.0.0.1:${ports[0]} cookie s1`, `  server s2 127.0.0.1:${ports[1]} cookie s2`, "",
  ].join("\n"));
  const proxy: ChildProcess = spawn("haproxy", ["-f", config, "-db"], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  proxy.stderr!.on("data", (chunk) => (stderr += String(chunk)));
  // Ready once it accepts connections.
  for (let i = 0; ; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, "127.0.0.1", () => (s.destroy(), resolve(true)));
      s.on("error", () => resolve(false));
    });
    if (up) break;
    if (i > 100 || proxy.exitCode !== null) throw new Error(`haproxy did not start: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    address: `ws://127.0.0.1:${port}/strata`,
    async stop() {
      proxy.kill("SIGKILL");
      await Promise.all(servers.map((s) => s.close({ graceMs: 100 })));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The STRATA_SERVER cookie HAProxy set on a WebSocket upgrade. */
function proxyCookie(address: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(address, ["strata"], { perMessageDeflate: false });
    socket.once("upgrade", (response) => {
      const cookie = ([] as string[]).concat(response.headers["set-cookie"] ?? []).find((c) => c.startsWith("STRATA_SERVER="));
      socket.terminate();
      if (cookie === undefined) reject(new Error(`no STRATA_SERVER cookie in ${JSON.stringify(response.headers)}`));
      else resolve(cookie.split(";")[0]!);
    });
    socket.once("error", reject);
  });
}

async function whoAnswers(address: string, headers?: Record<string, string>): Promise<string> {
  const transports = headers === undefined ? {} : { transports: { ws: webSocketTransport({ clientHeaders: headers }) } };
  const client = createClient(TestService, { address, ...transports });
  try {
    return (await client.echo({ text: "who" })).text;
  } finally {
    await client.$close();
  }
}

test("through HAProxy: new connections go round robin; with its cookie every reconnect returns to the same server", async () => {
  if (haproxyMissing) return;
  const cluster = await startCluster();
  try {
    const plain = [];
    for (let i = 0; i < 4; i++) plain.push(await whoAnswers(cluster.address));
    assert.equal([...new Set(plain)].sort(), ["s1", "s2"], `round robin reached both servers: ${plain.join(", ")}`);
    const cookie = await proxyCookie(cluster.address);
    const sticky = [];
    for (let i = 0; i < 5; i++) sticky.push(await whoAnswers(cluster.address, { cookie }));
    assert.equal(sticky, Array(5).fill(cookie.split("=")[1]), `with ${cookie}: ${sticky.join(", ")}`);
  } finally {
    await cluster.stop();
  }
});

test("a page in headless Chromium reconnecting through HAProxy comes back to the same server, by the cookie the browser kept", async () => {
  if (haproxyMissing) return;
  const problem = chromiumProblem();
  if (problem !== undefined) {
    console.log(`\n  SKIPPED: the browser stickiness test needs ${problem}\n`);
    return;
  }
  const host = await startPageHost(new URL("./browser/sticky-page.ts", import.meta.url));
  const cluster = await startCluster([host.origin]);
  try {
    const results = (await host.open(`server=${encodeURIComponent(cluster.address)}`)) as { servers: string[]; failure?: string };
    assert.is(results.failure, undefined, results.failure);
    assert.is(results.servers.length, 5);
    assert.equal(new Set(results.servers).size, 1, `every reconnect on one server: ${results.servers.join(", ")}`);
  } finally {
    await host.close();
    await cluster.stop();
  }
});

test.run();
