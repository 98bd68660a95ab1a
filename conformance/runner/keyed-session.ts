// What the keyed-dispatch cases (section 15, and the drain rules that only
// requests queued behind a key make observable) share: a case's connections,
// each with its own request ids, and its session, whose run id goes into
// every key and log tag; and how they read the server-wide log, where
// KeyedWork logs start:<tag> and end:<tag> [CONF-5] and Sleep logs
// sleep:<tag>:… when it returns [CONF-3]. A Sleep with keys is a holder: it
// keeps its keys until the case CANCELs it [CANCEL-2].

import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ConformanceService } from "../gen/strata/conformance/v1/conformance_pb.ts";
import { FrameType, type DispatchCode, type Frame } from "../../src/wire/index.ts";
import { CaseFailure, CaseSkip, expect } from "./case-outcome.ts";
import { pause, type CallOptions, type CaseContext, type MethodName } from "./context.ts";
import { expectDispatch } from "./expectations.ts";
import type { Peer } from "./peer.ts";
import { readBarrier } from "./read-barrier.ts";

/** The HELLO feature a server lists when it offers keyed dispatch [KEYS-2]. */
export const KEYED_DISPATCH = "keyed-dispatch";
/** A holder's Sleep bound: it runs until cancelled, and this ends it if the case dies first [CANCEL-2]. */
export const HOLDER_MS = 30_000;
/** How long to wait for something that should happen promptly, such as a RESPONSE once a key is free [KEYS-5]. */
export const WAIT_MS = 5000;

/** The input of a ConformanceService method, as its init shape [CONF-1]. */
export type Input<M extends MethodName> = MessageInitShape<(typeof ConformanceService.method)[M]["input"]>;

/** Skips unless the server lists keyed-dispatch in its HELLO [KEYS-2]. */
function requireKeyedDispatch(peer: Peer): void {
  if (!peer.hello!.features.includes(KEYED_DISPATCH)) {
    throw new CaseSkip(`the server does not list ${KEYED_DISPATCH} in Hello.features; keys/refused-without-keyed-dispatch applies instead`);
  }
}

/** One connection of a keyed case, with its own request ids, each above the last [ID-3]. */
export class Conn {
  readonly ctx: CaseContext;
  readonly peer: Peer;
  readonly name: string;
  private nextId = 1;
  private pinged = false;

  constructor(ctx: CaseContext, peer: Peer, name: string) {
    this.ctx = ctx;
    this.peer = peer;
    this.name = name;
  }

  /** Allocates the next request id. */
  id(): number {
    return this.nextId++;
  }

  /** Sends a REQUEST; returns its id. */
  send<M extends MethodName>(method: M, init: Input<M>, options: Omit<CallOptions, "id"> = {}): number {
    const id = this.id();
    this.ctx.sendCall(this.peer, method, init, { ...options, id });
    return id;
  }

  /** Sends a keyed holder: a Sleep that keeps `keys` until cancelled. */
  hold(tag: string, keys: string[]): number {
    return this.send("sleep", { ms: HOLDER_MS, tag }, { keys });
  }

  response(id: number, timeoutMs = WAIT_MS): Promise<Frame> {
    return this.ctx.response(this.peer, id, timeoutMs);
  }

  /** Waits for the RESPONSE to `id`; a failure to come says `what` it was for. */
  async answer(id: number, what: string, requirement: string): Promise<Frame> {
    try {
      return await this.response(id);
    } catch (error) {
      if (error instanceof CaseFailure) throw new CaseFailure(`${what}: ${error.expected}`, error.actual, requirement);
      throw error;
    }
  }

  /** Waits for the RESPONSE to `id` and expects `code`. */
  async expect(id: number, code: DispatchCode, what: string, requirement: string): Promise<void> {
    try {
      expectDispatch(await this.response(id), code, requirement);
    } catch (error) {
      if (error instanceof CaseFailure) throw new CaseFailure(`${what}: ${error.expected}`, error.actual, requirement);
      throw error;
    }
  }

  call<M extends MethodName>(method: M, init: Input<M>, options: Omit<CallOptions, "id"> = {}) {
    return this.ctx.call(this.peer, method, init, { ...options, id: this.id() });
  }

  cancel(id: number): void {
    this.peer.send({ type: FrameType.CANCEL, requestId: id });
  }

  /**
   * PING, then wait for its PONG: the server has read every frame sent
   * before it, since it handles a connection's frames in order [PING-2].
   * Once per connection, so PINGs are never too close [PING-6].
   */
  async barrier(): Promise<void> {
    if (this.pinged) throw new Error(`${this.name}: one barrier per connection`);
    this.pinged = true;
    await readBarrier(this.peer, `${this.name}: a PONG to the PING sent to learn that the server read the requests before it [PING-2]`, WAIT_MS);
  }
}

/** A case's connections, keys and tags; tags and keys carry a run id so that cases never share them [CONF-4]. */
export class Session {
  readonly ctx: CaseContext;
  readonly run = `k${Math.random().toString(36).slice(2, 10).padEnd(8, "0")}`;
  private connections = 0;

  constructor(ctx: CaseContext) {
    this.ctx = ctx;
  }

  /** Opens a connection; skips the case unless the server offers keyed dispatch. */
  async open(): Promise<Conn> {
    const peer = await this.ctx.connect();
    requireKeyedDispatch(peer);
    return new Conn(this.ctx, peer, `connection ${++this.connections}`);
  }

  key(name: string): string {
    return `${this.run}:${name}`;
  }

  tag(name: string): string {
    return `${this.run}:${name}`;
  }

  /** This run's log entries, oldest first, with the run id taken out: "start:w1", "sleep:h:interrupted". */
  async log(via: Conn): Promise<string[]> {
    const { entries } = await via.call("recorded", { prefix: "" });
    const marker = `${this.run}:`;
    return entries.filter((e) => e.includes(marker)).map((e) => e.replace(marker, ""));
  }

  /** Polls the log until `done` holds; returns it either way. */
  async waitForLog(via: Conn, done: (log: string[]) => boolean, timeoutMs = WAIT_MS): Promise<string[]> {
    const end = performance.now() + timeoutMs;
    for (;;) {
      const log = await this.log(via);
      if (done(log) || performance.now() > end) return log;
      await pause(20);
    }
  }
}

/** Where `entry` is in `log`, or -1 [CONF-5]. */
export const at = (log: string[], entry: string) => log.indexOf(entry);
/** Where the holder `tag` ended, whatever the outcome it logged, or -1 [CONF-3]. */
export const holderEnd = (log: string[], tag: string) => log.findIndex((e) => e.startsWith(`sleep:${tag}:`));
/** A log, for Actual [CONF-4]. */
export const show = (log: string[]) => (log.length > 0 ? `log ${log.join(", ")}` : "an empty log");

/** Expects `first` in the log before `second`; both must be there [CONF-5]. */
export function expectBefore(log: string[], first: string, second: string, what: string, requirement: string): void {
  const a = first.startsWith("sleep:") ? holderEnd(log, first.slice(6)) : at(log, first);
  const b = at(log, second);
  expect(a >= 0 && b >= 0 && a < b, `${what} (${first} before ${second})`, show(log), requirement);
}
