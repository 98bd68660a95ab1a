// Encoding a RESPONSE so that it fits what the client accepts: a refusal
// that would not fit is shortened [LIMIT-7], any other answer too large
// becomes RESPONSE_TOO_LARGE [LIMIT-4], and metadata a handler set that
// cannot be sent becomes HANDLER_ERROR [META-6] [STATUS-11].

import {
  DispatchCode,
  encodeFrame,
  encodeFrameHead,
  FrameType,
  SEPARATE_BODY_BYTES,
  type FrameHeaderInit,
  type FrameLimits,
  type MetadataEntry,
} from "../wire/index.ts";
import { exceedsLimits, METADATA_KEY } from "../wire/request-rules.ts";
import { metadataEntryProblem } from "../wire/header-codec.ts";
import { releaseOutput, releaseOutputBody } from "../wire/output-pool.ts";
import { dispatchProcessed } from "../status/index.ts";
import type { ResponseStatus } from "../status/wire-status.ts";

/** A refusal's message is cut to this many bytes when the whole answer would not fit the client's header limit [LIMIT-7]. */
const MAX_REFUSAL_MESSAGE = 256;
const EMPTY_METADATA: MetadataEntry[] = [];
const utf8 = new TextEncoder();

/** What makes handler-supplied response metadata invalid to send, or undefined when it is valid [META-2] [META-6]. */
function metadataProblem(metadata: readonly MetadataEntry[]): string | undefined {
  for (const entry of metadata) {
    const problem = metadataEntryProblem(entry);
    if (problem !== undefined) return problem;
    if (!METADATA_KEY.test(entry.key)) return `metadata key "${entry.key}" is not 1 to 128 bytes of a-z, 0-9, "-", "_" and "." [META-2]`;
  }
  return undefined;
}

/** `text` cut to at most `maxBytes` bytes of UTF-8, at a character boundary. */
function truncateUtf8(text: string, maxBytes: number): string {
  if (text.length * 3 <= maxBytes) return text;
  const bytes = utf8.encode(text);
  if (bytes.length <= maxBytes) return text;
  let end = maxBytes;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--; // not inside a character
  return new TextDecoder().decode(bytes.subarray(0, end));
}

/**
 * The header fields of the RESPONSE being encoded, refilled for each: every
 * RESPONSE header has one object shape, which keeps the encoder's property
 * reads fast, and none is made per response. Encoding keeps no reference.
 */
const responseFields: FrameHeaderInit = {
  type: FrameType.RESPONSE,
  requestId: 0,
  metadata: EMPTY_METADATA,
  dispatchCode: DispatchCode.OK,
  dispatchMessage: "",
  appCode: 0,
  appMessage: "",
};

/** Where a RESPONSE's bytes go; `owned`: encoded for that write alone, the sink's from then on (see Transport.write). */
export interface ByteSink {
  write(bytes: Uint8Array, owned?: boolean): void;
}

/**
 * Writes the RESPONSE to request `id` to `sink`, within the client's
 * `limits` [LIMIT-4] [LIMIT-7]. Throws a TypeError, having written nothing,
 * when the handler's metadata or output cannot be sent as given [META-6].
 * A small response body from the output pool (the server's own encoding)
 * is released once copied into its frame; a large one, or a raw handler's
 * own bytes, is written as it is and kept by no one here.
 */
export function writeResponse(sink: ByteSink, id: number, status: ResponseStatus, body: Uint8Array, limits: FrameLimits): void {
  if (status.metadata !== undefined && status.metadata.length > 0) {
    const problem = metadataProblem(status.metadata);
    if (problem !== undefined) throw new TypeError(`the handler set invalid response metadata: ${problem} [META-6]`);
  }
  if (!(body instanceof Uint8Array)) throw new TypeError("the handler's output is not bytes");
  const fields = responseFields;
  fields.requestId = id;
  fields.metadata = status.metadata ?? EMPTY_METADATA;
  fields.dispatchCode = status.dispatchCode ?? DispatchCode.OK;
  fields.dispatchMessage = status.dispatchMessage ?? "";
  fields.appCode = status.appCode ?? 0;
  fields.appMessage = status.appMessage ?? "";
  // A large body follows its head as is (one write for both); a small one is copied in.
  const separate = body.length >= SEPARATE_BODY_BYTES;
  const frame = separate ? encodeFrameHead(fields, body.length) : encodeFrame(fields, body);
  if (!separate) releaseOutputBody(body);
  if (!exceedsLimits(limits, frame.length - 4 - (separate ? 0 : body.length), body.length)) {
    sink.write(frame, true);
    if (separate) sink.write(body, false);
    return;
  }
  releaseOutput(frame);
  const code = fields.dispatchCode!;
  // A refusal stays a refusal: it is shortened to fit the baseline, never
  // turned into a code that says the request ran [LIMIT-7] [STATUS-6].
  if (dispatchProcessed(code) === "no") {
    sink.write(encodeFrame({ type: FrameType.RESPONSE, requestId: id, dispatchCode: code, dispatchMessage: truncateUtf8(fields.dispatchMessage!, MAX_REFUSAL_MESSAGE) }), true);
    return;
  }
  // Too large for the client: say so instead [LIMIT-4].
  sink.write(
    encodeFrame({
      type: FrameType.RESPONSE,
      requestId: id,
      dispatchCode: DispatchCode.RESPONSE_TOO_LARGE,
      dispatchMessage: `the response exceeds the client's limits of ${limits.maxHeaderSize} header and ${limits.maxBodySize} body bytes`,
    }),
    true,
  );
}
