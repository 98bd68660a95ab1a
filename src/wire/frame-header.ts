import { FrameType, type CallMode, type Compression, type DispatchCode } from "../gen/strata/v1/frame_pb.ts";

/**
 * One metadata entry: a lowercase token key and a binary-safe value.
 * Implements [META-1] [META-3].
 */
export interface MetadataEntry {
  key: string;
  value: Uint8Array;
}

/**
 * The decoded protobuf header of a frame, as a plain object: the fields of
 * `strata.v1.FrameHeader` with the request id as a number (never above
 * 2^53-1, [ID-4]). Implements [FRAME-1].
 */
export interface FrameHeader {
  type: FrameType;
  requestId: number;
  bodySize: number;
  service: string;
  method: string;
  callMode: CallMode;
  /** Remaining milliseconds; undefined when the request has no deadline [DEADLINE-1]. */
  timeoutMs: number | undefined;
  metadata: MetadataEntry[];
  keys: string[];
  compression: Compression;
  dispatchCode: DispatchCode;
  dispatchMessage: string;
  appCode: number;
  appMessage: string;
  /** REQUEST: a method reference, binding `service` and `method` or naming them alone; 0 when none [REF-2] [REF-3]. */
  methodRef: number;
}

/**
 * What a sender gives to describe a frame: the type, and any other header
 * field; `route`, when given, is `service` and `method` already encoded
 * (encodeRoute) and is written in their place [FRAME-1].
 */
export type FrameHeaderInit = Partial<FrameHeader> & Pick<FrameHeader, "type"> & { route?: Uint8Array };

/** Creates a header with every field at its proto3 default, then `init` on top [FRAME-1]. */
export function createFrameHeader(init: FrameHeaderInit): FrameHeader {
  return {
    type: init.type,
    requestId: init.requestId ?? 0,
    bodySize: init.bodySize ?? 0,
    service: init.service ?? "",
    method: init.method ?? "",
    callMode: init.callMode ?? 0,
    timeoutMs: init.timeoutMs,
    metadata: init.metadata ?? [],
    keys: init.keys ?? [],
    compression: init.compression ?? 0,
    dispatchCode: init.dispatchCode ?? 0,
    dispatchMessage: init.dispatchMessage ?? "",
    appCode: init.appCode ?? 0,
    appMessage: init.appMessage ?? "",
    methodRef: init.methodRef ?? 0,
  };
}

/** A whole frame: its header and its body [FRAME-1]. */
export interface Frame {
  header: FrameHeader;
  /** The body bytes; may be a view into a chunk the decoder was given. */
  body: Uint8Array;
}

const frameTypeNames: ReadonlyMap<number, string> = new Map(Object.entries(FrameType).map(([name, value]) => [value, name]));

/** The name of a frame type for messages, e.g. "PING", or "type 42" when unknown [FRAME-7]. */
export function frameTypeName(type: number): string {
  return frameTypeNames.get(type) ?? `type ${type}`;
}
