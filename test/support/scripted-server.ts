// A Strata server scripted by the test, speaking raw frames over node:net,
// for client behaviour the reference server never provokes on purpose
// (GOAWAY mid-call, SHUTTING_DOWN, a connection dropped after a request).
import * as net from "node:net";
import {
  createFrameDecoder,
  DEFAULT_LIMITS,
  encodeFrame,
  encodeGoaway,
  encodeHello,
  encodePreface,
  FrameType,
  PREFACE_SIZE,
  type Frame,
  type FrameHeaderInit,
  type GoawayInfo,
} from "../../src/wire/index.ts";

/** One accepted connection, as the script sees it. */
export interface ScriptedConnection {
  /** Which connection this is, from 1. */
  readonly index: number;
  send(header: FrameHeaderInit, body?: Uint8Array): void;
  goaway(info: GoawayInfo): void;
  destroy(): void;
}

/** Called for every frame after the handshake. */
export type Script = (connection: ScriptedConnection, frame: Frame) => void;

/**
 * Starts a scripted server on 127.0.0.1; `requests` holds the REQUEST frames
 * received, `hellos` the clients' HELLO bodies. `hello` adds fields to the
 * server's HELLO (e.g. `compression`).
 */
export async function startScriptedServer(
  script: Script,
  hello: Parameters<typeof encodeHello>[0] = {},
): Promise<{ address: string; requests: Frame[]; hellos: Uint8Array[]; connections: () => number; close(): Promise<void> }> {
  const requests: Frame[] = [];
  const hellos: Uint8Array[] = [];
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    const connection: ScriptedConnection = {
      index: ++accepted,
      send: (header, body) => socket.write(encodeFrame(header, body)),
      goaway: (info) => socket.write(encodeFrame({ type: FrameType.GOAWAY }, encodeGoaway(info))),
      destroy: () => socket.destroy(),
    };
    let preface = 0;
    const decoder = createFrameDecoder({
      limits: DEFAULT_LIMITS,
      onFrame: (frame) => {
        const copy = { header: frame.header, body: frame.body.slice() };
        if (copy.header.type === FrameType.HELLO) {
          hellos.push(copy.body);
          return;
        }
        if (copy.header.type === FrameType.REQUEST) requests.push(copy);
        script(connection, copy);
      },
    });
    socket.on("data", (chunk: Buffer) => {
      let rest: Uint8Array = chunk;
      if (preface < PREFACE_SIZE) {
        const take = Math.min(PREFACE_SIZE - preface, rest.length);
        preface += take;
        rest = rest.subarray(take);
        if (preface === PREFACE_SIZE) {
          socket.write(encodePreface());
          socket.write(encodeFrame({ type: FrameType.HELLO }, encodeHello({ idleTimeoutMs: 0, ...hello })));
        }
      }
      if (rest.length > 0) decoder.push(rest);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    requests,
    hellos,
    connections: () => accepted,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
