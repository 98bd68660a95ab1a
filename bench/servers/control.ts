// What every benchmark server process shares: it prints its address as one
// JSON line, then answers commands on stdin, one per line:
//   mem   collect garbage, print {"heapUsed","rss","external"} in bytes
//   cpu   print the process's CPU time so far, {"user","system"} in µs
//   exit  stop
import { createInterface } from "node:readline";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/** Runs a full garbage collection on Node, Bun or Deno, so heap figures compare. */
export function collectGarbage(): void {
  const g = globalThis as { gc?: () => void; Bun?: { gc(force: boolean): void } };
  if (g.Bun !== undefined) return g.Bun.gc(true);
  if (g.gc === undefined) {
    setFlagsFromString("--expose-gc");
    g.gc = runInNewContext("gc") as () => void;
  }
  g.gc();
  g.gc();
}

/** Announces `address` and serves the control commands until "exit" or stdin closes. */
export function serveControl(address: string, stop: () => Promise<void>): void {
  process.stdout.write(`${JSON.stringify({ address })}\n`);
  const lines = createInterface({ input: process.stdin });
  lines.on("line", (line) => {
    if (line === "mem") {
      collectGarbage();
      const { heapUsed, rss, external } = process.memoryUsage();
      process.stdout.write(`${JSON.stringify({ heapUsed, rss, external })}\n`);
    } else if (line === "cpu") {
      process.stdout.write(`${JSON.stringify(process.cpuUsage())}\n`);
    } else if (line === "exit") {
      void stop().then(() => process.exit(0));
    }
  });
  lines.on("close", () => void stop().then(() => process.exit(0)));
}
