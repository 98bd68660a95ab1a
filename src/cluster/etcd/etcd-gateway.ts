// A small client of etcd's v3 JSON gateway: every call is an HTTP/1.1 POST
// of JSON to "<member URL>/v3/<method>", keys and values in base64, 64-bit
// integers as decimal strings; streaming methods (watch, lease keepalive)
// answer with one JSON object per line, {"result": ...} or {"error": ...}.
// It needs nothing but the global fetch and streaming response bodies, so
// discovery and registration run unchanged on Node, Bun, Deno and in
// browsers, with no dependency.
//
// Why not the etcd3 npm package: it has had no release since 2023 and speaks
// gRPC over HTTP/2 through @grpc/grpc-js, which ties it to Node. The JSON
// gateway is part of etcd itself and is served under /v3/ from 3.4 on
// (checked against etcd 3.4.23, which also keeps /v3beta/ and no longer
// serves /v3alpha/); 3.3 and older are not supported.
//
// A call tries the members in turn, starting from the last one that
// answered, until one answers; an answer from etcd that another member
// would give too (a bad request, a lease not found) ends it at once.

import { setTimer, type Timer } from "../../util/timer.ts";

/** The fetch the gateway calls, the global one by default: a test, a proxy or an auth header can wrap it (spec 21.2). */
export type Fetch = (url: string, init: RequestInit) => Promise<Response>;

/** The gRPC status codes etcd answers with that this client tells apart. */
export const EtcdCode = {
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  RESOURCE_EXHAUSTED: 8,
  OUT_OF_RANGE: 11,
  UNAVAILABLE: 14,
} as const;

const RETRYABLE_CODES: ReadonlySet<number> = new Set([EtcdCode.DEADLINE_EXCEEDED, EtcdCode.RESOURCE_EXHAUSTED, EtcdCode.UNAVAILABLE]);

/** A failed gateway call, its message naming the member's URL; `code` is etcd's gRPC status when etcd answered [CLUSTER-3]. */
export class EtcdError extends Error {
  /** The URL that was called, e.g. "http://10.0.0.1:2379/v3/kv/range". */
  readonly url: string;
  /** etcd's gRPC status code, undefined when etcd did not answer. */
  readonly code: number | undefined;
  /** Whether another member, or the same one later, may succeed where this call failed. */
  readonly retryable: boolean;

  constructor(url: string, message: string, { code, retryable, cause }: { code?: number; retryable: boolean; cause?: unknown }) {
    super(`etcd ${url}: ${message}`, cause === undefined ? undefined : { cause });
    this.name = "EtcdError";
    this.url = url;
    this.code = code;
    this.retryable = retryable;
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function bytesToBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** The base64 of `text`'s UTF-8 bytes, as the gateway takes keys and values (spec 21.2). */
export function encodeBase64(text: string): string {
  return bytesToBase64(encoder.encode(text));
}

/** The text of a key or value the gateway sent in base64 (absent: empty) (spec 21.2). */
export function decodeBase64(base64: string | undefined): string {
  if (base64 === undefined) return "";
  return decoder.decode(Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)));
}

/** The base64 range end that makes a range or watch of `prefix` cover every key starting with it (spec 21.2). */
export function prefixRangeEnd(prefix: string): string {
  const bytes = [...encoder.encode(prefix)];
  while (bytes.length > 0 && bytes[bytes.length - 1] === 0xff) bytes.pop();
  if (bytes.length === 0) return "AA=="; // "\0": every key
  bytes[bytes.length - 1]!++;
  return bytesToBase64(Uint8Array.from(bytes));
}

/** One request's abort controller: aborted by the caller's signal, and by a timeout until disarmed. */
class Attempt {
  readonly controller = new AbortController();
  timedOut = false;
  private readonly timer: Timer;
  private readonly outer: AbortSignal | undefined;
  private readonly onAbort = () => this.controller.abort();

  constructor(timeoutMs: number, outer: AbortSignal | undefined) {
    this.outer = outer;
    this.timer = setTimer(() => {
      this.timedOut = true;
      this.controller.abort();
    }, timeoutMs);
    if (outer?.aborted) this.controller.abort();
    else outer?.addEventListener("abort", this.onAbort, { once: true });
  }

  disarm(): void {
    this.timer.clear();
  }

  release(): void {
    this.timer.clear();
    this.outer?.removeEventListener("abort", this.onAbort);
    this.controller.abort();
  }
}

function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : undefined;
  return cause === undefined || message.includes(cause) ? message : `${message}: ${cause}`;
}

/** The error etcd reported in a JSON body, unary ({error, message, code}) or streamed ({error: {grpc_code, message}}). */
function reportedError(url: string, value: unknown): EtcdError | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { error, message, code } = value as { error?: unknown; message?: unknown; code?: unknown };
  if (typeof error === "object" && error !== null) {
    const streamed = error as { grpc_code?: unknown; message?: unknown };
    const grpcCode = typeof streamed.grpc_code === "number" ? streamed.grpc_code : undefined;
    return new EtcdError(url, String(streamed.message ?? "error"), { code: grpcCode, retryable: grpcCode === undefined || RETRYABLE_CODES.has(grpcCode) });
  }
  if (typeof code === "number" && (typeof message === "string" || typeof error === "string")) {
    return new EtcdError(url, String(message ?? error), { code, retryable: RETRYABLE_CODES.has(code) });
  }
  return undefined;
}

async function errorResponse(url: string, response: Response): Promise<EtcdError> {
  const text = await response.text().catch(() => "");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // Not etcd's answer (a proxy's, or a gateway prefix this etcd does not serve).
    return new EtcdError(url, `HTTP ${response.status}: ${text.slice(0, 200)}`, { retryable: response.status >= 500 });
  }
  return reportedError(url, value) ?? new EtcdError(url, `HTTP ${response.status}: ${text.slice(0, 200)}`, { retryable: response.status >= 500 });
}

function parseMessage(url: string, line: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new EtcdError(url, `sent a line that is not JSON: ${line.slice(0, 200)}`, { retryable: true });
  }
  const error = reportedError(url, value);
  if (error !== undefined) throw error;
  return ((value as { result?: Record<string, unknown> }).result ?? {}) as Record<string, unknown>;
}

/** A streaming call's messages, and the member that serves it. */
export interface EtcdStream {
  /** The member's base URL, e.g. "http://10.0.0.1:2379". */
  readonly member: string;
  /** Each message's "result"; throws an EtcdError when the stream fails, and ends only when the member ends it. */
  readonly messages: AsyncGenerator<Record<string, unknown>, void, void>;
}

async function* readMessages(url: string, response: Response, attempt: Attempt): AsyncGenerator<Record<string, unknown>, void, void> {
  if (response.body === null) throw new EtcdError(url, "answered without a body", { retryable: true });
  const reader = response.body.getReader();
  const text = new TextDecoder();
  let buffered = "";
  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (error) {
        throw new EtcdError(url, `the stream broke: ${describe(error)}`, { retryable: true, cause: error });
      }
      if (chunk.done) break;
      buffered += text.decode(chunk.value, { stream: true });
      for (let end = buffered.indexOf("\n"); end >= 0; end = buffered.indexOf("\n")) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 1);
        if (line.trim() !== "") yield parseMessage(url, line);
      }
    }
    // etcd ends a failed stream with an error object and no newline.
    buffered += text.decode();
    if (buffered.trim() !== "") yield parseMessage(url, buffered);
  } finally {
    attempt.release();
    reader.cancel().catch(() => undefined);
  }
}

/** Options of an EtcdGateway. */
export interface EtcdGatewayOptions {
  /** The members' client URLs, e.g. ["http://10.0.0.1:2379"]. */
  urls: readonly string[];
  /** Bounds each attempt: until the whole answer of a call, until the first answer of a stream. */
  requestTimeoutMs: number;
  fetch?: Fetch | undefined;
}

/** A JSON client of etcd's v3 gateway over fetch, trying each member in turn (spec 21.2) [CLUSTER-3]. */
export class EtcdGateway {
  /** The members' base URLs, without a trailing slash. */
  readonly urls: readonly string[];
  private readonly timeoutMs: number;
  private readonly fetch: Fetch;
  /** The member tried first: the last one that answered. */
  private first = 0;

  constructor(options: EtcdGatewayOptions, who: string) {
    if (!Array.isArray(options.urls) || options.urls.length === 0) throw new TypeError(`${who} needs urls: one or more etcd client URLs such as "http://127.0.0.1:2379"`);
    this.urls = options.urls.map((url) => {
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        throw new TypeError(`${who}: ${JSON.stringify(url)} is not a URL such as "http://127.0.0.1:2379"`);
      }
      if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new TypeError(`${who}: ${JSON.stringify(url)} is not an http: or https: URL`);
      return url.replace(/\/+$/, "");
    });
    this.timeoutMs = options.requestTimeoutMs;
    if (!(this.timeoutMs > 0)) throw new RangeError(`${who} requestTimeoutMs must be positive, got ${this.timeoutMs}`);
    this.fetch = options.fetch ?? ((url, init) => fetch(url, init));
  }

  /** Calls `method` (e.g. "kv/range") with `body` on each member in turn until one answers; a streaming method's single "result" is returned unwrapped. */
  call<T>(method: string, body: object, signal?: AbortSignal): Promise<T> {
    return this.onEach((member) => this.callAt<T>(member, method, body, signal));
  }

  /** Calls `method` on `member` (one of `urls`) only. */
  async callAt<T>(member: string, method: string, body: object, signal?: AbortSignal): Promise<T> {
    const url = `${member}/v3/${method}`;
    const attempt = new Attempt(this.timeoutMs, signal);
    try {
      const response = await this.send(url, body, attempt);
      const text = await response.text();
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        throw new EtcdError(url, `answered with something that is not JSON: ${text.slice(0, 200)}`, { retryable: true });
      }
      const error = reportedError(url, value);
      if (error !== undefined) throw error;
      const { result } = value as { result?: unknown };
      return (result ?? value) as T;
    } catch (error) {
      throw this.failure(url, error, attempt, signal);
    } finally {
      attempt.release();
    }
  }

  /** Opens the streaming `method` (e.g. "watch") on the first member that answers; `signal` closes it. */
  openStream(method: string, body: object, signal: AbortSignal): Promise<EtcdStream> {
    return this.onEach(async (member) => {
      const url = `${member}/v3/${method}`;
      const attempt = new Attempt(this.timeoutMs, signal);
      try {
        const response = await this.send(url, body, attempt);
        attempt.disarm();
        return { member, messages: readMessages(url, response, attempt) };
      } catch (error) {
        attempt.release();
        throw this.failure(url, error, attempt, signal);
      }
    });
  }

  private async send(url: string, body: object, attempt: Attempt): Promise<Response> {
    const response = await this.fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: attempt.controller.signal,
    });
    if (!response.ok) throw await errorResponse(url, response);
    return response;
  }

  /** What to throw for `error`: the caller's abort as it is, a timeout or a network failure as a retryable EtcdError. */
  private failure(url: string, error: unknown, attempt: Attempt, signal: AbortSignal | undefined): unknown {
    if (signal?.aborted) return error;
    if (error instanceof EtcdError) return error;
    if (attempt.timedOut) return new EtcdError(url, `no answer within ${this.timeoutMs} ms`, { retryable: true });
    return new EtcdError(url, describe(error), { retryable: true, cause: error });
  }

  /** Runs `attempt` on each member from the last that answered until one succeeds, or fails in a way no other member would fix. */
  private async onEach<T>(attempt: (member: string) => Promise<T>): Promise<T> {
    let last: unknown;
    for (let i = 0; i < this.urls.length; i++) {
      const index = (this.first + i) % this.urls.length;
      try {
        const result = await attempt(this.urls[index]!);
        this.first = index;
        return result;
      } catch (error) {
        if (!(error instanceof EtcdError) || !error.retryable) throw error;
        last = error;
      }
    }
    throw last;
  }
}
