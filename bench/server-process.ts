// A benchmark server in a child process, driven over its stdin: it prints its
// address as one JSON line, then answers one JSON line per command it is sent
// (bench/servers/control.ts, bench/cluster-server.ts), and stops on "exit".
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { runtimeCommand } from "./runtime.ts";

/** A running server process: its address, a command channel, and a way to stop it. */
export interface ServerProcess {
  readonly address: string;
  /** Sends `command` and resolves with the JSON line it answers. */
  ask<T>(command: string): Promise<T>;
  /** Sends "exit" and waits for the process to end (SIGKILL after 5 s). */
  stop(): Promise<void>;
}

/** Starts `file` (a URL relative to bench/) with `extraArgs` on this runtime and waits for its address line. */
export async function startServerProcess(file: string, extraArgs: string[] = []): Promise<ServerProcess> {
  const path = new URL(file, import.meta.url).pathname;
  const { command, args } = runtimeCommand(path, extraArgs);
  const child = spawn(command, args, { stdio: ["pipe", "pipe", "inherit"] });
  const replies: Array<(line: string) => void> = [];
  const exited = new Promise<never>((_, reject) => child.once("exit", (code) => reject(new Error(`${file} exited with code ${code}`))));
  exited.catch(() => {});
  createInterface({ input: child.stdout! }).on("line", (line) => replies.shift()?.(line));
  const next = () => Promise.race([new Promise<string>((resolve) => replies.push(resolve)), exited]);
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.stdin!.end("exit\n");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await gone;
    clearTimeout(timer);
  };
  try {
    const { address } = JSON.parse(await next()) as { address: string };
    return {
      address,
      ask: async <T>(line: string) => {
        const reply = next();
        child.stdin!.write(`${line}\n`);
        return JSON.parse(await reply) as T;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The server process's CPU time so far (user + system), in µs. */
export async function serverCpuMicros(server: ServerProcess): Promise<number> {
  const { user, system } = await server.ask<{ user: number; system: number }>("cpu");
  return user + system;
}
