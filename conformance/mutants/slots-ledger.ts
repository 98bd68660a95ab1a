// A proxy that keeps its own count of a connection's requests against the
// server's max_concurrent_requests and answers OVERLOADED in the server's
// place when that count says the connection is full [LIMIT-5]. Kept exact,
// it admits what the reference admits; a mutant makes it count wrongly in
// one place (a slot leaked on one path, a limit off by one), which is how a
// server whose bookkeeping has that bug behaves from outside.
//
// To know exactly when the server admits, refuses and finishes a request,
// every REQUEST is sent to the server as an acked one: the server's ACK says
// "admitted", a RESPONSE without an ACK says "refused", a RESPONSE after the
// ACK says "finished" (for a oneway request: its handler returned). Frames the
// client did not ask for (an ACK to a unary call, anything for a oneway one)
// are swallowed. Each REQUEST waits until the one before it has its verdict,
// so the count is never behind the server's.

import { CallMode, DispatchCode, encodeFrame, FrameType, type Frame, decodeHello } from "../../src/wire/index.ts";
import { dispatchProcessed } from "../../src/status/index.ts";
import type { Mutant, ProxiedConnection } from "./mutating-proxy.ts";

/** Where a wrong count differs from the right one. Every hook returns the slots it leaks (never given back). */
export interface LedgerBugs {
  /** Slots the connection loses from the start: the limit checked one (or more) too early. */
  missingSlots?: number;
  /** A request refused at admission, by the server (`code`) or by the count itself (OVERLOADED). */
  onRefused?(code: DispatchCode, byCount: boolean): number;
  /** An admitted request's RESPONSE (for a oneway one, the end of its handler). */
  onFinished?(response: Frame, mode: CallMode): number;
  /** A CANCEL for an admitted request still running. */
  onCancelled?(mode: CallMode): number;
  /** An ACK sent before the count is checked: an acked request refused by the count gets one too. */
  acksBeforeCount?: boolean;
}

interface Ledger {
  limit: number;
  leaked: number;
  /** Client call mode of each request admitted and not finished. */
  admitted: Map<number, CallMode>;
  /** Client call mode of every request sent to the server, for the frames coming back. */
  modes: Map<number, CallMode>;
  /** The request sent to the server whose ACK or refusal has not come back. */
  pending: number | undefined;
  /** Client frames held until the pending verdict. */
  held: Frame[];
}

function ledgerOf(connection: ProxiedConnection): Ledger {
  return (connection.state["ledger"] ??= { limit: 0, leaked: 0, admitted: new Map(), modes: new Map(), pending: undefined, held: [] }) as Ledger;
}

/** Sends held client frames on until one has to wait for its verdict. */
function flush(ledger: Ledger, bugs: LedgerBugs, connection: ProxiedConnection): void {
  while (ledger.pending === undefined && ledger.held.length > 0) {
    const frame = ledger.held.shift()!;
    for (const out of fromClient(frame, ledger, bugs, connection)) connection.toServer(encodeFrame(out.header, out.body));
  }
}

function fromClient(frame: Frame, ledger: Ledger, bugs: LedgerBugs, connection: ProxiedConnection): Frame[] {
  const { header } = frame;
  if (header.type === FrameType.CANCEL) {
    const mode = ledger.modes.get(header.requestId);
    // Sent to the server as acked, a oneway request must not become cancellable [CANCEL-3].
    if (mode === CallMode.ONEWAY) return [];
    if (mode !== undefined && ledger.admitted.delete(header.requestId)) ledger.leaked += bugs.onCancelled?.(mode) ?? 0;
    return [frame];
  }
  if (header.type !== FrameType.REQUEST || ledger.limit === 0) return [frame];
  const mode = header.callMode;
  if (mode !== CallMode.UNARY && mode !== CallMode.ACKED && mode !== CallMode.ONEWAY) return [frame];
  const id = header.requestId;
  if (ledger.admitted.size + ledger.leaked + (bugs.missingSlots ?? 0) >= ledger.limit) {
    if (mode === CallMode.ACKED && bugs.acksBeforeCount) connection.toClient(encodeFrame({ type: FrameType.ACK, requestId: id }));
    if (mode !== CallMode.ONEWAY) {
      connection.toClient(encodeFrame({ type: FrameType.RESPONSE, requestId: id, dispatchCode: DispatchCode.OVERLOADED, dispatchMessage: `${ledger.limit} requests of this connection are in progress [LIMIT-5]` }));
    }
    ledger.leaked += bugs.onRefused?.(DispatchCode.OVERLOADED, true) ?? 0;
    return [];
  }
  ledger.modes.set(id, mode);
  ledger.pending = id;
  return [{ header: { ...header, callMode: CallMode.ACKED }, body: frame.body }];
}

function fromServer(frame: Frame, ledger: Ledger, bugs: LedgerBugs, connection: ProxiedConnection): Frame[] {
  const { header } = frame;
  if (header.type === FrameType.HELLO) {
    ledger.limit = decodeHello(frame.body).maxConcurrentRequests;
    return [frame];
  }
  const id = header.requestId;
  const mode = ledger.modes.get(id);
  if ((header.type !== FrameType.ACK && header.type !== FrameType.RESPONSE) || mode === undefined) return [frame];
  let out: Frame[] = mode === CallMode.ONEWAY || (header.type === FrameType.ACK && mode !== CallMode.ACKED) ? [] : [frame];
  if (header.type === FrameType.ACK) {
    if (ledger.pending === id) ledger.admitted.set(id, mode);
  } else {
    ledger.modes.delete(id);
    if (ledger.pending === id) {
      if (dispatchProcessed(header.dispatchCode) === "no") ledger.leaked += bugs.onRefused?.(header.dispatchCode, false) ?? 0;
    } else if (ledger.admitted.delete(id)) {
      ledger.leaked += bugs.onFinished?.(frame, mode) ?? 0;
    }
  }
  if (ledger.pending === id) {
    ledger.pending = undefined;
    // Forward this frame before the held ones send more requests.
    for (const f of out) connection.toClient(encodeFrame(f.header, f.body));
    out = [];
    flush(ledger, bugs, connection);
  }
  return out;
}

/** A mutant whose server counts a connection's requests as `bugs` says. */
export function ledgerMutant(name: string, description: string, caughtBy: string[], bugs: LedgerBugs): Mutant {
  return {
    name,
    description,
    caughtBy,
    clientFrame(frame, connection) {
      const ledger = ledgerOf(connection);
      if (ledger.pending !== undefined || ledger.held.length > 0) {
        ledger.held.push(frame);
        return [];
      }
      return fromClient(frame, ledger, bugs, connection);
    },
    serverFrame: (frame, connection) => fromServer(frame, ledgerOf(connection), bugs, connection),
  };
}
