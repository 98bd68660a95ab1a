// The TCP connections of a listener still in their handshake (TLS, or the
// HTTP upgrade of a WebSocket): each optionally bounded by a timer from
// accept, and all cut when the listener closes, which would otherwise wait
// for them [TLS-7] [WS-6]. A connection is named by both ends' addresses and
// ports, which name it also through a TLS socket over it.
import type * as net from "node:net";
import { setTimer, type Timer } from "../util/timer.ts";

const connectionKey = (socket: net.Socket) => `${socket.localAddress}|${socket.localPort}|${socket.remoteAddress}|${socket.remotePort}`;

/** Sockets accepted whose handshake is not done yet [TLS-7] [WS-6]. */
export class HandshakingSockets {
  private readonly sockets = new Map<string, { socket: net.Socket; timer: Timer | undefined }>();
  private readonly timeoutMs: number | undefined;

  /** With `timeoutMs`, a socket whose handshake is not done that long after accept is destroyed. */
  constructor(timeoutMs?: number) {
    this.timeoutMs = timeoutMs;
  }

  /** A TCP connection was accepted: its handshake starts. */
  add(socket: net.Socket): void {
    if (socket.remoteAddress === undefined) return; // gone already
    const key = connectionKey(socket);
    const entry = { socket, timer: undefined as Timer | undefined };
    if (this.timeoutMs !== undefined) {
      entry.timer = setTimer(() => {
        if (this.sockets.get(key) === entry) this.sockets.delete(key);
        socket.destroy();
      }, this.timeoutMs);
    }
    this.sockets.set(key, entry);
    socket.once("close", () => {
      entry.timer?.clear();
      if (this.sockets.get(key) === entry) this.sockets.delete(key);
    });
  }

  /** The handshake of `socket` (or of the TLS socket over it) is done: it is the listener's no longer. */
  done(socket: net.Socket): void {
    const key = connectionKey(socket);
    this.sockets.get(key)?.timer?.clear();
    this.sockets.delete(key);
  }

  /** The listener closes: every handshake still in progress is cut. */
  destroyAll(): void {
    for (const { socket, timer } of this.sockets.values()) {
      timer?.clear();
      socket.destroy();
    }
    this.sockets.clear();
  }
}
