// Request and response bodies to protobuf binary, straight into pooled
// bytes: a pass that sizes the message, then one that writes it, with no
// BinaryWriter, no growing buffer and no final copy. protobuf-es `toBinary`
// allocates a fresh 128-byte buffer per message and then slices it, two
// backing stores per body, about a tenth of the CPU time of a small call.
//
// The output is byte for byte what `toBinary(schema, create(schema, value))`
// writes (fields in number order, unknown fields last). Only what is common
// takes this path: proto3 messages of scalars, enums, nested messages,
// repeated fields and oneofs, each value of its expected JavaScript type.
// Anything else (maps, proto2 or editions files, well-known types with a
// special local form, a value of another type) goes to protobuf-es, which
// encodes it or throws its own error.

import { create, ScalarType, toBinary, type DescField, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { codecHandles, FALLBACK, WIRE_32, WIRE_64, WIRE_DELIMITED, WIRE_VARINT } from "./body-codec-scope.ts";
import { allocateBytes } from "./byte-pool.ts";
import { utf8Length, writeUtf8 } from "./utf8.ts";
import { float32Of, implicitIsSet, int32Of, int64Of, numberOf, uint32Of, uint64Of, zigzag32, zigzag64 } from "./encoder-values.ts";
import { bigVarintSize, int32VarintSize, varintSize, writeBigVarint, writeInt32Varint, writeVarint } from "./varint.ts";

/** FieldPresence.IMPLICIT in protobuf-es descriptors. */
const IMPLICIT = 2;

/**
 * State of the encoding in progress: lengths found by the sizing pass (the
 * first `sized` of `lengths`), read back in the same order by the writing
 * pass. Reset by count, not by truncating the array, which costs a runtime
 * call per message; truncated only after a message with many lengths, so it
 * holds no more than MAX_KEPT_LENGTHS between messages.
 */
const lengths: number[] = [];
let sized = 0;
let cursor = 0;
const MAX_KEPT_LENGTHS = 1024;
let buf: Uint8Array = new Uint8Array(0);
let pos = 0;
const scratch = new DataView(new ArrayBuffer(8));

type Fields = Record<string, unknown>;

interface FieldPlan {
  /**
   * Bytes the field takes (tags included), 0 when it is not written.
   * `isMessage`: the value is a message of the type (it has the type's
   * $typeName), not an init shape, so every field without presence must
   * be there, as protobuf-es requires of a message.
   */
  size(message: Fields, isMessage: boolean): number;
  write(message: Fields): void;
}

/** How one message type is encoded, or undefined if protobuf-es must do it. */
interface MessagePlan {
  readonly typeName: string;
  fields: FieldPlan[];
}

const plans = new WeakMap<DescMessage, MessagePlan | null>();

/**
 * Encodes a request or response body: `value` is a message of `schema` or
 * its init shape. Same bytes as protobuf-es `toBinary(schema, create(schema,
 * value))`, and the same errors for values it cannot encode [FRAME-1].
 * `allocate` gives the bytes to write into (filled completely): a server's
 * responses take them from the output pool, to be released once copied.
 */
export function encodeMessage(schema: DescMessage, value: unknown, allocate: (size: number) => Uint8Array = allocateBytes): Uint8Array {
  const plan = planOf(schema);
  // `encoding`: a getter of the value being encoded may encode a message itself; that one goes to protobuf-es.
  if (plan !== undefined && !encoding && isObject(value)) {
    encoding = true;
    try {
      sized = 0;
      const size = sizeMessage(plan, value as Fields);
      const out = allocate(size);
      buf = out;
      pos = 0;
      cursor = 0;
      writeMessage(plan, value as Fields);
      buf = EMPTY;
      if (pos !== size) throw new Error(`internal error: ${schema.typeName} sized ${size} bytes, wrote ${pos}`);
      return out;
    } catch (error) {
      buf = EMPTY;
      if (error !== FALLBACK) throw error;
    } finally {
      encoding = false;
      if (lengths.length > MAX_KEPT_LENGTHS) lengths.length = 0;
    }
  }
  // create() would make an empty message of a string or a number, and send it as if it were meant.
  if (value !== undefined && value !== null && typeof value !== "object") throw new TypeError(`a ${schema.typeName} must be an object, not ${typeof value}`);
  // create() returns a message of the schema as it is.
  return toBinary(schema, create(schema, value as MessageInitShape<DescMessage>));
}

const EMPTY = new Uint8Array(0);
let encoding = false;

/** An object, not an array: what protobuf-es's create() takes as an init shape or a message. */
function isObject(value: unknown): value is Fields {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

type UnknownField = { no: number; wireType: number; data: Uint8Array };

/** A message's unknown fields, written after its known ones; create() drops them from an init shape. */
function unknownFields(plan: MessagePlan, message: Fields): UnknownField[] | undefined {
  return message.$typeName === plan.typeName ? (message.$unknown as UnknownField[] | undefined) : undefined;
}

function sizeMessage(plan: MessagePlan, message: Fields): number {
  const typeName = message.$typeName;
  if (typeName !== undefined && typeName !== plan.typeName) throw FALLBACK;
  const isMessage = typeName !== undefined;
  let size = 0;
  const fields = plan.fields;
  for (let i = 0; i < fields.length; i++) size += fields[i]!.size(message, isMessage);
  const unknown = unknownFields(plan, message);
  if (unknown !== undefined) {
    if (!Array.isArray(unknown)) throw FALLBACK;
    for (const field of unknown) {
      const { no, wireType, data } = field;
      if (!Number.isInteger(no) || no < 1 || no > 0x1fffffff || !Number.isInteger(wireType) || wireType < 0 || wireType > 5 || !(data instanceof Uint8Array)) {
        throw FALLBACK;
      }
      size += varintSize(no * 8 + wireType) + data.length;
    }
  }
  return size;
}

function writeMessage(plan: MessagePlan, message: Fields): void {
  const fields = plan.fields;
  for (let i = 0; i < fields.length; i++) fields[i]!.write(message);
  const unknown = unknownFields(plan, message);
  if (unknown !== undefined) {
    for (const field of unknown) {
      pos = writeVarint(field.no * 8 + field.wireType, buf, pos);
      buf.set(field.data, pos);
      pos += field.data.length;
    }
  }
}

/** The plan of a message type, compiled on first use; undefined when any part of it needs protobuf-es. */
function planOf(schema: DescMessage): MessagePlan | undefined {
  const known = plans.get(schema);
  if (known !== undefined) return known ?? undefined;
  if (!codecHandles(schema)) {
    plans.set(schema, null);
    return undefined;
  }
  const plan: MessagePlan = { typeName: schema.typeName, fields: [] };
  // Registered first, so that a recursive type finds itself.
  plans.set(schema, plan);
  const fields: FieldPlan[] = [];
  for (const field of [...schema.fields].sort((a, b) => a.number - b.number)) {
    const fieldPlan = planField(field);
    if (fieldPlan === undefined) {
      plans.set(schema, null);
      return undefined;
    }
    fields.push(fieldPlan);
  }
  plan.fields = fields;
  return plan;
}

/** A value's encoder without its tag: size and write. */
interface ValueCodec {
  readonly wireType: number;
  /** `inMessage`: the value sits in a message, not in an init shape, so a nested message must be a message too. */
  size(value: unknown, inMessage: boolean): number;
  write(value: unknown): void;
}

function planField(field: DescField): FieldPlan | undefined {
  if (field.fieldKind === "map") return undefined;
  const tag = field.number * 8;
  const name = field.localName;
  if (field.fieldKind === "list") {
    const codec = field.listKind === "message" ? messageCodec(field.message) : scalarCodec(field.listKind === "enum" ? ScalarType.INT32 : field.scalar);
    if (codec === undefined || (field.listKind === "message" && field.delimitedEncoding)) return undefined;
    if (field.packed && codec.wireType !== WIRE_DELIMITED) return packedList(name, tag, codec);
    return repeatedList(name, tag + codec.wireType, codec);
  }
  const codec = field.fieldKind === "message" ? messageCodec(field.message) : scalarCodec(field.fieldKind === "enum" ? ScalarType.INT32 : field.scalar);
  if (codec === undefined || (field.fieldKind === "message" && field.delimitedEncoding)) return undefined;
  const tagged = tag + codec.wireType;
  const tagSize = varintSize(tagged);
  if (field.oneof !== undefined) {
    const group = field.oneof.localName;
    return {
      size(message, isMessage) {
        const oneof = message[group] as { case?: string; value?: unknown } | undefined;
        if (oneof === undefined && isMessage) throw FALLBACK;
        if (oneof === undefined || oneof.case !== name) return 0;
        return tagSize + codec.size(oneof.value, isMessage);
      },
      write(message) {
        const oneof = message[group] as { case?: string; value?: unknown } | undefined;
        if (oneof === undefined || oneof.case !== name) return;
        pos = writeVarint(tagged, buf, pos);
        codec.write(oneof.value);
      },
    };
  }
  const hasPresence = field.fieldKind === "message" || field.presence !== IMPLICIT;
  const isSet = hasPresence ? (value: unknown) => value !== undefined : implicitIsSet(field);
  return {
    size(message, isMessage) {
      const value = message[name];
      // A message (not an init shape) has every field without presence; protobuf-es fails on a missing one.
      if (value === undefined && isMessage && !hasPresence) throw FALLBACK;
      return isSet(value) ? tagSize + codec.size(value, isMessage) : 0;
    },
    write(message) {
      const value = message[name];
      if (!isSet(value)) return;
      pos = writeVarint(tagged, buf, pos);
      codec.write(value);
    },
  };
}

function repeatedList(name: string, tagged: number, codec: ValueCodec): FieldPlan {
  const tagSize = varintSize(tagged);
  return {
    size(message, isMessage) {
      const items = message[name];
      if (items === undefined && !isMessage) return 0;
      if (!Array.isArray(items)) throw FALLBACK;
      let size = 0;
      for (let i = 0; i < items.length; i++) size += tagSize + codec.size(items[i], isMessage);
      return size;
    },
    write(message) {
      const items = message[name] as unknown[] | undefined;
      if (items === undefined) return;
      for (let i = 0; i < items.length; i++) {
        pos = writeVarint(tagged, buf, pos);
        codec.write(items[i]);
      }
    },
  };
}

function packedList(name: string, tag: number, codec: ValueCodec): FieldPlan {
  const tagged = tag + WIRE_DELIMITED;
  const tagSize = varintSize(tagged);
  return {
    size(message, isMessage) {
      const items = message[name];
      if (items === undefined && !isMessage) return 0;
      if (!Array.isArray(items)) throw FALLBACK;
      if (items.length === 0) return 0;
      let size = 0;
      for (let i = 0; i < items.length; i++) size += codec.size(items[i], isMessage);
      lengths[sized++] = size;
      return tagSize + varintSize(size) + size;
    },
    write(message) {
      const items = message[name] as unknown[] | undefined;
      if (items === undefined || items.length === 0) return;
      pos = writeVarint(tagged, buf, pos);
      pos = writeVarint(lengths[cursor++]!, buf, pos);
      for (let i = 0; i < items.length; i++) codec.write(items[i]);
    },
  };
}

const messageCodecs = new WeakMap<DescMessage, ValueCodec>();

function messageCodec(schema: DescMessage): ValueCodec | undefined {
  if (!codecHandles(schema)) return undefined;
  let codec = messageCodecs.get(schema);
  if (codec !== undefined) return codec;
  // The nested plan is looked up when first used, so recursive types compile.
  let plan: MessagePlan | undefined;
  const resolve = (): MessagePlan => {
    plan ??= planOf(schema);
    if (plan === undefined) throw FALLBACK;
    return plan;
  };
  codec = {
    wireType: WIRE_DELIMITED,
    size(value, inMessage) {
      if (!isObject(value)) throw FALLBACK;
      // Inside a message, protobuf-es takes a nested value as a message of its type, and fails on anything else.
      if (inMessage && value.$typeName !== schema.typeName) throw FALLBACK;
      const slot = sized++;
      lengths[slot] = 0; // written before the nested lengths that follow it, so the array never has holes
      const size = sizeMessage(resolve(), value as Fields);
      lengths[slot] = size;
      return varintSize(size) + size;
    },
    write(value) {
      pos = writeVarint(lengths[cursor++]!, buf, pos);
      writeMessage(plan!, value as Fields);
    },
  };
  messageCodecs.set(schema, codec);
  return codec;
}

/** Size and write of one scalar type (enums as INT32), without the tag. */
function scalarCodec(type: ScalarType): ValueCodec {
  switch (type) {
    case ScalarType.STRING:
      return {
        wireType: WIRE_DELIMITED,
        size(value) {
          if (typeof value !== "string") throw FALLBACK;
          const length = utf8Length(value);
          lengths[sized++] = length;
          return varintSize(length) + length;
        },
        write(value) {
          pos = writeVarint(lengths[cursor++]!, buf, pos);
          pos = writeUtf8(value as string, buf, pos);
        },
      };
    case ScalarType.BYTES:
      return {
        wireType: WIRE_DELIMITED,
        size(value) {
          if (!(value instanceof Uint8Array)) throw FALLBACK;
          return varintSize(value.length) + value.length;
        },
        write(value) {
          const bytes = value as Uint8Array;
          pos = writeVarint(bytes.length, buf, pos);
          buf.set(bytes, pos);
          pos += bytes.length;
        },
      };
    case ScalarType.BOOL:
      return {
        wireType: WIRE_VARINT,
        size(value) {
          if (typeof value !== "boolean") throw FALLBACK;
          return 1;
        },
        write(value) {
          buf[pos++] = value ? 1 : 0;
        },
      };
    case ScalarType.INT32:
      return {
        wireType: WIRE_VARINT,
        size: (value) => int32VarintSize(int32Of(value)),
        write: (value) => {
          pos = writeInt32Varint(value as number, buf, pos);
        },
      };
    case ScalarType.UINT32:
      return {
        wireType: WIRE_VARINT,
        size: (value) => varintSize(uint32Of(value)),
        write: (value) => {
          pos = writeVarint(value as number, buf, pos);
        },
      };
    case ScalarType.SINT32:
      return {
        wireType: WIRE_VARINT,
        size: (value) => varintSize(zigzag32(int32Of(value))),
        write: (value) => {
          pos = writeVarint(zigzag32(value as number), buf, pos);
        },
      };
    case ScalarType.FIXED32:
      return { wireType: WIRE_32, size: (value) => (uint32Of(value), 4), write: (value) => writeFixed32(value as number) };
    case ScalarType.SFIXED32:
      return { wireType: WIRE_32, size: (value) => (int32Of(value), 4), write: (value) => writeFixed32((value as number) >>> 0) };
    case ScalarType.FLOAT:
      return {
        wireType: WIRE_32,
        size: (value) => (float32Of(value), 4),
        write: (value) => {
          scratch.setFloat32(0, value as number, true);
          for (let i = 0; i < 4; i++) buf[pos++] = scratch.getUint8(i);
        },
      };
    case ScalarType.DOUBLE:
      return {
        wireType: WIRE_64,
        size: (value) => (numberOf(value), 8),
        write: (value) => {
          scratch.setFloat64(0, value as number, true);
          for (let i = 0; i < 8; i++) buf[pos++] = scratch.getUint8(i);
        },
      };
    case ScalarType.INT64:
      return {
        wireType: WIRE_VARINT,
        size: (value) => bigVarintSize(BigInt.asUintN(64, int64Of(value))),
        write: (value) => {
          pos = writeBigVarint(BigInt.asUintN(64, value as bigint), buf, pos);
        },
      };
    case ScalarType.UINT64:
      return {
        wireType: WIRE_VARINT,
        size: (value) => bigVarintSize(uint64Of(value)),
        write: (value) => {
          pos = writeBigVarint(value as bigint, buf, pos);
        },
      };
    case ScalarType.SINT64:
      return {
        wireType: WIRE_VARINT,
        size: (value) => bigVarintSize(zigzag64(int64Of(value))),
        write: (value) => {
          pos = writeBigVarint(zigzag64(value as bigint), buf, pos);
        },
      };
    case ScalarType.FIXED64:
      return { wireType: WIRE_64, size: (value) => (uint64Of(value), 8), write: (value) => writeFixed64(value as bigint) };
    case ScalarType.SFIXED64:
      return { wireType: WIRE_64, size: (value) => (int64Of(value), 8), write: (value) => writeFixed64(BigInt.asUintN(64, value as bigint)) };
  }
}

function writeFixed32(value: number): void {
  buf[pos++] = value & 0xff;
  buf[pos++] = (value >>> 8) & 0xff;
  buf[pos++] = (value >>> 16) & 0xff;
  buf[pos++] = value >>> 24;
}

function writeFixed64(value: bigint): void {
  writeFixed32(Number(value & 0xffffffffn));
  writeFixed32(Number(value >> 32n));
}
