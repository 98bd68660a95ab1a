// Spawn mode: starts the server under test as a child process and tells it
// which settings to use. The handshake (conformance/README.md): the suite
// writes one JSON line of settings to the child's stdin; the child answers
// with one JSON line {"address": "host:port"} on stdout once it listens.

import { spawn } from "node:child_process";
import type { ServerSettings } from "./case.ts";
import type { SuiteTls } from "./suite-tls.ts";

/** A running server started by the suite. */
export interface SpawnedServer {
  address: string;
  stop(): Promise<void>;
}

/** The server did not start or did not complete the handshake: a harness error (exit 3). */
export class HarnessError extends Error {
  override name = "HarnessError";
}

/** Starts `command` with `settings`; resolves once it reports its address. */
export function spawnServer(command: string[], settings: ServerSettings & { listen?: string }, timeoutMs = 20_000): Promise<SpawnedServer> {
  return new Promise((resolve, reject) => {
    // Its own process group, so that stopping it also stops what it started (npx, tsx, a shell).
    const child = spawn(command[0]!, command.slice(1), { stdio: ["pipe", "pipe", "pipe"], detached: true });
    const signalGroup = (signal: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        child.kill(signal);
      }
    };
    let stdout = "";
    let stderr = "";
    let settled = false;
    const release = () => {
      child.stdin.destroy();
      child.stdout.destroy();
      child.stderr.destroy();
    };
    const stop = () =>
      new Promise<void>((done) => {
        const finish = () => {
          signalGroup("SIGKILL"); // anything the command left behind
          release();
          done();
        };
        if (child.exitCode !== null || child.signalCode !== null) return finish();
        child.once("exit", finish);
        signalGroup("SIGTERM");
        setTimeout(() => signalGroup("SIGKILL"), 3000).unref();
      });
    const fail = (message: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signalGroup("SIGKILL");
      release();
      reject(new HarnessError(`${message}\n  command: ${command.join(" ")}${stderr ? `\n  its stderr:\n${stderr.trim().replace(/^/gm, "    ")}` : ""}`));
    };
    const timer = setTimeout(() => fail(`the server did not report {"address": …} on stdout within ${timeoutMs} ms`), timeoutMs);
    child.on("error", (error) => fail(`the server could not be started: ${error.message}`));
    child.on("exit", (code, signal) => fail(`the server exited (${signal ?? `code ${code}`}) before reporting its address`));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      const end = stdout.indexOf("\n");
      if (end < 0 || settled) return;
      try {
        const { address } = JSON.parse(stdout.slice(0, end)) as { address?: unknown };
        if (typeof address !== "string") throw new Error("no address");
        settled = true;
        clearTimeout(timer);
        resolve({ address, stop });
      } catch {
        fail(`the server's first stdout line is not {"address": "host:port"}: ${JSON.stringify(stdout.slice(0, end))}`);
      }
    });
    child.stdin.write(`${JSON.stringify({ listen: "127.0.0.1:0", ...settings })}\n`);
  });
}

/**
 * A spawned server's settings for the mapping the suite runs over: the
 * address to listen on (TCP by default; tls:, ws:// or wss:// under --tls
 * and --websocket) and, over TLS, the suite's server certificate, asking
 * for client certificates as the case's settings say [TLS-5] [WS-1].
 */
export function spawnSettings(settings: ServerSettings, tls: SuiteTls | undefined, webSocket = false): ServerSettings & { listen?: string } {
  if (tls?.server === undefined) return webSocket ? { ...settings, listen: "ws://127.0.0.1:0/strata" } : settings;
  const { pair, clientCa } = tls.server;
  return { ...settings, listen: webSocket ? "wss://127.0.0.1:0/strata" : "tls:127.0.0.1:0", tls: { ...pair, ca: clientCa, clientCertificate: settings.tls?.clientCertificate ?? "none" } };
}
