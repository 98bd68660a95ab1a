// `npm run bench:node-js`: the whole harness of bench/run.ts as Node runs
// a published package: bundled to plain JavaScript with esbuild (no tsx
// transform at run time), servers too, then run by node. Arguments pass
// through to run.ts; the figures go to bench/results/node-js.json.
import { spawnSync } from "node:child_process";
import { build } from "esbuild";

const bench = new URL(".", import.meta.url).pathname;
const outdir = `${bench}results/compiled`;
await build({
  entryPoints: ["run.ts", "keyed-server.ts", "servers/raw-echo.ts", "servers/strata-echo.ts", "servers/grpc-echo.ts"].map((f) => bench + f),
  outbase: bench,
  outdir,
  outExtension: { ".js": ".mjs" },
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  external: ["@grpc/grpc-js", "esbuild"],
  logLevel: "warning",
});
const args = process.argv.slice(2);
if (!args.includes("--out")) args.push("--out", `${bench}results/node-js.json`);
const run = spawnSync(process.execPath, [`${outdir}/run.mjs`, ...args], { stdio: "inherit" });
process.exit(run.status ?? 1);
