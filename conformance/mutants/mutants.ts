// The mutant servers: each breaks one requirement, and names the cases that
// must catch it. Run one with `tsx conformance/mutants/server.ts NAME --spawn`.

import { gunzipSync } from "node:zlib";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import { GetStatsResponseSchema } from "../../src/gen/strata/admin/v1/admin_pb.ts";
import { InfoResponseSchema } from "../gen/strata/conformance/v1/conformance_pb.ts";
import {
  CallMode,
  Compression,
  decodeGoaway,
  decodeHello,
  DispatchCode,
  encodeFrame,
  encodeGoaway,
  encodeHello,
  encodePreface,
  FrameType,
  GoawayCode,
  resolveFrameLimits,
  type Frame,
} from "../../src/wire/index.ts";
import { FrameBoundaries } from "./frame-boundaries.ts";
import { LifoKeyScheduler } from "./lifo-key-scheduler.ts";
import type { Mutant, ProxiedConnection } from "./mutating-proxy.ts";
import { answersNoted, noteCalls } from "./noted-calls.ts";
import { reflectionMutants } from "./reflection-mutants.ts";
import { drainMutants } from "./drain-mutants.ts";
import { keyedMutants } from "./keyed-mutants.ts";
import { slotsMutants } from "./slots-mutants.ts";
import { authMutants } from "./auth-mutants.ts";
import { methodRefMutants } from "./method-ref-mutants.ts";
import { connectionAgeMutants } from "./connection-age-mutants.ts";
import { tlsMutants } from "./tls-mutants.ts";
import { webSocketMutants } from "./websocket-mutants.ts";

const KNOWN_TYPES = new Set<number>(Object.values(FrameType));

/** The server's HELLO with one limit declared a byte higher than the server enforces: an implementer's `>=` for `>`. */
function declaresOneMore(frame: Frame, limit: "maxHeaderSize" | "maxBodySize"): Frame[] {
  if (frame.header.type !== FrameType.HELLO) return [frame];
  const hello = decodeHello(frame.body);
  const effective = resolveFrameLimits(hello)[limit];
  return [{ header: frame.header, body: encodeHello({ ...hello, [limit]: effective + 1 }) }];
}

/** Remembers the server's effective body limit from its HELLO, for mutants that answer in its place. */
function noteLimits(frame: Frame, connection: ProxiedConnection): Frame[] {
  if (frame.header.type === FrameType.HELLO) {
    const hello = decodeHello(frame.body);
    connection.state["maxBodySize"] = resolveFrameLimits(hello).maxBodySize;
    connection.state["idleTimeoutMs"] = hello.idleTimeoutMs;
  }
  return [frame];
}

/** Cuts `text` to at most `max` UTF-8 bytes, as a fixed-size message buffer would. */
function cutTo(text: string, max: number): string {
  const bytes = new TextEncoder().encode(text);
  return bytes.length <= max ? text : new TextDecoder().decode(bytes.subarray(0, max));
}

/** Whether a protobuf body has a field numbered above `highest` (fields a strict decoder refuses). */
function hasFieldAbove(body: Uint8Array, highest: number): boolean {
  const reader = new BinaryReader(body);
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field > highest) return true;
    reader.skip(wireType);
  }
  return false;
}

/** The idle clock of a server that counts only whole frames as activity: GOAWAY(IDLE_TIMEOUT) after the declared idle timeout without one. */
function restartWholeFrameIdleClock(connection: ProxiedConnection): void {
  clearTimeout(connection.state["idleTimer"] as ReturnType<typeof setTimeout> | undefined);
  const idle = connection.state["idleTimeoutMs"] as number | undefined;
  if (!idle || connection.closed) return;
  const timer = setTimeout(() => {
    if (connection.closed) return;
    connection.toClient(encodeFrame({ type: FrameType.GOAWAY }, encodeGoaway({ lastRequestId: 0, code: GoawayCode.IDLE_TIMEOUT, message: "[IDLE-1] idle" })));
    connection.endClient();
  }, idle);
  timer.unref();
  connection.state["idleTimer"] = timer;
}

/** Feeds a client's bytes to the connection's FrameBoundaries (made on the first chunk), whose events decide what reaches the server. */
function feedBoundaries(connection: ProxiedConnection, make: () => FrameBoundaries, chunk: Uint8Array): void {
  const splitter = (connection.state["boundaries"] ??= make()) as FrameBoundaries;
  splitter.push(chunk);
}

/** A FrameBoundaries that holds each REQUEST's bytes until its last one, and passes everything else on at once. */
function holdingRequestsWhole(connection: ProxiedConnection): FrameBoundaries {
  const held: Uint8Array[] = [];
  return new FrameBoundaries({
    bytes(bytes, type) {
      if (type === FrameType.REQUEST) held.push(bytes.slice());
      else connection.toServer(bytes);
    },
    frameEnd(type) {
      if (type === FrameType.REQUEST) connection.toServer(Buffer.concat(held.splice(0)));
    },
  });
}

export const mutants: Mutant[] = [
  {
    name: "answers-oneway",
    description: "sends a RESPONSE for oneway calls [CALL-4]",
    caughtBy: ["calls/oneway-runs-and-sends-nothing", "calls/oneway-failure-sends-nothing"],
    clientFrame(frame, connection) {
      if (frame.header.type === FrameType.REQUEST && frame.header.callMode === CallMode.ONEWAY) {
        connection.toClient(encodeFrame({ type: FrameType.RESPONSE, requestId: frame.header.requestId }));
      }
      return [frame];
    },
  },
  {
    name: "wrong-request-id",
    description: "answers with the request id plus one [ID-5] [CALL-8]",
    caughtBy: ["calls/unary-echo", "calls/multiplexed-out-of-order", "sessions/random-operations-on-one-connection"],
    serverFrame(frame) {
      if (frame.header.type !== FrameType.RESPONSE) return [frame];
      return [{ header: { ...frame.header, requestId: frame.header.requestId + 1 }, body: frame.body }];
    },
  },
  {
    name: "no-size-limit",
    description: "accepts any header size, waiting for the bytes instead of refusing [FRAME-5]",
    caughtBy: ["framing/header-size-ffffffff", "framing/header-size-over-declared-limit"],
    clientBytes(chunk, connection) {
      // After the handshake, swallow a size prefix above 16 KiB (and everything after it).
      if (connection.state["swallowing"]) return false;
      if (connection.state["handshook"] && chunk.length >= 4) {
        const size = ((chunk[0]! << 24) | (chunk[1]! << 16) | (chunk[2]! << 8) | chunk[3]!) >>> 0;
        if (size > 16384) {
          connection.state["swallowing"] = true;
          return false;
        }
      }
      return true;
    },
    clientFrame(frame, connection) {
      if (frame.header.type === FrameType.HELLO) connection.state["handshook"] = true;
      return [frame];
    },
  },
  {
    name: "no-idle-timeout",
    description: "never closes an idle connection [IDLE-1]",
    caughtBy: ["idle/silent-connection-closed"],
    serverFrame(frame, connection) {
      if (frame.header.type === FrameType.GOAWAY && decodeGoaway(frame.body).code === GoawayCode.IDLE_TIMEOUT) {
        connection.state["idle"] = true;
        return [];
      }
      return [frame];
    },
    passServerClose: (connection) => !connection.state["idle"],
  },
  {
    name: "wrong-status-layer",
    description: "reports application errors at the dispatch layer [STATUS-1] [STATUS-8]",
    caughtBy: ["status/application-errors-byte-for-byte", "status/application-error-details"],
    serverFrame(frame) {
      if (frame.header.type !== FrameType.RESPONSE || frame.header.appCode === 0) return [frame];
      return [{ header: { ...frame.header, appCode: 0, appMessage: "", dispatchCode: DispatchCode.HANDLER_ERROR, dispatchMessage: frame.header.appMessage }, body: new Uint8Array(0) }];
    },
  },
  {
    name: "starts-expired-requests",
    description: "runs requests whose deadline has already passed [DEADLINE-3]",
    caughtBy: ["deadlines/expired-on-arrival-not-started"],
    clientFrame(frame) {
      if (frame.header.type === FrameType.REQUEST && frame.header.timeoutMs === 0) return [{ header: { ...frame.header, timeoutMs: undefined }, body: frame.body }];
      return [frame];
    },
  },
  {
    name: "rejects-unknown-frame-types",
    description: "treats an unknown frame type as a protocol error instead of skipping it [FRAME-9]",
    caughtBy: ["framing/unknown-type-skipped"],
    clientFrame(frame, connection) {
      if (KNOWN_TYPES.has(frame.header.type)) return [frame];
      connection.toClient(encodeFrame({ type: FrameType.GOAWAY }, encodeGoaway({ lastRequestId: 0, code: GoawayCode.PROTOCOL_ERROR, message: "[FRAME-8] unknown frame type" })));
      connection.endClient();
      return [];
    },
  },
  {
    name: "drops-goaway",
    description: "closes connections without the GOAWAY that says why [FRAME-14] [DRAIN-1]",
    caughtBy: ["framing/header-size-zero", "drain/goaway-then-finish-then-close", "hello/second-hello"],
    serverFrame: (frame) => (frame.header.type === FrameType.GOAWAY ? [] : [frame]),
  },
  {
    name: "waits-for-whole-preface",
    description: "reads all 8 preface bytes before deciding, so a foreign peer waits [PREFACE-2]",
    caughtBy: ["preface/old-style-client-refused-at-once"],
    clientBytes(chunk, connection) {
      const seen = (connection.state["seen"] as number | undefined) ?? 0;
      connection.state["seen"] = seen + chunk.length;
      if (seen >= 8) return true;
      const pending = [...((connection.state["pending"] as number[] | undefined) ?? []), ...chunk];
      connection.state["pending"] = pending;
      if (pending.length < 8) return false; // wait for the rest
      connection.toServer(Uint8Array.from(pending));
      return false;
    },
  },
  {
    name: "one-read-one-frame",
    description: "assumes one read holds exactly one frame: split or coalesced frames are lost [FRAME-3]",
    caughtBy: ["framing/any-chunking", "preface/one-byte-at-a-time"],
    clientBytes(chunk, connection) {
      if (!connection.state["open"]) {
        // The first read carries the preface (and whatever came with it).
        connection.state["open"] = true;
        return true;
      }
      if (chunk.length < 4) return false;
      const size = ((chunk[0]! << 24) | (chunk[1]! << 16) | (chunk[2]! << 8) | chunk[3]!) >>> 0;
      if (chunk.length < 4 + size) return false; // a partial frame: dropped
      connection.toServer(chunk); // whatever else came in this read goes along only if the server is lenient
      return false;
    },
  },
  {
    name: "pong-wrong-payload",
    description: "answers PING with a PONG whose payload is not the PING's [PING-2]",
    caughtBy: ["ping/pong-echoes-payload"],
    serverFrame(frame) {
      if (frame.header.type !== FrameType.PONG) return [frame];
      return [{ header: frame.header, body: Uint8Array.from(frame.body, (b) => b ^ 0xff) }];
    },
  },
  {
    name: "inflates-without-limit",
    description: "decompresses gzip bodies without bounding the output, then handles them as if sent plain [COMP-5]",
    caughtBy: ["compression/decompression-bomb"],
    clientFrame(frame) {
      if (frame.header.type !== FrameType.REQUEST || frame.header.compression !== Compression.GZIP) return [frame];
      try {
        const plain = new Uint8Array(gunzipSync(frame.body));
        return [{ header: { ...frame.header, compression: Compression.IDENTITY }, body: plain }];
      } catch {
        return [frame];
      }
    },
  },
  {
    name: "closes-without-linger",
    description: "closes at once after its GOAWAY, so bytes still arriving make TCP reset the connection [FRAME-18]",
    caughtBy: ["framing/linger-after-goaway"],
    onServerEnd(connection) {
      connection.endClient();
      setTimeout(() => connection.destroyClient(), 10);
    },
  },
  {
    name: "answers-http-with-preface",
    description: "answers an HTTP request with a Strata preface instead of refusing it [PREFACE-3]",
    caughtBy: ["preface/http-request-refused"],
    clientBytes(chunk, connection) {
      if (connection.state["decided"]) return true;
      connection.state["decided"] = true;
      if (chunk[0] === 0x47) {
        connection.toClient(encodePreface());
        connection.endClient();
        return false;
      }
      return true;
    },
  },
  {
    name: "keys-ignored",
    description: "drops the keys of every REQUEST, so requests that share a key run at once [KEYS-3] [KEYS-9]",
    caughtBy: [
      "keys/key-count-and-size",
      "keys/compared-as-bytes",
      "keys/random-keyed-work",
      "keys/same-connection-start-order",
      "keys/cross-connection-start-order",
      "keys/free-keys-not-held-back",
      "keys/keyless-not-queued",
      "keys/multi-key-waits-for-all",
      "keys/opposite-order-multi-key-no-deadlock",
      "keys/queued-deadline-expires",
      "drain/queued-requests-dropped-at-eof",
      "drain/queued-oneway-dropped-at-connection-error",
      "drain/grace-end-answers-queued",
    ],
    clientFrame(frame) {
      if (frame.header.type !== FrameType.REQUEST || frame.header.keys.length === 0) return [frame];
      return [{ header: { ...frame.header, keys: [] }, body: frame.body }];
    },
  },
  {
    name: "header-limit-off-by-one",
    description: "refuses a header of exactly its declared max_header_size (it declares one byte more than it accepts) [FRAME-5] [HELLO-6]",
    caughtBy: ["framing/header-at-declared-limit", "metadata/every-size-up-to-header-limit"],
    serverFrame: (frame) => declaresOneMore(frame, "maxHeaderSize"),
  },
  {
    name: "body-limit-off-by-one",
    description: "refuses a body, plain or inflated, of exactly its declared max_body_size [FRAME-10] [COMP-5]",
    caughtBy: ["framing/body-at-declared-limit", "compression/inflates-to-exactly-the-limit"],
    serverFrame: (frame) => declaresOneMore(frame, "maxBodySize"),
  },
  {
    name: "ping-limit-off-by-one",
    description: "treats a 64-byte PING payload as too large [PING-1]",
    caughtBy: ["ping/pong-echoes-payload"],
    clientFrame(frame, connection) {
      if (frame.header.type !== FrameType.PING || frame.body.length < 64) return [frame];
      connection.toClient(encodeFrame({ type: FrameType.GOAWAY }, encodeGoaway({ lastRequestId: 0, code: GoawayCode.PROTOCOL_ERROR, message: "[PING-1] payload too large" })));
      connection.endClient();
      return [];
    },
  },
  {
    name: "inflates-before-checking-size",
    description: "inflates a gzip body whole, then compares its size with max_body_size: the answer is right, the cost is unbounded [COMP-5]",
    caughtBy: ["compression/gigabyte-bombs-stop-at-the-limit"],
    serverFrame: noteLimits,
    clientFrame(frame, connection) {
      if (frame.header.type !== FrameType.REQUEST || frame.header.compression !== Compression.GZIP) return [frame];
      if (connection.closed) return []; // the case is over: spare the machine the rest
      let size: number;
      try {
        size = gunzipSync(frame.body).length;
      } catch {
        return [frame];
      }
      if (size <= (connection.state["maxBodySize"] as number)) return [frame];
      connection.toClient(encodeFrame({ type: FrameType.RESPONSE, requestId: frame.header.requestId, dispatchCode: DispatchCode.REQUEST_TOO_LARGE, dispatchMessage: "too large" }));
      return [];
    },
  },
  {
    name: "skips-unknown-frames-unchecked",
    description: "skips frames of unknown type without checking their body_size against max_body_size [FRAME-9] [FRAME-10]",
    caughtBy: ["framing/unknown-type-over-body-limit"],
    clientFrame: (frame) => (KNOWN_TYPES.has(frame.header.type) ? [frame] : []),
  },
  {
    name: "deadline-from-end-of-body",
    description: "starts a request's deadline when its body has arrived, not when its header was read [DEADLINE-2]",
    caughtBy: ["deadlines/counted-from-the-end-of-the-header"],
    clientBytes(chunk, connection) {
      // A REQUEST reaches the server only whole, so its deadline starts at its last byte.
      feedBoundaries(connection, () => holdingRequestsWhole(connection), chunk);
      return false; // the FrameBoundaries forwards what it passes on

    },
  },
  {
    name: "deadline-in-signed-32-bit-timer",
    description: "arms a request's deadline with a runtime timer as it is, which ends a timeout_ms of 2^31 or more after 1 ms [DEADLINE-2]",
    caughtBy: ["deadlines/long-timeouts-not-expired"],
    clientFrame: (frame) => {
      const timeoutMs = frame.header.timeoutMs;
      if (frame.header.type !== FrameType.REQUEST || timeoutMs === undefined || timeoutMs < 2 ** 31) return [frame];
      return [{ header: { ...frame.header, timeoutMs: 1 }, body: frame.body }];
    },
  },
  {
    name: "idle-reset-by-whole-frames-only",
    description: "counts only whole frames as activity, so a frame whose bytes trickle in is closed as idle [IDLE-1]",
    caughtBy: ["idle/trickled-frame-keeps-connection-open"],
    serverFrame(frame, connection) {
      noteLimits(frame, connection);
      if (frame.header.type === FrameType.HELLO) restartWholeFrameIdleClock(connection);
      return [frame];
    },
    clientBytes(chunk, connection) {
      // Every byte reaches the server as it comes (so its own idle timer is satisfied); only the
      // proxy's clock, restarted by whole frames alone, closes the connection.
      connection.toServer(chunk);
      feedBoundaries(connection, () => new FrameBoundaries({ bytes: () => {}, frameEnd: () => restartWholeFrameIdleClock(connection) }), chunk);
      return false; // already forwarded
    },
  },
  {
    name: "truncates-long-messages",
    description: "cuts application and dispatch messages to 1 KiB, as a fixed-size buffer would [STATUS-8]",
    caughtBy: ["status/long-messages-byte-for-byte"],
    serverFrame(frame) {
      if (frame.header.type !== FrameType.RESPONSE) return [frame];
      return [{ header: { ...frame.header, appMessage: cutTo(frame.header.appMessage, 1024), dispatchMessage: cutTo(frame.header.dispatchMessage, 1024) }, body: frame.body }];
    },
  },
  {
    name: "expired-for-running-handlers",
    description: "answers DEADLINE_EXPIRED (not processed) when the deadline passes while the handler runs, where DEADLINE_EXCEEDED belongs [DEADLINE-4] [STATUS-4]",
    caughtBy: ["status/deadline-while-running"],
    clientFrame(frame, connection) {
      // When each request's deadline passes, so that only answers the server sent for a passed deadline change.
      if (frame.header.type === FrameType.REQUEST && frame.header.timeoutMs !== undefined) {
        ((connection.state["deadlines"] ??= new Map<number, number>()) as Map<number, number>).set(frame.header.requestId, performance.now() + frame.header.timeoutMs);
      }
      return [frame];
    },
    serverFrame(frame, connection) {
      if (frame.header.type !== FrameType.RESPONSE || frame.header.dispatchCode !== DispatchCode.DEADLINE_EXCEEDED) return [frame];
      const deadline = (connection.state["deadlines"] as Map<number, number> | undefined)?.get(frame.header.requestId);
      if (deadline === undefined || performance.now() < deadline) return [frame];
      return [{ header: { ...frame.header, dispatchCode: DispatchCode.DEADLINE_EXPIRED }, body: frame.body }];
    },
  },
  {
    name: "rejects-unknown-hello-fields",
    description: "decodes HELLO strictly, treating fields it does not know as a protocol error [EXT-1] [HELLO-4]",
    caughtBy: ["hello/unknown-fields-ignored"],
    clientFrame(frame, connection) {
      if (frame.header.type !== FrameType.HELLO || !hasFieldAbove(frame.body, 9)) return [frame];
      connection.toClient(encodeFrame({ type: FrameType.GOAWAY }, encodeGoaway({ lastRequestId: 0, code: GoawayCode.PROTOCOL_ERROR, message: "[HELLO-4] unknown field" })));
      connection.endClient();
      return [];
    },
  },
  {
    name: "drops-rest-of-preface-read",
    description: "reads the preface and discards whatever else came in the same read [FRAME-3]",
    caughtBy: ["hello/handshake-and-requests-in-one-write"],
    clientBytes(chunk, connection) {
      if (connection.state["prefaceRead"]) return true;
      connection.state["prefaceRead"] = true;
      connection.toServer(chunk.subarray(0, 8));
      return false;
    },
  },
  {
    name: "info-reports-latest-id",
    description: "Info reports the highest request id read so far, not its own [CONF-6]",
    caughtBy: ["conformance-service/info-reports-its-own-id"],
    clientFrame: (frame, connection) => noteCalls(frame, connection, "strata.conformance.v1.ConformanceService", "Info"),
    serverFrame(frame, connection) {
      if (!answersNoted(frame, connection)) return [frame];
      const info = fromBinary(InfoResponseSchema, frame.body);
      info.requestId = BigInt(connection.state["maxId"] as number);
      return [{ header: frame.header, body: toBinary(InfoResponseSchema, info) }];
    },
  },
  {
    name: "stats-miss-closed-connections",
    description: "GetStats never counts closed connections [EXT-8]",
    caughtBy: ["admin/get-stats-counts-what-happened"],
    clientFrame: (frame, connection) => noteCalls(frame, connection, "strata.admin.v1.AdminService", "GetStats"),
    serverFrame(frame, connection) {
      if (!answersNoted(frame, connection)) return [frame];
      const stats = fromBinary(GetStatsResponseSchema, frame.body);
      stats.connectionsClosed = 0n;
      return [{ header: frame.header, body: toBinary(GetStatsResponseSchema, stats) }];
    },
  },
  {
    name: "keys-out-of-order",
    description: "a key scheduler that gives freed keys to the newest waiter: never two holders of a key at once, but requests start out of order [KEYS-4] [KEYS-9]",
    caughtBy: ["keys/random-keyed-work", "keys/same-connection-start-order", "keys/cross-connection-start-order", "keys/multi-key-waits-for-all", "keys/opposite-order-multi-key-no-deadlock"],
    serverOptions: () => ({ keyScheduler: new LifoKeyScheduler() }),
  },
  ...keyedMutants,
  ...slotsMutants,
  ...authMutants,
  ...methodRefMutants,
  ...drainMutants,
  ...connectionAgeMutants,
  ...reflectionMutants,
  ...tlsMutants,
  ...webSocketMutants,
];

/** The mutant named `name`, or undefined. */
export function findMutant(name: string): Mutant | undefined {
  return mutants.find((m) => m.name === name);
}
