// An in-memory transport: two ends of an ordered byte stream inside one
// process, with the behaviour the protocol relies on from a socket — bytes
// arrive asynchronously and coalesced, each end can half-close, pause and
// destroy, and output past the high-water mark reports backpressure until
// the reader takes it. Tests use it where a socket adds nothing; servers
// and clients reach it through "memory:NAME" addresses.

import type {
  ConnectionInfo,
  ConnectOptions,
  ListenOptions,
  Transport,
  TransportFactory,
  TransportHandlers,
  TransportListener,
} from "./transport.ts";

const DEFAULT_HIGH_WATER_MARK = 1024 * 1024;
/** The most bytes one `data` call delivers, as one read of a socket would. */
const DEFAULT_CHUNK_BYTES = 64 * 1024;

/** Options of an in-memory pair. */
export interface MemoryPairOptions {
  /** Bytes written and not yet read by the peer before `write` returns false. Default 1 MiB. */
  highWaterMark?: number;
  /** The most bytes one `data` call delivers; 1 makes every byte its own chunk. Default 64 KiB. */
  chunkBytes?: number;
  /** What each end reports about its peer. */
  infoA?: ConnectionInfo;
  infoB?: ConnectionInfo;
}

class MemoryEnd implements Transport {
  readonly info: ConnectionInfo;
  other!: MemoryEnd;
  private handlers: TransportHandlers | undefined;
  /** Bytes the peer wrote that this end has not yet delivered to its handlers. */
  private inbox: Uint8Array[] = [];
  private inboxBytes = 0;
  private paused = false;
  private scheduled = false;
  /** The peer ended its side, or was destroyed: closed() follows the last byte. */
  private eofPending = false;
  private resetPending = false;
  private closedReported = false;
  private writeEnded = false;
  private destroyed = false;
  private wantsDrain = false;
  private readonly highWaterMark: number;
  private readonly chunkBytes: number;

  constructor(info: ConnectionInfo, highWaterMark: number, chunkBytes: number) {
    this.info = info;
    this.highWaterMark = highWaterMark;
    this.chunkBytes = Math.max(1, chunkBytes);
  }

  get bufferedAmount(): number {
    return this.other.inboxBytes;
  }

  start(handlers: TransportHandlers): void {
    this.handlers = handlers;
    this.schedule();
  }

  write(bytes: Uint8Array): boolean {
    if (this.writeEnded) return false;
    // Copied, as a socket would: the writer may reuse its buffer.
    this.other.receive(bytes.slice());
    const below = this.bufferedAmount < this.highWaterMark;
    if (!below) this.wantsDrain = true;
    return below;
  }

  end(): void {
    if (this.writeEnded) return;
    this.writeEnded = true;
    this.other.receiveEnd(false);
  }

  destroy(): void {
    if (this.destroyed) return;
    const discarded = this.inboxBytes > 0;
    this.destroyed = true;
    this.inbox = [];
    this.inboxBytes = 0;
    // Input left unread turns the close into a reset, as it does on TCP.
    if (!this.writeEnded || discarded) this.other.receiveEnd(discarded);
    this.writeEnded = true;
    this.eofPending = true;
    this.schedule();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.schedule();
  }

  private receive(bytes: Uint8Array): void {
    if (this.destroyed || bytes.length === 0) return;
    this.inbox.push(bytes);
    this.inboxBytes += bytes.length;
    this.schedule();
  }

  private receiveEnd(reset: boolean): void {
    this.eofPending = true;
    if (reset) {
      // A reset, like a TCP RST, reaches an end that does not read too, and takes its unread input.
      this.resetPending = true;
      this.inbox = [];
      this.inboxBytes = 0;
      this.paused = false;
    }
    this.schedule();
  }

  /** The peer took some of our output: report the drain a full buffer owes once it is empty, as node:net does. */
  private noteTaken(): void {
    if (!this.wantsDrain || this.closedReported) return;
    if (this.bufferedAmount > 0) return;
    this.wantsDrain = false;
    this.handlers?.drain();
  }

  private schedule(): void {
    if (this.scheduled || this.handlers === undefined || this.closedReported) return;
    if (this.paused && !this.destroyed) return;
    this.scheduled = true;
    queueMicrotask(() => this.deliver());
  }

  /** Hands the inbox to the handlers chunk by chunk while not paused; then the EOF, once. */
  private deliver(): void {
    this.scheduled = false;
    const handlers = this.handlers!;
    while (this.inboxBytes > 0 && !this.paused && !this.destroyed && !this.closedReported) {
      const chunk = this.take(Math.min(this.chunkBytes, this.inboxBytes));
      handlers.data(chunk);
      this.other.noteTaken();
    }
    if (this.closedReported || !this.eofPending) return;
    if (this.inboxBytes > 0 && !this.destroyed) return; // paused: the EOF waits behind the data
    this.closedReported = true;
    // The peer's EOF ends this side too, as a socket that does not allow half-open streams does.
    if (!this.writeEnded) {
      this.writeEnded = true;
      this.other.receiveEnd(false);
    }
    handlers.closed(this.resetPending && !this.destroyed ? new Error("connection reset by peer") : undefined);
  }

  private take(size: number): Uint8Array {
    const first = this.inbox[0]!;
    if (first.length === size) {
      this.inbox.shift();
      this.inboxBytes -= size;
      return first;
    }
    if (first.length > size) {
      this.inbox[0] = first.subarray(size);
      this.inboxBytes -= size;
      return first.slice(0, size);
    }
    const chunk = new Uint8Array(size);
    let at = 0;
    while (at < size) {
      const next = this.inbox[0]!;
      const part = Math.min(next.length, size - at);
      chunk.set(next.subarray(0, part), at);
      at += part;
      if (part === next.length) this.inbox.shift();
      else this.inbox[0] = next.subarray(part);
    }
    this.inboxBytes -= size;
    return chunk;
  }
}

/** Two connected in-memory transports: what one writes, the other reads. */
export function memoryPair(options: MemoryPairOptions = {}): [Transport, Transport] {
  const highWaterMark = options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
  return joinedEnds(
    options.infoA ?? { peer: "memory:b", secure: false },
    highWaterMark,
    options.infoB ?? { peer: "memory:a", secure: false },
    highWaterMark,
    options.chunkBytes ?? DEFAULT_CHUNK_BYTES,
  );
}

function joinedEnds(infoA: ConnectionInfo, markA: number, infoB: ConnectionInfo, markB: number, chunkBytes: number): [MemoryEnd, MemoryEnd] {
  const a = new MemoryEnd(infoA, markA, chunkBytes);
  const b = new MemoryEnd(infoB, markB, chunkBytes);
  a.other = b;
  b.other = a;
  return [a, b];
}

interface MemoryListening {
  readonly options: ListenOptions;
  readonly accept: (transport: Transport) => void;
  connections: number;
}

/** Listeners of "memory:NAME" addresses in this process. */
const listening = new Map<string, MemoryListening>();
let unnamed = 0;

/** The name of a "memory:NAME" address; throws a TypeError for another scheme. */
function memoryName(address: string): string {
  if (!address.startsWith("memory:")) throw new TypeError(`invalid address "${address}": expected memory:NAME`);
  return address.slice(7);
}

/**
 * In-process connections to "memory:NAME" addresses: `listen("memory:")`
 * picks a free name, `connect` reaches the listener of that name or fails
 * as a refused connection would.
 */
export const memoryTransport: TransportFactory = {
  connect(address: string, options: ConnectOptions = {}): Promise<Transport> {
    const name = memoryName(address);
    const listener = listening.get(name);
    if (listener === undefined) return Promise.reject(new Error(`connection refused: nothing listens on ${address}`));
    const id = ++listener.connections;
    const [client, server] = joinedEnds(
      { peer: address, secure: false },
      options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK,
      { peer: `${address}#${id}`, secure: false },
      listener.options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK,
      DEFAULT_CHUNK_BYTES,
    );
    // Accepted a moment later, as a socket is: bytes the client writes first wait in the stream.
    queueMicrotask(() => listener.accept(server));
    return Promise.resolve(client);
  },
  listen(address: string, options: ListenOptions, accept: (transport: Transport) => void): Promise<TransportListener> {
    let name = memoryName(address);
    if (name === "") name = `auto-${++unnamed}`;
    if (listening.has(name)) return Promise.reject(new Error(`address in use: memory:${name}`));
    const entry: MemoryListening = { options, accept, connections: 0 };
    listening.set(name, entry);
    return Promise.resolve({
      address: `memory:${name}`,
      close: async () => {
        if (listening.get(name) === entry) listening.delete(name);
      },
    });
  },
};
