// A PING whose PONG shows that the server has read every frame sent before it.

import { FrameType, type Frame } from "../../src/wire/index.ts";
import type { Peer } from "./peer.ts";

/**
 * Sends a PING with 8 random bytes and waits up to `timeoutMs` for its PONG:
 * the server has then read every frame sent before the PING, since it handles
 * a connection's frames in order [PING-2]. `waiting` names the PONG in a
 * failure. Once per connection, so that PINGs are never too close [PING-6].
 */
export async function readBarrier(peer: Peer, waiting: string, timeoutMs: number): Promise<void> {
  const payload = Uint8Array.from({ length: 8 }, () => Math.floor(Math.random() * 256));
  const same = (f: Frame) => f.header.type === FrameType.PONG && f.body.length === payload.length && f.body.every((b, i) => b === payload[i]);
  peer.send({ type: FrameType.PING }, payload);
  await peer.waitFor(same, waiting, timeoutMs);
}
