// One server of a test cluster, in its own process: the TestService, with
// every Echo it starts written to stdout ("ran <text>") synchronously
// before the handler does anything, so that a parent killing the process
// still knows which calls may have run; with --times, also "done <text>
// <start> <end>" (wall-clock ms) when it ends.
//
// `cluster-server.ts <host:port> [--id ID] [--times] [--registry redis|etcd
// --url URL --cluster NAME --ttl-ms N --deregistration-delay-ms N]`
// prints its bound address first; with a registry, "registered" once its
// record is written and, on close, "deregistered" once it is removed (the
// GOAWAYs follow after the delay), each followed by "at <event> <wall-clock ms>". On SIGTERM it closes gracefully, prints
// "closed" and exits 0.
import { writeSync } from "node:fs";
import { createServer, type Registrar } from "../../src/node.ts";
import { TestService, testService } from "./test-service.ts";

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const address = args[0] ?? "127.0.0.1:0";
const times = args.includes("--times");
const wallClock = () => performance.timeOrigin + performance.now();
const { impl } = testService();
const echo = impl.echo!;
impl.echo = async (request, context) => {
  writeSync(1, `ran ${request.text}\n`);
  if (!times) return echo(request, context);
  const start = wallClock();
  try {
    return await echo(request, context);
  } finally {
    writeSync(1, `done ${request.text} ${start.toFixed(3)} ${wallClock().toFixed(3)}\n`);
  }
};
const server = createServer({ maxConcurrentRequests: 10_000 }).addService(TestService, impl);

process.on("SIGTERM", () => {
  server.close({ graceMs: 2000 }).then(
    () => process.stdout.write("closed\n", () => process.exit(0)),
    (error: unknown) => process.stderr.write(`close failed: ${String(error)}\n`, () => process.exit(1)),
  );
});

/** The registrar the flags name (its module loaded only then), printing "deregistered" once its record is gone. */
async function registrarOf(kind: string, url: string, cluster: string, ttlMs: number): Promise<Registrar> {
  const quiet = { log: (m: string) => process.stderr.write(`${m}\n`) };
  const inner = kind === "redis"
    ? (await import("../../src/cluster/redis/index.ts")).redisRegistrar({ urls: [url], cluster, ttlMs, ...quiet })
    : (await import("../../src/cluster/etcd/index.ts")).etcdRegistrar({ urls: [url], cluster, ttlSeconds: Math.max(1, Math.round(ttlMs / 1000)), ...quiet });
  return {
    description: inner.description,
    register: (endpoint) => inner.register(endpoint),
    async deregister() {
      await inner.deregister();
      writeSync(1, "deregistered\n");
      writeSync(1, `at deregistered ${wallClock().toFixed(3)}\n`);
    },
  };
}

try {
  const bound = await server.listen(address);
  writeSync(1, `${bound}\n`);
  const kind = flag("registry");
  if (kind !== undefined) {
    const registrar = await registrarOf(kind, flag("url")!, flag("cluster") ?? "test", Number(flag("ttl-ms") ?? 2000));
    await server.register(registrar, { id: flag("id") ?? bound }, { deregistrationDelayMs: Number(flag("deregistration-delay-ms") ?? 0) });
    writeSync(1, "registered\n");
    writeSync(1, `at registered ${wallClock().toFixed(3)}\n`);
  }
} catch (error) {
  process.stderr.write(`cluster server failed: ${(error as Error).stack ?? String(error)}\n`, () => process.exit(1));
}
