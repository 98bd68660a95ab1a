// The runtime-neutral boundary between the protocol and I/O. Everything
// above it speaks bytes through these few members; only files in this
// folder may name node:*, Deno.*, Bun.* or WebSocket.

/** What a transport tells its owner. */
export interface TransportHandlers {
  /** Bytes arrived; the chunk is the receiver's to keep. */
  data(chunk: Uint8Array): void;
  /** The peer ended its side, or the connection broke (`error` set). Called once. */
  closed(error?: Error): void;
  /** The outgoing buffer dropped below the high-water mark after `write` returned false. */
  drain(): void;
}

/**
 * One byte-stream connection (TCP, a Unix socket, later WebSocket): write
 * bytes, read through handlers, pause reading for backpressure, close.
 */
export interface Transport {
  /** Queues bytes; false once buffered output passes the high-water mark (backpressure). */
  write(bytes: Uint8Array): boolean;
  /** Bytes written but not yet handed to the network. */
  readonly bufferedAmount: number;
  /** Stops and restarts reading from the peer. */
  pause(): void;
  resume(): void;
  /**
   * Ends the connection politely: flushes output, half-closes, then reads
   * and discards input until the peer closes or `lingerMs` passes, so the
   * last frames survive [FRAME-18].
   */
  close(lingerMs?: number): void;
  /** Ends the connection at once, discarding unsent output. */
  destroy(): void;
  /** Installs the handlers; data is read only once they are set. */
  start(handlers: TransportHandlers): void;
  /** A printable address of the peer, e.g. "127.0.0.1:53012" or "unix:/tmp/s". */
  readonly peer: string;
}

/** A listening endpoint. */
export interface TransportListener {
  /** The address it listens on, e.g. "127.0.0.1:7400" (with the port chosen) or "unix:/tmp/s". */
  readonly address: string;
  /** Stops accepting; open connections are not affected. */
  close(): Promise<void>;
}

/** Options of a listener. */
export interface ListenOptions {
  /** The accept backlog; 511 by default, as nginx and Redis use. */
  backlog?: number;
  /** Outgoing bytes buffered per connection before `write` returns false. */
  highWaterMark?: number;
}

/** Options of an outgoing connection. */
export interface ConnectOptions {
  /** Give up connecting after this long. */
  timeoutMs?: number;
  highWaterMark?: number;
}

/** How a runtime opens and accepts transports. */
export interface TransportFactory {
  connect(address: string, options?: ConnectOptions): Promise<Transport>;
  listen(address: string, options: ListenOptions, accept: (transport: Transport) => void): Promise<TransportListener>;
}
