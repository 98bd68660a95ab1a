// The model the property keys/random-keyed-work checks a server against:
// random plans of pipelined keyed requests on several connections, how they
// are sent, and the rules of section 15 that the server-wide log of the run
// must obey whatever order the server read them in.
import fc from "fast-check";
import { CallMode } from "../../src/wire/index.ts";
import { CaseFailure, expect } from "./case-outcome.ts";
import { show, type Conn, type Session } from "./keyed-session.ts";

/** One generated request: which connection sends it, its keys (possibly none, repeated, in any order), its hold. */
interface Planned {
  conn: number;
  keys: string[];
  holdMs: number;
  acked: boolean;
}

/** A generated run: how many connections, and the requests sent on them in order [KEYS-9]. */
export interface Plan {
  connections: number;
  requests: Planned[];
}

const keyName = fc.constantFrom("a", "b", "c");
/** Random plans: 2 or 3 connections, 2 to 12 requests on keys a, b and c (or none), unary or acked [KEYS-3]. */
export const planArbitrary: fc.Arbitrary<Plan> = fc.integer({ min: 2, max: 3 }).chain((connections) =>
  fc
    .array(
      fc.record({
        conn: fc.integer({ min: 0, max: connections - 1 }),
        keys: fc.oneof({ weight: 1, arbitrary: fc.constant<string[]>([]) }, { weight: 6, arbitrary: fc.array(keyName, { minLength: 1, maxLength: 3 }) }),
        holdMs: fc.integer({ min: 0, max: 15 }),
        acked: fc.boolean(),
      }),
      { minLength: 2, maxLength: 12 },
    )
    // Plain objects, so that a counterexample prints plainly.
    .map((requests) => ({ connections, requests: requests.map((r) => ({ ...r })) })),
);

/** A sent request, as the checks see it [KEYS-4]. */
export interface Sent {
  /** r<index>, in send order; also its tag. */
  label: string;
  conn: number;
  id: number;
  keys: Set<string>;
}

const shares = (a: Sent, b: Sent) => [...a.keys].some((k) => b.keys.has(k));
/** A sent request, for Expected and Actual [KEYS-4]. */
export const describeSent = (r: Sent) => `${r.label} (connection ${r.conn + 1}, id ${r.id}, keys ${[...r.keys].join("+") || "none"})`;

/** Sends the plan: consecutive requests for one connection go out in one write, so they are truly pipelined [KEYS-9]. */
export async function runPlan(s: Session, plan: Plan): Promise<{ sent: Sent[]; conns: Conn[] }> {
  const conns: Conn[] = [];
  for (let i = 0; i < plan.connections; i++) conns.push(await s.open());
  const sent: Sent[] = [];
  let batch: Uint8Array[] = [];
  let batchConn = -1;
  const flush = () => {
    if (batch.length === 0) return;
    const bytes = new Uint8Array(batch.reduce((n, b) => n + b.length, 0));
    let offset = 0;
    for (const b of batch) {
      bytes.set(b, offset);
      offset += b.length;
    }
    conns[batchConn]!.peer.write(bytes);
    batch = [];
  };
  for (const [index, request] of plan.requests.entries()) {
    if (request.conn !== batchConn) flush();
    batchConn = request.conn;
    const conn = conns[request.conn]!;
    const id = conn.id();
    const label = `r${index}`;
    batch.push(s.ctx.encodeCall("keyedWork", { tag: s.tag(label), holdMs: request.holdMs }, { id, keys: request.keys.map((k) => s.key(k)), mode: request.acked ? CallMode.ACKED : CallMode.UNARY }));
    sent.push({ label, conn: request.conn, id, keys: new Set(request.keys) });
  }
  flush();
  return { sent, conns };
}

/** Checks a run's log against the rules of section 15: no overlap on a shared key, start order, completion [KEYS-3] [KEYS-4] [KEYS-5] [KEYS-9]. */
export function checkLog(sent: Sent[], log: string[]): void {
  const byLabel = new Map(sent.map((r) => [r.label, r]));
  const startAt = new Map<string, number>();
  const running = new Set<Sent>();
  for (const [index, entry] of log.entries()) {
    const [what, label] = entry.split(":") as [string, string];
    const request = byLabel.get(label);
    if (request === undefined) continue;
    if (what === "start") {
      expect(!startAt.has(label), `${label} to start once`, show(log), "CONF-5");
      for (const other of running) {
        if (!shares(request, other)) continue;
        throw new CaseFailure(
          "requests that share a key never to run at the same time, whatever their connections",
          `${describeSent(request)} started while ${describeSent(other)} ran; ${show(log)}`,
          request.conn === other.conn ? "KEYS-3" : "KEYS-9",
        );
      }
      startAt.set(label, index);
      running.add(request);
    } else if (what === "end") {
      running.delete(request);
    }
  }
  // Every request ran to its end [KEYS-5]: its RESPONSE came, and the log shows it.
  for (const r of sent) {
    expect(startAt.has(r.label) && log.includes(`end:${r.label}`), `${describeSent(r)} to have started and ended`, show(log), "KEYS-5");
  }
  // Same connection, shared key: start in the order received [KEYS-4].
  for (const a of sent) {
    for (const b of sent) {
      if (a.conn !== b.conn || a.id >= b.id || !shares(a, b)) continue;
      expect(startAt.get(a.label)! < startAt.get(b.label)!, `${describeSent(a)} to start before ${describeSent(b)}, sent after it on the same connection with a shared key`, show(log), "KEYS-4");
    }
  }
  // Across connections [KEYS-9]: some single arrival order must explain every
  // key's start order. The graph "a arrived before b" (send order on one
  // connection, start order on a shared key) must have no cycle.
  const after = new Map<Sent, Sent[]>(sent.map((r) => [r, []]));
  for (const a of sent) {
    for (const b of sent) {
      if (a === b) continue;
      const sameConnection = a.conn === b.conn && a.id < b.id;
      const keyOrder = a.conn !== b.conn && shares(a, b) && startAt.get(a.label)! < startAt.get(b.label)!;
      if (sameConnection || keyOrder) after.get(a)!.push(b);
    }
  }
  const state = new Map<Sent, "open" | "done">();
  const visit = (r: Sent, path: Sent[]): void => {
    if (state.get(r) === "done") return;
    if (state.get(r) === "open") {
      const cycle = [...path.slice(path.indexOf(r)), r].map((x) => x.label).join(" → ");
      throw new CaseFailure(
        "the start order on every key to follow one arrival order across connections (each connection's requests arriving in send order)",
        `no arrival order fits: ${cycle} (each arrow: sent earlier on one connection, or started earlier on a shared key); ${show(log)}`,
        "KEYS-9",
      );
    }
    state.set(r, "open");
    for (const next of after.get(r)!) visit(next, [...path, r]);
    state.set(r, "done");
  };
  for (const r of sent) visit(r, []);
}
