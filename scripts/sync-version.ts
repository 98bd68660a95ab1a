// Keeps src/version.ts equal to package.json's version. `npm version` runs it
// (the "version" script) to write the file; `--check` only compares, for
// `npm test`, and fails naming both values when they differ.
import { readFileSync, writeFileSync } from "node:fs";

const root = new URL("..", import.meta.url);
const version = (JSON.parse(readFileSync(new URL("package.json", root), "utf8")) as { version: string }).version;
const file = new URL("src/version.ts", root);
const current = readFileSync(file, "utf8");
const wanted = current.replace(/export const VERSION = "[^"]*";/, `export const VERSION = ${JSON.stringify(version)};`);
if (process.argv.includes("--check")) {
  if (wanted !== current) {
    console.error(`src/version.ts differs from package.json's version ${version}; run \`npm run version\``);
    process.exitCode = 1;
  } else {
    console.log(`src/version.ts is package.json's version ${version}`);
  }
} else if (wanted !== current) {
  writeFileSync(file, wanted);
  console.log(`src/version.ts: ${version}`);
}
