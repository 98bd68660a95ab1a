// Whole sessions: random sequences of operations on one connection,
// checked against a model (fast-check commands).
import fc from "fast-check";
import { fromBinary } from "@bufbuild/protobuf";
import { EchoResponseSchema } from "../gen/strata/conformance/v1/conformance_pb.ts";
import { CallMode, DispatchCode, FrameType } from "../../src/wire/index.ts";
import { expect } from "../runner/case-outcome.ts";
import type { ConformanceCase } from "../runner/case.ts";
import { CONFORMANCE_SERVICE, type CaseContext } from "../runner/context.ts";
import { expectDispatch, hexOf } from "../runner/expectations.ts";
import type { Peer } from "../runner/peer.ts";

/** What the session should have produced so far. */
interface Model {
  nextId: number;
  recorded: string[];
  session: string;
}

interface Real {
  ctx: CaseContext;
  peer: Peer;
}

type Command = fc.AsyncCommand<Model, Real>;

class Echo implements Command {
  readonly payload: Uint8Array;
  readonly mode: CallMode;
  constructor(payload: Uint8Array, mode: CallMode) {
    this.payload = payload;
    this.mode = mode;
  }
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    const id = model.nextId++;
    real.ctx.sendCall(real.peer, "echo", { payload: this.payload }, { id, mode: this.mode });
    const response = await real.ctx.response(real.peer, id);
    expectDispatch(response, DispatchCode.OK, "CALL-3");
    const echoed = fromBinary(EchoResponseSchema, response.body).payload;
    expect(hexOf(echoed) === hexOf(this.payload), `request ${id} echoed`, `${echoed.length} different bytes`, "CALL-8");
    if (this.mode === CallMode.ACKED) {
      const ack = real.peer.frames.findIndex((f) => f.header.type === FrameType.ACK && f.header.requestId === id);
      expect(ack >= 0 && ack < real.peer.frames.indexOf(response), `an ACK before the RESPONSE of request ${id}`, real.peer.describe(), "CALL-6");
    }
  }
  toString = () => `Echo(${this.payload.length} bytes, ${this.mode === CallMode.ACKED ? "acked" : "unary"})`;
}

class Record implements Command {
  readonly tag: string;
  constructor(tag: string) {
    this.tag = tag;
  }
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    const id = model.nextId++;
    real.ctx.sendCall(real.peer, "record", { tag: `${model.session}:${this.tag}` }, { id, mode: CallMode.ONEWAY });
    model.recorded.push(`record:${model.session}:${this.tag}`);
  }
  toString = () => `Record(${this.tag}, oneway)`;
}

class CheckLog implements Command {
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    const id = model.nextId++;
    const { entries } = await real.ctx.call(real.peer, "recorded", { prefix: `record:${model.session}:` }, { id });
    // Requests without keys are not ordered [KEYS-7]: compare as multisets.
    const got = [...entries].sort().join(",");
    const want = [...model.recorded].sort().join(",");
    expect(got === want, `the log to hold exactly the oneway records sent: ${want || "(none)"}`, got || "(none)", "CALL-4");
  }
  toString = () => "CheckLog";
}

class Ping implements Command {
  readonly payload: Uint8Array;
  constructor(payload: Uint8Array) {
    this.payload = payload;
  }
  check = () => true;
  async run(_model: Model, real: Real): Promise<void> {
    const before = real.peer.frames.filter((f) => f.header.type === FrameType.PONG).length;
    // Spaced so that no rate limit applies [PING-6].
    await new Promise((resolve) => setTimeout(resolve, (real.peer.hello!.minPingIntervalMs || 1000) / 2 + 5));
    real.peer.send({ type: FrameType.PING }, this.payload);
    await real.peer.waitFor(() => real.peer.frames.filter((f) => f.header.type === FrameType.PONG).length > before, "a PONG");
    const pong = real.peer.frames.filter((f) => f.header.type === FrameType.PONG)[before]!;
    expect(hexOf(pong.body) === hexOf(this.payload), `PONG payload ${hexOf(this.payload)}`, hexOf(pong.body), "PING-2");
  }
  toString = () => `Ping(${this.payload.length} bytes)`;
}

class UnknownMethod implements Command {
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    const id = model.nextId++;
    real.peer.send({ type: FrameType.REQUEST, requestId: id, service: CONFORMANCE_SERVICE, method: "Nope" });
    expectDispatch(await real.ctx.response(real.peer, id), DispatchCode.UNKNOWN_METHOD, "STATUS-4");
  }
  toString = () => "UnknownMethod";
}

const commands = [
  fc.tuple(fc.uint8Array({ maxLength: 512 }), fc.constantFrom(CallMode.UNARY, CallMode.ACKED)).map(([p, m]) => new Echo(p, m) as Command),
  fc.stringMatching(/^[a-z]{1,8}$/).map((t) => new Record(t) as Command),
  fc.constant(new CheckLog() as Command),
  fc.uint8Array({ maxLength: 64 }).map((p) => new Ping(p) as Command),
  fc.constant(new UnknownMethod() as Command),
];

export const sessionCases: ConformanceCase[] = [
  {
    name: "sessions/random-operations-on-one-connection",
    section: "7 Call modes",
    requirements: ["CALL-3", "CALL-4", "CALL-6", "CALL-8", "PING-2", "STATUS-4"],
    title: "Random sessions of unary, acked and oneway calls, PINGs and unknown methods behave as the model says (fc.commands)",
    usesConformanceService: true,
    async run(ctx) {
      let session = 0;
      await ctx.property(fc.commands(commands, { maxCommands: 15 }), async (cmds) => {
        const peer = await ctx.connect();
        const model: Model = { nextId: 1, recorded: [], session: `s${ctx.seed}-${session++}-${Math.random().toString(36).slice(2, 8)}` };
        await fc.asyncModelRun(() => ({ model, real: { ctx, peer } }), [...cmds, new CheckLog()]);
        peer.close();
      });
    },
  },
];
