// Bounded connection age: a server told a maximum age drains each connection
// at its own age, within ±10% of the configured one, while the client keeps
// calling and moves to a new connection without a call failing; the age
// timer never keeps a process alive. Real sockets on 127.0.0.1, except for
// the process-exit test (in-memory, so that no socket holds the child).
// Cites [DRAIN-18] [DRAIN-2] [DRAIN-10].
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { createClient, createServer, createFrameDecoder, decodeGoaway, FrameType, GoawayCode, tcpTransport, type Transport, type TransportFactory } from "../src/node.ts";
import { connectionAgeSettings, CONNECTION_AGE_MESSAGE, jitteredAge } from "../src/server/connection-age.ts";
import { TestService, testService } from "./support/test-service.ts";
import { rpcFailure } from "./support/rpc-failure.ts";
import { exited, hasExited, lineReader, spawnTs, stderrOf } from "./support/spawn-runtime.ts";
import { waitUntil } from "./support/wait.ts";

const test = suite("connection age");

/** One connection the server accepted: when, and when and with what it sent its first GOAWAY. */
interface Accepted {
  acceptedAt: number;
  goawayAt?: number;
  goaway?: { code: number; message: string; lastRequestId: number };
}

/** TCP whose accepted connections note their accept time and the server's first GOAWAY (decoded from what the server writes). */
function recordingTcp(): { transport: TransportFactory; accepted: Accepted[] } {
  const accepted: Accepted[] = [];
  const watch = (transport: Transport): Transport => {
    const entry: Accepted = { acceptedAt: performance.now() };
    accepted.push(entry);
    let prefaceLeft = 8;
    const decoder = createFrameDecoder({
      limits: { maxHeaderSize: 1 << 20, maxBodySize: 64 << 20 },
      onFrame: (frame) => {
        if (frame.header.type !== FrameType.GOAWAY || entry.goaway !== undefined) return;
        entry.goawayAt = performance.now();
        entry.goaway = decodeGoaway(frame.body);
      },
    });
    const write = (bytes: Uint8Array) => {
      const skip = Math.min(prefaceLeft, bytes.length);
      prefaceLeft -= skip;
      if (skip < bytes.length) decoder.push(bytes.subarray(skip));
      return transport.write(bytes);
    };
    return new Proxy(transport, {
      get(target, property) {
        if (property === "write") return write;
        const value = Reflect.get(target, property, target) as unknown;
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  };
  return {
    accepted,
    transport: {
      connect: (address, options) => tcpTransport.connect(address, options),
      listen: (address, options, accept) => tcpTransport.listen(address, options, (transport) => accept(watch(transport))),
    },
  };
}

test("[DRAIN-18] each connection's own maximum age is drawn uniformly within ±10% of the configured one", () => {
  assert.is(jitteredAge(1000, () => 0), 900);
  assert.is(jitteredAge(1000, () => 0.5), 1000);
  assert.ok(jitteredAge(1000, () => 0.999999) < 1100);
  const ages = Array.from({ length: 1000 }, () => jitteredAge(1000));
  assert.ok(ages.every((age) => age >= 900 && age < 1100), "an age outside 900..1100 ms");
  // Spread over the range, not one value: connections opened together drain apart.
  assert.ok(Math.min(...ages) < 920 && Math.max(...ages) > 1080, `ages from ${Math.min(...ages)} to ${Math.max(...ages)}`);
});

test("[DRAIN-18] the maximum age is off by default, must be above 0, and its grace period 0 or more (default 10 s)", () => {
  assert.equal(connectionAgeSettings({}), { maxConnectionAgeMs: Infinity, maxConnectionAgeGraceMs: 10_000 });
  for (const maxConnectionAgeMs of [0, -1, Number.NaN]) {
    assert.throws(() => createServer({ maxConnectionAgeMs }), /maxConnectionAgeMs must be above 0/);
  }
  for (const maxConnectionAgeGraceMs of [-1, Number.NaN]) {
    assert.throws(() => createServer({ maxConnectionAgeMs: 1000, maxConnectionAgeGraceMs }), /maxConnectionAgeGraceMs must be 0 or more/);
  }
  createServer({ maxConnectionAgeMs: Infinity, maxConnectionAgeGraceMs: 0 });
});

test("[DRAIN-18] [DRAIN-2] a client calling without pause: each connection drains on its own at 90-110% of a 300 ms age, the client moves to a new one, and no call fails", async () => {
  const ageMs = 300;
  const { transport, accepted } = recordingTcp();
  const server = createServer({ transport, maxConnectionAgeMs: ageMs }).addService(TestService, testService().impl);
  const client = createClient(TestService, { address: await server.listen("127.0.0.1:0") });
  const failures: string[] = [];
  let answered = 0;
  // Until three connections have drained (each after the first opened because the one before drained),
  // three calls at a time, some in progress at each GOAWAY.
  const drained = () => accepted.filter((c) => c.goaway !== undefined).length;
  const end = performance.now() + 15_000;
  const worker = async (n: number) => {
    for (let i = 0; drained() < 3 && performance.now() < end; i++) {
      const text = `w${n}-${i}`;
      try {
        const reply = await client.echo({ text, delayMs: (i % 4) * 10 });
        if (reply.text !== text) failures.push(`${text} answered ${reply.text}`);
        answered++;
      } catch (error) {
        failures.push(`${text}: ${String((error as { code?: string }).code ?? error)}`);
      }
    }
  };
  try {
    await Promise.all([0, 1, 2].map(worker));
    assert.equal(failures, [], "calls failed across the age drains");
    assert.ok(drained() >= 3, `only ${drained()} connections drained within 15 s`);
    assert.ok(accepted.length >= 3 && answered > 0, `${accepted.length} connections, ${answered} calls answered`);
    for (const [i, connection] of accepted.entries()) {
      if (connection.goaway === undefined) continue;
      const age = connection.goawayAt! - connection.acceptedAt;
      // Its own age, from its own accept: never before 90% of it (the timer never fires early); a loaded machine may be late.
      assert.ok(age >= ageMs * 0.9 && age <= ageMs * 1.1 + 1000, `connection ${i + 1} drained after ${age.toFixed(1)} ms`);
      assert.is(connection.goaway.code, GoawayCode.NO_ERROR);
      assert.is(connection.goaway.message, CONNECTION_AGE_MESSAGE);
    }
  } finally {
    await client.$close();
    await server.close({ graceMs: 0 });
  }
});

test("[DRAIN-18] [DRAIN-10] a server closed during an age drain ends it at the close's grace period, not the age drain's", async () => {
  const { transport, accepted } = recordingTcp();
  const server = createServer({ transport, maxConnectionAgeMs: 100, maxConnectionAgeGraceMs: 60_000 }).addService(TestService, testService().impl);
  const client = createClient(TestService, { address: await server.listen("127.0.0.1:0") });
  try {
    const held = client.echo({ text: "held", delayMs: 30_000 }, { timeoutMs: Infinity });
    held.catch(() => {}); // awaited below, unless the test fails first
    await waitUntil(() => accepted[0]?.goaway !== undefined, 5000);
    const started = performance.now();
    await server.close({ graceMs: 100 });
    const took = performance.now() - started;
    // Without it the drain would last until the server's hard stop, 2.5 s after the close's grace period.
    assert.ok(took < 2000, `close took ${took.toFixed(0)} ms`);
    const error = await rpcFailure(held);
    assert.is(error.code, "CONNECTION_LOST", "the handler running at the end of the grace period is cut off");
  } finally {
    await client.$close();
    await server.close({ graceMs: 0 });
  }
});

test("[DRAIN-18] an idle connection's age timer does not keep the process alive: a program holding one open exits on its own", async () => {
  const child = spawnTs(new URL("./support/aged-idle-server.ts", import.meta.url).pathname, []);
  try {
    assert.is(await lineReader(child).next(20_000), "open 1", "the program's connection was open when it finished its work");
    // Its age timer is an hour; an unreferenced one lets the program go at once.
    assert.ok(await exited(child, 10_000), `the program did not exit within 10 s; stderr: ${stderrOf(child)}`);
    assert.is(child.exitCode, 0, stderrOf(child));
  } finally {
    if (!hasExited(child)) {
      child.kill("SIGKILL");
      await exited(child, 5000);
    }
  }
});

test.run();
