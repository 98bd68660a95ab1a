// A single-member etcd for tests: /usr/bin/etcd on free 127.0.0.1 client
// and peer ports with a temporary data directory, which restart() reuses
// (same ports, same data) so that tests can take the registry down and
// bring it back.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./free-port.ts";
export { freePort };

/** Where the tests look for etcd. */
export const ETCD_BINARY = "/usr/bin/etcd";

/** A running test etcd. */
export interface EtcdServer {
  /** Its client URL, e.g. "http://127.0.0.1:40123". */
  readonly url: string;
  /** Stops it gracefully (SIGTERM) and waits for it to exit; the data directory stays. */
  stop(): Promise<void>;
  /** Kills it (SIGKILL) and waits for it to exit; the data directory stays. */
  kill(): Promise<void>;
  /** Starts it again on the same ports with the same data, once it has stopped; resolves once it answers. */
  restart(): Promise<void>;
  /** Stops it and removes its data directory. */
  destroy(): Promise<void>;
}


/** Resolves once a POST /v3/kv/range answers (etcd has a leader then), or throws after `timeoutMs` or when the process exits. */
async function waitUntilAnswering(url: string, child: ChildProcess, output: () => string, timeoutMs: number): Promise<void> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`etcd exited while starting: ${output()}`);
    try {
      const response = await fetch(`${url}/v3/kv/range`, { method: "POST", body: JSON.stringify({ key: "AA==" }) });
      await response.text();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (performance.now() > end) throw new Error(`etcd did not answer at ${url} within ${timeoutMs} ms: ${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const running = new Set<ChildProcess>();
let exitHook = false;

/** Starts etcd, or says it is not installed; resolves once it answers. */
export async function startEtcd(): Promise<EtcdServer | "not installed"> {
  if (!existsSync(ETCD_BINARY)) return "not installed";
  if (!exitHook) {
    // A test run that exits without its clean-up must not leave etcd running.
    exitHook = true;
    process.on("exit", () => {
      for (const child of running) child.kill("SIGKILL");
    });
  }
  const dataDir = mkdtempSync(join(tmpdir(), "strata-etcd-"));
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const args = [
    "--name", "strata-test",
    "--data-dir", dataDir,
    "--listen-client-urls", url,
    "--advertise-client-urls", url,
    "--listen-peer-urls", peerUrl,
    "--initial-advertise-peer-urls", peerUrl,
    "--initial-cluster", `strata-test=${peerUrl}`,
    "--initial-cluster-state", "new",
    "--logger", "zap",
    "--log-level", "warn",
  ];
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let output = "";

  const start = async () => {
    output = "";
    const started = spawn(ETCD_BINARY, args, { stdio: ["ignore", "ignore", "pipe"] });
    child = started;
    running.add(started);
    // A test run killed outright (SIGKILL, a CI timeout) runs no exit hook: this shell reads its stdin, a
    // pipe from the test process, and when that closes, kills etcd and removes its data.
    const guard = started.pid === undefined ? undefined : spawn("/bin/sh", ["-c", `read _; kill -9 ${started.pid}; while kill -0 ${started.pid}; do sleep 0.1; done; rm -rf '${dataDir}'`], { stdio: ["pipe", "ignore", "ignore"] });
    exited = new Promise<void>((resolve) => {
      started.once("exit", () => resolve());
      started.once("error", (error) => {
        output += String(error);
        resolve();
      });
    }).then(() => {
      running.delete(started);
      guard?.kill("SIGKILL");
    });
    started.stderr!.setEncoding("utf8");
    started.stderr!.on("data", (chunk: string) => {
      output = (output + chunk).slice(-4000);
    });
    try {
      await waitUntilAnswering(url, started, () => output, 15_000);
    } catch (error) {
      started.kill("SIGKILL");
      await exited;
      throw error;
    }
  };

  const end = async (signal: "SIGTERM" | "SIGKILL") => {
    if (child !== undefined && running.has(child)) child.kill(signal);
    await exited;
  };

  await start();
  return {
    url,
    stop: () => end("SIGTERM"),
    kill: () => end("SIGKILL"),
    async restart() {
      if (child !== undefined && running.has(child)) throw new Error("restart() needs etcd stopped first");
      await start();
    },
    async destroy() {
      await end("SIGTERM");
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
