// For mutants that change the answers to one method: which requests on a
// connection called it, so that a serverFrame hook knows their RESPONSEs.
import { DispatchCode, FrameType, type Frame } from "../../src/wire/index.ts";
import type { ProxiedConnection } from "./mutating-proxy.ts";

/** Notes the request ids of calls to `service`/`method` on the connection, for a serverFrame hook to find their RESPONSEs. */
export function noteCalls(frame: Frame, connection: ProxiedConnection, service: string, method: string): Frame[] {
  if (frame.header.type !== FrameType.REQUEST) return [frame];
  connection.state["maxId"] = Math.max((connection.state["maxId"] as number | undefined) ?? 0, frame.header.requestId);
  if (frame.header.service === service && frame.header.method === method) {
    ((connection.state["calls"] ??= new Set<number>()) as Set<number>).add(frame.header.requestId);
  }
  return [frame];
}

/** Whether `frame` is the OK RESPONSE to a call noted by noteCalls. */
export function answersNoted(frame: Frame, connection: ProxiedConnection): boolean {
  const calls = connection.state["calls"] as Set<number> | undefined;
  return frame.header.type === FrameType.RESPONSE && frame.header.dispatchCode === DispatchCode.OK && calls?.has(frame.header.requestId) === true;
}
