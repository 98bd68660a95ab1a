// A proxy in front of a correct server that breaks one rule on purpose: the
// mutant servers the suite must fail. Bytes pass through unchanged unless a
// mutant's hook changes them, so each mutant is one small deviation. A few
// deviations live inside the server instead (Mutant.serverOptions).

import * as net from "node:net";
import type { ServerOptions } from "../../src/node.ts";
import type { TransportFactory } from "../../src/transport/index.ts";
import type { SpawnTls } from "../runner/case.ts";
import { createFrameDecoder, encodeFrame, PREFACE_SIZE, type Frame, type FrameDecoder } from "../../src/wire/index.ts";

/** One proxied connection, as a mutant sees it. */
export interface ProxiedConnection {
  /** Writes bytes to the client. */
  toClient(bytes: Uint8Array): void;
  /** Writes bytes to the server. */
  toServer(bytes: Uint8Array): void;
  /** Ends the client side (the server side stays as it is). */
  endClient(): void;
  /** Resets the client connection at once. */
  destroyClient(): void;
  /** State a mutant may keep per connection. */
  readonly state: Record<string, unknown>;
  /** Whether the client's side is gone (the case has ended): a costly mutant stops working then. */
  readonly closed: boolean;
}

/** What a WebSocket front end does differently from the reference; none set: the same. */
export interface WebSocketDeviation {
  /** Drop text messages instead of closing with 1003 [WS-2]. */
  ignoreText?: boolean;
  /** Accept upgrades that do not request strata [WS-1]. */
  anySubprotocol?: boolean;
  /** Accept permessage-deflate [WS-4]. */
  deflate?: boolean;
  /** Accept any Origin [WS-5]. */
  anyOrigin?: boolean;
  /** Join the server's messages of one turn into one, however large [WS-3]. */
  joinMessages?: boolean;
  /** Leave upgrades that never finish to the HTTP server's own timeouts [WS-6]. */
  unboundedUpgrade?: boolean;
  /** Ends the connection of an upgrade for another path or no path without an HTTP answer, as a listener whose URL parser threw would [WS-8]. */
  dropOtherTargets?: boolean;
  /** Compare the whole target, query included, with the path [WS-9]. */
  queryInPath?: boolean;
  /** Check the subprotocol before the target: 400 for another path that lacks it [WS-9]. */
  subprotocolBeforeTarget?: boolean;
  /** Send the close frame 1.5 s after the server's, not at once [WS-7]. */
  closeLate?: boolean;
  /** End TCP right after the close frame, without reading until the peer's answer [WS-7]. */
  noCloseHandshake?: boolean;
}

/** A deliberate deviation from the spec. Hooks left out pass everything through. */
export interface Mutant {
  name: string;
  /** What the mutant gets wrong, and which requirement that breaks. */
  description: string;
  /** Cases that must fail against this mutant. */
  caughtBy: string[];
  /** Why the suite cannot catch it when it runs on Bun, if it cannot (its cases skip there). */
  uncaughtOnBun?: string;
  /** Raw client bytes before anything else; return false to swallow them. */
  clientBytes?(chunk: Uint8Array, connection: ProxiedConnection): boolean;
  /** A decoded client frame (after the preface); return the frames to forward to the server. */
  clientFrame?(frame: Frame, connection: ProxiedConnection): Frame[];
  /** A decoded server frame (after the preface); return the frames to forward to the client. */
  serverFrame?(frame: Frame, connection: ProxiedConnection): Frame[];
  /** Whether a close by the server is passed on to the client (default true). */
  passServerClose?(connection: ProxiedConnection): boolean;
  /** Replaces how the server's close is passed on (default: end the client side). */
  onServerEnd?(connection: ProxiedConnection): void;
  /**
   * Options for the reference server behind the proxy, over those of the
   * spawn settings: for a deviation inside the server (e.g. a broken key
   * scheduler) that no proxy can make. Called once per server started.
   */
  serverOptions?(): ServerOptions;
  /**
   * The TLS listener of a mutant that breaks section 19: such a mutant runs
   * over TLS, listening itself with what this returns, without the proxy.
   */
  tls?(settings: SpawnTls): TransportFactory;
  /**
   * The deviation of a mutant that breaks section 18: such a mutant runs
   * over WebSocket, a WebSocket front end in front of the reference server.
   */
  webSocket?: WebSocketDeviation;
}

const LIMITS = { maxHeaderSize: 0xffffffff, maxBodySize: 0xffffffff };

/**
 * One direction of a connection: the preface passes as is, then frames are
 * decoded for the hook and re-encoded; if the bytes stop being frames, the
 * rest passes through raw.
 */
class Direction {
  private prefaceLeft = PREFACE_SIZE;
  private decoder: FrameDecoder | undefined;
  private raw = false;
  private readonly forward: (bytes: Uint8Array) => void;

  constructor(hook: ((frame: Frame) => Frame[]) | undefined, forward: (bytes: Uint8Array) => void) {
    this.forward = forward;
    if (hook !== undefined) {
      this.decoder = createFrameDecoder({
        limits: LIMITS,
        onFrame: (frame) => {
          for (const out of hook({ header: frame.header, body: frame.body.slice() })) forward(encodeFrame(out.header, out.body));
        },
      });
    }
  }

  push(chunk: Uint8Array): void {
    if (this.prefaceLeft > 0) {
      const take = Math.min(this.prefaceLeft, chunk.length);
      this.forward(chunk.subarray(0, take));
      this.prefaceLeft -= take;
      chunk = chunk.subarray(take);
      if (chunk.length === 0) return;
    }
    if (this.decoder === undefined || this.raw) {
      this.forward(chunk);
      return;
    }
    try {
      this.decoder.push(chunk);
    } catch {
      // Not frames any more (a malformed-input case): pass the rest through untouched.
      this.raw = true;
      this.forward(chunk);
    }
  }
}

/** Starts the proxy for `mutant` in front of `upstream`; resolves with its address. */
export async function startMutatingProxy(mutant: Mutant, upstream: string): Promise<{ address: string; close(): Promise<void> }> {
  const at = upstream.lastIndexOf(":");
  const [host, port] = [upstream.slice(0, at), Number(upstream.slice(at + 1))];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const backend = net.connect(port, host);
    sockets.add(client);
    sockets.add(backend);
    client.setNoDelay(true);
    backend.setNoDelay(true);
    const connection: ProxiedConnection = {
      toClient: (bytes) => client.write(bytes),
      toServer: (bytes) => backend.write(bytes),
      endClient: () => client.end(),
      destroyClient: () => client.destroy(),
      // The server this connection is proxied to: mutants that open connections of their own dial it.
      state: { upstream },
      get closed() {
        return client.destroyed;
      },
    };
    const up = new Direction(mutant.clientFrame && ((f) => mutant.clientFrame!(f, connection)), connection.toServer);
    const down = new Direction(mutant.serverFrame && ((f) => mutant.serverFrame!(f, connection)), connection.toClient);
    client.on("data", (chunk: Buffer) => {
      if (mutant.clientBytes && !mutant.clientBytes(new Uint8Array(chunk), connection)) return;
      up.push(new Uint8Array(chunk));
    });
    backend.on("data", (chunk: Buffer) => down.push(new Uint8Array(chunk)));
    client.on("end", () => backend.end());
    backend.on("end", () => {
      if (mutant.onServerEnd) mutant.onServerEnd(connection);
      else if (mutant.passServerClose?.(connection) ?? true) client.end();
    });
    const cleanup = () => {
      client.destroy();
      backend.destroy();
      sockets.delete(client);
      sockets.delete(backend);
    };
    client.on("close", cleanup);
    client.on("error", cleanup);
    backend.on("error", () => {
      if (mutant.passServerClose?.(connection) ?? true) cleanup();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
