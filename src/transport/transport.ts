// The runtime-neutral boundary between the protocol and I/O: one ordered,
// reliable byte stream per connection (spec section 2.4). TCP and Unix
// sockets, TLS, a WebSocket and an in-memory pair all fit it; everything
// above it speaks bytes through these few members. Only files in this folder
// may name node:*, Deno.*, Bun.* or WebSocket.

/** What a transport tells its owner. */
export interface TransportHandlers {
  /** Bytes arrived, in order; the chunk is the receiver's to keep. */
  data(chunk: Uint8Array): void;
  /**
   * The stream ended: the peer ended its side (EOF), the connection broke
   * (`error` set), or it was destroyed. Called once; no data follows.
   */
  closed(error?: Error): void;
  /** The outgoing buffer dropped below the high-water mark after `write` returned false. */
  drain(): void;
  /**
   * Only on a connection opened with `allowHalfOpen`: the peer ended its
   * side, ours stays open for writing; closed() follows when the stream is
   * gone (with the error that ended it, e.g. a reset).
   */
  ended?(): void;
}

/** The identity of a peer's certificate, on a connection that authenticated one. */
export interface PeerCertificate {
  /** The subject's distinguished name, e.g. "CN=billing". */
  readonly subject: string;
  /** The subject alternative names, e.g. ["DNS:billing.internal"]. */
  readonly subjectAltNames: readonly string[];
  /** SHA-256 fingerprint of the certificate, as colon-separated hex. */
  readonly fingerprint256: string;
}

/** What is known about a connection and its peer, for handlers and limits. */
export interface ConnectionInfo {
  /** A printable address of the peer, e.g. "127.0.0.1:53012", "unix:/tmp/s" or "memory:test#3". */
  readonly peer: string;
  /** The peer's IP address when it has one (TCP, TLS, WebSocket), for per-client limits [SEC-4]. */
  readonly remoteAddress?: string;
  /** Whether the stream is encrypted and its server authenticated (TLS, wss). */
  readonly secure: boolean;
  /** The application protocol the connection negotiated (ALPN id, WebSocket subprotocol), if any. */
  readonly protocol?: string;
  /** The peer's verified certificate, when it presented one. */
  readonly peerCertificate?: PeerCertificate;
  /** The Cookie header of a WebSocket upgrade request, for handlers that authenticate browsers by cookie [WS-5]. */
  readonly cookie?: string;
}

/**
 * One connection as an ordered byte stream: write bytes, read through
 * handlers, end our side, destroy. The protocol layer decides when to end
 * and how long to keep reading afterwards [FRAME-18].
 */
export interface Transport {
  /** Who the peer is and how the connection is protected. */
  readonly info: ConnectionInfo;
  /**
   * Queues bytes; false once buffered output passes the high-water mark
   * (backpressure). `owned`: the caller cut them from the output pool for
   * this write alone and keeps no reference to them (an encoded frame), so
   * a transport may give them back (releaseOutput) once written; one that
   * ignores the flag simply writes them, and their slab is not used again.
   */
  write(bytes: Uint8Array, owned?: boolean): boolean;
  /** Bytes written but not yet handed to the network. */
  readonly bufferedAmount: number;
  /** Installs the handlers; data is read only once they are set. */
  start(handlers: TransportHandlers): void;
  /**
   * Ends our side once the queued output is sent (the peer reads EOF), and
   * keeps delivering what the peer still sends until it ends too; a stream
   * that cannot half-close sends its output and then closes. A transport
   * that reads the peer's EOF ends its own side as well: no stream stays
   * half-open.
   */
  end(): void;
  /** Ends the connection at once, discarding unsent output. */
  destroy(): void;
  /**
   * Stops and restarts reading from the peer, where the stream can (a
   * browser's WebSocket cannot): without them, the protocol bounds what it
   * buffers by other means [SEC-1].
   */
  pause?(): void;
  resume?(): void;
  /**
   * Whether the open connection keeps the process alive, where the runtime
   * can tell (Node's and Bun's sockets can): a client unrefs a connection
   * with no call pending, so that a program that never closes its client
   * still exits [PING-4].
   */
  ref?(): void;
  unref?(): void;
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
  /**
   * How long a handshake below Strata's may take from accept (TLS: the
   * server's handshake timeout); the connection is closed when it has not
   * completed by then [TLS-7].
   */
  handshakeTimeoutMs?: number;
}

/** Options of an outgoing connection. */
export interface ConnectOptions {
  /** Give up connecting after this long. */
  timeoutMs?: number;
  highWaterMark?: number;
  /**
   * Keep our side open after the peer's EOF (reported through `ended`), for
   * test peers that must see what a closing server does with late bytes
   * [FRAME-18]; where the transport supports it (TCP does).
   */
  allowHalfOpen?: boolean;
}

/** How a runtime opens and accepts transports for the addresses of its schemes. */
export interface TransportFactory {
  connect(address: string, options?: ConnectOptions): Promise<Transport>;
  listen(address: string, options: ListenOptions, accept: (transport: Transport) => void): Promise<TransportListener>;
}
