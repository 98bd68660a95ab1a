// strata-rpc/wire: the bytes-only layer. Frames, the header codec, the
// incremental decoder, the preface and connection-level bodies. Imports
// nothing from the layers above it.
export { ProtocolError } from "./protocol-error.ts";
export {
  BASELINE_LIMITS,
  checkedLimits,
  DEFAULT_LIMITS,
  MAX_PING_PAYLOAD,
  MAX_REQUEST_ID,
  resolveFrameLimits,
  resolveLimit,
  type FrameLimits,
} from "./limits.ts";
export {
  createFrameHeader,
  frameTypeName,
  type Frame,
  type FrameHeader,
  type FrameHeaderInit,
  type MetadataEntry,
} from "./frame-header.ts";
export { decodeHeader, encodeHeader, encodeRoute, headerSize, writeHeader } from "./header-codec.ts";
export { encodeFrame, encodeFrameHead, encodeFrames, frameSize, SEPARATE_BODY_BYTES, writeFrame } from "./frame-encoder.ts";
export { createFrameDecoder, FrameDecoder, type FrameDecoderOptions } from "./frame-decoder.ts";
export {
  encodePreface,
  httpRefusal,
  PREFACE_MAGIC,
  PREFACE_SIZE,
  PROTOCOL_VERSION,
  readPreface,
  type PrefaceResult,
} from "./preface.ts";
export { annotateFrame, formatAnnotated, type AnnotatedBytes } from "./frame-annotator.ts";
export { crc32, gunzip, gzip, gzipDataStart, gzipDeclaredSize, type GunzipFailure, type GunzipResult, type RawDeflater, type RawInflater } from "./gzip.ts";
export { decodeGoaway, decodeHello, encodeGoaway, encodeHello, type GoawayInfo } from "./connection-bodies.ts";
export { encodeMessage } from "./message-encoder.ts";
export { decodeMessage } from "./message-decoder.ts";
export {
  CallMode,
  Compression,
  DispatchCode,
  FrameType,
  GoawayCode,
  type Goaway,
  type Hello,
} from "../gen/strata/v1/frame_pb.ts";
export { exceedsUnknownFields, MAX_UNKNOWN_FIELDS } from "./unknown-fields.ts";
