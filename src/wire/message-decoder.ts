// Request and response bodies from protobuf binary, without protobuf-es's
// BinaryReader (a reader, a DataView and a read context per body). The
// counterpart of message-encoder.ts, for the same messages: proto3
// scalars, enums, nested messages, repeated fields and oneofs.
//
// The result equals `fromBinary(schema, bytes)`: a message made by
// `create(schema)` with the fields read into it; bytes fields are views of
// `bytes`, as protobuf-es makes them. Only the plain encoding of a message
// takes this path. Anything else (unknown fields, a field seen with a wire
// type that is not its own, a message field that must be merged, malformed
// or unusual varints, invalid UTF-8, maps, types protobuf-es treats
// specially) sends the whole body to protobuf-es, which decodes it or
// throws its own error.

import { create, fromBinary, ScalarType, type DescField, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { codecHandles, FALLBACK, WIRE_32, WIRE_64, WIRE_DELIMITED, WIRE_VARINT } from "./body-codec-scope.ts";
import { readUtf8 } from "./utf8.ts";
import { exceedsUnknownFields, MAX_UNKNOWN_FIELDS } from "./unknown-fields.ts";
import { readVarint32, readVarint64, readVarintLow32, varintEnd } from "./varint.ts";

/** Nesting deeper than this goes to protobuf-es, which enforces its own limit of 100. */
const MAX_DEPTH = 64;

let buf: Uint8Array = new Uint8Array(0);
let pos = 0;
const scratch = new DataView(new ArrayBuffer(8));

type Fields = Record<string, unknown>;

/** Reads one occurrence of a field (its tag already read) into `message`. */
type FieldReader = (message: Fields, wireType: number, depth: number) => void;

interface MessagePlan {
  readonly schema: DescMessage;
  /** A new message with every field at its zero value, equal to `create(schema)` [FRAME-1]. */
  readonly zero: () => Fields;
  /** Field readers by field number: an array, which is read faster than a Map (sparse beyond the small numbers, and still correct). */
  readonly readers: (FieldReader | undefined)[];
}

const plans = new WeakMap<DescMessage, MessagePlan | null>();

/**
 * Decodes a request or response body of type `schema`: equal to protobuf-es
 * `fromBinary(schema, bytes)`, and the same errors for bytes it rejects [FRAME-1].
 */
export function decodeMessage<Desc extends DescMessage>(schema: Desc, bytes: Uint8Array): MessageShape<Desc> {
  const plan = planOf(schema);
  if (plan !== undefined) {
    try {
      buf = bytes;
      pos = 0;
      const message = readMessage(plan, bytes.length, 0);
      buf = EMPTY;
      return message as MessageShape<Desc>;
    } catch (error) {
      buf = EMPTY;
      if (error !== FALLBACK) throw error;
    }
  }
  // protobuf-es keeps each unknown field as an object: past the bound, the body is refused instead [LIMIT-8].
  if (exceedsUnknownFields(schema, bytes)) throw new Error(`the body holds more than ${MAX_UNKNOWN_FIELDS} unknown fields [LIMIT-8]`);
  return fromBinary(schema, bytes);
}

const EMPTY = new Uint8Array(0);

function readMessage(plan: MessagePlan, end: number, depth: number): Fields {
  if (depth > MAX_DEPTH) throw FALLBACK;
  const message = plan.zero();
  const readers = plan.readers;
  while (pos < end) {
    const tag = readTagOrLength();
    const reader = readers[tag >>> 3];
    if (reader === undefined) throw FALLBACK; // unknown field: kept in $unknown by protobuf-es
    reader(message, tag & 7, depth);
  }
  if (pos !== end) throw FALLBACK;
  return message;
}

function planOf(schema: DescMessage): MessagePlan | undefined {
  const known = plans.get(schema);
  if (known !== undefined) return known ?? undefined;
  if (!codecHandles(schema)) {
    plans.set(schema, null);
    return undefined;
  }
  const plan: MessagePlan = { schema, zero: zeroMessage(schema), readers: [] };
  // Registered first, so that a recursive type finds itself.
  plans.set(schema, plan);
  for (const field of schema.fields) {
    const reader = planField(field);
    if (reader === undefined) {
      plans.set(schema, null);
      return undefined;
    }
    plan.readers[field.number] = reader;
  }
  return plan;
}

/**
 * Makes zero messages of `schema` as a copy of one made by protobuf-es's
 * `create`, which costs twice as much per message in V8: every field
 * shares the copied zero value except lists and oneofs, which each message
 * gets afresh, as from `create`. A message type whose zero values are on a
 * prototype (proto2 defaults) is left to `create`. Map fields never get
 * here: their messages go to protobuf-es whole.
 */
function zeroMessage(schema: DescMessage): () => Fields {
  const template = create(schema) as Fields;
  if (Object.getPrototypeOf(template) !== Object.prototype) return () => create(schema) as Fields;
  const lists = schema.fields.filter((field) => field.fieldKind === "list").map((field) => field.localName);
  const oneofs = schema.oneofs.map((oneof) => oneof.localName);
  if (lists.length === 0 && oneofs.length === 0) return () => ({ ...template });
  return () => {
    const message = { ...template };
    for (const name of lists) message[name] = [];
    for (const name of oneofs) message[name] = { case: undefined };
    return message;
  };
}

/** Reads one value of a field, its tag already read and its wire type checked. */
type ValueReader = (depth: number) => unknown;

function planField(field: DescField): FieldReader | undefined {
  if (field.fieldKind === "map") return undefined;
  const name = field.localName;
  if (field.fieldKind === "list") {
    if (field.listKind === "message") {
      if (field.delimitedEncoding || !codecHandles(field.message)) return undefined;
      const read = messageReader(field.message);
      return (message, wireType, depth) => {
        if (wireType !== WIRE_DELIMITED) throw FALLBACK;
        (message[name] as unknown[]).push(read(depth));
      };
    }
    const type = field.listKind === "enum" ? ScalarType.INT32 : field.scalar;
    if (field.listKind === "scalar" && field.longAsString) return undefined;
    const [wire, read] = scalarReader(type);
    const packable = wire !== WIRE_DELIMITED;
    return (message, wireType, depth) => {
      const items = message[name] as unknown[];
      if (wireType === wire) {
        items.push(read(depth));
        return;
      }
      if (!packable || wireType !== WIRE_DELIMITED) throw FALLBACK;
      const end = delimitedEnd();
      while (pos < end) items.push(read(depth));
      if (pos !== end) throw FALLBACK;
    };
  }
  let wire: number;
  let read: ValueReader;
  if (field.fieldKind === "message") {
    if (field.delimitedEncoding || !codecHandles(field.message)) return undefined;
    wire = WIRE_DELIMITED;
    read = messageReader(field.message);
  } else {
    if (field.fieldKind === "scalar" && field.longAsString) return undefined;
    if (field.fieldKind === "enum" && !field.enum.open) return undefined;
    [wire, read] = scalarReader(field.fieldKind === "enum" ? ScalarType.INT32 : field.scalar);
  }
  const isMessage = field.fieldKind === "message";
  if (field.oneof !== undefined) {
    const group = field.oneof.localName;
    return (message, wireType, depth) => {
      if (wireType !== wire) throw FALLBACK;
      // A second message in the same oneof is merged by protobuf-es.
      if (isMessage && (message[group] as { case: unknown }).case === name) throw FALLBACK;
      message[group] = { case: name, value: read(depth) };
    };
  }
  return (message, wireType, depth) => {
    if (wireType !== wire) throw FALLBACK;
    // A message field seen twice is merged by protobuf-es; a scalar's last value wins.
    if (isMessage && message[name] !== undefined) throw FALLBACK;
    message[name] = read(depth);
  };
}

function messageReader(schema: DescMessage): ValueReader {
  let plan: MessagePlan | undefined;
  return (depth) => {
    plan ??= planOf(schema);
    if (plan === undefined) throw FALLBACK;
    const end = delimitedEnd();
    return readMessage(plan, end, depth + 1);
  };
}

/** Reads a length prefix; returns where the delimited value ends. */
function delimitedEnd(): number {
  const length = readTagOrLength();
  const end = pos + length;
  if (end > buf.length) throw FALLBACK;
  return end;
}

/** The wire type and reader of a scalar type (enums as INT32). */
function scalarReader(type: ScalarType): [number, ValueReader] {
  switch (type) {
    case ScalarType.STRING:
      return [
        WIRE_DELIMITED,
        () => {
          const end = delimitedEnd();
          const text = readUtf8(buf, pos, end);
          if (text === undefined) throw FALLBACK;
          pos = end;
          return text;
        },
      ];
    case ScalarType.BYTES:
      return [
        WIRE_DELIMITED,
        () => {
          const end = delimitedEnd();
          // A plain view (cheaper than a Buffer's subarray when the body is a Buffer).
          const bytes = new Uint8Array(buf.buffer, buf.byteOffset + pos, end - pos);
          pos = end;
          return bytes;
        },
      ];
    case ScalarType.BOOL:
      return [
        WIRE_VARINT,
        () => {
          // 0 and 1 are one byte; other encodings go to protobuf-es.
          if (pos >= buf.length || buf[pos]! >= 0x80) throw FALLBACK;
          return buf[pos++] !== 0;
        },
      ];
    case ScalarType.INT32:
      return [WIRE_VARINT, () => readLow32() | 0];
    case ScalarType.UINT32:
      return [WIRE_VARINT, () => readLow32()];
    case ScalarType.SINT32:
      return [
        WIRE_VARINT,
        () => {
          const n = readLow32();
          return (n >>> 1) ^ -(n & 1);
        },
      ];
    case ScalarType.FIXED32:
      return [WIRE_32, () => readFixed32()];
    case ScalarType.SFIXED32:
      return [WIRE_32, () => readFixed32() | 0];
    case ScalarType.FLOAT:
      return [WIRE_32, () => readFloat(4)];
    case ScalarType.DOUBLE:
      return [WIRE_64, () => readFloat(8)];
    case ScalarType.INT64:
      return [WIRE_VARINT, () => BigInt.asIntN(64, readUint64())];
    case ScalarType.UINT64:
      return [WIRE_VARINT, () => readUint64()];
    case ScalarType.SINT64:
      return [
        WIRE_VARINT,
        () => {
          const n = readUint64();
          return (n >> 1n) ^ -(n & 1n);
        },
      ];
    case ScalarType.FIXED64:
      return [WIRE_64, () => readFixed64()];
    case ScalarType.SFIXED64:
      return [WIRE_64, () => BigInt.asIntN(64, readFixed64())];
  }
}

// The varints of a body, read at `pos` by varint.ts; bytes it cannot read go to protobuf-es.

/** A tag or a length: a varint of at most 32 bits in at most 5 bytes; anything longer or larger goes to protobuf-es. */
function readTagOrLength(): number {
  const value = readVarint32(buf, pos, buf.length);
  if (value < 0) throw FALLBACK;
  pos = varintEnd;
  return value;
}

/** A 32-bit field's value: the low 32 bits of a varint of up to 10 bytes, as protobuf-es reads 32-bit varint fields. */
function readLow32(): number {
  const value = readVarintLow32(buf, pos, buf.length);
  if (value < 0) throw FALLBACK;
  pos = varintEnd;
  return value;
}

/** A 64-bit field's value: an unsigned 64-bit varint in at most 10 bytes. */
function readUint64(): bigint {
  const value = readVarint64(buf, pos, buf.length);
  if (value === undefined) throw FALLBACK;
  pos = varintEnd;
  return value;
}

function readFixed32(): number {
  if (pos + 4 > buf.length) throw FALLBACK;
  const value = (buf[pos]! | (buf[pos + 1]! << 8) | (buf[pos + 2]! << 16) | (buf[pos + 3]! << 24)) >>> 0;
  pos += 4;
  return value;
}

function readFixed64(): bigint {
  const lo = readFixed32();
  const hi = readFixed32();
  return (BigInt(hi) << 32n) | BigInt(lo);
}

function readFloat(size: 4 | 8): number {
  if (pos + size > buf.length) throw FALLBACK;
  for (let i = 0; i < size; i++) scratch.setUint8(i, buf[pos + i]!);
  pos += size;
  return size === 4 ? scratch.getFloat32(0, true) : scratch.getFloat64(0, true);
}
