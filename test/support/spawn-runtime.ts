// Starts a TypeScript file as a child process on the runtime the tests run
// on: Node (through tsx), Bun or Deno. Every one of them provides
// node:child_process, so the caller gets a ChildProcess either way.
import { spawn, type ChildProcessByStdio } from "node:child_process";
import type { Readable } from "node:stream";

/** A child whose stdout and stderr are pipes. */
export type TsChild = ChildProcessByStdio<null, Readable, Readable>;

const root = new URL("../..", import.meta.url).pathname;

/** The command and arguments that run `file` with `args` on the current runtime. */
export function runtimeCommand(file: string, args: string[]): { command: string; args: string[] } {
  const g = globalThis as { Bun?: unknown; Deno?: { execPath(): string } };
  if (g.Deno !== undefined) return { command: g.Deno.execPath(), args: ["run", "-A", file, ...args] };
  if (g.Bun !== undefined) return { command: process.execPath, args: [file, ...args] };
  return { command: process.execPath, args: ["--import", "tsx", file, ...args] };
}

/**
 * Runs the TypeScript `file` with `args` on the current runtime, from the
 * repository root (where tsx resolves). stdout and stderr are pipes: read
 * lines with `lineReader`, or the first one with `firstLine`.
 */
export function spawnTs(file: string, args: string[]): TsChild {
  const { command, args: argv } = runtimeCommand(file, args);
  const child = spawn(command, argv, { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: process.env });
  // Deno's child_process sets signalCode as soon as kill() is called, so
  // whether the child is gone is tracked here, from the "exit" event.
  child.once("exit", () => gone.add(child));
  child.once("error", () => gone.add(child));
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => {
    stderr += chunk;
  });
  stderrText.set(child, () => stderr);
  return child;
}

const gone = new WeakSet<TsChild>();
const stderrText = new WeakMap<TsChild, () => string>();

/** Whether the child has exited (or failed to start). */
export function hasExited(child: TsChild): boolean {
  return gone.has(child);
}

/** What the child wrote to stderr so far, for failure messages. */
export function stderrOf(child: TsChild): string {
  return stderrText.get(child)?.() ?? "";
}

/** Reads a child's stdout line by line: `next` resolves with the next line, or rejects after `timeoutMs` or at exit. */
export interface LineReader {
  next(timeoutMs: number): Promise<string>;
}

/** Starts collecting the child's stdout lines; call once per child, before any output is expected. */
export function lineReader(child: TsChild): LineReader {
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  let partial = "";
  let ended = false;
  const wake = () => {
    for (const waiter of waiters.splice(0)) waiter();
  };
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    partial += chunk;
    for (let end = partial.indexOf("\n"); end >= 0; end = partial.indexOf("\n")) {
      lines.push(partial.slice(0, end).replace(/\r$/, ""));
      partial = partial.slice(end + 1);
    }
    wake();
  });
  child.stdout.on("close", () => {
    ended = true;
    wake();
  });
  return {
    next(timeoutMs) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          const index = waiters.indexOf(attempt);
          if (index >= 0) waiters.splice(index, 1);
          reject(new Error(`no stdout line from the child within ${timeoutMs} ms; stderr: ${stderrOf(child)}`));
        }, timeoutMs);
        function attempt() {
          if (lines.length > 0) {
            clearTimeout(timer);
            resolve(lines.shift()!);
          } else if (ended) {
            clearTimeout(timer);
            reject(new Error(`the child's stdout ended without another line; stderr: ${stderrOf(child)}`));
          } else {
            waiters.push(attempt);
          }
        }
        attempt();
      });
    },
  };
}

/** The child's first stdout line (later output is read and dropped). */
export function firstLine(child: TsChild, timeoutMs: number): Promise<string> {
  return lineReader(child).next(timeoutMs);
}

/** Resolves true once the child has exited (at once if it has), false if it still runs after `timeoutMs`. */
export function exited(child: TsChild, timeoutMs: number): Promise<boolean> {
  if (hasExited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off("exit", onExit);
      resolve(false);
    }, timeoutMs);
    const onExit = () => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once("exit", onExit);
  });
}
