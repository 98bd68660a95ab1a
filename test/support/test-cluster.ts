// A cluster of test/support/cluster-server.ts processes: start, kill,
// restart and stop them, and read which calls each one ran.
import { exited, hasExited, lineReader, spawnTs, type TsChild } from "./spawn-runtime.ts";

/** One server process of the cluster. */
export interface ClusterNode {
  readonly id: string;
  address: string;
  /** Texts of the Echo calls it started, across its restarts. */
  readonly ran: string[];
  /** When events happened in the process ("registered", "deregistered"), wall-clock ms. */
  readonly at: Map<string, number>;
  /** With --times: each Echo that ended, with its wall-clock start and end (ms). */
  readonly done: { text: string; start: number; end: number }[];
  child: TsChild;
  /** Resolves when the process has printed `line` (e.g. "registered", "closed"). */
  printed(line: string, timeoutMs?: number): Promise<void>;
}

/** Extra arguments for every server: e.g. the registry flags. */
export type NodeArgs = (id: string) => string[];

/** Starts one server process on `address` and waits for its bound address. */
export async function startNode(id: string, address = "127.0.0.1:0", extra: NodeArgs = () => [], ran: string[] = []): Promise<ClusterNode> {
  const child = spawnTs("test/support/cluster-server.ts", [address, "--id", id, ...extra(id)]);
  const reader = lineReader(child);
  const seen = new Set<string>();
  const waiters: Array<() => void> = [];
  const bound = await reader.next(20_000);
  const node: ClusterNode = {
    id,
    address: bound,
    ran,
    done: [],
    at: new Map(),
    child,
    printed(line, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${id} did not print ${JSON.stringify(line)} within ${timeoutMs} ms`)), timeoutMs);
        const check = () => {
          if (!seen.has(line)) return void waiters.push(check);
          clearTimeout(timer);
          resolve();
        };
        check();
      });
    },
  };
  void (async () => {
    for (;;) {
      let line: string;
      try {
        line = await reader.next(3_600_000);
      } catch {
        return; // stdout ended: the process is gone
      }
      if (line.startsWith("ran ")) ran.push(line.slice(4));
      else if (line.startsWith("done ")) {
        const [, text, start, end] = line.split(" ");
        node.done.push({ text: text!, start: Number(start), end: Number(end) });
      } else if (line.startsWith("at ")) {
        const [, event, time] = line.split(" ");
        node.at.set(event!, Number(time));
      } else seen.add(line);
      for (const waiter of waiters.splice(0)) waiter();
    }
  })();
  return node;
}

/** Kills the process with SIGKILL: no drain, no deregistration, the kernel closes its sockets. */
export async function killNode(node: ClusterNode): Promise<void> {
  node.child.kill("SIGKILL");
  await exited(node.child, 10_000);
}

/** Stops the process gracefully (SIGTERM: deregister, drain, close) and waits for it to exit. */
export async function stopNode(node: ClusterNode): Promise<void> {
  if (hasExited(node.child)) return;
  node.child.kill("SIGTERM");
  if (!(await exited(node.child, 10_000))) {
    node.child.kill("SIGKILL");
    await exited(node.child, 5_000);
  }
}
