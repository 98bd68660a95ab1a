// What a case gets to work with: connections to the server under test,
// calls to the conformance service, property-test parameters, a trace.

import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import fc from "fast-check";
import { CallMode, DispatchCode, encodeFrame, FrameType, type Frame, type MetadataEntry } from "../../src/wire/index.ts";
import { ConformanceService } from "../gen/strata/conformance/v1/conformance_pb.ts";
import { CaseFailure } from "./case-outcome.ts";
import { Peer, type TraceLog } from "./peer.ts";
import { suiteTransports, type SuiteTls } from "./suite-tls.ts";

/** Waits `ms`: for pacing what a case sends (trickled bytes), never to wait for the server. */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The conformance service's fully-qualified name (Appendix C). */
export const CONFORMANCE_SERVICE = ConformanceService.typeName;

/** A ConformanceService method, by its generated (camelCase) name. */
export type MethodName = keyof typeof ConformanceService.method;

/** Options of one conformance-service call made on a raw connection. */
export interface CallOptions {
  id: number;
  mode?: CallMode;
  timeoutMs?: number;
  metadata?: MetadataEntry[];
  keys?: string[];
  /** A method reference: sent with the names (binding it), or alone with `byRef` [REF-2] [REF-3]. */
  methodRef?: number;
  /** Send `methodRef` without the service and method names [REF-3]. */
  byRef?: true;
}

/** The context of one case run. */
export class CaseContext {
  /** The server's address, host:port. */
  readonly address: string;
  /** Seed and runs for fast-check properties, so a failure can be replayed. */
  readonly seed: number;
  readonly runs: number;
  /** Every byte sent and received on the case's connections. */
  readonly trace: TraceLog = { entries: [], startedAt: performance.now(), connections: 0 };
  private readonly peers: Peer[] = [];
  /** The replay path of a failed property, when there was one. */
  counterexamplePath: string | undefined;

  /** A counterexample path to replay (with the same seed), from a failure report. */
  readonly path: string | undefined;

  /** How the suite speaks TLS to a `tls:` or `wss:` target, undefined for plaintext (section 19). */
  readonly tls: SuiteTls | undefined;

  constructor(address: string, seed: number, runs: number, path?: string, tls?: SuiteTls) {
    this.address = address;
    this.seed = seed;
    this.runs = runs;
    this.path = path;
    this.tls = tls;
  }

  /** Opens a connection (over TLS to a `tls:` or `wss:` target); see Peer.open. Closed automatically when the case ends. */
  async connect(options: Parameters<typeof Peer.open>[2] = {}): Promise<Peer> {
    const peer = await Peer.open(this.address, this.trace, { transports: suiteTransports(this.tls), ...options });
    this.peers.push(peer);
    return peer;
  }

  /** A tag no other case run uses, for the server-wide log [CONF-4]: `what`, a dash, 8 random characters. */
  uniqueTag(what: string): string {
    return `${what}-${Math.random().toString(36).slice(2, 10).padEnd(8, "0")}`;
  }

  /**
   * Reads the server-wide log entries starting with `prefix` on a connection
   * of its own, again every 20 ms until `done` holds or `timeoutMs` (5 s) passes;
   * returns the last entries read either way [CONF-4].
   */
  async pollLog(prefix: string, done: (entries: string[]) => boolean = (e) => e.length > 0, timeoutMs = 5000): Promise<string[]> {
    const observer = await this.connect();
    const end = performance.now() + timeoutMs;
    for (let id = 1; ; id++) {
      const { entries } = await this.call(observer, "recorded", { prefix }, { id });
      if (done(entries) || performance.now() > end) return entries;
      await pause(20);
    }
  }

  /** Closes every connection the case opened. */
  dispose(): void {
    for (const peer of this.peers) peer.close();
  }

  /** Sends a REQUEST for a ConformanceService method with `init` as its input. */
  sendCall<M extends MethodName>(peer: Peer, method: M, init: MessageInitShape<(typeof ConformanceService.method)[M]["input"]>, options: CallOptions): void {
    peer.write(this.encodeCall(method, init, options));
  }

  /** The bytes of the REQUEST sendCall sends, so that several can go out in one write. */
  encodeCall<M extends MethodName>(method: M, init: MessageInitShape<(typeof ConformanceService.method)[M]["input"]>, options: CallOptions): Uint8Array {
    const desc = ConformanceService.method[method];
    return encodeFrame(
      {
        type: FrameType.REQUEST,
        requestId: options.id,
        service: options.byRef ? "" : CONFORMANCE_SERVICE,
        method: options.byRef ? "" : desc.name,
        ...(options.methodRef !== undefined ? { methodRef: options.methodRef } : {}),
        callMode: options.mode ?? CallMode.UNARY,
        ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
        metadata: options.metadata ?? [],
        keys: options.keys ?? [],
      },
      toBinary(desc.input as DescMessage, create(desc.input as DescMessage, init as MessageInitShape<DescMessage>)),
    );
  }

  /** Waits for the RESPONSE to request `id`. */
  response(peer: Peer, id: number, timeoutMs = 3000): Promise<Frame> {
    return peer.waitFor((f) => f.header.type === FrameType.RESPONSE && f.header.requestId === id, `a RESPONSE to request ${id}`, timeoutMs);
  }

  /** Calls a ConformanceService method and returns its decoded output; fails on any non-OK status. */
  async call<M extends MethodName>(peer: Peer, method: M, init: MessageInitShape<(typeof ConformanceService.method)[M]["input"]>, options: CallOptions): Promise<MessageShape<(typeof ConformanceService.method)[M]["output"]>> {
    this.sendCall(peer, method, init, options);
    const frame = await this.response(peer, options.id);
    const { dispatchCode, dispatchMessage, appCode, appMessage } = frame.header;
    if (dispatchCode !== DispatchCode.OK || appCode !== 0) {
      throw new CaseFailure(
        `${method} to succeed (is ${CONFORMANCE_SERVICE} offered? [CONF-1])`,
        dispatchCode !== DispatchCode.OK ? `dispatch code ${dispatchCode} "${dispatchMessage}"` : `application code ${appCode} "${appMessage}"`,
      );
    }
    const output = ConformanceService.method[method].output as DescMessage;
    return fromBinary(output, frame.body) as MessageShape<(typeof ConformanceService.method)[M]["output"]>;
  }

  /** Runs an async fast-check property with this run's seed; a failure names the counterexample. */
  async property<T>(arbitrary: fc.Arbitrary<T>, predicate: (value: T) => Promise<void>): Promise<void> {
    const result = await fc.check(fc.asyncProperty(arbitrary, predicate), { seed: this.seed, numRuns: this.runs, endOnFailure: true, ...(this.path ? { path: this.path } : {}) });
    if (!result.failed) return;
    this.counterexamplePath = result.counterexamplePath ?? undefined;
    const cause = result.errorInstance;
    if (cause instanceof CaseFailure) {
      throw new CaseFailure(cause.expected, `${cause.actual}\n  counterexample: ${fc.stringify(result.counterexample)}`, cause.requirement);
    }
    throw new CaseFailure("the property to hold", `${String(cause)}\n  counterexample: ${fc.stringify(result.counterexample)}`);
  }
}
