// Helpers for the drain mutants (drain-mutants.ts). A proxy cannot make the
// reference server run a request it refuses; a SideConnection runs it
// anyway, on a second connection of the proxy's own to the same server (so
// the server's log records it), and maps its answers back to the client.
// RequestHeaders tracks which REQUEST's header has been read while its body
// is still arriving.

import { tcpTransport } from "../../src/transport/tcp.ts";
import * as net from "node:net";
import { type TransportFactory } from "../../src/transport/index.ts";
import { CallMode, createFrameDecoder, decodeHeader, encodeFrame, encodeHello, encodePreface, FrameType, PREFACE_SIZE, type Frame } from "../../src/wire/index.ts";
import { FrameBoundaries } from "./frame-boundaries.ts";
import type { ProxiedConnection } from "./mutating-proxy.ts";

let upstream: string | undefined;

/** The default transport, noting the address the server listens on, for SideConnection (pass as ServerOptions.transport). */
export const addressNotingTransport: TransportFactory = {
  async connect(address, options) {
    return tcpTransport.connect(address, options);
  },
  async listen(address, options, accept) {
    const listener = await tcpTransport.listen(address, options, accept);
    upstream = listener.address;
    return listener;
  },
};

/** A connection of the proxy's own to the server, on which it runs requests the client sent on `client`. */
export class SideConnection {
  private readonly socket: net.Socket;
  private readonly client: ProxiedConnection;
  /** Side request id → the client's request id. */
  private readonly ids = new Map<number, number>();
  private nextId = 1;
  private prefaceLeft = PREFACE_SIZE;

  constructor(client: ProxiedConnection) {
    // The server behind this client's proxy; the last one that listened is only a fallback: mutants run
    // side by side in one process, and another mutant's server must not run this client's requests.
    const target = (client.state["upstream"] as string | undefined) ?? upstream;
    if (target === undefined) throw new Error("SideConnection needs a server started with addressNotingTransport");
    this.client = client;
    const at = target.lastIndexOf(":");
    this.socket = net.connect(Number(target.slice(at + 1)), target.slice(0, at));
    this.socket.setNoDelay(true);
    this.socket.on("error", () => this.socket.destroy());
    const decoder = createFrameDecoder({ limits: { maxHeaderSize: 1 << 20, maxBodySize: 64 << 20 }, onFrame: (frame) => this.fromServer(frame) });
    this.socket.on("data", (chunk: Buffer) => {
      let bytes = new Uint8Array(chunk);
      const skip = Math.min(this.prefaceLeft, bytes.length);
      this.prefaceLeft -= skip;
      bytes = bytes.subarray(skip);
      try {
        if (bytes.length > 0) decoder.push(bytes);
      } catch {
        this.socket.destroy();
      }
    });
    this.socket.write(encodePreface());
    this.socket.write(encodeFrame({ type: FrameType.HELLO }, encodeHello({ agent: "drain-mutant-side" })));
  }

  /** Runs the client's REQUEST `frame` on this connection; its ACK and RESPONSE go to the client under the client's id. */
  run(frame: Frame): void {
    const id = this.nextId++;
    if (frame.header.callMode !== CallMode.ONEWAY) this.ids.set(id, frame.header.requestId);
    this.socket.write(encodeFrame({ ...frame.header, requestId: id }, frame.body));
  }

  private fromServer(frame: Frame): void {
    const type = frame.header.type;
    if (type !== FrameType.RESPONSE && type !== FrameType.ACK) return;
    const original = this.ids.get(frame.header.requestId);
    if (original === undefined) return;
    if (type === FrameType.RESPONSE) this.ids.delete(frame.header.requestId);
    this.client.toClient(encodeFrame({ ...frame.header, requestId: original }, frame.body.slice()));
  }

  close(): void {
    this.socket.end();
  }
}

/** The client's SideConnection, opened on first use. */
export function sideConnection(connection: ProxiedConnection): SideConnection {
  return (connection.state["side"] ??= new SideConnection(connection)) as SideConnection;
}

/**
 * Follows a client's byte stream: the highest REQUEST id whose header has
 * been read, and the REQUEST whose header has been read and whose body is
 * still arriving, if any.
 */
export class RequestHeaders {
  highestHeaderId = 0;
  arriving: number | undefined;
  private atHeader = true;
  private readonly splitter = new FrameBoundaries({
    bytes: (bytes, type) => {
      if (type === undefined || !this.atHeader) return;
      this.atHeader = false;
      if (type !== FrameType.REQUEST) return;
      const id = decodeHeader(bytes, 4, bytes.length).requestId;
      this.highestHeaderId = Math.max(this.highestHeaderId, id);
      this.arriving = id;
    },
    frameEnd: () => {
      this.atHeader = true;
      this.arriving = undefined;
    },
  });

  push(chunk: Uint8Array): void {
    this.splitter.push(chunk);
  }
}

/** The connection's RequestHeaders. */
export function requestHeaders(connection: ProxiedConnection): RequestHeaders {
  return (connection.state["headers"] ??= new RequestHeaders()) as RequestHeaders;
}
