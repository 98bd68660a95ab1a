// Mutants for the conformance suite's keyed cases (round 2); see mutants.ts.
// Most work inside the reference server through keyed-tap.ts, which tells a
// mutant which request a key ticket belongs to: the mistakes are about when
// a request's keys are released, and that is decided inside the server.
import { CallMode, DispatchCode, FrameType } from "../../src/wire/index.ts";
import { keyedTap } from "./keyed-tap.ts";
import type { Mutant } from "./mutating-proxy.ts";

export const keyedMutants: Mutant[] = [
  {
    name: "keyed-failure-keeps-keys",
    description:
      "releases a keyed request's keys only when its handler succeeds: after an application error or HANDLER_ERROR the key stays held and the requests queued on it never start [KEYS-5]",
    caughtBy: ["keys/failed-handler-releases-keys"],
    serverOptions: () =>
      keyedTap({
        serverFrame(frame, request) {
          const { type, dispatchCode, appCode } = frame.header;
          if (request !== undefined && type === FrameType.RESPONSE && (appCode !== 0 || dispatchCode === DispatchCode.HANDLER_ERROR)) request.state["failed"] = true;
          return undefined;
        },
        release: (request) => request.state["failed"] !== true,
      }),
  },
  {
    name: "keyed-release-at-early-answer",
    description:
      "releases a keyed request's keys when it answers DEADLINE_EXCEEDED, before the signalled handler has returned, so the next request on the key starts while it still runs [KEYS-3]",
    caughtBy: ["keys/deadline-while-running-keeps-key"],
    serverOptions: () =>
      keyedTap({
        serverFrame(frame, request) {
          if (frame.header.type === FrameType.RESPONSE && frame.header.dispatchCode === DispatchCode.DEADLINE_EXCEEDED && request?.ticket?.granted) {
            request.ticket.releaseKeys();
          }
          return undefined;
        },
      }),
  },
  {
    name: "keyed-cancel-ignores-queued",
    description:
      "CANCEL only signals a running handler: a request still waiting for its keys stays queued, runs when its turn comes and is answered [CANCEL-2]",
    caughtBy: ["keys/cancel-while-queued"],
    serverOptions: () =>
      keyedTap({
        clientFrame: (frame, request) => !(frame.header.type === FrameType.CANCEL && request?.ticket !== undefined && !request.ticket.granted),
      }),
  },
  {
    name: "keyed-cancelled-waiter-blocks-key",
    description:
      "a request cancelled while it waits for its keys is forgotten but keeps its place in the key queues, so the requests behind it never start [CANCEL-2] [KEYS-5]",
    caughtBy: ["keys/cancel-while-queued"],
    serverOptions: () =>
      keyedTap({
        clientFrame(frame, request) {
          if (frame.header.type === FrameType.CANCEL && request?.ticket !== undefined && !request.ticket.granted) request.state["cancelled"] = true;
          return true;
        },
        release: (request) => request.state["cancelled"] !== true,
      }),
  },
  {
    name: "keyed-acked-expiry-exceeded",
    description:
      "answers an acked request whose deadline passed while it waited for its keys DEADLINE_EXCEEDED (processed maybe), as if the ACK meant it had started, instead of DEADLINE_EXPIRED [KEYS-6]",
    caughtBy: ["keys/acked-deadline-expires-while-queued"],
    serverFrame(frame, connection) {
      const acked = (connection.state["acked"] ??= new Set<number>()) as Set<number>;
      if (frame.header.type === FrameType.ACK) acked.add(frame.header.requestId);
      if (frame.header.type !== FrameType.RESPONSE || !acked.delete(frame.header.requestId)) return [frame];
      if (frame.header.dispatchCode !== DispatchCode.DEADLINE_EXPIRED) return [frame];
      return [{ header: { ...frame.header, dispatchCode: DispatchCode.DEADLINE_EXCEEDED }, body: frame.body }];
    },
  },
  {
    name: "keyed-ack-at-start",
    description:
      "sends the ACK of a keyed acked request when its handler gets its keys, not at admission: one that waits is not ACKed at once, and one that expires in the queue gets no ACK at all [CALL-6]",
    caughtBy: ["keys/acked-deadline-expires-while-queued", "keys/cancel-while-queued"],
    serverOptions: () =>
      keyedTap({
        serverFrame(frame, request) {
          if (frame.header.type !== FrameType.ACK || request?.ticket === undefined || request.ticket.granted) return undefined;
          request.state["ack"] = frame;
          return [];
        },
        granted(request) {
          const ack = request.state["ack"];
          if (ack !== undefined) request.send(ack as Parameters<typeof request.send>[0]);
        },
      }),
  },
  {
    name: "keyed-ack-stops-deadline",
    description:
      "stops an acked request's deadline timer at its ACK, so one queued behind a key never expires and runs whenever its keys come [DEADLINE-1] [KEYS-6]",
    caughtBy: ["keys/acked-deadline-expires-while-queued", "keys/deadline-while-running-keeps-key"],
    clientFrame(frame) {
      const { type, callMode, keys, timeoutMs } = frame.header;
      // Still refused if already expired on arrival; only the wait after the ACK goes untimed.
      if (type !== FrameType.REQUEST || callMode !== CallMode.ACKED || keys.length === 0 || timeoutMs === undefined || timeoutMs === 0) return [frame];
      return [{ header: { ...frame.header, timeoutMs: undefined }, body: frame.body }];
    },
  },
];
