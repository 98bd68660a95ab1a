// Typed error details [STATUS-9]: an application error may carry messages
// of any protobuf type, each as its type name and encoded bytes
// (strata.v1.ErrorDetail). Handlers build them from a schema and a value;
// callers find the ones of a type they know. Also the canonical application
// codes of spec section 8.4.1, for services that want shared meanings.

import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { ErrorDetailSchema, type ErrorDetail } from "../gen/strata/v1/frame_pb.ts";

export { ErrorDetailSchema, ErrorDetailsSchema, type ErrorDetail, type ErrorDetails } from "../gen/strata/v1/frame_pb.ts";

/**
 * One error detail from a message schema and a value: its fully-qualified
 * type name and its encoding, for `RpcError.application(code, message,
 * [detail])` [STATUS-9].
 */
export function errorDetail<Desc extends DescMessage>(schema: Desc, value: MessageInitShape<Desc>): ErrorDetail {
  return create(ErrorDetailSchema, { type: schema.typeName, value: toBinary(schema, create(schema, value)) });
}

/**
 * The details of `error` (an RpcError, a CallResult's `application`, or
 * anything with `details`) whose type is `schema`'s, decoded, in the order
 * sent; a detail of that type that does not decode is left out, as
 * undecodable details are [STATUS-9].
 */
export function findDetails<Desc extends DescMessage>(error: { readonly details?: readonly ErrorDetail[] } | undefined, schema: Desc): MessageShape<Desc>[] {
  const found: MessageShape<Desc>[] = [];
  for (const detail of error?.details ?? []) {
    if (detail.type !== schema.typeName) continue;
    try {
      found.push(fromBinary(schema, detail.value));
    } catch {
      // not a valid encoding of the type it names: dropped [STATUS-9]
    }
  }
  return found;
}

/**
 * Canonical application codes (spec 8.4.1, informative): shared meanings
 * for `app_code` that services may adopt, numbered as gRPC numbers its
 * status codes, so that 5 is NOT_FOUND as in [EXT-13]. Strata itself
 * assigns no meaning to application codes [STATUS-8]; the numbers gRPC uses
 * for cancellation, deadlines and credentials (1, 4, 16) are left out,
 * because Strata reports those in its transport and dispatch layers.
 */
export const ApplicationCode = {
  /** An error with no better code. */
  UNKNOWN: 2,
  /** The request is invalid whatever the state of the system, e.g. a malformed name. */
  INVALID_ARGUMENT: 3,
  /** Something the request names does not exist. */
  NOT_FOUND: 5,
  /** Something the request would create exists already. */
  ALREADY_EXISTS: 6,
  /** The caller is known but may not do this. */
  PERMISSION_DENIED: 7,
  /** A quota or a resource ran out, e.g. a per-user rate. */
  RESOURCE_EXHAUSTED: 8,
  /** The system is not in the state the request needs, e.g. an account is closed; retrying will not help until it is. */
  FAILED_PRECONDITION: 9,
  /** A conflict with another operation, e.g. an optimistic-lock failure; retrying the whole sequence may help. */
  ABORTED: 10,
  /** A value is past the valid range, e.g. reading past the end. */
  OUT_OF_RANGE: 11,
  /** The method exists but this operation is not implemented. */
  UNIMPLEMENTED: 12,
  /** An invariant broke inside the service. */
  INTERNAL: 13,
  /** A dependency of the service is unavailable for now; retrying later may help. */
  UNAVAILABLE: 14,
  /** Data was lost or corrupted. */
  DATA_LOSS: 15,
} as const;

/** One of the canonical application codes (spec 8.4.1). */
export type ApplicationCode = (typeof ApplicationCode)[keyof typeof ApplicationCode];
