// Server.register: the record written once the server listens, removed on
// close before any GOAWAY, bounded when the registry does not answer.
// test/registry-*.test.ts run the same against real etcd and Redis.
// Cites [CLUSTER-2].
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { createServer, FrameType, type Endpoint, type Registrar } from "../src/node.ts";
import { RawPeer } from "./support/raw-peer.ts";

const test = suite("server registration");

/** A registrar that records what it was asked, and what the peer had seen at deregistration. */
function recordingRegistrar(onDeregister: () => void | Promise<void> = () => {}) {
  const events: string[] = [];
  let written: Endpoint | undefined;
  const registrar: Registrar = {
    description: "recording",
    async register(e) {
      written = e;
      events.push("register");
    },
    async deregister() {
      events.push("deregister");
      await onDeregister();
    },
  };
  return { registrar, events, written: () => written };
}

test("[CLUSTER-2] register writes the listen address with the given attributes; close removes it before the GOAWAY", async () => {
  const server = createServer();
  const address = await server.listen("127.0.0.1:0");
  const peer = await RawPeer.connect(address);
  let goawayBeforeDeregistration: boolean | undefined;
  const { registrar, events, written } = recordingRegistrar(() => {
    goawayBeforeDeregistration = peer.frames.some((f) => f.header.type === FrameType.GOAWAY);
  });
  const announced = await server.register(registrar, { id: "s-1", groups: ["blue"], zone: "z1" });
  assert.equal(announced, { id: "s-1", address, groups: ["blue"], weight: 1, zone: "z1", metadata: {} });
  assert.equal(written(), announced);
  await server.close({ graceMs: 1000 });
  assert.equal(events, ["register", "deregister"]);
  assert.is(goawayBeforeDeregistration, false);
  await peer.waitFor((f) => f.header.type === FrameType.GOAWAY);
  peer.destroy();
});

test("[CLUSTER-2] a wildcard listen address must be given explicitly, and a registry that never answers does not stall close", async () => {
  const server = createServer();
  const address = await server.listen("0.0.0.0:0");
  const { registrar } = recordingRegistrar(() => new Promise(() => {}));
  let error: unknown;
  await server.register(registrar).catch((e: unknown) => (error = e));
  assert.instance(error, TypeError);
  assert.match(String(error), "0.0.0.0");
  const port = address.slice(address.lastIndexOf(":") + 1);
  await server.register(registrar, { address: `127.0.0.1:${port}` }, { deregistrationTimeoutMs: 100 });
  const started = performance.now();
  await server.close({ graceMs: 0 });
  assert.ok(performance.now() - started < 2000, "close waited for the stuck registry only its timeout");
});

test.run();
