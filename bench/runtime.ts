// Which runtime runs the benchmarks, and how to start another file on it:
// servers run on the same runtime as the harness that starts them.

/** "Node v20.20.2", "Bun 1.4.5" or "Deno 2.9.6". */
export function runtimeName(): string {
  const g = globalThis as { Bun?: { version: string }; Deno?: { version: { deno: string } } };
  if (g.Bun) return `Bun ${g.Bun.version}`;
  if (g.Deno) return `Deno ${g.Deno.version.deno}`;
  return `Node ${process.version}`;
}

/** The command that runs the TypeScript `file` on this runtime. */
export function runtimeCommand(file: string, args: string[] = []): { command: string; args: string[] } {
  const g = globalThis as { Bun?: unknown; Deno?: { execPath(): string } };
  if (g.Deno !== undefined) return { command: g.Deno.execPath(), args: ["run", "-A", file, ...args] };
  if (g.Bun !== undefined) return { command: process.execPath, args: [file, ...args] };
  return { command: process.execPath, args: ["--import", "tsx", file, ...args] };
}
