// Checks that many cases share, each failing with Expected / Actual.

import { DispatchCode, GoawayCode, type Frame } from "../../src/wire/index.ts";
import { dispatchCodeName } from "../../src/status/index.ts";
import { CaseFailure } from "./case-outcome.ts";
import type { Peer } from "./peer.ts";

const goawayNames = new Map(Object.entries(GoawayCode).map(([name, value]) => [value as number, name]));

/** The name of a GOAWAY code, e.g. "FRAME_TOO_LARGE". */
export function goawayName(code: number): string {
  return goawayNames.get(code) ?? `code ${code}`;
}

/**
 * Expects the connection error procedure: a GOAWAY with `code` whose
 * message starts with "[requirement]", then EOF [FRAME-14] [DRAIN-7].
 */
export async function expectConnectionError(peer: Peer, code: GoawayCode, requirement: string, timeoutMs = 3000): Promise<void> {
  const expected = `GOAWAY(${goawayName(code)}) with a message starting "[${requirement}]", then EOF`;
  const closure = await peer.waitForClose(expected, timeoutMs);
  if (closure.goaway === undefined) throw new CaseFailure(expected, `${peer.describe()} (no GOAWAY before EOF)`, "FRAME-14");
  if (closure.goaway.code !== code) throw new CaseFailure(expected, `GOAWAY(${goawayName(closure.goaway.code)}) "${closure.goaway.message}"`);
  if (!closure.goaway.message.startsWith(`[${requirement}]`)) {
    throw new CaseFailure(expected, `GOAWAY(${goawayName(closure.goaway.code)}) with message "${closure.goaway.message}"`, "DRAIN-7");
  }
}

/** Expects a RESPONSE to `id` with dispatch code `code`. */
export function expectDispatch(frame: Frame, code: DispatchCode, requirement?: string): void {
  if (frame.header.dispatchCode !== code) {
    throw new CaseFailure(
      `RESPONSE ${frame.header.requestId} with dispatch code ${dispatchCodeName(code)}`,
      `dispatch code ${dispatchCodeName(frame.header.dispatchCode)} "${frame.header.dispatchMessage}"${frame.header.appCode ? `, app code ${frame.header.appCode}` : ""}`,
      requirement,
    );
  }
}

/** Expects the server to close without writing a byte, within `timeoutMs`. */
export async function expectSilentClose(peer: Peer, what: string, timeoutMs = 2000): Promise<void> {
  const closure = await peer.waitForClose(`${what}: EOF with no bytes written`, timeoutMs);
  if (closure.raw.length > 0) throw new CaseFailure(`${what}: EOF with no bytes written`, peer.describe());
}

export function hexOf(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
}
