// A TCP port on 127.0.0.1 that nothing listens on, for servers a test
// starts itself (Redis, etcd) and for addresses that must refuse.
import { createServer } from "node:net";

/** A port that was free a moment ago on 127.0.0.1 (nothing listens there now). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
