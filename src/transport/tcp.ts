// TCP and Unix-socket transports on node:net, which Node, Bun and Deno all
// provide. Addresses are "host:port", "[v6]:port", "tcp:host:port" or
// "unix:/path" (src/transport/address.ts).

import * as net from "node:net";
import type { ConnectOptions, ListenOptions, Transport, TransportFactory, TransportListener } from "./transport.ts";
import { parseSocketAddress } from "./address.ts";
import { formatAddress, SocketTransport } from "./socket-transport.ts";
import { setTimer, type Timer } from "../util/timer.ts";

const DEFAULT_BACKLOG = 511;
const DEFAULT_HIGH_WATER_MARK = 1024 * 1024;

/** Opens a TCP or Unix-socket connection; TCP_NODELAY and keepalive on. */
function connect(address: string, options: ConnectOptions = {}): Promise<Transport> {
  const target = parseSocketAddress(address);
  return new Promise((resolve, reject) => {
    const allowHalfOpen = options.allowHalfOpen ?? false;
    const socket = "path" in target ? net.connect({ path: target.path, allowHalfOpen }) : net.connect({ host: target.host, port: target.port, allowHalfOpen });
    let timer: Timer | undefined;
    if (options.timeoutMs !== undefined) {
      timer = setTimer(() => {
        socket.destroy();
        reject(new Error(`connecting to ${address} timed out after ${options.timeoutMs} ms`));
      }, options.timeoutMs);
    }
    socket.once("connect", () => {
      timer?.clear();
      socket.removeAllListeners("error");
      resolve(new SocketTransport(socket, target, options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK));
    });
    socket.once("error", (error) => {
      timer?.clear();
      reject(error);
    });
  });
}

/** Listens on a TCP address or Unix socket path with the given backlog (default 511). */
function listen(address: string, options: ListenOptions, accept: (transport: Transport) => void): Promise<TransportListener> {
  const target = parseSocketAddress(address);
  const highWaterMark = options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
  return new Promise((resolve, reject) => {
    const server = net.createServer({ pauseOnConnect: true, noDelay: true }, (socket) => {
      accept(new SocketTransport(socket, target, highWaterMark));
    });
    server.once("error", reject);
    const backlog = options.backlog ?? DEFAULT_BACKLOG;
    const onListening = () => {
      server.removeListener("error", reject);
      const bound = server.address();
      const actual = typeof bound === "string" || bound === null ? `unix:${"path" in target ? target.path : bound}` : formatAddress(bound.address, bound.port);
      resolve({
        address: actual,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    };
    if ("path" in target) server.listen({ path: target.path, backlog }, onListening);
    else server.listen({ host: target.host, port: target.port, backlog }, onListening);
  });
}

/** TCP and Unix sockets through node:net (Node, Bun, Deno). */
export const tcpTransport: TransportFactory = { connect, listen };
