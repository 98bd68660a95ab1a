// The compressed request bodies of one connection: each counted toward the
// server's bound on requests waiting to be decompressed [COMP-11], then
// inflated by native zlib, one at a time per connection and a few per server
// [COMP-9], never past what its trailer declares [COMP-10].

import { gunzip, gzipDeclaredSize, type FrameHeader, type GunzipResult } from "../wire/index.ts";
import type { ConnectionHost } from "./connection-host.ts";
import { Phase, type ServerCall } from "./server-call.ts";
import { TaskLimiter } from "./task-limiter.ts";
import { ConnectionWaiting, holdWhileCompressed, ownBytes, stopCompressed } from "./waiting-requests.ts";

/** Inflates a connection's compressed request bodies in order, counted while they wait [COMP-9] [COMP-11]. */
export class ConnectionInflater {
  private readonly host: ConnectionHost;
  private readonly maxBodySize: number;
  private readonly queue = new TaskLimiter(1);
  private readonly waiting: ConnectionWaiting;

  constructor(host: ConnectionHost, maxBodySize: number) {
    this.host = host;
    this.maxBodySize = maxBodySize;
    this.waiting = new ConnectionWaiting(host.holdDecompressing);
  }

  /**
   * Counts `call` and queues its body: false, and nothing queued, when that
   * passes the server's bound [COMP-11]. Else `done` gets the result in
   * turn, or undefined when the call was removed before its turn.
   */
  inflate(header: FrameHeader, compressed: Uint8Array, call: ServerCall, done: (result: GunzipResult | undefined) => void): boolean {
    // Counted at what it will decompress to, which it cannot pass [COMP-10], perhaps past its connection's end:
    // the bound holds the work queued as well as the memory [COMP-11].
    if (!holdWhileCompressed(this.waiting, header, compressed, Math.min(this.maxBodySize, gzipDeclaredSize(compressed)), call)) return false;
    const body = ownBytes(compressed);
    const inflate = () => this.host.decompressions.run(() => gunzip(body, this.maxBodySize, this.host.inflate));
    void this.queue.run(() => (call.phase === Phase.finished ? Promise.resolve(undefined) : inflate())).then((result) => {
      // Counted until here, its turn, also when it was removed before: until then its task kept its body.
      stopCompressed(this.waiting, call);
      done(result);
    });
    return true;
  }
}
