// Opening a client connection: connect, write the preface and HELLO, read
// the server's preface and HELLO. Nothing else is written before the
// server's HELLO arrives, so a failure here means no request was processed
// [HELLO-3] [HELLO-5] [PREFACE-5].

import {
  Compression,
  createFrameDecoder,
  decodeHello,
  encodeFrame,
  encodeGoaway,
  encodeHello,
  encodePreface,
  FrameType,
  PREFACE_SIZE,
  PROTOCOL_VERSION,
  ProtocolError,
  readPreface,
} from "../wire/index.ts";
import { RpcError, TransportCode } from "../status/index.ts";
import { lingeringClose, type Transport, type TransportFactory } from "../transport/index.ts";
import { setTimer } from "../util/timer.ts";
import { ClientConnection, type ClientConnectionSettings } from "./client-connection.ts";
import { now } from "../util/clock.ts";
import { VERSION } from "../version.ts";

/** The agent string this client declares in its HELLO [HELLO-1]. */
const AGENT = `strata-ts/${VERSION}`;

/** Connects to `address` and completes the handshake within settings.connectTimeoutMs [HELLO-5]. */
export async function openClientConnection(factory: TransportFactory, address: string, settings: ClientConnectionSettings): Promise<ClientConnection> {
  const deadline = now() + settings.connectTimeoutMs;
  let transport: Transport;
  try {
    transport = await factory.connect(address, { timeoutMs: settings.connectTimeoutMs });
  } catch (error) {
    throw RpcError.transport(TransportCode.CONNECT_FAILED, `cannot connect to ${address}: ${oneLine(error)}`, "no", error);
  }
  return new Promise<ClientConnection>((resolve, reject) => {
    let received = new Uint8Array(0);
    let prefaceRead = false;
    let connection: ClientConnection | undefined;
    let settled = false;
    const fail = (error: RpcError) => {
      if (settled) return;
      settled = true;
      timer.clear();
      transport.destroy();
      reject(error);
    };
    const timer = setTimer(
      () => fail(RpcError.transport(TransportCode.CONNECT_FAILED, `no HELLO from ${address} within ${settings.connectTimeoutMs} ms [HELLO-5]`, "no")),
      Math.max(0, deadline - now()),
    );
    // Frames before the server's HELLO go to a decoder with our limits; the connection keeps it.
    const decoder = createFrameDecoder({
      limits: settings.limits,
      onFrame: (frame) => {
        if (connection !== undefined) {
          connection.onFrame(frame);
          return;
        }
        if (frame.header.type !== FrameType.HELLO) throw new ProtocolError("HELLO-2", "the server's first frame is not HELLO");
        connection = new ClientConnection(transport, settings, decodeHello(frame.body), decoder);
        settled = true;
        timer.clear();
        resolve(connection);
      },
    });
    /** The server's preface: the bytes after it, or undefined while it is incomplete or wrong [PREFACE-5]. */
    const afterPreface = (chunk: Uint8Array): Uint8Array | undefined => {
      const joined = new Uint8Array(received.length + chunk.length);
      joined.set(received);
      joined.set(chunk, received.length);
      received = joined;
      const preface = readPreface(received);
      if (preface.kind === "incomplete") return undefined;
      if (preface.kind !== "preface") {
        fail(RpcError.transport(TransportCode.PROTOCOL_ERROR, `${address} does not speak Strata (bad preface) [PREFACE-5]`, "no"));
        return undefined;
      }
      if (preface.version !== PROTOCOL_VERSION) {
        fail(RpcError.transport(TransportCode.VERSION_MISMATCH, `${address} speaks protocol version ${preface.version}, this client ${PROTOCOL_VERSION} [PREFACE-5]`, "no"));
        return undefined;
      }
      prefaceRead = true;
      return received.subarray(PREFACE_SIZE);
    };
    transport.start({
      data: (chunk) => {
        if (connection !== undefined && settled) return connection.onData(chunk);
        if (settled) return; // failed: discarded
        try {
          if (!prefaceRead) {
            const rest = afterPreface(chunk);
            if (rest === undefined || rest.length === 0) return;
            chunk = rest;
          }
          decoder.push(chunk);
        } catch (error) {
          // Frames after the HELLO in the same chunk belong to the open connection.
          if (connection !== undefined) return connection.onProtocolError(error);
          // A connection error during the handshake gets its GOAWAY too [FRAME-14].
          if (ProtocolError.is(error) && error.goawayCode !== undefined) {
            settled = true;
            timer.clear();
            transport.write(encodeFrame({ type: FrameType.GOAWAY }, encodeGoaway({ lastRequestId: 0, code: error.goawayCode, message: error.message })));
            lingeringClose(transport);
            reject(RpcError.transport(TransportCode.PROTOCOL_ERROR, `bad handshake from ${address}: ${error.message}`, "no", error));
            return;
          }
          fail(RpcError.transport(TransportCode.PROTOCOL_ERROR, `bad handshake from ${address}: ${(error as Error).message}`, "no", error));
        }
      },
      closed: (error) => {
        if (connection !== undefined && settled) connection.onClosed(error);
        else fail(RpcError.transport(TransportCode.CONNECT_FAILED, `${address} closed the connection during the handshake${error === undefined ? "" : `: ${oneLine(error)}`}`, "no", error));
      },
      drain: () => connection?.onDrain(),
    });
    transport.write(encodePreface());
    transport.write(encodeFrame({ type: FrameType.HELLO }, encodeHello({
      maxHeaderSize: settings.limits.maxHeaderSize,
      maxBodySize: settings.limits.maxBodySize,
      pingIntervalMs: settings.pingIntervalMs,
      compression: settings.gzip === true ? [Compression.GZIP] : [], // what we decompress [COMP-2]
      agent: AGENT,
    })));
  });
}

/** An error's message on one line: OpenSSL's end in a newline, and some hold several. */
function oneLine(error: unknown): string {
  return String((error as Error)?.message ?? error).trim().replace(/\s*\n\s*/g, "; ");
}
