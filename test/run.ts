// Runs every test/*.test.ts in one process with uvu, on whichever runtime
// executes this file (Node via tsx, Bun, Deno). Optional arguments filter
// test files by substring.
import { readdirSync } from "node:fs";

const dir = new URL(".", import.meta.url);
const filters = (globalThis.process?.argv ?? []).slice(2).filter((a) => !a.startsWith("-"));
const files = readdirSync(dir)
  .filter((name) => name.endsWith(".test.ts"))
  .filter((name) => filters.length === 0 || filters.some((f) => name.includes(f)))
  .sort();

const g = globalThis as { UVU_DEFER?: number; UVU_QUEUE?: unknown[][]; UVU_INDEX?: number };
g.UVU_DEFER = 1;
g.UVU_QUEUE = [];
for (const [index, name] of files.entries()) {
  g.UVU_QUEUE.push([name]);
  g.UVU_INDEX = index;
  await import(new URL(name, dir).href);
}
// A hung test must fail the run loudly, not stall CI: uvu has no per-test
// timeout, so the whole run has one. uvu's progress output above shows the
// suite that was running.
const limitSeconds = Number(globalThis.process?.env?.["STRATA_TEST_TIMEOUT_S"] ?? 720);
const watchdog = setTimeout(() => {
  console.error(`\nTest run timed out after ${limitSeconds} s; the suite printed last did not finish.`);
  globalThis.process?.exit(1);
}, limitSeconds * 1000);
// uvu cannot report an error whose `details` is not a string (an RpcError's
// is an array): the failure escapes its reporter, the rest of that suite is
// skipped and the run passes. Its totals still show the gap, so they are
// read back here and a gap fails the run loudly.
const stdout = globalThis.process?.stdout;
let printed = "";
if (stdout !== undefined) {
  const write = stdout.write.bind(stdout);
  stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    printed += typeof chunk === "string" ? chunk : new TextDecoder().decode(chunk);
    return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof stdout.write;
}
const { exec } = await import("uvu");
await exec();
// eslint-disable-next-line no-control-regex
const plain = printed.replace(/\x1b\[[0-9;]*m/g, "");
const [total, passed, skipped] = ["Total", "Passed", "Skipped"].map((label) => Number(new RegExp(`${label}:\\s+(\\d+)`).exec(plain)?.[1] ?? 0));
if (stdout !== undefined && passed! + skipped! < total!) {
  console.error(`\n${total! - passed! - skipped!} test(s) did not pass. Any not reported above failed with an error uvu could not format (e.g. an RpcError thrown by the test); the suites above with fewer dots than tests hold them.`);
  globalThis.process!.exitCode = 1;
}
clearTimeout(watchdog);
// A failed test can skip its clean-up and leave a socket open; the run is
// over, so exit instead of waiting on it. uvu sets exitCode on failure.
globalThis.process?.exit();
