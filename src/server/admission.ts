// The admission checks of spec section 7.5, as one function in the spec's
// order: the first that fails decides the not-processed code the request is
// answered with. The checks that need the body or a slot (decompression,
// decoding, concurrency) follow in request-pipeline.ts.

import { CallMode, Compression, DispatchCode, type FrameHeader } from "../wire/index.ts";
import { keysProblem, METADATA_KEY } from "../wire/request-rules.ts";
import type { RegisteredMethod, ServiceRegistry } from "./service-registry.ts";

/** A request refused before it is in flight: the code and message of its RESPONSE [STATUS-6]. */
export interface Refusal {
  readonly code: DispatchCode;
  readonly message: string;
}

/** What the checks need to know about the server and the connection. */
export interface AdmissionScope {
  readonly registry: ServiceRegistry;
  /** Whether the server offers keyed dispatch [KEYS-2]. */
  readonly keyedDispatch: boolean;
  /** The last_request_id of this connection's GOAWAY, once it is draining [DRAIN-8]. */
  readonly goawayLastId: number | undefined;
}

/** The message of a request whose deadline passed before its handler started [DEADLINE-3]. */
export const EXPIRED_BEFORE_START = "the deadline passed before the handler started [DEADLINE-3]";

/** Names from the peer are quoted in messages up to this many UTF-16 units. */
const MAX_QUOTED = 128;

/** A name the peer sent, quoted for a dispatch message and cut to MAX_QUOTED units [STATUS-5]. */
function quoted(name: string): string {
  return name.length <= MAX_QUOTED ? JSON.stringify(name) : `${JSON.stringify(name.slice(0, MAX_QUOTED))}...`;
}

function refusal(code: DispatchCode, message: string): Refusal {
  return { code, message };
}

/**
 * Checks a received REQUEST in the order of section 7.5 [CALL-1] [CALL-2]
 * [META-2] [KEYS-1] [KEYS-2] [COMP-4] [DRAIN-8] [DEADLINE-3] [STATUS-4]:
 * the method to run, or the refusal. `deadline` and `receivedAt` (when the
 * header was read) are on performance.now()'s clock; `deadline` is
 * undefined without one. The deadline is checked as of `receivedAt`, with
 * no clock read of its own: a deadline that passes later, while the request
 * waits, is caught by the check at start (section 7.5) [CALL-10].
 */
export function admissionCheck(header: FrameHeader, deadline: number | undefined, receivedAt: number, scope: AdmissionScope): RegisteredMethod | Refusal {
  const mode = header.callMode;
  if (mode !== CallMode.UNARY && mode !== CallMode.ONEWAY && mode !== CallMode.ACKED) {
    return refusal(DispatchCode.INVALID_REQUEST, `unknown call mode ${mode} [CALL-1]`);
  }
  if (header.service === "" || header.method === "") {
    return refusal(DispatchCode.INVALID_REQUEST, "service and method must not be empty [CALL-2]");
  }
  for (const entry of header.metadata) {
    if (!METADATA_KEY.test(entry.key)) return refusal(DispatchCode.INVALID_REQUEST, `invalid metadata key ${quoted(entry.key)} [META-2]`);
  }
  if (header.keys.length > 0) {
    const problem = keysProblem(header.keys);
    if (problem !== undefined) return refusal(DispatchCode.INVALID_REQUEST, problem);
    if (!scope.keyedDispatch) return refusal(DispatchCode.UNSUPPORTED, "this server does not implement keyed-dispatch [KEYS-2]");
  }
  if (header.compression !== Compression.IDENTITY && header.compression !== Compression.GZIP) {
    return refusal(DispatchCode.UNSUPPORTED, `compression ${header.compression} is not listed in this server's HELLO [COMP-4]`);
  }
  const lastId = scope.goawayLastId;
  if (lastId !== undefined && header.requestId > lastId) {
    return refusal(DispatchCode.SHUTTING_DOWN, `the server is draining; request ${header.requestId} is above last_request_id ${lastId} [DRAIN-8]`);
  }
  if (deadline !== undefined && deadline <= receivedAt) {
    return refusal(DispatchCode.DEADLINE_EXPIRED, EXPIRED_BEFORE_START);
  }
  const service = scope.registry.service(header.service);
  if (service === undefined) return refusal(DispatchCode.UNKNOWN_SERVICE, `unknown service ${quoted(header.service)}`);
  const method = service.get(header.method);
  if (method === undefined) return refusal(DispatchCode.UNKNOWN_METHOD, `unknown method ${quoted(header.method)} in ${quoted(header.service)}`);
  return method;
}

/** Whether an admission check refused the request. */
export function isRefusal(result: RegisteredMethod | Refusal): result is Refusal {
  return typeof (result as Partial<Refusal>).code === "number";
}
