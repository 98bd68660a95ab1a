// A throwaway redis-server for the registry tests: on a free 127.0.0.1
// port, with no persistence and a temp working dir, stopped (and its dir
// removed) by stop(); restart() brings it back empty on the same port. A
// machine without Redis gets a loud line telling how to install it.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./free-port.ts";

/** Where Debian's redis-server package puts the binary. */
export const REDIS_SERVER = "/usr/bin/redis-server";

/** The line a test prints when it skips for want of Redis, or undefined when redis-server is installed. */
export function redisServerMissing(what: string): string | undefined {
  if (existsSync(REDIS_SERVER)) return undefined;
  return `\n  SKIPPED: ${what} needs redis-server at ${REDIS_SERVER}: apt-get install -y redis-server\n`;
}

/** A running redis-server. */
export interface RedisServer {
  /** "redis://127.0.0.1:<port>". */
  readonly url: string;
  readonly port: number;
  /** Kills the server (SIGKILL: as a crash would) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again, empty, on the same port. */
  restart(): Promise<void>;
  /** Stops it for good and removes its directory. */
  close(): Promise<void>;
}


/** Whether a Redis on `port` answers PING with PONG. */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let reply = "";
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk: Buffer) => {
      reply += chunk.toString("latin1");
      if (reply.includes("\r\n")) done(reply.startsWith("+PONG"));
    });
  });
}

const running = new Set<ChildProcess>();
// A run that exits early (a failure, the watchdog) must not leave servers behind.
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

/** Starts redis-server on a free port and resolves once it answers PING; see redisServerMissing first. */
export async function startRedisServer(): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "strata-redis-"));
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const start = async () => {
    let output = "";
    const started = spawn(REDIS_SERVER, ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir], { stdio: ["ignore", "pipe", "pipe"] });
    child = started;
    running.add(started);
    let gone = false;
    exited = new Promise((resolve) => {
      started.once("exit", () => {
        gone = true;
        running.delete(started);
        resolve();
      });
      started.once("error", () => {
        gone = true;
        running.delete(started);
        resolve();
      });
    });
    for (const stream of [started.stdout!, started.stderr!]) stream.on("data", (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
    const end = performance.now() + 10_000;
    while (!(await answersPing(port))) {
      if (gone) throw new Error(`redis-server on port ${port} exited at start:\n${output}`);
      if (performance.now() > end) throw new Error(`redis-server on port ${port} did not answer PING within 10 s:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  const stop = async () => {
    const current = child;
    child = undefined;
    if (current === undefined) return;
    current.kill("SIGKILL");
    await exited;
  };

  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop,
    async restart() {
      await stop();
      await start();
    },
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
