// A TCP proxy on 127.0.0.1 in front of a server under test. It forwards
// bytes and EOFs both ways until blackhole(), which turns the path into a
// dead peer: every byte from then on is read and dropped, in both
// directions, and no FIN or reset is passed on; both sockets stay open.
import * as net from "node:net";

export interface TcpProxy {
  /** "127.0.0.1:<port>" to connect to instead of the target. */
  readonly address: string;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** From now on, silently drop everything in both directions; close nothing. */
  blackhole(): void;
  /** Destroys every socket and stops listening. */
  close(): Promise<void>;
}

function split(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(":");
  return { host: address.slice(0, colon).replace(/^\[|\]$/g, ""), port: Number(address.slice(colon + 1)) };
}

/** Starts a proxy on 127.0.0.1 (a free port) forwarding to `target` ("host:port"). */
export async function startTcpProxy(target: string): Promise<TcpProxy> {
  const { host, port } = split(target);
  const sockets = new Set<net.Socket>();
  let dead = false;
  let accepted = 0;

  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {}); // a reset ends this pair; nothing to report
  };

  /** Copies `from` into `to` while alive; after blackhole() drops bytes and EOF alike. */
  const pipe = (from: net.Socket, to: net.Socket) => {
    from.on("data", (chunk: Buffer) => {
      if (!dead && !to.destroyed) to.write(chunk);
    });
    from.on("end", () => {
      if (!dead) to.end();
    });
    from.on("close", () => {
      if (!dead) to.destroy();
    });
  };

  const server = net.createServer({ noDelay: true }, (downstream) => {
    accepted++;
    track(downstream);
    if (dead) {
      // A dead path: the kernel accepted, nothing ever answers.
      downstream.on("data", () => {});
      return;
    }
    // Writes before the upstream connect completes are queued by node:net.
    const upstream = net.connect({ host, port, noDelay: true });
    track(upstream);
    pipe(downstream, upstream);
    pipe(upstream, downstream);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port: 0 }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = server.address() as net.AddressInfo;

  return {
    address: `127.0.0.1:${bound.port}`,
    get accepted() {
      return accepted;
    },
    blackhole() {
      dead = true;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
