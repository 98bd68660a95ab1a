// Starts an isolation worker. Plain JavaScript, because it is what makes
// TypeScript loadable: Bun and Deno run worker-entry.ts as is; Node without
// type stripping loads it through tsx, which a project running these .ts
// sources on Node already has.
const entry = new URL("./worker-entry.ts", import.meta.url).href;
const runsTypeScript =
  typeof globalThis.Bun !== "undefined" || typeof globalThis.Deno !== "undefined" || globalThis.process?.features?.typescript;
if (runsTypeScript) {
  await import(entry);
} else {
  let api;
  try {
    api = await import("tsx/esm/api");
  } catch {
    throw new Error("handler isolation on this Node version loads TypeScript with tsx; install tsx or use a Node with type stripping");
  }
  await api.tsImport(entry, import.meta.url);
}
