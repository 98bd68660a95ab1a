// `npm run example:wallet:cluster`: three wallet servers, each in its own
// process on a free port, and the cluster demo against them
// (cluster-demo.ts). Exits 1 if the total changed or a balance lived on a
// server that does not own it.
import { spawn, type ChildProcessByStdio } from "node:child_process";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { runClusterDemo } from "./cluster-demo.ts";

const SERVERS = 3;
const serverFile = new URL("./server.ts", import.meta.url).pathname;

/** Starts server.ts in a child process (the runtime and loader of this one) and resolves with the address it prints. */
function startServer(): Promise<{ child: ChildProcessByStdio<null, Readable, Readable>; address: string }> {
  const child = spawn(process.execPath, [...process.execArgv, serverFile], {
    env: { ...process.env, STRATA_ADDRESS: "127.0.0.1:0", STRATA_QUIET: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on("line", (line) => {
      const match = /wallet listening on (\S+)/.exec(line);
      if (match !== null) resolve({ child, address: match[1]! });
    });
    child.once("exit", (code) => reject(new Error(`a wallet server exited (${code}) before listening`)));
  });
}

const servers = await Promise.all(Array.from({ length: SERVERS }, startServer));
try {
  const result = await runClusterDemo(servers.map((s) => s.address));
  if (!result.ok) process.exitCode = 1;
} finally {
  for (const { child } of servers) child.kill("SIGTERM");
}
