// Mutants for the conformance suite's slots cases (round 2); see mutants.ts.
// Each is a server whose count of a connection's requests against
// max_concurrent_requests is wrong in one place [LIMIT-5], modelled by a
// proxy that keeps that wrong count itself (slots-ledger.ts).
import { decodeHello, DispatchCode, encodeHello, FrameType } from "../../src/wire/index.ts";
import type { Mutant } from "./mutating-proxy.ts";
import { ledgerMutant } from "./slots-ledger.ts";

/** The slots cases: each checks that exactly max_concurrent_requests requests are admitted at once, the next one refused without ACK. */
const ALL_SLOTS_CASES = [
  "limits/refusals-take-no-slot",
  "limits/early-deadline-answer-frees-slot",
  "limits/slots-freed-after-unary-and-acked-calls",
  "limits/slots-freed-after-handler-failures",
  "limits/slots-freed-after-oneway-calls",
  "limits/cancelled-requests-free-their-slots",
  "limits/ack-only-for-admitted-requests",
];

/** Codes a handler answers with when it fails; DEADLINE_EXCEEDED and CANCELLED come from the server. */
const failed = (code: DispatchCode, appCode: number) => appCode !== 0 || (code !== DispatchCode.OK && code !== DispatchCode.DEADLINE_EXCEEDED && code !== DispatchCode.CANCELLED);

export const slotsMutants: Mutant[] = [
  ledgerMutant(
    "slots-refusals-counted",
    "counts a request from its arrival, and the refusal paths (unknown method, undecodable body, expired deadline, OVERLOADED) return without giving the slot back [LIMIT-5]",
    ["limits/refusals-take-no-slot"],
    { onRefused: () => 1 },
  ),
  ledgerMutant(
    "slots-overloaded-counted",
    "checks the limit with `if (++active > max) refuse(OVERLOADED)`: every OVERLOADED refusal keeps the slot it took [LIMIT-5]",
    ["limits/refusals-take-no-slot"],
    { onRefused: (_code, byCount) => (byCount ? 1 : 0) },
  ),
  ledgerMutant(
    "slots-leak-on-handler-failure",
    "gives the slot back on the success path only: a handler that fails (application error, HANDLER_ERROR, a throw) keeps its slot for ever [LIMIT-5]",
    ["limits/slots-freed-after-handler-failures"],
    { onFinished: (response) => (failed(response.header.dispatchCode, response.header.appCode) ? 1 : 0) },
  ),
  ledgerMutant(
    "slots-leak-on-early-answer",
    "answers DEADLINE_EXCEEDED at the deadline, then skips the slot's release when the handler returns because the request is already answered [LIMIT-5] [DEADLINE-4]",
    ["limits/early-deadline-answer-frees-slot"],
    { onFinished: (response) => (response.header.dispatchCode === DispatchCode.DEADLINE_EXCEEDED ? 1 : 0) },
  ),
  ledgerMutant(
    "slots-leak-on-cancel",
    "removes a cancelled request from its table at the CANCEL without giving its slot back, and the handler's return no longer finds it to do so [LIMIT-5] [CANCEL-4]",
    ["limits/cancelled-requests-free-their-slots"],
    { onCancelled: () => 1 },
  ),
  ledgerMutant(
    "slots-leak-on-oneway",
    "gives a slot back when it writes the RESPONSE, which a oneway request never gets: each oneway call keeps its slot for ever [LIMIT-5]",
    ["limits/slots-freed-after-oneway-calls"],
    { onFinished: (_response, mode) => (mode === 1 ? 1 : 0) },
  ),
  ledgerMutant(
    "slots-ack-before-limit",
    "sends an acked request's ACK before its concurrency check, so a request then refused OVERLOADED got an ACK too [CALL-6]",
    ALL_SLOTS_CASES,
    { acksBeforeCount: true },
  ),
  ledgerMutant(
    "slots-limit-one-less",
    "refuses when `active + 1 >= max`: with max_concurrent_requests N it admits only N-1 at once [LIMIT-5]",
    ALL_SLOTS_CASES,
    { missingSlots: 1 },
  ),
  {
    name: "slots-limit-one-more",
    description: "refuses when `active > max`: admits max_concurrent_requests + 1 at once (modelled by declaring one less than the limit it enforces) [LIMIT-5]",
    caughtBy: ["limits/over-max-concurrent-requests", ...ALL_SLOTS_CASES],
    serverFrame(frame) {
      if (frame.header.type !== FrameType.HELLO) return [frame];
      const hello = decodeHello(frame.body);
      if (hello.maxConcurrentRequests <= 1) return [frame];
      return [{ header: frame.header, body: encodeHello({ ...hello, maxConcurrentRequests: hello.maxConcurrentRequests - 1 }) }];
    },
  },
];
