// The one timer path: delays of any size, 2^31 ms and more included, wait as
// long as they say (runtime timers fire such delays after 1 ms). Cites
// [DRAIN-10] [CONF-3].
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { MAX_TIMER_DELAY, setTimer, sleep } from "../src/util/timer.ts";
import { now } from "../src/util/clock.ts";
import { createClient, createServer } from "../src/node.ts";
import { TestService, testService } from "./support/test-service.ts";
import { waitUntil } from "./support/wait.ts";

const test = suite("timer");

test("delays of 2^31-1, 2^31, 2^32 and 2^53 ms do not fire early; small ones fire once, not before their time", async () => {
  const fired: number[] = [];
  const long = [MAX_TIMER_DELAY, 2 ** 31, 2 ** 32, 2 ** 53].map((ms) => setTimer(() => fired.push(ms), ms));
  const start = performance.now();
  const short = await new Promise<number>((resolve) => setTimer(() => resolve(performance.now() - start), 30));
  assert.ok(short >= 29, `a 30 ms timer fired after ${short.toFixed(1)} ms`);
  // A runtime setTimeout of 2^31 ms has fired by now (after 1 ms); these have not.
  await sleep(50);
  assert.equal(fired, []);
  for (const timer of long) timer.clear();
});

test("the library's clock is the global performance of the moment: one that fake timers put in its place after the import is followed", () => {
  const original = Object.getOwnPropertyDescriptor(globalThis, "performance")!;
  const fake = { now: () => 12_345.5 };
  Object.defineProperty(globalThis, "performance", { value: fake, configurable: true, writable: true });
  try {
    assert.is(now(), 12_345.5);
  } finally {
    Object.defineProperty(globalThis, "performance", original);
  }
  assert.is.not(now(), 12_345.5);
});

test("cleared timers never fire; Infinity never fires; a negative or NaN delay is refused", async () => {
  let fired = 0;
  setTimer(() => fired++, 5).clear();
  setTimer(() => fired++, Infinity).clear();
  await sleep(30);
  assert.is(fired, 0);
  assert.throws(() => setTimer(() => {}, -1), /0 ms or more/);
  assert.throws(() => setTimer(() => {}, Number.NaN), /0 ms or more/);
});

test("sleep resolves true at once when its signal fires, false when its time is up", async () => {
  const controller = new AbortController();
  const pending = sleep(2 ** 31, controller.signal);
  controller.abort();
  assert.is(await pending, true);
  assert.is(await sleep(1), false);
});

test("[DRAIN-10] a drain grace of 2^31 ms lets a request in flight finish (it ended the drain at once)", async () => {
  const server = createServer().addService(TestService, testService().impl);
  const client = createClient(TestService, { address: await server.listen("127.0.0.1:0") });
  await client.echo({ text: "warm" });
  const call = client.echo({ text: "slow", delayMs: 200 });
  // The drain starts once the request runs on the server.
  await waitUntil(() => server.stats().requests.inFlight === 1);
  const closed = server.close({ graceMs: 2 ** 31 });
  const reply = await call;
  assert.is(reply.text, "slow");
  await closed;
});

test.run();
