// Which runtime runs the benchmarks, and how to start another file on it:
// servers run on the same runtime as the harness that starts them.

/** Whether this is the bundle npm run bench:node-js made: plain JavaScript next to its servers, run by node. */
const COMPILED = import.meta.url.endsWith(".mjs");

/** "Node v20.20.2", "Node v20.20.2 (bundled JS)", "Bun 1.4.5" or "Deno 2.9.6". */
export function runtimeName(): string {
  const g = globalThis as { Bun?: { version: string }; Deno?: { version: { deno: string } } };
  if (g.Bun) return `Bun ${g.Bun.version}`;
  if (g.Deno) return `Deno ${g.Deno.version.deno}`;
  return COMPILED ? `Node ${process.version} (bundled JS)` : `Node ${process.version} (tsx)`;
}

/** The command that runs the TypeScript `file` on this runtime. */
export function runtimeCommand(file: string, args: string[] = []): { command: string; args: string[] } {
  const g = globalThis as { Bun?: unknown; Deno?: { execPath(): string } };
  if (COMPILED) return { command: process.execPath, args: [file.replace(/\.ts$/, ".mjs"), ...args] };
  if (g.Deno !== undefined) return { command: g.Deno.execPath(), args: ["run", "-A", file, ...args] };
  if (g.Bun !== undefined) return { command: process.execPath, args: [file, ...args] };
  return { command: process.execPath, args: ["--import", "tsx", file, ...args] };
}
