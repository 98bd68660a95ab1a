// Converts between the hand codec's plain FrameHeader and protobuf-es
// messages, so the two codecs can be compared.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { FrameHeaderSchema, type FrameHeader as ProtoFrameHeader } from "../../src/gen/strata/v1/frame_pb.ts";
import type { FrameHeader } from "../../src/wire/index.ts";

export function toProto(header: FrameHeader): ProtoFrameHeader {
  const init: MessageInitShape<typeof FrameHeaderSchema> = {
    type: header.type,
    requestId: BigInt(header.requestId),
    bodySize: header.bodySize,
    service: header.service,
    method: header.method,
    callMode: header.callMode,
    metadata: header.metadata.map((e) => ({ key: e.key, value: e.value })),
    keys: header.keys,
    compression: header.compression,
    dispatchCode: header.dispatchCode,
    dispatchMessage: header.dispatchMessage,
    appCode: header.appCode,
    appMessage: header.appMessage,
    methodRef: header.methodRef,
  };
  if (header.timeoutMs !== undefined) init.timeoutMs = header.timeoutMs;
  return create(FrameHeaderSchema, init);
}

export function fromProto(message: ProtoFrameHeader): FrameHeader {
  return {
    type: message.type,
    requestId: Number(message.requestId),
    bodySize: message.bodySize,
    service: message.service,
    method: message.method,
    callMode: message.callMode,
    timeoutMs: message.timeoutMs,
    metadata: message.metadata.map((e) => ({ key: e.key, value: e.value })),
    keys: [...message.keys],
    compression: message.compression,
    dispatchCode: message.dispatchCode,
    dispatchMessage: message.dispatchMessage,
    appCode: message.appCode,
    appMessage: message.appMessage,
    methodRef: message.methodRef,
  };
}

/** A plain, comparable form: Uint8Array values as arrays of numbers. */
export function comparable(header: FrameHeader): unknown {
  return { ...header, metadata: header.metadata.map((e) => ({ key: e.key, value: Array.from(e.value) })) };
}

/** Hex of bytes, for messages. */
export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
}
