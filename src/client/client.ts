// createClient: a typed client for a generated service, over one
// multiplexed connection: unary calls, oneway, acked, batches and results.

import { fromBinary, type DescMessage, type DescMethod, type DescService, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import { ErrorDetailsSchema } from "../gen/strata/v1/frame_pb.ts";
import { CallMode, checkedLimits, Compression, decodeMessage, DispatchCode, encodeMessage, type Frame, type FrameLimits, type MetadataEntry } from "../wire/index.ts";
import { dispatchCodeName, dispatchProcessed, RpcError, TransportCode } from "../status/index.ts";
import { defaultTransport, type TransportFactory } from "../transport/index.ts";
import { setDeadline } from "../util/deadline-timers.ts";
import { Channel, type BackoffOptions } from "./channel.ts";
import { failureResult, successResult, type CallResult } from "./call-result.ts";
import { PendingCall, retryable } from "./pending-call.ts";

/** Options of one call. */
export interface CallOptions {
  /** The call fails with TIMEOUT after this long; the client's default otherwise (3 s) [DEADLINE-1]. */
  timeoutMs?: number;
  /** Request metadata: entries in order, or a record of text / byte values [META-1]. */
  metadata?: MetadataEntry[] | Record<string, string | Uint8Array>;
  /**
   * Keys for keyed dispatch: calls sharing a key run one at a time on the
   * server, in order. 0 to 16 keys of 1 to 256 UTF-8 bytes. A client that
   * spreads calls over several servers must send each key to one of them;
   * these keys are what such routing hashes [KEYS-1] [KEYS-9].
   */
  keys?: string[];
  /** Aborting it cancels the call [CANCEL-1]. */
  signal?: AbortSignal;
}

/** Options of createClient. */
export interface ClientOptions {
  /** "host:port" or "unix:/path". */
  address: string;
  /** Default call timeout. Default 3000 ms. */
  timeoutMs?: number;
  /** Ping when nothing was received for this long; a dead connection is found within twice this. Default 5000 ms [PING-4]. */
  pingIntervalMs?: number;
  /** Connect and handshake time limit. Default 3000 ms [HELLO-5]. */
  connectTimeoutMs?: number;
  /** Largest response header and body this client accepts [LIMIT-2] [LIMIT-3]. */
  limits?: Partial<FrameLimits>;
  /** Reconnection backoff. */
  backoff?: BackoffOptions;
  /** How to connect; TCP (node:net) by default. */
  transport?: TransportFactory;
}

type Methods<S extends GenServiceMethods, R> = {
  [K in keyof S]: (input: MessageInitShape<S[K]["input"]>, options?: CallOptions) => R extends "value"
    ? Promise<MessageShape<S[K]["output"]>>
    : R extends "result"
      ? Promise<CallResult<MessageShape<S[K]["output"]>>>
      : R extends "acked"
        ? Promise<AckedCall<MessageShape<S[K]["output"]>>>
        : Promise<void>;
};

/** An acked call once the server has accepted it: the result follows [CALL-6]. */
export interface AckedCall<T> {
  /** Settles when the RESPONSE arrives. */
  result: Promise<T>;
}

/** A typed client: one method per service method, plus the other call modes under `$` names. */
export type Client<S extends GenServiceMethods> = Methods<S, "value"> & {
  /** Fire and forget: resolves once written; the server sends nothing back [CALL-4]. */
  $oneway: Methods<S, "oneway">;
  /** Resolves when the server accepts the call; `.result` settles with the RESPONSE [CALL-6]. */
  $acked: Methods<S, "acked">;
  /** Never rejects: each layer's status as a value [STATUS-1]. */
  $result: Methods<S, "result">;
  /** Many calls at once, written together, each with its own status [CALL-9]. */
  $batch<T extends readonly Promise<CallResult<unknown>>[]>(build: (calls: Methods<S, "result">) => T): Promise<{ [I in keyof T]: Awaited<T[I]> }>;
  /**
   * Closes the connection once pending calls are answered (queued ones fail
   * at once, not processed); later calls fail UNAVAILABLE. Resolves when the
   * connection is closed.
   */
  $close(): Promise<void>;
};

function now(): number {
  return performance.now();
}

const utf8 = new TextEncoder();

/** The options of a call made without any. */
const NO_OPTIONS: CallOptions = Object.freeze({});

/** Shared by every call without metadata or keys; never written to. */
const NONE: never[] = [];

function toMetadata(metadata: CallOptions["metadata"]): MetadataEntry[] {
  if (metadata === undefined) return NONE;
  if (Array.isArray(metadata)) return metadata;
  return Object.entries(metadata).map(([key, value]) => ({ key, value: typeof value === "string" ? utf8.encode(value) : value }));
}

/**
 * Settles like `promise`, unless the deadline passes or the signal fires
 * first: then TIMEOUT or CANCELLED, not processed (nothing was written yet).
 */
function untilDeadlineOrAbort<T>(promise: Promise<T>, deadline: number, signal: AbortSignal | undefined): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setDeadline(() => {
      done();
      reject(RpcError.transport(TransportCode.TIMEOUT, "the deadline passed while connecting; nothing was sent", "no"));
    }, Math.max(0, deadline - now()));
    const onAbort = () => {
      done();
      reject(RpcError.transport(TransportCode.CANCELLED, "the call was cancelled while connecting; nothing was sent", "no", signal?.reason));
    };
    function done() {
      timer.clear();
      signal?.removeEventListener("abort", onAbort);
    }
    signal?.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        done();
        resolve(value);
      },
      (error: unknown) => {
        done();
        reject(error);
      },
    );
  });
}

/** Why `keys` cannot be sent, or undefined when they can: 0 to 16 strings of 1 to 256 UTF-8 bytes [KEYS-1]. */
function invalidKeys(keys: unknown): string | undefined {
  if (!Array.isArray(keys)) return "keys must be an array of strings [KEYS-1]";
  if (keys.length > 16) return `at most 16 keys, got ${keys.length} [KEYS-1]`;
  for (const key of keys) {
    if (typeof key !== "string") return `keys must be strings, got ${typeof key} [KEYS-1]`;
    const size = utf8.encode(key).length;
    if (size < 1 || size > 256) return `each key must be 1 to 256 bytes of UTF-8, got ${size} bytes [KEYS-1]`;
  }
  return undefined;
}

/** Turns a RESPONSE into the output, or the dispatch / application error it carries [STATUS-1]. */
function interpret(frame: Frame, output: DescMessage): MessageShape<DescMessage> {
  const { header, body } = frame;
  if (header.compression !== Compression.IDENTITY) {
    throw RpcError.transport(TransportCode.PROTOCOL_ERROR, `the response uses compression ${header.compression}, which this client did not offer [COMP-4]`, "maybe");
  }
  if (header.dispatchCode !== DispatchCode.OK) {
    throw new RpcError({
      layer: "dispatch",
      code: dispatchCodeName(header.dispatchCode),
      message: header.dispatchMessage,
      processed: dispatchProcessed(header.dispatchCode),
      metadata: header.metadata,
    });
  }
  if (header.appCode !== 0) {
    let details: RpcError["details"] = [];
    try {
      if (body.length > 0) details = fromBinary(ErrorDetailsSchema, body).details;
    } catch {
      // Undecodable details are dropped; the status still counts [STATUS-9].
    }
    throw new RpcError({ layer: "application", code: header.appCode, message: header.appMessage, processed: "yes", details, metadata: header.metadata });
  }
  try {
    return decodeMessage(output, body);
  } catch (error) {
    throw RpcError.transport(TransportCode.PROTOCOL_ERROR, `the response body is not ${output.typeName}: ${(error as Error).message}`, "maybe", error);
  }
}

/**
 * Creates a client for a generated service. Calls share one multiplexed
 * connection, opened on first use and replaced when it fails or the server
 * sends GOAWAY.
 */
export function createClient<S extends GenServiceMethods>(service: GenService<S>, options: ClientOptions): Client<S> {
  const limits = checkedLimits(options.limits);
  const defaultTimeout = options.timeoutMs ?? 3000;
  const pingIntervalMs = options.pingIntervalMs ?? 5000;
  if (!(pingIntervalMs > 0)) throw new RangeError(`pingIntervalMs must be positive, got ${pingIntervalMs} [PING-4]`);
  const channel = new Channel(
    () => (options.transport ? Promise.resolve(options.transport) : defaultTransport()),
    options.address,
    { limits, pingIntervalMs, connectTimeoutMs: options.connectTimeoutMs ?? 3000 },
    options.backoff,
  );
  const desc = service as DescService;

  /** The request's body and header fields, checked and encoded; throws INVALID_INPUT, not processed [STATUS-2]. */
  function prepare(method: DescMethod, input: unknown, callOptions: CallOptions, mode: CallMode) {
    const timeoutMs = callOptions.timeoutMs ?? defaultTimeout;
    if (typeof timeoutMs !== "number" || Number.isNaN(timeoutMs) || timeoutMs < 0) {
      throw RpcError.transport(TransportCode.INVALID_INPUT, `timeoutMs must be a non-negative number or Infinity, got ${timeoutMs}`, "no");
    }
    const deadline = now() + timeoutMs;
    let body: Uint8Array;
    let metadata: MetadataEntry[];
    try {
      body = encodeMessage(method.input, input);
      metadata = toMetadata(callOptions.metadata);
    } catch (error) {
      throw RpcError.transport(TransportCode.INVALID_INPUT, `the request cannot be encoded as ${method.input.typeName}: ${(error as Error).message}`, "no", error);
    }
    const keys = callOptions.keys ?? NONE;
    const badKeys = keys.length === 0 ? undefined : invalidKeys(keys);
    if (badKeys !== undefined) throw RpcError.transport(TransportCode.INVALID_INPUT, badKeys, "no");
    return { header: { service: desc.typeName, method: method.name, callMode: mode, metadata, keys }, body, deadline };
  }

  /**
   * Sends a unary or acked request; settles with `decode` of its RESPONSE.
   * One retry on a fresh connection when the request provably did not run.
   */
  function call<T>(method: DescMethod, input: unknown, callOptions: CallOptions, mode: CallMode, decode: (frame: Frame) => T, onAck?: () => void): Promise<T> {
    let prepared: ReturnType<typeof prepare>;
    try {
      prepared = prepare(method, input, callOptions, mode);
    } catch (error) {
      return Promise.reject(error);
    }
    return new PendingCall(channel, prepared.header, prepared.body, prepared.deadline, callOptions.signal, decode, onAck).promise;
  }

  /** Writes a oneway request: settles once it is written; nothing comes back [CALL-4]. */
  async function sendOneway(method: DescMethod, input: unknown, callOptions: CallOptions): Promise<void> {
    const { header, body, deadline } = prepare(method, input, callOptions, CallMode.ONEWAY);
    const signal = callOptions.signal;
    for (let attempt = 0; ; attempt++) {
      try {
        if (signal?.aborted) throw RpcError.transport(TransportCode.CANCELLED, "the call was cancelled before it was sent", "no");
        // The deadline and the signal also bound the wait for a connection [DEADLINE-6] [CANCEL-1].
        const connection = channel.ready() ?? (await untilDeadlineOrAbort(channel.acquire(deadline, signal), deadline, signal));
        const remaining = deadline - now();
        if (remaining <= 0) throw RpcError.transport(TransportCode.TIMEOUT, "the deadline passed before the request was sent [DEADLINE-5]", "no");
        // Never rounded down to 0 [DEADLINE-5]; capped at the uint32 maximum [DEADLINE-7].
        connection.send(header, Math.min(Math.ceil(remaining), 0xffffffff), body, undefined);
        return;
      } catch (error) {
        const rpcError = RpcError.from(error);
        if (attempt === 0 && retryable(rpcError) && now() < deadline && !signal?.aborted) continue;
        throw rpcError;
      }
    }
  }

  function methodFor(name: string | symbol): DescMethod | undefined {
    return typeof name === "string" ? desc.methods.find((m) => m.localName === name) : undefined;
  }

  /** Each method's RESPONSE decoder, made once: no closure per call. */
  const decoders = new Map<DescMethod, (frame: Frame) => unknown>();
  const decoderOf = (method: DescMethod) => {
    let decode = decoders.get(method);
    if (decode === undefined) {
      decode = (frame: Frame) => interpret(frame, method.output);
      decoders.set(method, decode);
    }
    return decode;
  };

  const unary = (method: DescMethod, input: unknown, callOptions: CallOptions = NO_OPTIONS) => call(method, input, callOptions, CallMode.UNARY, decoderOf(method));

  const resultOf = (method: DescMethod, input: unknown, callOptions: CallOptions = NO_OPTIONS) =>
    call(method, input, callOptions, CallMode.UNARY, (frame) => successResult(interpret(frame, method.output), frame.header.metadata)).catch(
      (error: unknown) => failureResult(RpcError.from(error)),
    );

  const acked = (method: DescMethod, input: unknown, callOptions: CallOptions = NO_OPTIONS) =>
    new Promise<AckedCall<unknown>>((resolveAck, rejectAck) => {
      let acknowledged = false;
      const result = call(method, input, callOptions, CallMode.ACKED, (frame) => interpret(frame, method.output), () => {
        acknowledged = true;
        resolveAck({ result });
      });
      result.then(
        // A RESPONSE without an ACK completes the call [CALL-11].
        (value) => {
          if (!acknowledged) resolveAck({ result: Promise.resolve(value) });
        },
        (error) => {
          if (!acknowledged) rejectAck(error);
        },
      );
    });

  const oneway = (method: DescMethod, input: unknown, callOptions: CallOptions = NO_OPTIONS) => sendOneway(method, input, callOptions);

  /** A proxy whose properties are the service's methods, each calling `invoke`; one function per method, made on first use. */
  const group = (invoke: (method: DescMethod, input: unknown, options?: CallOptions) => Promise<unknown>) => {
    const made = new Map<string, (input: unknown, callOptions?: CallOptions) => Promise<unknown>>();
    return new Proxy({}, {
      get(_target, name) {
        if (typeof name !== "string") return undefined;
        let fn = made.get(name);
        if (fn === undefined) {
          const method = methodFor(name);
          if (method === undefined) return undefined;
          fn = (input: unknown, callOptions?: CallOptions) => invoke(method, input, callOptions);
          made.set(name, fn);
        }
        return fn;
      },
    });
  };

  const resultMethods = group(resultOf);
  const extras: Record<string, unknown> = {
    $oneway: group(oneway),
    $acked: group(acked),
    $result: resultMethods,
    $batch: (build: (calls: unknown) => readonly Promise<unknown>[]) => Promise.all(build(resultMethods)),
    $close: () => channel.close(),
  };
  const unaryMethods = group(unary) as Record<string, unknown>;
  return new Proxy({}, {
    get(_target, name) {
      if (typeof name === "string" && name in extras) return extras[name];
      return unaryMethods[name as string];
    },
  }) as Client<S>;
}
