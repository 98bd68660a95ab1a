// The exit code of `strata call`: the layer and the code of a failed call, so
// that a script can tell "not processed, try again" from "the application
// said no" without parsing text [STATUS-1].
//
//    0        the call succeeded
//    2        the command line or the request is wrong (nothing was sent)
//   10..19    transport layer: 10 + the code's place in TransportCode (19: one this version does not know)
//             (10 CONNECT_FAILED … 15 TIMEOUT … 18 PROTOCOL_ERROR)
//   20..59    dispatch layer: 20 + the dispatch code (e.g. 22 UNKNOWN_METHOD, 28 OVERLOADED)
//   64..127   application layer: 64 + the application code; codes above 63 give 127

import { dispatchCodeByName, RpcError, TransportCode } from "../index.ts";

/** Exit code for a usage error: nothing was sent. */
export const EXIT_USAGE = 2;

const TRANSPORT_ORDER: readonly string[] = Object.values(TransportCode);

/** The exit code that encodes `error`'s layer and code (see the table above) [STATUS-1]. */
export function exitCodeFor(error: unknown): number {
  if (!RpcError.is(error)) return EXIT_USAGE;
  if (error.layer === "transport") {
    const place = TRANSPORT_ORDER.indexOf(String(error.code));
    return 10 + (place < 0 ? TRANSPORT_ORDER.length : place);
  }
  if (error.layer === "dispatch") return 20 + Math.min(dispatchCodeNumber(error.code), 39);
  return 64 + Math.min(Number(error.code), 63);
}

/** A dispatch error's code as a number: RpcError names it ("UNKNOWN_METHOD", or "CODE_42" for one this version does not know) [STATUS-7]. */
function dispatchCodeNumber(code: string | number): number {
  if (typeof code === "number") return code;
  const known = dispatchCodeByName(code);
  if (known !== undefined) return known;
  const unknown = /^CODE_(\d+)$/.exec(code);
  return unknown === null ? 39 : Number(unknown[1]);
}
