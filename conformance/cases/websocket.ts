// Section 18: the WebSocket mapping. These cases run only against a
// WebSocket server (--target ws://HOST:PORT/PATH, or --websocket in spawn
// mode); the rest of the suite runs over the same WebSocket connections.
import { create, toBinary } from "@bufbuild/protobuf";
import { CallMode, createFrameDecoder, DEFAULT_LIMITS, encodeFrame, encodeHello, encodePreface, FrameType, PREFACE_SIZE } from "../../src/wire/index.ts";
import { EchoRequestSchema } from "../gen/strata/conformance/v1/conformance_pb.ts";
import { CaseSkip, expect } from "../runner/case-outcome.ts";
import type { ConformanceCase } from "../runner/case.ts";
import { CONFORMANCE_SERVICE, pause } from "../runner/context.ts";
import { probeWebSocket, stalledUpgrade, upgradeWithTarget } from "../runner/websocket-probe.ts";

const section = "18 WebSocket mapping";
const MiB = 1024 * 1024;
/** An Origin no operator allows: the cases of [WS-5] assume the server under test does not allow it. */
const FOREIGN_ORIGIN = "https://strata-conformance.invalid";

const handshake = () => Buffer.concat([encodePreface(), encodeFrame({ type: FrameType.HELLO }, encodeHello({ agent: "strata-conformance" }))]);
const echo = (id: number, init: Parameters<typeof create<typeof EchoRequestSchema>>[1]) =>
  encodeFrame({ type: FrameType.REQUEST, requestId: id, service: CONFORMANCE_SERVICE, method: "Echo", callMode: CallMode.UNARY }, toBinary(EchoRequestSchema, create(EchoRequestSchema, init)));

/** Waits until `messages` hold at least `bytes` bytes, or `ms` pass. */
async function receivedAtLeast(messages: Buffer[], bytes: number, ms: number): Promise<number> {
  const end = performance.now() + ms;
  let total = 0;
  while ((total = messages.reduce((n, m) => n + m.length, 0)) < bytes && performance.now() < end) await pause(10);
  return total;
}

/** Waits for `probe`'s upgrade, sends the suite's preface and HELLO, and waits for the server's preface and more. */
async function handshaken(probe: ReturnType<typeof probeWebSocket>): Promise<void> {
  await probe.status;
  probe.socket.send(handshake());
  await receivedAtLeast(probe.messages, PREFACE_SIZE + 4, 3000);
}

/** The close code `probe` ends with, or undefined when it is still open after 5 s. */
const closeCode = (probe: ReturnType<typeof probeWebSocket>) => Promise.race([probe.closed, pause(5000).then(() => undefined)]);

/** A frame whose header size is 0: a connection error [FRAME-4]. */
const BAD_FRAME = Uint8Array.of(0, 0, 0, 0);

/** Reads the server's frames after its preface as they arrive; returns when its GOAWAY came (undefined: not yet). */
function goawayClock(probe: ReturnType<typeof probeWebSocket>): () => number | undefined {
  let goawayAt: number | undefined;
  const decoder = createFrameDecoder({
    limits: DEFAULT_LIMITS,
    onFrame: (frame) => {
      if (frame.header.type === FrameType.GOAWAY) goawayAt ??= performance.now();
    },
  });
  let prefaceLeft = PREFACE_SIZE;
  probe.socket.on("message", (data: Buffer) => {
    const skipped = Math.min(prefaceLeft, data.length);
    prefaceLeft -= skipped;
    if (data.length > skipped) decoder.push(data.subarray(skipped));
  });
  return () => goawayAt;
}

export const webSocketCases: ConformanceCase[] = [
  {
    name: "websocket/subprotocol-required",
    section,
    requirements: ["WS-1"],
    websocket: "only",
    title: "An upgrade requesting strata gets it; one requesting only another subprotocol, or none, is refused",
    async run(ctx) {
      const good = probeWebSocket(ctx);
      expect((await good.status) === 101 && good.socket.protocol === "strata", "101 with subprotocol strata", `status ${await good.status}, subprotocol "${good.socket.protocol}"`, "WS-1");
      good.socket.close();
      for (const protocols of [["chat"], []]) {
        const other = probeWebSocket(ctx, { protocols });
        const status = await other.status;
        expect(status !== 101, `an upgrade requesting ${JSON.stringify(protocols)} refused (HTTP 400)`, `status ${status}`, "WS-1");
      }
    },
  },
  {
    name: "websocket/text-message-closes-1003",
    section,
    requirements: ["WS-2"],
    websocket: "only",
    title: "A text message after the handshake ends the connection with close code 1003",
    async run(ctx) {
      const probe = probeWebSocket(ctx);
      await probe.status;
      probe.socket.send(handshake());
      await receivedAtLeast(probe.messages, 8, 3000);
      probe.socket.send("not binary");
      const code = await Promise.race([probe.closed, pause(5000).then(() => undefined)]);
      expect(code === 1003, "close code 1003 after a text message", code === undefined ? "still open after 5 s" : `close code ${code}`, "WS-2");
    },
  },
  {
    name: "websocket/message-sizes",
    section,
    requirements: ["WS-3", "WS-2"],
    websocket: "only",
    usesConformanceService: true,
    title: "A 1 MiB message holding a request is accepted, frames split across messages are read, and a 2.5 MB response arrives in messages of at most 1 MiB",
    async run(ctx) {
      const probe = probeWebSocket(ctx);
      await probe.status;
      // The handshake and a request split at arbitrary points over three messages: boundaries mean nothing [WS-2].
      const first = Buffer.concat([handshake(), echo(1, { payload: new Uint8Array(10) })]);
      probe.socket.send(first.subarray(0, 5));
      probe.socket.send(first.subarray(5, 20));
      probe.socket.send(first.subarray(20));
      // One message of exactly 1 MiB: a request padded to fill it [WS-3].
      const request = echo(2, { payload: new Uint8Array(MiB - 200), responseSize: 2_500_000 });
      const filled = Buffer.concat([request, echo(3, { payload: new Uint8Array(Math.max(0, MiB - request.length - 120)) })]);
      probe.socket.send(filled.subarray(0, MiB));
      probe.socket.send(filled.subarray(MiB));
      const total = await receivedAtLeast(probe.messages, 2_500_000, 10_000);
      expect(total >= 2_500_000, "the 2.5 MB response to the request sent in a 1 MiB message", `${total} bytes received`, "WS-3");
      const largest = Math.max(...probe.messages.map((m) => m.length));
      expect(largest <= MiB, "every message the server sent at most 1 MiB", `a message of ${largest} bytes`, "WS-3");
      probe.socket.close();
    },
  },
  {
    name: "websocket/no-compression",
    section,
    requirements: ["WS-4"],
    websocket: "only",
    title: "permessage-deflate offered by the client is not accepted",
    async run(ctx) {
      const probe = probeWebSocket(ctx, { perMessageDeflate: true });
      const status = await probe.status;
      expect(status === 101 && probe.socket.extensions === "", "the upgrade accepted with no extension", `status ${status}, extensions "${probe.socket.extensions}"`, "WS-4");
      probe.socket.close();
    },
  },
  {
    name: "websocket/foreign-origin-refused",
    section,
    requirements: ["WS-5"],
    websocket: "only",
    title: `An upgrade from Origin ${FOREIGN_ORIGIN} (which no operator allows) is refused 403; one without Origin is served`,
    async run(ctx) {
      const foreign = probeWebSocket(ctx, { origin: FOREIGN_ORIGIN });
      const status = await foreign.status;
      expect(status === 403, "HTTP 403 for a foreign Origin", `status ${status}`, "WS-5");
      const none = probeWebSocket(ctx);
      expect((await none.status) === 101, "an upgrade without Origin served", `status ${await none.status}`);
      none.socket.close();
    },
  },
  {
    name: "websocket/odd-request-targets-refused",
    section,
    requirements: ["WS-8"],
    websocket: "only",
    title: "Upgrades for another path (PATH-not, //, //[, //a:b@) are answered 404 and those whose target is no path (*, http://[) 400, and the server serves on",
    async run(ctx) {
      const path = new URL(ctx.address).pathname;
      const targets: Array<[string, number]> = [[`${path}-not`, 404], ["//", 404], ["//[", 404], ["//a:b@", 404], ["*", 400], ["http://[", 400]];
      for (const [target, expected] of targets) {
        const status = await upgradeWithTarget(ctx, target);
        expect(status === expected, `HTTP ${expected} to an upgrade for ${JSON.stringify(target)}`, status === undefined ? "no answer: the connection ended" : `status ${status}`, "WS-8");
      }
      const after = probeWebSocket(ctx);
      expect((await after.status) === 101, "an upgrade for the path served afterwards", `status ${await after.status}`, "WS-8");
      after.socket.close();
    },
  },
  {
    name: "websocket/target-path-rules",
    section,
    requirements: ["WS-9"],
    websocket: "only",
    title: "The path of an upgrade's target is what precedes its query, also in absolute form (PATH?x=1 and http://HOST/PATH are upgraded), and another path is 404 before the subprotocol or Origin is looked at",
    async run(ctx) {
      const url = new URL(ctx.address);
      const path = url.pathname;
      for (const target of [`${path}?session=1`, `http://${url.host}${path}`]) {
        const status = await upgradeWithTarget(ctx, target);
        expect(status === 101, `HTTP 101 to an upgrade for ${JSON.stringify(target)}`, status === undefined ? "no answer: the connection ended" : `status ${status}`, "WS-9");
      }
      const bare = await upgradeWithTarget(ctx, `${path}-not`, { subprotocol: false });
      expect(bare === 404, "HTTP 404 to an upgrade for another path that does not request strata", bare === undefined ? "no answer" : `status ${bare}`, "WS-9");
      const foreign = await upgradeWithTarget(ctx, `${path}-not`, { origin: "https://elsewhere.example" });
      expect(foreign === 404, "HTTP 404 to an upgrade for another path from a foreign Origin", foreign === undefined ? "no answer" : `status ${foreign}`, "WS-9");
    },
  },
  {
    name: "websocket/upgrade-bounded-by-handshake-timer",
    section,
    requirements: ["WS-6"],
    websocket: "only",
    title: "With a 300 ms handshake timer, a connection whose upgrade request never ends is closed within 1.5 s of its TCP connect",
    settings: { handshakeTimeoutMs: 300 },
    async run(ctx) {
      const closedAfter = await stalledUpgrade(ctx, 5000);
      expect(closedAfter !== undefined && closedAfter < 1500, "closed about 300 ms after connect (within 1.5 s)", closedAfter === undefined ? "still open after 5 s" : `closed after ${closedAfter.toFixed(0)} ms`, "WS-6");
    },
  },
  {
    name: "websocket/close-follows-goaway",
    section,
    requirements: ["WS-7", "FRAME-14"],
    websocket: "only",
    title: "After a connection error's GOAWAY the server's close frame (1000) follows at once, not after a wait of its own",
    async run(ctx) {
      const probe = probeWebSocket(ctx);
      const goaway = goawayClock(probe);
      await handshaken(probe);
      probe.socket.send(BAD_FRAME);
      const code = await closeCode(probe);
      const closedAt = performance.now();
      const goawayAt = goaway();
      expect(goawayAt !== undefined, "a GOAWAY before the close", "no GOAWAY", "FRAME-14");
      expect(code === 1000, "close code 1000", code === undefined ? "still open 5 s after the bad frame" : `close code ${code}`, "WS-7");
      // [FRAME-18]'s wait is the close handshake itself: a close held back 1 s is the mistake this catches.
      expect(closedAt - goawayAt < 500, "the close right after the GOAWAY (within 0.5 s)", `the close ${(closedAt - goawayAt).toFixed(0)} ms after the GOAWAY`, "WS-7");
    },
  },
  {
    name: "websocket/close-reads-until-answer",
    section,
    requirements: ["WS-7", "FRAME-18", "WS-2"],
    websocket: "only",
    title: "A server that sent its close frame, after a GOAWAY or for a text message (1003), reads until the suite answers it: what the suite sends meanwhile, 100 ms without reading, causes no reset",
    async run(ctx) {
      for (const [trigger, expectedCode] of [[BAD_FRAME, 1000], ["text, not binary", 1003]] as const) {
        const probe = probeWebSocket(ctx);
        await handshaken(probe);
        const tcp = (probe.socket as unknown as { _socket?: import("node:net").Socket })._socket;
        if (typeof tcp?.pause !== "function") {
          probe.socket.close();
          throw new CaseSkip("this runtime's ws client (Bun's own) shows no TCP socket to stop reading from: run the suite on Node or Deno");
        }
        // The suite stops reading, so it answers no close, and keeps writing: a server that ended TCP
        // right after its close frame resets these writes. Seen on the TCP socket under ws, which
        // keeps its socket's errors to itself.
        let reset: Error | undefined;
        tcp.on("error", (error: Error) => (reset ??= error));
        tcp.pause();
        probe.socket.send(trigger);
        for (let i = 0; i < 5; i++) {
          await pause(20);
          probe.socket.send(new Uint8Array(512).fill(0x55));
        }
        tcp.resume();
        const code = await closeCode(probe);
        const after = typeof trigger === "string" ? "a text message" : "a GOAWAY";
        expect(reset === undefined, `no reset while the suite wrote before answering the close, after ${after}`, `${(reset as { code?: string } | undefined)?.code ?? reset?.message}`, "WS-7");
        expect(code === expectedCode, `close code ${expectedCode} after ${after}`, code === undefined ? "still open after 5 s" : `close code ${code}`, "WS-7");
      }
    },
  },
];
