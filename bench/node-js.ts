// `npm run bench:node-js`: the whole harness of bench/run.ts on the package
// as users install it: `npm run build` first, then the harness and its
// servers are bundled to plain JavaScript with esbuild, with every import of
// src/ pointed at the built dist/ files (kept external, so node loads the
// package's own JavaScript unbundled) and @bufbuild/protobuf left to
// node_modules, as in a user's project. No tsx transform at run time.
// Arguments pass through to run.ts; the figures go to bench/results/node-js.json.
// With `mappings` first (npm run bench:node-js -- mappings), the harness is
// bench/mappings.ts instead (TLS and WebSocket against raw echoes), and the
// rest of the arguments pass through to it.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { build, type Plugin } from "esbuild";

const bench = new URL(".", import.meta.url).pathname;
const root = resolve(bench, "..");
const built = spawnSync("npm", ["run", "--silent", "build"], { cwd: root, stdio: "inherit" });
if (built.status !== 0) process.exit(built.status ?? 1);

/** Imports of src/**.ts resolve to the built dist/src/**.js, left external. */
const builtPackage: Plugin = {
  name: "built-package",
  setup(plugin) {
    plugin.onResolve({ filter: /\/src\/.*\.ts$/ }, (args) => {
      const source = resolve(args.resolveDir, args.path);
      if (!source.startsWith(`${root}/src/`)) return undefined;
      const target = `${root}/dist/src/${source.slice(root.length + 5, -3)}.js`;
      if (!existsSync(target)) return { errors: [{ text: `${target} is not built (npm run build)` }] };
      return { path: target, external: true };
    });
  },
};

const args = process.argv.slice(2);
const mappings = args[0] === "mappings";
if (mappings) args.shift();
const harness = mappings ? "mappings" : "run";
const servers = mappings ? ["servers/raw-echo.ts", "servers/raw-ws-echo.ts", "servers/strata-echo.ts"] : ["keyed-server.ts", "servers/raw-echo.ts", "servers/strata-echo.ts", "servers/grpc-echo.ts"];

const outdir = `${bench}results/compiled`;
await build({
  entryPoints: [`${harness}.ts`, ...servers].map((f) => bench + f),
  outbase: bench,
  outdir,
  outExtension: { ".js": ".mjs" },
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  external: ["@grpc/grpc-js", "esbuild", "@bufbuild/protobuf", "ws"],
  plugins: [builtPackage],
  logLevel: "warning",
});
if (!mappings && !args.includes("--out")) args.push("--out", `${bench}results/node-js.json`);
const run = spawnSync(process.execPath, [`${outdir}/${harness}.mjs`, ...args], { stdio: "inherit" });
process.exit(run.status ?? 1);
