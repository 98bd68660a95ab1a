// createClient: a typed client for a generated service, over the
// connections a router chooses (one address by default): unary calls,
// oneway, acked, batches and results.

import { type DescMessage, type DescMethod, type DescService, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import { CallMode, checkedLimits, Compression, decodeMessage, encodeMessage, type Frame, type FrameLimits, type MetadataEntry, type RawDeflater, type RawInflater } from "../wire/index.ts";
import { RpcError, TransportCode } from "../status/index.ts";
import { responseError } from "../status/wire-status.ts";
import { keysProblem } from "../wire/request-rules.ts";
import { allocateRequestBody } from "./request-body.ts";
import { clientTransportFor, type TransportFactory, type TransportsByScheme } from "../transport/index.ts";
import { Subchannel, type BackoffOptions } from "./subchannel.ts";
import type { ClientConnectionSettings } from "./client-connection.ts";
import { failureResult, successResult, type CallResult } from "./call-result.ts";
import { OutgoingCall, type CallPolicy, type ResponseDecoder } from "./outgoing-call.ts";
import type { Router } from "./router.ts";
import { CallHeads, NONE } from "./call-heads.ts";
import { chainClientInterceptors, SEND_REQUEST, type ClientInterceptor, type ClientResponse, type OutgoingRequest } from "./interceptor.ts";
import { createContextValues, type ContextValues } from "../util/context-values.ts";
import { SingleAddressRouter } from "./single-address-router.ts";
import { ClusterRouter, type ClusterOptions } from "../cluster/cluster-router.ts";
import type { EndpointInit } from "../cluster/endpoint.ts";
import type { EndpointSource } from "../cluster/endpoint-source.ts";
import { staticEndpoints } from "../cluster/static-source.ts";
import { now } from "../util/clock.ts";

/** Options of one call. */
export interface CallOptions {
  /** The call fails with TIMEOUT after this long; the client's default otherwise (3 s). Infinity: no deadline [DEADLINE-1] [DEADLINE-9]. */
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
  /** Values for the client's interceptors (see createContextKey). */
  values?: ContextValues;
  /**
   * Wait for a connection until the deadline, through failed attempts,
   * instead of failing at the first attempt that fails. Default: the
   * client's `waitForReady` [HELLO-9].
   */
  waitForReady?: boolean;
  /** The service group to call, in a cluster client; default the client's `cluster.group` [CLUSTER-4]. */
  group?: string;
  /**
   * In a cluster client, send this call to the owner of this routing key on
   * the hash ring (and on to the next endpoints if it cannot take it), e.g.
   * to keep one user on one server. With keys it must equal their routing
   * key: keyed calls always go to their keys' owner [CLUSTER-7].
   */
  routingKey?: string;
  /**
   * The call may run twice: a cluster client may retry it on another
   * endpoint after a lost connection even when it may have run. Default: the
   * method's proto `idempotency_level` (IDEMPOTENT or NO_SIDE_EFFECTS) [CLUSTER-4].
   */
  idempotent?: boolean;
}

/** Options of createClient: where calls go (an address or a router), and how. */
export interface ClientOptions {
  /** "host:port", "unix:/path", "memory:NAME" or an address of a scheme given in `transports`; or pass `endpoints` or `router`. */
  address?: string;
  /**
   * Many servers: a list of addresses or endpoints, or a source that watches
   * a registry (redisEndpoints, etcdEndpoints, fileEndpoints). Calls are
   * balanced and fail over as `cluster` says (spec section 21).
   */
  endpoints?: EndpointSource | readonly (string | EndpointInit)[];
  /** How a client with `endpoints` balances, routes keys, retries and ejects [CLUSTER-4] [CLUSTER-5] [CLUSTER-6]. */
  cluster?: ClusterOptions;
  /**
   * Chooses the connection of each call, e.g. a pool over many servers;
   * instead of `address`. The connection options below then belong to the
   * router's own subchannels.
   */
  router?: Router;
  /** Default call timeout. Default 3000 ms; Infinity: no deadline [DEADLINE-9]. */
  timeoutMs?: number;
  /**
   * After a written call's deadline, how long its TIMEOUT waits for the
   * server's own answer: one proving the request never ran (e.g.
   * DEADLINE_EXPIRED while it waited for its keys) is reported instead,
   * processed no. 0 to 1000 ms; default 100 [DEADLINE-8].
   */
  deadlineGraceMs?: number;
  /**
   * Ping when nothing was received for this long; a dead connection is found
   * within twice this. Raised to the server's min_ping_interval_ms when
   * lower (1000 ms on a default server) [PING-8]. Default 5000 ms [PING-4].
   */
  pingIntervalMs?: number;
  /** Connect and handshake time limit. Default 3000 ms [HELLO-5]. */
  connectTimeoutMs?: number;
  /** Largest response header and body this client accepts, the body also once decompressed [LIMIT-2] [LIMIT-3] [COMP-8]. */
  limits?: Partial<FrameLimits>;
  /**
   * Offer gzip in the HELLO and decompress gzip responses, and send request
   * bodies of at least `compressMinBytes` gzip when the server lists gzip;
   * false: identity only, both ways. Default true [COMP-2].
   */
  gzip?: boolean;
  /**
   * Request bodies of at least this many bytes are sent gzip, to a server
   * that lists it; 1024 suits slow or metered links [COMP-7]. Default
   * Infinity: none is compressed, because on a fast link compressing costs
   * more than it saves (docs/performance.md measures it).
   */
  compressMinBytes?: number;
  /** Compresses request bodies (raw deflate); without it, none is compressed. createClient from "strata-rpc" passes node:zlib [COMP-3]. */
  deflateRaw?: RawDeflater;
  /** Inflates gzip responses natively; without it, DecompressionStream does. createClient from "strata-rpc" passes node:zlib [COMP-8]. */
  inflateRaw?: RawInflater;
  /** Reconnection backoff. */
  backoff?: BackoffOptions;
  /**
   * Calls wait for a connection until their deadline, through failed
   * attempts (a server being started or restarted). Default false: a call
   * fails as soon as the attempt to connect fails (refused, closed in the
   * handshake, a bad handshake), with that attempt's error, not processed
   * [HELLO-9]. Calls may choose otherwise with their own `waitForReady`.
   */
  waitForReady?: boolean;
  /** One transport for every address, whatever its scheme. */
  transport?: TransportFactory;
  /** Transports by address scheme (e.g. `{ tls: tlsTransport }`), besides TCP, Unix sockets and memory. */
  transports?: TransportsByScheme;
  /** Wrap every call, first one outermost: for credentials, logging, metrics. */
  interceptors?: ClientInterceptor[];
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

const utf8 = new TextEncoder();

/** The options of a call made without any. */
const NO_OPTIONS: CallOptions = Object.freeze({});

/** What a oneway call resolves with through interceptors: nothing comes back [CALL-4]. */
const NO_RESPONSE: ClientResponse = Object.freeze({ message: undefined, metadata: [] as MetadataEntry[] });

function toMetadata(metadata: CallOptions["metadata"]): MetadataEntry[] {
  if (metadata === undefined) return NONE;
  if (Array.isArray(metadata)) return metadata;
  return Object.entries(metadata).map(([key, value]) => ({ key, value: typeof value === "string" ? utf8.encode(value) : value }));
}

/** Why `keys` cannot be sent, or undefined when they can [KEYS-1]. */
function invalidKeys(keys: unknown): string | undefined {
  if (!Array.isArray(keys)) return "keys must be an array of strings [KEYS-1]";
  return keysProblem(keys);
}

/** Turns a RESPONSE into the output, or the dispatch / application error it carries [STATUS-1]. */
function interpret(frame: Frame, output: DescMessage): MessageShape<DescMessage> {
  const { header, body } = frame;
  if (header.compression !== Compression.IDENTITY) {
    throw RpcError.transport(TransportCode.PROTOCOL_ERROR, `the response uses compression ${header.compression}, which this client did not offer [COMP-4]`, "maybe");
  }
  const error = responseError(header, body);
  if (error !== undefined) throw error;
  try {
    return decodeMessage(output, body);
  } catch (error) {
    throw RpcError.transport(TransportCode.PROTOCOL_ERROR, `the response body is not ${output.typeName}: ${(error as Error).message}`, "maybe", error);
  }
}

/**
 * The router `options` name, or one for their address or endpoints; throws
 * a TypeError unless exactly one is given, or when the address is malformed
 * (no port, a bad port) or names a scheme no transport serves: a mistake
 * reported where it was made, not by every call [HELLO-9].
 */
function routerOf(options: ClientOptions, settings: ClientConnectionSettings): Router {
  const given = [options.router, options.address, options.endpoints].filter((x) => x !== undefined).length;
  if (given > 1) throw new TypeError("createClient takes one of address, endpoints and router");
  if (options.router !== undefined) return options.router;
  const subchannelFor = (address: string) => {
    const factory = Promise.resolve(clientTransportFor(address, options));
    return new Subchannel(() => factory, address, settings, options.backoff);
  };
  if (options.endpoints !== undefined) {
    const source = Array.isArray(options.endpoints) ? staticEndpoints(options.endpoints) : (options.endpoints as EndpointSource);
    return new ClusterRouter(source, subchannelFor, options.cluster);
  }
  const address = options.address;
  if (typeof address !== "string") throw new TypeError("createClient needs an address (\"host:port\", \"unix:/path\", \"memory:NAME\"), endpoints or a router");
  return new SingleAddressRouter(subchannelFor(address));
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
  const compressMinBytes = options.compressMinBytes ?? Infinity;
  if (!(compressMinBytes >= 0)) throw new RangeError(`compressMinBytes must be 0 or more, got ${compressMinBytes} [COMP-7]`);
  const router = routerOf(options, {
    limits,
    pingIntervalMs,
    connectTimeoutMs: options.connectTimeoutMs ?? 3000,
    gzip: options.gzip ?? true,
    gzipMinBytes: compressMinBytes,
    ...(options.deflateRaw !== undefined ? { deflateRaw: options.deflateRaw } : {}),
    ...(options.inflateRaw !== undefined ? { inflateRaw: options.inflateRaw } : {}),
  });
  const desc = service as DescService;

  const deadlineGraceMs = options.deadlineGraceMs ?? 100;
  if (!(deadlineGraceMs >= 0 && deadlineGraceMs <= 1000)) throw new RangeError(`deadlineGraceMs must be from 0 to 1000, got ${deadlineGraceMs} [DEADLINE-8]`);
  // The ways a call may wait for a connection and be retried, made once [HELLO-9] [CLUSTER-4].
  const policies: CallPolicy[] = [false, true].flatMap((idempotent) => [false, true].map((wait) => Object.freeze({ waitForReady: wait, deadlineGraceMs, idempotent })));
  const defaultWait = options.waitForReady === true;
  const policyOf = (callOptions: CallOptions, method: DescMethod): CallPolicy => {
    const wait = callOptions.waitForReady ?? defaultWait;
    // idempotency is MethodOptions.IdempotencyLevel: 0 unknown, 1 no side effects, 2 idempotent.
    const idempotent = callOptions.idempotent ?? method.idempotency !== 0;
    return policies[(idempotent ? 2 : 0) + (wait ? 1 : 0)]!;
  };
  const refusal = router.refusal?.bind(router);
  const heads = new CallHeads(desc);

  const intercept = options.interceptors !== undefined && options.interceptors.length > 0 ? chainClientInterceptors(options.interceptors) : undefined;

  /** The call's timeout, checked; throws INVALID_INPUT, not processed [STATUS-2]. */
  function timeoutOf(callOptions: CallOptions): number {
    const timeoutMs = callOptions.timeoutMs ?? defaultTimeout;
    if (typeof timeoutMs !== "number" || Number.isNaN(timeoutMs) || timeoutMs < 0) {
      throw RpcError.transport(TransportCode.INVALID_INPUT, `timeoutMs must be a non-negative number or Infinity, got ${timeoutMs}`, "no");
    }
    return timeoutMs;
  }

  /**
   * Encodes the request and checks its keys, then hands it to an
   * OutgoingCall; throws INVALID_INPUT, not processed [STATUS-2]. The
   * deadline is `deadline` when the interceptors fixed it, else `timeoutMs`
   * from now: it covers encoding, connecting, queueing and the wait for the
   * RESPONSE [DEADLINE-6]. The time left is read again when the request is
   * written, after encoding [DEADLINE-1] [DEADLINE-5].
   */
  function send<T>(method: DescMethod, input: unknown, metadata: MetadataEntry[], keys: string[], mode: CallMode, timeoutMs: number, deadline: number | undefined, callOptions: CallOptions, signal: AbortSignal | undefined, decode: ResponseDecoder<T>, onAck: (() => void) | undefined): Promise<T> {
    const deadlineAt = deadline ?? now() + timeoutMs;
    const badKeys = keys.length === 0 ? undefined : invalidKeys(keys);
    if (badKeys !== undefined) throw RpcError.transport(TransportCode.INVALID_INPUT, badKeys, "no");
    const head = heads.head(method, mode, metadata, keys, callOptions.group, callOptions.routingKey);
    const refused = refusal?.(head);
    if (refused !== undefined) throw RpcError.transport(TransportCode.INVALID_INPUT, refused, "no");
    // Encoded last: from here on the call owns the body, and gives it back to its pool once settled.
    let body: Uint8Array;
    try {
      body = encodeMessage(method.input, input, allocateRequestBody);
    } catch (error) {
      throw RpcError.transport(TransportCode.INVALID_INPUT, `the request cannot be encoded as ${method.input.typeName}: ${(error as Error).message}`, "no", error);
    }
    return new OutgoingCall(router, head, body, deadlineAt, signal, policyOf(callOptions, method), decode, onAck).promise;
  }

  /**
   * The one way every call mode is made: straight to an OutgoingCall, or
   * through the interceptors. `shape` says what it resolves with: the output
   * message, a CallResult, or nothing (oneway).
   */
  function call<T>(method: DescMethod, input: unknown, callOptions: CallOptions, mode: CallMode, shape: "message" | "result" | "none", onAck?: () => void): Promise<T> {
    try {
      const timeoutMs = timeoutOf(callOptions);
      const signal = callOptions.signal;
      if (intercept === undefined) {
        let metadata: MetadataEntry[];
        try {
          metadata = toMetadata(callOptions.metadata);
        } catch (error) {
          throw RpcError.transport(TransportCode.INVALID_INPUT, `the request metadata cannot be encoded: ${(error as Error).message}`, "no", error);
        }
        const decode = shape === "none" ? undefined : shape === "message" ? decoderOf(method) : resultDecoderOf(method);
        return send(method, input, metadata, callOptions.keys ?? NONE, mode, timeoutMs, undefined, callOptions, signal, decode as ResponseDecoder<T>, onAck);
      }
      // Through interceptors, the deadline runs from now: they may take time of their own.
      return intercepted<T>(method, input, callOptions, mode, shape, now() + timeoutMs, onAck);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** A call through the interceptors: they see the request before it is encoded, and the decoded response. */
  function intercepted<T>(method: DescMethod, input: unknown, callOptions: CallOptions, mode: CallMode, shape: "message" | "result" | "none", deadline: number, onAck: (() => void) | undefined): Promise<T> {
    let sent = false;
    const request: OutgoingRequest = {
      service: desc.typeName,
      method: method.name,
      callMode: mode,
      message: input,
      metadata: [...toMetadata(callOptions.metadata)],
      keys: [...(callOptions.keys ?? NONE)],
      timeoutMs: callOptions.timeoutMs ?? defaultTimeout,
      signal: callOptions.signal,
      values: callOptions.values ?? createContextValues(),
      [SEND_REQUEST]: (final) => {
        sent = true;
        const decode = mode === CallMode.ONEWAY ? undefined : (frame: Frame): ClientResponse => ({ message: interpret(frame, method.output), metadata: frame.header.metadata });
        return send(method, final.message, final.metadata, final.keys, mode, 0, deadline, callOptions, final.signal, decode, onAck).then((response) => response ?? NO_RESPONSE);
      },
    };
    const outcome = intercept!(request).then(
      (response) => response,
      (error: unknown) => {
        // An interceptor that failed before anything was sent: not processed.
        if (!sent && !RpcError.is(error)) throw RpcError.transport(TransportCode.INVALID_INPUT, `an interceptor failed before the request was sent: ${(error as Error)?.message ?? String(error)}`, "no", error);
        throw RpcError.from(error);
      },
    );
    if (shape === "message") return outcome.then((response) => response.message as T);
    if (shape === "result") return outcome.then((response) => successResult(response.message, response.metadata) as T);
    return outcome.then(() => undefined as T);
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

  /** Each method's RESPONSE decoder for $result, made once. */
  const resultDecoders = new Map<DescMethod, (frame: Frame) => unknown>();
  const resultDecoderOf = (method: DescMethod) => {
    let decode = resultDecoders.get(method);
    if (decode === undefined) {
      decode = (frame: Frame) => successResult(interpret(frame, method.output), frame.header.metadata);
      resultDecoders.set(method, decode);
    }
    return decode;
  };

  const unary = (method: DescMethod, input: unknown, callOptions: CallOptions = NO_OPTIONS) => call(method, input, callOptions, CallMode.UNARY, "message");

  const resultOf = (method: DescMethod, input: unknown, callOptions: CallOptions = NO_OPTIONS) =>
    call(method, input, callOptions, CallMode.UNARY, "result").catch((error: unknown) => failureResult(RpcError.from(error)));

  const acked = (method: DescMethod, input: unknown, callOptions: CallOptions = NO_OPTIONS) =>
    new Promise<AckedCall<unknown>>((resolveAck, rejectAck) => {
      let acknowledged = false;
      const result = call(method, input, callOptions, CallMode.ACKED, "message", () => {
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

  /** Settles once the request is written; nothing comes back [CALL-4]. */
  const oneway = (method: DescMethod, input: unknown, callOptions: CallOptions = NO_OPTIONS) => call<void>(method, input, callOptions, CallMode.ONEWAY, "none");

  /**
   * An object whose properties are the service's methods, each calling
   * `invoke`: a plain object, made once, so that a call costs a property
   * read and not a proxy trap (docs/performance.md measures it).
   */
  const group = (invoke: (method: DescMethod, input: unknown, options?: CallOptions) => Promise<unknown>) => {
    const methods: Record<string, (input: unknown, callOptions?: CallOptions) => Promise<unknown>> = {};
    for (const method of desc.methods) methods[method.localName] = (input: unknown, callOptions?: CallOptions) => invoke(method, input, callOptions);
    return methods;
  };

  const resultMethods = group(resultOf);
  return Object.assign(group(unary), {
    $oneway: group(oneway),
    $acked: group(acked),
    $result: resultMethods,
    $batch: (build: (calls: unknown) => readonly Promise<unknown>[]) => Promise.all(build(resultMethods)),
    $close: () => router.close(),
  }) as unknown as Client<S>;
}
