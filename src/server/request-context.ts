// The HandlerContext of one request, built for the hot path: plain fields,
// methods on the prototype, and an AbortSignal that exists only once a
// handler asks for it (most handlers never do, and an AbortController is
// one of the costlier objects a request would otherwise allocate).

import type { FrameHeader, MetadataEntry } from "../wire/index.ts";
import type { ConnectionInfo } from "../transport/index.ts";
import { createContextValues, type ContextValues } from "../util/context-values.ts";
import { checkedResponseMetadata, type QueueingContext } from "./handler-context.ts";
import { now } from "../util/clock.ts";

/** The abort side of a request: records the reason, and fires the signal if one was handed out [DEADLINE-4] [CANCEL-2]. */
export class RequestAbort {
  private controller: AbortController | undefined;
  private reason: unknown;
  aborted = false;

  /** The signal handlers see; created on first use, already aborted if the request was. */
  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
  }
}

/** What a request context needs from its connection: `request` is the token the connection gave it. */
export interface ContextOwner<R> {
  /** Drain the connection once `request` is answered [DRAIN-2]. */
  drainAfter(request: R, graceMs: number): void;
  /** A queueing handler starts `request` now, or learns (false) that it must not [DEADLINE-3]. */
  begin(request: R, requestId: number, deadline: number | undefined): boolean;
}

/** The context of one running request [DEADLINE-4] [CANCEL-2] [DRAIN-9]. */
export class RequestContext<R = unknown> implements QueueingContext {
  readonly requestId: number;
  readonly service: string;
  readonly method: string;
  readonly metadata: readonly MetadataEntry[];
  readonly keys: readonly string[];
  readonly connection: ConnectionInfo;
  /** The response metadata once a handler asked for it; most never do [META-1]. */
  private metadataOut: MetadataEntry[] | undefined;
  private readonly abort: RequestAbort;
  private bag: ContextValues | undefined;
  private readonly deadline: number | undefined;
  private readonly owner: ContextOwner<R>;
  private readonly request: R;

  /** `owner` and `request` stand in for a closure, which would be one more allocation per request. */
  constructor(header: FrameHeader, connection: ConnectionInfo, abort: RequestAbort, deadline: number | undefined, owner: ContextOwner<R>, request: R) {
    this.requestId = header.requestId;
    this.service = header.service;
    this.method = header.method;
    this.metadata = header.metadata;
    this.keys = header.keys;
    this.connection = connection;
    this.abort = abort;
    this.deadline = deadline;
    this.owner = owner;
    this.request = request;
  }

  /** Entries the handler adds go out with its RESPONSE [META-1]; made on first use. */
  get responseMetadata(): MetadataEntry[] {
    return (this.metadataOut ??= []);
  }

  /**
   * Replaces the entries, as plain JavaScript may (TypeScript's `readonly`
   * binds only typed code); anything but an array is refused at once [META-1].
   */
  set responseMetadata(entries: MetadataEntry[]) {
    this.metadataOut = checkedResponseMetadata(entries);
  }

  /** The response metadata set, or undefined when the handler set none [META-1]. */
  get metadataToSend(): MetadataEntry[] | undefined {
    return this.metadataOut;
  }

  get peer(): string {
    return this.connection.peer;
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** Made on first use: most requests never carry values. */
  get values(): ContextValues {
    return (this.bag ??= createContextValues());
  }

  remainingMs(): number | undefined {
    return this.deadline === undefined ? undefined : Math.max(0, this.deadline - now());
  }

  drainConnection(graceMs: number): void {
    this.owner.drainAfter(this.request, graceMs);
  }

  begin(): boolean {
    return this.owner.begin(this.request, this.requestId, this.deadline);
  }
}
