// The REQUEST frames of one client connection: the header fields refilled
// for each request (no object per request on the hot path), the method named
// by its names or, on a connection whose server takes method references
// (spec section 7.7), by the reference bound to it there, and the checks
// against the server's limits before anything is written.
//
// A connection binds the first 256 methods called on it, each with the next
// reference in the order they are first called; a binding counts once
// nothing stops its request from being written, and is never changed.

import { Compression, encodeFrame, encodeFrameHead, FrameType, SEPARATE_BODY_BYTES, type FrameHeaderInit, type FrameLimits } from "../wire/index.ts";
import { RpcError, TransportCode } from "../status/index.ts";
import { exceedsLimits, MAX_METHOD_REF, MAX_BOUND_NAME_BYTES } from "../wire/request-rules.ts";
import type { RequestHead } from "./call-ticket.ts";

/** Encodes the requests of one connection [FRAME-1] [LIMIT-4] [REF-2] [REF-3] [REF-4]. */
export class RequestEncoder {
  private readonly limits: FrameLimits;
  /** The references bound here, by the encoded names of their method (RequestHead.route); undefined when the server takes none [REF-1]. */
  private readonly refs: Map<Uint8Array, number> | undefined;
  /** The header fields of the request being encoded, refilled for each: encoding keeps no reference to them. */
  private readonly fields: FrameHeaderInit = {
    type: FrameType.REQUEST,
    requestId: 0,
    service: "",
    method: "",
    route: undefined,
    callMode: 0,
    timeoutMs: 0,
    metadata: [],
    keys: [],
    compression: Compression.IDENTITY,
    methodRef: 0,
  };
  /** The reference the request encoded last binds, or 0. */
  private binding = 0;
  /** Bytes of the names bound on the connection, as their encoded header fields: at most MAX_BOUND_NAME_BYTES [REF-5]. */
  private boundBytes = 0;

  /** For a server with these limits; `methodRefs`: whether it lists method-refs [REF-1]. */
  constructor(limits: FrameLimits, methodRefs: boolean) {
    this.limits = limits;
    this.refs = methodRefs ? new Map() : undefined;
  }

  /**
   * The frame of request `id` (its head alone when the body is large enough
   * to be written as it is: `separate(body)`). Throws transport
   * INVALID_INPUT when the header cannot be encoded, and LIMIT_EXCEEDED
   * when the frame exceeds the server's limits, `size` being the body's size
   * once decompressed; both not processed, and nothing is bound [LIMIT-4].
   */
  encode(head: RequestHead, id: number, timeoutMs: number | undefined, body: Uint8Array, compression: Compression, size: number): Uint8Array {
    const fields = this.fields;
    fields.requestId = id;
    this.binding = this.nameMethod(head);
    fields.callMode = head.callMode;
    fields.timeoutMs = timeoutMs;
    fields.metadata = head.metadata;
    fields.keys = head.keys;
    fields.compression = compression;
    const separate = RequestEncoder.separate(body);
    let frame = this.encodeFields(body, separate);
    let headerSize = frame.length - 4 - (separate ? 0 : body.length);
    if (this.binding !== 0 && headerSize > this.limits.maxHeaderSize) {
      // A request that fits with its names alone is not failed for the reference it would bind: it binds none [REF-4].
      this.binding = 0;
      fields.methodRef = 0;
      frame = this.encodeFields(body, separate);
      headerSize = frame.length - 4 - (separate ? 0 : body.length);
    }
    // A gzip body must fit the limit both as sent and once decompressed (`size`) [LIMIT-3].
    if (exceedsLimits(this.limits, headerSize, Math.max(body.length, size))) {
      throw RpcError.transport(
        TransportCode.LIMIT_EXCEEDED,
        `the request exceeds the server's limits of ${this.limits.maxHeaderSize} header and ${this.limits.maxBodySize} body bytes [LIMIT-4]`,
        "no",
      );
    }
    return frame;
  }

  /**
   * The request `encode` returned last, of `head`, is about to be written:
   * its binding counts from now [REF-4]. Called after every check, and before
   * the write, so that a call made from within the write binds the next
   * reference, not this one.
   */
  writing(head: RequestHead): void {
    if (this.binding !== 0) {
      this.refs!.set(head.route!, this.binding);
      this.boundBytes += head.route!.length;
    }
    this.binding = 0;
  }

  /** Whether a body is written as it is after its frame's head, not copied into the frame. */
  static separate(body: Uint8Array): boolean {
    return body.length >= SEPARATE_BODY_BYTES;
  }

  /**
   * Writes `head`'s method into the fields: by its reference alone when it is
   * bound here [REF-3]; else by its names and, while references are left,
   * the next one [REF-2]. Returns the reference the request binds, or 0.
   */
  private nameMethod(head: RequestHead): number {
    const fields = this.fields;
    const route = head.route;
    const ref = route === undefined ? undefined : this.refs?.get(route);
    if (ref !== undefined) {
      fields.service = "";
      fields.method = "";
      fields.route = undefined;
      fields.methodRef = ref;
      return 0;
    }
    fields.service = head.service;
    fields.method = head.method;
    fields.route = route;
    const refs = this.refs;
    // The encoded names count their tags and lengths too: never less than their UTF-8 bytes [REF-5].
    const next = refs === undefined || route === undefined || refs.size >= MAX_METHOD_REF || this.boundBytes + route.length > MAX_BOUND_NAME_BYTES ? 0 : refs.size + 1;
    fields.methodRef = next;
    return next;
  }

  private encodeFields(body: Uint8Array, separate: boolean): Uint8Array {
    try {
      return separate ? encodeFrameHead(this.fields, body.length) : encodeFrame(this.fields, body);
    } catch (error) {
      // Nothing was written: a local failure, never a dispatch code [STATUS-2] [STATUS-3].
      throw RpcError.transport(TransportCode.INVALID_INPUT, `the request header cannot be encoded: ${(error as Error).message}`, "no", error);
    }
  }
}
