// The page test/browser.test.ts loads in headless Chromium: it calls the
// server named in its URL (?server=ws://…) with every call mode through the
// browser build's client, and leaves what happened in window.results.
import { createClient, findDetails, RpcError } from "../../src/browser.ts";
import { EchoResponseSchema } from "../gen/stratatest/v1/testing_pb.ts";
import { TestService } from "../gen/stratatest/v1/testing_pb.ts";

type Results = Record<string, unknown>;
const results: Results = {};
(window as unknown as { results: Results; done: Promise<void> }).results = results;

async function run(): Promise<void> {
  const address = new URLSearchParams(location.search).get("server")!;
  const client = createClient(TestService, { address });
  results.unary = (await client.echo({ text: "from the page" })).text;
  const tag = `oneway-${Math.random().toString(36).slice(2)}`;
  await client.$oneway.record({ tag });
  for (let i = 0; i < 50 && !(await client.recorded({})).tags.includes(tag); i++) await new Promise((r) => setTimeout(r, 20));
  results.oneway = (await client.recorded({})).tags.includes(tag);
  const accepted = await client.$acked.echo({ text: "acked" });
  results.acked = (await accepted.result).text;
  const batch = await client.$batch((c) => [c.echo({ text: "b1" }), c.echo({ text: "b2" })]);
  results.batch = batch.map((r) => r.value?.text);
  const keyed = await Promise.all(["a", "b", "c"].map((text) => client.echo({ text, delayMs: 5 }, { keys: ["account-1"] })));
  results.keys = keyed.map((r) => r.text);
  const abort = new AbortController();
  const waiting = client.wait({ ms: 10_000, tag: "cancelled" }, { signal: abort.signal });
  setTimeout(() => abort.abort(), 50);
  try {
    await waiting;
    results.cancel = "not cancelled";
  } catch (error) {
    results.cancel = (error as RpcError).code;
  }
  try {
    await client.echo({ text: "fail", appCode: 9, appMessage: "declined" });
    results.error = "no error";
  } catch (error) {
    const e = error as RpcError;
    results.error = { layer: e.layer, code: e.code, message: e.rawMessage, details: findDetails(e, EchoResponseSchema).map((d) => d.text) };
  }
  try {
    createClient(TestService, { address: "127.0.0.1:7400" });
    results.tcpAddress = "accepted";
  } catch (error) {
    results.tcpAddress = String((error as Error).message);
  }
  const started = performance.now();
  let calls = 0;
  const lanes = Array.from({ length: 100 }, async () => {
    while (performance.now() - started < 1000) {
      await client.echo({ text: "x" });
      calls++;
    }
  });
  await Promise.all(lanes);
  results.callsPerSecond = calls / ((performance.now() - started) / 1000);
  await client.$close();
}

(window as unknown as { done: Promise<void> }).done = run().catch((error) => {
  results.failure = String((error as Error).stack ?? error);
});
