// `npm run build` (and `npm pack`, through prepack): compiles the package and
// the conformance suite to dist/ as ESM JavaScript with .d.ts types, then
// fails if any emitted module still names a TypeScript file, which Node never
// loads from node_modules.
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const dist = join(root, "dist");

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

rmSync(dist, { recursive: true, force: true });
execFileSync(join(root, "node_modules/.bin/tsc"), ["-p", "tsconfig.build.json"], { cwd: root, stdio: "inherit" });

const emitted = files(dist).filter((f) => f.endsWith(".js"));
/** A relative import, export or import() of a .ts file: `from "./x.ts"`, `import("./x.ts")`. */
const tsSpecifier = /(?:from\s*|import\s*\(\s*)["'](\.{1,2}\/[^"']+\.ts)["']/g;
const problems = emitted.flatMap((file) => [...readFileSync(file, "utf8").matchAll(tsSpecifier)].map((m) => `${relative(root, file)} imports ${m[1]}`));
if (problems.length > 0) {
  console.error(`the build left TypeScript specifiers in JavaScript:\n${problems.join("\n")}`);
  process.exit(1);
}
const bin = join(dist, "src/cli/main.js");
if (existsSync(bin)) chmodSync(bin, 0o755);
console.log(`dist/: ${emitted.length} modules with types`);
